"""A card's input pipeline (resize the short side to size / crop_pct, centre-crop, normalise), and the geometry that
maps between the original image and the model's input (for attention maps in image coordinates)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from vtdemo.zoo.cards import Preprocess

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
        image, zero outside the crop (bilinear)."""
        crop = Image.fromarray(heat.astype(np.float32), mode="F").resize((self.size, self.size),
                                                                          Image.Resampling.BILINEAR)
        canvas = np.zeros((self.resized[1], self.resized[0]), dtype=np.float32)
        canvas[self.top:self.top + self.size, self.left:self.left + self.size] = np.asarray(crop)
        return np.asarray(Image.fromarray(canvas, mode="F").resize((self.width, self.height),
                                                                   Image.Resampling.BILINEAR))


def geometry(width: int, height: int, pp: Preprocess) -> Geometry:
    """timm's eval transform: short side -> floor(size / crop_pct), aspect kept; centre crop of ``size``."""
    scale_size = math.floor(pp.size / pp.crop_pct)
    if width <= height:
        rw, rh = scale_size, int(scale_size * height / width)
    else:
        rw, rh = int(scale_size * width / height), scale_size
    return Geometry(width, height, (rw, rh), int(round((rw - pp.size) / 2.0)), int(round((rh - pp.size) / 2.0)),
                    pp.size)


def preprocess(rgb: Image.Image, pp: Preprocess) -> tuple[torch.Tensor, Geometry, Image.Image]:
    """(normalised (1, 3, size, size) tensor, geometry, the crop the model sees as an RGB image)."""
    geo = geometry(rgb.width, rgb.height, pp)
    resized = rgb.convert("RGB").resize(geo.resized, _RESAMPLE[pp.interpolation])
    crop = resized.crop((geo.left, geo.top, geo.left + pp.size, geo.top + pp.size))
    x = torch.from_numpy(np.asarray(crop, dtype=np.float32) / 255.0).permute(2, 0, 1)
    mean, std = torch.tensor(pp.mean).view(3, 1, 1), torch.tensor(pp.std).view(3, 1, 1)
    return ((x - mean) / std).unsqueeze(0), geo, crop
