"""Attention probes on small random timm models and PerViT, against independent recomputation."""
import numpy as np
import pytest
import timm
import torch
from PIL import Image

from vtdemo.classify.preprocess import geometry
from vtdemo.explain import probes
from vtdemo.explain.vit import rollout
from vtdemo.models.pervit import PerViT
from vtdemo.zoo.cards import Preprocess

PP = Preprocess(size=64, crop_pct=1.0)


def image(w=64, h=64, seed=0):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


def block_input(model, block):
    seen = {}

    def hook(module, args):
        seen["x"] = args[0].detach()

    return seen, block.norm1.register_forward_pre_hook(hook)


@pytest.fixture(scope="module")
def vit():
    torch.manual_seed(0)
    return timm.create_model("vit_tiny_patch16_224", pretrained=False, img_size=64, patch_size=16, depth=3,
                             embed_dim=32, num_heads=2, num_classes=10).eval()


def test_deit_distill_mode_is_the_distillation_tokens_row_recomputed_from_qkv():
    torch.manual_seed(1)
    deit = timm.create_model("deit_tiny_distilled_patch16_224", pretrained=False, img_size=64, patch_size=16,
                             depth=2, embed_dim=32, num_heads=2, num_classes=10).eval()
    seen, handle = block_input(deit, deit.blocks[1])
    cap = probes.capture_module(deit, "DeiT", image(seed=3), PP)
    handle.remove()
    x = deit.blocks[1].norm1(seen["x"])[0]  # (2 prefix tokens + 16 patches, 32)
    qkv = deit.blocks[1].attn.qkv(x).view(x.shape[0], 3, 2, 16)
    q, k = qkv[:, 0], qkv[:, 1]
    attn = torch.softmax((q[1][None] * k).sum(-1).T / 16 ** 0.5, -1)  # token 1 = the distillation token
    got, _ = probes.token_map(cap, (20, 40), layer=1, mode="distill")
    assert np.allclose(got, attn[:, 2:].mean(0).reshape(4, 4).detach().numpy(), atol=1e-6)
    cls, _ = probes.token_map(cap, (20, 40), layer=1, mode="cls")
    assert not np.allclose(got, cls, atol=1e-3)  # another token's row


def test_vit_click_is_the_softmax_row_recomputed_from_qkv(vit):
    img = image()
    seen, handle = block_input(vit, vit.blocks[1])
    cap = probes.capture_module(vit, "ViT", img, PP)
    handle.remove()
    # independent: the block's normalised input, its qkv weights, softmax(q·kᵀ/√d)
    x = vit.blocks[1].norm1(seen["x"])[0]
    qkv = vit.blocks[1].attn.qkv(x).view(x.shape[0], 3, 2, 16)
    q, k = qkv[:, 0], qkv[:, 1]
    r, c = 2, 1  # the patch under pixel (x=20, y=40) of a 64×64 image with 16-px patches
    query = 1 + r * 4 + c
    attn = torch.softmax((q[query][None] * k).sum(-1).T / 16 ** 0.5, -1)  # (heads, tokens)
    got, _ = probes.token_map(cap, (20, 40), layer=1, head=1, mode="patch")
    assert np.allclose(got, attn[1, 1:].reshape(4, 4).detach().numpy(), atol=1e-6)
    mean, _ = probes.token_map(cap, (20, 40), layer=1, head="mean", mode="patch")
    assert np.allclose(mean, attn[:, 1:].mean(0).reshape(4, 4).detach().numpy(), atol=1e-6)
    cls_attn = torch.softmax((q[0][None] * k).sum(-1).T / 16 ** 0.5, -1)  # the class token's row, recomputed
    cls, _ = probes.token_map(cap, (20, 40), layer=1, mode="cls")
    assert np.allclose(cls, cls_attn[:, 1:].mean(0).reshape(4, 4).detach().numpy(), atol=1e-6)


