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
    """A probe that scores the golf ball's own features exactly 0 (its weights see only the distance from them,
    signed), so a threshold just above 0 flags it and one just below does not."""
    import torch

    from vtdemo.classify.preprocess import preprocess
    from vtdemo.examples import golf_ball
    from vtdemo.zoo.cards import get_card
    from vtdemo.zoo.loading import load_model

    x = preprocess(golf_ball(), get_card("pvt-demo").preprocess)[0]
    with torch.no_grad():
        features = out_of_class.outputs(load_model("pvt-demo", device="cpu"), x)[1].numpy()[0]
    n = features.shape[0]
    probe = {"mean": features.astype(np.float32), "scale": np.ones(n, np.float32),
             "weight": np.ones(n, np.float32), "bias": np.zeros(1, np.float32)}
    return lambda threshold: (lambda model_id: (threshold, probe))


def test_an_image_far_from_every_class_is_flagged(monkeypatch, detector_at):
    from vtdemo.classify.predict import classify_heads
    from vtdemo.examples import golf_ball

    for threshold, flagged in ((1e-3, True), (-1e-3, False)):
        monkeypatch.setattr(out_of_class, "_detector", detector_at(threshold))
        assert classify_heads(golf_ball(), "pvt-demo", 3).out_of_class is flagged
    monkeypatch.setattr(out_of_class, "_detector", detector_at(1e-3))
    import vtdemo

    top = vtdemo.classify(golf_ball(), "pvt-demo", 3)  # the public function carries the flag with its list
    assert top.out_of_class is True and top == classify_heads(golf_ball(), "pvt-demo", 3).top
    monkeypatch.setattr(out_of_class, "_detector", lambda model_id: None)
    assert classify_heads(golf_ball(), "pvt-demo", 3).out_of_class is None  # no detector: no signal


def test_the_tab_and_the_endpoint_warn_instead_of_answering(monkeypatch, tmp_path, detector_at):
    from vtdemo.examples import golf_ball
    from vtdemo.ui import classify_tab

    path = tmp_path / "ball.png"
    golf_ball().save(path)
    monkeypatch.setattr(out_of_class, "_detector", detector_at(1e-3))
    flagged = classify_tab.classify_api(str(path), "pvt-demo", 3)
    assert flagged["label"] == "⚠ probably none of its 10 classes; the closest of them:"
    assert flagged["confidences"][0]["label"] == "golf ball"  # the probabilities stay
    caption = classify_tab.run_classify(str(path), ["pvt-demo"], 3)[classify_tab.SLOTS]
    assert "probably none of them" in caption["value"]
    monkeypatch.setattr(out_of_class, "_detector", detector_at(-1e-3))
    answer = classify_tab.classify_api(str(path), "pvt-demo", 3)  # {label: probability}: gr.Label's headline is the top
    assert max(answer, key=answer.get) == "golf ball"


def test_the_probe_is_the_logistic_regression_written_out():
    """fit_probe against the definition: the weighted, L2-penalised logistic loss is at its minimum (its gradient,
    computed here by hand, is zero), and score is that model's logit on standardised features."""
    rng = np.random.default_rng(0)
    inside, outside = rng.normal(0, 1, (80, 4)), rng.normal(1.5, 1, (30, 4))
    probe = out_of_class.fit_probe(inside, outside, l2=1e-2)
    features = np.concatenate([inside, outside])
    mean, scale = features.mean(0), features.std(0) + 1e-6
    z, y = (features - mean) / scale, np.r_[np.ones(80), np.zeros(30)]
    weights = np.where(y > 0, 0.5 / (80 / 110), 0.5 / (30 / 110))
    w, b = probe["weight"].astype(np.float64), float(probe["bias"][0])
    p = 1 / (1 + np.exp(-(z @ w + b)))
    grad_w = (weights * (p - y)) @ z / len(y) + 2e-2 * w
    grad_b = np.mean(weights * (p - y))
    assert np.abs(grad_w).max() < 1e-4 and abs(grad_b) < 1e-4
    assert np.allclose(out_of_class.score(features, probe), z @ w + b, atol=1e-4)
    assert out_of_class.score(inside, probe).mean() > out_of_class.score(outside, probe).mean()


