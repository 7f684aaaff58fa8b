"""The comparison task: degradation, scoring, reference matching, limits, uploaded checkpoints."""
import numpy as np
import pytest
import torch
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio

from vtdemo.imaging import ImageError
from vtdemo.models.hat import HAT
from vtdemo.sr.compare import compare, degrade, match_reference, uploaded_net


def photo(w=96, h=72, seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    smooth = rng.random((h // 8, w // 8, 3))
    return Image.fromarray((smooth * 255).astype(np.uint8)).resize((w, h), Image.Resampling.BICUBIC)


def independent_psnr_y(a: Image.Image, b: Image.Image, crop: int) -> float:
    """BT.601 luma written out here, PSNR from scikit-image."""
    def y(img):
        x = np.asarray(img.convert("RGB"), dtype=np.float64)
        return (16 + (65.481 * x[..., 0] + 128.553 * x[..., 1] + 24.966 * x[..., 2]) / 255)[crop:-crop, crop:-crop]
    return peak_signal_noise_ratio(y(b), y(a), data_range=255)


def test_degrade_crops_to_a_multiple_and_downscales():
    lr, hr = degrade(photo(99, 70), 4)
    assert hr.size == (96, 68) and lr.size == (24, 17)
    assert np.array_equal(np.asarray(hr), np.asarray(photo(99, 70))[:68, :96])
    with pytest.raises(ImageError, match="too small"):
        degrade(photo(10, 10), 4)


def test_degrade_mode_scores_each_result_against_the_original():
    image = photo()
    tiny = HAT(upscale=2, embed_dim=12, depths=[1], num_heads=[2], window_size=4, compress_ratio=3,
               squeeze_factor=4, num_feat=8, mlp_ratio=1.0).eval()
    result = compare(image, ["bicubic", tiny], scale=2, mode="degrade")
    assert result.reference.size == (96, 72) and result.input.size == (48, 36)
    for r in result.results:
        assert r.image.size == (96, 72)
        assert r.psnr_y == pytest.approx(independent_psnr_y(r.image, result.reference, 2), abs=1e-6)
        assert 0 < r.ssim_y <= 1
    bicubic = result.results[0]
    expected = result.input.resize((96, 72), Image.Resampling.BICUBIC)  # PIL's Keys bicubic, as the engine
    diff = np.abs(np.asarray(bicubic.image, int) - np.asarray(expected, int))
    assert diff.max() <= 2 and diff.mean() < 0.5  # float vs PIL's fixed-point arithmetic
    rows = result.rows()
    assert [r["model"] for r in rows] == ["bicubic", "HAT"] and rows[0]["size"] == "96×72"


def test_lr_mode_does_not_score_and_reference_mode_does():
    image = photo(40, 30)
    plain = compare(image, ["bicubic"], scale=2)
    assert plain.reference is None and plain.results[0].psnr_y is None
    reference = photo(80, 60, seed=1)
    scored = compare(image, ["bicubic"], scale=2, mode="reference", reference=reference)
    assert scored.results[0].psnr_y == pytest.approx(
        independent_psnr_y(scored.results[0].image, reference, 2), abs=1e-6)


def test_reference_must_cover_the_upscaled_input():
    with pytest.raises(ImageError, match="needs 80×60"):
        match_reference(photo(70, 60), photo(40, 30), 2)
    assert match_reference(photo(83, 61), photo(40, 30), 2).size == (80, 60)


def test_model_count_limit_and_scale_mismatch(monkeypatch):
    monkeypatch.setenv("VTDEMO_MAX_COMPARE_MODELS", "2")
    with pytest.raises(ValueError, match="At most 2 models"):
        compare(photo(), ["bicubic"] * 3, scale=2)
    x4 = HAT(upscale=4, embed_dim=12, depths=[1], num_heads=[2], window_size=4, compress_ratio=3,
             squeeze_factor=4, num_feat=8, mlp_ratio=1.0)
    with pytest.raises(ValueError, match="×4"):
        compare(photo(), [x4], scale=2)


def test_uploaded_checkpoints_load_safely_once(tmp_path):
    from safetensors.torch import save_file

    model = HAT(upscale=2, embed_dim=12, depths=[1], num_heads=[2], window_size=4, compress_ratio=3,
                squeeze_factor=4, num_feat=8, mlp_ratio=1.0)
    path = tmp_path / "mine.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    net = uploaded_net(path)
    assert net.scale == 2 and net.name == "mine.safetensors"
    assert uploaded_net(path) is net  # cached by content
    for a, b in zip(net.module.state_dict().values(), model.state_dict().values()):
        assert torch.equal(a, b)
    result = compare(photo(32, 24), [net], scale=2)
    assert result.results[0].model == "mine.safetensors"
