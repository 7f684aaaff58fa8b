"""Many requests on the same cached models at once: attention captures (timm ViT, PerViT, HAT) mixed with plain
forwards in 8 threads. Every capture and every plain output must equal what the same call computes alone — a capture
may never change what another request computes, nor record another request's image."""
import random
import threading

import numpy as np
import pytest
import torch
from PIL import Image

from vtdemo.explain import hat as hat_attention, probes
from vtdemo.zoo.cards import get_card
from vtdemo.zoo.loading import load_model

THREADS, CALLS = 8, 6


def _images(n: int, size: int) -> list[Image.Image]:
    rng = np.random.default_rng(7)
    return [Image.fromarray(rng.integers(0, 256, (size, size + 8, 3), dtype=np.uint8)) for _ in range(n)]


@pytest.fixture(scope="module")
def jobs():
    """(name, function) pairs; each function returns a list of tensors that must be identical every time."""
    vit, pervit, hat = (load_model(i, device="cpu") for i in ("vit-demo", "pervit-demo", "hat-demo-x4"))
    photos, small = _images(3, 72), _images(3, 20)
    pp = {i: get_card(i).preprocess for i in ("vit-demo", "pervit-demo")}
    inputs = {i: [probes.preprocess(p, pp[i])[0] for p in photos] for i in pp}
    lrs = [torch.from_numpy(np.asarray(s, dtype=np.float32) / 255).permute(2, 0, 1)[None] for s in small]

    def plain(model, x):
        with torch.no_grad():
            return [model(x)]

    out = []
    for k in range(3):
        out += [(f"vit capture {k}", lambda k=k: [layer.attn for layer in
                                                  probes.capture_module(vit, "ViT", photos[k], pp["vit-demo"]).layers]),
                (f"vit forward {k}", lambda k=k: plain(vit, inputs["vit-demo"][k])),
                (f"pervit capture {k}", lambda k=k: [layer.attn for layer in probes.capture_module(
                    pervit, "PerViT", photos[k], pp["pervit-demo"]).layers]),
                (f"pervit forward {k}", lambda k=k: plain(pervit, inputs["pervit-demo"][k])),
                (f"hat capture {k}", lambda k=k: [hat_attention.capture(hat, lrs[k], k % 3, 1 + k % 2).attn]),
                (f"hat forward {k}", lambda k=k: plain(hat, lrs[k]))]
    return out


def test_concurrent_captures_and_forwards_equal_the_lone_call(jobs):
    alone = {name: fn() for name, fn in jobs}  # each call on its own, one after another
    results, errors, lock = [], [], threading.Lock()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(CALLS):
            name, fn = rng.choice(jobs)
            try:
                got = fn()
                with lock:
                    results.append((name, got))
            except Exception as exc:  # noqa: BLE001 - reported below
                with lock:
                    errors.append(f"{name}: {exc!r}")

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == THREADS * CALLS
    kinds = {name.split(" ")[0] + " " + name.split(" ")[1] for name, _ in results}
    assert {"vit capture", "vit forward", "hat capture", "hat forward"} <= kinds  # the mix really mixed
    wrong = [name for name, got in results
             if len(got) != len(alone[name]) or not all(torch.equal(a, b) for a, b in zip(got, alone[name]))]
    assert wrong == [], f"{len(wrong)} of {len(results)} answers differ from the lone call: {sorted(set(wrong))}"
