"""PerViT's peripheral analysis: how far each head looks (mean attention distance) and φp for one query."""
from __future__ import annotations

import numpy as np
import torch


def mean_distance(weights: torch.Tensor, grid: int) -> np.ndarray:
    """Per head, the attention-weighted mean distance between query and key tokens, averaged over queries, in
    token units. ``weights``: (1, heads, N, N) with rows summing to 1."""
    coords = torch.stack(torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij"), -1).view(-1, 2)
    dist = torch.cdist(coords.float(), coords.float())  # (N, N)
    w = weights[0].double()
    w = w / w.sum(-1, keepdim=True)
    return (w * dist.double()).sum(-1).mean(-1).numpy()


def distance_table(capture, mode: str = "position") -> np.ndarray:
    """(layers, heads) mean attention distance of a PerViT capture, for "position" (φp) or "mixed" attention."""
    grid = capture.layers[0].grid[0]
    return np.stack([mean_distance(layer.attn if mode == "mixed" else layer.extra["position"], grid)
                     for layer in capture.layers])
