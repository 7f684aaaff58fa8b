"""HAT on small random configs: the fast paths equal the official computation, any size works, attention capture."""
import threading

import pytest
import torch

from vtdemo.models.hat import HAT, OCAB, pad_to_multiple, shift_mask

SMALL = dict(img_size=64, window_size=8, embed_dim=24, depths=[2, 2], num_heads=[2, 2], compress_ratio=3,
             squeeze_factor=8, mlp_ratio=2, upscale=2, upsampler="pixelshuffle", resi_connection="1conv")


@pytest.fixture(scope="module")
def pair():
    from spandrel.architectures.HAT.__arch.HAT import HAT as ReferenceHAT

    torch.manual_seed(0)
    reference = ReferenceHAT(**SMALL).eval()
    for p in reference.parameters():  # no parameter left at a constant initial value
        p.data += 0.05 * torch.randn_like(p)
    ours = HAT(**SMALL).eval()
    ours.load_state_dict(reference.state_dict(), strict=True)
    return ours, reference


@pytest.mark.parametrize("size", [(8, 8), (16, 24), (40, 32), (8, 48)])
def test_equals_reference_on_aligned_sizes(pair, size):
    ours, reference = pair
    x = torch.rand(2, 3, *size)
    with torch.inference_mode():
        assert (ours(x) - reference(x)).abs().max() < 1e-4


@pytest.mark.parametrize("size", [(1, 1), (1, 5), (3, 3), (7, 13), (9, 17)])
def test_any_size_gives_scale_times_size(pair, size):
    ours, _ = pair
    with torch.inference_mode():
        y = ours(torch.rand(1, 3, *size))
    assert y.shape == (1, 3, size[0] * 2, size[1] * 2) and torch.isfinite(y).all()


def test_reflect_padding_matches_torch_when_possible():
    x = torch.rand(1, 3, 11, 13)
    assert torch.equal(pad_to_multiple(x, 8), torch.nn.functional.pad(x, (0, 3, 0, 5), mode="reflect"))
    tiny = pad_to_multiple(torch.rand(1, 3, 3, 1), 8)
    assert tiny.shape == (1, 3, 8, 8)


@pytest.mark.parametrize("h, w, m, s", [(12, 16, 4, 2), (16, 8, 8, 4), (24, 24, 8, 3)])
def test_shift_mask_separates_what_the_cyclic_shift_brought_together(h, w, m, s):
    """After rolling the map by −s, the last s rows (and columns) hold pixels that wrapped around from the other
    side: two tokens of one window may attend to each other only if both or neither wrapped, in each axis."""
    wrapped_r = (torch.arange(h) >= h - s).view(h, 1).expand(h, w)
    wrapped_c = (torch.arange(w) >= w - s).view(1, w).expand(h, w)

    def windows(t):
        return t.reshape(h // m, m, w // m, m).permute(0, 2, 1, 3).reshape(-1, m * m)

    r, c = windows(wrapped_r), windows(wrapped_c)
    apart = (r[:, :, None] != r[:, None, :]) | (c[:, :, None] != c[:, None, :])
    assert torch.equal(shift_mask(h, w, m, s), torch.where(apart, -100.0, 0.0))


def test_training_gradients_match_reference(pair):
    ours, reference = pair
    x = torch.rand(1, 3, 16, 16)
    grads = []
    for model in (ours, reference):
        model.zero_grad()
        model(x).square().mean().backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()})
    for name, g in grads[1].items():
        assert torch.allclose(grads[0][name], g, atol=1e-5, rtol=1e-4), name


