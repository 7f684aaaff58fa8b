"""Quotas on Gradio's upload route (ASGI middleware): what one request, one address and all visitors together may
write to the server's disk. Gradio alone checks one size for every file (``max_file_size``, the checkpoint limit)
and keeps uploads for VTDEMO_FILE_MAX_AGE_S.

The multipart body is parsed as it streams through (python-multipart, the parser Starlette uses), so a request is
stopped at the first byte over a rule, before Gradio has written it:

* at most VTDEMO_MAX_UPLOAD_FILES files per request;
* a file named like a checkpoint (``CHECKPOINT_SUFFIXES``) up to VTDEMO_MAX_CHECKPOINT_UPLOAD_BYTES, any other file
  (an image) up to VTDEMO_MAX_UPLOAD_BYTES;
* an address may upload VTDEMO_MAX_CLIENT_UPLOAD_MB within VTDEMO_FILE_MAX_AGE_S (refused bytes count too, and
  every file at least a disk block);
* all addresses together stay under VTDEMO_MAX_UPLOAD_DISK_MB within that window (uploads are deleted at its end);
* a request with two Content-Type headers is refused (Starlette would read one, a check the other).
"""
from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict, deque

from vtdemo import limits
from vtdemo.ui.admission import client_address
from vtdemo.ui.guard import respond

CHECKPOINT_SUFFIXES = (".pth", ".pt", ".ckpt", ".safetensors", ".bin")
_FILENAME = re.compile(rb'filename\*?=(?:"([^"]*)"|([^;\s]*))', re.IGNORECASE)
MAX_TRACKED_CLIENTS = 10_000


class _Refused(Exception):
    def __init__(self, status: int, detail: str):
        self.status, self.detail = status, detail


class UploadQuota:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "POST" or \
                not scope["path"].rstrip("/").endswith("/upload"):
            return await self.app(scope, receive, send)
        client = client_address(scope)
        try:
            LEDGER.check(client)
            watch = _Watch(scope, client)
        except _Refused as refused:
            return await respond(send, refused.status, refused.detail)

        async def watched():
            message = await receive()
            if message["type"] == "http.request":
                watch.feed(message.get("body", b""))
            return message

        try:
            await self.app(scope, watched, send)
        except _Refused as refused:
            await respond(send, refused.status, refused.detail)


class _Watch:
    """One upload request's multipart stream: counts files and each file's bytes against its limit."""

    def __init__(self, scope, client: str):
        from python_multipart.multipart import MultipartParser, parse_options_header

        types = [v for k, v in scope.get("headers") or [] if k == b"content-type"]
        if len(types) > 1:  # Starlette reads the first, a naive check the last: no request may say two things
            raise _Refused(400, "The request has more than one Content-Type header.")
        _, options = parse_options_header(types[0] if types else b"")
        self.client, self.files, self.size, self.limit, self.disposition = client, 0, 0, 0, b""
        self._field = b""
        boundary = options.get(b"boundary")
        self.parser = MultipartParser(boundary, {
            "on_part_begin": self._begin, "on_part_data": self._data, "on_header_field": self._header_field,
            "on_header_value": self._header_value, "on_headers_finished": self._headers_done,
        }) if boundary else None

    def feed(self, chunk: bytes) -> None:
        LEDGER.add(self.client, len(chunk))
        if self.parser is not None:
            try:
                self.parser.write(chunk)
            except _Refused:
                raise
            except Exception:  # a malformed body: Gradio's own parser refuses it; its bytes were counted
                self.parser = None

    def _begin(self) -> None:
        self.files += 1
        self._disk_checked = 0
        LEDGER.add(self.client, FILE_OVERHEAD)
        LEDGER.check_disk()
        self.size, self.disposition, self._field = 0, b"", b""
        if self.files > limits.max_upload_files():
            raise _Refused(413, f"At most {limits.max_upload_files()} files per upload (VTDEMO_MAX_UPLOAD_FILES).")

    def _header_field(self, data, start, end) -> None:
        self._field = bytes(data[start:end]).lower()

    def _header_value(self, data, start, end) -> None:
        if self._field == b"content-disposition":
            self.disposition += bytes(data[start:end])

    def _headers_done(self) -> None:
        # every file name the part gives (filename= and filename*=) must be a checkpoint's for its larger limit
        names = [(m.group(1) or m.group(2) or b"").decode("latin-1").lower()
                 for m in _FILENAME.finditer(self.disposition)]
        if names and all(name.endswith(CHECKPOINT_SUFFIXES) for name in names):
            self.limit, self.variable = limits.max_checkpoint_upload_bytes(), "VTDEMO_MAX_CHECKPOINT_UPLOAD_BYTES"
        else:
            self.limit, self.variable = limits.max_upload_bytes(), "VTDEMO_MAX_UPLOAD_BYTES"

    def _data(self, data, start, end) -> None:
        self.size += end - start
        if self.size >= self._disk_checked + DISK_CHECK_BYTES:  # the disk total sums every address: per MB only
            self._disk_checked = self.size
            LEDGER.check_disk()
        if self.limit and self.size > self.limit:
            kind = "checkpoint" if self.variable.endswith("CHECKPOINT_UPLOAD_BYTES") else "image"
            raise _Refused(413, f"The file is over {self.limit / 1e6:,.0f} MB, the limit for an uploaded {kind} "
                                f"({self.variable}).")


