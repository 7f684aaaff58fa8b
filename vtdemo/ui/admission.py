"""Who gets the server's time: a per-client cap on waiting + running requests and one heavy computation at a time (cheap
work such as bicubic never waits for it). Jobs whose estimated time is over the limit are refused by the tasks
themselves (``max_seconds`` of ``vtdemo.sr.compare.compare`` and ``upscale``).

Gradio 6.31 bounds its queue only in total (``max_size``), so one client could fill it and every other visitor
would get "queue full". ``limit_per_client`` wraps the queue's ``push`` to count that client's events first.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Callable

import gradio as gr

from vtdemo import limits


def client_of(request) -> str:
    """The client's address. Behind a proxy that appends the real address to X-Forwarded-For (a Hugging Face Space,
    detected by its SPACE_ID, or VTDEMO_TRUSTED_PROXY=1), the last entry is the one the proxy saw; anything before it
    is the client's word."""
    import os

    if request is None:
        return "?"
    trusted = os.environ.get("VTDEMO_TRUSTED_PROXY") or os.environ.get("SPACE_ID")  # a Hugging Face Space
    forwarded = request.headers.get("x-forwarded-for", "") if trusted else ""
    if forwarded.strip():
        return forwarded.split(",")[-1].strip()
    return request.client.host if request.client else "?"


async def _keep_running(task_ids: set[str]) -> list[str]:
    """In place of Gradio's ``cancel_tasks``: a request that already runs is not cancelled. Cancelling only abandons
    the asyncio task while its worker thread keeps computing, and frees its slot — so join + cancel, repeated,
    would start unlimited work. Waiting requests are still removed from the queue."""
    return []


def limit_per_client(demo: gr.Blocks) -> None:
    """Refuse a new request from a client that already has VTDEMO_MAX_REQUESTS_PER_CLIENT waiting or running
    (running ones stay counted until they finish: they cannot be cancelled)."""
    import gradio.routes

    gradio.routes.cancel_tasks = _keep_running
    queue = demo._queue
    push = queue.push

    async def push_with_limit(body, request, username):
        client, most = client_of(request), limits.max_requests_per_client()
        mine = sum(1 for event in list(queue.event_ids_to_events.values()) if client_of(event.request) == client)
        if mine >= most:
            return (False, f"You already have {mine} requests waiting or running on this server (the limit per "
                           f"visitor is {most}): wait for them to finish.", "queue_full")
        return await push(body, request, username)

    queue.push = push_with_limit


# SR and LAM events share a few workers (Gradio concurrency group HEAVY); inside them the heavy computation takes one
# of the server's heavy slots (one, unless Ray Serve computes the tiles: VTDEMO_HEAVY_SLOTS), so a bicubic request or
# a cached view never waits for another visitor's model run.
HEAVY = "sr"
HEAVY_WORKERS = 4
_HEAVY = threading.BoundedSemaphore(limits.heavy_slots())
_waiting = 0
_waiting_lock = threading.Lock()


@contextlib.contextmanager
def heavy_slot(report: Callable[[str], None] | None = None):
    """Hold one of the server's slots for heavy computation (a model over an image, LAM, loading a checkpoint)
    while the block runs; says how many jobs are ahead while it waits."""
    global _waiting
    with _waiting_lock:
        ahead = _waiting
        _waiting += 1
    try:
        if report and ahead:
            report(f"waiting for {ahead} job(s) ahead of this one")
        _HEAVY.acquire()
    finally:
        with _waiting_lock:
            _waiting -= 1
    try:
        yield
    finally:
        _HEAVY.release()


class _TooLarge(Exception):
    pass


class RequestBodyLimit:
    """ASGI middleware: a request body over VTDEMO_MAX_REQUEST_BYTES is answered 413 before Gradio reads and parses
    it (a 30 MB JSON body of nested lists blocks Gradio's event loop for seconds and takes gigabytes). File uploads
    are left to Gradio's own ``max_file_size``."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "POST" or scope["path"].rstrip("/").endswith("upload"):
            return await self.app(scope, receive, send)
        limit = limits.max_request_bytes()
        declared = dict(scope.get("headers") or []).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > limit:
            return await _refuse(send, limit)
        received = 0

        async def limited():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _refuse(send, limit)


async def _refuse(send, limit: int) -> None:
    body = (f'{{"detail": "The request is over {limit:,} bytes (VTDEMO_MAX_REQUEST_BYTES): upload images as files, '
            f'not in the JSON body."}}').encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
