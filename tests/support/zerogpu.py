"""What a ZeroGPU Space has and this machine lacks, standing in for it so that the real ``spaces`` package runs in
ZeroGPU mode (``SPACES_ZERO_GPU=true``) on a CPU:

- ``DeviceAPI``: the device API that schedules GPU time, a local HTTP server speaking the protocol of
  ``spaces.zero.api.APIClient`` (``/startup-report``, ``/schedule``, ``/allow``, ``/release``). Like the real one it
  refuses a call that asks for more than the longest allowed duration (HTTP 429 with a negative wait, which
  ``spaces`` reports as "larger than the maximum allowed"), and it records what was asked for;
- ``launch_app.py`` (beside this file): runs ``app.py`` with ``spaces.zero.torch`` — the CUDA init and the move of
  weights to the GPU — replaced by no-ops.

Everything else — the fork per call, the pickling queues for arguments and results, the forwarding of gr.Progress
from the worker — is ``spaces``' own code."""
from __future__ import annotations

import http.server
import json
import secrets
import sys
import threading
import types
import urllib.parse

MAX_DURATION = 120  # the unauthenticated visitor's daily quota: no call may ask for more


def cuda_standin() -> None:
    """Replace ``spaces.zero.torch`` (CUDA's init, the move of weights to the GPU) with no-ops; call before
    ``spaces`` is imported."""
    cuda = types.ModuleType("spaces.zero.torch")
    for name in ("patch", "unpatch", "init", "move", "enter_mode"):
        setattr(cuda, name, lambda *args, **kwargs: None)
    cuda.pack = cuda.size = lambda *args, **kwargs: 0
    cuda.is_in_bad_fork = lambda: False
    sys.modules["spaces.zero.torch"] = cuda


class DeviceAPI:
    def __init__(self):
        self.calls: list[dict] = []
        self._lock = threading.Lock()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                with api._lock:
                    api.calls.append({"path": url.path, **query})
                if url.path == "/schedule":
                    if int(query.get("durationSeconds", 60)) > MAX_DURATION:
                        return self._json(429, {"left": MAX_DURATION, "wait": -1})
                    return self._json(200, {"idle": True, "nvidiaIndex": 0, "nvidiaUUID": "GPU-standin",
                                            "allowToken": secrets.token_hex(8)})
                if url.path in ("/startup-report", "/allow", "/release"):
                    return self._json(200, {})
                return self._json(404, {})

            def _json(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def of(self, path: str) -> list[dict]:
        with self._lock:
            return [c for c in self.calls if c["path"] == path]

    def close(self):
        self.httpd.shutdown()
