"""LR consistency and disagreement maps on cases with a known answer."""
import numpy as np
import pytest
from PIL import Image
from skimage import data

from vtdemo.sr.consistency import THRESHOLD, assumed_for, consistency_map, disagreement_map

SCALE = 4


def truth_and_input(name="astronaut"):
    img = Image.fromarray(getattr(data, name)()).convert("RGB")
    hr = img.crop((0, 0, img.width - img.width % SCALE, img.height - img.height % SCALE))
    return hr, hr.resize((hr.width // SCALE, hr.height // SCALE), Image.Resampling.BICUBIC)


@pytest.mark.parametrize("name", ["astronaut", "coffee", "camera"])
def test_a_model_that_copies_bicubic_is_consistent_everywhere(name):
    _, lr = truth_and_input(name)
    copy = lr.resize((lr.width * SCALE, lr.height * SCALE), Image.Resampling.BICUBIC)
    found = consistency_map(copy, lr, assumed_for("bicubic"))
    assert found.map.shape == (lr.height, lr.width)
    assert found.map.max() < THRESHOLD and found.share_above == 0.0
    # the same copy judged by a bicubic-trained model's assumption is not: what "assumes" means matters
    assert consistency_map(copy, lr, "bicubic").map.max() > THRESHOLD


def test_an_output_the_input_was_made_from_is_consistent_and_a_painted_texture_is_flagged_exactly_there():
    hr, lr = truth_and_input()
    exact = consistency_map(hr, lr, assumed_for("hat-demo-x4"))
    assert exact.map.max() <= 0.5 + 1e-6  # rounding of the 8-bit input only
    painted = np.asarray(hr, dtype=np.float64).copy()
    y0, y1, x0, x1 = 200, 296, 120, 248  # HR box, multiples of the scale
    yy, xx = np.mgrid[y0:y1, x0:x1]
    painted[y0:y1, x0:x1] += (40 * np.sin(2 * np.pi * xx / 24) * np.sin(2 * np.pi * yy / 24))[..., None]
    found = consistency_map(Image.fromarray(np.clip(painted, 0, 255).round().astype(np.uint8)), lr)
    flagged = found.map > THRESHOLD
    box = np.zeros_like(flagged)
    box[y0 // SCALE:y1 // SCALE, x0 // SCALE:x1 // SCALE] = True
    near = np.zeros_like(flagged)  # the downscale kernel reaches 2 LR px beyond the box
    near[y0 // SCALE - 2:y1 // SCALE + 2, x0 // SCALE - 2:x1 // SCALE + 2] = True
    assert not flagged[~near].any()
    assert flagged[box].mean() > 0.5
    assert "LR consistency: mean" in found.caption()


def test_disagreement_is_zero_for_equal_results_and_marks_the_changed_pixels():
    hr, _ = truth_and_input()
    assert disagreement_map(hr, hr).mean == 0.0
    changed = np.asarray(hr).copy()
    changed[10:20, 30:50] = 255 - changed[10:20, 30:50]
    found = disagreement_map(hr, Image.fromarray(changed))
    expected = np.zeros(found.map.shape, bool)
    expected[10:20, 30:50] = True
    assert np.array_equal(found.map > THRESHOLD, expected & (found.map > THRESHOLD))
    assert (found.map[expected] > 0).mean() > 0.9 and found.map[~expected].max() == 0


def test_mismatched_sizes_are_refused_in_words():
    hr, lr = truth_and_input()
    with pytest.raises(ValueError, match="not an integer enlargement"):
        consistency_map(hr.resize((hr.width + 1, hr.height)), lr)
    with pytest.raises(ValueError, match="differ in size"):
        disagreement_map(hr, lr)


def test_the_overlay_is_the_output_size_plus_a_colour_bar():
    hr, lr = truth_and_input()
    img = consistency_map(hr, lr).overlay(hr)
    assert img.height == hr.height and img.width > hr.width


def test_the_overlay_fits_any_shown_size_and_results_over_the_input_limit_are_measured(monkeypatch):
    monkeypatch.setenv("VTDEMO_MAX_INPUT_PIXELS", "20000")  # the server's own results may exceed it
    hr, lr = truth_and_input()
    found = consistency_map(hr, lr)
    shown = hr.resize((300, 300))
    assert found.overlay(shown).height == 300  # a map over a downsized view
    assert disagreement_map(hr, hr).overlay(shown).height == 300
