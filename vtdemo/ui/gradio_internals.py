"""Every place the app reaches into Gradio's internals, in one module: the queue's ``push`` wrapped by the admission
policy, ``cancel_tasks`` replaced, refusals delivered as finished events, waiting events reordered, evicted sessions'
state dropped, and the event indices and server functions the request guard checks. They were written against
Gradio 6.31: ``check_version`` refuses to serve with another minor version (the limits would silently stop holding)
unless VTDEMO_UNTESTED_GRADIO=1 says to try."""
from __future__ import annotations

import asyncio
import logging
import os
from collections import OrderedDict
from typing import Awaitable, Callable

import gradio as gr

TESTED = ("6.31",)  # gradio major.minor versions these internals were read in and the tests pass with
log = logging.getLogger(__name__)


def check_version(version: str | None = None) -> None:
    version = version or gr.__version__
    if ".".join(version.split(".")[:2]) in TESTED:
        return
    message = (f"vtdemo's request limits patch Gradio internals read in Gradio {', '.join(TESTED)}; this is Gradio "
               f"{version}. Install gradio=={TESTED[-1]}.0 (requirements-dev.txt pins it), or set "
               "VTDEMO_UNTESTED_GRADIO=1 to serve anyway after checking vtdemo/ui/gradio_internals.py.")
    if os.environ.get("VTDEMO_UNTESTED_GRADIO", "").strip() == "1":
        log.warning(message)
        return
    raise RuntimeError(message)


async def _keep_running(task_ids: set[str]) -> list[str]:
    """In place of Gradio's ``cancel_tasks``: a request that already runs is not cancelled. Cancelling only abandons
    the asyncio task while its worker thread keeps computing, and frees its slot — so join + cancel, repeated,
    would start unlimited work. Waiting requests are still removed from the queue."""
    return []


Refusal = Callable[[object, object, list], "str | None"]  # (body, request, events in the queue) -> why, or None
Accepted = Callable[[object, object, object, str], None]  # (queue, body, request, event id) once Gradio queued it


def install_queue_policy(demo: gr.Blocks, refusal: Refusal, accepted: Accepted) -> None:
    """Wrap ``demo``'s queue (after ``demo.queue()``) so that ``refusal`` is asked before Gradio queues a request —
    a refused one ends at once with its sentence — and ``accepted`` is told after; running requests are never
    cancelled; no per-event history is kept for the monitoring page (off)."""
    import gradio.routes

    gradio.routes.cancel_tasks = _keep_running
    queue = demo._queue
    queue.ANALYTICS_MAX_EVENTS = 1  # per-event history (with session hashes) for a monitoring page that is off
    push: Callable[..., Awaitable] = queue.push

    async def push_with_policy(body, request, username):
        why = refusal(body, request, list(queue.event_ids_to_events.values()))
        if why:
            return await _refuse(queue, body, request, username, why)
        accepted_, event_id, state = await push(body, request, username)
        if accepted_:
            accepted(queue, body, request, event_id)
        return accepted_, event_id, state

    queue.push = push_with_policy


_REFUSED: OrderedDict[str, str] = OrderedDict()  # event id -> session of refusals not yet read (bounded)
MAX_UNREAD_REFUSALS = 1000


async def _refuse(queue, body, request, username, message: str):
    """Accept the request as an event that has already failed with ``message``: the page shows it, gradio_client
    raises it. Nothing runs and nothing enters the queue. A session's next refusal while one is unread is an HTTP
    400 with the same sentence (the page shows that too); unread refusals are forgotten beyond a thousand."""
    from gradio.queueing import Event
    from gradio.server_messages import ProcessCompletedMessage

    fn = queue.blocks.fns.get(body.fn_index)
    if fn is None:
        return False, "No function index provided.", "error"
    unread = queue.pending_event_ids_session.get(body.session_hash or "", set())
    if any(_REFUSED.get(event_id) == body.session_hash for event_id in unread):
        # one unread refusal per session: more would pile up in its message queue until it is read
        return False, message, "error"
    event = Event(body.session_hash, fn, request, username)  # never queued: it only carries the message
    session = event.session_hash
    async with queue.pending_message_lock:
        if session not in queue.pending_messages_per_session:
            queue.pending_messages_per_session[session] = asyncio.Queue()
        queue.pending_event_ids_session.setdefault(session, set()).add(event._id)
    queue.send_message(event, ProcessCompletedMessage(output={"error": message, "visible": True, "duration": 10,
                                                              "title": "Error"}, success=False))
    _REFUSED[event._id] = session
    while len(_REFUSED) > MAX_UNREAD_REFUSALS:
        old_id, old_session = _REFUSED.popitem(last=False)
        ids = queue.pending_event_ids_session.get(old_session)
        if ids is not None:
            ids.discard(old_id)
            if not ids:
                queue.pending_event_ids_session.pop(old_session, None)
    return True, event._id, "success"


def waiting_events(queue, event_id: str) -> tuple[object, list] | None:
    """(the event just queued, the list of events waiting in its concurrency group, itself last), or None when it
    is not the last waiting one (already started, or another arrived meanwhile)."""
    event = queue.event_ids_to_events.get(event_id)
    waiting = queue.event_queue_per_concurrency_id.get(getattr(event, "concurrency_id", None))
    if event is None or waiting is None or not waiting.queue or waiting.queue[-1] is not event:
        return None
    return event, waiting.queue


def forget_session(blocks: gr.Blocks, session: str) -> None:
    """Drop ``session``'s state from Gradio's store (its gr.State delete callbacks run)."""
    holder = getattr(blocks, "state_holder", None)
    if holder is None or session not in holder:
        return
    holder.delete_state(session)
    with holder.lock:
        holder.session_data.pop(session, None)
        holder.time_last_used.pop(session, None)


def names_event(blocks: gr.Blocks, fn_index) -> bool:
    """Whether ``fn_index`` (a client's JSON value) is the index of one of ``blocks``' events."""
    return type(fn_index) is int and fn_index in blocks.fns


def has_server_functions(blocks: gr.Blocks | None) -> bool:
    """Whether any component of ``blocks`` exposes server functions (Gradio's ``/gradio_api/component_server``)."""
    components = getattr(blocks, "blocks", {}) or {}
    return any(getattr(block, "server_fns", None) for block in components.values())


def current_request():
    """The request the calling thread works for (Gradio sets it for an event's handler), or None."""
    from gradio.context import LocalContext

    return LocalContext.request.get(None)
