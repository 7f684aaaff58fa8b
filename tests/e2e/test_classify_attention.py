"""Classify and Attention tabs with real timm checkpoints from a pre-filled hub cache (random weights)."""
import numpy as np
import pytest
import torch
from PIL import Image

from vtdemo.zoo.cards import demo_ids


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> str:
    rng = np.random.default_rng(5)
    arr = np.asarray(Image.fromarray((rng.random((9, 12, 3)) * 255).astype(np.uint8)).resize((300, 220),
                                                                                               Image.BICUBIC))
    path = tmp_path_factory.mktemp("cls") / "photo.png"
    Image.fromarray(arr).save(path)
    return str(path)


def timm_reference(arch: str, path: str, distilled_head: str | None = None) -> torch.Tensor:
    """Probabilities computed independently: timm's own eval transform and forward."""
    import timm
    from timm.data import create_transform, resolve_data_config

    from vtdemo.zoo.loading import load_model

    model = load_model({"vit_tiny_patch16_224": "vit-ti16",
                        "deit_tiny_distilled_patch16_224": "deit-ti16-distilled"}[arch], device="cpu")
    config = resolve_data_config({}, model=timm.create_model(arch, pretrained=False))
    x = create_transform(**config)(Image.open(path).convert("RGB")).unsqueeze(0)
    with torch.no_grad():
        return model(x).softmax(-1)[0]


def test_classify_endpoint_matches_timm(client, photo):
    from gradio_client import handle_file

    from vtdemo.classify.labels import imagenet_names

    result = client.predict(handle_file(photo), "vit-ti16", 5, api_name="/classify")
    probs = timm_reference("vit_tiny_patch16_224", photo)
    top = probs.topk(5)
    assert result["label"] == imagenet_names()[int(top.indices[0])]
    got = {c["label"]: c["confidence"] for c in result["confidences"]}
    for p, i in zip(top.values.tolist(), top.indices.tolist()):
        assert got[imagenet_names()[i]] == pytest.approx(p, abs=1e-4)


def test_distilled_deit_reports_both_heads_and_their_average(photo):
    from vtdemo.classify import classify_heads

    pred = classify_heads(photo, "deit-ti16-distilled", top_k=3)
    assert set(pred.heads) == {"average", "class token", "distillation token"}
    probs = timm_reference("deit_tiny_distilled_patch16_224", photo)  # timm's eval output: the average
    assert pred.top[0][1] == pytest.approx(float(probs.max()), abs=1e-4)


def test_attention_endpoint_and_errors(client, photo):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    out = client.predict(handle_file(photo), "vit-ti16", 150, 110, 5, "2", "patch", api_name="/attention")
    assert Image.open(out).size[1] == 448
    with pytest.raises(AppError, match="outside the centre crop"):
        client.predict(handle_file(photo), "vit-ti16", 2, 110, -1, "mean", "", api_name="/attention")
    with pytest.raises(AppError, match="not available for ViT"):
        client.predict(handle_file(photo), "vit-ti16", 150, 110, -1, "mean", "window", api_name="/attention")


@pytest.mark.browser
def test_click_in_the_attention_tab_reuses_the_forward_pass(page, photo, artifacts, tmp_path):
    from tests.e2e.helpers import image_position
    from vtdemo.explain import probes

    fresh = tmp_path / "fresh.png"  # an image no other test has captured
    Image.open(photo).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(fresh)
    photo = str(fresh)
    page.get_by_role("tab", name="Attention").click()
    page.locator("#att-input input[type=file]").set_input_files(photo)
    img = page.locator("#att-input img").first
    img.wait_for(timeout=15_000)
    img.scroll_into_view_if_needed()
    before = probes.CACHE.forwards
    # two clicks far apart: different query tokens even on a 3×3 last stage (pvt-demo)
    img.click(position=image_position(img, 0.25, 0.3))
    page.locator("#attn-overlay img").first.wait_for(timeout=60_000)
    page.locator("#attn-info").get_by_text("Server time").wait_for(timeout=30_000)
    assert probes.CACHE.forwards == before + 1
    first_src = page.locator("#attn-overlay img").first.get_attribute("src")
    img.click(position=image_position(img, 0.75, 0.7))
    page.wait_for_function("src => document.querySelector('#attn-overlay img').src !== src", arg=first_src,
                           timeout=30_000)
    assert probes.CACHE.forwards == before + 1  # the second click only sliced the cache
    info = page.locator("#attn-info").inner_text()
    assert "query token" in info
    # the same click in four demo models at once
    page.get_by_text("Compare models at this click").click()
    page.locator("#attn-compare-run").click()
    gallery = page.locator("#attn-compare img")
    page.wait_for_function("() => document.querySelectorAll('#attn-compare img').length >= 4", timeout=120_000)
    assert gallery.count() >= 4
    page.screenshot(path=str(artifacts / "attention-tab.png"), full_page=True)
    page.get_by_role("tab", name="Classify").click()
    page.locator("#cls-input input[type=file]").set_input_files(photo)
    page.locator("#cls-input img").first.wait_for(timeout=15_000)
    page.locator("#cls-run").click()
    page.locator("#cls-caption-0").get_by_text("ms").wait_for(timeout=60_000)
    # the model's name is in the caption above its result: no name chip covers the top-1 headline
    assert page.locator("#cls-label-0 [data-testid='block-label']").count() == 0
    shown = [i for i in range(4) if page.locator(f"#cls-label-{i}").is_visible()]
    boxes = [page.locator(f"#cls-caption-{i}").bounding_box() for i in shown]  # the top of each result
    for i in range(0, len(boxes) - 1, 2):  # results come two per row
        assert abs(boxes[i]["y"] - boxes[i + 1]["y"]) < 2 and boxes[i + 1]["x"] > boxes[i]["x"]
    page.screenshot(path=str(artifacts / "classify-tab.png"), full_page=True)
    assert page.console_errors == []


