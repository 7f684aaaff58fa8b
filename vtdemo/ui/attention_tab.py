"""Attention tab: click a pixel, see what a classifier's query there attends to (per layer, head and mode), with the
token grid or window drawn; PerViT adds its peripheral analysis. The /attention endpoint."""
from __future__ import annotations

import time
from functools import lru_cache

import gradio as gr
import numpy as np
from PIL import Image

from vtdemo.ui.classify_tab import classifier_choices, default_classifiers
from vtdemo.ui.components import ImageUpload, NumberInput
from vtdemo.ui import on_device, validate
from vtdemo.ui.errors import user_errors
from vtdemo.ui.files import run_dir, save_png
from vtdemo.zoo.cards import get_card

VIEW = 448  # the model's view is shown at this size (an integer multiple of every token grid here)


def _modes(model_id: str | None) -> list[str]:
    from vtdemo.explain.probes import MODES

    return list(MODES[get_card(model_id).family]) if model_id else ["patch"]


def render(cap, point, layer: int, head, mode: str) -> tuple[Image.Image, str]:
    """The model's view with the clicked query's attention, the token grid (or Swin window) and the query."""
    from vtdemo.explain.probes import MODES, token_at, token_map
    from vtdemo.viz.overlay import draw_box, draw_grid, draw_mask_outline, heat_overlay, with_colorbar

    mode = mode or MODES[cap.family][0]
    heat, mask = token_map(cap, point, layer, head, mode)
    lay = cap.layers[layer % len(cap.layers)]
    if cap.display is None:  # the enlarged view, once per capture
        cap.display = cap.view.resize((VIEW, VIEW), Image.Resampling.BICUBIC)
    view = cap.display
    rows, cols = heat.shape
    up = np.asarray(Image.fromarray(heat.astype(np.float32), mode="F").resize((VIEW, VIEW), Image.Resampling.NEAREST))
    img = heat_overlay(view, up, alpha=0.7)
    if rows <= 32:
        draw_grid(img, (0, 0, VIEW, VIEW), rows, cols, colour=(255, 255, 255))
    if mask is not None:
        draw_mask_outline(img, mask, VIEW // mask.shape[0], colour=(0, 255, 255), width=3)
    r, c = token_at(lay, cap.geometry, point)
    qr, qc = lay.grid
    draw_box(img, (c, r, c + 1, r + 1), VIEW / qc, colour=(0, 255, 0), width=3)
    info = (f"{lay.name}: query token ({r}, {c}) of {qr}×{qc}; keys {rows}×{cols}"
            + ("; cyan: its (shifted) window" if mask is not None else "")
            + (f"; max weight {heat.max():.3f}"))
    return with_colorbar(img, float(heat.max()), mode), info


def _point_from_view(cap, x: float, y: float) -> tuple[float, float]:
    """A click on the displayed view -> original image coordinates."""
    geo = cap.geometry
    cx, cy = x * geo.size / VIEW + geo.left, y * geo.size / VIEW + geo.top
    return cx * geo.width / geo.resized[0], cy * geo.height / geo.resized[1]


def attention_view(image, model_id, x, y, layer, head, mode):
    """(overlay path, info markdown, peripheral figures or None, server ms)."""
    start = time.perf_counter()
    model_id = validate.text(model_id, "model_id")
    x, y = validate.number(x, "x"), validate.number(y, "y")
    layer = validate.integer(layer, "layer")
    head = validate.text(str(head) if isinstance(head, int) else head or "mean", "head")
    mode = validate.text(mode, "mode") if mode else None
    get_card(model_id)
    cap = on_device.attention_capture(image, model_id)
    img, info = render(cap, (x, y), layer, head, mode)
    path = save_png(img, run_dir() / "attention.png")
    ms = (time.perf_counter() - start) * 1000
    return str(path), f"{info}. Server time {ms:.0f} ms.", cap, ms


def peripheral_figures(cap, point, layer):
    from vtdemo.explain.peripheral import distance_table
    from vtdemo.explain.probes import token_at
    from vtdemo.viz.plots import distance_figure, head_maps_figure

    lay = cap.layers[layer % len(cap.layers)]
    r, c = token_at(lay, cap.geometry, point)
    rows, cols = lay.grid
    maps = lay.extra["position"][0, :, r * cols + c].reshape(-1, rows, cols).numpy()
    token_px = cap.geometry.size / rows
    return (distance_figure(distance_table(cap, "position"), distance_table(cap, "mixed"), token_px),
            head_maps_figure(maps, (r, c), f"φp of every head for query ({r}, {c}), {lay.name}"))


@user_errors
def on_show(image, model_id, x, y, layer, head, mode):
    if not image:
        raise gr.Error("Upload an image (or pick an example) first.")
    if not model_id:
        raise gr.Error("No classifier is available: see the Classify tab.")
    path, info, cap, _ = attention_view(image, model_id, x, y, layer, head, mode)
    if cap.family == "PerViT":
        distance, heads = peripheral_figures(cap, (float(x), float(y)), int(layer))  # validated above
        return path, info, gr.update(value=distance, visible=True), gr.update(value=heads, visible=True)
    return path, info, gr.update(visible=False), gr.update(visible=False)


@user_errors
def on_image_click(image, evt: gr.SelectData):
    if not image:
        return gr.skip(), gr.skip()
    x, y = validate.click(evt)
    return int(x), int(y)


@user_errors
def on_view_click(image, model_id, evt: gr.SelectData):
    """A click on the overlay (the model's view) -> the original pixel under it."""
    if not image or not model_id:
        return gr.skip(), gr.skip()
    cap = on_device.attention_capture(image, validate.text(model_id, "model_id"))
    x, y = _point_from_view(cap, *validate.click(evt))
    return int(x), int(y)


@lru_cache(maxsize=32)
def layer_and_head_counts(model_id: str) -> tuple[int, int]:
    """(attention layers, most heads in any layer) of a classifier; built once per id, not on every page load."""
    from vtdemo.explain.probes import _timm_attention_modules
    from vtdemo.zoo.builders import classifier_architecture

    model = classifier_architecture(get_card(model_id))
    modules = [b.attn for b in model.blocks] if hasattr(model, "rpe_proj") else _timm_attention_modules(model)
    return len(modules), max(m.num_heads for m in modules)


def on_model(model_id: str | None):
    if not model_id:
        return gr.skip(), gr.skip(), gr.skip()
    layers, heads = layer_and_head_counts(model_id)
    modes = _modes(model_id)
    return (gr.update(maximum=layers - 1, value=layers - 1),
            gr.update(choices=["mean"] + [str(h) for h in range(heads)], value="mean"),
            gr.update(choices=modes, value=modes[0]))


@user_errors
def attention_api(image: str, model_id: str, x: float, y: float, layer: int = -1, head: str = "mean",
                  mode: str = "") -> str:
    """The clicked pixel's attention overlay (the model's view, PNG)."""
    if not image:
        raise gr.Error("No image given.")
    return attention_view(image, model_id, x, y, layer, head, mode or None)[0]


def build(demo: gr.Blocks) -> None:
    from vtdemo.examples import PHOTOS, SCENES, example_files

    choices = classifier_choices()
    first = (default_classifiers() or [None])[0]
    with gr.Tab("Attention", id="attention"):
        gr.Markdown("Click the image: the heat map shows what the query at that point attends to, in the chosen "
                    "layer and head. ViT/DeiT: a patch's row, the class (or distillation) token's row, or attention "
                    "rollout; Swin: the (shifted) window holding the click; PVT-v2: the spatially reduced keys; "
                    "PerViT: content, position (φp) or mixed attention, plus its peripheral analysis. The first "
                    "click runs the model once; further clicks reuse that pass.")
        with gr.Row():
            with gr.Column(scale=2, min_width=320):
                image = ImageUpload(type="filepath", image_mode=None, label="Image (click a point)",
                                    sources=["upload", "clipboard"], elem_id="att-input", height=320)
                gr.Examples([[str(p)] for p in example_files() if p.stem in PHOTOS or p.stem in SCENES],
                            inputs=image)
                model = gr.Dropdown(choices, value=first, label="Model", elem_id="attn-model")
                with gr.Row():
                    x = NumberInput(value=0, precision=0, label="x", elem_id="attn-x")
                    y = NumberInput(value=0, precision=0, label="y", elem_id="attn-y")
                layer = gr.Slider(0, 11, value=11, step=1, label="Layer", elem_id="attn-layer")
                head = gr.Dropdown(["mean"], value="mean", label="Head", elem_id="attn-head")
                mode = gr.Radio(_modes(first), value=_modes(first)[0], label="Mode", elem_id="attn-mode")
                show = gr.Button("Show", variant="primary", elem_id="attn-show")
            with gr.Column(scale=3, min_width=420):
                info = gr.Markdown(elem_id="attn-info")
                overlay = gr.Image(type="filepath", format="png", interactive=False, elem_id="attn-overlay",
                                   label="What the model sees (centre crop), with the attention of the query "
                                         "(green); click here too")
                distance = gr.Plot(visible=False, elem_id="attn-distance")
                heads_plot = gr.Plot(visible=False, elem_id="attn-heads")
        inputs = [image, model, x, y, layer, head, mode]
        outputs = [overlay, info, distance, heads_plot]
        demo.load(on_model, model, [layer, head, mode], api_visibility="private")
        model.change(on_model, model, [layer, head, mode], api_visibility="private")
        image.select(on_image_click, image, [x, y], api_visibility="private") \
            .then(on_show, inputs, outputs, api_visibility="private", show_progress="minimal")
        overlay.select(on_view_click, [image, model], [x, y], api_visibility="private") \
            .then(on_show, inputs, outputs, api_visibility="private", show_progress="minimal")
        show.click(on_show, inputs, outputs, api_visibility="private")
        for control in (layer,):
            control.release(on_show, inputs, outputs, api_visibility="private", show_progress="minimal")
        for control in (head, mode):
            control.input(on_show, inputs, outputs, api_visibility="private", show_progress="minimal")
        with gr.Column(visible=False):
            api_image = ImageUpload(type="filepath", image_mode=None, label="image")
            api_model = gr.Textbox(label="model_id", value="vit-demo")
            api_x, api_y = NumberInput(label="x"), NumberInput(label="y")
            api_layer = NumberInput(value=-1, precision=0, label="layer")
            api_head = gr.Textbox(value="mean", label="head")
            api_mode = gr.Textbox(value="", label="mode")
            api_overlay = gr.Image(type="filepath", format="png", label="overlay")
            button = gr.Button()
        button.click(attention_api, [api_image, api_model, api_x, api_y, api_layer, api_head, api_mode],
                     api_overlay, api_name="attention",
                     api_description="Attention of the query at image pixel (x, y): layer (-1 = last), head "
                                     "('mean' or an index), mode (family default when empty); overlay PNG.")
