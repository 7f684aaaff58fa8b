"""What a client that writes its own HTTP can still send, against the real server: long or odd session hashes and
fn indices, the queue-skipping routes, the monitoring page, controls given values they do not offer, two
X-Forwarded-For lines, headers that never end, and uploads over their quotas."""
import json
import socket
import time

import httpx
import pytest
from PIL import Image

from tests.e2e.helpers import upload


def fn_index(url: str, api_name: str | None = None, output_elem: str | None = None,
             input_elem: str | None = None) -> int:
    config = httpx.get(f"{url}/config", timeout=30).json()
    elem = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
    for d in config["dependencies"]:
        if api_name and d.get("api_name") == api_name:
            return d["id"]
        if output_elem and any(elem.get(o) == output_elem for o in d["outputs"]):
            return d["id"]
        if input_elem and any(elem.get(i) == input_elem for i in d["inputs"]):
            return d["id"]
    raise LookupError(api_name or output_elem or input_elem)


def join(url: str, fn: int, data: list, session: str, headers: dict | None = None) -> httpx.Response:
    return httpx.post(f"{url}/gradio_api/queue/join", headers=headers, timeout=30,
                      json={"data": data, "fn_index": fn, "session_hash": session, "event_data": None,
                            "trigger_id": None})


def completed(url: str, session: str, timeout: float = 120, count: int = 1):
    """The first process_completed message of ``session``'s stream (what the page reads), or the first ``count``
    of them in the order they came (one stream: the page opens one per session)."""
    found = []
    with httpx.stream("GET", f"{url}/gradio_api/queue/data", params={"session_hash": session},
                      timeout=timeout) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    found.append(message)
                    if len(found) == count:
                        return found[0] if count == 1 else found
    raise AssertionError("the stream ended without a result")


def test_session_hashes_and_fn_indices_are_checked_before_gradio_keeps_them(served):
    url, demo = served
    fn = fn_index(url, "models")
    long = "123456" + "S" * 1_900_000  # under the body limit
    queue = demo._queue
    for _ in range(20):
        assert join(url, fn, [], long).status_code == 422
    r = httpx.post(f"{url}/gradio_api/call/models", json={"data": [], "session_hash": "a/b"}, timeout=30)
    assert r.status_code == 422 and "session hash" in r.text
    assert httpx.get(f"{url}/gradio_api/queue/data", params={"session_hash": "x" * 65}, timeout=30).status_code == 422
    assert httpx.get(f"{url}/gradio_api/heartbeat/{'x' * 65}", timeout=30).status_code == 422
    tables = [queue.pending_messages_per_session, queue.pending_event_ids_session, demo.state_holder.session_data]
    assert not any(len(key) > 64 for table in tables for key in list(table.keys()))
    for bad in (-1, 99999, 2 ** 70, "1", True, 1.0):
        r = join(url, bad, [], "plainhash01")
        assert r.status_code == 422 and r.json()["detail"] == "fn_index does not name an event of this app."
    for encoded in (b"\xef\xbb\xbf" + json.dumps({"data": [], "fn_index": -1, "session_hash": "bom01"}).encode(),
                    json.dumps({"data": [], "fn_index": -1, "session_hash": "utf16"}).encode("utf-16-be")):
        r = httpx.post(f"{url}/gradio_api/queue/join", content=encoded, timeout=30,
                       headers={"Content-Type": "application/json"})
        assert r.status_code == 422, r.text  # the JSON parser reads a BOM and UTF-16: so does the check
    many = join(url, fn, [[{}] * 300_000], "many01")  # 1.2 MB of empty objects: ~100 MB as Python objects
    deep = join(url, fn, [json.loads("[" * 400 + "]" * 400)], "deep01")
    assert many.status_code == deep.status_code == 422 and "values" in many.text and "deep" in deep.text
    assert queue.ANALYTICS_MAX_EVENTS == 1 and len(queue.event_analytics) <= 1  # no per-event history kept
    ok = join(url, fn, [], "plainhash01")
    assert ok.status_code == 200 and completed(url, "plainhash01")["success"]


