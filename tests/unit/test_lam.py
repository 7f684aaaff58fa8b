"""LAM against a plain one-step-at-a-time implementation written here from the paper / reference code."""
import numpy as np
import pytest
import torch
from scipy.ndimage import correlate

from vtdemo.models.hat import HAT
from vtdemo.sr.lam import BicubicSR, attribution_map, diffusion_index


def reference_lam(model, lr: np.ndarray, x: int, y: int, window=16, fold=50, sigma=1.2, l=9):
    """LAM_Demo's algorithm, step by step: numpy blur (reflect-101), one forward/backward per step."""
    ax = np.arange(-l // 2 + 1.0, l // 2 + 1.0)
    xx, yy = np.meshgrid(ax, ax)
    kernels = []
    for s in np.linspace(sigma, 0, fold + 1):
        k = np.exp(-(xx ** 2 + yy ** 2) / (2.0 * (s + 1e-5) ** 2))
        kernels.append(k / k.sum())

    def filt(img, k):  # img (C, h, w)
        return np.stack([correlate(c, k, mode="mirror") for c in img])

    total = np.zeros_like(lr)
    for i in range(fold):
        image = torch.tensor(filt(lr, kernels[i + 1]), dtype=torch.float32)[None].requires_grad_(True)
        out = model(image)
        h_grad = (out[:, :, :-1, :] - out[:, :, 1:, :]) ** 2
        w_grad = (out[:, :, :, :-1] - out[:, :, :, 1:]) ** 2
        grad = torch.pow(h_grad[:, :, :, :-1] + w_grad[:, :, :-1, :], 0.5)
        grad[:, :, y:y + window, x:x + window].sum().backward()
        g = image.grad[0].numpy().astype(np.float64)
        g[np.isnan(g)] = 0
        total += g * filt(lr, (kernels[i + 1] - kernels[i]) * fold)
    attr = np.abs((total / fold).sum(axis=0))
    attr = attr / attr.max()
    flat = np.sort(attr.ravel()) + 1e-7
    n = flat.size
    gini = np.sum((2 * np.arange(1, n + 1) - n - 1) * flat) / (n * flat.sum())
    return attr, (1 - gini) * 100


def tiny_hat(scale=2):
    torch.manual_seed(0)
    return HAT(upscale=scale, embed_dim=12, depths=[2], num_heads=[2], window_size=4, compress_ratio=3,
               squeeze_factor=4, num_feat=8, mlp_ratio=1.0).eval()


@pytest.mark.parametrize("batch_size", [1, 7, 50])
def test_batched_lam_equals_the_step_by_step_reference(batch_size):
    model = tiny_hat()
    lr = torch.rand(1, 3, 12, 14, generator=torch.Generator().manual_seed(1))
    ours, di = attribution_map(model, lr, x=8, y=6, window=8, steps=10, batch_size=batch_size)
    ref, ref_di = reference_lam(model, lr[0].double().numpy(), 8, 6, window=8, fold=10)
    assert ours.shape == (12, 14) and ours.dtype == np.float32
    assert np.abs(ours - ref).max() / np.abs(ref).max() <= 1e-4
    assert di == pytest.approx(ref_di, rel=1e-4)


def test_bicubic_gives_a_compact_map_and_a_low_di():
    lr = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(2))
    amap, di = attribution_map(BicubicSR(4), lr, x=40, y=40, window=16, steps=20)
    # bicubic's support: the box covers LR pixels 10..13; its kernel reaches 2 px further, plus the blur path
    ys, xs = np.nonzero(amap > 1e-3)
    assert ys.min() >= 10 - 2 - 4 and ys.max() <= 13 + 2 + 4 and xs.min() >= 4 and xs.max() <= 19
    assert amap.max() == pytest.approx(1.0)
    assert 0 <= di < 10
    model_map, model_di = attribution_map(tiny_hat(4), lr, x=40, y=40, window=16, steps=20)
    assert model_di > di  # attention + channel attention spread further than a fixed 4×4 kernel


def test_context_crop_is_exact_for_a_local_model_and_di_is_bounded():
    lr = torch.rand(1, 3, 30, 30, generator=torch.Generator().manual_seed(3))
    full, di_full = attribution_map(BicubicSR(2), lr, x=20, y=24, window=8, steps=8)
    cropped, di_crop = attribution_map(BicubicSR(2), lr, x=20, y=24, window=8, steps=8, context=8)
    assert np.allclose(full, cropped, atol=1e-5)
    # DI over the attributed region: LR rows 12-1-8..(24+8)/2+8, cols 10-8..(20+8)/2+8
    assert di_crop == pytest.approx(diffusion_index(full[4:24, 2:22]), abs=1e-3)
    assert di_crop > di_full  # the full map's DI is diluted by the zeros far away
    assert diffusion_index(np.ones(100)) == pytest.approx(100, abs=1e-6)
    assert 0 <= diffusion_index(np.eye(10)) <= 100


def test_box_outside_the_output_is_refused():
    with pytest.raises(ValueError, match="outside"):
        attribution_map(BicubicSR(2), torch.rand(1, 3, 8, 8), x=10, y=0, window=8, steps=2)


def test_batched_lam_on_the_embedded_hat_demo_equals_the_reference():
    from vtdemo.zoo.loading import load_model

    model = load_model("hat-demo-x4", device="cpu")
    lr = torch.rand(1, 3, 12, 12, generator=torch.Generator().manual_seed(5))
    ours, di = attribution_map(model, lr, x=16, y=20, window=16, steps=6, batch_size=3)
    ref, ref_di = reference_lam(model, lr[0].double().numpy(), 16, 20, window=16, fold=6)
    assert np.abs(ours - ref).max() / np.abs(ref).max() <= 1e-4
    assert di == pytest.approx(ref_di, rel=1e-4)
