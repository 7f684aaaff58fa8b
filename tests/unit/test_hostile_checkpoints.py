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


def elements(module) -> int:
    """What the model-size limit counts: parameters and buffers."""
    return sum(t.numel() for t in module.parameters()) + sum(t.numel() for t in module.buffers())


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


# --- checkpoints that describe more than they hold --------------------------------------------------------------

def test_self_referencing_checkpoint_is_refused_quickly(tmp_path):
    from vtdemo.sr.checkpoints import load_checkpoint

    from vtdemo.bench._files import make

    make(tmp_path, ["loop"])  # the file `bench hostile` measures: a dict that contains itself
    deep = {"w": torch.zeros(1)}
    for _ in range(20):
        deep = {"state_dict": deep}
    torch.save(deep, tmp_path / "deep.pth")
    for name in ("loop.pth", "deep.pth"):
        with pytest.raises(WeightsError, match="nest too deep or contain themselves"):
            load_checkpoint(tmp_path / name)


def test_stride_zero_and_overlapping_tensors_are_refused(tmp_path):
    from vtdemo.sr.checkpoints import load_checkpoint

    from vtdemo.bench._files import make

    expanded = make(tmp_path, ["stride0"])["stride0"]  # 4 bytes stored, 2048×3×3×3 floats described
    with pytest.raises(WeightsError, match="stride 0"):
        load_checkpoint(expanded)
    shared = tiny_hat_state()
    base = torch.zeros(shared["conv_first.weight"].numel() + 1)
    shared["conv_first.weight"] = base[:-1].view_as(shared["conv_first.weight"])
    shared["conv_first.bias"] = base[:shared["conv_first.bias"].numel()]  # overlaps the weight
    torch.save({"params_ema": shared}, tmp_path / "shared.pth")
    with pytest.raises(WeightsError, match="share or overlap"):
        load_checkpoint(tmp_path / "shared.pth")


def test_model_size_is_counted_before_it_is_built(tmp_path, monkeypatch):
    from vtdemo.sr import checkpoints

    state = tiny_hat_state()
    save_file(state, str(tmp_path / "tiny.safetensors"))
    from vtdemo.sr.architectures import hat_config

    params = elements(HAT(**hat_config(state)))
    built = []
    real_hat = HAT.__init__

    def record(self, *a, **k):
        built.append(torch.empty(0).device.type)  # the default device while the HAT is constructed
        real_hat(self, *a, **k)

    monkeypatch.setattr(HAT, "__init__", record)
    monkeypatch.setenv("VTDEMO_MAX_MODEL_PARAMS", str(params - 1))
    with pytest.raises(WeightsError, match=f"{params:,} parameters"):
        checkpoints.load_checkpoint(tmp_path / "tiny.safetensors")
    assert built == ["meta"]  # sized on the meta device, never built for real
    monkeypatch.setenv("VTDEMO_MAX_MODEL_PARAMS", str(params))
    descriptor = checkpoints.load_checkpoint(tmp_path / "tiny.safetensors")
    module, scale = descriptor.model, descriptor.scale
    assert scale == 4 and elements(module) == params


def test_spandrel_models_are_sized_too(tmp_path, monkeypatch):
    from spandrel.architectures.Compact import Compact

    from vtdemo.sr.checkpoints import load_checkpoint

    net = Compact(num_in_ch=3, num_out_ch=3, num_feat=8, num_conv=2, upscale=2)
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp_path / "compact.safetensors"))
    params = elements(net)
    monkeypatch.setenv("VTDEMO_MAX_MODEL_PARAMS", str(params - 1))
    with pytest.raises(WeightsError, match=f"{params:,} parameters"):
        load_checkpoint(tmp_path / "compact.safetensors")
    monkeypatch.setenv("VTDEMO_MAX_MODEL_PARAMS", str(params))
    assert load_checkpoint(tmp_path / "compact.safetensors").scale == 2


def _deflated_copy(src, dst):
    import zipfile

    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            zout.writestr(item.filename, zin.read(item.filename))


