"""PVT-v2: the query at its stage's stride over the spatially reduced key grid."""
from __future__ import annotations

import math

from vtdemo.explain import timm_attention
from vtdemo.explain.base import Layer, LayerInfo, Probe, TokenMap, centres, distance_sums, heads_of, staged_blocks


def _blocks(model):
    return staged_blocks(model.stages)


class PVTProbe(Probe):
    family = "PVT-v2"
    modes = ("reduced",)
    rollout_why_not = ("PVT-v2's queries attend to a spatially reduced key grid (keys are pooled regions, fewer "
                       "than the queries) and its stages change resolution, so attention matrices do not compose "
                       "into a token-to-token rollout; Grad-CAM on its last stage and Integrated Gradients apply.")

    def cam_layer(self, model):
        return f"stages.{len(model.stages) - 1}.norm"  # the last block's tokens, normalised, (B, N, C)

    def cam_reshape(self, model):
        def reshape(t):
            side = math.isqrt(t.shape[1])
            return t.reshape(t.shape[0], side, side, t.shape[-1]).permute(0, 3, 1, 2)
        return reshape

    def top_blocks(self, model):
        return [list(_blocks(model))[-1][2], model.head]

    def layers(self, model):
        return [LayerInfo(f"stage {s} block {b}", block.attn.num_heads, "reduced", (s, b))
                for s, b, block in _blocks(model)]

    def capture(self, model, x):
        layers = []
        for (s, b, _), a in zip(_blocks(model), timm_attention.record(model, x)):
            side, kside = math.isqrt(a.shape[-2]), math.isqrt(a.shape[-1])
            layers.append(Layer(a, (side, side), (kside, kside), name=f"stage {s} block {b} (keys {kside}×{kside})"))
        return layers

    def token_map(self, layers, index, row, col, head, mode):
        lay = layers[index]
        kr, kc = lay.key_grid
        return TokenMap(heads_of(lay.attn[0], head)[row * lay.grid[1] + col].reshape(kr, kc).numpy())

    def distances(self, layers, size):
        # a reduced key sits at the centre of the region it pools
        return [(distance_sums(lay.attn[0], centres(*lay.grid, size), centres(*lay.key_grid, size))
                 / (lay.grid[0] * lay.grid[1])).numpy() for lay in layers]
