"""The zoom inspector's maths: the same region of images of different sizes, magnified with nearest-neighbour."""
from __future__ import annotations

from PIL import Image, ImageDraw


def zoom_box(size: tuple[int, int], center: tuple[float, float], zoom: float, view: int) -> tuple[int, int, int, int]:
    """The (left, top, right, bottom) box of ``size`` shown at ``zoom``× in a ``view``-pixel square.

    ``center`` is given as fractions (0..1) of the image's width and height, so the same centre picks the same
    content in an LR input and in every ×s output. The box is clamped inside the image.
    """
    w, h = size
    side = max(1, round(view / zoom))
    bw, bh = min(side, w), min(side, h)
    left = min(max(0, round(center[0] * w - bw / 2)), w - bw)
    top = min(max(0, round(center[1] * h - bh / 2)), h - bh)
    return left, top, left + bw, top + bh


def zoom_crop(image: Image.Image, center: tuple[float, float], zoom: float, view: int = 256) -> Image.Image:
    """The region of ``image`` around ``center`` (fractions) magnified ``zoom``× with nearest-neighbour."""
    box = zoom_box(image.size, center, zoom, view)
    crop = image.crop(box)
    factor = max(1, round(zoom))
    return crop.resize((crop.width * factor, crop.height * factor), Image.Resampling.NEAREST)


def outline(image: Image.Image, box: tuple[int, int, int, int], colour=(255, 64, 64), width: int = 2) -> Image.Image:
    """A copy of ``image`` (RGB) with ``box`` drawn on it."""
    out = image.convert("RGB")
    ImageDraw.Draw(out).rectangle((box[0], box[1], box[2] - 1, box[3] - 1), outline=colour, width=width)
    return out