def test_zip_bomb_is_refused_before_anything_is_read(tmp_path, monkeypatch):
    from vtdemo.zoo.weights import load_state_dict

    torch.save({"params": {"w": torch.zeros(5_000_000)}}, tmp_path / "plain.pth")  # 20 MB of zeros
    _deflated_copy(tmp_path / "plain.pth", tmp_path / "bomb.pth")
    assert (tmp_path / "bomb.pth").stat().st_size < 100_000
    assert load_state_dict(tmp_path / "plain.pth")["w"].shape == (5_000_000,)  # torch.save's own file loads
    with pytest.raises(WeightsError, match="zip bomb"):  # 20 MB from 20 kB: under every size limit, refused
        load_state_dict(tmp_path / "bomb.pth")
    # a re-packed file of real weights (they barely compress) loads, deflated or not
    torch.manual_seed(0)
    torch.save({"params": {"w": torch.randn(5_000_000)}}, tmp_path / "weights.pth")
    _deflated_copy(tmp_path / "weights.pth", tmp_path / "repacked.pth")
    assert torch.equal(load_state_dict(tmp_path / "repacked.pth")["w"], load_state_dict(tmp_path / "weights.pth")["w"])
    size = (tmp_path / "repacked.pth").stat().st_size
    assert size < 19_900_000
    monkeypatch.setenv("VTDEMO_MAX_CHECKPOINT_BYTES", str(size))  # the file fits; what it unpacks to does not
    with pytest.raises(WeightsError, match="unpacks to 20 MB"):
        load_state_dict(tmp_path / "repacked.pth")
    monkeypatch.delenv("VTDEMO_MAX_CHECKPOINT_BYTES")
    monkeypatch.setenv("VTDEMO_MAX_CHECKPOINT_UPLOAD_BYTES", "10000000")  # uploads have their own limit
    with pytest.raises(WeightsError, match="VTDEMO_MAX_CHECKPOINT_UPLOAD_BYTES"):
        load_state_dict(tmp_path / "repacked.pth", upload=True)


def test_integer_keys_get_a_clear_error(tmp_path, capsys):
    from PIL import Image

    torch.save({"params": {0: torch.zeros(1), 1: torch.zeros(1)}}, tmp_path / "ints.pth")
    with pytest.raises(WeightsError, match="not names"):
        from vtdemo.zoo.weights import load_state_dict

        load_state_dict(tmp_path / "ints.pth")
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    assert cli(["upscale", str(tmp_path / "a.png"), "-m", str(tmp_path / "ints.pth")]) == 2
    err = capsys.readouterr().err
    assert "not names" in err and "Traceback" not in err


def test_training_arguments_load_as_an_inert_stand_in(tmp_path):
    import argparse
    from collections import OrderedDict

    from vtdemo.zoo import safe_loading, weights

    class Hijack:  # pickles as argparse.Namespace whose BUILD state tries to set __class__
        def __reduce__(self):
            return argparse.Namespace, (), (None, {"__class__": OrderedDict})

    torch.save({"model": {"w": torch.zeros(1)}, "args": argparse.Namespace(lr=0.1)}, tmp_path / "official.pth")
    torch.save({"model": {"w": torch.zeros(1)}, "args": Hijack()}, tmp_path / "hijack.pth")
    official = safe_loading._read_checkpoint(tmp_path / "official.pth", upload=False)
    assert isinstance(official["args"], weights.SavedArguments) and official["args"].values == {"lr": 0.1}
    hijack = safe_loading._read_checkpoint(tmp_path / "hijack.pth", upload=False)
    assert type(hijack["args"]) is weights.SavedArguments and hijack["args"].values == {}
    assert set(weights.load_state_dict(tmp_path / "official.pth")) == {"w"}


def test_a_refused_checkpoint_leaves_nothing_referenced(tmp_path, monkeypatch):
    import gc
    import weakref

    from vtdemo.zoo import safe_loading

    wrong = tiny_hat_state()
    wrong["conv_first.weight"] = torch.zeros(12, 3, 5, 5)  # loads, then fails to fit HAT
    save_file(wrong, str(tmp_path / "wrong.safetensors"))
    refs = []
    read = safe_loading._read_checkpoint

    def tracked(path, upload):
        state = read(path, upload)
        refs.extend(weakref.ref(t) for t in state.values())
        return state

    monkeypatch.setattr(safe_loading, "_read_checkpoint", tracked)
    gc.collect()
    gc.disable()  # what is freed must be freed by reference counting alone, as a busy server would need
    try:
        with pytest.raises(gr.Error, match="does not fit"):
            sr_tab.on_checkpoint(str(tmp_path / "wrong.safetensors"), 4, {}, [])
        alive = sum(r() is not None for r in refs)
    finally:
        gc.enable()
    assert refs and alive == 0


