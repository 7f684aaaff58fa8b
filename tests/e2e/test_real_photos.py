"""A phone-style JPEG in the Upscale tab: the inspector's line and the models it pre-selects, the departure maps
after the comparison, downloads in the format asked (read back with Pillow), and the shared page."""
import io

import numpy as np
from PIL import Image
from skimage import data


def test_a_web_jpeg_is_inspected_compared_checked_downloaded_and_shared(page, tmp_path, artifacts):
    rng = np.random.default_rng(3)
    photo = Image.fromarray(data.chelsea()).resize((112, 76), Image.Resampling.LANCZOS)
    noisy = np.clip(np.asarray(photo, dtype=np.float64) + rng.normal(0, 6, (76, 112, 3)), 0, 255).astype(np.uint8)
    exif = Image.Exif()
    exif[0x010F] = "PhoneCam"
    path = tmp_path / "cat.jpg"
    Image.fromarray(noisy).save(path, "JPEG", quality=60, exif=exif.tobytes())

    page.locator("#sr-input input[type=file]").set_input_files(str(path))
    line = page.locator("#sr-inspection")
    line.get_by_text("JPEG quality ≈ 60").wait_for(timeout=30_000)
    assert "real degradations will do better" in line.inner_text()
    chosen = page.locator("#sr-models").inner_text()
    assert "hat-demo-real-x4" in chosen.replace("HAT-demo-real ×4", "hat-demo-real-x4") or "real" in chosen.lower()

    page.locator("#sr-run").click()
    gallery = page.locator("#sr-departures")
    page.locator("#sr-departure-text").get_by_text("LR consistency: mean").first.wait_for(timeout=120_000)
    text = page.locator("#sr-departure-text").inner_text()
    assert text.count("LR consistency: mean") == 2 and "disagreement: mean" in text
    assert gallery.locator("img").count() >= 3
    page.locator("#sr-pair-lam-run").click()  # both models' LAM for the box at the zoom centre
    page.locator("#sr-pair-lam-text").get_by_text("diffusion index").first.wait_for(timeout=180_000)
    assert page.locator("#sr-pair-lam-text").inner_text().count(": diffusion index") == 2
    page.screenshot(path=str(artifacts / "real-photos-departures.png"), full_page=True)

    page.get_by_text("Download as…").click()
    page.locator("#sr-out-format").get_by_text("JPEG", exact=True).click()
    page.locator("#sr-out-size textarea, #sr-out-size input").first.fill("300x")
    page.locator("#sr-out-run").click()
    page.locator("#sr-out-text").get_by_text("Lanczos to 300×204").first.wait_for(timeout=60_000)
    links = page.locator("#sr-out-files a")
    links.first.wait_for(timeout=30_000)
    assert links.count() == 3  # bicubic and the two pre-selected models
    with page.expect_download() as info:
        links.first.click()
    name = info.value.suggested_filename
    assert name.startswith("cat_") and name.endswith("_x4_300x204.jpg"), name
    img = Image.open(io.BytesIO(open(info.value.path(), "rb").read()))
    assert img.format == "JPEG" and img.size == (300, 204) and img.getexif().get(0x010F) == "PhoneCam"

    page.get_by_text("Share: the comparison").click()
    page.locator("#sr-share-run").click()
    shared = page.locator("#sr-share-files a")
    shared.first.wait_for(timeout=60_000)
    assert shared.count() == 2
    with page.expect_download() as info:
        shared.first.click()
    html = open(info.value.path(), "rb").read().decode()
    assert info.value.suggested_filename.endswith(".html") and "data:image/png;base64," in html
    assert "https://" not in html and "http://" not in html
