"""Models tab: the zoo as a table with live weight status, and a fetch action."""
from __future__ import annotations

import os

import gradio as gr

from vtdemo import limits
from vtdemo.ui import validate
from vtdemo.ui.admission import HEAVY, HEAVY_WORKERS, heavy_slot
from vtdemo.ui.components import ChoiceInput
from vtdemo.ui.errors import user_errors
from vtdemo.ui.stop import stoppable, stopped_message
from vtdemo.zoo import table, weights
from vtdemo.zoo.cards import UnknownModelError, cards, get_card

# what a visitor looks for first (which model, can it run here — both in view on a phone) before the details
COLUMNS = ["id", "status", "task", "name", "params", "family", "paper", "licence", "source", "builder"]


def models_table() -> list[list[str]]:
    """The zoo's rows, status computed now."""
    rows = table.model_rows()
    return [[f"[{table.short_citation(r['paper'])}]({r['paper_url']})" if c == "paper" else r[c] for c in COLUMNS]
            for r in rows]


def environment_summary() -> str:
    from vtdemo.runtime import describe_device

    hosts = {"Hugging Face Hub": weights.is_online(), "GitHub": weights.reachable("github.com")}
    online = ", ".join(f"{name} {'reachable' if up else 'unreachable'}" for name, up in hosts.items())
    folder = "$VTDEMO_WEIGHTS_DIR" if os.environ.get("VTDEMO_WEIGHTS_DIR") else "weights/"
    return (f"**Device:** {describe_device()} · **Network:** {online} · **Weights folder:** `{folder}` "
            "(then the Hugging Face cache)")


def fetch_weights(model_id: str, progress=gr.Progress(track_tqdm=True)) -> str:
    """Download (or find) the weights of ``model_id``; returns a Markdown report, with instructions when offline."""
    try:
        card = get_card(validate.text(model_id, "model_id"))
    except UnknownModelError as exc:
        raise gr.Error(str(exc)) from None

    def report(done: int, total: int | None) -> None:
        progress((done, total), desc=f"Downloading {card.source.basename}", unit="bytes")

    try:
        path = weights.resolve(card, progress=report)
    except weights.WeightsUnavailable as exc:
        return f"⚠️ **{card.id} is not available here.**\n\n{exc}"
    except weights.WeightsError as exc:
        raise gr.Error(str(exc)) from None
    return f"✅ **{card.id}** weights are ready: `{weights.display_path(path)}`"


SCALING_MODELS, SCALING_SIZES, MAX_SCALING_SIDE = 4, 4, 1024


@user_errors
def scaling_figure(model_ids, sizes: str, progress=gr.Progress(), request: gr.Request = None):
    """Latency vs input pixels of up to four classifiers (random weights of the real architectures), log–log, with
    the fitted exponent of each; measured now, on this server's device, within the server's time and memory
    limits (estimated before anything runs), stoppable, taking the heavy slot one point at a time."""
    from vtdemo.classify.scaling import ScalingError, measure
    from vtdemo.viz.plots import scaling_figure as figure

    model_ids = list(dict.fromkeys(validate.model_ids(model_ids or [], "models", max_count=SCALING_MODELS)))
    if not model_ids:
        raise gr.Error("Choose at least one classifier.")
    for model_id in model_ids:
        if get_card(model_id).task != "classify":
            raise gr.Error(f"{model_id} is not a classifier.")
    try:
        sides = sorted({int(v) for v in validate.text(sizes, "sizes").replace(",", " ").split()})
    except ValueError:
        raise gr.Error("sizes must be whole numbers of pixels, e.g. 224 448 672.") from None
    if not 2 <= len(sides) <= SCALING_SIZES or not all(32 <= s <= MAX_SCALING_SIDE and s % 32 == 0 for s in sides):
        raise gr.Error(f"Give 2 to {SCALING_SIZES} sizes, multiples of 32 between 32 and {MAX_SCALING_SIDE} px.")
    for model_id in model_ids:  # tokens grow with the square of the side, some attention with its fourth power
        largest = 3 * get_card(model_id).preprocess.size
        if sides[-1] > largest:
            raise gr.Error(f"{model_id}: at most {largest} px here (3× its input size); the CLI has no such limit.")
    with stoppable(request, "chart") as check:
        def report(fraction: float, what: str) -> None:
            check()
            progress(fraction, desc=what)

        try:
            points, exponents = measure(model_ids, sides, report=report, max_seconds=limits.max_job_seconds(),
                                        max_memory_mb=limits.chart_memory_bytes() / 1e6,
                                        hold=lambda: heavy_slot(lambda what: progress(0.0, desc=what)))
        except ScalingError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
    return figure(points, exponents), ""


