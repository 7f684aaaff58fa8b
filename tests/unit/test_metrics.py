"""PSNR-Y / SSIM-Y against independent computations (scikit-image on a separately computed luma)."""
import numpy as np
import pytest
from PIL import Image
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from vtdemo.sr.metrics import crop_to_multiple, psnr_y, ssim_y


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (48, 40, 3)).astype(np.uint8)
    sr = np.clip(hr.astype(int) + rng.integers(-20, 21, hr.shape), 0, 255).astype(np.uint8)
    return sr, hr


def _y(a, crop):
    return rgb2ycbcr(a)[crop:-crop, crop:-crop, 0]


@pytest.mark.parametrize("crop", [2, 4])
def test_psnr_matches_scikit_image(pair, crop):
    sr, hr = pair
    expected = peak_signal_noise_ratio(_y(hr, crop), _y(sr, crop), data_range=255)
    assert psnr_y(Image.fromarray(sr), Image.fromarray(hr), crop=crop) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("crop", [2, 4])
def test_ssim_matches_scikit_image(pair, crop):
    sr, hr = pair
    expected = structural_similarity(_y(hr, crop), _y(sr, crop), data_range=255, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False)
    assert ssim_y(sr, hr, crop=crop) == pytest.approx(expected, abs=1e-9)


def test_identical_images_and_size_mismatch(pair):
    sr, hr = pair
    assert psnr_y(hr, hr) == float("inf") and ssim_y(hr, hr) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="differ in size"):
        psnr_y(sr[:-1], hr)
    assert crop_to_multiple(Image.fromarray(hr), 3).size == (39, 48)
