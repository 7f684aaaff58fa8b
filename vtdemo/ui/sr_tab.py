"""Upscale (super-resolution) tab: upscale with up to four models, compare two in a slider, inspect one region of
all of them, score them against a reference, download; plus the /upscale and /compare API endpoints."""
from __future__ import annotations

import contextlib
import os
import zipfile
from pathlib import Path

import gradio as gr
from PIL import Image

from vtdemo import limits
from vtdemo.imaging import png_level
from vtdemo.sr.compare import MODES as COMPARE_MODES
from vtdemo.sr.benchmark import BENCHMARKS
from vtdemo.sr.engine import BICUBIC, SCALES
from vtdemo.ui import on_device, sr_results, validate, where
from vtdemo.ui.admission import HEAVY, HEAVY_WORKERS, heavy_slot, light
from vtdemo.ui.components import (ChoiceInput, Dropdown, FileUpload, FilesUpload, ImageUpload, NumberInput, Radio,
                                  Slider, bring_into_view_on_click)
from vtdemo.ui.arrival import check_on_arrival
from vtdemo.ui.errors import in_page, message, user_errors
from vtdemo.ui.stop import stoppable, stopped_message
from vtdemo.ui.files import run_dir, safe_name, save_png
from vtdemo.zoo.safe_loading import CHECKPOINT_SUFFIXES
from vtdemo.ui.choices import scale_choices, sr_choices as model_choices
from vtdemo.zoo.availability import unavailable
from vtdemo.zoo.cards import cards, get_card

UPLOAD = "upload:"  # prefix of the dropdown values of uploaded checkpoints (looked up in the session's state)
MODE_LABELS = {"lr": "Low-res: upscale it",
               "degrade": "High-res: degrade ×scale, score",
               "reference": "Score against my reference"}
MODES = [(MODE_LABELS[m], m) for m in COMPARE_MODES]
VIEW = 256  # inspector crop side in pixels
MAX_ZOOM = 16
CENTRE_STEP = 0.5  # the inspector's centre, in percent of the image: crops are made for this grid only
MAX_CROP_FILES = 240  # crops kept per comparison (the oldest go first)


# --- model choices --------------------------------------------------------------------------------------------

def unavailable_models(scale: int) -> str:
    """Markdown: the zoo models at ``scale`` that cannot run here, each with the reason and how to get it."""
    lines = [f"- **{card.name}** (`{card.id}`) — {reason}: {how}" for card, reason, how in unavailable("sr", scale)]
    return "\n".join(lines) or "Every model of this scale is available."


def default_models(scale: int) -> list[str]:
    ids = [v for _, v in model_choices(scale)]
    demo = f"hat-demo-x{scale}"
    return [BICUBIC] + ([demo] if demo in ids else ids[1:2])


def on_scale(scale: int, uploads: dict | None):
    scale = int(scale)
    return (gr.update(choices=model_choices(scale, uploads), value=default_models(scale)),
            unavailable_models(scale))


@user_errors
def on_checkpoint(file: str | None, scale: int, uploads: dict | None, chosen: list[str] | None):
    """Load an uploaded checkpoint safely; add it to this session's models (and to the comparison)."""
    from vtdemo.sr.compare import uploaded_net

    uploads = dict(uploads or {})
    if not file:
        return gr.skip(), uploads, gr.skip()
    size, limit = os.path.getsize(file), limits.max_checkpoint_upload_bytes()
    if size > limit:
        raise gr.Error(f"The checkpoint is {size / 1e6:.0f} MB, over the {limit / 1e6:.0f} MB upload limit "
                       "(VTDEMO_MAX_CHECKPOINT_UPLOAD_BYTES).")
    with heavy_slot():
        net = uploaded_net(file)
    key = f"{UPLOAD}{len(uploads) + 1}"
    uploads[key] = dict(name=Path(file).name, path=file, scale=net.scale)
    arch, params = type(net.module).__name__, sum(p.numel() for p in net.module.parameters())
    message = f"✅ **{Path(file).name}**: {arch}, ×{net.scale}, {params:,} parameters."
    scale = int(scale)
    if net.scale != scale:
        message += f" It upscales ×{net.scale}: switch the scale to ×{net.scale} to use it."
        return message, uploads, gr.update(choices=model_choices(scale, uploads))
    chosen = list(chosen or [])
    if len(chosen) < limits.max_compare_models():
        chosen.append(key)
    return message, uploads, gr.update(choices=model_choices(scale, uploads), value=chosen)


