"""The interface every attention probe implements (one module per family registers one ``Probe``; see registry.py).

A probe knows one family's attention: which layers and heads the model has (without running it), how to record every
layer in one pass, and how to read the row of one query token out of a recorded layer. Nothing here knows families.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class LayerInfo:
    """One attention layer as the controls show it: its name, head count and what is drawn around the query."""

    name: str
    heads: int
    drawing: str  # "grid" (every key token), "window", "reduced" (a coarser key grid) or "overlapping window"
    position: tuple[int, int] | None = None  # (stage or group, block) in hierarchical models


@dataclass
class Layer:
    """One attention layer's weights for one image: (windows or 1, heads, queries, keys) on the CPU."""

    attn: torch.Tensor
    grid: tuple[int, int]  # query token grid (rows, cols)
    key_grid: tuple[int, int]  # key token grid (rows, cols), prefix tokens excluded
    prefix: int = 0  # class / distillation tokens in front of the patches (ViT, DeiT)
    window: int = 0  # window side (Swin, HAT)
    shift: int = 0  # cyclic shift of a shifted-window layer
    name: str = ""
    extra: dict = field(default_factory=dict)  # family-specific views (PerViT: "content" and "position")


@dataclass
class TokenMap:
    """What one query token attends to in one layer, over the layer's key grid."""

    heat: np.ndarray  # (rows, cols) float32 weights (0 where the query has no key)
    window: np.ndarray | None = None  # (rows, cols) bool: the query's window, when the layer has windows
    keys: np.ndarray | None = None  # (rows, cols) bool: where the keys are, when not the window or the whole grid
    heads: np.ndarray | None = None  # (heads, rows, cols) every head's map, when the probe gives them
    channel: np.ndarray | None = None  # channel-attention weights of the block (HAT's CAB)
    kind: str = ""  # the layer's kind when the family has several (HAT: W-MSA, SW-MSA or OCAB)


def centres(rows: int, cols: int, size: float) -> torch.Tensor:
    """(rows·cols, 2) (x, y) centres of a rows×cols token grid covering a size×size input, row-major, in pixels."""
    r, c = torch.meshgrid(torch.arange(rows, dtype=torch.float64), torch.arange(cols, dtype=torch.float64),
                          indexing="ij")
    return torch.stack([(c.flatten() + 0.5) * size / cols, (r.flatten() + 0.5) * size / rows], -1)


def distance_sums(weights: torch.Tensor, queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """Per head, the sum over queries of the attention-weighted distance to the keys. ``weights`` (heads, Q, K) are
    renormalised to sum to 1 per query over these keys; ``queries`` (Q, 2) and ``keys`` (K, 2) positions."""
    w = weights.double()
    w = w / w.sum(-1, keepdim=True).clamp_min(1e-30)
    return (w * torch.cdist(queries, keys)).sum(-1).sum(-1)


def staged_blocks(stages):
    """(stage, block, module) for every block of a hierarchical model's stages, in forward order."""
    for s, stage in enumerate(stages):
        for b, block in enumerate(stage.blocks):
            yield s, b, block


def heads_of(a: torch.Tensor, head: int | None) -> torch.Tensor:
    """(…, heads, q, k) -> (…, q, k): the mean over heads (``head`` None) or one head."""
    return a.mean(-3) if head is None else a[..., head, :, :]


def rollout_of(attns: list[torch.Tensor]) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema 2020) of (N, N) head-averaged attention matrices in forward order:
    Π (0.5·A + 0.5·I), rows renormalised."""
    result = None
    for a in attns:
        a = 0.5 * a + 0.5 * torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
        a = a / a.sum(-1, keepdim=True)
        result = a if result is None else a @ result
    return result


@dataclass(frozen=True)
class AttentionGraph:
    """One forward pass whose attention weights stay in the autograd graph (explain/class_maps.py)."""

    logits: torch.Tensor  # (1, classes) of the head being explained
    attns: list[torch.Tensor]  # per layer (1, heads, N, N), N tokens including the prefix
    readout: tuple[int, ...]  # the token rows that reach the head (class tokens); () when all do (mean pooling)
    prefix: int  # class / distillation tokens before the patches
    grid: tuple[int, int]  # the patch grid
    tokens: torch.Tensor | None = None  # (1, N, C) the last tokens a mean-pooled model averages, in the graph


class Probe:
    """One family's attention probe. Subclasses set ``family`` and ``modes`` (the first is the default) and
    implement the three methods; the class-specific explanations use ``cam_layer`` / ``cam_reshape`` (Grad-CAM on
    the last block's tokens), ``top_blocks`` (the randomization check) and, where attention is global,
    ``attention_graph`` (gradient-weighted rollout; ``rollout_why_not`` says why not elsewhere)."""

    family: str = ""
    modes: tuple[str, ...] = ()
    rollout_why_not: str = ""  # "" where gradient-weighted attention rollout applies
    # the "auto" class map: the method with the best deletion and insertion over Imagenette val (docs/performance.md);
    # Integrated Gradients for every demo family (gradient-weighted rollout next for ViT and DeiT)
    class_map_default: str = "ig"

    def cam_layer(self, model: nn.Module) -> str:
        """The dotted name of the module whose output Grad-CAM weighs: the last block's tokens."""
        raise NotImplementedError

    def cam_reshape(self, model: nn.Module):
        """A function from that module's output to (B, C, rows, cols) feature maps (prefix tokens dropped)."""
        raise NotImplementedError

    def top_blocks(self, model: nn.Module) -> list[nn.Module]:
        """The modules the randomization check re-initialises: the classifier head(s) and the last block."""
        raise NotImplementedError

    def attention_graph(self, model: nn.Module, x: torch.Tensor, head: str = "") -> AttentionGraph:
        """A forward pass keeping every layer's attention in the graph; ``head`` picks one of a distilled model's
        heads ("cls" or "distill"; "" = what the model outputs)."""
        raise ValueError(self.rollout_why_not or f"{self.family} has no attention graph")

    def layers(self, model: nn.Module) -> list[LayerInfo]:
        """Every attention layer of ``model`` in forward order, read from its modules (no forward pass)."""
        raise NotImplementedError

    def capture(self, model: nn.Module, x: torch.Tensor) -> list[Layer]:
        """Every attention layer's weights for the input batch ``x`` (1, 3, H, W), in one forward pass that records
        for this call only (the model is shared by concurrent requests)."""
        raise NotImplementedError

    def token_map(self, layers: list[Layer], index: int, row: int, col: int, head: int | None,
                  mode: str) -> TokenMap:
        """The attention of the query token at (``row``, ``col``) of layer ``index``; ``head`` None = the mean."""
        raise NotImplementedError

    def distances(self, layers: list[Layer], size: int) -> list[np.ndarray]:
        """Per layer, each head's mean attention distance in pixels of the size×size model input: for every query
        token, the attention-weighted distance from its centre to the image-token keys' centres (weights
        renormalised over those keys), averaged over the queries (the ViT paper's Fig. 7)."""
        raise NotImplementedError

    def analysis(self, layers: list[Layer], index: int, row: int, col: int) -> dict | None:
        """Family-specific figures' data for a click (PerViT's peripheral analysis), or None."""
        return None
