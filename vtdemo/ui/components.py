"""Gradio components adapted to vtdemo: file inputs that only ever hand a handler a file the server received, and
number / choice inputs that hand the client's raw value to the handler's checks.

Gradio 6.31 checks that an input file was uploaded to its cache folder only when the request carries its ``meta``
marker (``{"_type": "gradio.FileData"}``); a raw API request without it reaches ``preprocess`` with any path the
client chose (docs/security.md has the upstream report). So every file input here checks the path itself.
"""
from __future__ import annotations

import os
from pathlib import Path

import gradio as gr
from gradio.data_classes import ListFiles

# One message for every refused path, so a client learns nothing about the server's files (existence, type, size).
NOT_UPLOADED = "That file was not uploaded to this server: send the image itself (an upload), not a path."
PASTED_DIR = "vtdemo-pasted"  # data URLs are written here, inside Gradio's upload folder


def _upload_roots() -> list[str]:
    from gradio.utils import get_upload_folder

    from vtdemo.examples import examples_dir

    return [os.path.realpath(get_upload_folder()), os.path.realpath(examples_dir())]


def uploaded_path(path: str | os.PathLike) -> str:
    """``path`` resolved, if it is a file inside Gradio's upload folder or the app's examples; otherwise
    gr.Error(NOT_UPLOADED) — the same message whether the file exists or not."""
    if len(os.fspath(path)) > 4096:  # resolving a path costs time with its length; no upload's is this long
        raise gr.Error(NOT_UPLOADED, print_exception=False)
    real = os.path.realpath(os.fspath(path))
    if any(real.startswith(root + os.sep) for root in _upload_roots()) and os.path.isfile(real):
        return real
    raise gr.Error(NOT_UPLOADED, print_exception=False)


def save_data_url(url: str) -> str:
    """A pasted data URL written to a file in the upload folder (``imaging.save_data_url``), as gr.Error when
    refused."""
    from gradio.utils import get_upload_folder

    from vtdemo.imaging import ImageError, save_data_url as save

    try:
        return str(save(url, Path(get_upload_folder()) / PASTED_DIR))
    except ImageError as exc:
        raise gr.Error(str(exc), print_exception=False) from None


class _GradioFrontEnd:
    """A subclass of a Gradio component that keeps that component's front-end: its block name and class id (else
    the page asks for custom JS). No ``__init__`` here or below: Gradio reads a component's props from its
    constructor's signature."""

    is_template = True

    @classmethod
    def _gradio_class(cls) -> type:
        return next(c for c in cls.__mro__ if c.__module__.startswith("gradio."))

    def get_block_name(self) -> str:
        return self._gradio_class().__name__.lower()

    @classmethod
    def get_component_class_id(cls) -> str:
        return cls._gradio_class().get_component_class_id()


class _NoFetching:
    """Gradio downloads an input given as an http(s) URL (with its meta marker) into its cache — the server would
    fetch whatever a client names. These inputs take uploads only."""

    def move_resource_to_block_cache(self, url_or_file_path):
        _refuse_urls(url_or_file_path)
        return super().move_resource_to_block_cache(url_or_file_path)

    async def async_move_resource_to_block_cache(self, url_or_file_path):
        _refuse_urls(url_or_file_path)
        return await super().async_move_resource_to_block_cache(url_or_file_path)


def _refuse_urls(url_or_file_path) -> None:
    if str(url_or_file_path or "").lower().startswith(("http://", "https://")):
        raise gr.Error(NOT_UPLOADED, print_exception=False)


class ImageUpload(_NoFetching, _GradioFrontEnd, gr.Image):
    """A ``gr.Image`` whose uploads reach the handler as the uploaded file's path, undecoded and checked.

    Gradio's own preprocessing opens the file with PIL first, so a non-image (HTML, text, a truncated file) fails
    there with a generic "could not preprocess" error, a mode conversion would drop alpha or 16-bit depth, and a
    data URL would be decoded before any limit. Here the path must be inside the upload folder (``uploaded_path``),
    data URLs are size-checked and written to a file, and vtdemo's decoder sees the original bytes and says exactly
    what is wrong. Create it with ``type="filepath", image_mode=None``.
    """

    def preprocess(self, payload):
        if payload is None:
            return None
        if (payload.url or "").startswith("data:"):
            return save_data_url(payload.url)
        if not payload.path:
            raise gr.Error(NOT_UPLOADED, print_exception=False)
        return uploaded_path(payload.path)