FILE_OVERHEAD = 4096  # what a file costs on disk at least (a block), whatever its size
DISK_CHECK_BYTES = 1_000_000


class Ledger:
    """Bytes each address sent to the upload route within the file age window (each file charged at least
    FILE_OVERHEAD: a thousand 40-byte files take a thousand blocks). The disk in use is the sum over all addresses
    of the same window — uploads are deleted at its end — so no request waits for a walk of the upload folder."""

    def __init__(self):
        self._sent: OrderedDict[str, deque] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> int:
        window = limits.file_max_age_seconds()
        sent = self._sent.get(client)
        while sent and now - sent[0][0] > window:
            sent.popleft()
        return sum(n for _, n in sent) if sent else 0

    def check(self, client: str) -> None:
        now = time.time()
        with self._lock:
            mine = self._recent(client, now)
        quota = limits.max_client_upload_bytes()
        if mine >= quota:
            raise _Refused(429, f"Your address uploaded {mine / 1e6:,.0f} MB in the last "
                                f"{limits.file_max_age_seconds() // 60} minutes, its limit (VTDEMO_MAX_CLIENT_"
                                "UPLOAD_MB): uploads are deleted after that time.")
        if self.disk_bytes() >= limits.max_upload_disk_bytes():
            raise _Refused(507, FULL)

    def add(self, client: str, n: int) -> None:
        now = time.time()
        with self._lock:
            sent = self._sent.setdefault(client, deque())
            self._sent.move_to_end(client)
            if sent and now - sent[-1][0] < 1:
                sent[-1] = (sent[-1][0], sent[-1][1] + n)  # one entry per second and address
            else:
                sent.append((now, n))
            mine = self._recent(client, now)
            while len(self._sent) > MAX_TRACKED_CLIENTS:
                self._sent.popitem(last=False)
        if mine > limits.max_client_upload_bytes():
            raise _Refused(429, f"This upload takes your address over its upload limit of "
                                f"{limits.max_client_upload_bytes() / 1e6:,.0f} MB per "
                                f"{limits.file_max_age_seconds() // 60} minutes (VTDEMO_MAX_CLIENT_UPLOAD_MB).")

    def check_disk(self) -> None:
        """Per file and per MB of it, not per chunk: the sum runs over every address."""
        if self.disk_bytes() > limits.max_upload_disk_bytes():
            raise _Refused(507, FULL)

    def disk_bytes(self) -> int:
        now = time.time()
        with self._lock:
            return sum(self._recent(client, now) for client in list(self._sent))

    def reset(self) -> None:
        with self._lock:
            self._sent.clear()


FULL = "The server's space for uploads is full (VTDEMO_MAX_UPLOAD_DISK_MB): try again later."


LEDGER = Ledger()
