"""Recovered or invented? Two maps that say where a super-resolved result departs from what it was given.

- **LR consistency**: the output downscaled with the degradation the model assumes — the antialiased bicubic
  downscale the bicubic-trained models (and the benchmarks) are made with; for an interpolation (the "bicubic"
  baseline), sampling at the input's pixel centres, which an interpolant passes through — against the input, per
  LR pixel. Where
  the two agree, the output is *one* high-resolution image that explains the input; where they disagree, the model
  changed what was given (a real-world model removing noise or JPEG blocks disagrees on purpose; one that paints a
  texture in disagrees where it painted). Detail above the input's Nyquist frequency leaves no trace here by
  construction: that is what the disagreement map and LAM are for.
- **Disagreement** of two results (e.g. a real-world or GAN model and a fidelity one), per output pixel.

Both in 0..255 luma levels (BT.601), with their mean and the share of pixels above :data:`THRESHOLD`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from vtdemo.imaging import ImageSource, decode_image, rgb_to_y

THRESHOLD = 8.0  # luma levels: a bicubic enlargement, sampled back, stays under 3.3 on photos (tested)


@dataclass(frozen=True)
class DepartureMap:
    """Per-pixel |difference| of luma (0..255) and what the caption says about it."""
    map: np.ndarray  # (h, w) float32
    threshold: float
    what: str  # "LR consistency" or "disagreement"

    @property
    def mean(self) -> float:
        return float(self.map.mean())

    @property
    def share_above(self) -> float:
        return float((self.map > self.threshold).mean())

    def caption(self) -> str:
        return (f"{self.what}: mean {self.mean:.2f} of 255 luma levels, {100 * self.share_above:.1f} % of pixels "
                f"off by more than {self.threshold:g}")

    def overlay(self, image: Image.Image, vmax: float = 32.0) -> Image.Image:
        """The map over ``image`` of any size (the map resized to it, nearest neighbour: each map pixel a block of
        the pixels it covers), with a colour bar."""
        from vtdemo.viz.overlay import heat_overlay, with_colorbar

        h, w = self.map.shape
        heat = self.map if image.size == (w, h) else \
            np.asarray(Image.fromarray(self.map).resize(image.size, Image.Resampling.NEAREST))
        return with_colorbar(heat_overlay(image, heat, vmax=vmax, gray=True), vmax, "levels")


def _rgb(image: ImageSource) -> Image.Image:
    """An image given as a PIL image is used as it is (it is in memory already: results the server wrote can be
    over the input pixel limit); anything else goes through the safe decoder and its limits."""
    return image.convert("RGB") if isinstance(image, Image.Image) else decode_image(image).rgb


def _luma(image: Image.Image) -> np.ndarray:
    return rgb_to_y(np.asarray(image.convert("RGB"), dtype=np.float32))


DEGRADATIONS = ("bicubic", "sampling")


def assumed_for(model: str) -> str:
    """The degradation a model assumes: sampling for the interpolation baseline, the bicubic downscale otherwise."""
    return "sampling" if model == "bicubic" else "bicubic"


def assumed_downscale(output: Image.Image, size: tuple[int, int], degradation: str = "bicubic") -> np.ndarray:
    """``output`` taken back to ``size`` (w, h) as the model assumes its input was made: "bicubic", the
    antialiased bicubic downscale; "sampling", bicubic interpolation at the input's pixel centres. RGB float."""
    if degradation == "bicubic":
        return np.asarray(output.convert("RGB").resize(size, Image.Resampling.BICUBIC), dtype=np.float64)
    if degradation != "sampling":
        raise ValueError(f"unknown degradation {degradation!r}: {', '.join(DEGRADATIONS)}")
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(np.asarray(output.convert("RGB"), dtype=np.float32)).permute(2, 0, 1)[None]
    down = F.interpolate(t, size=(size[1], size[0]), mode="bicubic", align_corners=False, antialias=False)
    return down[0].permute(1, 2, 0).clamp(0, 255).double().numpy()


def consistency_map(output: ImageSource, given: ImageSource, degradation: str = "bicubic",
                    threshold: float = THRESHOLD) -> DepartureMap:
    """Where ``output`` (an SR result) disagrees with the input it was made from, per input pixel, after the
    ``degradation`` the model assumes (:func:`assumed_for`)."""
    out, lr = _rgb(output), _rgb(given)
    if out.width % lr.width or out.height % lr.height or out.width // lr.width != out.height // lr.height:
        raise ValueError(f"the output {out.width}×{out.height} is not an integer enlargement of the input "
                         f"{lr.width}×{lr.height}")
    down = rgb_to_y(assumed_downscale(out, lr.size, degradation))
    return DepartureMap(np.abs(down - _luma(lr)).astype(np.float32), threshold, "LR consistency")


def disagreement_map(first: ImageSource, second: ImageSource, threshold: float = THRESHOLD) -> DepartureMap:
    """Where two results of the same input differ, per output pixel."""
    a, b = _rgb(first), _rgb(second)
    if a.size != b.size:
        raise ValueError(f"the results differ in size ({a.width}×{a.height} and {b.width}×{b.height})")
    return DepartureMap(np.abs(_luma(a) - _luma(b)).astype(np.float32), threshold, "disagreement")
