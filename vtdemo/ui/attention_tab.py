"""Attention tab: click a pixel, see what a classifier's query there attends to (per layer, head and mode), with the
token grid or window drawn; PerViT adds its peripheral analysis; the same click in up to four models, and the mean
attention distance by depth. The /attention and /attention_compare endpoints."""
from __future__ import annotations

import time

import gradio as gr
import numpy as np

from vtdemo.explain.registry import layer_infos, probe_for
from vtdemo.ui import on_device, validate, where
from vtdemo.ui.choices import head_choices
from vtdemo.ui.admission import light
from vtdemo.ui.components import (Checkbox, ChoiceInput, Dropdown, ImageUpload, NumberInput, RadioInput, Slider,
                                  SliderInput)
from vtdemo.ui.arrival import check_on_arrival
from vtdemo.ui.errors import in_page, message, user_errors
from vtdemo.ui.files import run_dir, save_png
from vtdemo.zoo.availability import usable
from vtdemo.zoo.cards import cards, get_card


def _modes(model_id: str | None) -> list[str]:
    return list(probe_for(get_card(model_id).family).modes) if model_id else ["patch"]


def attention_view(image, model_id, x, y, layer, head, mode):
    """(overlay path, info markdown, the capture, server ms)."""
    from vtdemo.viz.attention import classifier_overlay

    start = time.perf_counter()
    model_id = validate.text(model_id, "model_id")
    x, y = validate.number(x, "x"), validate.number(y, "y")
    layer = validate.integer(layer, "layer")
    head = validate.text(str(head) if isinstance(head, int) else head or "mean", "head")
    mode = validate.text(mode, "mode") if mode else None
    get_card(model_id)
    cap = on_device.attention_capture(image, model_id)
    img, info = classifier_overlay(cap, (x, y), layer, head, mode)
    path = save_png(img, run_dir() / "attention.png")
    ms = (time.perf_counter() - start) * 1000
    return str(path), f"{info}. Server time {ms:.0f} ms.", cap, ms


def fit_controls(model_id: str, layer, head, mode) -> tuple[int, str, str]:
    """(layer, head, mode) as they fit ``model_id``. The controls follow the model one request later: a click sent
    while the model was being switched still carries the previous model's layer, head and mode (Swin has no "cls"
    mode, a 5-layer model no layer 11); the page answers with the nearest view of the new model, not an error."""
    infos = layer_infos(get_card(model_id))
    layer = min(max(validate.integer(layer, "layer"), -len(infos)), len(infos) - 1)
    head = str(head) if isinstance(head, int) else validate.text(head or "mean", "head")
    modes = _modes(model_id)
    mode = mode if mode in modes else modes[0]
    return layer, head if head in head_choices(infos[layer].heads) else "mean", mode


@user_errors
def on_show(image, model_id, x, y, layer, head, mode):
    if not image:
        raise gr.Error("Upload an image (or pick an example) first.")
    if not model_id:
        raise gr.Error("No classifier is available: see the Classify tab.")
    from vtdemo.explain.probes import click_analysis
    from vtdemo.viz.attention import analysis_figures

    model_id = validate.text(model_id, "model_id")
    layer, head, mode = fit_controls(model_id, layer, head, mode)
    path, info, cap, _ = attention_view(image, model_id, x, y, layer, head, mode)
    analysis = click_analysis(cap, (float(x), float(y)), int(layer))  # validated above
    if analysis is None:
        return path, info, gr.update(visible=False), gr.update(visible=False)
    return path, info, *(gr.update(value=f, visible=True) for f in analysis_figures(analysis))


@light
@user_errors
def on_image_click(image, evt: gr.SelectData):
    if not image:
        return gr.skip(), gr.skip()
    x, y = validate.click(evt)
    return int(x), int(y)


