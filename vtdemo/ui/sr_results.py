"""The Upscale tab beyond the comparison itself: the inspector's line on upload (and the models it suggests), where
results depart from their input ("recovered or invented?"), downloads in the format people keep, and the shared
page and wipe animation. Every file goes into the comparison's own run folder, under fixed names (bounded)."""
from __future__ import annotations

import re
from pathlib import Path

import gradio as gr
from PIL import Image

from vtdemo.ui import validate
from vtdemo.ui.errors import user_errors
from vtdemo.ui.files import save_png

DOWNLOAD_FORMATS = [("PNG", "png"), ("JPEG", "jpeg"), ("WebP", "webp"), ("WebP lossless", "webp-lossless")]
SHOWN_SIDE = 1024  # px: the departure maps as the page shows them (their numbers use every pixel)
MAX_CELL = 80  # characters of a metrics cell in the shared page


# --- on upload ---------------------------------------------------------------------------------------------------

def _markdown_text(text: str) -> str:
    """``text`` shown literally in Markdown (a colour profile's name comes from the file: no links, no images)."""
    return re.sub(r"([\\`*_{}\[\]()#+!<>|~-])", r"\\\1", text)


@user_errors
def on_image(image: str | None, mode: str, scale: int, uploads: dict | None):
    """(the inspector's line, the models to compare): pre-filled with the kind that fits when the image is a
    low-resolution one to upscale; the selection is left alone otherwise."""
    from vtdemo.sr.inspection import inspect_image, suggested_models
    from vtdemo.ui.choices import sr_choices

    if not image:
        return "", gr.skip()
    found = inspect_image(image)
    line = f"**Input:** {_markdown_text(found.summary())}"
    if mode != "lr":
        return line, gr.skip()
    scale = validate.integer(scale, "scale", 2, 4)
    picked, why = suggested_models(found, scale, [v for _, v in sr_choices(scale, uploads)])
    return f"{line}  \n**Models pre-selected:** {_markdown_text(why)}.", gr.update(value=picked)


@user_errors
def inspection_line(image: str | None) -> str:
    """The inspector's line alone (the LAM tab: which kind of model an attribution is about to explain)."""
    from vtdemo.sr.inspection import inspect_image

    return f"**Input:** {_markdown_text(inspect_image(image).summary())}" if image else ""


# --- recovered or invented? ----------------------------------------------------------------------------------------

def _result(state: dict, key: str | None) -> dict | None:
    return next((r for r in state["results"] if r["model"] == key), None)


def _shown(image: Image.Image) -> Image.Image:
    if max(image.size) <= SHOWN_SIDE:
        return image
    f = SHOWN_SIDE / max(image.size)
    return image.resize((round(image.width * f), round(image.height * f)), Image.Resampling.LANCZOS)


@user_errors
def departures(state: dict | None, left: str | None, right: str | None, progress=gr.Progress()):
    """(gallery items, Markdown): the LR-consistency map of the slider's two results and their disagreement."""
    from vtdemo.ui.admission import heavy_slot

    if not state or not state.get("results"):
        return [], ""
    with heavy_slot(lambda what: progress(0, desc=what)):  # output-sized arrays: one request at a time
        return _departures(state, left, right)


def _departures(state: dict, left: str | None, right: str | None):
    from vtdemo.sr.consistency import assumed_for, consistency_map, disagreement_map

    keys = dict.fromkeys(k for k in (left, right) if _result(state, k))  # the slider's results, not its views
    chosen = [_result(state, k) for k in keys] or state["results"][:2]
    folder = Path(state["input"]).parent / "departures"
    folder.mkdir(exist_ok=True)
    lr = Image.open(state["input"])
    items, lines = [], []
    for i, r in enumerate(chosen):
        with Image.open(r["path"]) as out:
            found = consistency_map(out, lr, assumed_for(r["model"]))
            shown = found.overlay(_shown(out.convert("RGB")), vmax=32)
        path = folder / f"consistency-{i}.png"
        save_png(shown, path)
        how = "sampled back" if assumed_for(r["model"]) == "sampling" else "bicubic-downscaled"
        items.append((str(path), f"{r['name']}: LR consistency"))  # short: the numbers are in the list below
        lines.append(f"- {r['name']}: {found.caption()} (output {how} vs the input)")
    if len(chosen) == 2:
        with Image.open(chosen[0]["path"]) as a, Image.open(chosen[1]["path"]) as b:
            found = disagreement_map(a, b)
            shown = found.overlay(_shown(a.convert("RGB")), vmax=32)
        path = folder / "disagreement.png"
        save_png(shown, path)
        items.append((str(path), f"{chosen[0]['name']} vs {chosen[1]['name']}"))
        lines.append(f"- {chosen[0]['name']} vs {chosen[1]['name']}: {found.caption()}")
    note = ("Bright where a result disagrees with its input once taken back to the input's size (what the model "
            "changed: noise or JPEG blocks it removed — or something it painted in); detail finer than the input's "
            "pixels leaves no trace there: the disagreement of two models shows it.")
    return items, "\n".join(lines) + "\n\n" + note


