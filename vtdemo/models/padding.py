"""Reflect padding to the bottom/right: what HAT's forward does to reach a multiple of its window (the official test
pipeline), and what a fixed-size exported graph needs for a smaller tile. It lives at the bottom layer because the
models use it and may import nothing else of vtdemo."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Reflect-pad bottom/right so H and W are multiples of ``multiple``."""
    h, w = x.shape[-2:]
    return pad_bottom_right(x, (-h) % multiple, (-w) % multiple)


def pad_bottom_right(x: torch.Tensor, ph: int, pw: int) -> torch.Tensor:
    """Reflect-pad ``ph`` rows at the bottom and ``pw`` columns at the right.

    Reflection needs the pad to be smaller than the side; for tiny inputs the image is reflected again and again
    (replicated when a side is 1 pixel), which the official code cannot do at all.
    """
    while ph or pw:
        sh, sw = x.shape[-2:]
        step_h = min(ph, sh - 1) if sh > 1 else 0
        step_w = min(pw, sw - 1) if sw > 1 else 0
        if step_h == 0 and step_w == 0:  # a 1-pixel side cannot be reflected
            return F.pad(x, (0, pw, 0, ph), mode="replicate")
        x = F.pad(x, (0, step_w, 0, step_h), mode="reflect")
        ph, pw = ph - step_h, pw - step_w
    return x