def _resolve(value: str, uploads: dict | None):
    """A dropdown value -> what the GPU functions accept (ids pass through; uploads go as their path)."""
    if value.startswith(UPLOAD):
        item = (uploads or {}).get(value)
        if item is None:
            raise gr.Error("That uploaded model is no longer in this session: upload it again.")
        return on_device.Uploaded(item["path"])
    if value != BICUBIC:
        get_card(value)  # unknown ids get the zoo's clear error
    return value


# --- results on disk -------------------------------------------------------------------------------------------


def save_comparison(comparison, progress=None) -> dict:
    """Write every result (and the input, and the reference) as PNG plus a zip; returns the session state.
    ``progress(fraction, what)`` hears of each file (big PNGs take seconds)."""
    folder = run_dir()
    results = []
    n = len(comparison.results)
    for i, r in enumerate(comparison.results):
        if progress is not None:
            progress(i / (n + 1), f"writing result {i + 1}/{n} as PNG ({r.image.width}×{r.image.height})")
        path = folder / f"{i + 1}-{safe_name(r.model)}-x{comparison.scale}.png"
        r.image.save(path, compress_level=png_level(r.image))
        results.append(dict(model=r.model, name=r.name, path=str(path), caption=r.caption()))
    input_path = folder / "input.png"
    comparison.input.save(input_path)
    size = comparison.results[0].image.size if comparison.results else comparison.input.size
    nearest = comparison.input.resize(size, Image.Resampling.NEAREST)  # the pixels given, at the output's size
    views = [(INPUT_VIEW, f"Input (nearest ×{comparison.scale})", folder / "input-nearest.png")]
    nearest.save(views[0][2], compress_level=png_level(nearest))
    reference_path = None
    if comparison.reference is not None:
        reference_path = folder / "reference.png"
        comparison.reference.save(reference_path)
        views.append((REFERENCE_VIEW, "High-resolution reference", reference_path))
    zip_path = folder / f"vtdemo-x{comparison.scale}-results.zip"
    if progress is not None:
        progress(n / (n + 1), "packing the zip")
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_STORED) as z:  # PNGs are compressed already
        for r in results:
            z.write(r["path"], Path(r["path"]).name)
    return dict(scale=comparison.scale, mode=comparison.mode, input=str(input_path),
                reference=str(reference_path) if reference_path else None, results=results, zip=str(zip_path),
                views=[dict(model=key, name=name, path=str(path)) for key, name, path in views])


# --- views of a finished comparison ------------------------------------------------------------------------------

@user_errors
def inspector_crops(state: dict | None, cx: float, cy: float, zoom: float) -> list[tuple[str, str]]:
    """(image path, caption) of the same region of the input, every result and the reference. The centre is
    rounded to CENTRE_STEP and the zoom to a whole factor (the slider's steps), so a view asked again is the files
    made before, and a client cannot fill the disk with crops of every float."""
    from PIL import Image

    from vtdemo.viz.zoom import zoom_crop

    if not state:
        return []
    cx, cy = validate.number(cx, "Centre x", 0, 100), validate.number(cy, "Centre y", 0, 100)
    cx, cy = round(cx / CENTRE_STEP) * CENTRE_STEP, round(cy / CENTRE_STEP) * CENTRE_STEP
    zoom = round(validate.number(zoom, "Zoom", 1, MAX_ZOOM))
    center, folder = (cx / 100, cy / 100), Path(state["input"]).parent / "zoom"
    folder.mkdir(exist_ok=True)
    items = [("input", state["input"], zoom * state["scale"], "input (nearest)")]
    items += [(f"r{i}", r["path"], zoom, r["caption"]) for i, r in enumerate(state["results"])]
    if state["reference"]:
        items.append(("reference", state["reference"], zoom, "HR reference"))
    out = []
    for key, path, factor, caption in items:
        target = folder / f"{key}-{cx:.1f}-{cy:.1f}-{zoom}.png"
        if not target.is_file():
            with Image.open(path) as img:
                crop = zoom_crop(img, center, factor, VIEW)
            save_png(crop, target)
        out.append((str(target), caption))
    _keep_newest(folder, MAX_CROP_FILES, keep={p for p, _ in out})
    return out


