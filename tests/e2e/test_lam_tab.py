"""The Attribution (LAM) tab and its endpoints, against independent computations."""
import numpy as np
import pytest
from PIL import Image

from tests.e2e.helpers import image_position


@pytest.fixture(scope="module")
def small_image(tmp_path_factory) -> str:
    rng = np.random.default_rng(11)
    arr = np.asarray(Image.fromarray((rng.random((6, 8, 3)) * 255).astype(np.uint8)).resize((40, 32), Image.BICUBIC))
    path = tmp_path_factory.mktemp("lam") / "small.png"
    Image.fromarray(arr).save(path)
    return str(path)


def test_lam_endpoint_returns_the_overlay_and_the_di_of_the_box_at_the_point(client, small_image):
    """The endpoint's DI is LAM's of the 16×16 output box centred on input pixel (20, 16) — recomputed here from the
    attribution itself, with the box placed by hand — and its overlay shows that box in green."""
    from gradio_client import handle_file

    from vtdemo.imaging import decode_image, pil_to_tensor
    from vtdemo.sr.lam import attribution_map
    from vtdemo.zoo.loading import load_model

    overlay, di = client.predict(handle_file(small_image), "hat-demo-x4", 20, 16, 10, api_name="/lam")
    lr = pil_to_tensor(decode_image(small_image).rgb)
    x, y = 20 * 4 + 2 - 8, 16 * 4 + 2 - 8  # the box centred on the input pixel's centre, in output pixels
    _, expected = attribution_map(load_model("hat-demo-x4", device="cpu"), lr, x, y, window=16, steps=10)
    assert di == pytest.approx(expected, abs=1e-3)
    assert 0 < di <= 100
    img = np.asarray(Image.open(overlay).convert("RGB"))
    assert img.shape[0] >= 256  # the attributed neighbourhood, magnified
    green = (img[..., 0] == 0) & (img[..., 1] == 255) & (img[..., 2] == 0)
    rows, cols = np.nonzero(green)
    assert green.sum() > 4 * 16 and rows.max() - rows.min() == cols.max() - cols.min()  # a square outline


def test_lam_endpoint_limits_steps(client, small_image, monkeypatch):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="steps must be between 1 and"):
        client.predict(handle_file(small_image), "bicubic", 20, 16, 100000, api_name="/lam")


def test_hat_attention_endpoint(client, small_image):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    out = client.predict(handle_file(small_image), "hat-demo-x4", 10, 12, 0, 1, "mean", api_name="/hat_attention")
    assert Image.open(out).mode == "RGB"
    with pytest.raises(AppError, match="not a HAT model"):
        client.predict(handle_file(small_image), "realesrgan-x4plus", 10, 12, 0, 1, "mean", api_name="/hat_attention")
    with pytest.raises(AppError, match="does not exist"):
        client.predict(handle_file(small_image), "hat-demo-x4", 10, 12, 9, 0, "mean", api_name="/hat_attention")


@pytest.mark.browser
def test_click_shows_attention_and_lam_runs(page, small_image, artifacts):
    page.get_by_role("tab", name="LAM").click()
    page.locator("#lam-input input[type=file]").set_input_files(small_image)
    img = page.locator("#lam-input img").first
    img.wait_for(timeout=15_000)
    img.scroll_into_view_if_needed()
    img.click(position=image_position(img, 0.5 + 0.5 / 40, 0.25 + 0.5 / 32))  # pixel (20, 8)
    page.locator("#att-image img").first.wait_for(timeout=30_000)
    assert page.locator("#lam-x input").input_value() == "20"
    assert page.locator("#lam-y input").input_value() == "8"
    caption = page.locator("#att-caption").inner_text()
    assert "SW-MSA" in caption and "query pixel (20, 8)" in caption and "sum to 1.000" in caption
    page.locator("#lam-run").click()
    # by default the demo families trained alike (the HAT paper's comparison): the CNN first, HAT last
    from vtdemo.zoo.cards import COMPARISON_DEMOS
    from vtdemo.zoo.availability import usable

    here = [m for m in COMPARISON_DEMOS if m in {c.id for c in usable("sr", 4)}]
    page.locator("#lam-maps img").nth(len(here) - 1).wait_for(timeout=180_000)
    captions = [page.locator("#lam-maps img").nth(i).get_attribute("alt") for i in range(len(here))]
    assert all(c.startswith("DI ") for c in captions), captions
    assert "CNN-demo" in captions[0] and "HAT-demo" in captions[-1]
    assert all(float(c.split("DI ")[1].split(" ")[0]) > 0 for c in captions)
    page.locator("#lam-di .js-plotly-plot").wait_for(timeout=15_000)
    # the SR output shows the box; a click there moves the box to the input pixel under it
    out = page.locator("#lam-output img").first
    out.wait_for(timeout=15_000)
    assert out.evaluate("el => [el.naturalWidth, el.naturalHeight]") == [160, 128]
    out.scroll_into_view_if_needed()
    out.click(position=image_position(out, (41 + 0.5) / 160, (97 + 0.5) / 128))
    page.wait_for_function("() => document.querySelector('#lam-x input').value === '10'", timeout=10_000)
    assert page.locator("#lam-y input").input_value() == "24"
    page.screenshot(path=str(artifacts / "lam-tab.png"), full_page=True)
    assert page.console_errors == []
