"""The input inspector against images degraded here by known amounts (scikit-image's photos, at run time)."""
import io

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage
from skimage import data

from vtdemo.sr.inspection import ijg_table, inspect_image, jpeg_quality, suggested_models

PHOTOS = {"astronaut": data.astronaut, "coffee": data.coffee, "chelsea": data.chelsea, "rocket": data.rocket}


def encoded(a: np.ndarray, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, fmt, **kw)
    return buf.getvalue()


def test_the_ijg_table_at_50_is_the_standard_one_and_quality_is_read_back_from_it():
    assert ijg_table(50)[:8].tolist() == [16, 11, 10, 16, 24, 40, 51, 61]  # JPEG Annex K, K.1
    assert jpeg_quality({0: ijg_table(37).astype(int).tolist()}) == 37
    assert jpeg_quality(None) is None


@pytest.mark.parametrize("name", PHOTOS)
@pytest.mark.parametrize("quality", [25, 50, 72, 88, 95])
def test_jpeg_quality_is_recovered_exactly_from_a_pillow_file(name, quality):
    found = inspect_image(encoded(PHOTOS[name](), "JPEG", quality=quality))
    assert found.format == "JPEG" and found.jpeg_quality == quality
    assert (quality < 90) == any("JPEG" in r for r in found.reasons)


@pytest.mark.parametrize("name", PHOTOS)
def test_noise_sigma_within_its_stated_error(name):
    a = PHOTOS[name]().astype(np.float64)
    clean = inspect_image(encoded(a.astype(np.uint8)))
    assert clean.noise_sigma < 3.0 and not clean.real_world, clean.summary()
    rng = np.random.default_rng(0)
    for sigma in (5, 10, 20):
        noisy = np.clip(a + rng.normal(0, sigma, a.shape), 0, 255).round().astype(np.uint8)
        found = inspect_image(encoded(noisy)).noise_sigma
        assert abs(found - sigma) <= 1.5 + 0.15 * sigma, (sigma, found)
    assert inspect_image(encoded(noisy)).real_world


@pytest.mark.parametrize("name", PHOTOS)
def test_blur_sigma_within_its_stated_error(name):
    a = PHOTOS[name]().astype(np.float64)
    own = inspect_image(encoded(a.astype(np.uint8))).blur_sigma
    assert own < 1.0
    for sigma in (1.0, 2.0, 3.0):
        blurred = np.stack([ndimage.gaussian_filter(a[..., c], sigma) for c in range(3)], -1)
        found = inspect_image(encoded(blurred.round().astype(np.uint8))).blur_sigma
        truth = float(np.hypot(sigma, own))  # the photo's own blur adds in quadrature
        assert abs(found - truth) <= 0.25 * truth + 0.6, (sigma, found, truth)


@pytest.mark.parametrize("name", PHOTOS)
def test_an_enlarged_image_is_recognised_with_its_factor_and_a_photo_is_not(name):
    img = Image.fromarray(PHOTOS[name]())
    assert inspect_image(img).upscaled is None
    for s in (2, 3, 4):
        small = img.resize((img.width // s, img.height // s), Image.Resampling.BICUBIC)
        found = inspect_image(small.resize(img.size, Image.Resampling.BICUBIC))
        assert found.upscaled == s
        assert f"enlarged ×{s}" in found.summary()


def test_the_summary_and_the_compare_selection_follow_the_measurements():
    a = data.astronaut()
    degraded = inspect_image(encoded(a, "JPEG", quality=60))
    assert degraded.summary().startswith("512×512 JPEG, JPEG quality ≈ 60")
    assert "a model trained on real degradations will do better than a bicubic one" in degraded.summary()
    available = ["bicubic", "hat-demo-x4", "hat-demo-real-x4", "swinir-demo-x4"]
    picked, why = suggested_models(degraded, 4, available)
    assert picked == ["bicubic", "hat-demo-x4", "hat-demo-real-x4"] and "hat-demo-real-x4 fits" in why
    clean = inspect_image(encoded(a))
    picked, why = suggested_models(clean, 4, available)
    assert picked == ["bicubic", "hat-demo-x4"] and "clean" in why
    picked, why = suggested_models(degraded, 3, ["bicubic"])  # ×3: nothing but bicubic here
    assert picked == ["bicubic"] and "no real-world model of this scale" in why
    assert "bicubic-trained model fits" in clean.summary()


def test_profile_and_size_are_reported_and_a_huge_upload_is_measured_on_a_bounded_crop():
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    found = inspect_image(encoded(data.coffee(), "PNG", icc_profile=icc))
    assert (found.width, found.height) == (600, 400) and found.profile and "sRGB" in found.profile
    big = np.tile(data.coffee(), (4, 4, 1))  # 2400×1600: measured on a 1024² centre crop
    assert inspect_image(big).width == 2400


def test_the_cli_says_it_in_words_and_in_json_and_refuses_a_non_image(tmp_path, capsys):
    import json

    from vtdemo.cli import main

    path = tmp_path / "web.jpg"
    path.write_bytes(encoded(data.coffee(), "JPEG", quality=45))
    (tmp_path / "notes.txt").write_text("not an image")
    assert main(["inspect", str(path)]) == 0
    assert "JPEG quality ≈ 45" in capsys.readouterr().out
    assert main(["inspect", str(path), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["jpeg_quality"] == 45 and row["real_world"] is True and row["width"] == 600
    assert main(["inspect", str(tmp_path / "notes.txt")]) == 2
    assert "not an image" in capsys.readouterr().err