@user_errors
def on_view_click(image, model_id, evt: gr.SelectData):  # not light: on a cache miss it runs the model
    """A click on the overlay (the model's view) -> the original pixel under it."""
    from vtdemo.viz.attention import view_to_image

    if not image or not model_id:
        return gr.skip(), gr.skip()
    cap = on_device.attention_capture(image, validate.text(model_id, "model_id"))
    x, y = view_to_image(cap, *validate.click(evt))
    return int(x), int(y)


MAX_DISTANCE_MODELS = 4
MAX_COMPARE = 4
SEVERAL = "attention-several"  # events that run up to four classifiers share two workers


def compare_view(image, model_ids, x, y, depth, head, shared_scale=False) -> list[tuple[str, str]]:
    """(PNG path, caption) per model: the same click at the same relative depth (the gallery and /attention_compare)."""
    from vtdemo.viz.attention import compare_overlays

    model_ids = validate.model_ids(model_ids or [], "model_ids", max_count=MAX_COMPARE)
    if not model_ids:
        raise gr.Error("Choose at least one classifier.")
    for model_id in model_ids:
        get_card(model_id)
    x, y = validate.number(x, "x"), validate.number(y, "y")
    depth = validate.number(depth, "depth")
    head = validate.text(str(head) if isinstance(head, int) else head or "mean", "head")
    views = compare_overlays(image, model_ids, (x, y), depth, head, bool(shared_scale),
                             capture=on_device.attention_capture)
    folder = run_dir()
    return [(str(save_png(img, folder / f"compare-{i}.png")), caption) for i, (img, caption) in enumerate(views)]


@user_errors
def on_compare(image, model_ids, x, y, depth, head, shared_scale):
    if not image:
        raise gr.Error("Upload an image (or pick an example) first.")
    return compare_view(image, model_ids, x, y, depth, head, shared_scale)


@user_errors
def attention_compare_api(image: str, model_ids: list[str], x: float, y: float, depth: float = 1.0,
                          head: str = "mean") -> list[tuple[str, str]]:
    """The attention of the query at image pixel (x, y) in up to four classifiers at the same relative depth."""
    if not image:
        raise gr.Error("No image given.")
    return compare_view(image, model_ids, x, y, depth, head)


@user_errors
def on_distance(image, model_ids):
    """The distance-vs-depth figure of up to four classifiers on the image, and a caption with their numbers."""
    from vtdemo.viz.plots import depth_distance_figure

    if not image:
        raise gr.Error("Upload an image (or pick an example) first.")
    model_ids = validate.model_ids(model_ids or [], "models", max_count=MAX_DISTANCE_MODELS)
    if not model_ids:
        raise gr.Error("Choose at least one classifier.")
    start = time.perf_counter()
    tables = {get_card(m).name: on_device.attention_distance(image, m) for m in model_ids}
    lines = [f"**{name}**: first layer {np.nanmean(t[0]):.1f} px, last {np.nanmean(t[-1]):.1f} px "
             f"(mean over heads)" for name, t in tables.items()]
    ms = (time.perf_counter() - start) * 1000
    return depth_distance_figure(tables), "<br>".join(lines) + f"<br>Server time {ms:.0f} ms."


@light
def on_model(model_id: str | None):
    if not model_id:
        return gr.skip(), gr.skip(), gr.skip()
    infos = layer_infos(get_card(model_id))
    modes = _modes(model_id)
    return (gr.update(maximum=len(infos) - 1, value=len(infos) - 1), _head_choices(infos[-1].heads),
            gr.update(choices=modes, value=modes[0]))


def _head_choices(heads: int, value="mean"):
    value = value if value in head_choices(heads) else "mean"
    return gr.update(choices=head_choices(heads), value=value)


@light
def on_layer(model_id: str | None, layer, head):
    """The head choices of the selected layer (layers may have different head counts)."""
    if not model_id:
        return gr.skip()
    infos = layer_infos(get_card(validate.text(model_id, "model_id")))
    return _head_choices(infos[validate.integer(layer, "layer", -len(infos), len(infos) - 1)].heads, head)