PAIR_LAM_STEPS = 30  # path steps of the pair's LAM (the LAM tab offers up to VTDEMO_MAX_LAM_STEPS)


@user_errors
def pair_lam(state: dict | None, left: str | None, right: str | None, cx: float, cy: float,
             progress=gr.Progress(), request: gr.Request = None):
    """LAM of the slider's two results for the 16×16 output box at the zoom inspector's centre, side by side: where
    each result's pixels there came from — nearby input pixels, far away ones, or (a small, concentrated map over
    a busy output) from nowhere the input shows. (gallery items, Markdown)."""
    from vtdemo.sr.engine import BICUBIC
    from vtdemo.sr.lam import CONTEXT
    from vtdemo.ui import on_device
    from vtdemo.ui.admission import heavy_slot
    from vtdemo.ui.stop import stoppable
    from vtdemo.viz.attention import lam_overlay

    if not state or not state.get("results"):
        raise gr.Error("Run a comparison first.")
    keys = dict.fromkeys(k for k in (left, right) if _result(state, k))
    chosen = [_result(state, k) for k in keys] or state["results"][:2]
    uploaded = [r["name"] for r in chosen if r["model"] != BICUBIC and r["model"].startswith("upload:")]
    if uploaded:
        raise gr.Error(f"LAM here runs zoo models; for {uploaded[0]} use the LAM tab.")
    cx, cy = validate.number(cx, "Centre x", 0, 100), validate.number(cy, "Centre y", 0, 100)
    with Image.open(state["input"]) as lr:
        w, h = lr.size
    point = (min(w - 1, int(cx / 100 * w)), min(h - 1, int(cy / 100 * h)))
    folder = Path(state["input"]).parent / "lam"
    folder.mkdir(exist_ok=True)
    items, lines = [], []
    with stoppable(request, "sr") as check:
        for i, r in enumerate(chosen):
            part = on_device.Report(progress, check).part(i, len(chosen), f"LAM of {r['name']}: ")
            with heavy_slot(lambda what: part(0.0, what)):
                found = on_device.lam_for_image(state["input"], r["model"], point, scale=state["scale"],
                                                steps=PAIR_LAM_STEPS, context=CONTEXT, report=part, name=r["name"])
            path = folder / f"lam-{i}.png"
            save_png(lam_overlay(found), path)
            items.append((str(path), f"{r['name']}: DI {found.di:.2f}"))
            lines.append(f"- {r['name']}: diffusion index {found.di:.2f} ({found.seconds:.1f} s)")
    note = (f"The output box at input pixel {point}, ×{state['scale']}, {PAIR_LAM_STEPS} path steps, within "
            f"{CONTEXT} input px: bright input pixels are where the box's detail came from. A higher diffusion "
            "index means more, and farther, pixels were used (the LAM tab has the full options).")
    return items, "\n".join(lines) + "\n\n" + note


# --- downloads and sharing -------------------------------------------------------------------------------------------

def _spec(fmt: str, quality, size: str | None):
    from vtdemo.outputs import OutputSpec

    if fmt not in {v for _, v in DOWNLOAD_FORMATS}:
        raise gr.Error(f"format must be one of {', '.join(v for _, v in DOWNLOAD_FORMATS)}, not {validate.echo(fmt)}.")
    quality = validate.integer(quality, "quality", 1, 100)
    size = (size or "").strip() or None
    try:
        return OutputSpec("webp" if fmt == "webp-lossless" else fmt, quality, fmt == "webp-lossless", size)
    except ValueError as exc:
        raise gr.Error(str(exc), print_exception=False) from None


