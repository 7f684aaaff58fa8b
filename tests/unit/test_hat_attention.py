"""A clicked pixel's HAT attention against softmax(q·kᵀ·scale + bias [+ shift mask]) recomputed here from the
block's own weights and input."""
import numpy as np
import pytest
import torch

from vtdemo.explain.hat import AttentionCache, capture, pixel_attention
from vtdemo.models.hat import HAT

M, S = 4, 2  # window, shift


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = HAT(upscale=2, embed_dim=16, depths=[2], num_heads=[2], window_size=M, compress_ratio=2,
                squeeze_factor=4, num_feat=8, mlp_ratio=1.0, overlap_ratio=0.5).eval()
    for p in model.parameters():  # non-trivial biases
        if p.dim() == 2 and p.shape[1] == 2:
            torch.nn.init.normal_(p, std=0.5)
    lr = torch.rand(1, 3, 10, 9, generator=torch.Generator().manual_seed(1))  # padded to 12×12
    return model, lr


def block_input(model, lr, block):
    seen = {}

    def hook(module, args):
        seen["x"] = args[0].detach()

    handle = block.register_forward_pre_hook(hook)
    with torch.no_grad():
        model(lr)
    handle.remove()
    return seen["x"][0]  # (Hp, Wp, C)


def swin_regions(hp, wp, m, s):
    """Swin's shift-mask labels on the padded, rolled map: 3×3 regions by the slices (0,-m), (-m,-s), (-s,None)."""
    labels = np.zeros((hp, wp), int)
    cnt = 0
    for hs in (slice(0, -m), slice(-m, -s), slice(-s, None)):
        for ws in (slice(0, -m), slice(-m, -s), slice(-s, None)):
            labels[hs, ws] = cnt
            cnt += 1
    return labels


def expected_window_row(model, lr, block_index, y, x, group=0):
    blk = model.blocks()[group][block_index]
    M = blk.window_size
    feats = block_input(model, lr, blk)
    hp, wp, c = feats.shape
    heads, d = blk.attn.num_heads, c // blk.attn.num_heads
    qkv = blk.attn.qkv(blk.norm1(feats)).detach()
    q, k = qkv[..., :c], qkv[..., c:2 * c]
    s = blk.shift_size
    pos = np.stack(np.meshgrid(np.arange(hp), np.arange(wp), indexing="ij"), -1)
    rolled = np.roll(pos, (-s, -s), axis=(0, 1))  # rolled[i, j] = original coords shown at (i, j)
    ri, rj = np.argwhere((rolled[..., 0] == y) & (rolled[..., 1] == x))[0]
    wi, wj = ri // M * M, rj // M * M
    # the regions are laid out in the rolled frame (rows/cols that wrapped around form the last slices)
    labels = swin_regions(hp, wp, M, s) if s else np.zeros((hp, wp), int)
    table = blk.attn.relative_position_bias_table.detach()
    expected = np.zeros((heads, hp, wp))
    logits, coords = [], []
    for a in range(M):
        for b in range(M):
            oy, ox = rolled[wi + a, wj + b]
            bias = table[(ri - wi - a + M - 1) * (2 * M - 1) + (rj - wj - b + M - 1)]
            mask = 0.0 if labels[wi + a, wj + b] == labels[ri, rj] else -100.0
            dots = (q[y, x].view(heads, d) * k[oy, ox].view(heads, d)).sum(-1) * blk.attn.scale
            logits.append(dots + bias + mask)
            coords.append((oy, ox))
    attn = torch.stack(logits, -1).softmax(-1).numpy()
    for n, (oy, ox) in enumerate(coords):
        expected[:, oy, ox] = attn[:, n]
    return expected


@pytest.mark.parametrize("block_index", [0, 1])  # W-MSA, SW-MSA
@pytest.mark.parametrize("y, x", [(0, 0), (5, 3), (9, 8), (3, 7)])
def test_window_attention_of_a_clicked_pixel(setup, block_index, y, x):
    model, lr = setup
    view = pixel_attention(capture(model, lr, 0, block_index), x, y, (10, 9))
    assert view.kind == ("SW-MSA" if block_index else "W-MSA")
    expected = expected_window_row(model, lr, block_index, y, x)[:, :10, :9]
    assert np.allclose(view.heads, expected, atol=1e-5)
    assert np.all(view.heads[:, ~view.window] == 0)  # zero outside the (shifted) window
    assert view.window[y, x]
    assert view.channel is not None and view.channel.shape == (16,)


