"""Our PerViT against the official code: golden outputs and the released checkpoints' manifests."""
import json

import pytest
import torch

from vtdemo.models.pervit import PerViT, pervit_medium, pervit_small, pervit_tiny


@pytest.fixture(scope="module")
def golden(shared):
    return torch.load(shared / "golden" / "pervit_small_golden.pt", weights_only=True)


@pytest.fixture(scope="module")
def model(golden):
    cfg = golden["config"]
    m = PerViT(num_heads=cfg["num_heads"], emb_dims=cfg["emb_dims"], convstem_dims=cfg["convstem_dims"],
               num_classes=cfg["num_classes"]).eval()
    m.load_state_dict(golden["state_dict"]["model"], strict=True)
    return m


def test_logits_and_features(model, golden):
    with torch.no_grad():
        assert (model(golden["input"]) - golden["logits"]).abs().max() <= 1e-4
        assert (model.forward_features(golden["input"]) - golden["features"]).abs().max() <= 1e-5


def test_every_blocks_mixed_and_position_attention(model, golden):
    with torch.no_grad():
        logits, attention = model.forward_with_attention(golden["input"])
        position = model.position_attention()
    assert (logits - golden["logits"]).abs().max() <= 1e-4
    assert len(attention) == len(position) == 12
    for ours, ref in zip(attention, golden["attention"]):
        assert ours.shape == ref.shape == (2, 2, 196, 196)
        assert (ours - ref).abs().max() <= 1e-5
    for ours, ref in zip(position, golden["position_attention"]):
        assert ours.shape == ref.shape == (1, 2, 196, 196)
        assert (ours - ref).abs().max() <= 1e-5


@pytest.mark.parametrize("name, build", [("pervit_tiny", pervit_tiny), ("pervit_small", pervit_small),
                                         ("pervit_medium", pervit_medium)])
def test_official_manifest_exactly(shared, name, build):
    manifest = json.loads((shared / "golden" / "pervit_official_manifest.json").read_text())[name]
    state = build().state_dict()
    assert list(state) == list(manifest["state_dict"])  # same keys, same order
    assert {k: list(v.shape) for k, v in state.items()} == manifest["state_dict"]
    assert sum(v.numel() for k, v in state.items() if "running_" not in k and "num_batches" not in k) == \
        manifest["num_params"]
    assert manifest["checkpoint_key"] == "model"
