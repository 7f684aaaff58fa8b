"""Example images are made by the project or come from scikit-image at run time."""
import numpy as np
from PIL import Image

from vtdemo import examples


def test_charts_are_deterministic_and_photos_come_from_scikit_image(tmp_path, monkeypatch):
    monkeypatch.setenv("VTDEMO_EXAMPLES_DIR", str(tmp_path))
    files = examples.example_files()
    assert {p.stem for p in files} == set(examples.CHARTS) | set(examples.SCENES) | set(examples.PHOTOS)
    zone = np.asarray(Image.open(tmp_path / "zone-plate.png"))
    assert np.array_equal(zone, np.asarray(examples.zone_plate()))
    # a zone plate: cos(pi r^2 / size) at the centre is 1 (white), rings alternate outwards
    assert zone[96, 96, 0] == 255 and zone[96, 96 + 10, 0] < 128
    import skimage.data

    assert np.array_equal(np.asarray(Image.open(tmp_path / "astronaut.png")), skimage.data.astronaut())
    text = np.asarray(examples.rendered_text().convert("L"))
    assert (text < 64).mean() > 0.01  # ink was drawn


def test_the_rendered_golf_ball_is_a_golf_ball_to_the_demo_classifiers():
    """The scene is an object of the demo models' classes: the best of them recognises it."""
    from vtdemo.classify import classify

    label, prob = classify(examples.golf_ball(), "pvt-demo", 1)[0]
    assert label == "golf ball" and prob > 0.5
