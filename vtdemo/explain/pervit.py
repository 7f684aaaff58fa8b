"""PerViT: "mixed" (what the model uses), "content" softmax(q·kᵀ·scale) and "position" φp, per block and head; and
the peripheral analysis (how far each head looks: the mean attention distance, and φp of every head for the
query)."""
from __future__ import annotations

import numpy as np
import torch

from vtdemo.explain.base import AttentionGraph, Layer, LayerInfo, Probe, TokenMap, centres, distance_sums, heads_of


def mean_distance(weights: torch.Tensor, grid: int) -> np.ndarray:
    """Per head, the attention-weighted mean distance between query and key tokens, averaged over queries, in
    token units. ``weights``: (1, heads, N, N) with rows summing to 1."""
    coords = torch.stack(torch.meshgrid(torch.arange(grid), torch.arange(grid), indexing="ij"), -1).view(-1, 2)
    dist = torch.cdist(coords.float(), coords.float())  # (N, N)
    w = weights[0].double()
    w = w / w.sum(-1, keepdim=True)
    return (w * dist.double()).sum(-1).mean(-1).numpy()


def distance_table(layers: list[Layer], mode: str = "position") -> np.ndarray:
    """(layers, heads) mean attention distance of a PerViT capture, for "position" (φp) or "mixed" attention."""
    grid = layers[0].grid[0]
    return np.stack([mean_distance(layer.attn if mode == "mixed" else layer.extra["position"], grid)
                     for layer in layers])


class PerViTProbe(Probe):
    family = "PerViT"
    modes = ("mixed", "content", "position")

    def cam_layer(self, model):
        return "norm"  # the last block's tokens, normalised, before the mean pooling

    def cam_reshape(self, model):
        return lambda t: t.reshape(t.shape[0], model.grid, model.grid, t.shape[-1]).permute(0, 3, 1, 2)

    def top_blocks(self, model):
        return [model.blocks[-1], model.head]

    def attention_graph(self, model, x, head=""):
        if head:
            raise ValueError("PerViT has one head")
        with model.capturing(keep_graph=True) as record:
            tokens = model.forward_tokens(x)
            logits = model.head(tokens.mean(1))
        return AttentionGraph(logits, record.mixed, (), 0, (model.grid, model.grid), tokens)  # mean-pooled

    def layers(self, model):
        return [LayerInfo(f"block {i}", block.attn.num_heads, "grid") for i, block in enumerate(model.blocks)]

    def capture(self, model, x):
        with torch.no_grad():
            with model.capturing() as record:
                model(x)
            mixed = [a.float().cpu() for a in record.mixed]
            content = [a.float().cpu() for a in record.content]
            position = [p.float().cpu() for p in model.position_attention()]
        side = model.grid
        return [Layer(m, (side, side), (side, side), name=f"block {i}",
                      extra={"content": c, "position": p / p.sum(-1, keepdim=True)})
                for i, (m, c, p) in enumerate(zip(mixed, content, position))]

    def token_map(self, layers, index, row, col, head, mode):
        lay = layers[index]
        rows, cols = lay.grid
        weights = lay.attn if mode == "mixed" else lay.extra[mode]
        return TokenMap(heads_of(weights[0], head)[row * cols + col].reshape(rows, cols).numpy())

    def distances(self, layers, size):
        """The mixed attention (what the model uses); φp's is in ``analysis``."""
        return [(distance_sums(lay.attn[0], centres(*lay.grid, size), centres(*lay.grid, size))
                 / (lay.grid[0] * lay.grid[1])).numpy() for lay in layers]

    def analysis(self, layers, index, row, col):
        lay = layers[index]
        rows, cols = lay.grid
        return {"position_distance": distance_table(layers, "position"),
                "mixed_distance": distance_table(layers, "mixed"),
                "position_maps": lay.extra["position"][0, :, row * cols + col].reshape(-1, rows, cols).numpy(),
                "query": (row, col), "layer": lay.name}