def _keep_newest(folder: Path, most: int, keep: set[str]) -> None:
    files = sorted(folder.glob("*.png"), key=lambda p: p.stat().st_mtime)
    for old in files[: max(0, len(files) - most)]:
        if str(old) not in keep:
            old.unlink(missing_ok=True)


# the slider's other choices beside the results: keys no model id or upload key takes
INPUT_VIEW, REFERENCE_VIEW = "view:input", "view:reference"


def slider_choices(state: dict) -> list[tuple[str, str]]:
    """(label, key) of what the slider can show: every result, the input upsampled (nearest) and the reference."""
    return [(r["name"], r["model"]) for r in state["results"] + state.get("views", [])]


def slider_pair(state: dict | None, left: str | None, right: str | None):
    if not state or not state["results"]:
        return None
    paths = {r["model"]: r["path"] for r in state["results"] + state.get("views", [])}
    first = state["results"][0]["path"]
    last = state["results"][-1]["path"]
    return paths.get(left, first), paths.get(right, last)


def metrics_rows(state_rows: list[dict]) -> list[list]:
    from vtdemo.sr.compare import format_psnr

    def psnr(value):  # a number in the table, except ∞ which the table cannot show
        return format_psnr(value) if value == float("inf") else value

    return [[r["short"], r["seconds"], r["size"], psnr(r["psnr_y"]), r["ssim_y"]] for r in state_rows]


METRIC_HEADERS = ["model", "time (s)", "output", "PSNR-Y (dB)", "SSIM-Y"]


# --- the run ---------------------------------------------------------------------------------------------------

def _compare(image: str | None, models: list[str], mode: str, scale: int, reference: str | None,
             uploads: dict | None, tile: int = 0, progress=None, check=None):
    """The comparison and its files. ``check()`` is called at every progress report (Stop raises there)."""
    if not image:
        raise gr.Error("Upload an image (or pick an example) first.")
    if not models:
        raise gr.Error("Choose at least one model.")
    scale = validate.integer(scale, "scale", min(SCALES), max(SCALES))
    tile = validate.integer(tile or 0, "tile", 0, limits.max_tile())
    if mode not in {m for _, m in MODES}:
        raise gr.Error(f"mode must be one of {', '.join(m for _, m in MODES)}, not {validate.echo(mode)}.")
    if mode == "reference" and not reference:
        raise gr.Error("Reference mode: upload the high-resolution reference image too.")

    report = on_device.Report(progress, check)
    resolved = [_resolve(m, uploads) for m in models]
    with _slot(image, resolved, scale, lambda what: report(0.0, what)):
        comparison = on_device.compare(image, resolved, scale=scale, mode=mode,
                                       reference=reference if mode == "reference" else None, tile=tile or None,
                                       report=report, max_seconds=limits.max_job_seconds())
    return comparison, save_comparison(comparison, report)


def _slot(image: str, models: list, scale: int, report=None):
    """The heavy slot this request needs, if any: a Serve replica's when Ray Serve computes every model's tiles
    (zoo models only), else this process's own."""
    if not _is_heavy(image, models, scale):
        return contextlib.nullcontext()
    from vtdemo.sr import serve_backend

    on_serve = serve_backend.enabled() and all(isinstance(m, str) for m in models) and \
        any(m != BICUBIC for m in models)
    return heavy_slot(report, on_serve=on_serve)