@pytest.mark.parametrize("block_index", [0, 1])
def test_window_attention_of_the_embedded_hat_demo(block_index):
    from vtdemo.zoo.loading import load_model

    model = load_model("hat-demo-x4", device="cpu")
    lr = torch.rand(1, 3, 21, 18, generator=torch.Generator().manual_seed(4))  # padded to 24×24, window 8
    for y, x in ((0, 0), (11, 6), (20, 17)):
        view = pixel_attention(capture(model, lr, 1, block_index), x, y, (21, 18))
        expected = expected_window_row(model, lr, block_index, y, x, group=1)[:, :21, :18]
        assert np.allclose(view.heads, expected, atol=1e-5)


def test_each_query_sums_to_one(setup):
    model, lr = setup
    for block_index in (0, 1, 2):
        captured = capture(model, lr, 0, block_index)
        assert torch.allclose(captured.attn.sum(-1), torch.ones(()), atol=1e-5)


def official_oca_index(m, ow):
    """relative_position_index_OCA as the official code computes it (negative values wrap, as torch indexing does)."""
    ori = np.stack(np.meshgrid(np.arange(m), np.arange(m), indexing="ij")).reshape(2, -1)
    ext = np.stack(np.meshgrid(np.arange(ow), np.arange(ow), indexing="ij")).reshape(2, -1)
    rel = (ext[:, None, :] - ori[:, :, None]).transpose(1, 2, 0).copy()
    rel += m - ow + 1
    rel[..., 0] *= m + ow - 1
    return rel.sum(-1)


@pytest.mark.parametrize("y, x", [(0, 0), (5, 6), (9, 8)])
def test_ocab_attention_of_a_clicked_pixel(setup, y, x):
    model, lr = setup
    ocab = model.blocks()[0][2]
    view = pixel_attention(capture(model, lr, 0, 2), x, y, (10, 9))
    assert view.kind == "OCAB" and view.channel is None
    feats = block_input(model, lr, ocab)
    hp, wp, c = feats.shape
    heads, d, ow = ocab.num_heads, c // ocab.num_heads, ocab.overlap_win_size
    qkv = ocab.qkv(ocab.norm1(feats)).detach()
    pad = (ow - M) // 2
    kpad = torch.nn.functional.pad(qkv[..., c:2 * c], (0, 0, pad, pad, pad, pad))  # zero padding
    wi, wj = y // M * M, x // M * M
    index = torch.as_tensor(official_oca_index(M, ow))
    table = ocab.relative_position_bias_table.detach()
    qn = (y - wi) * M + (x - wj)
    logits = []
    for a in range(ow):
        for b in range(ow):
            bias = table[index[qn, a * ow + b]]
            dots = (qkv[y, x, :c].view(heads, d) * kpad[wi + a, wj + b].view(heads, d)).sum(-1) * ocab.scale
            logits.append(dots + bias)
    attn = torch.stack(logits, -1).softmax(-1).numpy().reshape(heads, ow, ow)
    expected = np.zeros((heads, hp + 2 * pad, wp + 2 * pad))
    expected[:, wi:wi + ow, wj:wj + ow] = attn
    expected = expected[:, pad:pad + 10, pad:pad + 9]
    assert np.allclose(view.heads, expected, atol=1e-5)
    assert np.all(view.heads[:, ~view.keys] == 0) and view.keys.sum() > view.window.sum()
    assert np.array_equal(np.argwhere(view.window).min(0), [wi, wj])


def test_cache_runs_one_forward_per_block_and_image(setup):
    model, lr = setup
    cache = AttentionCache(size=2)
    for _ in range(3):
        cache.get("m", model, lr, 0, 1)
    assert cache.forwards == 1
    cache.get("m", model, lr + 0.01, 0, 1)
    cache.get("m", model, lr, 0, 0)
    cache.get("m", model, lr, 0, 1)  # evicted by the two above
    assert cache.forwards == 4


