"""SR against real data in ../shared: published bicubic baselines and a real third-party checkpoint."""
import pytest
from PIL import Image

from vtdemo.bench.bicubic import bicubic_scores
from vtdemo.sr import load_checkpoint, upscale
from vtdemo.sr.benchmark import PUBLISHED_BICUBIC
from vtdemo.sr.metrics import psnr_y


@pytest.mark.parametrize("dataset, scale", sorted(PUBLISHED_BICUBIC))
def test_bicubic_matches_the_published_baseline(shared, dataset, scale):
    """The numbers `python -m vtdemo bench bicubic` prints (docs/performance.md's table)."""
    psnr, ssim = bicubic_scores(shared / "data" / "sr" / "benchmark", dataset, scale)
    published_psnr, published_ssim = PUBLISHED_BICUBIC[(dataset, scale)]
    # PIL's bicubic is not MATLAB's imresize: within 0.15 dB / 0.003 of the published numbers
    assert abs(psnr - published_psnr) < 0.15
    assert abs(ssim - published_ssim) < 0.003


def test_real_esrgan_compact_checkpoint_loads_and_upscales(shared):
    path = shared / "weights" / "realesr-animevideov3.pth"
    descriptor = load_checkpoint(path)
    model, scale = descriptor.model, descriptor.scale
    assert scale == 4 and type(model).__name__ == "SRVGGNetCompact"
    lr = Image.open(shared / "data" / "sr" / "benchmark" / "Set5" / "LR_bicubic" / "X4" / "babyx4.png")
    lr = lr.convert("RGB").crop((0, 0, 64, 48))
    sr = upscale(lr, model, backend="torch")
    assert sr.size == (256, 192)
    # a trained model: far closer to the bicubic upscale of its input than noise would be
    reference = lr.resize((256, 192), Image.Resampling.BICUBIC)
    assert psnr_y(sr, reference) > 22
    tiled = upscale(lr, model, tile=32, overlap=8, backend="torch")
    assert psnr_y(tiled, sr) > 40
