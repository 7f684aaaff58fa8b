"""Swin: the clicked token's (shifted) window, mapped back through the cyclic shift, per stage and block."""
from __future__ import annotations

import numpy as np

from vtdemo.explain import timm_attention
import torch

from vtdemo.explain.base import Layer, LayerInfo, Probe, TokenMap, centres, distance_sums, heads_of, staged_blocks


def _blocks(model):
    return staged_blocks(model.layers)


class SwinProbe(Probe):
    family = "Swin"
    modes = ("window",)
    rollout_why_not = ("Swin attends within (shifted) windows, never across the image, so there is no token-to-"
                       "token attention matrix to roll out; Grad-CAM on its last stage and Integrated Gradients "
                       "apply.")

    def cam_layer(self, model):
        s, b, _ = list(_blocks(model))[-1]
        return f"layers.{s}.blocks.{b}.norm1"

    def cam_reshape(self, model):
        return lambda t: t.permute(0, 3, 1, 2)  # timm's Swin blocks keep (B, H, W, C)

    def top_blocks(self, model):
        return [list(_blocks(model))[-1][2], model.head]

    def layers(self, model):
        return [LayerInfo(f"stage {s} block {b} ({'SW' if block.shift_size[0] else 'W'}-MSA)",
                          block.attn.num_heads, "window", (s, b)) for s, b, block in _blocks(model)]

    def capture(self, model, x):
        weights = timm_attention.record(model, x)
        layers = []
        for (s, b, block), a in zip(_blocks(model), weights):
            res = tuple(block.input_resolution)
            shift = block.shift_size[0]
            layers.append(Layer(a, res, res, window=block.window_size[0], shift=shift,
                                name=f"stage {s} block {b} ({'SW' if shift else 'W'}-MSA)"))
        return layers

    def token_map(self, layers, index, row, col, head, mode):
        lay = layers[index]
        rows, cols = lay.grid
        m, s = lay.window, lay.shift
        sr, sc = (row - s) % rows, (col - s) % cols  # the query's place in the rolled (shifted) map
        wi, wj = sr // m, sc // m
        weights = heads_of(lay.attn[wi * (cols // m) + wj], head)[(sr % m) * m + sc % m].reshape(m, m).numpy()
        heat, window = np.zeros((rows, cols), np.float32), np.zeros((rows, cols), bool)
        rr, cc = (wi * m + np.arange(m) + s) % rows, (wj * m + np.arange(m) + s) % cols  # rolled back
        heat[rr[:, None], cc[None, :]] = weights
        window[rr[:, None], cc[None, :]] = True
        return TokenMap(heat, window=window)

    def distances(self, layers, size):
        out = []
        for lay in layers:
            rows, cols = lay.grid
            m, s = lay.window, lay.shift
            pos = centres(rows, cols, size).view(rows, cols, 2)
            # the token at (r, c) of the rolled map is image token ((r + s) % rows, (c + s) % cols)
            pos = torch.roll(pos, shifts=(-s, -s), dims=(0, 1))
            windows = pos.view(rows // m, m, cols // m, m, 2).permute(0, 2, 1, 3, 4).reshape(-1, m * m, 2)
            total = sum(distance_sums(lay.attn[w], windows[w], windows[w]) for w in range(len(windows)))
            out.append((total / (rows * cols)).numpy())
        return out
