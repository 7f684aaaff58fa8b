"""The real-world demo models on Set5 / Set14 (../shared) at known levels of noise and JPEG, computed here apart from
the code that wrote their records (inputs made here, the module run whole in fp32, PSNR on BT.601 luma written
out): the records must say what this finds, and the real-world models must beat the bicubic-trained ones on every
degraded set by a clear margin (and their records must say what they lose on clean inputs); the records' PIQE of
the outputs is what pyiqa finds."""
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from tests.reference.test_hat_demo_benchmarks import _pairs, _psnr_y
from vtdemo.zoo.loading import load_model
from vtdemo.zoo.weights import weights_dir

SEED = 2023  # the records' seed for the known-level inputs
LEVELS = {"JPEG q50": (50, 0.0), "noise σ10 + JPEG q75": (75, 10.0)}


def degraded(lr: np.ndarray, quality: int, sigma: float, rng) -> np.ndarray:
    noisy = lr.astype(np.float64) + rng.normal(0, sigma, lr.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).round().astype(np.uint8)).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


def psnr(model, pairs, scale, piqes: list | None = None):
    """Mean PSNR-Y of ``model`` on ``pairs``; each output's PIQE (pyiqa's metric, called here) into ``piqes``."""
    scores = []
    for lr, hr in pairs:
        x = torch.from_numpy(lr.copy()).permute(2, 0, 1)[None].float() / 255
        with torch.inference_mode():
            sr = (model(x)[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
        scores.append(_psnr_y(sr, hr, scale))
        if piqes is not None:
            import pyiqa

            piqes.append(float(pyiqa.create_metric("piqe", device="cpu")(
                torch.from_numpy(sr).permute(2, 0, 1)[None].float() / 255)))
    return float(np.mean(scores))


@pytest.mark.parametrize("scale", [4, 2])
def test_real_world_models_win_on_degraded_inputs_as_their_records_say(shared, scale):
    real, fidelity = (load_model(m, device="cpu") for m in (f"hat-demo-real-x{scale}", f"hat-demo-x{scale}"))
    record = json.loads((weights_dir() / f"hat-demo-real-x{scale}.json").read_text())["results"]
    for name in ("Set5", "Set14"):
        root = shared / "data" / "sr" / "benchmark" / name
        for level, (quality, sigma) in LEVELS.items():
            rng = np.random.default_rng(SEED)
            pairs = [(degraded(lr, quality, sigma, rng), hr) for lr, hr in _pairs(root, scale)]
            piqes = []
            ours, theirs = psnr(real, pairs, scale, piqes), psnr(fidelity, pairs, scale)
            row = record[f"{name} {level}"]
            assert np.mean(piqes) == pytest.approx(row["piqe"], abs=0.5), (name, level, piqes)
            assert ours == pytest.approx(row["psnr_y"], abs=0.02), (name, level, ours)
            assert theirs == pytest.approx(row[f"hat-demo-x{scale}_psnr_y"], abs=0.02), (name, level, theirs)
            assert ours - theirs >= 0.2, (name, level, ours, theirs)
        clean = list(_pairs(root, scale))
        assert psnr(real, clean, scale) == pytest.approx(record[name]["psnr_y"], abs=0.02)
        assert record[name]["psnr_y"] < record[name][f"hat-demo-x{scale}_psnr_y"]  # the price, recorded
