"""Image inputs checked when a file arrives, not when Run is pressed: a file that is not an image vtdemo reads, or
one over the size limits, is removed from the input at once with the reason as a toast (the same sentence the task
would give later)."""
from __future__ import annotations

import gradio as gr

from vtdemo.ui.errors import user_errors


@user_errors
def on_arrival(path):
    """The upload's path, or None (the input cleared) with the reason as a warning toast."""
    from vtdemo.imaging import ImageError, check_header

    if not path:
        return gr.skip()
    try:
        check_header(path)
    except ImageError as exc:
        gr.Warning(str(exc))
        return None
    return gr.skip()


def check_on_arrival(*images: gr.Image) -> None:
    """Wire ``on_arrival`` to each image input's upload (inside a Blocks context)."""
    for image in images:
        image.upload(on_arrival, image, image, api_visibility="private", show_progress="hidden")