def test_the_queue_skipping_routes_monitoring_and_component_server_are_closed(app_url):
    fn = fn_index(app_url, "upscale")
    tiny = upload(app_url, Image.new("RGB", (8, 8), "red"))
    for route, body in (("run/upscale", {"data": [tiny, "bicubic", 2]}), ("api/upscale", {"data": [tiny, "bicubic", 2]}),
                        ("run/predict", {"data": [tiny, "bicubic", 2], "fn_index": fn})):
        r = httpx.post(f"{app_url}/gradio_api/{route}", json=body, timeout=30)
        assert r.status_code == 404 and "join the queue" in r.text, route
    assert httpx.get(f"{app_url}/monitoring/summary", timeout=30).status_code == 403
    assert httpx.get(f"{app_url}/gradio_api/monitoring/summary", timeout=30).status_code in (403, 404)
    r = httpx.post(f"{app_url}/gradio_api/component_server", timeout=30,
                   json={"session_hash": "cs01", "component_id": 1, "fn_name": "x", "data": None})
    assert r.status_code == 404


def test_controls_refuse_values_they_do_not_offer_in_one_sentence(app_url):
    big = "x" * 1_500_000
    config = httpx.get(f"{app_url}/config", timeout=30).json()
    ids = {c.get("props", {}).get("elem_id"): c["id"] for c in config["components"]}
    for elem in ("sr-scale", "attn-model", "sr-tile"):
        fn = fn_index(app_url, input_elem=elem)
        inputs = next(d for d in config["dependencies"] if d["id"] == fn)["inputs"]
        data = [big if i == ids[elem] else None for i in inputs]
        session = f"ctl{fn}"
        assert join(app_url, fn, data, session).status_code == 200
        message = completed(app_url, session)
        assert not message["success"]
        error = message["output"]["error"]
        assert len(error) < 200 and "xxxxxxxx" not in error and "not one this control offers" in error, error


def test_x_forwarded_for_is_read_from_every_line(app_url, monkeypatch):
    monkeypatch.setenv("SPACE_ID", "someone/vtdemo")  # behind the Space's proxy: its entry comes last
    monkeypatch.setenv("VTDEMO_MAX_REQUESTS_PER_CLIENT", "2")
    monkeypatch.setenv("VTDEMO_MAX_REQUESTS_PER_SESSION", "8")
    from vtdemo.ui.admission import client_address

    class Request:
        client = None

        def __init__(self, *lines):
            self.headers = httpx.Headers([("x-forwarded-for", line) for line in lines])

    assert client_address(Request("6.6.6.6", "1.2.3.4, 10.0.0.9")) == "10.0.0.9"
    fn = fn_index(app_url, "upscale")
    big = upload(app_url, Image.effect_noise((160, 160), 60).convert("RGB"))
    statuses = []
    for i in range(6):  # the client's own line varies; the proxy's (last) names the same client every time
        headers = [("X-Forwarded-For", f"203.0.113.{i}"), ("X-Forwarded-For", "198.51.100.77")]
        r = httpx.post(f"{app_url}/gradio_api/queue/join", headers=headers, timeout=30,
                       json={"data": [big, "hat-demo-x4", 4], "fn_index": fn, "session_hash": f"xff{i}",
                             "event_data": None, "trigger_id": None})
        statuses.append(r.status_code)
    refused = [completed(app_url, f"xff{i}") for i in range(6)]
    errors = [m["output"].get("error") or "" for m in refused if not m["success"]]
    assert sum("limit per visitor is 2" in e for e in errors) == 4, errors  # 2 of 6 ran


def test_a_connection_that_never_finishes_its_headers_or_body_is_closed(app_url, monkeypatch):
    monkeypatch.setenv("VTDEMO_HEADER_TIMEOUT_S", "2")
    host, port = app_url.split("//")[1].split(":")
    slow = socket.create_connection((host, int(port)))
    slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and nothing more
    slow.settimeout(20)
    start = time.perf_counter()
    assert slow.recv(100) == b""  # closed by the server
    assert 1.5 < time.perf_counter() - start < 10
    assert httpx.get(f"{app_url}/config", timeout=30).status_code == 200  # a whole request is served
    monkeypatch.setenv("VTDEMO_BODY_TIMEOUT_S", "2")
    trickle = socket.create_connection((host, int(port)))
    trickle.sendall(b"POST /gradio_api/queue/join HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 1000\r\n\r\n{\"data\": [")  # and the rest never comes
    trickle.settimeout(20)
    start = time.perf_counter()
    answer = trickle.recv(1000)
    assert answer.startswith(b"HTTP/1.1 408") and b"VTDEMO_BODY_TIMEOUT_S" in answer + trickle.recv(1000)
    assert time.perf_counter() - start < 10
    monkeypatch.setenv("VTDEMO_MAX_BODIES_PER_CLIENT", "3")
    held = []
    for _ in range(3):  # three bodies of one address trickling in at once ...
        held.append(socket.create_connection((host, int(port))))
        held[-1].sendall(b"POST /gradio_api/queue/join HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1000\r\n\r\n{")
    from vtdemo.ui import guard

    while sum(guard._reading.values()) < 3:  # the server is reading the three (it runs in this process)
        time.sleep(0.01)
    r = httpx.post(f"{app_url}/gradio_api/queue/join", json={"data": []}, timeout=30)
    assert r.status_code == 429 and "VTDEMO_MAX_BODIES_PER_CLIENT" in r.text  # ... and a fourth waits its turn
    for sock in held:
        sock.close()