def _is_heavy(image: str, models: list, scale: int) -> bool:
    """Whether a request must take the heavy slot: any model, or bicubic over many output pixels (memory)."""
    from vtdemo.imaging import header_size

    size = header_size(image)
    if any(m != BICUBIC for m in models) or size is None:
        return True
    return size[0] * size[1] * scale * scale * len(models) > limits.small_job_pixels()


@user_errors
def run_comparison(image, models, mode, scale, reference, uploads, tile, cx, cy, zoom,
                   progress=gr.Progress(), request: gr.Request = None):
    with stoppable(request, "sr") as check:
        comparison, state = _compare(image, models, mode, scale, reference, uploads, tile, progress, check)
    state["source"] = sr_results.source_record(image)  # what its downloads carry: the upload's name, EXIF, profile
    from vtdemo.viz.plots import sr_metrics_figure

    rows = comparison.rows()
    choices = slider_choices(state)
    left, right = state["results"][0]["model"], state["results"][-1]["model"]
    scored = comparison.reference is not None
    summary = (f"**{len(rows)} model(s), ×{comparison.scale}**, input {comparison.input.width}×"
               f"{comparison.input.height} → {rows[0]['size']}"
               + (" · scored against the original (border of ×scale px removed)" if scored else ""))
    files = [r["path"] for r in state["results"]] + [state["zip"]]
    return (state, summary, gr.update(choices=choices, value=left), gr.update(choices=choices, value=right),
            slider_pair(state, left, right), inspector_crops(state, cx, cy, zoom),
            metrics_rows(rows), sr_metrics_figure(rows), files)


@user_errors
def share_comparison(state, left, right, rows, cx, cy, zoom):
    """The comparison as one HTML file and a wipe animation, with the zoom inspector's crops as they are now."""
    if not state or not state.get("results"):
        raise gr.Error("Run a comparison first.")
    with heavy_slot():  # two results decoded and re-encoded
        return sr_results.share(state, left, right, rows, inspector_crops(state, cx, cy, zoom), METRIC_HEADERS)


def _comparison_failed(text: str) -> tuple:
    """run_comparison's outputs after a failure: the message, and no result of an earlier run left on the page."""
    # the slider's pickers stay as they are (emptying them makes Gradio refuse their change event); with no
    # state they show nothing
    return None, message(text), gr.skip(), gr.skip(), None, [], None, None, None


def stop_comparison(request: gr.Request):
    return stopped_message("sr", request)


def stop_benchmark(request: gr.Request):
    return stopped_message("bench", request)


@user_errors
def run_benchmark(files, models, scale, dataset, uploads=None, progress=gr.Progress(), request: gr.Request = None):
    """The papers' table on the uploaded high-resolution images (bicubic-degraded ×scale first): Markdown, and the
    table as CSV and Markdown downloads. The images are linked, not copied, into a folder removed afterwards; the
    whole run is refused up front over the server's time limit."""
    import shutil

    from vtdemo.sr.benchmark import KNOWN, to_csv, to_markdown

    files = list(dict.fromkeys(os.path.realpath(f) for f in files or []))  # the same upload listed twice: once
    if not files:
        raise gr.Error("Upload the high-resolution images to score (the papers degrade each ×scale first).")
    if len(files) > limits.max_benchmark_images():
        raise gr.Error(f"At most {limits.max_benchmark_images()} images per run (VTDEMO_MAX_BENCHMARK_IMAGES); "
                       f"{len(files)} were given. The CLI has no such limit: python -m vtdemo benchmark sr FOLDER.")
    chosen = list(dict.fromkeys(validate.model_ids(models, "models", max_count=limits.max_compare_models())))
    if not chosen:
        raise gr.Error("Choose at least one model.")
    scale = validate.integer(scale, "scale", 2, 4)
    dataset = validate.text(dataset, "dataset") if dataset else ""
    if dataset and dataset not in set(KNOWN.values()):
        raise gr.Error(f"dataset must be one of {', '.join(sorted(set(KNOWN.values())))} or empty.")
    resolved = [_resolve(m, uploads) for m in chosen]
    out = run_dir()
    folder = out / "images" / (dataset or "images")  # the folder's name tells benchmark() which paper row to show
    folder.mkdir(parents=True)
    try:
        for i, path in enumerate(files):
            (folder / f"{i:03d}.png").symlink_to(path)  # decoded by content: the name only has to be an image's
        with stoppable(request, "bench") as check, heavy_slot(lambda what: progress(0.0, desc=what)):
            rows = on_device.sr_benchmark(folder, resolved, scale, report=on_device.Report(progress, check),
                                          max_seconds=limits.max_job_seconds())
    finally:
        shutil.rmtree(out / "images", ignore_errors=True)
    table = to_markdown(rows, folder, scale)
    csv_path, md_path = out / "benchmark.csv", out / "benchmark.md"
    csv_path.write_text(to_csv(rows))
    md_path.write_text(table + "\n")
    return table, [str(csv_path), str(md_path)]


