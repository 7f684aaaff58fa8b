"""What a request must be before Gradio sees it: an ASGI middleware in front of the whole app.

A client writes every byte of its requests, and Gradio keeps some of them for a long time (a session hash is a key
of its event, message, state and last-used tables), so each request is checked here first:

* a body over VTDEMO_MAX_REQUEST_BYTES is answered 413 before Gradio reads and parses it, one that has not arrived
  within VTDEMO_BODY_TIMEOUT_S 408, and an address may send VTDEMO_MAX_BODIES_PER_CLIENT at once (file uploads
  have their own quotas, ``ui/uploads.py``);
* a session hash — in a JSON body, the ``session_hash`` query of ``queue/data``, or the path of ``heartbeat`` and
  ``stream`` — and an upload's ``upload_id`` must be short and plain (``SESSION_HASH``); a ``fn_index`` must name
  one of the app's events; a body of more than MAX_VALUES values, or nested deeper than MAX_DEPTH, is refused
  (Gradio keeps every input value in the session before it is checked): each a 422 with one sentence (Gradio would
  answer 500 with a traceback); JSON in every encoding its parser accepts is checked (a BOM, UTF-16);
* ``component_server`` (server functions of components this app does not have) is closed, as are the queue-skipping
  ``run/`` routes (``queue(api_open=False)``): every session is then made by a queued event, where ``admission``
  counts each client's sessions (``Sessions``).
"""
from __future__ import annotations

import json
import re
from collections import Counter
from urllib.parse import parse_qs

from vtdemo import limits
from vtdemo.ui import gradio_internals
from vtdemo.ui.admission import client_address

# the page's hashes are 11 characters, gradio_client's are uuid4s (36)
SESSION_HASH = re.compile(r"[A-Za-z0-9_-]{1,64}")
BAD_SESSION = "The session hash must be 1 to 64 letters, digits, '-' or '_'."


_reading: Counter = Counter()  # address -> request bodies being received now (the event loop's: no lock)


class _TooLarge(Exception):
    pass


class _TooSlow(Exception):
    pass


class RequestGuard:
    def __init__(self, app, blocks=None):
        self.app, self.blocks = app, blocks

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, method = scope["path"].rstrip("/"), scope.get("method")
        hashes = _hashes_in_url(path, scope.get("query_string", b""), method)
        if not all(SESSION_HASH.fullmatch(h) for h in hashes):
            return await respond(send, 422, BAD_SESSION)
        if path.endswith("/component_server") and not self._has_server_functions():
            return await respond(send, 404, "Not found.")
        if method != "POST" or path.endswith("/upload"):  # uploads: ui/uploads.py
            return await self.app(scope, receive, send)
        limit = limits.max_request_bytes()
        declared = dict(scope.get("headers") or []).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > limit:
            return await _too_large(send, limit)
        client = client_address(scope)
        if _reading[client] >= limits.max_bodies_per_client():  # each holds up to a body's bytes until it ends
            return await respond(send, 429, f"Your address is already sending {_reading[client]} requests "
                                            "(VTDEMO_MAX_BODIES_PER_CLIENT): wait for them to arrive.")
        _reading[client] += 1
        try:
            body, tail = await _read_body(receive, limit)
        except _TooLarge:
            return await _too_large(send, limit)
        except _TooSlow:
            return await respond(send, 408, f"The request body did not arrive within "
                                            f"{limits.body_timeout_seconds()} s (VTDEMO_BODY_TIMEOUT_S).")
        finally:
            _reading[client] -= 1
            if not _reading[client]:
                del _reading[client]
        problem = self._check_json(body)
        if problem:
            return await respond(send, 422, problem)
        sent = False

        async def replay():
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await tail()

        return await self.app(scope, replay, send)

    def _check_json(self, body: bytes) -> str | None:
        """What is wrong with a JSON object body, if anything (in any encoding the JSON parser accepts: UTF-8 with
        or without a BOM, UTF-16, UTF-32); other bodies are Gradio's to refuse."""
        try:
            data = json.loads(body) if body.strip() else None
        except RecursionError:
            return f"The request nests values more than {MAX_DEPTH} deep."
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        shape = _too_complex(data)
        if shape:
            return shape
        session = data.get("session_hash")
        if session is not None and not (isinstance(session, str) and SESSION_HASH.fullmatch(session)):
            return BAD_SESSION
        fn_index = data.get("fn_index")
        if fn_index is not None and self.blocks is not None and not gradio_internals.names_event(self.blocks,
                                                                                                 fn_index):
            return "fn_index does not name an event of this app."
        return None

    def _has_server_functions(self) -> bool:
        return gradio_internals.has_server_functions(self.blocks)


MAX_VALUES, MAX_DEPTH = 20_000, 32  # a page's request holds a few dozen values, nested a few deep


def _too_complex(data) -> str | None:
    """Gradio keeps every input value in the session's copy of the page before it is checked, as Python objects
    (a 1.9 MB list of empty objects is ~130 MB of them): a body of more values, or deeper, is refused."""
    stack, count = [(data, 0)], 0
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > MAX_VALUES:
            return f"The request holds more than {MAX_VALUES:,} values."
        if depth > MAX_DEPTH:
            return f"The request nests values more than {MAX_DEPTH} deep."
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return None


def _hashes_in_url(path: str, query: bytes, method: str | None) -> list[str]:
    query = parse_qs(query.decode("latin-1"))
    hashes = query.get("session_hash", []) + query.get("upload_id", [])  # both are keys of Gradio's tables
    parts = path.split("/")
    for i, part in enumerate(parts[:-1]):
        if part == "heartbeat" or (part == "stream" and method == "GET" and len(parts) - i > 3):
            hashes.append(parts[i + 1])
    return hashes


async def _read_body(receive, limit: int):
    """The whole body (at most ``limit`` bytes, within VTDEMO_BODY_TIMEOUT_S: a body that trickles in would hold
    the connection), and what to call for the messages after it (a disconnect)."""
    import asyncio
    import time

    chunks, received = [], 0
    deadline = time.monotonic() + limits.body_timeout_seconds()
    while True:
        try:
            message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            raise _TooSlow from None
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        received += len(chunks[-1])
        if received > limit:
            raise _TooLarge
        if not message.get("more_body"):
            break
    return b"".join(chunks), receive


async def _too_large(send, limit: int) -> None:
    await respond(send, 413, f"The request is over {limit:,} bytes (VTDEMO_MAX_REQUEST_BYTES): upload images as "
                             "files, not in the JSON body.")


async def respond(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
