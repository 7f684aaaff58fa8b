"""The shared comparison: the wipe animation's frames, and the HTML file's bounds (the browser test opens it)."""
import io

import numpy as np
from PIL import Image

from vtdemo.sr import share


def pair(w=320, h=200):
    rng = np.random.default_rng(0)
    left = Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
    right = Image.fromarray(255 - np.asarray(left))
    return left, right


def test_each_frame_shows_left_before_the_line_and_right_after_it():
    left, right = pair()
    frames = share.wipe_frames(left, right, frames=10, side=640)
    a, b = np.asarray(left), np.asarray(right)
    xs = []
    for f in frames:
        px = np.asarray(f)
        line = int(np.argmax(np.all(px == 255, axis=(0, 2)))) if np.all(px == 255, axis=(0, 2)).any() else None
        x = next(i for i in range(px.shape[1] + 1) if i == px.shape[1] or not np.array_equal(px[:, i], a[:, i]))
        assert np.array_equal(px[:, :x], a[:, :x])
        assert np.array_equal(px[:, x + 2:], b[:, x + 2:])
        xs.append(x)
        assert line is None or abs(line - x) <= 1
    assert xs[0] <= 1 and max(xs) >= left.width - 2 and xs[1] > xs[0]  # sweeps right, then back
    assert xs[-1] < max(xs)


def test_the_animation_is_bounded_and_loops():
    left, right = pair(2000, 1500)
    for fmt in ("webp", "gif"):
        data = share.wipe_animation(left, right, fmt)
        img = Image.open(io.BytesIO(data))
        assert img.format == fmt.upper() and max(img.size) <= share.WIPE_SIDE
        assert getattr(img, "n_frames", 1) == share.WIPE_FRAMES - 2 and img.info.get("loop") == 0


def test_the_page_is_self_contained_escaped_and_bounded(monkeypatch):
    left, right = pair(1200, 800)
    page = share.comparison_html(share.Shown("<b>A</b>", left, "×4 by a"), share.Shown("B", right, "c & d"),
                                 [share.Shown("crop", left.crop((0, 0, 64, 64)))], ["model", "PSNR"],
                                 [["a", 30.1]]).decode()
    assert "<b>A</b>" not in page and "&lt;b&gt;A&lt;/b&gt;" in page and "c &amp; d" in page
    assert "http://" not in page and "https://" not in page  # nothing to fetch
    assert page.count("data:image/png;base64,") == 3
    monkeypatch.setattr(share, "MAX_HTML_BYTES", 400_000)  # noise compresses badly: the images shrink to fit
    small = share.comparison_html(share.Shown("A", left), share.Shown("B", right))
    assert len(small) <= 400_000 and b"data:image/webp" in small