@user_errors
def on_input_click(image: str | None, evt: gr.SelectData):
    """A click on the input image centres the inspector there."""
    from vtdemo.imaging import decode_image

    if not image:
        return gr.skip(), gr.skip()
    w, h = decode_image(image).rgb.size  # EXIF rotation applied, as the results are
    x, y = validate.click(evt)
    return round(100 * x / w, 1), round(100 * y / h, 1)


# --- API endpoints -------------------------------------------------------------------------------------------

@user_errors
def api_upscale(image: str, model_id: str, scale: int = 4) -> str:
    """Upscale ``image`` with ``model_id`` (or "bicubic" at ``scale``); returns a PNG path."""
    if not image:
        raise gr.Error("No image given.")
    model_id = validate.text(model_id, "model_id")
    if model_id != BICUBIC:
        card = get_card(model_id)
        if card.task != "sr":
            raise gr.Error(f"{model_id} is a {card.task} model, not a super-resolution model.")
        scale = card.scale
    scale = validate.integer(scale, "scale", min(SCALES), max(SCALES))
    with _slot(image, [model_id], scale):
        out = on_device.upscale(image, model_id, scale=scale, max_seconds=limits.max_job_seconds())
    path = run_dir() / f"{safe_name(model_id)}-x{scale}.png"
    out.save(path)
    return str(path)


@user_errors
def api_compare(image: str, model_ids: list[str], mode: str = "lr", scale: int = 4, reference: str | None = None,
                progress=gr.Progress()):
    """Compare models on ``image``; returns the results (gallery of PNGs captioned with model, time, scores) and
    the metrics table."""
    model_ids = validate.model_ids(model_ids)
    comparison, state = _compare(image, model_ids, mode, scale, reference, None, 0, progress)
    gallery = [(r["path"], r["caption"]) for r in state["results"]]
    return gallery, metrics_rows(comparison.rows())


# --- layout ----------------------------------------------------------------------------------------------------

