"""The embedded HAT-demo models: committed, small, loadable offline, and described by their JSON cards."""
import json

import pytest
import torch

from vtdemo.zoo.cards import get_card
from vtdemo.zoo.weights import weights_dir


@pytest.mark.parametrize("scale", [4, 2])
def test_embedded_weights_load_offline_and_match_their_card(scale, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from vtdemo.zoo.loading import clear_cache, load_model

    card = get_card(f"hat-demo-x{scale}")
    path = weights_dir() / card.source.basename
    assert card.source.kind == "embedded" and path.is_file()
    assert path.stat().st_size <= 10 * 2 ** 20
    info = json.loads(path.with_suffix(".json").read_text())
    assert info["id"] == card.id and info["scale"] == scale and info["file_bytes"] == path.stat().st_size
    for key in ("command", "data", "iterations", "wall_time_s", "device", "results"):
        assert info[key], key
    clear_cache()
    model = load_model(card.id, device="cpu")
    assert sum(p.numel() for p in model.parameters()) == card.params == info["parameters"]
    with torch.no_grad():
        out = model(torch.rand(1, 3, 20, 12))
    assert out.shape == (1, 3, 20 * scale, 12 * scale)
