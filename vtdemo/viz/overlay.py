"""Heat maps over images: a colour map, nearest-neighbour display scaling, outlines and a colour bar."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont


@lru_cache(maxsize=8)
def colormap(name: str = "Inferno", n: int = 256) -> np.ndarray:
    """(n, 3) uint8 lookup table interpolated from one of plotly's sequential colour scales."""
    import plotly.colors

    stops = [plotly.colors.hex_to_rgb(c) if c.startswith("#") else plotly.colors.unlabel_rgb(c)
             for c in getattr(plotly.colors.sequential, name)]
    stops = np.asarray(stops, dtype=np.float64)
    t = np.linspace(0, len(stops) - 1, n)
    lo = np.floor(t).astype(int).clip(0, len(stops) - 2)
    frac = (t - lo)[:, None]
    return np.round(stops[lo] * (1 - frac) + stops[lo + 1] * frac).astype(np.uint8)


def display_factor(size: tuple[int, int], target: int = 512) -> int:
    """Integer factor that brings the longer side near ``target`` px (small inputs are shown large, pixels crisp)."""
    return max(1, target // max(size))


def heat_overlay(image: Image.Image, heat: np.ndarray, *, alpha: float = 0.6, factor: int = 1,
                 vmax: float | None = None, cmap: str = "Inferno", gray: bool = False) -> Image.Image:
    """``image`` (h, w) with ``heat`` (h, w) blended on top, both enlarged ``factor``× with nearest-neighbour.
    Where heat is 0 the image shows through untouched; the blend grows with the heat. ``gray``: show the image as
    dimmed grey so that a sparse map stands out (as the LAM paper draws it)."""
    h, w = heat.shape
    if image.size != (w, h):
        raise ValueError(f"heat map {w}×{h} does not match the image {image.width}×{image.height}")
    top = float(vmax if vmax is not None else heat.max()) or 1.0
    norm = np.clip(heat.astype(np.float32) / np.float32(top), 0, 1)
    colours = colormap(cmap)[(norm * 255 + 0.5).astype(np.intp)].astype(np.float32)
    base = np.asarray(image.convert("L" if gray else "RGB").convert("RGB"), dtype=np.float32)
    if gray:
        base = 40 + 0.5 * base
    weight = (np.float32(alpha) * np.sqrt(norm))[..., None]  # sqrt: faint attention stays visible
    out = (base * (1 - weight) + colours * weight + 0.5).astype(np.uint8)
    return Image.fromarray(out.repeat(factor, 0).repeat(factor, 1))


def draw_mask_outline(image: Image.Image, mask: np.ndarray, factor: int, colour=(0, 255, 255), width: int = 2):
    """Draw the boundary of a boolean (h, w) ``mask`` on an image enlarged ``factor``× (in place)."""
    draw = ImageDraw.Draw(image)
    m = np.pad(mask, 1)
    for axis in (0, 1):
        edges = np.argwhere(np.diff(m.astype(np.int8), axis=axis) != 0)  # between cell i-1 and i (padded index)
        for i, j in edges:
            if axis == 0:  # horizontal edge at row i, spanning column j-1
                y, x0 = i * factor, (j - 1) * factor
                draw.line((x0, y, x0 + factor, y), fill=colour, width=width)
            else:
                x, y0 = j * factor, (i - 1) * factor
                draw.line((x, y0, x, y0 + factor), fill=colour, width=width)
    return image


def draw_box(image: Image.Image, box: tuple[float, float, float, float], factor: float, colour=(0, 255, 0),
             width: int = 2) -> Image.Image:
    """Outline ``box`` (x0, y0, x1, y1 in source pixels) on an image enlarged ``factor``× (in place)."""
    x0, y0, x1, y1 = (v * factor for v in box)
    ImageDraw.Draw(image).rectangle((x0, y0, x1 - 1, y1 - 1), outline=colour, width=width)
    return image


def with_colorbar(image: Image.Image, vmax: float, label: str, cmap: str = "Inferno", vmin: float = 0.0) -> Image.Image:
    """``image`` with a vertical colour bar on its right, labelled with ``vmin``, ``vmax`` and ``label``."""
    bar_w, pad, text_w = 16, 8, 64
    h = image.height
    out = Image.new("RGB", (image.width + pad + bar_w + text_w, h), "white")
    out.paste(image.convert("RGB"), (0, 0))
    lut = colormap(cmap)
    ramp = lut[np.linspace(255, 0, max(h - 20, 2)).round().astype(int)]
    out.paste(Image.fromarray(np.repeat(ramp[:, None], bar_w, 1)), (image.width + pad, 10))
    draw = ImageDraw.Draw(out)
    font = ImageFont.load_default(12)
    x = image.width + pad + bar_w + 4
    draw.text((x, 6), f"{vmax:.3g}", fill="black", font=font)
    draw.text((x, h - 22), f"{vmin:.3g}", fill="black", font=font)
    draw.text((x, h // 2 - 6), label, fill="black", font=font)
    return out


def draw_grid(image: Image.Image, box: tuple[float, float, float, float], rows: int, cols: int,
              colour=(255, 255, 255), width: int = 1) -> Image.Image:
    """Thin lines splitting ``box`` (in ``image`` pixels) into ``rows`` × ``cols`` cells (in place)."""
    draw = ImageDraw.Draw(image)
    x0, y0, x1, y1 = box
    for i in range(rows + 1):
        y = y0 + (y1 - y0) * i / rows
        draw.line((x0, y, x1, y), fill=colour, width=width)
    for j in range(cols + 1):
        x = x0 + (x1 - x0) * j / cols
        draw.line((x, y0, x, y1), fill=colour, width=width)
    return image
