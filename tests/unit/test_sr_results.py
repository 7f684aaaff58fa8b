"""The Upscale tab's handlers past the comparison, on a comparison's state as the tab saves it: departure maps of a
result larger than the page shows, downloads bounded as a whole and carrying what the upload had."""
import numpy as np
import pytest
from PIL import Image

from vtdemo.ui import sr_results


def quiet(*_, **__):
    pass


@pytest.fixture
def state(tmp_path):
    rng = np.random.default_rng(0)
    lr = Image.fromarray(rng.integers(0, 255, (300, 400, 3), dtype=np.uint8))
    lr.save(tmp_path / "input.png")
    results = []
    for i, model in enumerate(("bicubic", "hat-demo-x4")):
        out = lr.resize((1600, 1200), Image.Resampling.BICUBIC if i == 0 else Image.Resampling.LANCZOS)
        out.save(tmp_path / f"{i}.png")
        results.append(dict(model=model, name=model, path=str(tmp_path / f"{i}.png"), caption=model))
    exif = Image.Exif()
    exif[0x010F] = "Cam"
    return dict(scale=4, mode="lr", input=str(tmp_path / "input.png"), reference=None, results=results, views=[],
                source=dict(name="holiday", icc_profile=None, exif=exif.tobytes()))


def test_departure_maps_of_results_larger_than_the_page_shows(state):
    items, text = sr_results.departures(state, "bicubic", "hat-demo-x4", progress=quiet)
    assert len(items) == 3 and text.count("LR consistency: mean") == 2 and "disagreement: mean" in text
    for path, _ in items:
        assert max(Image.open(path).size) <= sr_results.SHOWN_SIDE + 100  # the map plus its colour bar


def test_downloads_carry_the_uploads_name_and_exif_and_are_bounded_together(state, monkeypatch):
    paths, text = sr_results.downloads(state, "jpeg", 80, "800x", progress=quiet)
    assert [p.rsplit("/", 1)[1] for p in paths] == ["holiday_bicubic_x4_800x600.jpg",
                                                    "holiday_hat-demo-x4_x4_800x600.jpg"]
    img = Image.open(paths[0])
    assert img.size == (800, 600) and img.getexif().get(0x010F) == "Cam" and "Lanczos to 800×600" in text
    monkeypatch.setenv("VTDEMO_MAX_OUTPUT_PIXELS", str(2 * 1600 * 1200 - 1))  # one fits, the two together not
    with pytest.raises(Exception, match="2 results of 1600×1200 is over the output limit"):
        sr_results.downloads(state, "png", 92, "", progress=quiet)
    with pytest.raises(Exception, match="size"):
        sr_results.downloads(state, "png", 92, "x" * 10_000, progress=quiet)


def test_the_pairs_lam_refuses_an_uploaded_checkpoint_in_words(state):
    state["results"][1].update(model="upload:abc", name="my_model.pth")
    with pytest.raises(Exception, match="for my_model.pth use the LAM tab"):
        sr_results.pair_lam(state, "bicubic", "upload:abc", 50, 50, progress=quiet)
