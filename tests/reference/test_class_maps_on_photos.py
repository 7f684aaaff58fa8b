"""Class maps of the embedded demo classifiers on Imagenette val photos (../shared; never trained on), with each
family's default method ("auto"): the map beats a random one on deletion and insertion on most photos, and it is
class-specific — on a picture of two classes side by side, each class's map lies more on its own half."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.stats import spearmanr

from vtdemo.classify.labels import IMAGENETTE
from vtdemo.explain.explanation import explain_class
from vtdemo.zoo.cards import demo_ids

DEMOS = demo_ids("classify")
SYNSETS = [s for _, s, _ in IMAGENETTE]
NAMES = [n for _, _, n in IMAGENETTE]


def _val(shared: Path, synset: str, index: int) -> Path:
    return sorted((shared / "data/cls/imagenette128/val" / synset).iterdir())[index]


def _square(path: Path, side: int = 128) -> Image.Image:
    img = Image.open(path).convert("RGB")
    w, h = img.size
    s = min(w, h)
    return img.crop(((w - s) // 2, (h - s) // 2, (w + s) // 2, (h + s) // 2)).resize((side, side), Image.BICUBIC)


def _side_by_side(shared: Path, k: int) -> tuple[Image.Image, int, int]:
    """Photo k of class a on the left, of class b on the right, on a grey square (the models see a centre crop)."""
    a, b = np.random.default_rng(k).choice(len(SYNSETS), 2, replace=False)
    img = Image.new("RGB", (256, 256), (124, 116, 104))
    img.paste(_square(_val(shared, SYNSETS[a], 100 + k)), (0, 64))
    img.paste(_square(_val(shared, SYNSETS[b], 100 + k)), (128, 64))
    return img, int(a), int(b)


@pytest.mark.parametrize("model_id", DEMOS)
def test_the_default_map_beats_a_random_one_on_most_photos(shared, model_id):
    photos = [(_val(shared, s, 10), n) for s, n in zip(SYNSETS[:8], NAMES[:8])]
    beats = [explain_class(path, model_id, target=name).scores.beats_random for path, name in photos]
    assert sum(beats) >= 5, beats  # measured: 80-90 % of 30 other val photos (bench explain)


@pytest.mark.parametrize("model_id", DEMOS)
def test_each_class_is_found_on_its_own_half(shared, model_id):
    on_its_side, rhos = 0, []
    for k in range(16):
        img, a, b = _side_by_side(shared, k)
        left, right = (explain_class(img, model_id, target=NAMES[c], scores=False).map for c in (a, b))
        half = left.shape[1] // 2
        on_its_side += left[:, :half].sum() / left.sum() > right[:, :half].sum() / right.sum()
        rhos.append(spearmanr(left.ravel(), right.ravel()).statistic)
    assert on_its_side >= 10, on_its_side  # measured 12-14 of these 16 (15-18 of 20) for every family
    assert np.mean(rhos) < 0.85, rhos  # two classes, two maps
