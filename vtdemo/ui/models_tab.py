"""Models tab: the zoo as a table with live weight status, and a fetch action."""
from __future__ import annotations

import os

import gradio as gr

from vtdemo.zoo import table, weights
from vtdemo.zoo.cards import UnknownModelError, cards, get_card

COLUMNS = ["id", "task", "family", "name", "paper", "params", "licence", "source", "status", "builder"]


def models_table() -> list[list[str]]:
    """The zoo's rows, status computed now."""
    rows = table.model_rows()
    return [[f"[{table.short_citation(r['paper'])}]({r['paper_url']})" if c == "paper" else r[c] for c in COLUMNS]
            for r in rows]


def environment_summary() -> str:
    from vtdemo.runtime import describe_device

    online = "online" if weights.is_online() else "offline (downloads disabled)"
    folder = "$VTDEMO_WEIGHTS_DIR" if os.environ.get("VTDEMO_WEIGHTS_DIR") else "weights/"
    return (f"**Device:** {describe_device()} · **Network:** {online} · **Weights folder:** `{folder}` "
            "(then the Hugging Face cache)")


def fetch_weights(model_id: str, progress=gr.Progress(track_tqdm=True)) -> str:
    """Download (or find) the weights of ``model_id``; returns a Markdown report, with instructions when offline."""
    try:
        card = get_card(model_id)
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


def build(demo: gr.Blocks) -> None:
    with gr.Tab("Models", id="models"):
        gr.Markdown("Every model vtdemo knows. *Status* says where its weights are: **embedded** (shipped in "
                    "`weights/`), **cached** (downloaded before), **downloadable**, **unavailable offline**, or "
                    "**local file needed** (no automatic download: the *source* column says where to get it).")
        environment = gr.Markdown(elem_classes="vt-status")
        grid = gr.Dataframe(headers=COLUMNS, datatype=["str"] * 4 + ["markdown"] + ["str"] * 5,
                            interactive=False, wrap=True, max_height=520, label="Model zoo",
                            elem_id="models-table")
        with gr.Row(equal_height=True):
            choice = gr.Dropdown(choices=[(f"{c.id} — {c.name}", c.id) for c in cards()], value="hat-x4",
                                 label="Model", scale=3)
            fetch = gr.Button("Fetch weights", variant="primary", scale=1)
            refresh = gr.Button("Refresh status", scale=1)
        message = gr.Markdown(elem_id="fetch-message")

        demo.load(models_table, outputs=grid, api_visibility="private")
        demo.load(environment_summary, outputs=environment, api_visibility="private")
        refresh.click(models_table, outputs=grid, api_name="models",
                      api_description="The model zoo: one row per model with its live weights status.")
        fetch.click(fetch_weights, inputs=choice, outputs=message, api_name="fetch",
                    api_description="Download or locate a model's weights; explains what to do when offline.") \
            .then(models_table, outputs=grid, api_visibility="private")
