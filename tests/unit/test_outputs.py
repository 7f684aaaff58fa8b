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


def test_hostile_size_texts_are_refused_at_once():
    import time

    start = time.perf_counter()
    for text in ("1" + " " * 1_000_000 + "a", "1" + "0" * 400 + "x", "9" * 40):
        with pytest.raises(ValueError) as refused:
            parse_size(text)
        assert len(str(refused.value)) < 120  # the message never repeats the whole text
    assert time.perf_counter() - start < 0.5
    assert parse_size(" 640 x 480 ") == (640, 480, None)


def test_format_limits_and_the_total_of_a_request_are_checked_with_a_sentence():
    from vtdemo.imaging import ImageError
    from vtdemo.outputs import check_target

    with pytest.raises(ImageError, match="WEBP cannot hold a 16384×10"):
        check_target((16384, 10), fmt="webp")
    check_target((16384, 10), fmt="png")
    check_target((4096, 4096), count=4)  # exactly the default limit: 8192²
    with pytest.raises(ImageError, match="4 results of 4100×4096"):
        check_target((4100, 4096), count=4)


def test_only_descriptive_exif_under_its_cap_and_a_fitting_profile_are_carried(tmp_path):
    from vtdemo.imaging import MAX_EXIF_BYTES, read_metadata

    exif = Image.Exif()
    exif[0x010F], exif[0x0131] = "Cam", "Editor"
    exif[0x8649] = b"\0" * 5000  # a Photoshop blob: not carried
    path = tmp_path / "a.png"
    Image.new("RGB", (8, 8)).save(path, exif=exif.tobytes())
    kept = Image.Exif()
    kept.load(read_metadata(path).exif)
    assert dict(kept) == {0x010F: "Cam", 0x0131: "Editor"}
    exif[0x010E] = "x" * (MAX_EXIF_BYTES + 10)  # over what JPEG can hold: dropped, not an error
    Image.new("RGB", (8, 8)).save(path, exif=exif.tobytes())
    assert read_metadata(path).exif is None
    cmyk = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    cmyk = cmyk[:16] + b"CMYK" + cmyk[20:]  # a profile of another colour space never lands on RGB pixels
    img = Image.open(io.BytesIO(encode(Image.new("RGB", (8, 8)), OutputSpec("jpeg"), icc_profile=cmyk)))
    assert "icc_profile" not in img.info
    gray = Image.open(io.BytesIO(encode(Image.new("L", (8, 8)), OutputSpec("png"), icc_profile=ICC)))
    assert "icc_profile" not in gray.info  # an RGB profile on a gray image: dropped too


def test_an_orientation_is_read_from_the_header_without_decoding(tmp_path):
    from vtdemo.imaging import read_metadata

    meta = read_metadata(photo_with_metadata(tmp_path / "cam.jpg"))
    assert meta.size == (24, 40) and meta.icc_profile == ICC
