"""A card's input pipeline (resize the short side to size / crop_pct, centre-crop, normalise), and the geometry that
maps between the original image and the model's input (for attention maps in image coordinates)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from vtdemo.zoo.cards import Preprocess

FULL_RESIZE_MAX = 16  # the whole image is resized first (exactly as timm does) while that is ≤ 16 model inputs
_RESAMPLE = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR,
             "nearest": Image.Resampling.NEAREST}


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


def resized_crop(rgb: Image.Image, geo: Geometry, resample: Image.Resampling) -> Image.Image:
    """The centre crop of ``rgb`` resized to ``geo.resized``, computing only the crop: the work and memory are
    bounded by the model's input whatever the aspect ratio (a 1×60000 image would otherwise be resized to 73×4.4 M
    pixels first). It replays Pillow's two passes — horizontal first, into 8 bits, over only the rows the vertical
    pass reads, then vertical — each over just the crop's span (``box``); the float offsets of ``box`` move a few
    pixels by one level compared with resizing the whole image."""
    fx, fy = rgb.width / geo.resized[0], rgb.height / geo.resized[1]
    x0, x1 = geo.left * fx, (geo.left + geo.size) * fx
    y0, y1 = geo.top * fy, (geo.top + geo.size) * fy
    reach = 3 * max(fy, 1.0) + 2  # input rows a filter tap can reach (Lanczos: 3 taps a side)
    top, bottom = max(0, math.floor(y0 - reach)), min(rgb.height, math.ceil(y1 + reach))
    rows = rgb.crop((0, top, rgb.width, bottom)).resize((geo.size, bottom - top), resample,
                                                        box=(x0, 0, x1, bottom - top))
    return rows.resize((geo.size, geo.size), resample, box=(0, y0 - top, geo.size, y1 - top))


def preprocess(rgb: Image.Image, pp: Preprocess) -> tuple[torch.Tensor, Geometry, Image.Image]:
    """(normalised (1, 3, size, size) tensor, geometry, the crop the model sees as an RGB image)."""
    geo = geometry(rgb.width, rgb.height, pp)
    rgb, resample = rgb.convert("RGB"), _RESAMPLE[pp.interpolation]
    if geo.resized[0] * geo.resized[1] <= FULL_RESIZE_MAX * pp.size * pp.size:
        resized = rgb.resize(geo.resized, resample)  # exactly timm's eval transform
        crop = resized.crop((geo.left, geo.top, geo.left + pp.size, geo.top + pp.size))
    else:  # an extreme aspect ratio: bounded work, pixels within 1/255 of the full resize
        crop = resized_crop(rgb, geo, resample)
    x = torch.from_numpy(np.asarray(crop, dtype=np.float32) / 255.0).permute(2, 0, 1)
    mean, std = torch.tensor(pp.mean).view(3, 1, 1), torch.tensor(pp.std).view(3, 1, 1)
    return ((x - mean) / std).unsqueeze(0), geo, crop