def test_the_outlier_images_are_crops_and_synthetic_and_deterministic(tmp_path):
    for i in range(2):
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (60, 90, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    files = sorted(tmp_path.glob("*.png"))
    a, b = out_of_class.outlier_images(files), out_of_class.outlier_images(files)
    assert len(a) == 2 * out_of_class.OUTLIER_CROPS + out_of_class.OUTLIER_SYNTHETIC
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a, b))
    crops = a[:2 * out_of_class.OUTLIER_CROPS]
    assert all(im.width == im.height and 18 <= im.width <= 48 for im in crops)  # 30–80 % of the 60 px side
    assert min(im.width for im in a[len(crops):]) < 128  # noise of other sizes too


def test_mahalanobis_score_recomputed_by_hand():
    rng = np.random.default_rng(0)
    features, labels = rng.normal(size=(60, 3)), np.repeat([0, 1, 2], 20)
    stats = out_of_class.fit(features, labels)
    assert np.allclose(stats["means"][1], features[20:40].mean(0), atol=1e-6)
    x = rng.normal(size=(1, 3))
    d = [(x[0] - m) @ stats["precision"] @ (x[0] - m) for m in stats["means"]]
    assert out_of_class.mahalanobis_score(x.astype(np.float32), stats)[0] == pytest.approx(-min(d), rel=1e-5)
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
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(6):
        Image.new("RGB", (40, 40), (0, i * 20, 0)).save(photos / f"{i}.png")
    val_scores = np.linspace(0.2, 0.99, 40)  # the in-class images' top probabilities, in file order
    monkeypatch.setattr(out_of_class, "other_images", lambda: [Image.new("RGB", (8, 8))] * 7)
    monkeypatch.setattr(out_of_class, "outlier_images", lambda files: [Image.new("RGB", (9, 9))] * (4 * len(files)))
    rng = np.random.default_rng(0)

    def fake(model_id, images, **kw):  # 10 training images, 40 val, 12 outliers, 3 held-out photos, 7 others
        n = len(images)
        top = val_scores if n == 40 else np.full(n, 0.1)
        features = {40: np.stack([1 - val_scores, val_scores], -1), 10: rng.normal(0.5, 0.2, (10, 2)),
                    12: rng.normal(30.0, 1.0, (12, 2)), 3: np.full((3, 2), 50.0), 7: np.full((7, 2), 50.0)}[n]
        return np.stack([top, np.zeros(n)], -1), features

    monkeypatch.setattr(out_of_class, "_outputs", fake)
    entry, probe = out_of_class.calibrate("pvt-demo", tmp_path, [photos])
    assert (entry["train_images"], entry["val_images"], entry["other_images"]) == (10, 20, 7)
    assert (entry["outlier_photos"], entry["held_out_photos"]) == (3, 3)  # every other photo file, each way
    assert entry["msp_threshold"] == pytest.approx(np.quantile(val_scores[0::2], 0.05), abs=1e-4)
    assert entry["msp_val_flagged"] == pytest.approx((val_scores[1::2] < entry["msp_threshold"]).mean())
    val = out_of_class.score(np.stack([1 - val_scores, val_scores], -1), probe)
    threshold = np.quantile(val[0::2], 0.05)  # the card keeps it rounded to 4 decimals
    assert entry["threshold"] == pytest.approx(threshold, abs=1e-4)
    assert entry["val_flagged"] == pytest.approx((val[1::2] < threshold).mean())
    assert entry["other_flagged"] == 1.0 and entry["held_out_flagged"] == 1.0  # like the exposed outliers


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
