"""Gradio components adapted to vtdemo."""
from __future__ import annotations

import gradio as gr

from gradio.events import Dependency

class ImageUpload(gr.Image):
    """A ``gr.Image`` whose uploads reach the handler as the uploaded file's path, undecoded.

    Gradio's own preprocessing opens the file with PIL first, so a non-image (HTML, text, a truncated file) fails
    there with a generic "could not preprocess" error, and a mode conversion would drop alpha or 16-bit depth.
    Here vtdemo's decoder sees the original bytes and says exactly what is wrong. The file is in Gradio's upload
    cache (Gradio checks that), so no user-chosen path reaches the filesystem.
    """

    is_template = True  # same front-end as gr.Image

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("type", "filepath")
        kwargs.setdefault("image_mode", None)
        super().__init__(*args, **kwargs)

    def preprocess(self, payload):
        if payload is None:
            return None
        if payload.path and not (payload.url or "").startswith("data:"):
            return str(payload.path)
        return super().preprocess(payload)
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component  # pasted / webcam data URLs: Gradio writes them to a file