@user_errors
def attention_api(image: str, model_id: str, x: float, y: float, layer: int = -1, head: str = "mean",
                  mode: str = "") -> str:
    """The clicked pixel's attention overlay (the model's view, PNG)."""
    if not image:
        raise gr.Error("No image given.")
    return attention_view(image, model_id, x, y, layer, head, mode or None)[0]


def build(demo: gr.Blocks) -> None:
    from vtdemo.examples import PHOTOS, SCENES, example_files

    choices = [(c.name, c.id) for c in usable("classify")]
    first = choices[0][1] if choices else None
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
                check_on_arrival(image)
                gr.Examples([[str(p)] for p in example_files() if p.stem in PHOTOS or p.stem in SCENES],
                            inputs=image)
                model = Dropdown(choices, value=first, label="Model", elem_id="attn-model")
                with gr.Row():
                    x = NumberInput(value=0, precision=0, label="x", elem_id="attn-x")
                    y = NumberInput(value=0, precision=0, label="y", elem_id="attn-y")
                # the three follow the model (on_model): their values reach on_show as sent, fitted there
                layer = SliderInput(0, 11, value=11, step=1, label="Layer", elem_id="attn-layer")
                head = ChoiceInput(["mean"], value="mean", label="Head", elem_id="attn-head")
                mode = RadioInput(_modes(first), value=_modes(first)[0], label="Mode", elem_id="attn-mode")
                show = gr.Button("Show", variant="primary", elem_id="attn-show")
                where_click = where.picture("Where: the click (green) in the model's centre crop (yellow)",
                                            "attn-where")
            with gr.Column(scale=3, min_width=420):
                info = gr.Markdown(elem_id="attn-info")
                overlay = gr.Image(type="filepath", format="png", interactive=False, elem_id="attn-overlay",
                                   label="What the model sees (centre crop), with the attention of the query "
                                         "(green); click here too")
                distance = gr.Plot(visible=False, elem_id="attn-distance",
                                   label="PerViT: mean attention distance of every head, by block")
                heads_plot = gr.Plot(visible=False, elem_id="attn-heads",
                                     label="PerViT: the peripheral position attention φp of each head")
        with gr.Accordion("Attention distance by depth (the ViT paper's Fig. 7, on this image)", open=False):
            gr.Markdown("For every layer and head: how far, in pixels of the model's input, the attention of a "
                        "query reaches on average (all queries of this image; class tokens left out). ViT's "
                        "paper finds local and global heads early and only global ones late; Swin's windows and "
                        "PerViT's peripheral attention change that picture.")
            with gr.Row():
                distance_models = ChoiceInput(choices, value=[v for _, v in choices][:MAX_DISTANCE_MODELS],
                                              multiselect=True, max_choices=MAX_DISTANCE_MODELS,
                                              label=f"Models (up to {MAX_DISTANCE_MODELS})",
                                              elem_id="attn-distance-models")
                distance_run = gr.Button("Measure", elem_id="attn-distance-run")
            distance_caption = gr.Markdown(elem_id="attn-distance-caption")
            distance_plot = gr.Plot(elem_id="attn-distance-plot", label="Mean attention distance by depth")
        distance_run.click(on_distance, [image, distance_models], [distance_plot, distance_caption],
                           api_visibility="private", concurrency_id=SEVERAL, concurrency_limit=2)
        with gr.Accordion("Compare models at this click", open=False):
            gr.Markdown("The same point in up to four classifiers, each at the same relative depth (0 = first "
                        "attention layer, 1 = last) in its family's own view. A second click runs no model.")
            with gr.Row():
                compare_models = ChoiceInput(choices, value=[v for _, v in choices][:MAX_COMPARE], multiselect=True,
                                             max_choices=MAX_COMPARE, label=f"Models (up to {MAX_COMPARE})",
                                             elem_id="attn-compare-models")
                depth = Slider(0, 1, value=1, step=0.05, label="Relative depth", elem_id="attn-compare-depth")
                compare_head = gr.Textbox(value="mean", label="Head ('mean' or an index)", max_lines=1)
                shared = Checkbox(value=False, label="One colour scale for all")
            compare_run = gr.Button("Compare at (x, y)", elem_id="attn-compare-run")
            compare_gallery = gr.Gallery(columns=2, height="auto", format="png", object_fit="contain",
                                         elem_id="attn-compare", label="The same query in each model")
        compare_run.click(on_compare, [image, compare_models, x, y, depth, compare_head, shared], compare_gallery,
                          api_visibility="private", concurrency_id=SEVERAL, concurrency_limit=2)
        inputs = [image, model, x, y, layer, head, mode]
        gr.on([image.change, model.change, x.change, y.change], where.for_attention, [image, model, x, y], where_click,
              api_visibility="private", show_progress="hidden", trigger_mode="always_last")
        outputs = [overlay, info, distance, heads_plot]
        # every view request is "always_last": a click while the previous view is drawn is answered once that one
        # ends (Gradio's default, "once", drops it and leaves the overlay at the old point)
        view = dict(api_visibility="private", show_progress="minimal", trigger_mode="always_last")
        # the page's views: a refusal (a click outside the model's crop) is a warning and a line in the info area,
        # not a red error badge on the overlay
        show_view = in_page(on_show, lambda text: (gr.skip(), message(text), gr.skip(), gr.skip()))

        def redraw(image, model_id, x, y, layer, head, mode, shown):
            """After a model change: the same point in the new model, when a view is on the page already."""
            return show_view(image, model_id, x, y, layer, head, mode) if image and shown else (gr.skip(),) * 4

        demo.load(on_model, model, [layer, head, mode], api_visibility="private")
        model.change(on_model, model, [layer, head, mode], api_visibility="private") \
            .then(redraw, [*inputs, overlay], outputs, **view)
        image.select(on_image_click, image, [x, y], api_visibility="private", trigger_mode="always_last") \
            .then(show_view, inputs, outputs, **view)
        overlay.select(on_view_click, [image, model], [x, y], api_visibility="private", trigger_mode="always_last") \
            .then(show_view, inputs, outputs, **view)
        show.click(show_view, inputs, outputs, api_visibility="private")
        # "input", not "release": a value typed into the slider's box applies at once (release waits for a blur)
        layer.input(on_layer, [model, layer, head], head, api_visibility="private", trigger_mode="always_last") \
            .then(show_view, inputs, outputs, **view)
        for control in (head, mode):
            control.input(show_view, inputs, outputs, **view)
        with gr.Column(visible=False):
            api_image = ImageUpload(type="filepath", image_mode=None, label="image")
            api_model = gr.Textbox(label="model_id", value="vit-demo")
            api_x, api_y = NumberInput(label="x"), NumberInput(label="y")
            api_layer = NumberInput(value=-1, precision=0, label="layer")
            api_head = gr.Textbox(value="mean", label="head")
            api_mode = gr.Textbox(value="", label="mode")
            api_overlay = gr.Image(type="filepath", format="png", label="overlay")
            api_models = ChoiceInput([c.id for c in cards("classify")], multiselect=True, label="model_ids",
                                     value=["vit-demo", "swin-demo"])
            api_depth = NumberInput(value=1.0, label="depth")
            api_gallery = gr.Gallery(format="png", label="overlays")
            button, compare_button = gr.Button(), gr.Button()
        compare_button.click(attention_compare_api, [api_image, api_models, api_x, api_y, api_depth, api_head],
                             api_gallery, api_name="attention_compare", concurrency_id=SEVERAL,
                             concurrency_limit=2,
                             api_description="The query at image pixel (x, y) in up to four classifiers at one relative "
                                             "depth (0 first layer, 1 last), head 'mean' or an index: a gallery of "
                                             "overlays with captions.")
        button.click(attention_api, [api_image, api_model, api_x, api_y, api_layer, api_head, api_mode],
                     api_overlay, api_name="attention",
                     api_description="Attention of the query at image pixel (x, y): layer (-1 = last), head "
                                     "('mean' or an index), mode (family default when empty); overlay PNG.")
