"""Class-specific maps and their faithfulness scores, each against an independent computation: pytorch-grad-cam
called directly, Chefer's rule over attention recomputed from the weights, deletion written as a loop, and the
randomization check on a method that ignores the weights."""
import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F
from PIL import Image

from vtdemo.explain import class_maps, faithfulness
from vtdemo.explain.explanation import explain_class, explain_module, resolve_target
from vtdemo.models.pervit import PerViT
from vtdemo.zoo.cards import Preprocess


def tiny(name="vit_tiny_patch16_224", depth=2, seed=0, **kw):
    torch.manual_seed(seed)
    return timm.create_model(name, pretrained=False, img_size=64, patch_size=16, depth=depth, embed_dim=32,
                             num_heads=2, num_classes=5, **kw).eval()


def batch(seed=0, size=64):
    return torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_grad_cam_through_the_probe_is_the_packages_own_on_a_plain_vit():
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    model, x = tiny(), batch()

    def reshape(t):  # pytorch-grad-cam's ViT tutorial: drop the class token, tokens to a 4×4 map
        return t[:, 1:, :].reshape(t.size(0), 4, 4, t.size(2)).permute(0, 3, 1, 2)

    with GradCAM(model=model, target_layers=[model.blocks[-1].norm1], reshape_transform=reshape) as cam:
        expected = cam(input_tensor=x, targets=[ClassifierOutputTarget(3)])[0]
    ours = class_maps.class_map(model, "ViT", x, 3, "gradcam")
    np.testing.assert_allclose(ours, expected / expected.max(), atol=1e-5)
    assert ours.shape == (64, 64) and ours.max() == pytest.approx(1.0)


