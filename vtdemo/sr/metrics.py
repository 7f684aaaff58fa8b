"""PSNR-Y and SSIM-Y as the SR literature computes them (and the HAT/SwinIR evaluation code): BT.601 luma of
8-bit images, ``crop`` pixels (= the scale) removed from every border, PSNR over 255², SSIM with an 11×11 Gaussian
window (σ = 1.5), K1 = 0.01, K2 = 0.03, valid filtering, mean over the map."""
from __future__ import annotations

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
    a, b = _pair(sr, hr, crop)
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0 ** 2 / mse)


def _gaussian_filter_valid(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Separable 'valid' correlation of a 2-D array with a 1-D kernel along both axes."""
    k = len(kernel)
    rows = sum(kernel[i] * x[i: x.shape[0] - k + 1 + i] for i in range(k))
    return sum(kernel[j] * rows[:, j: rows.shape[1] - k + 1 + j] for j in range(k))


def ssim_y(sr, hr, crop: int = 0) -> float:
    """SSIM between the luma of two RGB images after removing ``crop`` border pixels."""
    a, b = _pair(sr, hr, crop)
    if min(a.shape) < 11:
        raise ValueError("SSIM needs at least 11×11 pixels after cropping.")
    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5 ** 2))
    g /= g.sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = _gaussian_filter_valid(a, g), _gaussian_filter_valid(b, g)
    var_a = _gaussian_filter_valid(a * a, g) - mu_a ** 2
    var_b = _gaussian_filter_valid(b * b, g) - mu_b ** 2
    cov = _gaussian_filter_valid(a * b, g) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return float(ssim_map.mean())


def crop_to_multiple(image: Image.Image, scale: int) -> Image.Image:
    """HR images are cropped to a multiple of the scale before degrading or comparing (the benchmarks' rule)."""
    w, h = image.size
    return image.crop((0, 0, w - w % scale, h - h % scale))
