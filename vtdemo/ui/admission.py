"""Who gets the server's time, and in which order.

* **Caps**: a session may have VTDEMO_MAX_REQUESTS_PER_SESSION requests waiting or running (handlers marked
  ``light``, which only keep the page's controls in step, are neither refused by nor counted in it), an address
  VTDEMO_MAX_REQUESTS_PER_CLIENT (larger: a classroom behind one NAT is one address). Gradio 6.31 bounds its queue
  only in total (``max_size``); ``limit_per_client`` has ``gradio_internals`` ask it before each request is queued.
* **Order**: waiting events are served round-robin by address, not first come first served, so one address's pile
  of requests delays each other visitor by at most one of its jobs per turn.
* **Refusals reach people**: a refused request becomes an event that ends at once with the app's sentence, which the
  page shows and gradio_client raises (Gradio's own 503 reads "Queue is full! Please try again." in both).
* **Sessions**: an address holds at most VTDEMO_MAX_SESSIONS_PER_CLIENT live sessions; a new one evicts that
  address's own least recently used session, and when all VTDEMO_MAX_SESSIONS are taken, the oldest of the address
  holding the most — never a visitor with few.
* **Heavy work**: one heavy slot for what this process computes (a model over an image, LAM, a checkpoint load, a
  chart) and, with VTDEMO_RAY_SERVE, one slot per Serve replica for SR jobs whose tiles the replicas compute;
  slots too are granted in turns by address.

Jobs whose estimated time is over the limit are refused by the tasks themselves (``max_seconds``).
"""
from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections import Counter, OrderedDict
from typing import Callable

import gradio as gr

from vtdemo import limits
from vtdemo.ui import gradio_internals

log = logging.getLogger(__name__)
_told_proxy = False


def _trusted_proxy() -> bool:
    return bool(os.environ.get("VTDEMO_TRUSTED_PROXY") or os.environ.get("SPACE_ID"))  # SPACE_ID: a Space


def client_address(request) -> str:
    """The client's address, from a Starlette/Gradio request or an ASGI scope. Behind a proxy that appends the
    address it saw to X-Forwarded-For (a Hugging Face Space, detected by its SPACE_ID, or VTDEMO_TRUSTED_PROXY=1),
    that is the last entry of all X-Forwarded-For lines joined; everything before it is the client's word."""
    global _told_proxy
    if request is None:
        return "?"
    if isinstance(request, dict):  # an ASGI scope
        lines = [v.decode("latin-1") for k, v in request.get("headers") or [] if k == b"x-forwarded-for"]
        peer = (request.get("client") or ("?",))[0]
    else:
        headers = request.headers
        lines = headers.getlist("x-forwarded-for") if hasattr(headers, "getlist") else \
            [headers.get("x-forwarded-for", "")]
        peer = request.client.host if getattr(request, "client", None) else "?"
    if not _trusted_proxy():
        return peer
    entries = [e.strip() for e in ",".join(lines).split(",") if e.strip()]
    if not _told_proxy:
        _told_proxy = True
        log.warning("behind a trusted proxy: a client is the last X-Forwarded-For entry (the first request had %d "
                    "such header line(s), %d entries, from the proxy at %s)", len(lines), len(entries), peer)
    return entries[-1] if entries else peer


def light(fn):
    """Mark a page handler that only keeps controls in step (a click's coordinates, a model's layer and head
    choices): it computes nothing heavy, so the per-session cap does not refuse it (a refused one would leave the
    page's controls describing another model) and it does not count against the session's heavy requests. The
    per-address cap and the queue's size still bound it."""
    fn.vtdemo_light = True
    return fn


def _is_light(block_function) -> bool:
    """Whether a Gradio event's function (``BlockFunction``) was marked ``light``."""
    return bool(getattr(getattr(block_function, "fn", None), "vtdemo_light", False))


def limit_per_client(demo: gr.Blocks) -> None:
    """Install the caps, the round-robin order, the readable refusals and the session shares on ``demo``'s queue
    (after ``demo.queue()``), through ``gradio_internals``."""
    def refusal(body, request, events) -> str | None:
        client = client_address(request)
        mine = sum(1 for e in events if client_address(e.request) == client)
        asked = demo.fns.get(body.fn_index) if gradio_internals.names_event(demo, body.fn_index) else None
        session = 0 if _is_light(asked) else sum(
            1 for e in events if body.session_hash and e.session_hash == body.session_hash and not _is_light(e.fn))
        for count, most, where in ((session, limits.max_requests_per_session(), "in this session"),
                                   (mine, limits.max_requests_per_client(), "from your address")):
            if count >= most:
                return (f"You already have {count} request{'s' * (count != 1)} waiting or running {where} (the "
                        f"limit per visitor is {most}): wait for them to finish.")
        return None

    def accepted(queue, body, request, event_id: str) -> None:
        if body.session_hash:
            SESSIONS.touch(body.session_hash, client_address(request), demo)
            _place_fairly(queue, event_id)

    gradio_internals.install_queue_policy(demo, refusal, accepted)


