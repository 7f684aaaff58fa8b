"""The Super-resolution tab and its API, checked against independent computations on the downloaded files."""
import io

import numpy as np
import pytest
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from tests.e2e.helpers import image_position


def luma(img: Image.Image, crop: int) -> np.ndarray:
    x = np.asarray(img.convert("RGB"), dtype=np.float64)
    return (16 + (65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]) / 255)[crop:-crop, crop:-crop]


def independent_psnr_y(a: Image.Image, b: Image.Image, crop: int) -> float:
    return peak_signal_noise_ratio(luma(b, crop), luma(a, crop), data_range=255)


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> str:
    """An unseen 'photo': smooth colour field plus edges, 120×88 (a multiple of 4)."""
    rng = np.random.default_rng(7)
    base = Image.fromarray((rng.random((11, 15, 3)) * 255).astype(np.uint8)).resize((120, 88), Image.BICUBIC)
    arr = np.asarray(base).copy()
    arr[40:44, :, :] = 255
    arr[:, 60:62, 1] = 0
    path = tmp_path_factory.mktemp("sr") / "photo.png"
    Image.fromarray(arr).save(path)
    return str(path)


def test_upscale_endpoint_returns_the_engine_result(client, photo):
    from gradio_client import handle_file

    from vtdemo import upscale

    out = client.predict(handle_file(photo), "hat-demo-x4", 4, api_name="/upscale")
    result = Image.open(out)
    assert result.size == (480, 352) and result.format == "PNG"
    expected = upscale(photo, "hat-demo-x4")
    assert np.abs(np.asarray(result, int) - np.asarray(expected, int)).max() <= 1


def test_upscale_endpoint_refuses_classifiers_and_unknown_ids(client, photo):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="not a super-resolution model"):
        client.predict(handle_file(photo), "vit-s16", 4, api_name="/upscale")
    with pytest.raises(AppError, match="Unknown model id"):
        client.predict(handle_file(photo), "../weights/x", 4, api_name="/upscale")


def test_compare_endpoint_in_degrade_mode_scores_like_an_independent_metric(client, photo):
    from gradio_client import handle_file

    gallery, table = client.predict(handle_file(photo), ["bicubic", "hat-demo-x4"], "degrade", 4, None,
                                    api_name="/compare")
    original = Image.open(photo).convert("RGB")
    assert [row[0] for row in table["data"]] == ["Bicubic", "HAT-demo ×4"]  # short names: the table fits a phone
    for item, row in zip(gallery, table["data"]):
        result = Image.open(item["image"])
        assert result.size == original.size and row[2] == "120×88"
        assert float(row[3]) == pytest.approx(independent_psnr_y(result, original, 4), abs=1e-3)
        assert f"{float(row[3]):.2f} dB" in item["caption"]


