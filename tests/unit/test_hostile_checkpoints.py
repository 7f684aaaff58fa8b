"""Hostile checkpoints on every path that accepts one — upload, weights/, CLI: refused with a clear message, and a
pickle payload never runs (its canary file never appears)."""
import pickle

import gradio as gr
import pytest
import torch
from safetensors.torch import save_file

from vtdemo.cli import main as cli
from vtdemo.models.hat import HAT
from vtdemo.ui import sr_tab
from vtdemo.zoo.builders import BuildError
from vtdemo.zoo.weights import UnsafeCheckpointError, WeightsError


class _Evil:
    def __init__(self, canary):
        self.canary = str(canary)

    def __reduce__(self):
        return open, (self.canary, "w")


def evil_pickle(path, canary):
    torch.save({"model": {"w": torch.zeros(1)}, "x": _Evil(canary)}, path)
    assert not canary.exists()
    return path


def tiny_hat_state(scale=4):
    model = HAT(upscale=scale, embed_dim=12, depths=[1], num_heads=[2], window_size=4, compress_ratio=3,
                squeeze_factor=4, num_feat=8, mlp_ratio=1.0)
    return {k: v.contiguous() for k, v in model.state_dict().items()}


def test_upload_path(tmp_path, monkeypatch):
    canary = tmp_path / "canary"
    cases = {"evil.pth": evil_pickle(tmp_path / "evil.pth", canary)}
    good = tmp_path / "good.safetensors"
    save_file(tiny_hat_state(), str(good))
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[:500])
    cases["truncated.safetensors"] = truncated
    wrong = tiny_hat_state()
    wrong["conv_first.weight"] = torch.zeros(12, 3, 5, 5)  # shapes that do not fit HAT
    bad_shapes = tmp_path / "shapes.safetensors"
    save_file(wrong, str(bad_shapes))
    cases["shapes.safetensors"] = bad_shapes
    words = {"evil.pth": "refused", "truncated.safetensors": "not a valid safetensors",
             "shapes.safetensors": "does not fit the HAT architecture"}
    for name, path in cases.items():
        with pytest.raises(gr.Error) as err:
            sr_tab.on_checkpoint(str(path), 4, {}, [])
        assert words[name] in str(err.value), (name, str(err.value))
    monkeypatch.setenv("VTDEMO_MAX_CHECKPOINT_UPLOAD_BYTES", "1000")
    with pytest.raises(gr.Error, match="VTDEMO_MAX_CHECKPOINT_UPLOAD_BYTES"):
        sr_tab.on_checkpoint(str(good), 4, {}, [])
    assert not canary.exists()


def test_weights_folder_path(weights_home, tmp_path):
    from vtdemo.zoo.loading import clear_cache, load_model

    canary = tmp_path / "canary"
    evil_pickle(weights_home / "pervit_small.pth", canary)  # where a user would drop the official PerViT-S
    clear_cache()
    with pytest.raises(UnsafeCheckpointError, match="refused"):
        load_model("pervit-s", device="cpu")
    assert not canary.exists()
    save_file(tiny_hat_state(), str(weights_home / "hat-demo-x4.safetensors"))  # the wrong architecture
    with pytest.raises(BuildError, match="do not fit"):
        load_model("hat-demo-x4", device="cpu")


def test_cli_path(tmp_path, capsys, monkeypatch):
    canary = tmp_path / "canary"
    image = tmp_path / "a.png"
    from PIL import Image

    Image.new("RGB", (8, 8), "red").save(image)
    assert cli(["upscale", str(image), "-m", str(evil_pickle(tmp_path / "evil.pth", canary))]) == 2
    assert "refused" in capsys.readouterr().err and not canary.exists()
    huge = tmp_path / "huge.safetensors"
    save_file(tiny_hat_state(), str(huge))
    monkeypatch.setenv("VTDEMO_MAX_CHECKPOINT_BYTES", "1000")
    assert cli(["upscale", str(image), "-m", str(huge)]) == 2
    assert "VTDEMO_MAX_CHECKPOINT_BYTES" in capsys.readouterr().err
    legacy = tmp_path / "legacy.pth"
    with open(legacy, "wb") as f:
        pickle.dump({"params": {"w": torch.zeros(1)}, "x": _Evil(canary)}, f)
    assert cli(["upscale", str(image), "-m", str(legacy)]) == 2
    assert not canary.exists()
    assert not list(tmp_path.glob("a_*.png"))  # nothing was written


def test_checkpoint_errors_are_weights_errors():
    assert issubclass(UnsafeCheckpointError, WeightsError)
