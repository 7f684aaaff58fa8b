"""The "where it looks" picture beside each tab's input: the input with the click, LAM's output box, the zoom
region or each classifier's centre crop drawn on it (``vtdemo.viz.marks``), redrawn when they change. The handlers
are ``light``: they follow the controls on their own and must not take a place under the session's cap."""
from __future__ import annotations

import gradio as gr

from vtdemo.ui import validate
from vtdemo.ui.admission import light
from vtdemo.ui.errors import user_errors
from vtdemo.ui.files import run_dir, save_png

CLICK, CROP, REGION = (0, 255, 0), (255, 200, 0), (255, 64, 64)


def picture(label: str, elem_id: str) -> gr.Image:
    """The picture's component (in the layout, under the input)."""
    return gr.Image(label=label, type="filepath", format="png", interactive=False, height=170, elem_id=elem_id,
                    buttons=[])


def _draw(image, marks) -> str | None:
    from vtdemo.imaging import decode_image
    from vtdemo.viz.marks import marked

    return save_png(marked(decode_image(image).rgb, marks), run_dir() / "where.png") if image else None


def crop_box(image_size: tuple[int, int], model_id: str) -> tuple[float, float, float, float]:
    """The part of an image a classifier sees (its eval transform's centre crop), in the image's pixels."""
    from vtdemo.classify.geometry import geometry
    from vtdemo.zoo.cards import get_card

    g = geometry(*image_size, get_card(model_id).preprocess)
    return (*g.from_input(0, 0), *g.from_input(g.size, g.size))


@light
@user_errors
def for_classifiers(image, model_ids):
    """Each chosen classifier's centre crop (one box: they share a crop when their transforms agree)."""
    from vtdemo.imaging import header_size
    from vtdemo.viz.marks import Mark

    size = header_size(image) if image else None
    if size is None:
        return None
    boxes = {crop_box(size, m) for m in validate.model_ids(model_ids or [], "classifiers", max_count=8)}
    return _draw(image, [Mark(b, CROP) for b in sorted(boxes)])


@light
@user_errors
def for_attention(image, model_id, x, y):
    """The click, and the chosen classifier's centre crop (clicks outside it have no query)."""
    from vtdemo.imaging import header_size
    from vtdemo.viz.marks import Mark

    size = header_size(image) if image else None
    if size is None or not model_id:
        return None
    x, y = validate.number(x, "x"), validate.number(y, "y")
    return _draw(image, [Mark(crop_box(size, validate.text(model_id, "model_id")), CROP), Mark.point(x, y, CLICK)])


@light
@user_errors
def for_lam(image, x, y, scale, window: int = 16):
    """LAM's output box, in input pixels (the box is ``window`` output pixels: ``window / scale`` input ones)."""
    from vtdemo.imaging import header_size
    from vtdemo.sr.lam import box_at
    from vtdemo.viz.marks import Mark

    size = header_size(image) if image else None
    if size is None:
        return None
    scale = validate.integer(scale, "scale", 2, 4)
    x, y = validate.integer(x, "x"), validate.integer(y, "y")
    left, top = box_at((x, y), size, scale, window)
    return _draw(image, [Mark((left / scale, top / scale, (left + window) / scale, (top + window) / scale), CLICK)])


@light
@user_errors
def for_zoom(image, cx, cy, zoom, scale, view: int):
    """The zoom inspector's region on the input: what its crops of the results show (``view`` output pixels at
    ``zoom``×, so ``view / (zoom × scale)`` input pixels)."""
    from vtdemo.imaging import header_size
    from vtdemo.viz.marks import Mark
    from vtdemo.viz.zoom import zoom_box

    size = header_size(image) if image else None
    if size is None:
        return None
    cx, cy = validate.number(cx, "Centre x", 0, 100), validate.number(cy, "Centre y", 0, 100)
    zoom, scale = validate.number(zoom, "Zoom", 1, 64), validate.integer(scale, "scale", 1, 8)
    return _draw(image, [Mark(zoom_box(size, (cx / 100, cy / 100), zoom * scale, view), REGION)])
