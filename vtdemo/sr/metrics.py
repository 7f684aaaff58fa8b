"""PSNR-Y and SSIM-Y as the SR literature computes them (and the HAT/SwinIR evaluation code): BT.601 luma of
8-bit images, ``crop`` pixels (= the scale) removed from every border, PSNR over 255², SSIM with an 11×11 Gaussian
window (σ = 1.5), K1 = 0.01, K2 = 0.03, valid filtering, mean over the map — computed by scikit-image."""
from __future__ import annotations

import functools

import numpy as np
from PIL import Image

from vtdemo.imaging import rgb_to_y


def _y(image: Image.Image | np.ndarray, crop: int) -> np.ndarray:
    arr = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, -1)
    y = rgb_to_y(arr[..., :3])
    return y[crop:-crop, crop:-crop] if crop else y


def _pair(sr, hr, crop: int) -> tuple[np.ndarray, np.ndarray]:
    a, b = _y(sr, crop), _y(hr, crop)
    if a.shape != b.shape:
        raise ValueError(f"Images differ in size: {a.shape[::-1]} vs {b.shape[::-1]} (after a {crop}px crop).")
    return a, b


def psnr_y(sr, hr, crop: int = 0) -> float:
    """PSNR (dB) between the luma of two RGB images after removing ``crop`` border pixels."""
    from skimage.metrics import mean_squared_error, peak_signal_noise_ratio

    a, b = _pair(sr, hr, crop)
    if mean_squared_error(a, b) == 0:
        return float("inf")  # identical images; skimage would divide by zero
    return float(peak_signal_noise_ratio(a, b, data_range=255))


def ssim_y(sr, hr, crop: int = 0) -> float:
    """SSIM between the luma of two RGB images after removing ``crop`` border pixels. scikit-image with the
    literature's settings: its Gaussian (σ 1.5, truncated at 3.5σ) is the 11×11 window, and the mean over the map
    without its filter-width border is the 'valid' SSIM of the MATLAB code."""
    from skimage.metrics import structural_similarity

    a, b = _pair(sr, hr, crop)
    if min(a.shape) < 11:
        raise ValueError("SSIM needs at least 11×11 pixels after cropping.")
    return float(structural_similarity(a, b, data_range=255, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False))


def crop_to_multiple(image: Image.Image, scale: int) -> Image.Image:
    """HR images are cropped to a multiple of the scale before degrading or comparing (the benchmarks' rule)."""
    w, h = image.size
    return image.crop((0, 0, w - w % scale, h - h % scale))


def piqe(image: Image.Image | np.ndarray) -> float:
    """PIQE (Venkatanath et al., NCC 2015), a no-reference score from 0 (best) to 100: the share and strength of
    blocky, noisy or blurred blocks among an image's active blocks. It has no learned parameters, so it runs
    offline where NIQE's and BRISQUE's fitted models would be downloads. Computed by pyiqa (an optional extra:
    ``pip install --no-deps pyiqa``; its own requirements are a training stack PIQE does not use)."""
    import torch

    arr = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image, dtype=np.float32)
    x = torch.from_numpy(arr[..., :3] / 255.0).permute(2, 0, 1)[None]
    with torch.no_grad():
        return float(_piqe_metric()(x))


@functools.cache
def _piqe_metric():
    """pyiqa's PIQE module, made once per process."""
    try:
        import pyiqa
    except ImportError as exc:
        raise ImportError("PIQE needs pyiqa: pip install --no-deps pyiqa") from exc
    return pyiqa.create_metric("piqe", device="cpu")