@pytest.mark.browser
def test_compare_two_models_in_the_browser(page, photo, artifacts, app_url, zoom_of):
    page.locator("#sr-input input[type=file]").set_input_files(photo)
    page.locator("#sr-input img").first.wait_for(timeout=15_000)
    page.get_by_label("High-res: degrade", exact=False).check()
    page.locator("#sr-run").click()
    page.locator("#sr-inspector img").nth(3).wait_for(timeout=120_000)
    page.locator("#sr-downloads a[download$='.zip']").wait_for(timeout=30_000)

    # downloads: every result as PNG (and a zip)
    links = page.locator("#sr-downloads a[download$='.png']")
    results = {}
    for i in range(links.count()):
        href = links.nth(i).get_attribute("href")
        results[links.nth(i).get_attribute("download")] = Image.open(io.BytesIO(page.request.get(href).body()))
    assert sorted(results) == ["1-bicubic-x4.png", "2-hat-demo-x4-x4.png"]

    # the metrics table shows the PSNR an independent metric gives on the downloaded files
    original = Image.open(photo).convert("RGB")
    table = page.locator("#sr-metrics")
    for r, (name, label) in enumerate((("1-bicubic-x4.png", "Bicubic"), ("2-hat-demo-x4-x4.png", "HAT-demo"))):
        assert label in table.locator(f"[data-testid='cell-{r}-0']").inner_text()
        shown = float(table.locator(f"[data-testid='cell-{r}-3']").inner_text())
        assert shown == pytest.approx(independent_psnr_y(results[name], original, 4), abs=1e-3)

    # the zoom inspector's crops are exactly the server-side crops of the results
    crops = page.locator("#sr-inspector img")
    captions = [crops.nth(i).get_attribute("alt") for i in range(crops.count())]
    assert captions[0] == "input (nearest)" and captions[-1] == "HR reference"
    for i, name in ((1, "1-bicubic-x4.png"), (2, "2-hat-demo-x4-x4.png")):
        shown = Image.open(io.BytesIO(page.request.get(crops.nth(i).get_attribute("src")).body()))
        zoom_of(shown, results[name], (0.5, 0.5), 4, 256)

    # the slider holds the two results and zooms with the mouse wheel
    slider_imgs = page.locator("#sr-slider img[data-testid='imageslider-image']")
    assert slider_imgs.count() == 2
    assert "scale(1)" in slider_imgs.first.get_attribute("style")
    wrap = page.locator("#sr-slider .slider-wrap")
    wrap.scroll_into_view_if_needed()  # the wheel must land on the slider, not scroll the page
    box = wrap.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 3, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -400)
    page.wait_for_function("el => !el.getAttribute('style').includes('scale(1)')",
                           arg=slider_imgs.first.element_handle(), timeout=10_000)

    # clicking the input re-centres the inspector: the centre moves and the crops show the clicked region
    first_crop = crops.nth(1).get_attribute("src")
    img = page.locator("#sr-input img").first
    img.scroll_into_view_if_needed()
    img.click(position=image_position(img, 0.25, 0.5))
    cx_box = page.locator("#sr-cx input[type=number]")
    page.wait_for_function("el => el.value !== '50'", arg=cx_box.element_handle(), timeout=10_000)
    cx, cy = float(cx_box.input_value()), float(page.locator("#sr-cy input[type=number]").input_value())
    assert 20 < cx < 30
    page.wait_for_function("src => document.querySelectorAll('#sr-inspector img')[1].src !== src", arg=first_crop,
                           timeout=30_000)
    shown = Image.open(io.BytesIO(page.request.get(crops.nth(1).get_attribute("src")).body()))
    zoom_of(shown, results["1-bicubic-x4.png"], (cx / 100, cy / 100), 4, 256)
    # a value typed in the centre box moves them too
    clicked = crops.nth(1).get_attribute("src")
    cy_box = page.locator("#sr-cy input[type=number]")
    cy_box.fill("90")
    cy_box.press("Enter")
    page.wait_for_function("src => document.querySelectorAll('#sr-inspector img')[1].src !== src", arg=clicked,
                           timeout=30_000)
    shown = Image.open(io.BytesIO(page.request.get(crops.nth(1).get_attribute("src")).body()))
    zoom_of(shown, results["1-bicubic-x4.png"], (cx / 100, 0.9), 4, 256)
    page.screenshot(path=str(artifacts / "sr-tab.png"), full_page=True)
    assert page.console_errors == []


def _new_page(browser, app_url, width: int, height: int):
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.console_errors = []
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))
    page.goto(app_url)
    page.locator("#sr-run").wait_for()
    return context, page


@pytest.mark.browser
def test_the_action_is_in_the_first_screen_and_a_phone_gets_full_width_crops(browser, app_url, photo, artifacts,
                                                                             tmp_path):
    context, page = _new_page(browser, app_url, 1440, 900)
    page.wait_for_timeout(1000)  # the examples' thumbnails are laid out
    run = page.locator("#sr-run").bounding_box()
    assert run["y"] + run["height"] <= 900 and page.locator("#sr-stop").is_visible()
    context.close()

    context, page = _new_page(browser, app_url, 390, 844)
    tabs = page.get_by_role("tab")
    assert [tabs.nth(i).inner_text().strip() for i in range(tabs.count()) if tabs.nth(i).is_visible()] == \
        ["Upscale", "LAM", "Classify", "Attention", "Models"]  # none behind an overflow menu
    page.locator("#sr-input input[type=file]").set_input_files(photo)
    page.locator("#sr-input img").first.wait_for(timeout=15_000)
    page.locator("#sr-run").click()
    crops = page.locator("#sr-inspector img")
    crops.nth(2).wait_for(timeout=120_000)
    widths = [crops.nth(i).bounding_box()["width"] for i in range(crops.count())]
    assert min(widths) >= 300, widths  # one crop per row at the phone's width, not three 100-px thumbnails
    table = page.locator("#sr-metrics table").first
    last_header = page.locator("#sr-metrics th").last
    last_header.scroll_into_view_if_needed()
    assert last_header.is_visible() and "SSIM" in last_header.inner_text()  # every column can be reached
    page.screenshot(path=str(artifacts / "sr-tab-phone.png"), full_page=True)

    # a failed run: its message in the summary, no result of the previous run left beside it, no error pills
    page.get_by_label("Score against my reference", exact=False).check()
    small = tmp_path / "too-small.png"
    Image.new("RGB", (40, 40)).save(small)
    page.locator("#sr-reference input[type=file]").set_input_files(str(small))
    page.locator("#sr-reference img").first.wait_for(timeout=15_000)
    page.locator("#sr-run").click()
    page.wait_for_function("() => document.querySelector('#sr-summary').innerText.includes('⚠️')", timeout=60_000)
    assert "reference is 40×40" in page.locator("#sr-summary").inner_text()
    assert page.locator("#sr-inspector img").count() == 0 and page.locator("#sr-downloads a").count() == 0
    assert page.locator("#sr-slider img").count() == 0 and page.get_by_text("Error", exact=True).count() == 0
    assert table.count() == 1 and page.console_errors == []
    context.close()
