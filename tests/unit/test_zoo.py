import re
from urllib.parse import urlparse

import pytest

from vtdemo.zoo import builders, cards, table, weights

REQUIRED = {
    *(f"{v}-x{s}" for v in ("hat-s", "hat", "hat-l") for s in (2, 3, 4)),
    "real-hat-gan-x4", "swinir-m-x2", "swinir-m-x4", "realesrgan-x4plus", "realesr-general-x4v3",
    "vit-ti16", "vit-s16", "deit-ti16", "deit-s16", "deit-ti16-distilled", "deit-s16-distilled", "swin-t",
    "pvt-v2-b0", "pvt-v2-b2", "pervit-t", "pervit-s", "pervit-m",
}


def test_ids_unique_lower_case_and_complete():
    ids = [c.id for c in cards.CARDS]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z0-9][a-z0-9.-]*", i) for i in ids), ids
    assert REQUIRED <= set(ids), REQUIRED - set(ids)
    assert len(ids) >= 20


@pytest.mark.parametrize("card", cards.CARDS, ids=lambda c: c.id)
def test_card_is_well_formed(card):
    assert card.task in {"sr", "classify"}
    assert card.builder in builders.BUILDERS
    assert card.paper and urlparse(card.paper_url).scheme == "https"
    assert card.licence
    if card.task == "sr":
        assert card.scale in {2, 3, 4} and card.labels is None
    else:
        assert card.scale is None and card.labels and card.preprocess is not None
    for s in card.sources:
        assert s.filename and "/" not in s.basename and s.basename not in {".", ".."}
        if s.sha256 is not None:
            assert re.fullmatch(r"[0-9a-f]{8,64}", s.sha256)
        if s.kind == "url":
            url = urlparse(s.url)
            assert url.scheme == "https" and url.netloc and url.path.endswith("/" + s.basename)
        elif s.kind == "hub":
            assert re.fullmatch(r"[\w.-]+/[\w.-]+", s.repo_id)
        elif s.kind == "local":
            assert urlparse(s.page).scheme == "https"
        else:
            assert s.kind == "embedded"


def test_hat_cards_match_the_official_manifest(shared):
    import json

    manifest = json.loads((shared / "golden" / "hat_official_manifest.json").read_text())
    for name, entry in manifest.items():
        variant, scale = name.split("_SRx")
        card = cards.get_card(f"{variant.lower()}-x{scale}")
        assert dict(card.config) == entry["config"], name
        assert card.params == entry["num_params"], name


def test_pervit_cards_match_the_official_manifest(shared):
    import json

    manifest = json.loads((shared / "golden" / "pervit_official_manifest.json").read_text())
    for name, entry in manifest.items():
        card = cards.get_card("pervit-" + name.split("_")[1][0])
        for key, value in card.config.items():
            assert entry["config"][key] == value, (name, key)
        assert card.params == entry["num_params"], name


# Parameters of the released checkpoints (timm's model cards on the Hub; the papers round them: ViT-Ti 5.7 M,
# DeiT-Ti⚗ 5.9 M, Swin-T 28.3 M, PVT-v2-b0 3.7 M, ...): facts typed here, not derived from the code under test.
PUBLISHED_PARAMS = {
    "vit-ti16": 5_717_416, "vit-s16": 22_050_664, "deit-ti16": 5_717_416, "deit-s16": 22_050_664,
    "deit-ti16-distilled": 5_910_800, "deit-s16-distilled": 22_436_432, "swin-t": 28_288_354,
    "pvt-v2-b0": 3_666_760, "pvt-v2-b2": 25_362_856,
}


@pytest.mark.parametrize("card", [c for c in cards.cards("classify") if c.builder == "timm" and c.source.kind == "hub"],
                         ids=lambda c: c.id)
def test_timm_cards_take_their_pipeline_and_size_from_timm(card):
    """A timm card writes its tag and its parameter count (so the model table imports neither timm nor torch): the
    count is the released model's and the architecture's, and its pipeline and Hub repo are what timm resolves for a
    model created from that tag (the model's own data config)."""
    import timm
    from timm.data import resolve_model_data_config

    model = timm.create_model(card.config["tag"], pretrained=False)
    assert card.params == PUBLISHED_PARAMS[card.id] == sum(p.numel() for p in model.parameters())
    data = resolve_model_data_config(model)
    pp = card.preprocess
    assert (pp.size, pp.crop_pct, pp.interpolation) == (data["input_size"][-1], data["crop_pct"], data["interpolation"])
    assert pp.mean == tuple(data["mean"]) and pp.std == tuple(data["std"])
    assert card.source.repo_id == model.pretrained_cfg["hf_hub_id"]


def test_unknown_id_gives_a_helpful_error():
    with pytest.raises(cards.UnknownModelError, match="Did you mean: hat-x4"):
        cards.get_card("hat_x4")


def test_rows_have_live_status_offline(weights_home, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    rows = {r["id"]: r for r in table.model_rows()}
    assert rows["hat-x4"]["status"] == "unavailable offline"
    assert rows["pervit-s"]["status"] == "local file needed"
    (weights_home / "pervit_small.pth").write_bytes(b"x")
    assert weights.status(cards.get_card("pervit-s")) == "local file"
    assert rows["vit-s16"]["builder"] == "ready"


@pytest.mark.parametrize("model_id", ["swinir-m-x2", "swinir-m-x4"])
def test_swinir_cards_build_the_official_architecture_without_weights(model_id):
    """The card's configuration builds SwinIR-M with exactly as many parameters as the official checkpoint holds (the
    card's count, read from the real file): random weights of the real architecture, no download."""
    from vtdemo.zoo.builders import architecture

    card = cards.get_card(model_id)
    model = architecture(card)
    assert type(model).__name__ == "SwinIR" and sum(p.numel() for p in model.parameters()) == card.params