@pytest.fixture
def quotas(monkeypatch):
    from vtdemo.ui.uploads import LEDGER

    monkeypatch.setenv("VTDEMO_TRUSTED_PROXY", "1")
    LEDGER.reset()
    yield
    LEDGER.reset()


def _send(url: str, files: list, who: str) -> httpx.Response:
    return httpx.post(f"{url}/gradio_api/upload", files=[("files", f) for f in files],
                      headers={"X-Forwarded-For": who}, timeout=60)


def test_uploads_have_limits_per_file_kind_request_address_and_disk(app_url, quotas, monkeypatch):
    mb = b"\0" * 1_000_000
    r = _send(app_url, [("photo.png", mb * 21, "image/png")], "192.0.2.1")
    assert r.status_code == 413 and "VTDEMO_MAX_UPLOAD_BYTES" in r.text  # an image: 20 MB
    r = _send(app_url, [("model.pth", mb * 21, "application/octet-stream")], "192.0.2.1")
    assert r.status_code == 200  # a checkpoint: up to VTDEMO_MAX_CHECKPOINT_UPLOAD_BYTES
    r = _send(app_url, [(f"{i}.png", b"x", "image/png") for i in range(21)], "192.0.2.1")
    assert r.status_code == 413 and "VTDEMO_MAX_UPLOAD_FILES" in r.text
    monkeypatch.setenv("VTDEMO_MAX_CLIENT_UPLOAD_MB", "60")
    assert _send(app_url, [("b.pth", mb * 30, "application/octet-stream")], "192.0.2.1").status_code == 429
    assert _send(app_url, [("c.png", mb, "image/png")], "192.0.2.1").status_code == 429  # until the hour is over
    assert _send(app_url, [("c.png", mb, "image/png")], "192.0.2.2").status_code == 200  # another visitor
    # a checkpoint's larger limit needs every file name of the part to be a checkpoint's
    body = (b"--b0\r\nContent-Disposition: form-data; name=\"files\"; filename*=UTF-8''x.pth; "
            b"filename=\"big.png\"\r\nContent-Type: image/png\r\n\r\n" + mb * 21 + b"\r\n--b0--\r\n")
    r = httpx.post(f"{app_url}/gradio_api/upload", content=body, timeout=60,
                   headers={"Content-Type": "multipart/form-data; boundary=b0", "X-Forwarded-For": "192.0.2.4"})
    assert r.status_code == 413 and "VTDEMO_MAX_UPLOAD_BYTES" in r.text
    r = httpx.post(f"{app_url}/gradio_api/upload", content=body, timeout=60,  # two Content-Types: refused
                   headers=[("Content-Type", "multipart/form-data; boundary=b0"),
                            ("Content-Type", "multipart/form-data; boundary=zz"), ("X-Forwarded-For", "192.0.2.4")])
    assert r.status_code == 400
    monkeypatch.setenv("VTDEMO_MAX_CLIENT_UPLOAD_MB", "1")  # a file costs a disk block, however small
    codes = [_send(app_url, [(f"{i}.png", b"x", "image/png") for i in range(20)], "192.0.2.5").status_code
             for _ in range(14)]
    assert codes[:11] == [200] * 11 and codes[-1] == 429, codes  # 20 × 4 kB per request: 1 MB after 11-12
    from vtdemo.ui.uploads import LEDGER

    LEDGER.reset()
    monkeypatch.setenv("VTDEMO_MAX_CLIENT_UPLOAD_MB", "400")
    monkeypatch.setenv("VTDEMO_MAX_UPLOAD_DISK_MB", "2")  # all visitors together
    assert _send(app_url, [("e.pth", mb, "application/octet-stream")], "192.0.2.6").status_code == 200
    r = _send(app_url, [("f.pth", mb * 2, "application/octet-stream")], "192.0.2.7")
    assert r.status_code == 507 and "VTDEMO_MAX_UPLOAD_DISK_MB" in r.text
