"""ViT and DeiT: the clicked patch's attention row, the class (or distillation) token's row, and attention rollout."""
from __future__ import annotations

import torch

from vtdemo.explain import timm_attention
from vtdemo.explain.base import (AttentionGraph, Layer, LayerInfo, Probe, TokenMap, centres, distance_sums,
                                 heads_of, rollout_of)


def rollout(layers: list[Layer], upto: int, head: int | None = None) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema 2020) through layers 0..upto: Π (0.5·A + 0.5·I), rows renormalised."""
    return rollout_of([heads_of(layer.attn[0], head) for layer in layers[:upto + 1]])


def _tokens_to_maps(prefix: int, grid: tuple[int, int]):
    def reshape(t: torch.Tensor) -> torch.Tensor:  # (B, prefix + rows·cols, C) -> (B, C, rows, cols)
        return t[:, prefix:].reshape(t.shape[0], *grid, t.shape[-1]).permute(0, 3, 1, 2)
    return reshape


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

    def cam_layer(self, model):
        return f"blocks.{len(model.blocks) - 1}.norm1"  # pytorch-grad-cam's choice for ViT

    def cam_reshape(self, model):
        return _tokens_to_maps(model.num_prefix_tokens, tuple(model.patch_embed.grid_size))

    def top_blocks(self, model):
        heads = [m for m in (model.head, getattr(model, "head_dist", None)) if isinstance(m, torch.nn.Module)]
        return [model.blocks[-1], *heads]

    def attention_graph(self, model, x, head=""):
        prefix = model.num_prefix_tokens
        with timm_attention.recording_graph(model) as attns:
            if head:  # one head of a distilled DeiT, read from its own token
                if prefix != 2 or head not in ("cls", "distill"):
                    raise ValueError(f"head {head[:20]!r}: only a distilled DeiT has 'cls' and 'distill' heads")
                tokens = model.forward_features(x)
                logits = model.head(tokens[:, 0]) if head == "cls" else model.head_dist(tokens[:, 1])
            else:
                logits = model(x)
        pooled = getattr(model, "global_pool", "token") != "token"  # averaged patch tokens reach the head
        readout = () if pooled else {"cls": (0,), "distill": (1,)}.get(head, tuple(range(prefix)))
        return AttentionGraph(logits, list(attns), readout, prefix, tuple(model.patch_embed.grid_size))

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