def test_rollout_rows_sum_to_one(vit):
    cap = probes.capture_module(vit, "ViT", image(), PP)
    for upto in range(3):
        r = rollout(cap.layers, upto)
        assert torch.allclose(r.sum(-1), torch.ones(r.shape[0]), atol=1e-5)
    # by hand for two layers
    a0, a1 = (0.5 * layer.attn[0].mean(0) + 0.5 * torch.eye(17) for layer in cap.layers[:2])
    assert torch.allclose(rollout(cap.layers, 1), a1 @ a0, atol=1e-6)


def test_swin_map_lives_inside_the_shifted_window():
    torch.manual_seed(0)
    swin = timm.create_model("swin_tiny_patch4_window7_224", pretrained=False, img_size=112, depths=(2, 2),
                             num_heads=(2, 4), embed_dim=16, window_size=7, num_classes=10).eval()
    pp = Preprocess(size=112, crop_pct=1.0)
    cap = probes.capture_module(swin, "Swin", image(112, 112), pp)
    layer = cap.layers[1]  # shifted: 28×28 tokens, window 7, shift 3
    assert layer.grid == (28, 28) and layer.shift == 3
    for point in ((2, 2), (60, 30), (111, 111)):
        got, mask = probes.token_map(cap, point, layer=1)
        r, c = int(point[1] * 28 / 112), int(point[0] * 28 / 112)
        # the shifted window holding (r, c): the tokens whose rolled coordinates share its window
        rolled_r, rolled_c = (np.arange(28) - 3) % 28, (np.arange(28) - 3) % 28
        same = (rolled_r[:, None] // 7 == ((r - 3) % 28) // 7) & (rolled_c[None, :] // 7 == ((c - 3) % 28) // 7)
        assert np.array_equal(mask, same) and mask[r, c]
        assert np.all(got[~same] == 0) and got[same].sum() == pytest.approx(1.0, abs=1e-5)


def test_pvt_rows_sum_to_one_over_the_reduced_key_grid():
    torch.manual_seed(0)
    pvt = timm.create_model("pvt_v2_b0", pretrained=False, num_classes=10).eval()
    cap = probes.capture_module(pvt, "PVT-v2", image(), PP)
    assert cap.layers[0].grid == (16, 16) and cap.layers[0].key_grid == (2, 2)  # stride 4, sr ratio 8
    for i, layer in enumerate(cap.layers):
        assert torch.allclose(layer.attn.sum(-1), torch.ones(()), atol=1e-5)
        got, _ = probes.token_map(cap, (33, 12), layer=i)
        assert got.shape == layer.key_grid and got.sum() == pytest.approx(1.0, abs=1e-5)


def test_pervit_modes():
    torch.manual_seed(0)
    m = PerViT(num_heads=2, emb_dims=[16, 24, 24, 32], convstem_dims=[3, 8, 8, 12, 16], num_classes=5,
               img_size=64).eval()
    cap = probes.capture_module(m, "PerViT", image(), PP)
    with torch.no_grad():
        pos = m.position_attention()[3][0]
    got, _ = probes.token_map(cap, (40, 8), layer=3, head=1, mode="position")
    query = 0 * 4 + 2
    assert np.allclose(got.ravel(), (pos[1, query] / pos[1, query].sum()).numpy(), atol=1e-6)
    for mode in ("mixed", "content", "position"):
        got, _ = probes.token_map(cap, (40, 8), layer=3, mode=mode)
        assert got.sum() == pytest.approx(1.0, abs=1e-5)
    with pytest.raises(ValueError, match="not available"):
        probes.token_map(cap, (40, 8), mode="window")


def test_maps_come_back_in_image_coordinates_and_outside_clicks_are_refused(vit):
    pp = Preprocess(size=64, crop_pct=0.8)  # 80 px short side, 64-px centre crop
    img = image(120, 80)
    cap = probes.capture_module(vit, "ViT", img, pp)
    geo = geometry(120, 80, pp)
    assert geo.resized == (120, 80) and (geo.left, geo.top) == (28, 8)
    grid_map, _ = probes.token_map(cap, (60, 40), layer=0)
    full = cap.geometry.to_image(grid_map)
    assert full.shape == (80, 120) and np.all(full[:, :27] == 0) and full[40, 60] > 0
    with pytest.raises(ValueError, match="outside the centre crop"):
        probes.token_map(cap, (5, 40))


def test_second_click_on_the_same_image_runs_no_forward(monkeypatch, vit):
    calls = []
    monkeypatch.setattr(probes, "capture", lambda img, model_id, device=None: calls.append(1) or
                        probes.capture_module(vit, "ViT", img, PP, model_id))
    cache = probes.CaptureCache(size=2)
    monkeypatch.setattr(probes, "CACHE", cache)
    img = image()
    first = probes.attention_map(img, "vit-ti16", (10, 10), layer=0)
    second = probes.attention_map(img.copy(), "vit-ti16", (50, 30), layer=2, head=1)
    assert len(calls) == 1 and cache.forwards == 1
    assert first.shape == second.shape == (64, 64)
    probes.attention_map(image(seed=1), "vit-ti16", (10, 10))
    assert cache.forwards == 2


def test_pervit_mean_attention_distance_recomputed_with_loops():
    """Per head: Σ_q Σ_k w[q, k]·‖pos(q) − pos(k)‖ / N, written out token by token."""
    from vtdemo.explain.pervit import mean_distance

    grid, heads = 3, 2
    w = torch.rand(1, heads, grid * grid, grid * grid)
    w = w / w.sum(-1, keepdim=True)
    expected = np.zeros(heads)
    for h in range(heads):
        for q in range(grid * grid):
            for k in range(grid * grid):
                dy, dx = q // grid - k // grid, q % grid - k % grid
                expected[h] += float(w[0, h, q, k]) * (dy * dy + dx * dx) ** 0.5 / (grid * grid)
    assert np.allclose(mean_distance(w, grid), expected, atol=1e-6)
    local = torch.eye(grid * grid)[None, None].repeat(1, heads, 1, 1)  # every query attends to itself only
    assert np.allclose(mean_distance(local, grid), 0)


# --- mean attention distance, recomputed token by token ----------------------------------------------------------

def _by_hand(weights, q_pos, k_pos):
    """Per head: mean over queries of Σ_k w[q, k]/Σ_k' w[q, k'] · ‖q_pos[q] − k_pos[k]‖, written as loops."""
    heads, nq, nk = weights.shape
    out = np.zeros(heads)
    for h in range(heads):
        for q in range(nq):
            row = weights[h, q].double().numpy()
            row = row / row.sum()
            out[h] += sum(row[k] * np.hypot(*(np.array(q_pos[q]) - np.array(k_pos[k]))) for k in range(nk)) / nq
    return out


def _grid(rows, cols, size):
    return [((c + 0.5) * size / cols, (r + 0.5) * size / rows) for r in range(rows) for c in range(cols)]


def test_vit_attention_distance_leaves_the_class_token_out(vit):
    from vtdemo.explain.registry import probe_for

    cap = probes.capture_module(vit, "ViT", image(), PP)
    got = probe_for("ViT").distances(cap.layers, 64)
    for layer, row in zip(cap.layers, got):  # 4×4 patches of 16 px, keys = patches only, renormalised
        assert np.allclose(row, _by_hand(layer.attn[0, :, 1:, 1:], _grid(4, 4, 64), _grid(4, 4, 64)), atol=1e-9)


def test_deit_attention_distance_leaves_both_prefix_tokens_out():
    from vtdemo.explain.registry import probe_for

    torch.manual_seed(2)
    deit = timm.create_model("deit_tiny_distilled_patch16_224", pretrained=False, img_size=64, patch_size=16,
                             depth=1, embed_dim=32, num_heads=2, num_classes=10).eval()
    cap = probes.capture_module(deit, "DeiT", image(), PP)
    got = probe_for("DeiT").distances(cap.layers, 64)[0]
    assert np.allclose(got, _by_hand(cap.layers[0].attn[0, :, 2:, 2:], _grid(4, 4, 64), _grid(4, 4, 64)), atol=1e-9)


def test_swin_attention_distance_is_measured_in_image_coordinates():
    from vtdemo.explain.registry import probe_for

    torch.manual_seed(0)
    swin = timm.create_model("swin_tiny_patch4_window7_224", pretrained=False, img_size=56, depths=(2,),
                             num_heads=(2,), embed_dim=16, window_size=7, num_classes=10).eval()
    cap = probes.capture_module(swin, "Swin", image(56, 56), Preprocess(size=56, crop_pct=1.0))
    layer = cap.layers[1]  # 14×14 tokens of 4 px, window 7, shift 3
    assert layer.grid == (14, 14) and layer.shift == 3
    total = np.zeros(2)
    for w in range(4):  # the 2×2 windows of the rolled map; their tokens' image positions undo the roll
        wr, wc = divmod(w, 2)
        tokens = [((wr * 7 + i + 3) % 14, (wc * 7 + j + 3) % 14) for i in range(7) for j in range(7)]
        pos = [((c + 0.5) * 4, (r + 0.5) * 4) for r, c in tokens]
        total += _by_hand(layer.attn[w], pos, pos) * 49
    got = probe_for("Swin").distances(cap.layers, 56)[1]
    assert np.allclose(got, total / 196, atol=1e-9)


def test_pvt_attention_distance_to_the_reduced_keys_centres():
    from vtdemo.explain.registry import probe_for

    torch.manual_seed(0)
    pvt = timm.create_model("pvt_v2_b0", pretrained=False, num_classes=10).eval()
    cap = probes.capture_module(pvt, "PVT-v2", image(), PP)
    got = probe_for("PVT-v2").distances(cap.layers, 64)
    layer = cap.layers[0]  # 16×16 queries of 4 px; 2×2 keys, each pooling 32×32 px around its centre
    assert np.allclose(got[0], _by_hand(layer.attn[0], _grid(16, 16, 64), _grid(2, 2, 64)), atol=1e-9)


def test_pervit_attention_distance_of_the_mixed_attention():
    from vtdemo.explain.registry import probe_for

    torch.manual_seed(0)
    m = PerViT(num_heads=2, emb_dims=[16, 16, 16, 16], convstem_dims=[3, 8, 8, 8, 16], img_size=64,
               stem_strides=[2, 2, 2, 2], num_classes=10).eval()
    cap = probes.capture_module(m, "PerViT", image(), PP)
    side = cap.layers[0].grid[0]
    got = probe_for("PerViT").distances(cap.layers, 64)
    for layer, row in zip(cap.layers[:2], got):
        assert np.allclose(row, _by_hand(layer.attn[0], _grid(side, side, 64), _grid(side, side, 64)), atol=1e-9)


def test_attention_distance_api_pads_layers_with_fewer_heads(monkeypatch):
    import vtdemo

    table = vtdemo.attention_distance(image(96, 96), "pvt-demo")
    assert table.shape == (8, 8) and np.isnan(table[0, 1:]).all() and np.isfinite(table[-1]).all()


def test_attention_tab_plots_every_models_distances(tmp_path):
    from vtdemo.explain.probes import attention_distance
    from vtdemo.ui import attention_tab

    path = tmp_path / "img.png"
    image(96, 96, seed=4).save(path)
    figure, caption = attention_tab.on_distance(str(path), ["vit-demo", "swin-demo"])
    dots = [t for t in figure.data if t.mode == "markers"]
    assert [t.name for t in dots] == ["ViT demo (10 classes, trained by vtdemo)",
                                      "Swin demo (10 classes, trained by vtdemo)"]
    swin = attention_distance(str(path), "swin-demo")
    assert np.allclose(sorted(dots[1].y), sorted(swin[np.isfinite(swin)]))
    assert "first layer" in caption and "Server time" in caption


def test_head_choices_follow_the_selected_layer():
    """PVT-v2 demo: 1 head in stage 0, 8 in stage 3; a head chosen in a wide layer falls back to the mean."""
    from vtdemo.ui import attention_tab

    first = attention_tab.on_layer("pvt-demo", 0, "5")
    assert first["choices"] == ["mean", "0"]
    assert first["value"] == "mean"
    last = attention_tab.on_layer("pvt-demo", 7, "5")
    assert len(last["choices"]) == 9 and last["value"] == "5"