class FileUpload(_NoFetching, _GradioFrontEnd, gr.File):
    """A single-file ``gr.File`` (type "filepath") whose path must be an upload (``uploaded_path``)."""

    def preprocess(self, payload):
        if payload is None:
            return None
        first = payload[0] if isinstance(payload, ListFiles) else payload
        if not first.path:
            raise gr.Error(NOT_UPLOADED, print_exception=False)
        return uploaded_path(first.path)


class FilesUpload(_NoFetching, _GradioFrontEnd, gr.File):
    """A multi-file ``gr.File`` (type "filepath", file_count "multiple"): every path must be an upload."""

    def preprocess(self, payload):
        if payload is None:
            return None
        files = payload.root if isinstance(payload, ListFiles) else [payload]
        if any(not f.path for f in files):
            raise gr.Error(NOT_UPLOADED, print_exception=False)
        return [uploaded_path(f.path) for f in files]


class _Passthrough:
    """The client's value reaches the handler as sent: the handler checks it (``vtdemo.ui.validate``) and answers a
    mistake in one sentence. Gradio's own preprocessing answers "Could not preprocess input component …", logs a
    traceback, and (for choices) repeats a megabyte-long value back."""

    def preprocess(self, payload):
        return payload


class NumberInput(_Passthrough, _GradioFrontEnd, gr.Number):
    """``gr.Number`` whose value reaches the handler's checks as sent."""


class ChoiceInput(_Passthrough, _GradioFrontEnd, gr.Dropdown):
    """``gr.Dropdown`` whose value reaches the handler's checks as sent."""


class RadioInput(_Passthrough, _GradioFrontEnd, gr.Radio):
    """``gr.Radio`` whose value reaches the handler's checks as sent (its choices change with another control)."""


class SliderInput(_Passthrough, _GradioFrontEnd, gr.Slider):
    """``gr.Slider`` whose value reaches the handler's checks as sent (its range changes with another control)."""


class _Quiet:
    """Gradio's own checks of the value, answered in one sentence: Gradio's message repeats the client's value (a
    megabyte, if that is what was sent) and its log gets a traceback for every such request."""

    def preprocess(self, payload):
        try:
            return super().preprocess(payload)
        except Exception:
            raise gr.Error(f"{self.label or 'A control'}: the value sent is not one this control offers.",
                           print_exception=False) from None


class Dropdown(_Quiet, _GradioFrontEnd, gr.Dropdown):
    """``gr.Dropdown`` whose refusals are one sentence."""


class Radio(_Quiet, _GradioFrontEnd, gr.Radio):
    """``gr.Radio`` whose refusals are one sentence."""


class Slider(_Quiet, _GradioFrontEnd, gr.Slider):
    """``gr.Slider`` whose refusals are one sentence."""


class Checkbox(_Quiet, _GradioFrontEnd, gr.Checkbox):
    """``gr.Checkbox`` whose refusals are one sentence."""


class HeadlineLabel(_GradioFrontEnd, gr.Label):
    """``gr.Label`` that also takes ``{"label": headline, "confidences": [{"label", "confidence"}, ...]}``: a headline
    other than the top class (a warning), with the probabilities still listed."""

    def postprocess(self, value):
        if isinstance(value, dict) and isinstance(value.get("confidences"), list):
            from gradio.components.label import LabelConfidence, LabelData

            return LabelData(label=str(value["label"]),
                             confidences=[LabelConfidence(label=c["label"], confidence=c["confidence"])
                                          for c in value["confidences"]])
        return super().postprocess(value)


def bring_into_view_on_click(button: gr.Button, elem_id: str, narrow: int = 900) -> None:
    """When ``button`` is pressed on a narrow screen (a phone: the inputs and the results are stacked), scroll the
    element ``elem_id`` (a result or its progress line) into view; in the page only, no request."""
    button.click(None, None, None, api_visibility="private", js=(
        f"() => {{ if (window.innerWidth < {narrow}) document.getElementById({elem_id!r})"
        "?.scrollIntoView({behavior: 'smooth', block: 'start'}); }"))
