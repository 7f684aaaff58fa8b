"""The upscale engine on small random HATs: tiling, backends, alpha, grayscale, OOM retry, checkpoints."""
import numpy as np
import pytest
import torch
from PIL import Image

from vtdemo.imaging import ImageError
from vtdemo.models.hat import HAT
from vtdemo.sr import backends, engine, tiling
from vtdemo.sr.architectures import hat_config
from vtdemo.sr.checkpoints import load_checkpoint
from vtdemo.sr.engine import SRNet, upscale, upscale_tensor
from vtdemo.sr.metrics import psnr_y
from vtdemo.zoo.weights import UnsafeCheckpointError, WeightsError

CFG = dict(img_size=64, window_size=8, embed_dim=24, depths=[2], num_heads=[2], compress_ratio=3, squeeze_factor=8,
           mlp_ratio=2, upscale=2)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    model = HAT(**CFG).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    return SRNet(model, 2, "tiny-hat")


def _photo(w=96, h=72) -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut()).resize((w, h), Image.Resampling.BICUBIC)


def test_tile_plan_covers_overlaps_and_wastes_little():
    import math

    for length, tile, overlap, multiple in [(100, 32, 8, 1), (64, 64, 16, 1), (65, 64, 16, 1), (10, 32, 8, 1),
                                            (320, 256, 16, 16), (480, 256, 16, 16), (1500, 512, 16, 8),
                                            (1000, 96, 16, 16), (97, 40, 12, 8)]:
        starts, size = tiling.tile_starts(length, tile, overlap, multiple)
        assert size <= min(tile, length)
        assert starts[0] == 0 and starts[-1] + size == length  # covers, never past the edge
        assert all(b - a <= size - overlap for a, b in zip(starts, starts[1:]))  # overlaps enough
        # the fewest tiles that can: n tiles of side ``tile`` cover at most n·tile − (n−1)·overlap
        assert len(starts) == (1 if length <= tile else math.ceil((length - overlap) / (tile - overlap)))
        steps = [b - a for a, b in zip(starts, starts[1:])]
        assert not steps or max(steps) - min(steps) <= 1  # spread evenly: no sliver left at the end
        shortest = math.ceil((length + (len(starts) - 1) * overlap) / len(starts))
        assert size == length or size == shortest or (size % multiple == 0 and size - shortest < multiple)
    # a 480×320 photo in 256 tiles: 4 tiles of 176×256 (1.17× the pixels; full 256² tiles would compute 1.7×)
    p = tiling.plan(320, 480, 256, 16, 16)
    assert (p.count, p.th, p.tw) == (4, 176, 256)


def test_tiled_equals_untiled_to_50_db(net):
    lr = torch.from_numpy(np.asarray(_photo())).permute(2, 0, 1)[None].float() / 255
    whole = upscale_tensor(net, lr, tile=512, backend="torch")
    tiled_progress = []
    tiled = upscale_tensor(net, lr, tile=32, overlap=12, backend="torch",
                           progress=lambda f, msg: tiled_progress.append(msg))
    assert tiled.shape == whole.shape == (1, 3, 144, 192)
    to_img = lambda t: Image.fromarray((t[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))  # noqa: E731
    assert psnr_y(to_img(tiled), to_img(whole)) >= 50
    assert tiled_progress[-1].endswith("tile 12/12")


def test_out_of_memory_retries_with_smaller_tiles(net):
    calls = []
    module = net.module

    def flaky(x):
        calls.append(x.shape[-1])
        if x.shape[-1] > 40:
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 TB")
        return module(x)

    flaky_net = SRNet(torch.nn.Module(), 2, "flaky")
    flaky_net.module.forward = flaky
    for backend in ("torch", "auto"):  # "auto" is the default of upscale, compare and the CLI
        calls.clear()
        out = upscale_tensor(flaky_net, torch.rand(1, 3, 64, 64), tile=64, backend=backend)
        assert out.shape == (1, 3, 128, 128) and calls[0] == 64 and max(calls[1:]) <= 32, backend


def test_halved_tiles_stay_within_the_tile_limit(net, monkeypatch):
    def no_memory(x):
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory")

    oom_net = SRNet(torch.nn.Module(), 2, "oom")
    oom_net.module.forward = no_memory
    monkeypatch.setenv("VTDEMO_MAX_TILES", "9")  # 64-px tiles: 4 tiles; 32-px: 16, over the limit
    with pytest.raises(ImageError, match="VTDEMO_MAX_TILES"):
        upscale_tensor(oom_net, torch.rand(1, 3, 120, 120), tile=64, overlap=8, backend="auto")


def test_alpha_is_kept_and_grayscale_stays_gray(net):
    rgba = _photo(40, 30).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((40, 30)))
    out = upscale(rgba, net, backend="torch")
    assert out.mode == "RGBA" and out.size == (80, 60)
    expected_alpha = np.asarray(rgba.getchannel("A").resize((80, 60), Image.Resampling.BICUBIC))
    assert np.array_equal(np.asarray(out.getchannel("A")), expected_alpha)
    gray = upscale(_photo(40, 30).convert("L"), net, backend="torch")
    assert gray.mode == "L" and gray.size == (80, 60)


