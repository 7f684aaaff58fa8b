"""Image inputs check a file when it arrives: a non-image or an over-limit image is cleared at once with the task's
own sentence; an image merely over the pixel limit stays, with a button that downscales it to fit; a good image
stays (and is never decoded for the check)."""
import gradio as gr
import numpy as np
import pytest
from PIL import Image

from vtdemo.imaging import ImageError, check_header, decode_image, downscale_to_fit
from vtdemo.ui import arrival


def _warnings(monkeypatch) -> list[str]:
    seen = []
    monkeypatch.setattr(arrival.gr, "Warning", lambda text, *a, **k: seen.append(text))
    return seen


def test_a_non_image_is_cleared_with_the_decoders_reason(tmp_path, monkeypatch):
    page = tmp_path / "page.png"
    page.write_text("<!doctype html><html><body>not a picture</body></html>")
    seen = _warnings(monkeypatch)
    image, button = arrival.on_arrival(str(page))
    assert image is None and button["visible"] is False
    with pytest.raises(ImageError) as later:
        decode_image(str(page))
    assert seen == [str(later.value)] and "HTML page" in seen[0]


def test_an_image_over_the_pixel_limit_stays_with_a_downscale_offer_read_from_its_header(tmp_path, monkeypatch):
    monkeypatch.setenv("VTDEMO_MAX_INPUT_PIXELS", str(100 * 100))
    big = tmp_path / "big.png"
    Image.new("RGB", (200, 120)).save(big)
    seen = _warnings(monkeypatch)
    loads = []
    original = Image.Image.load
    monkeypatch.setattr(Image.Image, "load", lambda self: loads.append(1) or original(self))
    image, button = arrival.on_arrival(str(big))
    assert loads == []  # the header says enough
    assert isinstance(image, type(gr.skip())) and button["visible"] is True and button["value"] == "Downscale to 129×77"
    assert "200×120" in seen[0] and "VTDEMO_MAX_INPUT_PIXELS" in seen[0]
    huge = tmp_path / "huge.png"
    Image.new("RGB", (400, 300)).save(huge)  # 12× the limit: over the 4× that may be downscaled here
    image, button = arrival.on_arrival(str(huge))
    assert image is None and button["visible"] is False


def test_downscale_to_fit_keeps_the_aspect_the_content_and_the_orientation(tmp_path, monkeypatch):
    monkeypatch.setenv("VTDEMO_MAX_INPUT_PIXELS", str(100 * 100))
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (12, 20, 3), dtype=np.uint8).repeat(10, 0).repeat(10, 1)  # 200×120 blocks
    rotated = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: shown rotated 90° clockwise
    Image.fromarray(pixels).save(rotated, quality=95, exif=exif)
    out = Image.open(downscale_to_fit(str(rotated), tmp_path / "out"))
    assert out.size == (77, 129) and out.width * out.height <= 100 * 100  # upright, within the limit
    expected = Image.fromarray(np.rot90(pixels, -1).copy()).resize(out.size, Image.Resampling.LANCZOS)
    assert np.abs(np.asarray(out, np.int16) - np.asarray(expected, np.int16)).mean() < 6  # JPEG and draft noise
    with pytest.raises(ImageError, match="within the pixel limit"):
        downscale_to_fit(str(out.filename), tmp_path / "again")


def test_a_good_image_stays_and_its_size_is_read(tmp_path, monkeypatch):
    good = tmp_path / "good.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)).save(good)
    seen = _warnings(monkeypatch)
    image, button = arrival.on_arrival(str(good))
    assert isinstance(image, type(gr.skip())) and button["visible"] is False and seen == []
    assert check_header(str(good)) == (40, 30)