def _attention_by_hand(model, x):
    """(logits, per block the softmax(q·kᵀ·scale) attention) recomputed from timm's ViT weights."""
    t = model._pos_embed(model.patch_embed(x))
    attns = []
    for blk in model.blocks:
        h = blk.norm1(t)
        b, n, c = h.shape
        qkv = blk.attn.qkv(h).reshape(b, n, 3, blk.attn.num_heads, c // blk.attn.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        a = ((q * blk.attn.scale) @ k.transpose(-2, -1)).softmax(-1)
        attns.append(a)
        t = t + blk.attn.proj((a @ v).transpose(1, 2).reshape(b, n, c))
        t = t + blk.mlp(blk.norm2(t))
    return model.head(model.norm(t)[:, 0]), attns


def test_gradient_weighted_rollout_is_chefers_rule_written_out_on_a_two_layer_vit():
    model, x = tiny(depth=2), batch(1)
    x = x.requires_grad_(True)
    logits, attns = _attention_by_hand(model, x)
    target = int(logits.argmin())  # not the top class: any class is explained
    grads = torch.autograd.grad(logits[0, target], attns)
    r = torch.eye(17, dtype=torch.float64)
    for a, g in zip(attns, grads):
        r = r + (g[0] * a[0]).clamp(min=0).mean(0).double() @ r
    expected = r[0, 1:].detach().reshape(1, 1, 4, 4).float()  # the class token's row over the patches
    expected = F.interpolate(expected, size=(64, 64), mode="bilinear", align_corners=False)[0, 0]
    ours = class_maps.class_map(model, "ViT", x.detach(), target, "chefer")
    np.testing.assert_allclose(ours, (expected / expected.max()).numpy(), atol=1e-5)


def test_integrated_gradients_is_the_path_integral_from_the_mean_colour_written_out():
    model, x = tiny(seed=4), batch(7)
    nodes, weights = np.polynomial.legendre.leggauss(class_maps.IG_STEPS)  # Captum's default rule on [0, 1]
    grads = 0
    for a, w in zip((nodes + 1) / 2, weights / 2):
        point = (float(a) * x).requires_grad_(True)  # the straight path from 0: the dataset's mean colour
        grads = grads + float(w) * torch.autograd.grad(model(point)[0, 3], point)[0]
    attr = x * grads
    with torch.no_grad():
        drop = float(model(x)[0, 3] - model(torch.zeros_like(x))[0, 3])
    assert float(attr.sum()) == pytest.approx(drop, rel=0.05, abs=1e-3)  # completeness: all of f(x) - f(mean)
    expected = attr[0].sum(0).clamp_min(0)
    ours = class_maps.class_map(model, "ViT", x, 3, "ig")
    np.testing.assert_allclose(ours, (expected / expected.max()).numpy(), atol=1e-4)


def test_a_distilled_deit_rolls_out_both_tokens_or_either_heads_own():
    model, x = tiny("deit_tiny_distilled_patch16_224", seed=2), batch(2)
    assert class_maps.methods_for("DeiT", model)[:4] == ["ig", "chefer", "chefer-cls", "chefer-distill"]
    both, cls, dist = (class_maps.class_map(model, "DeiT", x, 1, m) for m in ("chefer", "chefer-cls",
                                                                               "chefer-distill"))
    assert not np.allclose(cls, dist)  # each token's own head and row
    with pytest.raises(ValueError, match="distilled DeiT"):
        class_maps.class_map(tiny(), "ViT", x, 1, "chefer-cls")


def test_swin_and_pvt_say_why_rollout_does_not_apply_and_get_the_other_methods():
    for family in ("Swin", "PVT-v2"):
        assert "chefer" not in class_maps.methods_for(family)
        with pytest.raises(ValueError, match="window|reduced"):
            class_maps.check_method(family, "chefer")


@pytest.mark.parametrize("family,build", [
    ("Swin", lambda: timm.create_model("swin_tiny_patch4_window7_224", pretrained=False, img_size=64, patch_size=4,
                                       window_size=4, embed_dim=16, depths=(1, 1, 1, 1), num_heads=(1, 1, 2, 2),
                                       num_classes=5).eval()),
    ("PVT-v2", lambda: timm.create_model("pvt_v2_b0", pretrained=False, embed_dims=(16, 16, 32, 32),
                                         depths=(1, 1, 1, 1), num_heads=(1, 1, 1, 1), num_classes=5).eval()),
    ("PerViT", lambda: PerViT(num_heads=2, emb_dims=[16, 16, 16, 16], convstem_dims=[3, 8, 8, 16, 16],
                              img_size=64, stem_strides=[2, 2, 2, 1], stages=(1, 1, 1, 1), num_classes=5).eval()),
])
def test_every_method_of_every_family_gives_a_map_over_the_input(family, build):
    torch.manual_seed(3)
    model, x = build(), batch(3)
    top = int(model(x).argmax())  # a random model's evidence for some other class can be negative everywhere
    for method in class_maps.methods_for(family):
        found = class_maps.class_map(model, family, x, top, method)
        assert found.shape == (64, 64) and found.min() >= 0 and found.max() == pytest.approx(1.0), method


def test_hooks_go_on_a_private_copy_and_the_shared_model_is_untouched():
    model, x = tiny(), batch()
    view, layer = class_maps.private_path(model, "blocks.1.norm1")
    assert layer is not model.blocks[1].norm1 and view.blocks[0] is model.blocks[0]
    calls = []
    layer.register_forward_hook(lambda *a: calls.append(1))
    model(x)
    assert calls == [] and not model.blocks[1].norm1._forward_hooks  # another request's pass is not seen
    view(x)
    assert calls == [1]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    class_maps.class_map(model, "ViT", x, 0, "gradcam")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_deletion_and_insertion_are_the_loop_of_their_definition():
    model, x = tiny(), batch(4)
    saliency = np.random.default_rng(0).random((64, 64))  # no ties: the order is the plain argsort
    got = faithfulness.deletion_insertion(model, x, 2, saliency, steps=8)
    order = np.argsort(-saliency.ravel())
    blurred = faithfulness.blurred(x)

    def probability(img):
        with torch.no_grad():
            return float(model(img).softmax(-1)[0, 2])

    deletion, insertion = [], []
    for k in np.round(np.linspace(0, 64 * 64, 9)).astype(int):
        gone = np.zeros(64 * 64, bool)
        gone[order[:k]] = True
        mask = torch.from_numpy(gone.reshape(64, 64))
        deletion.append(probability(torch.where(mask, torch.zeros_like(x), x)))
        insertion.append(probability(torch.where(mask, x, blurred)))
    np.testing.assert_allclose(got.deletion, deletion, atol=1e-5)
    np.testing.assert_allclose(got.insertion, insertion, atol=1e-5)
    assert got.deletion_auc == pytest.approx(np.trapezoid(deletion, dx=1 / 8))
    assert got.insertion_auc == pytest.approx(np.trapezoid(insertion, dx=1 / 8))


def test_the_randomization_check_fails_a_method_that_ignores_the_weights():
    model, x = tiny(), batch(5)
    broken = faithfulness.randomized_copy(model, lambda m: [m.blocks[-1], m.head])
    assert not torch.equal(broken.head.weight, model.head.weight)
    assert torch.equal(broken.blocks[0].attn.qkv.weight, model.blocks[0].attn.qkv.weight)  # lower blocks kept

    def edges(m, inp):  # a "method" that reads only the image
        return inp[0].abs().sum(0).numpy()

    assert faithfulness.rank_correlation(edges(model, x), edges(broken, x)) == pytest.approx(1.0)
    rho = faithfulness.rank_correlation(class_maps.class_map(model, "ViT", x, 1, "chefer"),
                                        class_maps.class_map(broken, "ViT", x, 1, "chefer"))
    assert rho < faithfulness.RANDOMIZED_BELOW


def test_targets_are_names_indices_or_the_top_one():
    names, probs = ("tench", "golf ball", "church"), torch.tensor([0.2, 0.7, 0.1])
    assert resolve_target(None, names, probs) == 1
    assert resolve_target("Church", names, probs) == 2 and resolve_target(0, names, probs) == 0
    assert resolve_target("2", names, probs) == 2
    with pytest.raises(ValueError, match="no class 'cat'.*tench"):
        resolve_target("cat", names, probs)
    with pytest.raises(ValueError, match="index 3 does not exist"):
        resolve_target(3, names, probs)


def test_explain_module_scores_the_map_against_random_and_rollout():
    model = tiny()
    pp = Preprocess(size=64, crop_pct=1.0)
    img = Image.fromarray(np.random.default_rng(6).integers(0, 256, (80, 64, 3), dtype=np.uint8))
    found = explain_module(model, "ViT", img, pp, ("a", "b", "c", "d", "e"), target="c", sanity=True)
    assert found.method == "ig" and found.target == 2 and found.label == "c"  # auto: the measured best
    assert found.map.shape == (80, 64) and found.input_map.shape == (64, 64)
    s = found.scores
    assert len(s.map.deletion) == faithfulness.STEPS + 1 and s.rollout is not None and s.randomization is not None
    assert s.map.deletion[0] == pytest.approx(found.probability, abs=1e-5)  # nothing deleted yet
    assert set(found.summary()) >= {"map_deletion_auc", "random_insertion_auc", "rollout_deletion_auc",
                                    "randomization_rho"}


def test_zoo_models_get_no_parameter_gradients(monkeypatch):
    from vtdemo.examples import example_files
    from vtdemo.zoo.loading import load_model

    golf = next(p for p in example_files() if p.stem == "golf-ball")
    found = explain_class(golf, "vit-demo", method="gradcam", scores=False)
    assert found.label == "golf ball" and found.scores is None
    assert all(p.grad is None and not p.requires_grad for p in load_model("vit-demo").parameters())