def stop_scaling(request: gr.Request):
    return stopped_message("chart", request)


def build(demo: gr.Blocks) -> None:
    with gr.Tab("Models", id="models"):
        gr.Markdown("Every model vtdemo knows. *Status* says where its weights are: **embedded** (shipped in "
                    "`weights/`), **cached** (downloaded before), **downloadable**, **unavailable offline**, or "
                    "**local file needed** (no automatic download: the *source* column says where to get it). "
                    "*(unverified)*: no sha256 is published for that file; the first download's is recorded and "
                    "any later change refused.")
        environment = gr.Markdown(elem_classes="vt-status")
        grid = gr.Dataframe(headers=COLUMNS, datatype=["markdown" if c == "paper" else "str" for c in COLUMNS],
                            interactive=False, wrap=True, max_height=520, label="Model zoo",
                            elem_id="models-table")
        with gr.Row(equal_height=True):
            choice = ChoiceInput(choices=[(f"{c.id} — {c.name}", c.id) for c in cards()], value="hat-x4",
                                 label="Model", scale=3)
            fetch = gr.Button("Fetch weights", variant="primary", scale=1)
            refresh = gr.Button("Refresh status", scale=1)
        message = gr.Markdown(elem_id="fetch-message")
        with gr.Accordion("Cost vs input size (measured here, on request)", open=False):
            gr.Markdown("ViT's attention is global, so its cost grows with the square of the token count; Swin's "
                        "windows and PVT-v2's reduced keys were designed to grow linearly with the pixels. Time "
                        "each model (random weights of the real architecture) at a few input sizes: the fitted "
                        "exponent k says time ∝ pixels^k.")
            classifiers = [c.id for c in cards("classify")]
            with gr.Row():
                scaling_models = ChoiceInput(classifiers, value=["vit-ti16", "deit-ti16", "swin-t", "pvt-v2-b0"],
                                             multiselect=True, max_choices=SCALING_MODELS, label="Classifiers",
                                             elem_id="scaling-models")
                scaling_sizes = gr.Textbox(value="224 448 672", label="Input sides (px)", max_lines=1)
            with gr.Row():
                scaling_run = gr.Button("Measure", elem_id="scaling-run", scale=4)
                scaling_stop = gr.Button("Stop", variant="stop", elem_id="scaling-stop", scale=1, min_width=80)
            scaling_plot = gr.Plot(elem_id="scaling-plot")
            scaling_message = gr.Markdown(elem_id="scaling-message")
        measuring = scaling_run.click(scaling_figure, [scaling_models, scaling_sizes],
                                      [scaling_plot, scaling_message],
                                      api_visibility="private", concurrency_id=HEAVY,
                                      concurrency_limit=HEAVY_WORKERS)
        scaling_stop.click(stop_scaling, None, scaling_message, cancels=[measuring], queue=False,
                           api_visibility="private")

        demo.load(models_table, outputs=grid, api_visibility="private")
        demo.load(environment_summary, outputs=environment, api_visibility="private")
        refresh.click(models_table, outputs=grid, api_name="models",
                      api_description="The model zoo: one row per model with its live weights status.")
        fetch.click(fetch_weights, inputs=choice, outputs=message, api_name="fetch",
                    api_description="Download or locate a model's weights; explains what to do when offline.") \
            .then(models_table, outputs=grid, api_visibility="private")
