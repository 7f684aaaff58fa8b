"""Image inputs check a file when it arrives: a non-image or an over-limit image is cleared at once with the task's
own sentence; a good image stays (and is never decoded for the check)."""
import gradio as gr
import numpy as np
import pytest
from PIL import Image

from vtdemo.imaging import ImageError, check_header, decode_image
from vtdemo.ui import arrival


def _warnings(monkeypatch) -> list[str]:
    seen = []
    monkeypatch.setattr(arrival.gr, "Warning", lambda text, *a, **k: seen.append(text))
    return seen


def test_a_non_image_is_cleared_with_the_decoders_reason(tmp_path, monkeypatch):
    page = tmp_path / "page.png"
    page.write_text("<!doctype html><html><body>not a picture</body></html>")
    seen = _warnings(monkeypatch)
    assert arrival.on_arrival(str(page)) is None
    with pytest.raises(ImageError) as later:
        decode_image(str(page))
    assert seen == [str(later.value)] and "HTML page" in seen[0]


def test_an_image_over_the_pixel_limit_is_cleared_from_its_header_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("VTDEMO_MAX_INPUT_PIXELS", str(100 * 100))
    big = tmp_path / "big.png"
    Image.new("RGB", (200, 120)).save(big)
    seen = _warnings(monkeypatch)
    monkeypatch.setattr(Image.Image, "load", lambda self: pytest.fail("decoded"))  # the header says enough
    assert arrival.on_arrival(str(big)) is None
    assert "200×120" in seen[0] and "VTDEMO_MAX_INPUT_PIXELS" in seen[0]


def test_a_good_image_stays_and_its_size_is_read(tmp_path, monkeypatch):
    good = tmp_path / "good.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (30, 40, 3), dtype=np.uint8)).save(good)
    seen = _warnings(monkeypatch)
    assert isinstance(arrival.on_arrival(str(good)), type(gr.skip())) and seen == []
    assert check_header(str(good)) == (40, 30)
