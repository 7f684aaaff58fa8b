"""Our HAT against the official code: its golden outputs, its checkpoints' key manifest, and its architecture
(spandrel's verbatim port) in float64.

Tolerance note: the golden outputs are float32 results of the official code on another machine. On this machine
the exact (float64) result differs from them by up to 1.09e-5 on case 0 — the golden's own rounding — and the
official code itself (spandrel's verbatim port, float32) differs by up to 1.5e-5. So the float32 comparison uses
2e-5 (outputs reach |10|: 2e-6 relative), and exactness is proven separately in float64 against the reference.
"""
import json

import pytest
import torch

from vtdemo.models.hat import HAT

FP32_TOL = 2e-5


@pytest.fixture(scope="module")
def golden(shared):
    return torch.load(shared / "golden" / "hat_small_golden.pt", weights_only=True)


def _model(case) -> HAT:
    model = HAT(**case["config"]).eval()
    model.load_state_dict(case["state_dict"]["params_ema"], strict=True)
    return model


@pytest.mark.parametrize("index", range(4))
def test_matches_official_outputs(golden, index):
    case = golden[index]
    model = _model(case)
    with torch.inference_mode():
        raw = model.forward_aligned(case["input"])
        aligned = model(case["input"])
        unaligned = model(case["input_unaligned"])
    assert raw.shape == case["output"].shape
    assert (raw - case["output"]).abs().max() <= FP32_TOL
    assert torch.equal(raw, aligned)  # aligned input: no padding, same numbers
    assert unaligned.shape == case["output_unaligned_pipeline"].shape
    assert (unaligned - case["output_unaligned_pipeline"]).abs().max() <= FP32_TOL


@pytest.mark.parametrize("index", range(4))
def test_float64_equals_the_reference_architecture(golden, index):
    from spandrel.architectures.HAT.__arch.HAT import HAT as ReferenceHAT

    case = golden[index]
    ours = _model(case).double()
    reference = ReferenceHAT(**case["config"]).eval()
    reference.load_state_dict(case["state_dict"]["params_ema"])
    reference.double()
    with torch.inference_mode():
        for x in (case["input"], case["input_unaligned"]):
            assert (ours(x.double()) - reference(x.double())).abs().max() < 1e-10
        # and the golden is the float32 rounding of that exact result
        assert (ours(case["input"].double()) - case["output"].double()).abs().max() < 1.2e-5


def test_official_manifest_keys_shapes_and_counts(shared):
    manifest = json.loads((shared / "golden" / "hat_official_manifest.json").read_text())
    for name, entry in manifest.items():
        model = HAT(**entry["config"])
        shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
        assert shapes == entry["state_dict"], name
        assert sum(p.numel() for p in model.parameters()) == entry["num_params"], name


def test_official_checkpoint_layout_loads_strictly(golden, tmp_path):
    from vtdemo.zoo.weights import load_state_dict

    path = tmp_path / "HAT_small.pth"
    torch.save(golden[0]["state_dict"], path)  # {"params_ema": ...} exactly as released
    HAT(**golden[0]["config"]).load_state_dict(load_state_dict(path), strict=True)
