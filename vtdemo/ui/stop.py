"""Stop buttons. A running request cannot be cancelled from outside its worker thread (``admission`` keeps Gradio
from abandoning it), so Stop is cooperative: it marks the visitor's running job, and the job ends at its next
progress report (a tile, a batch of LAM steps) with a message — its slot and memory are freed within seconds.

The mark is a file, not a flag in memory: on a ZeroGPU Space the job runs in a process forked before Stop was
pressed, which sees no later change to this one's memory but does see the file system."""
from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Callable, Iterator

import gradio as gr

from vtdemo.runtime import Cancelled

STOPPED = "Stopped: nothing from this run was kept."


class Stopped(gr.Error, Cancelled):
    """What a stopped job raises: a message for the page, and a Cancelled that no retry loop swallows."""

_LOCK = threading.Lock()
_FOLDER = Path(tempfile.mkdtemp(prefix="vtdemo-stop-"))  # made at import: the forked GPU workers share its name
atexit.register(shutil.rmtree, _FOLDER, True)


class StopFlag:
    """One run's Stop mark: picklable (it crosses into a GPU worker process) and cheap to check (one stat)."""

    def __init__(self):
        self.path = str(_FOLDER / secrets.token_hex(8))  # never a client's value

    def set(self) -> None:
        Path(self.path).touch()

    def check(self) -> None:
        """Raise gr.Error(STOPPED) once Stop was pressed for this run."""
        if os.path.exists(self.path):
            raise Stopped(STOPPED, print_exception=False)

    def clear(self) -> None:
        Path(self.path).unlink(missing_ok=True)


def _never() -> None:
    """check() of a run nothing can stop (a direct call: no session)."""


# (session, job) -> the flags of the runs now running: bounded by the queue; two runs of one session (a double
# click) each have their own flag, and Stop stops both
_RUNNING: dict[tuple[str, str], list[StopFlag]] = {}


def _key(request: gr.Request | None, job: str) -> tuple[str, str] | None:
    session = getattr(request, "session_hash", None)
    return (session, job) if session else None


@contextlib.contextmanager
def stoppable(request: gr.Request | None, job: str) -> Iterator[Callable[[], None]]:
    """Within the context, ``job`` of this visitor's session can be stopped; yields ``check()``, which raises
    gr.Error(STOPPED) once Stop was pressed. Without a session (a direct call) nothing can stop it."""
    key = _key(request, job)
    if key is None:
        yield _never
        return
    run = StopFlag()
    with _LOCK:
        _RUNNING.setdefault(key, []).append(run)
    try:
        yield run.check
    finally:
        with _LOCK:
            runs = _RUNNING.get(key, [])
            if run in runs:
                runs.remove(run)
            if not runs:
                _RUNNING.pop(key, None)
        run.clear()


def ask_stop(job: str, request: gr.Request | None) -> bool:
    """Stop ``job`` of the caller's own session, if one is running (nothing is recorded otherwise); whether one
    was."""
    key = _key(request, job)
    with _LOCK:
        runs = _RUNNING.get(key, [])
        for run in runs:
            run.set()
        return bool(runs)


STOPPING = "Stopping: the run ends at its next step."


def stopped_message(job: str, request: gr.Request | None):
    """A Stop button's handler body: stop the job and say so in the tab's message area at once; the run itself ends
    at its next progress report, and its handler then writes STOPPED there (the page keeps waiting for it, so no
    cancelled event leaves an "Error" badge and an empty message area)."""
    return f"⏹ {STOPPING}" if ask_stop(job, request) else gr.skip()