def test_bicubic_pseudo_model():
    out = upscale(_photo(40, 30), "bicubic", scale=3)
    assert out.size == (120, 90)


def test_scale_mismatch_is_an_error(net):
    with pytest.raises(ValueError, match="×2"):
        upscale(_photo(16, 16), net, scale=4)


def test_onnx_backend_matches_torch(net, tmp_path, monkeypatch):
    monkeypatch.setenv("VTDEMO_CACHE_DIR", str(tmp_path))
    from vtdemo.sr import onnx_backend

    cpu = torch.device("cpu")
    tile = torch.rand(1, 3, 32, 32)
    with torch.inference_mode():  # the onnx graph is fp32: so is the torch run it is compared with
        assert (backends.tile_fn(net, "torch", cpu, 32, "fp32")(tile)
                - backends.tile_fn(net, "onnxruntime", cpu, 32)(tile)).abs().max() <= 1e-4
    lr = torch.rand(1, 3, 40, 56)
    ours = upscale_tensor(net, lr, tile=32, overlap=12, backend="torch", precision="fp32")
    ort = upscale_tensor(net, lr, tile=32, overlap=12, backend="onnxruntime")  # its own tiles: all 32×32
    # two tilings, each seamless to 50 dB from the untiled output: at least 44 dB from each other (errors add)
    assert 10 * torch.log10(1 / (ours - ort).pow(2).mean()) >= 44
    assert onnx_backend.onnx_path(net, 32).is_file()
    other = SRNet(HAT(**CFG).eval(), 2, "tiny-hat")  # same name, other weights: never the same graph
    assert onnx_backend.onnx_path(other, 32) != onnx_backend.onnx_path(net, 32)


