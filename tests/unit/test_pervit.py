"""PerViT behaviour that the golden files do not cover: grids, caching of φp, fused vs explicit attention."""
import pytest
import torch

from vtdemo.models.pervit import PerViT, distance_grid

SMALL = dict(num_heads=2, emb_dims=[16, 24, 24, 32], convstem_dims=[3, 8, 8, 12, 16], num_classes=5)


def test_distance_grid_is_the_padded_euclidean_table():
    d = distance_grid(3, pad=2)  # 7×7 grid with step 1 in [-3, 3]
    assert d.shape == (49, 49, 1)
    coords = torch.stack(torch.meshgrid(torch.arange(7.0), torch.arange(7.0), indexing="ij"), -1).view(-1, 2) - 3
    assert torch.allclose(d[..., 0], torch.cdist(coords, coords), atol=1e-6)


def test_stride_8_stem_at_112_px_gives_the_official_14x14_grid():
    m = PerViT(**SMALL, img_size=112, stem_strides=(2, 2, 2, 1)).eval()
    with torch.no_grad():
        logits, attention = m.forward_with_attention(torch.rand(2, 3, 112, 112))
    assert logits.shape == (2, 5) and m.grid == 14
    assert attention[0].shape == (2, 2, 196, 196)
    assert torch.allclose(attention[3].sum(-1), torch.ones(()), atol=1e-5)
    with pytest.raises(ValueError, match="112×112"):
        m(torch.rand(1, 3, 96, 96))


def test_fused_and_explicit_paths_agree_and_small_grids_work():
    torch.manual_seed(0)
    m = PerViT(**SMALL, img_size=64).eval()  # 4×4 tokens
    x = torch.rand(3, 3, 64, 64)
    with torch.no_grad():
        fused = m(x)
        explicit, attention = m.forward_with_attention(x)
    assert torch.allclose(fused, explicit, atol=1e-5)
    assert attention[0].shape == (3, 2, 16, 16)


def test_position_attention_is_cached_and_invalidated_on_load():
    m = PerViT(**SMALL, img_size=64).eval()
    with torch.no_grad():
        first = m.position_attention()
        assert m.position_attention() is first  # cached
        state = {k: v.clone() for k, v in m.state_dict().items()}
        state["blocks.0.attn.activation.gn2.bias"] += 1.0
        m.load_state_dict(state)
        second = m.position_attention()
    assert second is not first and not torch.allclose(second[0], first[0])
    assert torch.allclose(second[1], first[1])
    # with gradients (training), φp is recomputed so it can learn
    m.train()
    loss = m(torch.rand(2, 3, 64, 64)).sum()
    loss.backward()
    assert m.rpe_proj.weight.grad is not None and m.blocks[0].attn.activation.conv1.weight.grad.abs().sum() > 0


def test_peripheral_initialisation():
    m = PerViT(**SMALL, img_size=64)
    biases = [blk.attn.activation.gn2.bias[0].item() for blk in m.blocks]
    weights = [blk.attn.activation.gn2.weight[0].item() for blk in m.blocks]
    assert biases[0] == pytest.approx(-5.0) and biases[-1] == pytest.approx(4.0)
    assert weights[0] == pytest.approx(3.0) and weights[-1] == pytest.approx(0.01)
    with torch.no_grad():
        early, late = m.position_attention()[0][0, 0], m.position_attention()[-1][0, 0]
    centre = 5  # token (1, 1) of the 4×4 grid
    # early blocks attend near the query (peripheral: local), late ones broadly
    assert early[centre].argmax() == centre
    assert late[centre].std() < early[centre].std()
