"""Turn task errors into messages a visitor can act on; never show a traceback."""
from __future__ import annotations

import functools
import logging

import gradio as gr

from vtdemo.runtime import release_memory

log = logging.getLogger("vtdemo")


def _expected() -> tuple[type[BaseException], ...]:
    from vtdemo.imaging import ImageError
    from vtdemo.zoo.cards import UnknownModelError
    from vtdemo.zoo.weights import WeightsError

    return ImageError, UnknownModelError, WeightsError, ValueError, FileNotFoundError


def user_errors(fn):
    """Decorator for event handlers: known problems become gr.Error(message); anything else is logged with its
    traceback and reported as an internal error with its one-line reason (the server keeps serving). Freed memory
    is handed back to the OS after every request."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error as exc:
            exc.print_exception = False  # an expected, user-facing message: no traceback in the log
            raise
        except _expected() as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except MemoryError:
            raise gr.Error("Out of memory: try a smaller image or tile size.", print_exception=False) from None
        except Exception as exc:
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(f"Internal error ({type(exc).__name__}): {str(exc)[:300]}", print_exception=False) \
                from None
        finally:
            release_memory()

    return wrapper
