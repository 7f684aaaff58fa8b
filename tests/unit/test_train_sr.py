"""python -m vtdemo.train sr on generated images: it learns, resumes exactly, exports weights + card."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from vtdemo.train.__main__ import main
from vtdemo.train.common import lr_factor
from vtdemo.zoo.weights import load_state_dict

TINY = dict(embed_dim=12, depths=[1], num_heads=[2], window_size=4, compress_ratio=3, squeeze_factor=4,
            mlp_ratio=1.0, num_feat=8)


def smooth_image(rng, w, h) -> Image.Image:
    return Image.fromarray((rng.random((h // 8, w // 8, 3)) * 255).astype(np.uint8)).resize((w, h), Image.BICUBIC)


@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(0)
    train = tmp_path / "train"
    train.mkdir()
    for i in range(3):
        smooth_image(rng, 64, 48).save(train / f"{i}.png")
    for name in ("Set5", "Set14"):
        root = tmp_path / "bench" / name
        (root / "HR").mkdir(parents=True)
        (root / "LR_bicubic" / "X2").mkdir(parents=True)
        hr = smooth_image(rng, 40, 32)
        hr.save(root / "HR" / "a.png")
        hr.resize((20, 16), Image.BICUBIC).save(root / "LR_bicubic" / "X2" / "ax2.png")
    arch = tmp_path / "arch.json"
    arch.write_text(json.dumps(TINY))
    return tmp_path


def args(data, out, iters, *extra):
    return ["sr", "--scale", "2", "--data", str(data / "train"), "--val", str(data / "bench" / "Set5"),
            "--arch", str(data / "arch.json"), "--iters", str(iters), "--batch", "2", "--patch", "8",
            "--val-every", "2", "--save-every", "1", "--schedule", "constant", "--warmup", "0", "--out", str(out),
            *extra]


def test_resumed_training_equals_uninterrupted_training(data):
    main(args(data, data / "a", 4))
    main(args(data, data / "b", 2))
    main(args(data, data / "b", 4))  # resumes at iteration 2
    a = torch.load(data / "a" / "state.pt", weights_only=True)
    b = torch.load(data / "b" / "state.pt", weights_only=True)
    assert a["step"] == b["step"] == 4
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    log = [json.loads(line) for line in (data / "b" / "log.jsonl").read_text().splitlines()]
    assert [r["iter"] for r in log if "psnr_y" in r] == [2, 4]


def test_training_lowers_the_loss_and_exports_a_scored_card(data):
    export = data / "w" / "tiny-x2.safetensors"
    main(args(data, data / "run", 30, "--lr", "1e-3", "--log-every", "1", "--export", str(export), "--id", "tiny-x2"))
    log = [json.loads(line) for line in (data / "run" / "log.jsonl").read_text().splitlines()]
    card = json.loads(export.with_suffix(".json").read_text())
    assert card["id"] == "tiny-x2" and card["iterations"] == 30 and card["config"]["embed_dim"] == 12
    assert set(card["results"]) == {"Set5", "Set14"}
    assert card["results"]["Set5"]["bicubic_psnr_y"] > 20
    assert card["command"].startswith("python -m vtdemo.train sr --scale 2")
    # the exported file is a plain HAT state dict that the checkpoint loader recognises
    from vtdemo.sr.checkpoints import load_checkpoint

    descriptor = load_checkpoint(export)
    model, scale = descriptor.model, descriptor.scale
    assert scale == 2 and model.conv_first.out_channels == 12
    assert card["file_bytes"] == export.stat().st_size
    psnrs = [r["psnr_y"] for r in log if "psnr_y" in r]
    assert max(psnrs) > psnrs[0] + 0.3  # it learns
    losses = [r["loss"] for r in log if "loss" in r]
    assert np.mean(losses[-10:]) < np.mean(losses[:10])
    assert card["results"]["Set5"]["psnr_y"] == pytest.approx(max(psnrs), abs=2e-3)  # the best weights


def test_init_from_copies_matching_tensors_only(data):
    main(args(data, data / "x2", 1))
    from vtdemo.models.hat import HAT
    from vtdemo.train.sr import init_from

    donor = load_state_dict(data / "x2" / "best.safetensors")
    x4 = HAT(upscale=4, **TINY)
    before = {k: v.clone() for k, v in x4.state_dict().items()}
    report = init_from(x4, data / "x2" / "best.safetensors")
    after = x4.state_dict()
    copied = [k for k in after if k in donor and donor[k].shape == after[k].shape]
    assert report.startswith(f"{len(copied)}/{len(after)} tensors")
    assert all(torch.equal(after[k], donor[k]) for k in copied)
    # the ×4 upsampler has an extra stage the ×2 donor lacks: left as initialised
    assert "upsample.2.weight" not in donor and torch.equal(after["upsample.2.weight"], before["upsample.2.weight"])


def test_schedules():
    assert lr_factor(0, 100, "cosine", warmup=10) == pytest.approx(0.1)
    assert lr_factor(10, 100, "cosine", warmup=10) == pytest.approx(1.0)
    assert lr_factor(100, 100, "cosine", warmup=10, floor=0.01) == pytest.approx(0.01)
    assert lr_factor(60, 100, "step", milestones=(0.5, 0.8), gamma=0.5) == 0.5
    assert lr_factor(90, 100, "step", milestones=(0.5, 0.8), gamma=0.5) == 0.25
    with pytest.raises(ValueError):
        lr_factor(0, 1, "linear")


def test_exported_weights_have_the_users_normal_mode_and_load_back(tmp_path):
    """safetensors' own save_file creates 0600 files; exported weights and detector files read like the user's."""
    import numpy as np
    import torch
    from safetensors.numpy import load_file as load_numpy
    from safetensors.torch import load_file

    from vtdemo.atomic import UMASK, save_tensors
    from vtdemo.train.common import export_weights

    model = torch.nn.Linear(3, 2)
    path = tmp_path / "w.safetensors"
    export_weights(model, path, metadata={"scale": "4"})
    assert path.stat().st_mode & 0o777 == 0o666 & ~UMASK
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in load_file(str(path)).items())
    probe = {"weight": np.arange(4, dtype=np.float32)}
    save_tensors(probe, tmp_path / "p.safetensors")
    assert np.array_equal(load_numpy(str(tmp_path / "p.safetensors"))["weight"], probe["weight"])
    assert (tmp_path / "p.safetensors").stat().st_mode & 0o777 == 0o666 & ~UMASK