def source_record(image: str) -> dict:
    """What a comparison's downloads carry from the upload, read once from its header when the comparison ran (not
    from whatever the page sends later): its name, colour profile and EXIF."""
    from vtdemo.imaging import read_metadata

    meta = read_metadata(image)
    return dict(name=Path(image).stem, icc_profile=meta.icc_profile, exif=meta.exif)


@user_errors
def downloads(state: dict | None, fmt: str, quality, size: str | None, progress=gr.Progress()):
    """Every result of the comparison as the file to keep: (file paths, Markdown of what each is)."""
    from vtdemo.outputs import caption, check_target, file_name, finish, target_size
    from vtdemo.ui.admission import heavy_slot

    if not state or not state.get("results"):
        raise gr.Error("Run a comparison first.")
    spec = _spec(fmt, quality, size)
    source = state.get("source") or {}
    with Image.open(state["input"]) as given:
        input_size = given.size  # what the models were given
    final = target_size(*input_size, spec.size, state["scale"])
    check_target(final, len(state["results"]), spec.format)  # all of them together, before any work
    folder = Path(state["input"]).parent / "downloads"
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():  # one set of downloads per comparison
        old.unlink(missing_ok=True)
    paths, lines, n = [], [], len(state["results"])
    with heavy_slot(lambda what: progress(0, desc=what)):
        for i, r in enumerate(state["results"]):
            progress(i / n, desc=f"writing {r['name']} as {spec.describe()}")
            with Image.open(r["path"]) as img:
                img.load()
                payload, final = finish(img, input_size, spec, state["scale"], source.get("icc_profile"),
                                        source.get("exif"))
                native = img.size
            name = file_name(source.get("name", "image"), r["model"], state["scale"], spec,
                             final if spec.size else None)
            path = folder / (name if not (folder / name).exists() else f"{i + 1}-{name}")  # two uploads' names
            path.write_bytes(payload)
            paths.append(str(path))
            lines.append(f"- `{path.name}`: {caption(r['name'], state['scale'], native, final, spec)}, "
                         f"{len(payload) / 1e6:.2f} MB")
    return paths, "\n".join(lines)


def share(state: dict | None, left: str | None, right: str | None, rows: list | None,
          crops: list[tuple[str, str]], headers: list[str]):
    """The comparison as a self-contained HTML page and an animated WebP wipe between the slider's two images
    (``crops``: the zoom inspector's (path, caption) now; ``rows``: the metrics table under ``headers``)."""
    from vtdemo.sr.share import Shown, comparison_html, wipe_animation

    views = {r["model"]: r for r in state["results"] + state.get("views", [])}
    a, b = views.get(left) or state["results"][0], views.get(right) or state["results"][-1]
    with Image.open(a["path"]) as la, Image.open(b["path"]) as lb:
        left_img, right_img = la.convert("RGB"), lb.convert("RGB")
    crops = [Shown(c, Image.open(p).convert("RGB")) for p, c in crops]
    table = rows.values.tolist() if hasattr(rows, "values") else list(rows or [])
    # the table comes back from the page, so the client may have sent anything: the comparison's rows at most,
    # each cell short (it is escaped in the page, and bounded here)
    table = [["—" if v is None or v == "" else str(v)[:MAX_CELL] for v in list(row)[:len(headers)]]
             for row in table[:len(state["results"])]]
    folder = Path(state["input"]).parent
    page = folder / f"vtdemo-comparison-x{state['scale']}.html"
    page.write_bytes(comparison_html(Shown(a["name"], left_img, a.get("caption", "")),
                                     Shown(b["name"], right_img, b.get("caption", "")), crops, headers, table,
                                     title=f"vtdemo ×{state['scale']}: {a['name']} vs {b['name']}"))
    wipe = folder / f"vtdemo-wipe-x{state['scale']}.webp"
    wipe.write_bytes(wipe_animation(left_img, right_img))
    return [str(page), str(wipe)], str(wipe)