def _place_fairly(queue, event_id: str) -> None:
    """Move a just-queued event to its round: before the first waiting event whose address already has more
    events ahead of it than this event's address has."""
    found = gradio_internals.waiting_events(queue, event_id)
    if found is None:
        return
    event, waiting = found
    waiting.pop()
    clients = [client_address(e.request) for e in waiting]
    me, seen = client_address(event.request), Counter()
    rounds = clients.count(me)
    for i, client in enumerate(clients):
        if seen[client] > rounds:
            waiting.insert(i, event)
            return
        seen[client] += 1
    waiting.append(event)


class Sessions:
    """Which address opened which session, most recently used last. An address over its share evicts its own
    oldest session from Gradio's state store; when the store is full, the next new session evicts the oldest one
    of the address holding the most — never a visitor with few (what an evicted session uploaded or computed is
    then gone, for that address alone)."""

    def __init__(self):
        self._owner: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def touch(self, session: str, client: str, blocks) -> None:
        most = limits.max_sessions_per_client()
        with self._lock:
            if session in self._owner:
                self._owner.move_to_end(session)
                return
            mine = [s for s, c in self._owner.items() if c == client]
            evicted = mine[: max(0, len(mine) - most + 1)]
            for old in evicted:
                del self._owner[old]
            self._owner[session] = client
            while len(self._owner) > limits.max_sessions():
                counts = Counter(self._owner.values())
                biggest = max(counts, key=counts.get)
                old = next(s for s, c in self._owner.items() if c == biggest)
                del self._owner[old]
                evicted.append(old)
        for old in evicted:
            gradio_internals.forget_session(blocks, old)

    def count(self, client: str) -> int:
        with self._lock:
            return sum(1 for c in self._owner.values() if c == client)


SESSIONS = Sessions()


# SR and LAM events share a few workers (Gradio concurrency group HEAVY); inside them the heavy computation takes a
# heavy slot, so a bicubic request or a cached view never waits for another visitor's model run.
HEAVY = "sr"
HEAVY_WORKERS = 4


class _Slots:
    """A bounded number of holders, granted in turns by address: of the jobs waiting, the next slot goes to the one
    whose address has had the fewest turns while it was active (ties: the earliest), so a pile of one address's
    jobs — or one job that takes the slot again for each step — lets the others in. Says how many jobs are ahead
    while one waits."""

    def __init__(self, count: int):
        self._free = count
        self._waiting: list[tuple[object, str]] = []
        self._turns: Counter = Counter()  # per address with a job waiting or holding
        self._holding: Counter = Counter()
        self._changed = threading.Condition()

    def _next(self):
        return min(self._waiting, key=lambda w: (self._turns[w[1]], self._waiting.index(w)))[0]

    @contextlib.contextmanager
    def hold(self, report: Callable[[str], None] | None = None):
        ticket, client = object(), _current_client()
        with self._changed:
            self._waiting.append((ticket, client))
            ahead = len(self._waiting) - 1 + (0 if self._free else 1)
            must_wait = not (self._free and self._next() is ticket)
        if report and ahead and must_wait:
            report(f"waiting for {ahead} job(s) ahead of this one")
        with self._changed:
            try:
                self._changed.wait_for(lambda: self._free > 0 and self._next() is ticket)
            finally:
                self._waiting.remove((ticket, client))
                self._changed.notify_all()
            self._free -= 1
            self._turns[client] += 1
            self._holding[client] += 1
        try:
            yield
        finally:
            with self._changed:
                self._free += 1
                self._holding[client] -= 1
                if not self._holding[client] and all(c != client for _, c in self._waiting):
                    del self._turns[client], self._holding[client]  # inactive: it starts afresh next time
                self._changed.notify_all()


def _current_client() -> str:
    """The address of the request this thread works for, or "" outside a request."""
    request = gradio_internals.current_request()
    return client_address(request) if request is not None else ""


_LOCAL = _Slots(1)  # what this process computes itself: sized again at launch (VTDEMO_HEAVY_SLOTS)


def size_heavy_slots() -> None:
    """Size the process's heavy slots from VTDEMO_HEAVY_SLOTS; at launch, before any request runs."""
    global _LOCAL
    _LOCAL = _Slots(limits.heavy_slots())
_SERVE: _Slots | None = None
_serve_lock = threading.Lock()


def heavy_slot(report: Callable[[str], None] | None = None, on_serve: bool = False):
    """Hold a slot for heavy computation while the block runs: the process's own slot, or with ``on_serve`` (an SR
    job of zoo models whose tiles Ray Serve computes) one of VTDEMO_RAY_SERVE_REPLICAS slots."""
    global _SERVE
    if not on_serve:
        return _LOCAL.hold(report)
    with _serve_lock:
        if _SERVE is None:
            _SERVE = _Slots(limits.ray_serve_replicas())
    return _SERVE.hold(report)
