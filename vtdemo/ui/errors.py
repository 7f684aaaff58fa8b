"""Turn task errors into messages a visitor can act on; never show a traceback or a server path."""
from __future__ import annotations

import functools
import logging
from pathlib import Path

import gradio as gr

from vtdemo.runtime import release_memory

log = logging.getLogger("vtdemo")
MAX_ECHO = 200  # characters of a message that may repeat the client's input


def _expected() -> tuple[type[BaseException], ...]:
    from vtdemo.imaging import ImageError
    from vtdemo.zoo.cards import UnknownModelError
    from vtdemo.zoo.errors import WeightsError

    return ImageError, UnknownModelError, WeightsError


def _raised_by_vtdemo(exc: BaseException) -> bool:
    """True when the innermost frame that raised ``exc`` is vtdemo's own code (a check on the request's values), not
    a library's (which, for a ValueError, means a bug here)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and tb.tb_frame.f_code.co_filename.startswith(_PACKAGE)


_PACKAGE = str(Path(__file__).resolve().parents[1])


def _user_error(exc: Exception, where: str) -> gr.Error:
    """The gr.Error to show for ``exc``: known problems and vtdemo's own checks as they are; a weights file that does
    not fit its model also goes to the log (the operator must fix it); anything else is logged with its traceback."""
    from vtdemo.zoo.builders import BuildError

    if isinstance(exc, gr.Error):
        exc.print_exception = False  # an expected, user-facing message: no traceback in the log
        return exc.with_traceback(None)
    if isinstance(exc, BuildError):
        log.warning("%s: %s", where, exc)
        return gr.Error(str(exc)[:MAX_ECHO * 4], print_exception=False)
    if isinstance(exc, _expected()) or (isinstance(exc, ValueError) and _raised_by_vtdemo(exc)):
        return gr.Error(str(exc)[:MAX_ECHO * 4], print_exception=False)
    if isinstance(exc, MemoryError):
        return gr.Error("Out of memory: try a smaller image or tile size.", print_exception=False)
    log.error("unexpected error in %s", where, exc_info=exc)
    if isinstance(exc, OSError):  # its message names server files: the reason only
        return gr.Error(f"Internal error ({type(exc).__name__}): {exc.strerror or 'input/output error'}",
                        print_exception=False)
    return gr.Error(f"Internal error ({type(exc).__name__}): {str(exc)[:300]}", print_exception=False)


def user_errors(fn):
    """Decorator for event handlers: known problems become gr.Error(message); anything else is logged with its
    traceback and reported as an internal error with its one-line reason (the server keeps serving). The error is
    raised with no chain to the original exception, so no frame of the failed work (a half-loaded checkpoint, a
    large image) stays alive with it. Freed memory is handed back to the OS after every request."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - every error becomes a message
                error = _user_error(exc, fn.__name__)
            raise error  # outside the except block: no __context__ back to ``exc`` and its frames
        finally:
            release_memory()

    return wrapper


def in_page(fn, failed):
    """For a page's own handlers (the API endpoints keep raising): a failed run returns ``failed(message)`` — its
    outputs with the message in the page's message area and the previous results cleared — instead of Gradio's
    red "Error" pills over results that no longer match the inputs; the message also comes as a toast (a warning;
    for a run its visitor stopped, a note), so it is seen wherever the page is scrolled."""
    from vtdemo.ui.stop import Stopped

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error as exc:
            (gr.Info if isinstance(exc, Stopped) else gr.Warning)(exc.message)
            return failed(exc.message)

    return wrapper


def message(text: str) -> str:
    """The Markdown a message area shows for a failed run."""
    return f"⚠️ {text}"
