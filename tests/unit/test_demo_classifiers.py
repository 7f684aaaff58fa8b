"""The five embedded demo classifiers: committed, ≤ 10 MB, loadable offline, described by their JSON cards, and
scored through the app's own path (evaluate.folder_top1 agrees with one-image-at-a-time classify)."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from vtdemo.classify.labels import IMAGENETTE
from vtdemo.zoo.cards import cards, demo_ids, get_card
from vtdemo.zoo.weights import weights_dir

DEMOS = demo_ids("classify")


def test_every_family_has_an_embedded_demo_classifier():
    embedded = {c.id: c.family for c in cards("classify") if c.source.kind == "embedded"}
    assert embedded == {"vit-demo": "ViT", "deit-demo": "DeiT", "swin-demo": "Swin", "pvt-demo": "PVT-v2",
                        "pervit-demo": "PerViT"}


@pytest.mark.parametrize("model_id", DEMOS)
def test_weights_load_offline_and_match_their_card(model_id, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from vtdemo.zoo.loading import load_model

    card = get_card(model_id)
    path = weights_dir() / card.source.basename
    assert card.source.kind == "embedded" and path.is_file()
    assert path.stat().st_size <= 10 * 2 ** 20
    info = json.loads(path.with_suffix(".json").read_text())
    assert info["id"] == model_id and info["file_bytes"] == path.stat().st_size
    for key in ("command", "data", "wall_time_s", "device", "val_top1"):
        assert info[key], key
    stages = [info]  # a continued run names the run it started from (--init-from), and so on
    while stages[-1].get("init_from"):
        stages.append(stages[-1]["init_from"])
    assert all(s["command"].startswith("python -m vtdemo.train classify") for s in stages)
    assert sum(s["epochs"] for s in stages) > 0
    # the label order is Imagenette's synsets, which map to the ImageNet-1k indices of classes.tsv
    assert info["classes"] == [synset for _, synset, _ in IMAGENETTE]
    assert info["input_size"] == card.preprocess.size and card.labels == "imagenette"
    model = load_model(model_id, device="cpu")
    assert sum(p.numel() for p in model.parameters()) == card.params == info["parameters"]
    with torch.no_grad():
        logits = model(torch.randn(2, 3, card.preprocess.size, card.preprocess.size))
    assert logits.shape == (2, 10)


def test_deit_demo_is_distilled_from_another_demo_model():
    info = json.loads((weights_dir() / "deit-demo.json").read_text())
    while "--teacher" not in info["command"] and info.get("init_from"):  # re-exported or continued: the
        info = info["init_from"]                                          # distilled stage
    assert "pvt-demo" in info["command"].split("--teacher ")[1].split()[0]


def test_folder_top1_agrees_with_classify_one_image_at_a_time(tmp_path):
    from vtdemo.classify import classify
    from vtdemo.classify.evaluate import folder_top1

    rng = np.random.default_rng(0)
    names = {}
    for index, synset, name in IMAGENETTE[:3]:
        names[synset] = name
        (tmp_path / synset).mkdir()
        for i in range(4):
            noise = rng.integers(0, 255, (70 + 9 * i, 90, 3), dtype=np.uint8)
            Image.fromarray(noise).save(tmp_path / synset / f"{i}.png")
    (tmp_path / "n99999999").mkdir()  # a class no model has: left out of the score
    Image.new("RGB", (40, 40)).save(tmp_path / "n99999999" / "x.png")
    score = folder_top1("pvt-demo", tmp_path, batch=5)
    right = sum(classify(p, "pvt-demo", 1)[0][0] == names[p.parent.name]
                for p in tmp_path.glob("n0*/*.png"))
    assert score.images == 12 and score.top1 == pytest.approx(right / 12)


def test_class_index_maps_synsets_for_both_label_sets():
    from vtdemo.classify.evaluate import class_index

    assert [class_index("imagenet-1k", s) for _, s, _ in IMAGENETTE] == [i for i, _, _ in IMAGENETTE]
    assert [class_index("imagenette", s) for _, s, _ in IMAGENETTE] == list(range(10))
    assert class_index("imagenette", "n02085620") is None  # Chihuahua: not an Imagenette class


@pytest.mark.parametrize("model_id", DEMOS)
def test_attention_selectors_match_the_loaded_model(model_id):
    """The Attention tab sizes its layer/head selectors without loading weights; they must fit the real model
    (a skeleton built without the card's kwargs once gave the 5-block vit-demo 12 layers)."""
    from vtdemo.examples import golf_ball
    from vtdemo.explain import probes
    from vtdemo.explain.registry import layer_infos
    from vtdemo.zoo.loading import load_model

    card = get_card(model_id)
    cap = probes.capture_module(load_model(model_id, device="cpu"), card.family, golf_ball(), card.preprocess)
    infos = layer_infos(card)
    assert [i.heads for i in infos] == [layer.attn.shape[-3] for layer in cap.layers]
    assert [i.name.split(" (")[0] for i in infos] == [layer.name.split(" (")[0] for layer in cap.layers]
