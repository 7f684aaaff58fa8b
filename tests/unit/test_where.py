"""The "where it looks" pictures: each mark is drawn where the view it stands for looks — the zoom region is what the
inspector shows of the input, a classifier's box is the part its eval transform keeps, LAM's box is the output box
in input pixels."""
import numpy as np
from PIL import Image

from vtdemo.ui import where
from vtdemo.viz.marks import Mark, marked


def _box_of(picture: Image.Image, colour) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the pixels of ``colour`` in a picture (exclusive end)."""
    ys, xs = np.nonzero(np.all(np.asarray(picture.convert("RGB")) == colour, axis=-1))
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1


def test_marks_are_scaled_with_the_picture():
    image = Image.new("RGB", (100, 50), (10, 10, 10))
    picture = marked(image, [Mark((20, 10, 60, 30), (255, 0, 0))], side=200)  # 2× larger
    assert picture.size == (200, 100) and _box_of(picture, (255, 0, 0)) == (40, 20, 120, 60)


def test_the_zoom_region_is_what_the_inspector_shows_of_the_input(tmp_path):
    from vtdemo.sr.compare import compare
    from vtdemo.ui import sr_tab

    rng = np.random.default_rng(3)
    image = Image.fromarray(rng.integers(0, 256, (60, 80, 3), dtype=np.uint8))
    state = sr_tab.save_comparison(compare(image, ["bicubic"], scale=2, mode="lr"))
    inspector_input = Image.open(sr_tab.inspector_crops(state, 30.0, 60.0, 4)[0][0])
    picture = Image.open(where.for_zoom(state["input"], 30.0, 60.0, 4, 2, sr_tab.VIEW))
    factor = picture.width / 80
    x0, y0, x1, y1 = (v / factor for v in _box_of(picture, where.REGION))
    region = image.crop((round(x0), round(y0), round(x1), round(y1)))
    shown = region.resize(inspector_input.size, Image.Resampling.NEAREST)
    assert np.array_equal(np.asarray(shown), np.asarray(inspector_input))


def test_a_classifiers_box_is_the_part_its_transform_keeps(tmp_path):
    """timm's eval transform written out for a 200×100 image: short side to floor(size / crop_pct), centre crop."""
    from vtdemo.zoo.cards import get_card

    pp = get_card("vit-demo").preprocess
    scale_size = int(pp.size / pp.crop_pct)
    resized = (int(scale_size * 200 / 100), scale_size)
    left, top = round((resized[0] - pp.size) / 2), round((resized[1] - pp.size) / 2)
    expected = (left * 200 / resized[0], top * 100 / resized[1], (left + pp.size) * 200 / resized[0],
                (top + pp.size) * 100 / resized[1])
    assert np.allclose(where.crop_box((200, 100), "vit-demo"), expected)
    path = tmp_path / "wide.png"
    Image.new("RGB", (200, 100), (40, 40, 40)).save(path)
    picture = Image.open(where.for_classifiers(str(path), ["vit-demo"]))
    found = np.array(_box_of(picture, where.CROP)) * 200 / picture.width
    assert np.allclose(found, expected, atol=2)


def test_lams_box_is_the_output_box_in_input_pixels(tmp_path):
    from vtdemo.sr.lam import box_at

    path = tmp_path / "in.png"
    Image.new("RGB", (64, 48), (40, 40, 40)).save(path)
    picture = Image.open(where.for_lam(str(path), 20, 30, 4))
    left, top = box_at((20, 30), (64, 48), 4, 16)  # HR pixels of the 16×16 output box
    found = np.array(_box_of(picture, where.CLICK)) * 64 / picture.width
    assert np.allclose(found, (left / 4, top / 4, (left + 16) / 4, (top + 16) / 4), atol=1)
