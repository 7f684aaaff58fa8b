"""Example images are made by the project or come from scikit-image at run time."""
import numpy as np
from PIL import Image

from vtdemo import examples


def test_charts_are_deterministic_and_photos_come_from_scikit_image(tmp_path, monkeypatch):
    monkeypatch.setenv("VTDEMO_EXAMPLES_DIR", str(tmp_path))
    files = examples.example_files()
    assert {p.stem for p in files} == set(examples.CHARTS) | set(examples.SCENES) | set(examples.PHOTOS)
    zone = np.asarray(Image.open(tmp_path / "zone-plate.png")).astype(float)
    # a zone plate is 0.5 + 0.5·cos(π r² / size) around the centre, grey in all three channels
    size = zone.shape[0]
    yy, xx = np.mgrid[:size, :size] - size / 2
    expected = 255 * (0.5 + 0.5 * np.cos(np.pi * (xx ** 2 + yy ** 2) / size))
    assert np.abs(zone[..., 0] - expected).max() <= 0.5 + 1e-9
    assert np.array_equal(zone[..., 0], zone[..., 2])
    import skimage.data

    assert np.array_equal(np.asarray(Image.open(tmp_path / "astronaut.png")), skimage.data.astronaut())
    text = np.asarray(examples.rendered_text().convert("L"))
    assert (text < 64).mean() > 0.01  # ink was drawn


def test_the_rendered_golf_ball_is_a_golf_ball_to_the_demo_classifiers():
    """The scene is an object of the demo models' classes: the best of them recognises it."""
    from vtdemo.classify import classify

    label, prob = classify(examples.golf_ball(), "pvt-demo", 1)[0]
    assert label == "golf ball" and prob > 0.5
