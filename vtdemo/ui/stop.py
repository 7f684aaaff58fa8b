"""Stop buttons. A running request cannot be cancelled from outside its worker thread (``admission`` keeps Gradio
from abandoning it), so Stop is cooperative: it marks the visitor's running job, and the job ends at its next
progress report (a tile, a batch of LAM steps) with a message — its slot and memory are freed within seconds."""
from __future__ import annotations

import contextlib
import threading
from typing import Callable, Iterator

import gradio as gr

STOPPED = "Stopped: nothing from this run was kept."

_LOCK = threading.Lock()
# (session, job) -> {run: stop asked} for the runs now running: bounded by the queue; two runs of one session (a
# double click) each have their own entry, and Stop stops both
_RUNNING: dict[tuple[str, str], dict[object, bool]] = {}


def _key(request: gr.Request | None, job: str) -> tuple[str, str] | None:
    session = getattr(request, "session_hash", None)
    return (session, job) if session else None


@contextlib.contextmanager
def stoppable(request: gr.Request | None, job: str) -> Iterator[Callable[[], None]]:
    """Within the context, ``job`` of this visitor's session can be stopped; yields ``check()``, which raises
    gr.Error(STOPPED) once Stop was pressed. Without a session (a direct call) nothing can stop it."""
    key = _key(request, job)
    if key is None:
        yield lambda: None
        return
    run = object()
    with _LOCK:
        _RUNNING.setdefault(key, {})[run] = False

    def check() -> None:
        if _RUNNING.get(key, {}).get(run):
            raise gr.Error(STOPPED, print_exception=False)

    try:
        yield check
    finally:
        with _LOCK:
            runs = _RUNNING.get(key, {})
            runs.pop(run, None)
            if not runs:
                _RUNNING.pop(key, None)


def ask_stop(job: str, request: gr.Request | None) -> None:
    """Stop ``job`` of the caller's own session, if one is running (nothing is recorded otherwise)."""
    key = _key(request, job)
    with _LOCK:
        runs = _RUNNING.get(key, {})
        for run in runs:
            runs[run] = True
