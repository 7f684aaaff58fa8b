"""Outputs people keep: formats and quality, EXIF orientation applied with the rest of EXIF and the colour profile
carried, target sizes from the native scale, self-describing names — read back with Pillow."""
import io

import numpy as np
import pytest
from PIL import Image, ImageCms

from vtdemo.outputs import OutputSpec, encode, file_name, parse_size, target_size, upscale_file

ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def photo_with_metadata(path, orientation=6):
    """A 40×24 JPEG whose EXIF says 'rotate 90° clockwise to view' (so it is seen 24×40), with a camera name."""
    rng = np.random.default_rng(0)
    exif = Image.Exif()
    exif[0x0112], exif[0x010F], exif[0x0110] = orientation, "TestCam", "Model 7"
    exif.get_ifd(0x8769)[0x9003] = "2026:12:01 10:00:00"  # DateTimeOriginal, in the Exif sub-IFD
    img = Image.fromarray(rng.integers(0, 255, (24, 40, 3), dtype=np.uint8))
    img.save(path, "JPEG", quality=90, exif=exif.tobytes(), icc_profile=ICC)
    return path


@pytest.mark.parametrize("fmt, spec, pillow", [("png", OutputSpec("png"), "PNG"),
                                               ("jpeg", OutputSpec("jpeg", quality=70), "JPEG"),
                                               ("webp", OutputSpec("webp", quality=60), "WEBP"),
                                               ("webp-lossless", OutputSpec("webp", lossless=True), "WEBP")])
def test_every_format_carries_profile_and_exif_without_orientation(tmp_path, fmt, spec, pillow):
    src = photo_with_metadata(tmp_path / "cam.jpg")
    out = upscale_file(src, "bicubic", tmp_path, format=spec.format, quality=spec.quality, lossless=spec.lossless,
                       scale=2)
    img = Image.open(out)
    assert img.format == pillow and img.size == (48, 80)  # orientation applied: 24×40 seen, ×2
    exif = img.getexif()
    assert exif.get(0x010F) == "TestCam" and exif.get(0x0110) == "Model 7" and 0x0112 not in exif
    assert exif.get_ifd(0x8769).get(0x9003) == "2026:12:01 10:00:00"
    assert img.info.get("icc_profile") == ICC
    assert out.name == f"cam_bicubic_x2{spec.extension}"


def test_lossless_webp_and_png_keep_every_pixel_and_jpeg_quality_is_the_one_asked():
    from vtdemo.sr.inspection import jpeg_quality

    rng = np.random.default_rng(1)
    img = Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8))
    for spec in (OutputSpec("png"), OutputSpec("webp", lossless=True)):
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(encode(img, spec))).convert("RGB")), np.asarray(img))
    for q in (35, 80):
        assert jpeg_quality(Image.open(io.BytesIO(encode(img, OutputSpec("jpeg", quality=q)))).quantization) == q
    small, large = (len(encode(img, OutputSpec("webp", quality=q))) for q in (20, 95))
    assert small < large


def test_target_sizes_keep_the_aspect_and_the_resize_is_stated():
    assert target_size(100, 50, None, 4) == (400, 200)
    assert target_size(100, 50, "300x", 4) == (300, 150)
    assert target_size(100, 50, "x100", 4) == (200, 100)
    assert target_size(100, 50, "1000x100", 4) == (200, 100)  # fitted inside the box
    assert target_size(100, 50, "2.5", 4) == (250, 125)
    assert parse_size("1920×1080") == (1920, 1080, None)
    for bad in ("wide", "0x10", "-3", "17"):  # a bare number is a factor, at most 16
        with pytest.raises(ValueError):
            parse_size(bad)


def test_a_requested_size_is_reached_from_the_native_scale_with_a_high_quality_resize(tmp_path):
    from vtdemo.sr.engine import upscale

    src = photo_with_metadata(tmp_path / "cam.jpg")
    out = upscale_file(src, "hat-demo-x2", tmp_path, size="60x", format="png")
    assert out.name == "cam_hat-demo-x2_x2_60x100.png"
    native = upscale(src, "hat-demo-x2")  # 48×80, then Lanczos to 60×100
    expected = native.resize((60, 100), Image.Resampling.LANCZOS)
    assert np.array_equal(np.asarray(Image.open(out).convert("RGB")), np.asarray(expected))


def test_over_the_output_limit_is_refused_before_writing(tmp_path, monkeypatch):
    from vtdemo.imaging import ImageError

    monkeypatch.setenv("VTDEMO_MAX_OUTPUT_PIXELS", "5000")
    src = photo_with_metadata(tmp_path / "cam.jpg")
    with pytest.raises(ImageError, match="output limit"):
        upscale_file(src, "bicubic", tmp_path, size="4000x", scale=2)
    assert not list(tmp_path.glob("cam_*"))


def test_names_say_model_scale_and_size():
    assert file_name("holiday photo", "hat-demo-x4", 4, OutputSpec("jpeg")) == "holiday-photo_hat-demo-x4_x4.jpg"
    assert file_name("a", "m", 2, OutputSpec("webp"), (10, 20)) == "a_m_x2_10x20.webp"


def test_the_cli_writes_the_format_quality_and_size_asked(tmp_path):
    from vtdemo.cli import main

    src = photo_with_metadata(tmp_path / "cam.jpg")
    out = tmp_path / "out"
    assert main(["upscale", str(src), "-m", "bicubic", "--scale", "2", "--format", "jpeg", "--quality", "50",
                 "--size", "x60", "-o", f"{out}/"]) == 0
    (written,) = out.glob("*.jpg")
    img = Image.open(written)
    assert written.name == "cam_bicubic_x2_x60.jpg" and img.size == (36, 60)
    assert img.getexif().get(0x010F) == "TestCam" and img.info.get("icc_profile") == ICC
