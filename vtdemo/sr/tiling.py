"""Run an SR network over an image of any size in overlapping tiles, blended with a smooth weight window.

Memory: only one tile's activations live at a time; the output and its weight sum are the only full-size buffers,
so peak memory grows with the output size, not with the model's activations over the whole image.

Throughput: a tile costs its pixels, so the plan computes as few as it can — the whole image when it fits in one
tile; otherwise the fewest tiles per axis that reach the overlap, all of one size (a multiple of the model's window,
so nothing is padded inside the model) and spread evenly, instead of full tiles with a sliver left at the end.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

TileFn = Callable[[torch.Tensor], torch.Tensor]  # (1, 3, th, tw) -> (1, 3, th·s, tw·s)
TileProgress = Callable[[int, int], None]  # (tiles done, tiles total)


OVERLAP = 16  # LR pixels neighbouring tiles share by default (at most a quarter of the tile)


def overlap_for(tile: int, overlap: int | None = None) -> int:
    """The overlap used with ``tile``: ``overlap`` (default OVERLAP), at most a quarter of the tile."""
    return min(OVERLAP if overlap is None else overlap, tile // 4)


def tile_starts(length: int, tile: int, overlap: int, multiple: int = 1) -> tuple[list[int], int]:
    """(start offsets, tile length) covering [0, length) with the fewest tiles of at most ``tile`` that overlap by
    at least ``overlap``: all of one length — the shortest that still overlaps enough, rounded up to ``multiple``
    where that stays within ``tile`` — spaced evenly."""
    if length <= tile:
        return [0], length
    overlap = min(overlap, tile - 1)
    n = -(-(length - overlap) // (tile - overlap))  # fewest tiles: n·tile − (n−1)·overlap ≥ length
    size = -(-(length + (n - 1) * overlap) // n)
    rounded = -(-size // multiple) * multiple
    size = min(length, rounded if rounded <= tile else size)
    # consecutive starts differ by at most ceil((length − size)/(n − 1)) ≤ size − overlap
    return [i * (length - size) // (n - 1) for i in range(n)], size


def ramp(length: int, fade_start: int, fade_end: int) -> torch.Tensor:
    """1-D blending weight: rises over ``fade_start`` samples, falls over ``fade_end``, 1 in between (never 0)."""
    w = torch.ones(length)
    if fade_start:
        w[:fade_start] = (torch.arange(fade_start) + 0.5) / fade_start
    if fade_end:
        w[length - fade_end:] = torch.minimum(w[length - fade_end:], (torch.arange(fade_end, 0, -1) - 0.5) / fade_end)
    return w


@dataclass(frozen=True)
class Plan:
    """Where the tiles of an (h, w) image go: row and column starts, and the one tile size (th, tw)."""

    rows: list[int]
    cols: list[int]
    th: int
    tw: int

    @property
    def count(self) -> int:
        return len(self.rows) * len(self.cols)

    @property
    def pixels(self) -> int:
        """LR pixels the network computes (the image's own plus the overlaps)."""
        return self.count * self.th * self.tw


def plan(h: int, w: int, tile: int, overlap: int, multiple: int = 1) -> Plan:
    rows, th = tile_starts(h, tile, overlap, multiple)
    cols, tw = tile_starts(w, tile, overlap, multiple)
    return Plan(rows, cols, th, tw)


def count_tiles(h: int, w: int, tile: int, overlap: int, multiple: int = 1) -> int:
    return plan(h, w, tile, overlap, multiple).count


def run_tiled(fn: TileFn, lr: torch.Tensor, scale: int, tile: int, overlap: int,
              progress: TileProgress | None = None, multiple: int = 1) -> torch.Tensor:
    """Upscale ``lr`` (1, C, h, w) with ``fn`` tile by tile (``plan``); returns (1, C, h·s, w·s) float32 on the CPU.

    Neighbouring tiles overlap by at least ``overlap`` LR pixels; in the overlap each output pixel is a weighted
    mean with weights that ramp linearly from the tile's edge, so seams vanish. Image borders get full weight.
    """
    _, c, h, w = lr.shape
    p = plan(h, w, tile, overlap, multiple)
    if p.count == 1:
        out = fn(lr).float().cpu()
        if progress:
            progress(1, 1)
        return out
    out = torch.zeros(1, c, h * scale, w * scale)
    weight = torch.zeros(1, 1, h * scale, w * scale)
    rows, cols, th, tw = p.rows, p.cols, p.th, p.tw
    done = 0
    for ri, y in enumerate(rows):
        for ci, x in enumerate(cols):
            result = fn(lr[:, :, y:y + th, x:x + tw]).float().cpu()
            # fade only towards neighbours: the actual overlap with the previous / next tile
            top = (rows[ri - 1] + th - y) * scale if ri else 0
            bottom = (y + th - rows[ri + 1]) * scale if ri + 1 < len(rows) else 0
            left = (cols[ci - 1] + tw - x) * scale if ci else 0
            right = (x + tw - cols[ci + 1]) * scale if ci + 1 < len(cols) else 0
            win = ramp(th * scale, top, bottom)[:, None] * ramp(tw * scale, left, right)[None, :]
            ys, xs = slice(y * scale, (y + th) * scale), slice(x * scale, (x + tw) * scale)
            out[:, :, ys, xs] += result * win
            weight[:, :, ys, xs] += win
            done += 1
            if progress:
                progress(done, p.count)
    return out.div_(weight)  # in place: the output is the largest buffer of a request
