"""Pictures of attention and attribution: the classifier view with a query's map, HAT's window/OCAB map around a
pixel, a LAM map around its box. The tabs, the API and the bench all draw through these."""
from __future__ import annotations

import numpy as np
from PIL import Image

from vtdemo.viz.overlay import (display_factor, draw_box, draw_grid, draw_mask_outline, heat_overlay,
                                with_colorbar)

VIEW = 448  # a classifier's view is shown at this size (an integer multiple of every token grid here)


def classifier_overlay(cap, point, layer: int, head, mode: str | None, vmax: float | None = None,
                       found=None) -> tuple[Image.Image, str]:
    """The model's view with the clicked query's attention, the token grid (or its window) and the query; and a
    one-line description. ``vmax``: the top of the colour scale (default: this map's maximum)."""
    from vtdemo.explain.probes import layer_index, query_map, token_at

    found = found or query_map(cap, point, layer, head, mode)
    heat, window = found.heat, found.window
    lay = cap.layers[layer_index(cap, layer)]
    if cap.display is None:  # the enlarged view, once per capture
        cap.display = cap.view.resize((VIEW, VIEW), Image.Resampling.BICUBIC)
    rows, cols = heat.shape
    up = np.asarray(Image.fromarray(heat.astype(np.float32), mode="F").resize((VIEW, VIEW), Image.Resampling.NEAREST))
    img = heat_overlay(cap.display, up, alpha=0.7, vmax=vmax)
    if rows <= 32:
        draw_grid(img, (0, 0, VIEW, VIEW), rows, cols, colour=(255, 255, 255))
    if window is not None:
        draw_mask_outline(img, window, VIEW // window.shape[0], colour=(0, 255, 255), width=3)
    r, c = token_at(lay, cap.geometry, point)
    qr, qc = lay.grid
    draw_box(img, (c, r, c + 1, r + 1), VIEW / qc, colour=(0, 255, 0), width=3)
    info = (f"{lay.name}: query token ({r}, {c}) of {qr}×{qc}; keys {rows}×{cols}"
            + ("; cyan: its (shifted) window" if window is not None else "")
            + f"; max weight {heat.max():.3f}")
    return with_colorbar(img, float(vmax if vmax is not None else heat.max()), mode or "attn"), info


def compare_overlays(image, model_ids: list[str], point, depth: float, head="mean", shared_scale: bool = False,
                     capture=None) -> list[tuple[Image.Image, str]]:
    """One click, several classifiers: each model's view with its query's attention at the same relative depth
    (0 = first attention layer, 1 = last) in its family's own mode; with ``shared_scale`` one colour scale for all.
    ``capture(image, model_id)`` gives a model's capture (default: the shared cache; a second click runs nothing).
    Returns (overlay, caption) per model."""
    import time

    from vtdemo.explain.probes import cached_capture, depth_layer, query_map
    from vtdemo.explain.registry import probe_for
    from vtdemo.zoo.cards import get_card

    if not 0 <= depth <= 1:
        raise ValueError(f"depth must be between 0 (first layer) and 1 (last), not {depth:g}.")
    capture = capture or cached_capture
    views = []
    for model_id in model_ids:
        start = time.perf_counter()
        cap = capture(image, model_id)
        layer = depth_layer(cap, depth)
        try:
            found = query_map(cap, point, layer, head, None)
        except ValueError as exc:  # e.g. a head this model's layer does not have
            raise ValueError(f"{get_card(model_id).name}: {exc}") from None
        views.append((model_id, cap, layer, found, time.perf_counter() - start))
    top = max(float(v[3].heat.max()) for v in views) if shared_scale else None
    out = []
    for model_id, cap, layer, found, seconds in views:
        start = time.perf_counter()
        img, info = classifier_overlay(cap, point, layer, head, None, vmax=top, found=found)
        ms = (seconds + time.perf_counter() - start) * 1000
        mode = probe_for(cap.family).modes[0]
        out.append((img, f"{get_card(model_id).name} · {info} · {mode} · {ms:.0f} ms"))
    return out


def view_to_image(cap, x: float, y: float) -> tuple[float, float]:
    """A click on the displayed view (VIEW×VIEW) -> original image coordinates."""
    size = cap.geometry.size
    return cap.geometry.from_input(x * size / VIEW, y * size / VIEW)


def hat_overlay(found, lr: Image.Image, x: int, y: int) -> tuple[Image.Image, tuple[int, int, int, int]]:
    """The neighbourhood of a HAT query's keys, magnified (windows are a few pixels wide), with the map, the window
    (cyan), an OCAB's overlapping window (amber) and the query pixel (green); and the (left, top, right, bottom) of
    the region shown, in ``lr`` pixels."""
    ys, xs = np.nonzero(found.keys)
    margin = int(found.window.sum() ** 0.5)
    top, left = max(0, ys.min() - margin), max(0, xs.min() - margin)
    bottom, right = min(lr.height, ys.max() + 1 + margin), min(lr.width, xs.max() + 1 + margin)
    crop = (slice(top, bottom), slice(left, right))
    factor = display_factor((right - left, bottom - top), 384)
    img = heat_overlay(lr.crop((left, top, right, bottom)), found.heat[crop], factor=factor, alpha=0.8)
    if not np.array_equal(found.keys, found.window):
        draw_mask_outline(img, found.keys[crop], factor, colour=(255, 200, 0))
    draw_mask_outline(img, found.window[crop], factor, colour=(0, 255, 255))
    draw_box(img, (x - left, y - top, x - left + 1, y - top + 1), factor, colour=(0, 255, 0))
    return with_colorbar(img, float(found.heat.max()), "attn"), (left, top, right, bottom)


def lam_overlay(result) -> Image.Image:
    """The attributed neighbourhood of the input, magnified, with the LAM map, the box (green) and a colour bar.
    A large image is cropped to where the attribution is (plus a margin), else its few pixels would be invisible."""
    h, w = result.map.shape
    bx0, by0, bx1, by1 = (v / result.scale for v in result.box)
    ys, xs = np.nonzero(result.map > 0.01)
    margin = 8
    left = int(max(0, min(xs.min(initial=w), bx0) - margin))
    top = int(max(0, min(ys.min(initial=h), by0) - margin))
    right = int(min(w, max(xs.max(initial=0) + 1, bx1) + margin))
    bottom = int(min(h, max(ys.max(initial=0) + 1, by1) + margin))
    crop = result.lr.crop((left, top, right, bottom))
    factor = display_factor(crop.size, 384)
    img = heat_overlay(crop, result.map[top:bottom, left:right], factor=factor, alpha=0.9, gray=True)
    draw_box(img, (bx0 - left, by0 - top, bx1 - left, by1 - top), factor, colour=(0, 255, 0))
    return with_colorbar(img, 1.0, "LAM")


def analysis_figures(analysis: dict) -> list:
    """A probe's click analysis as figures (PerViT: mean attention distance per head, φp of every head)."""
    from vtdemo.viz.plots import distance_figure, head_maps_figure

    r, c = analysis["query"]
    return [distance_figure(analysis["position_distance"], analysis["mixed_distance"], analysis["token_px"]),
            head_maps_figure(analysis["position_maps"], (r, c),
                             f"φp of every head for query ({r}, {c}), {analysis['layer']}")]


def class_overlay(explanation, side: int = VIEW, image: Image.Image | None = None) -> Image.Image:
    """The model's view at ``side`` px (or the whole original ``image``) with a class map on the shared 0–1 scale
    (every map is scaled to its own maximum) and the colour bar."""
    if image is not None:
        base, heat = image, explanation.map
    else:
        base = explanation.view.resize((side, side), Image.Resampling.BICUBIC)
        heat = np.asarray(Image.fromarray(explanation.input_map, mode="F").resize((side, side),
                                                                                  Image.Resampling.BILINEAR))
    return with_colorbar(heat_overlay(base, heat, alpha=0.7, vmax=1.0), 1.0, "relevance")