def test_architectures_that_cannot_build_on_meta_are_sized_in_a_capped_process(tmp_path, monkeypatch):
    from spandrel.architectures.RCAN import RCAN
    from spandrel.architectures.SwinIR import SwinIR

    from vtdemo.sr import checkpoints

    rcan = RCAN(scale=2, n_resgroups=2, n_resblocks=2, n_feats=64)  # its constructor cannot run on meta
    swinir = SwinIR(upscale=2, img_size=32, embed_dim=24, depths=[2], num_heads=[2], window_size=8,
                    upsampler="pixelshuffle")  # reads torch.linspace(...).item(): built with small CPU factories
    for name, net in (("rcan", rcan), ("swinir", swinir)):
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(tmp_path / f"{name}.safetensors"))
        params = elements(net)
        descriptor = checkpoints.load_checkpoint(tmp_path / f"{name}.safetensors")
        module, scale = descriptor.model, descriptor.scale
        assert scale == 2 and elements(module) == params
        monkeypatch.setenv("VTDEMO_MAX_MODEL_PARAMS", str(params - 1))
        with pytest.raises(WeightsError, match=f"{params:,} parameters"):
            checkpoints.load_checkpoint(tmp_path / f"{name}.safetensors")
        monkeypatch.delenv("VTDEMO_MAX_MODEL_PARAMS")
    # the child's memory is capped: with no room, building fails there and the file is refused here
    monkeypatch.setattr(checkpoints, "CHILD_ROOM", 0)
    monkeypatch.setenv("VTDEMO_MAX_MODEL_PARAMS", "100")
    with pytest.raises(WeightsError, match="too large to build here"):
        checkpoints.load_checkpoint(tmp_path / "rcan.safetensors")


def test_buffers_count_towards_the_model_size(tmp_path, monkeypatch):
    from vtdemo.sr.checkpoints import load_checkpoint

    big_window = HAT(upscale=2, embed_dim=8, depths=[2], num_heads=[2], window_size=24, compress_ratio=2,
                     squeeze_factor=4, num_feat=8, mlp_ratio=1.0)  # few weights, large attention-mask buffers
    save_file({k: v.contiguous() for k, v in big_window.state_dict().items()}, str(tmp_path / "w.safetensors"))
    params = sum(p.numel() for p in big_window.parameters())
    assert elements(big_window) > 10 * params
    monkeypatch.setenv("VTDEMO_MAX_MODEL_PARAMS", str(elements(big_window) - 1))
    with pytest.raises(WeightsError, match="buffer values"):
        load_checkpoint(tmp_path / "w.safetensors")


def test_a_zip_with_two_central_directories_is_refused(tmp_path):
    """Python's zipfile and PyTorch's reader must see the same directory, else sizes can be faked for one of them."""
    from vtdemo.zoo.weights import load_state_dict

    torch.save({"params": {"w": torch.zeros(1000)}}, tmp_path / "ok.pth")
    data = (tmp_path / "ok.pth").read_bytes()
    (tmp_path / "shifted.pth").write_bytes(b"\0" * 64 + data)  # prepended bytes: Python adjusts, the offsets do not
    assert load_state_dict(tmp_path / "ok.pth")["w"].shape == (1000,)
    with pytest.raises(WeightsError, match="inconsistent zip"):
        load_state_dict(tmp_path / "shifted.pth")


def test_safetensors_tensor_count_is_read_from_the_header_first(tmp_path, monkeypatch):
    from vtdemo.zoo import weights

    save_file({f"t{i}": torch.zeros(0) for i in range(50)}, str(tmp_path / "many.safetensors"))
    monkeypatch.setenv("VTDEMO_MAX_CHECKPOINT_TENSORS", "40")
    loaded = []
    monkeypatch.setattr("safetensors.torch.load_file", lambda *a, **k: loaded.append(1))
    with pytest.raises(WeightsError, match="50 tensors"):
        weights.load_state_dict(tmp_path / "many.safetensors")
    assert loaded == []
