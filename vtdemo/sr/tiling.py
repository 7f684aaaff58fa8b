"""Run an SR network over an image of any size in overlapping tiles, blended with a smooth weight window.

Memory: only one tile's activations live at a time; the output and its weight sum are the only full-size buffers,
so peak memory grows with the output size, not with the model's activations over the whole image.
"""
from __future__ import annotations

from typing import Callable

import torch

TileFn = Callable[[torch.Tensor], torch.Tensor]  # (1, 3, th, tw) -> (1, 3, th·s, tw·s)
TileProgress = Callable[[int, int], None]  # (tiles done, tiles total)


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets covering [0, length) with tiles of ``tile`` overlapping by at least ``overlap``."""
    if length <= tile:
        return [0]
    step = max(1, tile - overlap)
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return starts


def ramp(length: int, fade_start: int, fade_end: int) -> torch.Tensor:
    """1-D blending weight: rises over ``fade_start`` samples, falls over ``fade_end``, 1 in between (never 0)."""
    w = torch.ones(length)
    if fade_start:
        w[:fade_start] = (torch.arange(fade_start) + 0.5) / fade_start
    if fade_end:
        w[length - fade_end:] = torch.minimum(w[length - fade_end:], (torch.arange(fade_end, 0, -1) - 0.5) / fade_end)
    return w


def count_tiles(h: int, w: int, tile: int, overlap: int) -> int:
    return len(tile_starts(h, tile, overlap)) * len(tile_starts(w, tile, overlap))


def run_tiled(fn: TileFn, lr: torch.Tensor, scale: int, tile: int, overlap: int,
              progress: TileProgress | None = None) -> torch.Tensor:
    """Upscale ``lr`` (1, C, h, w) with ``fn`` tile by tile; returns (1, C, h·s, w·s) float32 on the CPU.

    Neighbouring tiles overlap by ``overlap`` LR pixels; in the overlap each output pixel is a weighted mean with
    weights that ramp linearly from the tile's edge, so seams vanish. Image borders get full weight.
    """
    _, c, h, w = lr.shape
    rows, cols = tile_starts(h, tile, overlap), tile_starts(w, tile, overlap)
    if len(rows) == 1 and len(cols) == 1:
        out = fn(lr).float().cpu()
        if progress:
            progress(1, 1)
        return out
    out = torch.zeros(1, c, h * scale, w * scale)
    weight = torch.zeros(1, 1, h * scale, w * scale)
    total, done = len(rows) * len(cols), 0
    for ri, y in enumerate(rows):
        th = min(tile, h - y)
        for ci, x in enumerate(cols):
            tw = min(tile, w - x)
            result = fn(lr[:, :, y:y + th, x:x + tw]).float().cpu()
            # fade only towards neighbours: the actual overlap with the previous / next tile
            top = (rows[ri - 1] + tile - y) * scale if ri else 0
            bottom = (y + th - rows[ri + 1]) * scale if ri + 1 < len(rows) else 0
            left = (cols[ci - 1] + tile - x) * scale if ci else 0
            right = (x + tw - cols[ci + 1]) * scale if ci + 1 < len(cols) else 0
            win = ramp(th * scale, top, bottom)[:, None] * ramp(tw * scale, left, right)[None, :]
            ys, xs = slice(y * scale, (y + th) * scale), slice(x * scale, (x + tw) * scale)
            out[:, :, ys, xs] += result * win
            weight[:, :, ys, xs] += win
            done += 1
            if progress:
                progress(done, total)
    return out.div_(weight)  # in place: the output is the largest buffer of a request
