"""Endpoint arguments checked before any work: a client may send anything (a string for a number, inf, a 1-MB id),
and every mistake must come back as one clear sentence, never as an internal error or a traceback in the log."""
from __future__ import annotations

import math

import gradio as gr

ECHO = 40  # characters of a client's value repeated in a message
SANE = 1e9  # no pixel position, count or scale is larger: bigger numbers are refused (and never echoed in full)


def echo(value) -> str:
    """A short, safe rendering of a client's value for a message."""
    text = repr(value)
    return text if len(text) <= ECHO else text[:ECHO] + "…"


def _fail(message: str):
    raise gr.Error(message, print_exception=False)


def number(value, name: str, low: float | None = None, high: float | None = None) -> float:
    """A finite number within [low, high]."""
    try:
        result = float(value)
    except (TypeError, ValueError):
        _fail(f"{name} must be a number, not {echo(value)}.")
    if not math.isfinite(result):
        _fail(f"{name} must be a finite number, not {echo(value)}.")
    low = -SANE if low is None else low
    high = SANE if high is None else high
    if not low <= result <= high:
        _fail(f"{name} must be between {low:g} and {high:g}; got {result:g}.")
    return result


def integer(value, name: str, low: int | None = None, high: int | None = None) -> int:
    """A whole number within [low, high] (2.0 is accepted as 2; 2.5 is not)."""
    result = number(value, name, low, high)
    if result != int(result):
        _fail(f"{name} must be a whole number; got {result:g}.")
    return int(result)


def text(value, name: str, max_length: int = 64) -> str:
    """A short string (model ids, modes): anything else is refused without echoing it whole."""
    if not isinstance(value, str) or not value or len(value) > max_length:
        _fail(f"{name} must be a short text (at most {max_length} characters), not {echo(value)}.")
    return value


def optional_text(value, name: str, max_length: int = 64) -> str:
    """``text``, or "" for nothing (None or an empty string)."""
    return "" if value in (None, "") else text(value, name, max_length)


def choice(value, name: str, allowed) -> str:
    """One of ``allowed`` (strings)."""
    if not isinstance(value, str) or value not in allowed:
        _fail(f"{name} must be one of {', '.join(allowed)}, not {echo(value)}.")
    return value


def model_ids(value, name: str = "model_ids", max_count: int = 8) -> list[str]:
    """A list of ids (or one comma-separated string)."""
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, (list, tuple)) or len(value) > max_count:
        _fail(f"{name} must be a list of at most {max_count} model ids, not {echo(value)}.")
    return [text(v, "a model id") for v in value]


def click(evt) -> tuple[float, float]:
    """The (x, y) of a click event: finite numbers a page could produce (a client can send anything)."""
    index = getattr(evt, "index", None)
    if not isinstance(index, (list, tuple)) or len(index) != 2:
        _fail(f"A click needs an (x, y) position, not {echo(index)}.")
    return number(index[0], "x", -1e6, 1e6), number(index[1], "y", -1e6, 1e6)
