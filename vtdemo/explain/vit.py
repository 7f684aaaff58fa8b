"""ViT and DeiT: the clicked patch's attention row, the class (or distillation) token's row, and attention rollout."""
from __future__ import annotations

import torch

from vtdemo.explain import timm_attention
from vtdemo.explain.base import Layer, LayerInfo, Probe, TokenMap, centres, distance_sums, heads_of


def rollout(layers: list[Layer], upto: int, head: int | None = None) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema 2020) through layers 0..upto: Π (0.5·A + 0.5·I), rows renormalised."""
    result = None
    for layer in layers[:upto + 1]:
        a = heads_of(layer.attn[0], head)
        a = 0.5 * a + 0.5 * torch.eye(a.shape[-1])
        a = a / a.sum(-1, keepdim=True)
        result = a if result is None else a @ result
    return result


class ViTProbe(Probe):
    family = "ViT"
    modes = ("patch", "cls", "rollout")
    _query_tokens = {"cls": 0}  # prefix tokens a mode reads the row of

    def layers(self, model):
        return [LayerInfo(f"block {i}", m.num_heads, "grid")
                for i, m in enumerate(timm_attention.attention_modules(model))]

    def capture(self, model, x):
        grid = tuple(model.patch_embed.grid_size)
        return [Layer(a, grid, grid, prefix=model.num_prefix_tokens, name=f"block {i}")
                for i, a in enumerate(timm_attention.record(model, x))]

    def token_map(self, layers, index, row, col, head, mode):
        lay = layers[index]
        rows, cols = lay.grid
        if mode == "rollout":
            weights = rollout(layers, index, head)[0]  # the class token's row
        else:
            query = self._query_tokens.get(mode, lay.prefix + row * cols + col)
            weights = heads_of(lay.attn[0], head)[query]
        return TokenMap(weights[lay.prefix:].reshape(rows, cols).numpy())

    def distances(self, layers, size):
        out = []
        for lay in layers:
            p, pos = lay.prefix, centres(*lay.grid, size)
            patches = lay.attn[0, :, p:, p:]  # image-token queries and keys: class / distillation tokens left out
            out.append((distance_sums(patches, pos, pos) / len(pos)).numpy())
        return out


class DeiTProbe(ViTProbe):
    family = "DeiT"
    modes = ("patch", "cls", "distill", "rollout")
    _query_tokens = {"cls": 0, "distill": 1}