def test_auto_backend_reads_a_choice_measured_outside_the_request(net, tmp_path, monkeypatch):
    import json

    from vtdemo.sr import backends, onnx_backend, openvino_backend

    monkeypatch.setenv("VTDEMO_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(openvino_backend, "available", lambda: False)  # the same graph's other backend: below
    cpu = torch.device("cpu")
    measured = []
    real_measure = backends._measure
    monkeypatch.setattr(backends, "_measure", lambda fn, tile: measured.append(tile) or real_measure(fn, tile))
    for default in ("fp32", "bf16"):  # a CPU without native bf16, and one with it
        monkeypatch.setenv("VTDEMO_PRECISION", default)
        assert backends.choose(net, cpu, 32) == ("torch", default)  # no graph: torch, nothing measured
    onnx_backend.ensure_exported(net, 32)
    assert backends.choose(net, cpu, 32) == ("torch", "bf16") and measured == []  # not measured in a request
    # ...nor does auto raise because onnxruntime cannot run the default precision: it is a candidate in fp32
    assert backends.candidates(net, cpu, 32) == [("torch", "bf16"), ("torch", "fp32"), ("onnxruntime", "fp32")]
    choice = backends.measure(net, cpu, 32)  # what `export-onnx` does: every pair, timed
    assert measured == [32] * 3 and set(choice["seconds_per_tile"]) == {"torch/bf16", "torch/fp32",
                                                                         "onnxruntime/fp32"}
    fastest = min(choice["seconds_per_tile"], key=choice["seconds_per_tile"].get)
    assert backends.choose(net, cpu, 32) == (choice["backend"], choice["precision"]) == tuple(fastest.split("/"))
    record = json.loads((tmp_path / "onnx" / "backend-choices.json").read_text())
    assert list(record.values()) == [choice]
    monkeypatch.setenv("VTDEMO_PRECISION", "fp32")  # another default: other candidates, not measured yet
    assert backends.choose(net, cpu, 32) == ("torch", "fp32")
    monkeypatch.setenv("VTDEMO_PRECISION", "bf16")
    (tmp_path / "onnx" / "backend-choices.json").write_text('{"half a fi')  # corrupt: torch, no error
    assert backends.choose(net, cpu, 32) == ("torch", "bf16")
    assert upscale_tensor(net, torch.rand(1, 3, 20, 20), backend="auto").shape == (1, 3, 40, 40)


def test_openvino_runs_the_exported_graph_in_fp32_and_bf16_and_auto_weighs_its_full_tiles(net, tmp_path,
                                                                                           monkeypatch):
    pytest.importorskip("openvino")
    import json

    from vtdemo.sr import onnx_backend

    monkeypatch.setenv("VTDEMO_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("VTDEMO_PRECISION", "bf16")
    cpu = torch.device("cpu")
    assert not backends.BACKENDS["openvino"].ready(net, cpu, 32)  # no graph yet: never exported in a request
    onnx_backend.ensure_exported(net, 32)
    tile = torch.rand(1, 3, 32, 32)
    with torch.inference_mode():
        fp32 = backends.tile_fn(net, "torch", cpu, 32, "fp32")(tile)
        assert (backends.tile_fn(net, "openvino", cpu, 32, "fp32")(tile) - fp32).abs().max() <= 1e-4
        bf16 = backends.tile_fn(net, "openvino", cpu, 32)(tile)  # the default precision, bf16 here
        assert 0 < (bf16 - fp32).abs().max() < 0.05
    assert ("openvino", "bf16") in backends.candidates(net, cpu, 32)
    # auto weighs each pair's recorded time per full tile by the pixels its plan computes: a 40×40 image is four
    # 24×24 torch tiles (2.25× a 32² tile's pixels) or four 32² graph tiles (4×)
    key = backends._choice_key(net, cpu, 32, backends.candidates(net, cpu, 32))
    times = {"torch/bf16": 1.0, "torch/fp32": 2.0, "onnxruntime/fp32": 2.0, "openvino/bf16": 0.6,
             "openvino/fp32": 1.0}
    file = tmp_path / "onnx" / "backend-choices.json"
    file.write_text(json.dumps({key: {"backend": "openvino", "precision": "bf16", "seconds_per_tile": times}}))
    assert backends.choose(net, cpu, 32) == ("openvino", "bf16")  # full tiles: the faster per tile
    assert backends.choose(net, cpu, 32, image=(40, 40)) == ("torch", "bf16")  # 2.25 s against 2.4 s
    assert backends.choose(net, cpu, 32, image=(200, 200)) == ("openvino", "bf16")  # 64 full tiles either way


def test_fingerprint_once_per_module_and_sessions_bounded(net, tmp_path, monkeypatch):
    from vtdemo.sr import onnx_backend

    monkeypatch.setenv("VTDEMO_CACHE_DIR", str(tmp_path))
    calls = []
    real = onnx_backend.weights_fingerprint
    monkeypatch.setattr(onnx_backend, "weights_fingerprint", lambda m: calls.append(1) or real(m))
    fresh = SRNet(HAT(**CFG).eval(), 2, "fresh-hat")
    for _ in range(3):  # a new SRNet per request, the same loaded module
        assert onnx_backend.onnx_path(SRNet(fresh.module, 2, "fresh-hat"), 16) == onnx_backend.onnx_path(fresh, 16)
    assert len(calls) == 1
    monkeypatch.setenv("VTDEMO_ONNX_SESSIONS", "1")
    for tile in (16, 24):
        onnx_backend.tile_fn(fresh, tile)
    assert len(onnx_backend._SESSIONS._entries) == 1


def test_hat_checkpoint_is_detected_with_its_config(tmp_path):
    torch.manual_seed(3)
    cfg = dict(CFG, upscale=3, depths=[2, 2], num_heads=[2, 2])
    model = HAT(**cfg)
    path = tmp_path / "my_hat.pth"
    torch.save({"params_ema": model.state_dict()}, path)
    descriptor = load_checkpoint(path)
    loaded, scale = descriptor.model, descriptor.scale
    assert scale == 3 and isinstance(loaded, HAT)
    inferred = hat_config(model.state_dict())
    for key in ("embed_dim", "depths", "num_heads", "window_size", "compress_ratio", "squeeze_factor", "mlp_ratio"):
        assert inferred[key] == cfg[key], key
    x = torch.rand(1, 3, 8, 8)
    with torch.inference_mode():
        assert torch.equal(loaded(x), model.eval()(x))


@pytest.mark.parametrize("extra", [dict(qkv_bias=False), dict(overlap_ratio=0.25), dict(ape=True, img_size=16),
                                   dict(resi_connection="identity", mlp_ratio=1.5), dict(upscale=4, window_size=4)])
def test_hat_files_load_as_our_hat_and_compute_what_spandrels_hat_computes(extra):
    """Our HAT is registered ahead of spandrel's: a HAT state dict gets our module, with hyper-parameters detected
    from the tensors; spandrel's own HAT, detected by spandrel from the same tensors, is the independent check."""
    from spandrel import MAIN_REGISTRY

    from vtdemo.sr.architectures import load_descriptor

    torch.manual_seed(5)
    cfg = dict(CFG, **extra)
    reference = MAIN_REGISTRY.load(HAT(**cfg).state_dict())  # spandrel's HAT, random weights
    with torch.no_grad():
        for p in reference.model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    ours = load_descriptor(reference.model.state_dict())
    assert ours.architecture.id == "vtdemo.HAT" and isinstance(ours.model, HAT)
    assert reference.architecture.id == "HAT" and ours.scale == reference.scale == cfg["upscale"]
    x = torch.rand(1, 3, 16, 16)
    with torch.inference_mode():
        assert torch.allclose(ours.model.eval()(x), reference.model.eval()(x), atol=1e-5)


def test_non_sr_and_unsafe_checkpoints_are_refused(tmp_path):
    path = tmp_path / "classifier.pth"
    torch.save({"fc.weight": torch.zeros(10, 4), "fc.bias": torch.zeros(10)}, path)
    with pytest.raises(WeightsError, match="not a super-resolution checkpoint"):
        load_checkpoint(path)
    canary = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return open, (str(canary), "w")

    torch.save({"params": Evil()}, tmp_path / "evil.pth")
    with pytest.raises(UnsafeCheckpointError):
        load_checkpoint(tmp_path / "evil.pth")
    assert not canary.exists()


def test_auto_tile_respects_env(monkeypatch):
    monkeypatch.setenv("VTDEMO_TILE", "96")
    assert engine.auto_tile(1000, 1000, torch.device("cpu")) == 96


def test_tile_and_output_limits_refuse_before_any_work(monkeypatch):
    from vtdemo.imaging import ImageError
    from vtdemo.sr.engine import upscale

    img = Image.new("RGB", (100, 80), "gray")
    calls = []

    class Counting(torch.nn.Module):
        def forward(self, x):
            calls.append(tuple(x.shape[-2:]))
            return torch.nn.functional.interpolate(x, scale_factor=2)

    monkeypatch.setenv("VTDEMO_MAX_TILES", "4")
    with pytest.raises(ImageError, match="VTDEMO_MAX_TILES"):
        upscale(img, Counting(), scale=2, tile=32, overlap=4, backend="torch")
    monkeypatch.setenv("VTDEMO_MAX_OUTPUT_PIXELS", "30000")
    with pytest.raises(ImageError, match="VTDEMO_MAX_OUTPUT_PIXELS"):
        upscale(img, Counting(), scale=2, backend="torch")
    assert set(calls) == {(16, 16)}  # only the scale probe ran, never the image


def test_precision_is_bf16_only_where_the_hardware_computes_it_natively(monkeypatch):
    from vtdemo import runtime
    from vtdemo.runtime import precision

    monkeypatch.delenv("VTDEMO_PRECISION", raising=False)
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    native = []
    monkeypatch.setattr(torch.cuda, "is_bf16_supported",
                        lambda including_emulation=True: bool(native) or including_emulation)
    cpu_bf16 = []
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: bool(cpu_bf16))
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert precision(cuda) == "fp32"  # a T4: bf16 only emulated
    native.append(True)
    assert precision(cuda) == "bf16" and precision(cpu) == "fp32"  # an A100/H100; a CPU without AVX512-BF16
    cpu_bf16.append(True)
    assert runtime.native_bf16_cpu() and precision(cpu) == "bf16"  # a CPU that computes bf16 natively
    monkeypatch.setenv("VTDEMO_PRECISION", "fp32")
    assert precision(cuda) == "fp32" and precision(cpu) == "fp32"
    monkeypatch.setenv("VTDEMO_PRECISION", "int8")
    assert precision(cpu) == "int8"
    with pytest.raises(ValueError, match="CPU only"):
        precision(cuda)
    monkeypatch.setenv("VTDEMO_PRECISION", "fp16")
    assert precision(cuda) == "fp16"
    with pytest.raises(ValueError, match="GPU only"):
        precision(cpu)
    monkeypatch.setenv("VTDEMO_PRECISION", "fp8")
    with pytest.raises(ValueError, match="fp32, bf16, fp16, int8"):
        precision(cpu)


def test_int8_quantizes_a_copy_and_leaves_the_shared_model_alone(net):
    lr = torch.rand(1, 3, 20, 20)
    fp32 = backends.tile_fn(net, "auto", torch.device("cpu"), 32, "fp32")
    before = {k: v.clone() for k, v in net.module.state_dict().items()}
    with torch.inference_mode():
        want = fp32(lr)
        got = backends.tile_fn(net, "auto", torch.device("cpu"), 32, "int8")(lr)
    quantized = backends.int8_copy(net.module)
    assert quantized is not net.module and backends.int8_copy(net.module) is quantized  # made once
    kinds = {type(m).__module__ for m in quantized.modules() if "Linear" in type(m).__name__}
    assert kinds and all("quantized" in k for k in kinds), kinds  # every Linear replaced
    assert all(type(m) is torch.nn.Linear for m in net.module.modules() if "Linear" in type(m).__name__)
    assert all(torch.equal(v, before[k]) for k, v in net.module.state_dict().items())
    assert not torch.equal(got, want) and (got - want).abs().max() < 0.05  # really int8, and close
    with pytest.raises(ValueError, match="fp32 only"):
        backends.tile_fn(net, "onnxruntime", torch.device("cpu"), 32, "bf16")


def test_the_precision_used_is_in_the_caption_and_bf16_really_runs(net, monkeypatch):
    from vtdemo.sr.compare import compare

    image = _photo(24, 16)
    monkeypatch.setenv("VTDEMO_PRECISION", "fp32")
    fp32 = compare(image, ["bicubic", net], scale=2, backend="torch")
    monkeypatch.setenv("VTDEMO_PRECISION", "bf16")
    bf16 = compare(image, [net], scale=2, backend="torch")
    int8 = compare(image, [net], scale=2, backend="torch", precision="int8")  # the argument beats the variable
    assert fp32.results[0].caption().count("·") == 1  # bicubic: no precision
    assert " · fp32" in fp32.results[1].caption() and " · bf16" in bf16.results[0].caption()
    assert " · int8" in int8.results[0].caption()
    assert not np.array_equal(np.asarray(fp32.results[1].image), np.asarray(bf16.results[0].image))
    assert not np.array_equal(np.asarray(bf16.results[0].image), np.asarray(int8.results[0].image))


def test_every_sr_path_puts_the_model_on_the_chosen_device(tmp_path, monkeypatch):
    """Placement without a GPU: the meta device stands in for CUDA. Uploads, CLI files and load_checkpoint give
    CPU modules; the engine must move them (once) to where the inputs go. The zoo and upload caches are this
    test's own, so the models it moves to meta are never the ones other tests share."""
    from safetensors.torch import save_file

    from vtdemo.cache import Cache
    from vtdemo.sr import compare as compare_module
    from vtdemo.sr.compare import uploaded_net
    from vtdemo.zoo import loading

    monkeypatch.setattr(loading, "_CACHE", Cache(2))
    monkeypatch.setattr(compare_module, "_UPLOADED", Cache(2))

    model = HAT(upscale=2, embed_dim=12, depths=[1], num_heads=[2], window_size=4, compress_ratio=3,
                squeeze_factor=4, num_feat=8, mlp_ratio=1.0)
    path = tmp_path / "mine.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    meta = torch.device("meta")
    nets = {"load_checkpoint / CLI": engine.resolve_net(load_checkpoint(path)),
            "upload": uploaded_net(path),
            "zoo": engine.resolve_net("hat-demo-x4", 4, device="cpu")}
    for where, net in nets.items():
        assert next(net.module.parameters()).device.type == "cpu"
        fn = backends.tile_fn(net, "torch", meta, 16)
        assert {p.device.type for p in net.module.parameters()} == {"meta"}, where
        assert fn(torch.rand(1, 3, 16, 16)).shape == (1, 3, 16 * net.scale, 16 * net.scale), where
