"""Image inputs checked when a file arrives, not when Run is pressed: a file that is not an image vtdemo reads, or
one over the size limits, is removed from the input at once with the reason as a toast (the same sentence the task
would give later) — except an image merely over the pixel limit (by at most ``DOWNSCALE_FACTOR``), which stays
with a button that downscales it to fit in one click."""
from __future__ import annotations

import gradio as gr

from vtdemo.ui.errors import user_errors


@user_errors
def on_arrival(path):
    """(the input, the downscale button): the upload kept, cleared (None) with the reason as a warning toast, or
    kept with the button offered when it is only too large."""
    from vtdemo import limits
    from vtdemo.imaging import DOWNSCALE_FACTOR, ImageError, TooManyPixels, check_header, fit_size

    hidden = gr.update(visible=False)
    if not path:
        return gr.skip(), hidden
    try:
        check_header(path)
    except TooManyPixels as big:
        width, height = big.size
        if width * height <= DOWNSCALE_FACTOR * limits.max_input_pixels():
            fit = fit_size(width, height)
            gr.Warning(f"{big} Press “Downscale to {fit[0]}×{fit[1]}” under the image to use it here.")
            return gr.skip(), gr.update(visible=True, value=f"Downscale to {fit[0]}×{fit[1]}")
        gr.Warning(str(big))
        return None, hidden
    except ImageError as exc:
        gr.Warning(str(exc))
        return None, hidden
    return gr.skip(), hidden


@user_errors
def on_downscale(path):
    """(the downscaled copy in the upload folder, the button hidden)."""
    from pathlib import Path

    from gradio.utils import get_upload_folder

    from vtdemo.imaging import downscale_to_fit
    from vtdemo.ui.components import PASTED_DIR, uploaded_path

    from vtdemo.ui.admission import heavy_slot

    if not path:
        return gr.skip(), gr.update(visible=False)
    with heavy_slot():  # a decode of up to DOWNSCALE_FACTOR × the pixel limit: one at a time
        small = downscale_to_fit(uploaded_path(path), Path(get_upload_folder()) / PASTED_DIR)
    return str(small), gr.update(visible=False)


def check_on_arrival(image: gr.Image) -> None:
    """Under ``image`` (call it right after the image in the layout): the hidden downscale button, and the checks
    wired to the image's uploads."""
    button = gr.Button("Downscale to fit", visible=False, size="sm", variant="secondary")
    image.upload(on_arrival, image, [image, button], api_visibility="private", show_progress="hidden")
    button.click(on_downscale, image, [image, button], api_visibility="private")