def _independent_window_attention(block, x_normed, rpi, q_pos, shift, m):
    """softmax(q·kᵀ·scale + B [+ mask]) for the window holding q_pos, recomputed from the block's weights."""
    h, w = x_normed.shape[1:3]
    xs = torch.roll(x_normed, (-shift, -shift), (1, 2)) if shift else x_normed
    i, j = (q_pos[0] - shift) % h, (q_pos[1] - shift) % w
    wi, wj = i // m, j // m
    win = xs[0, wi * m:(wi + 1) * m, wj * m:(wj + 1) * m].reshape(m * m, -1)
    heads = block.attn.num_heads
    qkv = block.attn.qkv(win).view(m * m, 3, heads, -1)
    q, k = qkv[:, 0].transpose(0, 1), qkv[:, 1].transpose(0, 1)
    table = block.attn.relative_position_bias_table
    bias = table[rpi.view(-1)].view(m * m, m * m, heads).permute(2, 0, 1)
    logits = q @ k.transpose(-1, -2) * block.attn.scale + bias
    if shift:
        logits = logits + shift_mask(h, w, m, shift)[wi * (w // m) + wj]
    return logits.softmax(-1)[:, (i % m) * m + j % m]  # (heads, m²) row of the query


@pytest.mark.parametrize("block_index", [0, 1])
def test_captured_window_attention_equals_independent_recomputation(pair, block_index):
    ours, _ = pair
    x = torch.rand(1, 3, 16, 24)
    block = ours.layers[0].residual_group.blocks[block_index]
    inputs = {}
    hook = block.register_forward_pre_hook(lambda mod, args: inputs.update(x=args[0]))
    with torch.inference_mode(), ours.capture_attention(0, block_index) as captured_block:
        ours(x)
    hook.remove()
    cap = captured_block.captured
    assert cap.kind == ("SW-MSA" if block_index else "W-MSA") and cap.padded_size == (16, 24)
    assert torch.allclose(cap.attn.sum(-1), torch.ones(()), atol=1e-5)
    assert cap.channel is not None and cap.channel.shape == (1, 24)
    with torch.inference_mode():
        x_normed = block.norm1(inputs["x"])
        for q_pos in [(0, 0), (5, 17), (15, 23), (9, 2)]:
            expected = _independent_window_attention(block, x_normed, ours.relative_position_index_SA, q_pos,
                                                     block.shift_size, 8)
            i, j = (q_pos[0] - cap.shift) % 16, (q_pos[1] - cap.shift) % 24
            window = (i // 8) * 3 + j // 8
            got = cap.attn[window, :, (i % 8) * 8 + j % 8]
            assert torch.allclose(got, expected, atol=1e-6)
    with ours.capture_attention(0, block_index) as other_call:
        worker = threading.Thread(target=lambda: ours(x))  # the same model, another request's thread
        worker.start()
        worker.join()
    assert other_call.captured is None  # a capture belongs to the call that asked for it


def test_ocab_strided_windows_equal_unfold():
    torch.manual_seed(1)
    block = OCAB(dim=12, input_resolution=(64, 64), window_size=8, overlap_ratio=0.5, num_heads=2)
    kv = torch.rand(2, 16, 24, 12)
    ow, m = block.overlap_win_size, 8
    unfold = torch.nn.Unfold(kernel_size=ow, stride=m, padding=(ow - m) // 2)
    expected = unfold(kv.permute(0, 3, 1, 2))  # (B, C·ow·ow, nW)
    expected = expected.view(2, 12, ow * ow, -1).permute(0, 3, 2, 1).reshape(-1, ow * ow, 12)
    assert torch.equal(block.overlapping_windows(kv), expected)


def test_bias_cache_follows_weight_updates(pair):
    ours, _ = pair
    attn = ours.layers[0].residual_group.blocks[0].attn
    rpi = ours.relative_position_index_SA
    with torch.inference_mode():
        before = attn.bias(rpi).clone()
    with torch.no_grad():
        attn.relative_position_bias_table.add_(1.0)
    with torch.inference_mode():
        assert torch.allclose(attn.bias(rpi), before + 1.0)
    with torch.no_grad():
        attn.relative_position_bias_table.sub_(1.0)


def test_head_size_padding_for_fused_kernels_changes_nothing(pair, monkeypatch):
    """CUDA's fused attention needs head sizes in multiples of 8 (HAT-L has 30); the padded path — forced here on
    the CPU — must give the reference's numbers."""
    from vtdemo.models import hat

    ours, reference = pair
    seen = []
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def spy(q, k, v, **kw):
        seen.append(q.shape[-1])
        return sdpa(q, k, v, **kw)

    monkeypatch.setattr(hat, "head_alignment", lambda q: 8)
    monkeypatch.setattr(hat.F, "scaled_dot_product_attention", spy)
    x = torch.rand(1, 3, 16, 24)
    with torch.inference_mode():
        assert (ours(x) - reference(x)).abs().max() < 1e-4
    assert seen and set(seen) == {16}  # 24 channels / 2 heads = 12, padded to 16


def test_under_autocast_the_image_enters_and_leaves_in_fp32(pair):
    """bf16 rounds the output by up to a grey level; the first and last convolutions stay in fp32."""
    ours, _ = pair
    dtypes = {}
    hooks = [getattr(ours, name).register_forward_hook(
        lambda mod, inp, out, name=name: dtypes.__setitem__(name, (inp[0].dtype, out.dtype)))
        for name in ("conv_first", "conv_last", "conv_after_body")]
    try:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            y = ours(torch.rand(1, 3, 16, 16))
    finally:
        for h in hooks:
            h.remove()
    assert dtypes["conv_first"] == (torch.float32, torch.float32)
    assert dtypes["conv_last"] == (torch.float32, torch.float32) and y.dtype == torch.float32
    assert dtypes["conv_after_body"][1] == torch.bfloat16  # the body really ran in bf16
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):  # an input made under autocast
        assert ours(torch.rand(1, 3, 16, 16).bfloat16()).dtype == torch.float32


def test_the_bf16_trunk_computes_in_bf16_between_fp32_ends_and_leaves_the_model_alone(pair):
    """The copy that runs bf16 without autocast: every tensor between the first and the last convolution is bf16
    (no casts), the image enters and leaves in fp32, the RGB mean added back is the fp32 one, the shared model is
    unchanged; its output is as close to fp32 as autocast's."""
    ours, _ = pair
    before = {k: v.clone() for k, v in ours.state_dict().items()}
    trunk = ours.bf16_trunk()
    dtypes = {}
    hooks = [module.register_forward_hook(
        lambda mod, inp, out, name=name: dtypes.__setitem__(name, (inp[0].dtype, out.dtype)))
        for name, module in trunk.named_modules() if isinstance(module, (torch.nn.Linear, torch.nn.LayerNorm,
                                                                            torch.nn.Conv2d))]
    x = torch.rand(1, 3, 24, 16)
    with torch.inference_mode():
        y = trunk(x)
        fp32 = ours(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            autocast = ours(x)
    for h in hooks:
        h.remove()
    assert dtypes.pop("conv_first") == (torch.float32, torch.float32)
    assert dtypes.pop("conv_last") == (torch.float32, torch.float32) and y.dtype == torch.float32
    assert dtypes and all(d == (torch.bfloat16, torch.bfloat16) for d in dtypes.values()), dtypes
    assert trunk.mean.dtype == torch.float32 and torch.equal(trunk.mean, ours.mean)
    assert all(torch.equal(v, before[k]) and v.dtype == before[k].dtype for k, v in ours.state_dict().items())
    assert 0 < (y - fp32).abs().max() <= 2 * max((autocast - fp32).abs().max(), 1e-3)


def test_the_torch_backend_runs_hat_in_bf16_through_the_trunk_copy_made_once(pair):
    from vtdemo.sr import backends
    from vtdemo.sr.backends import SRNet

    ours, _ = pair
    net = SRNet(ours, 2, "small-hat")
    x = torch.rand(1, 3, 16, 16)
    with torch.inference_mode():
        got = backends.tile_fn(net, "torch", torch.device("cpu"), 16, "bf16")(x)
        assert torch.equal(got, backends.bf16_copy(ours)(x))
    assert backends.bf16_copy(ours) is backends.bf16_copy(ours)  # made once per model...
    trained = HAT(**SMALL).eval()
    trained.load_state_dict(ours.state_dict())
    net = SRNet(trained, 2, "trained-hat")
    first = backends.bf16_copy(trained)
    with torch.no_grad():
        trained.conv_after_body.weight.mul_(0.5)  # ...and its weights: an optimiser step between validations
    again = backends.bf16_copy(trained)
    assert again is not first and torch.equal(again.conv_after_body.weight, trained.conv_after_body.weight.bfloat16())
    with torch.inference_mode():
        assert torch.equal(backends.tile_fn(net, "torch", torch.device("cpu"), 16, "bf16")(x), again(x))
