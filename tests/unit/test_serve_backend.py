"""SR tiles on Ray Serve replicas (VTDEMO_RAY_SERVE): the same image as the torch backend, computed by the replicas;
an uploaded model never leaves the process, even under a zoo model's name; Ray's failures are one sentence."""
import os

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="module")
def serve_backend():
    ray = pytest.importorskip("ray", reason="Ray Serve is an optional extra (pip install 'vtdemo[serve]')")
    pytest.importorskip("ray.serve", reason="Ray Serve is an optional extra (pip install 'vtdemo[serve]')")
    from vtdemo.sr import serve_backend

    previous = os.environ.get("VTDEMO_RAY_SERVE")
    os.environ["VTDEMO_RAY_SERVE"] = "local"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    serve_backend.start(replicas=1)
    yield serve_backend
    serve_backend.stop()
    from ray import serve

    serve.shutdown()
    ray.shutdown()
    if previous is None:
        os.environ.pop("VTDEMO_RAY_SERVE")
    else:
        os.environ["VTDEMO_RAY_SERVE"] = previous


def photo(seed=0, size=(36, 28)):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (*size[::-1], 3), dtype=np.uint8))


def tiles_done(serve_backend):
    return serve_backend.wait(serve_backend.start().stats.remote())


def test_zoo_tiles_are_computed_by_the_replicas_and_make_the_same_image(serve_backend):
    from vtdemo.sr.engine import upscale
    from vtdemo.sr.tiling import count_tiles

    image = photo()
    local = upscale(image, "hat-demo-x4", backend="torch", tile=16, device="cpu", precision="fp32")
    before = tiles_done(serve_backend)
    seen = []
    served = upscale(image, "hat-demo-x4", tile=16, device="cpu", precision="fp32",
                     progress=lambda f, what: seen.append(what))  # backend "auto", as the app asks
    after = tiles_done(serve_backend)
    tiles = count_tiles(28, 36, 16, 4)
    assert np.array_equal(np.asarray(served), np.asarray(local))
    assert after["tiles"] - before["tiles"] == tiles and after["pid"] != os.getpid()
    assert f"hat-demo-x4: tile {tiles}/{tiles}" in seen  # progress per tile, as locally


def test_an_uploaded_model_stays_here_even_under_a_zoo_models_name(serve_backend):
    import copy

    import torch

    from vtdemo.sr.backends import SRNet, tile_fn
    from vtdemo.sr.engine import upscale
    from vtdemo.sr.serve_backend import ServeError, ready
    from vtdemo.zoo.loading import load_model

    zoo = load_model("hat-demo-x4", device="cpu")
    assert ready(SRNet(zoo, 4, "hat-demo-x4"), torch.device("cpu"), 16)
    # an upload named like the zoo model, its weights altered where a sampled digest would not look
    module = copy.deepcopy(zoo)
    with torch.no_grad():
        weight = module.conv_first.weight.view(-1)
        weight[[1, 2]] = weight[[2, 1]].clone()
    impostor = SRNet(module, 4, "hat-demo-x4")
    twin = SRNet(copy.deepcopy(zoo), 4, "hat-demo-x4")  # even the very same weights: not the zoo loader's object
    assert not ready(impostor, torch.device("cpu"), 16) and not ready(twin, torch.device("cpu"), 16)
    assert not ready(SRNet(copy.deepcopy(zoo), 4, "hat-x4"), torch.device("cpu"), 16)  # never asked of a replica
    before = tiles_done(serve_backend)["tiles"]
    out = upscale(photo(1), impostor, device="cpu", precision="fp32")
    assert tiles_done(serve_backend)["tiles"] == before  # computed here
    with torch.no_grad():
        expected = upscale(photo(1), impostor, device="cpu", precision="fp32", backend="torch")
    assert np.array_equal(np.asarray(out), np.asarray(expected))
    with pytest.raises(ValueError, match="serves zoo models only"):
        tile_fn(impostor, "ray-serve", torch.device("cpu"), 16, "fp32")
    tile = np.zeros((1, 3, 8, 8), np.float32)
    from vtdemo.sr.onnx_backend import weights_fingerprint

    assert weights_fingerprint(module) != weights_fingerprint(zoo)  # the full hash sees two swapped values
    good = serve_backend.wait(serve_backend.start().remote("hat-demo-x4", weights_fingerprint(zoo), "fp32", tile))
    assert good.shape == (1, 3, 32, 32)
    with pytest.raises(ServeError) as refused:  # the replica checks too; the caller gets one sentence
        serve_backend.wait(serve_backend.start().remote("hat-demo-x4", weights_fingerprint(module), "fp32", tile))
    assert "\n" not in str(refused.value) and "pid" not in str(refused.value) and "/" not in str(refused.value)


def test_a_caller_with_a_running_event_loop_is_served_too(serve_backend):
    import asyncio

    from vtdemo.sr.engine import upscale

    async def in_a_notebook():  # Jupyter runs user code inside an asyncio event loop
        return upscale(photo(2), "hat-demo-x4", device="cpu", precision="fp32", tile=16)

    from concurrent.futures import ThreadPoolExecutor

    before = tiles_done(serve_backend)["tiles"]
    with ThreadPoolExecutor(1) as pool:  # a thread of its own: this one may already run a loop (Playwright's)
        served = pool.submit(asyncio.run, in_a_notebook()).result()
    assert tiles_done(serve_backend)["tiles"] > before
    local = upscale(photo(2), "hat-demo-x4", device="cpu", precision="fp32", tile=16, backend="torch")
    assert np.array_equal(np.asarray(served), np.asarray(local))


def test_more_replicas_than_cores_is_refused_instead_of_waiting_forever(serve_backend, monkeypatch):
    monkeypatch.setattr(serve_backend, "_handle", None)  # as a fresh server process would start
    with pytest.raises(RuntimeError, match="VTDEMO_RAY_SERVE_REPLICAS=3 is more than the Ray cluster's 2 CPUs"):
        serve_backend.start(replicas=3)