def build(demo: gr.Blocks) -> None:
    from vtdemo.examples import example_files

    with gr.Tab("Upscale", id="sr"):  # short labels: all five tabs fit on a phone
        uploads = gr.State({})
        state = gr.State(None)
        with gr.Row():
            with gr.Column(scale=2, min_width=320):
                image = ImageUpload(type="filepath", image_mode=None,
                                    label="Image (click to centre the zoom inspector)",
                                    sources=["upload", "clipboard"], elem_id="sr-input", height=240)
                check_on_arrival(image)
                inspection = gr.Markdown(elem_id="sr-inspection")
                mode = Radio(MODES, value="lr", elem_id="sr-mode",
                                label="What is this image? (high-res: bicubic ×scale down, then scored, as in the "
                                      "papers)")
                reference = ImageUpload(type="filepath", image_mode=None, label="High-resolution reference",
                                        visible=False, elem_id="sr-reference", height=200)
                check_on_arrival(reference)
                scale = Radio(scale_choices(SCALES), value=4, label="Scale", elem_id="sr-scale")
                models = Dropdown(model_choices(4), value=default_models(4), multiselect=True,
                                     max_choices=limits.max_compare_models(), label="Models (up to "
                                     f"{limits.max_compare_models()})", elem_id="sr-models")
                with gr.Row():  # the action stays in the first screen: examples and options come after it
                    run = gr.Button("Upscale and compare", variant="primary", elem_id="sr-run", scale=3)
                    stop = gr.Button("Stop", variant="stop", elem_id="sr-stop", scale=1, min_width=80)
                gr.Examples([[str(p)] for p in example_files()], inputs=image, label="Examples (generated charts "
                            "and scikit-image's public-domain photos)", examples_per_page=8)
                with gr.Accordion("Bring your own model (.pth / .safetensors)", open=False):
                    checkpoint = FileUpload(label="SR checkpoint", type="filepath",
                                            file_types=list(CHECKPOINT_SUFFIXES), elem_id="sr-checkpoint")
                    checkpoint_message = gr.Markdown("HAT, SwinIR, Real-ESRGAN, Compact and the other "
                                                     "architectures spandrel knows. Loaded without unpickling "
                                                     "arbitrary objects.")
                with gr.Accordion("Models not available here", open=False):
                    unavailable = gr.Markdown(unavailable_models(4), elem_id="sr-unavailable")
                with gr.Accordion("Advanced", open=False):
                    tile = Slider(0, limits.max_tile(), value=0, step=32, elem_id="sr-tile",
                                  label="Tile size in LR pixels (0 = automatic)")
            with gr.Column(scale=3, min_width=420):
                summary = gr.Markdown(elem_id="sr-summary")
                with gr.Row():
                    left = Dropdown(label="Slider: left", elem_id="sr-left")
                    right = Dropdown(label="Slider: right", elem_id="sr-right")
                slider = gr.ImageSlider(type="filepath", format="png", label="Compare (scroll to zoom, drag to pan)",
                                        elem_id="sr-slider", max_height=520)
                with gr.Group():
                    with gr.Row():
                        cx = Slider(0, 100, value=50, step=0.1, label="Centre x (%)", elem_id="sr-cx")
                        cy = Slider(0, 100, value=50, step=0.1, label="Centre y (%)", elem_id="sr-cy")
                        zoom = Slider(1, MAX_ZOOM, value=4, step=1, label="Zoom", elem_id="sr-zoom")
                    where_zoom = where.picture("Where: the inspector's region on the input (red)", "sr-where")
                    inspector = gr.Gallery(label="Zoom inspector: the same region of every result (nearest-neighbour)",
                                           columns=3, height="auto", format="png", elem_id="sr-inspector",
                                           object_fit="contain", allow_preview=True)
                table = gr.Dataframe(headers=METRIC_HEADERS, label="Metrics", interactive=False, wrap=True,
                                     column_widths=["30%", "15%", "21%", "18%", "16%"], elem_id="sr-metrics")
                plot = gr.Plot(label="PSNR vs time", elem_id="sr-plot")
                files = gr.File(label="Downloads: every result as PNG, and all of them as a zip",
                                file_count="multiple", elem_id="sr-downloads")
                with gr.Accordion("Recovered or invented? Where the slider's results depart from the input",
                                  open=True):
                    departure_maps = gr.Gallery(columns=3, height=420, format="png", elem_id="sr-departures",
                                                object_fit="contain", allow_preview=True, show_label=False)
                    departure_text = gr.Markdown(elem_id="sr-departure-text")
                    departure_run = gr.Button("Check the slider's two results", elem_id="sr-departure-run")
                    pair_lam_run = gr.Button("Where did their pixels come from? LAM of both at the zoom centre",
                                             elem_id="sr-pair-lam-run")
                    pair_lam_maps = gr.Gallery(columns=2, height=420, format="png", elem_id="sr-pair-lam",
                                               object_fit="contain", allow_preview=True, show_label=False)
                    pair_lam_text = gr.Markdown(elem_id="sr-pair-lam-text")
                with gr.Accordion("Download as… (format, quality, size; EXIF and colour profile kept)", open=False):
                    with gr.Row():
                        out_format = Radio(sr_results.DOWNLOAD_FORMATS, value="png", label="Format",
                                           elem_id="sr-out-format")
                        out_quality = Slider(1, 100, value=92, step=1, label="Quality (JPEG, WebP)",
                                             elem_id="sr-out-quality")
                        out_size = gr.Textbox(label="Size: WIDTHxHEIGHT, WIDTHx, xHEIGHT or a factor (empty: "
                                              "the model's scale)", elem_id="sr-out-size", max_length=20)
                    out_run = gr.Button("Make the downloads", elem_id="sr-out-run")
                    out_files = gr.File(label="Results to keep", file_count="multiple", elem_id="sr-out-files")
                    out_text = gr.Markdown(elem_id="sr-out-text")
                with gr.Accordion("Share: the comparison as one HTML file and an animated wipe", open=False):
                    share_run = gr.Button("Export the comparison", elem_id="sr-share-run")
                    share_files = gr.File(label="Self-contained HTML (opens offline) and animated WebP",
                                          file_count="multiple", elem_id="sr-share-files")
                    share_preview = gr.Image(type="filepath", label="The wipe", elem_id="sr-share-preview",
                                             interactive=False)

        mode.change(lambda m: gr.update(visible=m == "reference"), mode, reference, api_visibility="private")
        scale.change(on_scale, [scale, uploads], [models, unavailable], api_visibility="private")
        checkpoint.upload(in_page(on_checkpoint, lambda text: (message(text), gr.skip(), gr.skip())),
                          [checkpoint, scale, uploads, models], [checkpoint_message, uploads, models],
                          api_visibility="private", concurrency_id=HEAVY, concurrency_limit=HEAVY_WORKERS)
        gr.on([image.change, cx.change, cy.change, zoom.change, scale.change],
              light(lambda image, cx, cy, zoom, scale: where.for_zoom(image, cx, cy, zoom, scale, VIEW)),
              [image, cx, cy, zoom, scale], where_zoom, api_visibility="private", show_progress="hidden",
              trigger_mode="always_last")
        bring_into_view_on_click(run, "sr-slider")  # its progress line is drawn over the slider
        ran = run.click(in_page(run_comparison, _comparison_failed),
                        [image, models, mode, scale, reference, uploads, tile, cx, cy, zoom],
                        [state, summary, left, right, slider, inspector, table, plot, files],
                        show_progress_on=slider, api_visibility="private", concurrency_id=HEAVY,
                        concurrency_limit=HEAVY_WORKERS)
        image.change(in_page(sr_results.on_image, lambda text: (message(text), gr.skip())),
                     [image, mode, scale, uploads], [inspection, models], api_visibility="private",
                     trigger_mode="always_last")
        for trigger in (ran.success, departure_run.click):
            trigger(in_page(sr_results.departures, lambda text: ([], message(text))), [state, left, right],
                    [departure_maps, departure_text], api_visibility="private", concurrency_id=HEAVY,
                    concurrency_limit=HEAVY_WORKERS)
        pair_lam_run.click(in_page(sr_results.pair_lam, lambda text: ([], message(text))),
                           [state, left, right, cx, cy], [pair_lam_maps, pair_lam_text], api_visibility="private",
                           concurrency_id=HEAVY, concurrency_limit=HEAVY_WORKERS)
        out_run.click(in_page(sr_results.downloads, lambda text: (None, message(text))),
                      [state, out_format, out_quality, out_size], [out_files, out_text],
                      api_visibility="private", concurrency_id=HEAVY, concurrency_limit=HEAVY_WORKERS)
        share_run.click(in_page(share_comparison, lambda text: (None, None)),
                        [state, left, right, table, cx, cy, zoom], [share_files, share_preview],
                        api_visibility="private", concurrency_id=HEAVY, concurrency_limit=HEAVY_WORKERS)
        stop.click(stop_comparison, None, summary, queue=False, api_visibility="private")
        for picker in (left, right):
            picker.change(slider_pair, [state, left, right], slider, api_visibility="private")
        image.select(on_input_click, image, [cx, cy], api_visibility="private") \
            .then(inspector_crops, [state, cx, cy, zoom], inspector, api_visibility="private")
        for control in (cx, cy, zoom):  # dragged, or a value typed in the box (the last of quick changes only)
            control.input(inspector_crops, [state, cx, cy, zoom], inspector, api_visibility="private",
                          trigger_mode="always_last", show_progress="hidden")

        with gr.Accordion("Benchmark: the papers' table on your images", open=False):
            gr.Markdown("Upload high-resolution images (up to "
                        f"{limits.max_benchmark_images()}): each is bicubic-degraded ×scale, upscaled by every model "
                        "chosen above and scored with PSNR-Y / SSIM-Y (border of scale px removed), as in the "
                        "papers. Say which benchmark they are to see the paper's number beside yours. Whole folders: "
                        "`python -m vtdemo benchmark sr FOLDER`.")
            with gr.Row():
                bench_files = FilesUpload(file_count="multiple", type="filepath", file_types=["image"],
                                          label="High-resolution images", elem_id="sr-bench-files")
                dataset = ChoiceInput(["", *BENCHMARKS], value="",
                                      label="These images are (for the paper's number)", elem_id="sr-bench-dataset")
            with gr.Row():
                bench_run = gr.Button("Benchmark", elem_id="sr-bench-run", scale=4)
                bench_stop = gr.Button("Stop", variant="stop", elem_id="sr-bench-stop", scale=1, min_width=80)
            bench_table = gr.Markdown(elem_id="sr-bench-table")
            bench_files_out = gr.File(label="The table as CSV and Markdown", file_count="multiple",
                                      elem_id="sr-bench-downloads")
        bench_run.click(in_page(run_benchmark, lambda text: (message(text), None)),
                        [bench_files, models, scale, dataset, uploads],
                        [bench_table, bench_files_out], api_visibility="private",
                        concurrency_id=HEAVY, concurrency_limit=HEAVY_WORKERS)
        bench_stop.click(stop_benchmark, None, bench_table, queue=False, api_visibility="private")

        # Stable API endpoints (gradio_client), independent of the page's layout.
        with gr.Column(visible=False):
            api_image = ImageUpload(type="filepath", image_mode=None, label="image")
            api_model = gr.Textbox(label="model_id", value="hat-demo-x4")
            api_scale = NumberInput(label="scale", value=4, precision=0)
            api_out = gr.Image(type="filepath", format="png", label="upscaled")
            api_models = ChoiceInput([BICUBIC] + [c.id for c in cards("sr")], multiselect=True, label="model_ids",
                                     value=[BICUBIC, "hat-demo-x4"])
            api_mode = ChoiceInput([m for _, m in MODES], value="lr", label="mode")
            api_reference = ImageUpload(type="filepath", image_mode=None, label="reference")
            api_gallery = gr.Gallery(format="png", label="results")
            api_table = gr.Dataframe(headers=METRIC_HEADERS, label="metrics")
            upscale_button, compare_button = gr.Button(), gr.Button()
        upscale_button.click(api_upscale, [api_image, api_model, api_scale], api_out, api_name="upscale",
                             api_description="Upscale an image with one SR model id (or 'bicubic' at `scale`); "
                                             "returns a PNG.", concurrency_id=HEAVY, concurrency_limit=HEAVY_WORKERS)
        compare_button.click(api_compare, [api_image, api_models, api_mode, api_scale, api_reference],
                             [api_gallery, api_table], api_name="compare",
                             api_description="Compare up to 4 SR models (mode lr | degrade | reference); returns "
                                             "the results and the metrics table.",
                             concurrency_id=HEAVY, concurrency_limit=HEAVY_WORKERS)
