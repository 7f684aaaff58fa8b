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
def detector_at():
    """A detector whose only class mean is the golf ball's own features: its score is 0, so a threshold just above
    0 flags it and one just below does not."""
    import torch

    from vtdemo.classify.preprocess import preprocess
    from vtdemo.examples import golf_ball
    from vtdemo.zoo.cards import get_card
    from vtdemo.zoo.loading import load_model

    x = preprocess(golf_ball(), get_card("pvt-demo").preprocess)[0]
    with torch.no_grad():
        features = out_of_class.outputs(load_model("pvt-demo", device="cpu"), x)[1].numpy()
    stats = {"means": features, "precision": np.eye(features.shape[1], dtype=np.float32)}
    return lambda threshold: (lambda model_id: (threshold, stats))


def test_an_image_far_from_every_class_is_flagged(monkeypatch, detector_at):
    from vtdemo.classify.predict import classify_heads
    from vtdemo.examples import golf_ball

    for threshold, flagged in ((1e-3, True), (-1e-3, False)):
        monkeypatch.setattr(out_of_class, "_detector", detector_at(threshold))
        assert classify_heads(golf_ball(), "pvt-demo", 3).out_of_class is flagged
    monkeypatch.setattr(out_of_class, "_detector", lambda model_id: None)
    assert classify_heads(golf_ball(), "pvt-demo", 3).out_of_class is None  # no detector: no signal


def test_the_tab_and_the_endpoint_warn_instead_of_answering(monkeypatch, tmp_path, detector_at):
    from vtdemo.examples import golf_ball
    from vtdemo.ui import classify_tab

    path = tmp_path / "ball.png"
    golf_ball().save(path)
    monkeypatch.setattr(out_of_class, "_detector", detector_at(1e-3))
    flagged = classify_tab.classify_api(str(path), "pvt-demo", 3)
    assert flagged["label"] == "⚠ probably none of its 10 classes"
    assert flagged["confidences"][0]["label"] == "golf ball"  # the probabilities stay
    caption = classify_tab.run_classify(str(path), ["pvt-demo"], 3)[classify_tab.SLOTS]
    assert "probably none of them" in caption["value"]
    monkeypatch.setattr(out_of_class, "_detector", detector_at(-1e-3))
    answer = classify_tab.classify_api(str(path), "pvt-demo", 3)  # {label: probability}: gr.Label's headline is the top
    assert max(answer, key=answer.get) == "golf ball"


def test_mahalanobis_score_recomputed_by_hand():
    rng = np.random.default_rng(0)
    features, labels = rng.normal(size=(60, 3)), np.repeat([0, 1, 2], 20)
    stats = out_of_class.fit(features, labels)
    assert np.allclose(stats["means"][1], features[20:40].mean(0), atol=1e-6)
    x = rng.normal(size=(1, 3))
    d = [(x[0] - m) @ stats["precision"] @ (x[0] - m) for m in stats["means"]]
    assert out_of_class.score(x.astype(np.float32), stats)[0] == pytest.approx(-min(d), rel=1e-5)
    centred = features - stats["means"][labels]
    covariance = centred.T @ centred / 60
    ridge = 1e-3 * np.trace(covariance) / 3
    assert np.allclose(stats["precision"] @ (covariance + ridge * np.eye(3)), np.eye(3), atol=1e-4)


def test_calibration_chooses_on_one_half_and_measures_on_the_other(monkeypatch, tmp_path):
    for split in ("train", "val"):
        for synset in ("n03445777", "n01440764"):  # golf ball, tench: Imagenette classes
            (tmp_path / split / synset).mkdir(parents=True)
            for i in range(20):
                Image.new("RGB", (32, 32), (i * 10, 0, 0)).save(tmp_path / split / synset / f"{i}.png")
    val_scores = np.linspace(0.2, 0.99, 40)  # the in-class images' top probabilities, in file order
    monkeypatch.setattr(out_of_class, "other_images", lambda: [Image.new("RGB", (8, 8))] * 7)
    rng = np.random.default_rng(0)

    def fake(model_id, images, **kw):  # 10 training images, 40 val, 7 others
        n = len(images)
        top = val_scores if n == 40 else np.full(n, 0.1)
        features = {40: np.stack([1 - val_scores, val_scores], -1), 10: rng.normal(0.5, 0.2, (10, 2)),
                    7: np.full((7, 2), 50.0)}[n]
        return np.stack([top, np.zeros(n)], -1), features

    monkeypatch.setattr(out_of_class, "_outputs", fake)
    entry, stats = out_of_class.calibrate("pvt-demo", tmp_path)
    assert entry["train_images"] == 10 and entry["val_images"] == 20 and entry["other_images"] == 7
    assert entry["msp_threshold"] == pytest.approx(np.quantile(val_scores[0::2], 0.05), abs=1e-4)
    assert entry["msp_val_flagged"] == pytest.approx((val_scores[1::2] < entry["msp_threshold"]).mean())
    val = out_of_class.score(np.stack([1 - val_scores, val_scores], -1), stats)
    assert entry["threshold"] == pytest.approx(np.quantile(val[0::2], 0.05), abs=1e-4)
    assert entry["val_flagged"] == pytest.approx((val[1::2] < entry["threshold"]).mean())
    assert entry["other_flagged"] == 1.0  # features far from every class


def test_os_errors_and_long_paths_reveal_no_server_path():
    """Review findings: an OSError's message names server files; resolving a megabyte path costs seconds."""
    import time

    import gradio as gr

    from vtdemo.ui.components import NOT_UPLOADED, uploaded_path
    from vtdemo.ui.errors import user_errors

    @user_errors
    def full_disk():
        raise OSError(28, "No space left on device", "/tmp/vtdemo-results/abc/000.png")

    with pytest.raises(gr.Error) as err:
        full_disk()
    assert "No space left on device" in str(err.value) and "/tmp" not in str(err.value)
    start = time.perf_counter()
    with pytest.raises(gr.Error, match=NOT_UPLOADED[:20]):
        uploaded_path("a/" * 500_000)
    assert time.perf_counter() - start < 0.5


def test_the_detector_is_read_once_not_per_request(monkeypatch):
    from vtdemo.classify import out_of_class

    out_of_class._STATS.clear()  # a detector read by an earlier test would leave nothing to count
    calls = []
    read = out_of_class.card_entry
    monkeypatch.setattr(out_of_class, "card_entry", lambda model_id: calls.append(model_id) or read(model_id))
    found = [out_of_class._detector("vit-demo") for _ in range(5)]
    assert found[0] is not None and all(f is found[0] for f in found)
    assert calls == ["vit-demo"]  # the card's JSON is parsed once per version of the file
