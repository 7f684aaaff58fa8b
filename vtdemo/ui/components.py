"""Gradio components adapted to vtdemo."""
from __future__ import annotations

import gradio as gr


class ImageUpload(gr.Image):
    """A ``gr.Image`` whose uploads reach the handler as the uploaded file's path, undecoded.

    Gradio's own preprocessing opens the file with PIL first, so a non-image (HTML, text, a truncated file) fails
    there with a generic "could not preprocess" error, and a mode conversion would drop alpha or 16-bit depth.
    Here vtdemo's decoder sees the original bytes and says exactly what is wrong. The file is in Gradio's upload
    cache (Gradio checks that), so no user-chosen path reaches the filesystem. Create it with
    ``type="filepath", image_mode=None`` (no ``__init__`` here: Gradio reads a component's props from its
    constructor's signature).
    """

    is_template = True  # same front-end as gr.Image: its block name...

    @classmethod
    def get_component_class_id(cls) -> str:
        return gr.Image.get_component_class_id()  # ...and its class id (else the page asks for custom JS)

    def preprocess(self, payload):
        if payload is None:
            return None
        if payload.path and not (payload.url or "").startswith("data:"):
            return str(payload.path)
        return super().preprocess(payload)  # pasted / webcam data URLs: Gradio writes them to a file
