"""Why this class? Class-specific maps over a classifier's input, for every family:

- Grad-CAM and LayerCAM through pytorch-grad-cam, on the last block's tokens as the family's probe reshapes them;
- gradient-weighted attention rollout (Chefer, Gur & Wolf, ICCV 2021, "Generic Attention-model Explainability")
  where attention is global (ViT, DeiT — both tokens or either —, PerViT): R ← R + mean_h(relu(∇A ⊙ A))·R from
  R = I, read at the tokens that reach the head;
- Integrated Gradients through Captum, the model-agnostic baseline.

Every map is (size, size) over the model's input, ≥ 0, scaled to a maximum of 1. The model is shared with
concurrent requests: hooks go on a private copy of the hooked module only (``private_path``), and nothing writes to
the shared weights (zoo models carry no parameter gradients).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vtdemo.explain.base import AttentionGraph, rollout_of
from vtdemo.explain.registry import probe_for


@dataclass(frozen=True)
class Method:
    name: str
    paper: str
    head: str = ""  # a distilled DeiT's head explained through its own token ("" = the model's output)


METHODS: dict[str, Method] = {
    "chefer": Method("gradient-weighted rollout", "Chefer, Gur & Wolf, ICCV 2021"),
    "chefer-cls": Method("gradient-weighted rollout, class token", "Chefer, Gur & Wolf, ICCV 2021", "cls"),
    "chefer-distill": Method("gradient-weighted rollout, distillation token", "Chefer, Gur & Wolf, ICCV 2021",
                             "distill"),
    "gradcam": Method("Grad-CAM", "Selvaraju et al., ICCV 2017"),
    "layercam": Method("LayerCAM", "Jiang et al., IEEE TIP 2021"),
    "ig": Method("Integrated Gradients", "Sundararajan, Taly & Yan, ICML 2017"),
}
IG_STEPS = 32  # Captum's steps (Gauss–Legendre nodes) along the path from the mean colour
IG_BATCH = 8


def is_distilled(model: nn.Module) -> bool:
    return hasattr(model, "head_dist") and getattr(model, "num_prefix_tokens", 1) == 2


def methods_for(family: str, model: nn.Module | None = None) -> list[str]:
    """The methods that apply to ``family`` (to ``model`` when given: the token-specific rollouts need a distilled
    DeiT), the family's default first (``Probe.class_map_default``: the best measured by ``bench explain``)."""
    probe = probe_for(family)
    names = ["gradcam", "layercam", "ig"]
    if not probe.rollout_why_not:
        distilled = model is not None and is_distilled(model)
        names = ["chefer", *(["chefer-cls", "chefer-distill"] if distilled else []), *names]
    return sorted(names, key=lambda n: n != probe.class_map_default)


def check_method(family: str, method: str, model: nn.Module | None = None) -> str:
    """``method`` ("auto" = the family's first) if it applies to the family; a clear error otherwise."""
    names = methods_for(family, model)
    if method in ("auto", "", None):
        return names[0]
    if method not in METHODS:
        raise ValueError(f"unknown method {str(method)[:30]!r}: one of {', '.join(METHODS)}")
    if method.startswith("chefer") and probe_for(family).rollout_why_not:
        raise ValueError(probe_for(family).rollout_why_not)
    if method not in names:
        raise ValueError(f"{method} needs a distilled DeiT (a class token and a distillation token)")
    return method


def private_path(model: nn.Module, path: str) -> tuple[nn.Module, nn.Module]:
    """(a view of ``model``, its module at dotted ``path``): the modules along the path are shallow copies with
    their own child lists and the last one a deep copy, so hooks put on it see this call's forward passes only;
    every other weight is the shared model's."""
    root = copy.copy(model)
    root._modules = dict(model._modules)
    node, parts = root, path.split(".")
    for i, name in enumerate(parts):
        child = node._modules[name]
        if i == len(parts) - 1:
            child = copy.deepcopy(child)
        else:
            child = copy.copy(child)
            child._modules = dict(child._modules)
        node._modules[name] = child
        node = child
    return root, node


def _scaled(m: torch.Tensor) -> np.ndarray:
    m = m.detach().float().clamp_min(0).cpu()
    top = float(m.max())
    return (m / top if top > 0 else m).numpy().astype(np.float32)


def _to_input(grid_map: torch.Tensor, size: int) -> torch.Tensor:
    return F.interpolate(grid_map[None, None].float(), size=(size, size), mode="bilinear", align_corners=False)[0, 0]


