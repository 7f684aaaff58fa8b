"""The Blocks app: one tab per module, launched on 127.0.0.1 with every request checked before Gradio sees it
(``guard``, ``uploads``), a bounded queue served fairly (``admission``), no queue-skipping routes, no monitoring
page, a header timeout (``slow_clients``), a bounded number of sessions, and uploads and results deleted after an
age."""
from __future__ import annotations

import os

import gradio as gr

from vtdemo import limits
from vtdemo.ui import attention_tab, classify_tab, lam_tab, models_tab, sr_tab
from vtdemo.ui import gradio_internals
from vtdemo.ui.admission import limit_per_client, size_heavy_slots

INTRO = """\
# vtdemo — a lab for vision transformers
Upscale images with **HAT** and its baselines, compare models, and look inside **ViT, DeiT, Swin, PVT** and
**PerViT**. Everything runs locally; models load on first use.
"""

TABS = (sr_tab, lam_tab, classify_tab, attention_tab, models_tab)  # each module's build(demo) adds one tab

CSS = """
.vt-status { font-size: 0.9em; opacity: 0.85; }
/* labels and corner buttons above images, not over them: they hid an overlay's top row, the query box, the colour
   bar's maximum */
label[data-testid="block-label"].float { position: static !important; margin-bottom: 4px; }
.icon-button-wrapper.top-panel { position: static !important; justify-content: flex-end; }
/* gallery captions ("16.67 s · bf16 · HAT-demo ×4 …") whole: wrapped over the image's foot, not cut to one line
   (a caption moved under the image falls outside the thumbnail's clipped box) */
.caption-label { max-width: calc(100% - 2 * var(--block-label-margin)) !important; white-space: normal !important;
  text-overflow: clip !important; opacity: 0.9 !important; }
/* phones: the inspector's crops one per row at full width, wide tables scroll sideways instead of being cut */
@media (max-width: 640px) {
  #sr-inspector .grid-container { grid-template-columns: 1fr !important; }
  #sr-metrics .table-wrap, #sr-metrics table { overflow-x: auto; }
  button[role="tab"] { padding-left: 6px !important; padding-right: 6px !important; font-size: 0.9em !important; }
}
"""


def build_app() -> gr.Blocks:
    """The whole app. Cheap: no model and no torch import happens here."""
    age = limits.file_max_age_seconds()
    # uploads and Gradio's copies of results are deleted once they are older than VTDEMO_FILE_MAX_AGE_S
    with gr.Blocks(title="vtdemo — vision transformer lab", delete_cache=(max(60, age // 4), age)) as demo:
        gr.Markdown(INTRO)
        with gr.Tabs(overflow_behavior="wrap"):  # on a phone the tabs wrap onto a second line, none hidden in a menu
            for tab in TABS:
                tab.build(demo)
    return demo


SESSION_MARGIN = 64  # admission.Sessions evicts fairly at VTDEMO_MAX_SESSIONS; Gradio's own LRU is the backstop


def launch(demo: gr.Blocks, host: str | None = None, port: int | None = None, **kwargs):
    """Serve ``demo``: 127.0.0.1:7860 unless told otherwise (GRADIO_SERVER_NAME / GRADIO_SERVER_PORT respected),
    no share link, uploads capped at the larger of the image and checkpoint limits."""
    host = host or os.environ.get("GRADIO_SERVER_NAME") or "127.0.0.1"
    port = port or int(os.environ.get("GRADIO_SERVER_PORT") or 7860)
    max_upload = max(limits.max_upload_bytes(), limits.max_checkpoint_upload_bytes())
    # api_open=False: the run/ and api/ routes would skip the queue and every limit (Gradio opens them off a Space)
    gradio_internals.check_version()  # the limits below patch Gradio's internals
    demo.queue(default_concurrency_limit=1, max_size=limits.queue_size(), api_open=False)
    limit_per_client(demo)
    size_heavy_slots()
    from vtdemo.zoo.downloads import clean_partial_downloads

    clean_partial_downloads()  # a download killed with the previous server
    if os.environ.get("VTDEMO_RAY_SERVE", "").strip():  # SR tiles on Ray Serve replicas: deployed before serving
        from vtdemo.sr import serve_backend

        serve_backend.start()
    from vtdemo.examples import examples_dir

    kwargs.setdefault("allowed_paths", [str(examples_dir())])
    from starlette.middleware import Middleware

    from vtdemo.ui import slow_clients
    from vtdemo.ui.guard import RequestGuard
    from vtdemo.ui.uploads import UploadQuota

    slow_clients.install()
    app_kwargs = dict(kwargs.pop("app_kwargs", None) or {})
    app_kwargs["middleware"] = [*app_kwargs.get("middleware", []), Middleware(RequestGuard, blocks=demo),
                                Middleware(UploadQuota)]
    return demo.launch(server_name=host, server_port=port, share=False, max_file_size=max_upload,
                       state_session_capacity=limits.max_sessions() + SESSION_MARGIN, app_kwargs=app_kwargs,
                       enable_monitoring=False,
                       theme=gr.themes.Soft(primary_hue="indigo"), css=CSS, show_error=True, **kwargs)
