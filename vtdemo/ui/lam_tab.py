"""LAM (attribution) tab: which input pixels each SR model uses for a clicked box (with the diffusion index), and
HAT's window / overlapping-cross-attention maps for a clicked pixel; plus the /lam and /hat_attention endpoints."""
from __future__ import annotations

import time

import gradio as gr

from vtdemo import limits
from vtdemo.explain.hat import has_attention, layer_infos
from vtdemo.sr.engine import BICUBIC
from vtdemo.sr.lam import CONTEXT
from vtdemo.ui import on_device, sr_results, validate, where
from vtdemo.ui.admission import HEAVY, HEAVY_WORKERS, heavy_slot
from vtdemo.ui.choices import head_choices, sr_choices as model_choices
from vtdemo.ui.components import Checkbox, Dropdown, ImageUpload, NumberInput, Radio, Slider, bring_into_view_on_click
from vtdemo.ui.arrival import check_on_arrival
from vtdemo.ui.errors import in_page, message, user_errors
from vtdemo.ui.stop import Stopped, stoppable, stopped_message
from vtdemo.ui.files import run_dir, save_png
from vtdemo.viz.attention import lam_overlay
from vtdemo.zoo.availability import usable
from vtdemo.zoo.cards import COMPARISON_DEMOS, get_card

WINDOW = 16
MAX_LAM_MODELS = 4


def _default_models() -> list[str]:
    """The HAT paper's comparison where its demo models are here (a CNN, SwinIR and HAT at one budget), else
    bicubic and the first model."""
    here = [v for _, v in model_choices(4)]
    trio = [m for m in COMPARISON_DEMOS if m in here]
    return trio if len(trio) > 1 else [BICUBIC] + here[1:2]


def _hat_choices() -> list[tuple[str, str]]:
    """SR models usable now whose family has an attention probe (HAT)."""
    return [(c.name, c.id) for c in usable("sr") if has_attention(c)]


def _save(img, name: str) -> str:
    return save_png(img, run_dir() / name)


@user_errors
def on_click(image: str | None, evt: gr.SelectData):
    """A click on the input → its pixel coordinates."""
    if not image:
        return gr.skip(), gr.skip()
    x, y = validate.click(evt)
    return int(x), int(y)


@user_errors
def run_lam(image, models, scale, steps, fast, x, y, progress=gr.Progress(), request: gr.Request = None):
    with stoppable(request, "lam") as check:
        return _run_lam(image, models, scale, steps, fast, x, y, progress, check)


def _lam_failed(text: str) -> tuple:
    """run_lam's outputs after a failure: the message, and no maps of an earlier run left on the page."""
    return [], None, message(text), None, (0, 0)


def stop_lam(request: gr.Request):
    return stopped_message("lam", request)


def _run_lam(image, models, scale, steps, fast, x, y, progress, check):
    from vtdemo.viz.plots import di_figure

    if not image:
        raise gr.Error("Upload an image (or pick an example) first.")
    models = validate.model_ids(models, "models", max_count=MAX_LAM_MODELS)
    if not models:
        raise gr.Error("Choose at least one model.")
    scale = validate.integer(scale, "scale", 2, 4)
    steps = validate.integer(steps, "steps", 1, limits.max_lam_steps())
    x, y = validate.integer(x, "x"), validate.integer(y, "y")
    results, failed = [], []
    for i, model in enumerate(models):
        name = "Bicubic" if model == BICUBIC else get_card(model).name

        part = on_device.Report(progress, check).part(i, len(models), f"{name}: ")
        try:
            with heavy_slot(lambda what: part(0.0, what)):  # bicubic too: its LAM is not small
                results.append((model, on_device.lam_for_image(image, model, (x, y), scale=scale, steps=steps,
                                                               context=CONTEXT if fast else None, report=part,
                                                               name=name)))
        except Stopped:
            raise
        except gr.Error as exc:  # one model refused (its time, its weights): the others' maps are kept
            failed.append(f"{name}: {exc.message}")
    if not results:
        raise gr.Error(" ".join(failed), print_exception=False)
    gallery = [(_save(lam_overlay(r), f"lam-{i}.png"), f"DI {r.di:.2f} · {r.seconds:.1f} s · {r.model}")
               for i, (_, r) in enumerate(results)]
    box = results[0][1].box
    summary = (f"Box {WINDOW}×{WINDOW} at output ({box[0]}, {box[1]}) — input pixel ({x}, {y}), ×{scale}, "
               f"{int(steps)} path steps" + (f", attributed within {CONTEXT} input px of the box" if fast else "")
               + "".join(f"<br>⚠️ {line}" for line in failed))
    for line in failed:
        gr.Warning(line)
    preview, offset = sr_output(image, results[0][0], results[0][1])
    results = [r for _, r in results]
    return gallery, di_figure([(r.model, r.di) for r in results]), summary, preview, offset


