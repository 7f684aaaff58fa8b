"""PSNR-Y / SSIM-Y against independent computations: the literature's formulas written out here (MATLAB's 'valid'
11×11 Gaussian SSIM, 10·log10(255²/MSE)) on a luma computed separately (scikit-image's rgb2ycbcr)."""
import numpy as np
import pytest
from PIL import Image
from skimage.color import rgb2ycbcr

from vtdemo.sr.metrics import crop_to_multiple, psnr_y, ssim_y


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (48, 40, 3)).astype(np.uint8)
    sr = np.clip(hr.astype(int) + rng.integers(-20, 21, hr.shape), 0, 255).astype(np.uint8)
    return sr, hr


def _y(a, crop):
    return rgb2ycbcr(a)[crop:-crop, crop:-crop, 0]


def _matlab_ssim(a, b):
    """ssim.m of Wang et al. (and the SR papers' evaluation code): 2-D Gaussian window, 'valid' filtering."""
    from scipy.signal import correlate2d

    g = np.exp(-((np.arange(11) - 5) ** 2) / (2 * 1.5 ** 2))
    w = np.outer(g, g) / np.outer(g, g).sum()
    f = lambda x: correlate2d(x, w, mode="valid")  # noqa: E731
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = f(a), f(b)
    var_a, var_b, cov = f(a * a) - mu_a ** 2, f(b * b) - mu_b ** 2, f(a * b) - mu_a * mu_b
    return (((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))).mean()


@pytest.mark.parametrize("crop", [2, 4])
def test_psnr_is_the_literatures_formula(pair, crop):
    sr, hr = pair
    expected = 10 * np.log10(255.0 ** 2 / np.mean((_y(hr, crop) - _y(sr, crop)) ** 2))
    assert psnr_y(Image.fromarray(sr), Image.fromarray(hr), crop=crop) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("crop", [2, 4])
def test_ssim_is_matlabs_valid_window_ssim(pair, crop):
    sr, hr = pair
    expected = _matlab_ssim(_y(sr, crop), _y(hr, crop))
    assert ssim_y(sr, hr, crop=crop) == pytest.approx(expected, abs=1e-9)


def test_identical_images_and_size_mismatch(pair):
    sr, hr = pair
    assert psnr_y(hr, hr) == float("inf") and ssim_y(hr, hr) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="differ in size"):
        psnr_y(sr[:-1], hr)
    assert crop_to_multiple(Image.fromarray(hr), 3).size == (39, 48)


def test_piqe_scores_blocking_and_blur_worse_than_the_photo_they_came_from():
    pytest.importorskip("pyiqa", reason="PIQE needs pyiqa (make installs it: pip install --no-deps pyiqa)")
    import io

    from scipy.ndimage import gaussian_filter
    from skimage import data

    from vtdemo.sr.metrics import piqe

    photo = data.astronaut()
    buf = io.BytesIO()
    Image.fromarray(photo).save(buf, "JPEG", quality=10)
    blocky = np.asarray(Image.open(buf).convert("RGB"))
    blurred = gaussian_filter(photo.astype(np.float64), (2, 2, 0)).round().astype(np.uint8)
    clean = piqe(photo)
    assert clean == pytest.approx(piqe(Image.fromarray(photo)))  # an array or a picture, the same score
    assert 0 <= clean < 50 and clean + 15 < piqe(blocky) <= 100 and clean + 15 < piqe(blurred) <= 100