def grad_cam(model: nn.Module, family: str, x: torch.Tensor, target: int, variant: str = "gradcam") -> np.ndarray:
    """Grad-CAM / LayerCAM of class ``target`` by pytorch-grad-cam at the probe's layer and reshape."""
    from pytorch_grad_cam import GradCAM, LayerCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    probe = probe_for(family)
    view, layer = private_path(model, probe.cam_layer(model))
    cls = {"gradcam": GradCAM, "layercam": LayerCAM}[variant]
    with cls(model=view, target_layers=[layer], reshape_transform=probe.cam_reshape(model)) as cam:
        cam.compute_input_gradient = True  # zoo weights carry no gradients: the graph starts at the input
        with torch.enable_grad():
            found = cam(input_tensor=x.detach().float(), targets=[ClassifierOutputTarget(int(target))])
    return _scaled(torch.from_numpy(np.ascontiguousarray(found[0])))


def gradient_rollout(graph: AttentionGraph, score: torch.Tensor) -> torch.Tensor:
    """Chefer's rule over a pass's attention: (rows, cols) relevance of the patches for ``score``."""
    pooled = not graph.readout and graph.tokens is not None
    grads = torch.autograd.grad(score, [*graph.attns, *([graph.tokens] if pooled else [])])
    n = graph.attns[0].shape[-1]
    eye = torch.eye(n, dtype=torch.float64, device=score.device)
    relevance = eye
    for a, g in zip(graph.attns, grads):
        cam = (g[0] * a[0]).clamp_min(0).mean(0).detach().double()  # mean over heads of relu(∇A ⊙ A)
        relevance = relevance + cam @ relevance
    if pooled:
        # the mean pooling is one more attention row, a_j = 1/N over the last tokens t_j: Chefer's update for it
        # gives the pooled token relu(∇a ⊙ a)·R, with ∇a_j ⊙ a_j ∝ ∇t_j · t_j (identity included: through the
        # residual a token's own content reaches the pooling)
        start = (grads[-1][0] * graph.tokens[0]).sum(-1).clamp_min(0).detach().double()
        return ((start @ relevance) / start.sum().clamp_min(1e-30))[graph.prefix:].reshape(graph.grid)
    return _readout(graph, relevance - eye)  # what attention added (the identity reaches no patch of a class row)


def _readout(graph: AttentionGraph, relevance: torch.Tensor) -> torch.Tensor:
    """The relevance rows that reach the head (averaged), over the patch tokens, as the patch grid."""
    rows = relevance[list(graph.readout)] if graph.readout else relevance
    return rows.mean(0)[graph.prefix:].reshape(graph.grid)


def chefer(model: nn.Module, family: str, x: torch.Tensor, target: int, head: str = "") -> np.ndarray:
    with torch.enable_grad():
        graph = probe_for(family).attention_graph(model, x.detach().float().requires_grad_(True), head)
        return _scaled(_to_input(gradient_rollout(graph, graph.logits[0, int(target)]), x.shape[-1]))


def attention_rollout(model: nn.Module, family: str, x: torch.Tensor) -> np.ndarray | None:
    """The class-agnostic baseline: Abnar & Zuidema's rollout read where Chefer's is (None without global
    attention)."""
    probe = probe_for(family)
    if probe.rollout_why_not:
        return None
    with torch.no_grad():
        graph = probe.attention_graph(model, x.detach().float())
        joint = rollout_of([a[0].mean(0).double() for a in graph.attns])
    return _scaled(_to_input(_readout(graph, joint), x.shape[-1]))


def integrated_gradients(model: nn.Module, x: torch.Tensor, target: int) -> np.ndarray:
    """Captum's Integrated Gradients, summed over colours; the positive part (evidence for the class). The path
    starts at the dataset's mean colour (0 in the normalised input), the "absent" that deletion puts in: IG's
    completeness then splits f(x) − f(mean colour), the very drop deletion measures. (From a black image — far
    outside the training colours at −2σ — its maps beat a random one on both deletion and insertion on 43–73 % of
    Imagenette val images; from the mean colour on 80–90 %: ``bench explain``.)"""
    from captum.attr import IntegratedGradients

    x = x.detach().float()
    with torch.enable_grad():
        attr = IntegratedGradients(model).attribute(x, baselines=torch.zeros_like(x), target=int(target),
                                                    n_steps=IG_STEPS, internal_batch_size=IG_BATCH)
    return _scaled(attr[0].sum(0))


def class_map(model: nn.Module, family: str, x: torch.Tensor, target: int, method: str) -> np.ndarray:
    """(size, size) map of class ``target`` over the input ``x`` (1, 3, size, size) by ``method`` (checked)."""
    method = check_method(family, method, model)
    if method.startswith("chefer"):
        return chefer(model, family, x, target, METHODS[method].head)
    if method == "ig":
        return integrated_gradients(model, x, target)
    return grad_cam(model, family, x, target, method)
