"""The HAT-demo models on Set5 / Set14 (../shared), computed here apart from the code that wrote their records: the
whole LR image through the module in fp32, PSNR on MATLAB's BT.601 luma written out. The records' numbers (which
the cards and docs show) must be what this finds, and the models must clear the papers' bicubic rows."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from vtdemo.zoo.cards import get_card
from vtdemo.zoo.loading import load_model
from vtdemo.zoo.weights import weights_dir

# Bicubic PSNR-Y as the SR papers print it (e.g. HAT's and SwinIR's tables)
PUBLISHED_BICUBIC = {("Set5", 2): 33.66, ("Set14", 2): 30.24, ("Set5", 4): 28.42, ("Set14", 4): 26.00}


def _luma(image: np.ndarray) -> np.ndarray:
    """MATLAB's rgb2ycbcr Y of 8-bit RGB, as float."""
    a = image.astype(np.float64)
    return 16 + (65.481 * a[..., 0] + 128.553 * a[..., 1] + 24.966 * a[..., 2]) / 255


def _psnr_y(sr: np.ndarray, hr: np.ndarray, border: int) -> float:
    d = (_luma(sr) - _luma(hr))[border:-border, border:-border]
    return float(10 * np.log10(255 ** 2 / np.mean(d ** 2)))


def _pairs(root, scale):
    for hr_path in sorted((root / "HR").glob("*.png")):
        hr = np.asarray(Image.open(hr_path).convert("RGB"))
        hr = hr[: hr.shape[0] // scale * scale, : hr.shape[1] // scale * scale]
        lr = np.asarray(Image.open(root / "LR_bicubic" / f"X{scale}" / f"{hr_path.stem}x{scale}.png").convert("RGB"))
        yield lr, hr


@pytest.mark.parametrize("scale", [4, 2])
def test_demo_models_score_what_their_records_say_and_beat_bicubic(shared, scale):
    card = get_card(f"hat-demo-x{scale}")
    info = json.loads((weights_dir() / card.source.basename).with_suffix(".json").read_text())
    model = load_model(card.id, device="cpu")
    for name in ("Set5", "Set14"):
        scores = []
        for lr, hr in _pairs(shared / "data" / "sr" / "benchmark" / name, scale):
            x = torch.from_numpy(lr).permute(2, 0, 1)[None].float() / 255
            with torch.inference_mode():
                sr = (model(x)[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
            scores.append(_psnr_y(sr, hr, scale))
        ours, recorded = float(np.mean(scores)), info["results"][name]
        assert ours == pytest.approx(recorded["psnr_y"], abs=0.02), (name, ours)
        assert recorded["bicubic_psnr_y"] == pytest.approx(PUBLISHED_BICUBIC[name, scale], abs=0.1)
        # the targets: ≥ bicubic + 1.0 dB on Set5 at ×4; a clear gain everywhere else
        assert ours - PUBLISHED_BICUBIC[name, scale] >= (1.0 if (name, scale) == ("Set5", 4) else 0.5)
