"""Where the model's input lies in the original image: timm's eval transform (short side resized to size / crop_pct,
centre crop) as a geometry, mapping points and maps both ways (attention maps in image coordinates, clicks on the
model's view back to the image)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vtdemo.zoo.cards import Preprocess


@dataclass(frozen=True)
class Geometry:
    """Original image (width, height) -> resized (rw, rh) -> crop of side ``size`` at (left, top)."""

    width: int
    height: int
    resized: tuple[int, int]
    left: int
    top: int
    size: int

    def to_input(self, x: float, y: float) -> tuple[float, float]:
        """Original pixel coordinates -> model-input pixel coordinates."""
        return (x * self.resized[0] / self.width - self.left, y * self.resized[1] / self.height - self.top)

    def from_input(self, x: float, y: float) -> tuple[float, float]:
        """Model-input pixel coordinates -> original pixel coordinates (the inverse of ``to_input``)."""
        return ((x + self.left) * self.width / self.resized[0], (y + self.top) * self.height / self.resized[1])

    def to_image(self, heat: np.ndarray) -> np.ndarray:
        """A map over the model input (any resolution, covering the crop) -> (height, width) over the original
        image, bilinear, zero outside the crop. Computed on the original grid only (never at the resized size,
        which an extreme aspect ratio makes huge)."""
        rows, cols = heat.shape
        out = np.zeros((self.height, self.width), dtype=np.float32)
        xs = (np.arange(self.width) + 0.5) * self.resized[0] / self.width - self.left  # in crop pixels
        ys = (np.arange(self.height) + 0.5) * self.resized[1] / self.height - self.top
        in_x, in_y = np.nonzero((xs >= 0) & (xs < self.size))[0], np.nonzero((ys >= 0) & (ys < self.size))[0]
        if in_x.size and in_y.size:
            mx = _linear_weights(xs[in_x] * cols / self.size - 0.5, cols)
            my = _linear_weights(ys[in_y] * rows / self.size - 0.5, rows)
            out[in_y[0]:in_y[-1] + 1, in_x[0]:in_x[-1] + 1] = my @ heat.astype(np.float32) @ mx.T
        return out


def _linear_weights(coords: np.ndarray, n: int) -> np.ndarray:
    """(len(coords), n) weights of linear interpolation at ``coords`` (edge samples repeated outside)."""
    c = np.clip(coords, 0, n - 1)
    i0 = np.floor(c).astype(int)
    i1 = np.minimum(i0 + 1, n - 1)
    frac = (c - i0).astype(np.float32)
    weights = np.zeros((len(coords), n), dtype=np.float32)
    rows = np.arange(len(coords))
    np.add.at(weights, (rows, i0), 1 - frac)
    np.add.at(weights, (rows, i1), frac)
    return weights


def geometry(width: int, height: int, pp: Preprocess) -> Geometry:
    """timm's eval transform: short side -> floor(size / crop_pct), aspect kept; centre crop of ``size``."""
    scale_size = math.floor(pp.size / pp.crop_pct)
    if width <= height:
        rw, rh = scale_size, int(scale_size * height / width)
    else:
        rw, rh = int(scale_size * width / height), scale_size
    return Geometry(width, height, (rw, rh), int(round((rw - pp.size) / 2.0)), int(round((rh - pp.size) / 2.0)),
                    pp.size)
