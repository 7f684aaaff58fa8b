"""The "none of my classes" signal: images of other kinds, the threshold's effect on predictions, the tab and the
endpoint's headline, and the calibration's split (chosen on one half of the in-class images, measured on the other)."""
import numpy as np
import pytest
from PIL import Image

from vtdemo.classify import out_of_class


def test_other_images_are_made_here_and_deterministic():
    a, b = out_of_class.other_images(), out_of_class.other_images()
    assert len(a) == len(out_of_class._SKIMAGE) * 4 + 3 + 20
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a, b))
    assert all(im.mode == "RGB" and min(im.size) >= 16 for im in a)


@pytest.fixture
def golf_ball_probability():
    from vtdemo.classify.predict import classify_heads
    from vtdemo.examples import golf_ball

    return classify_heads(golf_ball(), "pvt-demo", 3).top[0][1]


def test_a_top_probability_under_the_threshold_is_flagged(monkeypatch, golf_ball_probability):
    from vtdemo.classify.predict import classify_heads
    from vtdemo.examples import golf_ball

    for threshold, flagged in ((golf_ball_probability + 0.01, True), (golf_ball_probability - 0.01, False)):
        monkeypatch.setattr(out_of_class, "card_entry", lambda model_id, t=threshold: {"threshold": t})
        assert classify_heads(golf_ball(), "pvt-demo", 3).out_of_class is flagged
    monkeypatch.setattr(out_of_class, "card_entry", lambda model_id: None)
    assert classify_heads(golf_ball(), "pvt-demo", 3).out_of_class is None  # no threshold: no signal


def test_the_tab_and_the_endpoint_warn_instead_of_answering(monkeypatch, tmp_path, golf_ball_probability):
    from vtdemo.examples import golf_ball
    from vtdemo.ui import classify_tab

    path = tmp_path / "ball.png"
    golf_ball().save(path)
    monkeypatch.setattr(out_of_class, "card_entry", lambda model_id: {"threshold": golf_ball_probability + 0.01})
    flagged = classify_tab.classify_api(str(path), "pvt-demo", 3)
    assert flagged["label"] == "⚠ probably none of its 10 classes"
    assert flagged["confidences"][0] == {"label": "golf ball", "confidence": pytest.approx(golf_ball_probability)}
    caption = classify_tab.run_classify(str(path), ["pvt-demo"], 3)[classify_tab.SLOTS]
    assert "probably none of them" in caption["value"]
    monkeypatch.setattr(out_of_class, "card_entry", lambda model_id: {"threshold": golf_ball_probability - 0.01})
    answer = classify_tab.classify_api(str(path), "pvt-demo", 3)  # {label: probability}: gr.Label's headline is the top
    assert max(answer, key=answer.get) == "golf ball"


def test_calibration_chooses_on_one_half_and_measures_on_the_other(monkeypatch, tmp_path):
    for synset in ("n03445777", "n01440764"):  # golf ball, tench: Imagenette classes
        (tmp_path / synset).mkdir()
        for i in range(20):
            Image.new("RGB", (32, 32), (i * 10, 0, 0)).save(tmp_path / synset / f"{i}.png")
    scores = np.linspace(0.2, 0.99, 40)  # the in-class images' top probabilities, in file order
    others = np.full(10, 0.1)
    monkeypatch.setattr(out_of_class, "other_images", lambda: [Image.new("RGB", (8, 8))] * 10)

    def fake(model_id, images, **kw):
        top = scores if len(images) == 40 else others
        return np.stack([top, np.zeros_like(top)], -1)

    monkeypatch.setattr(out_of_class, "probabilities", fake)
    entry = out_of_class.calibrate("pvt-demo", tmp_path)
    assert entry["threshold"] == pytest.approx(np.quantile(scores[0::2], 0.05), abs=1e-4)
    assert entry["val_flagged"] == pytest.approx((scores[1::2] < entry["threshold"]).mean())
    assert entry["other_flagged"] == 1.0 and entry["val_images"] == 20 and entry["other_images"] == 10
