"""The exported comparison opened from disk in Chromium with the network cut: its images load and the slider moves
the wipe."""
import io
import re

import numpy as np
from PIL import Image

from vtdemo.sr.share import Shown, comparison_html


def test_the_exported_page_works_offline_and_its_slider_moves(browser, tmp_path):
    red = Image.new("RGB", (400, 200), (255, 0, 0))
    blue = Image.new("RGB", (400, 200), (0, 0, 255))
    path = tmp_path / "comparison.html"
    path.write_bytes(comparison_html(Shown("red model", red, "×4"), Shown("blue model", blue, "×4"),
                                     [Shown("crop", red.crop((0, 0, 32, 32)))], ["model", "PSNR-Y"], [["red", 1]]))
    context = browser.new_context(viewport={"width": 800, "height": 600}, offline=True)
    page = context.new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    assert page.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    assert all(u.startswith(("file:", "data:")) for u in requests), requests

    def colour_at(fraction):
        box = page.locator("#wipe").bounding_box()
        shot = Image.open(io.BytesIO(page.screenshot()))
        x, y = box["x"] + fraction * box["width"], box["y"] + box["height"] / 2
        return shot.convert("RGB").getpixel((int(x), int(y)))

    assert colour_at(0.25)[0] > 200 and colour_at(0.75)[2] > 200  # red left of the middle, blue right of it
    box = page.locator("#wipe").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 20)
    page.mouse.down()
    page.mouse.move(box["x"] + 0.9 * box["width"], box["y"] + 20, steps=8)
    page.mouse.up()
    assert float(page.locator("#position").input_value()) > 85
    assert colour_at(0.75)[0] > 200  # the wipe moved: red now reaches past three quarters
    page.locator("#position").fill("10")
    assert re.search(r"inset\(0(px)? 0(px)? 0(px)? 10%\)", page.evaluate("getComputedStyle(right).clipPath"))
    assert colour_at(0.25)[2] > 200
    assert page.locator("#metrics td").first.inner_text() == "red"
    context.close()
