"""SR against real data in ../shared: published bicubic baselines and a real third-party checkpoint."""
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vtdemo.sr import load_checkpoint, upscale
from vtdemo.sr.metrics import crop_to_multiple, psnr_y, ssim_y

# Bicubic rows of the SwinIR / HAT papers' tables: (PSNR-Y, SSIM-Y), MATLAB bicubic.
PUBLISHED_BICUBIC = {
    ("Set5", 2): (33.66, 0.9299), ("Set5", 3): (30.39, 0.8682), ("Set5", 4): (28.42, 0.8104),
    ("Set14", 2): (30.24, 0.8688), ("Set14", 3): (27.55, 0.7742), ("Set14", 4): (26.00, 0.7027),
}


def benchmark_pairs(shared: Path, dataset: str, scale: int):
    root = shared / "data" / "sr" / "benchmark" / dataset
    for hr_path in sorted((root / "HR").glob("*.png")):
        hr = crop_to_multiple(Image.open(hr_path).convert("RGB"), scale)
        lr = Image.open(root / "LR_bicubic" / f"X{scale}" / hr_path.name.replace(".png", f"x{scale}.png"))
        yield lr.convert("RGB"), hr


@pytest.mark.parametrize("dataset, scale", sorted(PUBLISHED_BICUBIC))
def test_bicubic_matches_the_published_baseline(shared, dataset, scale):
    psnrs, ssims = [], []
    for lr, hr in benchmark_pairs(shared, dataset, scale):
        sr = upscale(lr, "bicubic", scale=scale)
        psnrs.append(psnr_y(sr, hr, crop=scale))
        ssims.append(ssim_y(sr, hr, crop=scale))
    published_psnr, published_ssim = PUBLISHED_BICUBIC[(dataset, scale)]
    # PIL's bicubic is not MATLAB's imresize: within 0.15 dB / 0.003 of the published numbers
    assert abs(np.mean(psnrs) - published_psnr) < 0.15
    assert abs(np.mean(ssims) - published_ssim) < 0.003


def test_real_esrgan_compact_checkpoint_loads_and_upscales(shared):
    path = shared / "weights" / "realesr-animevideov3.pth"
    descriptor = load_checkpoint(path)
    model, scale = descriptor.model, descriptor.scale
    assert scale == 4 and type(model).__name__ == "SRVGGNetCompact"
    lr, hr = next(benchmark_pairs(shared, "Set5", 4))
    lr = lr.crop((0, 0, 64, 48))
    sr = upscale(lr, model, backend="torch")
    assert sr.size == (256, 192)
    # a trained model: far closer to the bicubic upscale of its input than noise would be
    reference = lr.resize((256, 192), Image.Resampling.BICUBIC)
    assert psnr_y(sr, reference) > 22
    tiled = upscale(lr, model, tile=32, overlap=8, backend="torch")
    assert psnr_y(tiled, sr) > 40