def test_pixel_outside_is_refused(setup):
    model, lr = setup
    with pytest.raises(ValueError, match="outside"):
        pixel_attention(capture(model, lr, 0, 0), 9, 0, (10, 9))
    with pytest.raises(ValueError, match="does not exist"):
        capture(model, lr, 1, 0)


def test_large_inputs_are_attended_around_the_click(monkeypatch):
    from PIL import Image

    from vtdemo.explain.hat import hat_attention_for_image, neighbourhood

    assert neighbourhood((300, 200), (150, 100), 64) == (112, 64, 176, 128)
    assert neighbourhood((300, 200), (295, 5), 64) == (236, 0, 300, 64)
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 256, (200, 300, 3), dtype=np.uint8))
    monkeypatch.setenv("VTDEMO_MAX_ATTENTION_PIXELS", str(300 * 200))
    full, region, offset = hat_attention_for_image(img, "hat-demo-x4", (150, 100), 1, 1)
    assert region.size == (300, 200) and offset == (0, 0)
    monkeypatch.setenv("VTDEMO_MAX_ATTENTION_PIXELS", str(64 * 64))
    view, region, offset = hat_attention_for_image(img, "hat-demo-x4", (150, 100), 1, 1)
    assert region.size == (64, 64) and offset == (112, 64)
    assert view.window[100 - 64, 150 - 112] and view.heat.shape == (64, 64)
    # the neighbourhood's map is the whole image's map there (window attention is local; only CAB's global
    # pooling sees less, which moves the weights by < 1e-6)
    inside = (slice(64, 128), slice(112, 176))
    assert np.array_equal(view.window, full.window[inside]) and full.heat[inside].sum() == pytest.approx(1, abs=1e-4)
    assert np.abs(view.heat - full.heat[inside]).max() < 1e-5


def test_hat_names_its_blocks_and_stays_out_of_the_classifier_registry(setup):
    """HAT's layers for the LAM tab's controls: every block in forward order (two HABs, then the OCAB), read from a
    meta-device build for a card; the classifier probe registry has no HAT entry (explain/hat.py says why)."""
    from vtdemo.explain import hat
    from vtdemo.explain.registry import PROBES, probe_for
    from vtdemo.zoo.cards import get_card

    model = setup[0]
    infos = hat.HAT_ATTENTION.layers(model)
    assert [i.name for i in infos] == ["group 0 block 0 (W-MSA)", "group 0 block 1 (SW-MSA)", "group 0 block 2 (OCAB)"]
    assert [i.drawing for i in infos] == ["window", "window", "overlapping window"] and infos[0].heads == 2
    assert [i.position for i in infos] == [(0, 0), (0, 1), (0, 2)]
    demo = hat.layer_infos(get_card("hat-demo-x4"))  # 3 groups of 2 HABs + an OCAB each
    assert len(demo) == 9 and demo[-1].name == "group 2 block 2 (OCAB)"
    assert "HAT" not in PROBES and hat.has_attention(get_card("hat-demo-x4"))
    assert not hat.has_attention(get_card("swinir-m-x4")) and not hat.has_attention(get_card("vit-demo"))
    with pytest.raises(ValueError, match="no attention probe for the HAT family"):
        probe_for("HAT")



def test_the_lam_tab_says_an_ocab_has_no_channel_chart(tmp_path):
    """A HAB's click shows its CAB's channel weights; the group's OCAB has none: the chart is hidden and the caption
    says why (an empty chart with a title was shown before)."""
    from PIL import Image

    from vtdemo.ui import lam_tab

    path = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(2).integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(path)
    _, hab_plot, hab_caption = lam_tab.on_attention(str(path), "hat-demo-x4", 5, 5, 0, 0, "mean")
    _, ocab_plot, ocab_caption = lam_tab.on_attention(str(path), "hat-demo-x4", 5, 5, 0, 2, "mean")
    assert hab_plot["visible"] is True and hab_plot["value"] is not None and "no channel" not in hab_caption
    assert ocab_plot["visible"] is False and "OCAB has no channel attention" in ocab_caption