DEMOS = demo_ids("classify")


@pytest.mark.parametrize("model_id", DEMOS)
def test_demo_classifier_endpoint_matches_timms_transform(client, photo, model_id):
    """The embedded models answer /classify offline; probabilities equal timm's eval transform + plain forward."""
    from gradio_client import handle_file
    from timm.data import create_transform

    from vtdemo.classify.labels import label_names
    from vtdemo.zoo.cards import get_card
    from vtdemo.zoo.loading import load_model

    card = get_card(model_id)
    size = card.preprocess.size
    x = create_transform((3, size, size), crop_pct=0.875, interpolation="bicubic")(Image.open(photo).convert("RGB"))
    with torch.no_grad():
        probs = load_model(model_id, device="cpu")(x.unsqueeze(0)).softmax(-1)[0]
    result = client.predict(handle_file(photo), model_id, 10, api_name="/classify")
    names = label_names("imagenette")
    got = {c["label"]: c["confidence"] for c in result["confidences"]}
    # the out-of-class check, recomputed: features before the head, the probe's logit on standardised features
    import json

    from safetensors.numpy import load_file

    from vtdemo.zoo.weights import embedded_dir

    model = load_model(model_id, device="cpu")
    with torch.no_grad():
        f = (model.forward_head(model.forward_features(x.unsqueeze(0)), pre_logits=True)
             if hasattr(model, "forward_head") else model.forward_features(x.unsqueeze(0)))[0].numpy()
    probe = load_file(str(embedded_dir() / f"{model_id}.ood.safetensors"))
    logit = float(((f - probe["mean"]) / probe["scale"]) @ probe["weight"] + probe["bias"][0])
    threshold = json.loads((embedded_dir() / f"{model_id}.json").read_text())["out_of_class"]["threshold"]
    sure = logit >= threshold  # else the headline warns instead of answering
    assert result["label"] == (names[int(probs.argmax())] if sure else
                               "⚠ probably none of its 10 classes; the closest of them:")
    assert [got[n] for n in names] == pytest.approx(probs.tolist(), abs=1e-3)


@pytest.mark.parametrize("model_id", DEMOS)
def test_attention_maps_of_every_demo_model_and_mode(client, photo, model_id):
    from gradio_client import handle_file

    from vtdemo.explain.registry import probe_for
    from vtdemo.zoo.cards import get_card

    modes = probe_for(get_card(model_id).family).modes

    views = {}
    for mode in modes:
        out = client.predict(handle_file(photo), model_id, 150, 110, -1, "mean", mode, api_name="/attention")
        with Image.open(out) as im:
            views[mode] = np.asarray(im.convert("RGB"))
        assert views[mode].shape[0] == 448, mode
    # the family's default map follows the query: another click gives another picture
    first = modes[0]
    out = client.predict(handle_file(photo), model_id, 60, 60, -1, "mean", first, api_name="/attention")
    with Image.open(out) as im:
        assert np.abs(np.asarray(im.convert("RGB")).astype(int) - views[first]).mean() > 1


def test_attention_compare_endpoint_one_click_several_models(client, photo):
    """One click in two classifiers at the same relative depth: each overlay is that model's own attention view
    (the picture /attention draws for its layer), the second click runs no model, and a head one model lacks is
    refused with that model's name."""
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    from vtdemo.explain import probes

    gallery = client.predict(handle_file(photo), ["vit-demo", "swin-demo"], 150, 110, 1.0, "mean",
                             api_name="/attention_compare")
    assert len(gallery) == 2
    assert gallery[0]["caption"].startswith("ViT demo") and "block 4" in gallery[0]["caption"]
    assert gallery[1]["caption"].startswith("Swin demo") and "stage 3 block 1" in gallery[1]["caption"]
    for item, (model_id, layer) in zip(gallery, (("vit-demo", 4), ("swin-demo", 7))):  # depth 1 = the last layer
        single = client.predict(handle_file(photo), model_id, 150, 110, layer, "mean", "", api_name="/attention")
        assert np.array_equal(np.asarray(Image.open(item["image"])), np.asarray(Image.open(single)))
    before = probes.CACHE.forwards
    first = client.predict(handle_file(photo), ["vit-demo", "swin-demo"], 120, 100, 0.0, "mean",
                           api_name="/attention_compare")
    assert probes.CACHE.forwards == before  # both captures were cached
    assert "block 0" in first[0]["caption"] and "stage 0 block 0" in first[1]["caption"]
    with pytest.raises(AppError, match="ViT demo.*head 5 does not exist"):
        client.predict(handle_file(photo), ["swin-demo", "vit-demo"], 120, 100, 1.0, "5", api_name="/attention_compare")
