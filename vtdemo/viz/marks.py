"""The input with where a view looks drawn on it — a click, LAM's output box, the zoom inspector's region, a
classifier's centre crop — as a small picture beside each tab's input (the input itself stays as uploaded)."""
from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, ImageDraw

PREVIEW = 320  # the picture's longer side: small images are enlarged (nearest), large ones reduced


@dataclass(frozen=True)
class Mark:
    """A box (x0, y0, x1, y1) or, when x0 == x1 and y0 == y1, a point, in the input's pixels."""

    box: tuple[float, float, float, float]
    colour: tuple[int, int, int] = (0, 255, 0)

    @staticmethod
    def point(x: float, y: float, colour=(0, 255, 0)) -> "Mark":
        return Mark((x, y, x, y), colour)


def marked(image: Image.Image, marks: list[Mark], side: int = PREVIEW) -> Image.Image:
    """``image`` scaled so its longer side is ``side``, with every mark drawn on it (boxes outlined, points as a
    cross-hair), each mark scaled with the picture."""
    factor = side / max(image.size)
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    resample = Image.Resampling.NEAREST if factor > 1 else Image.Resampling.BILINEAR
    out = image.convert("RGB").resize(size, resample)
    draw = ImageDraw.Draw(out)
    for mark in marks:
        x0, y0, x1, y1 = (v * factor for v in mark.box)
        if (x0, y0) == (x1, y1):
            draw.line((x0 - 8, y0, x0 + 8, y0), fill=mark.colour, width=2)
            draw.line((x0, y0 - 8, x0, y0 + 8), fill=mark.colour, width=2)
        else:
            draw.rectangle((x0, y0, max(x0, x1 - 1), max(y0, y1 - 1)), outline=mark.colour, width=2)
    return out
