"""The real-world degradation model against its definitions written out here, and the real-world training path."""
import io
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.special import j1

from tests.unit.test_train_sr import data  # noqa: F401 - the training images and benchmarks, as a fixture
from vtdemo.sr import degradations as d


def test_kernels_are_the_written_out_functions():
    size, sx, sy, theta = 11, 2.0, 1.0, 0.4
    r = np.arange(size) - size // 2
    x, y = np.meshgrid(r, r, indexing="xy")
    # rotate the coordinates into the kernel's principal axes
    u, v = math.cos(theta) * x + math.sin(theta) * y, -math.sin(theta) * x + math.cos(theta) * y
    q = (u / sx) ** 2 + (v / sy) ** 2
    for shape, beta, f in (("gaussian", 1.0, lambda q: np.exp(-q / 2)),
                           ("generalized", 2.5, lambda q: np.exp(-0.5 * q ** 2.5)),
                           ("plateau", 1.5, lambda q: 1 / (1 + q ** 1.5))):
        k = d.shaped_kernel(size, sx, sy, theta, shape, beta)
        assert np.allclose(k, f(q) / f(q).sum()), shape
        assert np.allclose(k, k[::-1, ::-1])  # point-symmetric: convolution = correlation
    cutoff = math.pi / 3
    rr = np.hypot(x, y)
    with np.errstate(invalid="ignore", divide="ignore"):
        s = cutoff * j1(cutoff * rr) / (2 * np.pi * rr)
    s[size // 2, size // 2] = cutoff ** 2 / (4 * np.pi)
    assert np.allclose(d.sinc_kernel(size, cutoff), s / s.sum())


def test_blur_equals_a_direct_reflect_padded_convolution():
    rng = np.random.default_rng(0)
    img = torch.from_numpy(rng.random((3, 20, 24))).float()
    k = d.shaped_kernel(7, 1.5, 0.7, 0.3)
    out = d.blur(img, k)
    padded = np.pad(img.numpy(), ((0, 0), (3, 3), (3, 3)), mode="reflect")
    direct = np.zeros((3, 20, 24))
    for i in range(7):
        for j in range(7):
            direct += k[i, j] * padded[:, i:i + 20, j:j + 24]
    assert np.allclose(out.numpy(), direct, atol=1e-5)


def test_a_degradation_is_a_pure_function_of_its_seed_and_has_the_lr_size():
    rng = np.random.default_rng(1)
    hr = torch.from_numpy(rng.random((3, 96, 64))).float()
    a = d.degrade(hr, 4, np.random.default_rng([5, 7]))
    b = d.degrade(hr, 4, np.random.default_rng([5, 7]))
    c = d.degrade(hr, 4, np.random.default_rng([5, 8]))
    assert a.shape == (3, 24, 16) and torch.equal(a, b) and not torch.equal(a, c)
    assert torch.equal(a, (a * 255).round() / 255) and 0 <= a.min() and a.max() <= 1  # 8-bit values


def test_both_models_are_drawn_with_their_probability_and_the_jpeg_is_real(monkeypatch):
    calls = {"second_order": 0, "web": 0}
    for name in calls:
        original = getattr(d, name)
        monkeypatch.setattr(d, name, lambda *a, _o=original, _n=name: (calls.__setitem__(_n, calls[_n] + 1), _o(*a))[1])
    hr = torch.rand(3, 48, 48)
    for seed in range(200):
        d.degrade(hr, 4, np.random.default_rng(seed))
    assert abs(calls["second_order"] / 200 - d.SECOND_ORDER_PROB) < 0.1
    img = torch.rand(3, 16, 16)
    buf = io.BytesIO()
    Image.fromarray((img * 255).round().byte().permute(1, 2, 0).numpy()).save(buf, "JPEG", quality=40)
    expected = np.asarray(Image.open(buf).convert("RGB"))
    assert np.array_equal((d.jpeg(img, 40) * 255).round().byte().permute(1, 2, 0).numpy(), expected)


def test_real_world_training_runs_exports_a_card_with_every_input_and_is_resumable(data):
    from tests.unit.test_train_sr import args
    from vtdemo.train.__main__ import main

    def run(out, iters, *extra):
        main(args(data, out, iters, "--degradation", "realesrgan", *extra))

    run(data / "a", 4)
    run(data / "b", 2)
    run(data / "b", 4, "--export", str(data / "m.safetensors"), "--reference", "bicubic")
    a, b = (torch.load(data / r / "state.pt", weights_only=True) for r in "ab")
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])  # batch k depends on (seed, k) only
    card = json.loads((data / "m.json").read_text())
    assert set(card["results"]) == {f"{s}{i}" for s in ("Set5", "Set14")
                                     for i in ("", " degraded", " JPEG q50", " noise σ10 + JPEG q75")}
    assert card["degradation"]["second_order_prob"] == d.SECOND_ORDER_PROB
    assert card["degradation"]["first"]["jpeg_quality"] == list(d.FIRST.jpeg_quality)
    assert "bicubic_psnr_y" in card["results"]["Set5 degraded"]
