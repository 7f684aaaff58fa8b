"""A card's input pipeline: resize the short side to size / crop_pct, centre-crop, normalise (timm's eval transform)."""
from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image

from vtdemo.classify.geometry import Geometry, geometry
from vtdemo.zoo.cards import Preprocess

FULL_RESIZE_MAX = 16  # the whole image is resized first (exactly as timm does) while that is ≤ 16 model inputs
_RESAMPLE = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR,
             "nearest": Image.Resampling.NEAREST}


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