PREVIEW = 48  # LR pixels around the box shown upscaled (not the whole image: its time grows with the image)


def sr_output(image, model: str, result) -> tuple[str, tuple[int, int]]:
    """The first model's SR output around the box, with the box drawn; and the preview's (left, top) in LR pixels
    (a click on the preview maps back through it)."""
    from vtdemo.viz.overlay import draw_box

    s = result.scale
    x0, y0, x1, y1 = result.box
    left, top = max(0, x0 // s - PREVIEW), max(0, y0 // s - PREVIEW)
    region = result.lr.crop((left, top, min(result.lr.width, -(-x1 // s) + PREVIEW),
                             min(result.lr.height, -(-y1 // s) + PREVIEW)))
    with heavy_slot():
        out = on_device.upscale(region, model, scale=s, backend="torch").convert("RGB")
    draw_box(out, (x0 - left * s, y0 - top * s, x1 - left * s, y1 - top * s), 1, colour=(0, 255, 0),
             width=max(2, s // 2))
    return _save(out, "sr-output.png"), (left, top)


@user_errors
def on_output_click(scale, offset, evt: gr.SelectData):
    """A click on the SR preview -> the input pixel under it."""
    left, top = offset or (0, 0)
    x, y = validate.click(evt)
    scale = validate.integer(scale, "scale", 2, 4)
    return left + int(x) // scale, top + int(y) // scale


@user_errors
def lam_api(image: str, model_id: str, x: float, y: float, steps: int = 50):
    """LAM for the 16×16 output box centred on input pixel (x, y): (overlay PNG, diffusion index)."""

    if not image:
        raise gr.Error("No image given.")
    model_id = validate.text(model_id, "model_id")
    x, y = validate.integer(x, "x"), validate.integer(y, "y")
    steps = validate.integer(steps, "steps", 1, limits.max_lam_steps())
    scale = 4 if model_id == BICUBIC else get_card(model_id).scale
    with heavy_slot():
        result = on_device.lam_for_image(image, model_id, (x, y), scale=scale, steps=steps)
    return _save(lam_overlay(result), "lam.png"), round(result.di, 3)


def attention_view(image, model_id, x, y, group, block, head):
    """(overlay PNG path, channel-attention figure or None for the OCAB, caption, server milliseconds)."""
    from vtdemo.explain import head_index
    from vtdemo.viz.attention import hat_overlay
    from vtdemo.viz.plots import channel_figure

    start = time.perf_counter()
    model_id = validate.text(model_id, "model_id")
    x, y = validate.integer(x, "x"), validate.integer(y, "y")
    group, block = validate.integer(group, "group"), validate.integer(block, "block")
    found, lr, (ox, oy) = on_device.hat_attention_for_image(image, model_id, (x, y), group, block)
    index = head_index(head, found.heads.shape[0])
    if index is not None:
        found.heat = found.heads[index]
    img, (left, top, right, bottom) = hat_overlay(found, lr, x - ox, y - oy)
    path = _save(img, "attention.png")
    ms = (time.perf_counter() - start) * 1000
    caption = (f"**{found.kind}**, group {group}, block {block}, head {head}: query pixel ({x}, {y}) in "
               f"green, input region x {left + ox}–{right - 1 + ox}, y {top + oy}–{bottom - 1 + oy}; cyan = its "
               + ("window; amber = the overlapping window its keys come from" if found.kind == "OCAB"
                  else "(shifted) window") + f". Weights sum to {found.heat.sum():.3f}. Server time {ms:.0f} ms.")
    if found.channel is None:
        caption += " The OCAB has no channel attention (CAB), so there is no channel chart for this block."
    return path, None if found.channel is None else channel_figure(found.channel), caption, ms


@user_errors
def on_attention(image, model_id, x, y, group, block, head):
    if not image:
        raise gr.Error("Upload an image first.")
    if not model_id:
        raise gr.Error("No HAT model is available.")
    path, figure, caption, _ = attention_view(image, model_id, x, y, group, block, head)
    return path, gr.update(value=figure, visible=figure is not None), caption


@user_errors
def attention_api(image: str, model_id: str, x: float, y: float, group: int = 0, block: int = 0,
                  head: str = "mean") -> str:
    """HAT attention of input pixel (x, y) in one block (block = depth is the group's OCAB); returns an overlay."""
    if not image:
        raise gr.Error("No image given.")
    return attention_view(image, model_id, x, y, group, block, head)[0]


def _structure(model_id: str) -> tuple[int, int, int]:
    """(groups, blocks per group, heads) of a HAT, from the probe registry."""
    infos = layer_infos(get_card(model_id))
    groups, blocks = (max(i.position[k] for i in infos) + 1 for k in (0, 1))
    return groups, blocks, infos[0].heads


def on_hat_model(model_id: str | None):
    """Group/block/head ranges of the chosen HAT."""
    if not model_id:
        return gr.skip(), gr.skip(), gr.skip()
    groups, blocks, heads = _structure(model_id)
    return (gr.update(maximum=groups - 1, value=0), gr.update(maximum=blocks - 1, value=min(1, blocks - 1)),
            gr.update(choices=head_choices(heads), value="mean"))


def build(demo: gr.Blocks) -> None:
    from vtdemo.examples import example_files

    hat_choices = _hat_choices()
    first_hat = hat_choices[0][1] if hat_choices else None
    groups, blocks, heads = _structure(first_hat) if first_hat else (1, 2, 1)
    with gr.Tab("LAM", id="lam"):
        gr.Markdown("**LAM** (Gu & Dong, CVPR 2021) shows which input pixels an SR model uses to reconstruct a "
                    f"{WINDOW}×{WINDOW} output box; the **diffusion index (DI)** grows with how many it uses — the "
                    "HAT paper's evidence that HAT *activates more pixels* than SwinIR. Click the image to place the "
                    "box, then run. Below: HAT's own attention for a clicked pixel.")
        with gr.Row():
            with gr.Column(scale=2, min_width=320):
                image = ImageUpload(type="filepath", image_mode=None, label="Input (click to place the box)",
                                    elem_id="lam-input", sources=["upload", "clipboard"], height=320)
                check_on_arrival(image)
                inspection = gr.Markdown(elem_id="lam-inspection")
                gr.Examples([[str(p)] for p in example_files()], inputs=image, examples_per_page=8)
                with gr.Row():
                    x = NumberInput(value=32, precision=0, label="x (input px)", elem_id="lam-x", minimum=0)
                    y = NumberInput(value=32, precision=0, label="y (input px)", elem_id="lam-y", minimum=0)
                where_box = where.picture("Where: the output box on the input (green)", "lam-where")
                scale = Radio([2, 4], value=4, label="Scale", elem_id="lam-scale")
                models = Dropdown(model_choices(4), value=_default_models(), multiselect=True,
                                  max_choices=MAX_LAM_MODELS, label=f"Models (up to {MAX_LAM_MODELS})",
                                  elem_id="lam-models")
                steps = Slider(5, limits.max_lam_steps(), value=50, step=5, label="Path steps (the paper: 50)")
                fast = Checkbox(value=True, label=f"Fast: attribute only within {CONTEXT} input px of the box "
                                   "(exact for local models, an approximation for global channel attention)")
                with gr.Row():
                    run = gr.Button("Compute LAM", variant="primary", elem_id="lam-run", scale=3)
                    stop = gr.Button("Stop", variant="stop", elem_id="lam-stop", scale=1, min_width=80)
            with gr.Column(scale=3, min_width=420):
                summary = gr.Markdown(elem_id="lam-summary")
                output = gr.Image(type="filepath", format="png", interactive=False, elem_id="lam-output",
                                  label="SR output of the first model around the box (click to move it)")
                preview_offset = gr.State((0, 0))  # the preview's (left, top) in input pixels
                maps = gr.Gallery(label="LAM maps on the input (green: the output box)", columns=3, format="png",
                                  height="auto", elem_id="lam-maps", object_fit="contain")
                di_plot = gr.Plot(label="Diffusion index per model", elem_id="lam-di")
        gr.Markdown("### HAT attention for a clicked pixel")
        with gr.Row():
            with gr.Column(scale=2, min_width=320):
                hat_model = Dropdown(hat_choices, value=first_hat, label="HAT model", elem_id="att-model")
                group = Slider(0, groups - 1, value=0, step=1, label="Group (RHAG)",
                                  elem_id="att-group")
                block = Slider(0, blocks - 1, value=min(1, blocks - 1), step=1,
                                  label="Block (even: W-MSA, odd: SW-MSA, last: OCAB)", elem_id="att-block")
                head = Dropdown(head_choices(heads), value="mean",
                                   label="Head", elem_id="att-head")
                show = gr.Button("Show attention at (x, y)", elem_id="att-run")
            with gr.Column(scale=3, min_width=420):
                att_caption = gr.Markdown(elem_id="att-caption")
                att_image = gr.Image(type="filepath", format="png", elem_id="att-image", interactive=False,
                                     label="Attention of the clicked query (click the input to pick another pixel)")
                channel_plot = gr.Plot(label="Channel attention (CAB) of this block", elem_id="att-channels")

        def refresh_models(s):
            choices = model_choices(int(s))
            return gr.update(choices=choices, value=[BICUBIC] + [v for _, v in choices][1:2])

        scale.change(refresh_models, scale, models, api_visibility="private")
        image.change(in_page(sr_results.inspection_line, message), image, inspection, api_visibility="private",
                     trigger_mode="always_last")
        image.select(on_click, image, [x, y], api_visibility="private") \
            .then(on_attention, [image, hat_model, x, y, group, block, head], [att_image, channel_plot, att_caption],
                  api_visibility="private", show_progress="hidden")
        output.select(on_output_click, [scale, preview_offset], [x, y], api_visibility="private")
        gr.on([image.change, x.change, y.change, scale.change], where.for_lam, [image, x, y, scale], where_box,
              api_visibility="private", show_progress="hidden", trigger_mode="always_last")
        bring_into_view_on_click(run, "lam-maps")
        run.click(in_page(run_lam, _lam_failed), [image, models, scale, steps, fast, x, y],
                  [maps, di_plot, summary, output, preview_offset], api_visibility="private",
                  concurrency_id=HEAVY, concurrency_limit=HEAVY_WORKERS, show_progress_on=maps)
        stop.click(stop_lam, None, summary, queue=False, api_visibility="private")
        hat_model.change(on_hat_model, hat_model, [group, block, head], api_visibility="private")
        att_inputs = [image, hat_model, x, y, group, block, head]
        show.click(on_attention, att_inputs, [att_image, channel_plot, att_caption], api_visibility="private")
        for control in (group, block):  # "input": a typed value applies at once (release waits for a blur)
            control.input(on_attention, att_inputs, [att_image, channel_plot, att_caption], api_visibility="private",
                          trigger_mode="always_last")
        head.change(on_attention, att_inputs, [att_image, channel_plot, att_caption], api_visibility="private")

        with gr.Column(visible=False):
            api_image = ImageUpload(type="filepath", image_mode=None, label="image")
            api_model = gr.Textbox(value="hat-demo-x4", label="model_id")
            api_x, api_y = NumberInput(label="x"), NumberInput(label="y")
            api_steps = NumberInput(value=50, precision=0, label="steps")
            api_group = NumberInput(value=0, precision=0, label="group")
            api_block = NumberInput(value=0, precision=0, label="block")
            api_head = gr.Textbox(value="mean", label="head")
            api_overlay = gr.Image(type="filepath", format="png", label="overlay")
            api_di = gr.Number(label="DI")
            api_att = gr.Image(type="filepath", format="png", label="attention")
            lam_button, att_button = gr.Button(), gr.Button()
        lam_button.click(lam_api, [api_image, api_model, api_x, api_y, api_steps], [api_overlay, api_di],
                         api_name="lam", concurrency_id=HEAVY, concurrency_limit=HEAVY_WORKERS,
                         api_description="LAM for the 16×16 output box centred on input pixel (x, y): overlay and "
                                         "diffusion index.")
        att_button.click(attention_api, [api_image, api_model, api_x, api_y, api_group, api_block, api_head],
                         api_att, api_name="hat_attention",
                         api_description="HAT attention of input pixel (x, y) in group/block (block = depth: the "
                                         "OCAB), head 'mean' or an index: overlay PNG.")
