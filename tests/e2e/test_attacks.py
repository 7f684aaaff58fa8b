"""The public server against a client that writes its own HTTP (no gradio_client): no server file can be read or
probed through an image or checkpoint input, pasted data URLs are not decoded by Gradio, and one client's flood
neither fills the queue for others nor makes their cheap requests wait behind its heavy ones."""
import base64
import io
import threading
import time

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.e2e.helpers import call, holding, queued, upload, wait_until
from vtdemo.ui.components import NOT_UPLOADED


def test_no_server_file_can_be_read_or_probed_through_an_input(app_url, tmp_path):
    private = tmp_path / "private.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(private)
    probes = [str(private), "/etc/shadow", "/etc/passwd", "/root/.ssh/id_rsa", str(tmp_path / "missing.png"),
              "../../../../etc/hostname"]
    answers = set()
    for path in probes:
        for api, rest in (("upscale", ["bicubic", 2]), ("classify", ["vit-demo", 3])):
            event, payload = call(app_url, api, [{"path": path}] + rest)  # no meta marker
            assert event == "error", (api, path, payload)
            answers.add(str(payload))
    assert answers == {NOT_UPLOADED}, answers  # one answer: existence, type and size stay unknown
    # nor does the server fetch a URL for a client (Gradio would download it into its cache)
    event, payload = call(app_url, "upscale", [{"path": "https://example.com/a.png", "meta": {"_type":
                                                "gradio.FileData"}}, "bicubic", 2])
    assert (event, payload) == ("error", NOT_UPLOADED)
    # with Gradio's marker, Gradio itself refuses a file that was not uploaded
    event, _ = call(app_url, "upscale", [{"path": str(private), "meta": {"_type": "gradio.FileData"}}, "bicubic", 2])
    assert event == "error"
    # the checkpoint input (private to the page, still reachable by fn index) checks paths the same way
    from vtdemo.ui.components import FileUpload
    from gradio.data_classes import FileData

    with pytest.raises(Exception, match="not uploaded to this server"):
        FileUpload(type="filepath").preprocess(FileData(path=str(private)))


def test_data_urls_are_not_decoded_by_gradio(app_url, monkeypatch, tmp_path):
    from gradio import image_utils

    decoded = []
    for name in ("decode_base64_to_file", "decode_base64_to_image", "decode_base64_to_image_array"):
        monkeypatch.setattr(image_utils, name, lambda *a, **k: decoded.append(1))
    from vtdemo.bench._files import make

    url = make(tmp_path, ["data-url"])["data-url"].read_text()  # ~0.5 MB pasted, 400 MB once decoded
    event, payload = call(app_url, "classify", [{"url": url, "path": None}, "vit-demo", 3])
    assert event == "error" and "megapixels" in str(payload) and decoded == []
    small = io.BytesIO()
    Image.new("RGB", (40, 30), (250, 10, 10)).save(small, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(small.getvalue()).decode()
    event, payload = call(app_url, "upscale", [{"url": url, "path": None}, "bicubic", 2])
    assert event == "complete", payload


def test_one_clients_flood_neither_fills_the_queue_nor_delays_others(app_url, monkeypatch):
    monkeypatch.setenv("VTDEMO_TRUSTED_PROXY", "1")  # X-Forwarded-For names the client (as behind a Space proxy)
    monkeypatch.setenv("VTDEMO_MAX_REQUESTS_PER_CLIENT", "2")
    attacker, visitor = {"X-Forwarded-For": "203.0.113.5"}, {"X-Forwarded-For": "198.51.100.7"}
    big = Image.fromarray(np.random.default_rng(0).integers(0, 256, (160, 160, 3), dtype=np.uint8))
    heavy = [upload(app_url, big, attacker), "hat-demo-x4", 4]
    statuses, lock = [], threading.Lock()

    def flood():
        event, payload = call(app_url, "upscale", heavy, attacker)
        with lock:
            statuses.append("refused" if event == "error" and "limit per visitor" in str(payload) else event)

    threads = [threading.Thread(target=flood) for _ in range(6)]
    for t in threads:
        t.start()
    wait_until(lambda: holding("203.0.113.5") == 1, "the attacker's first heavy job to run")
    small = upload(app_url, Image.new("RGB", (32, 24), "blue"), visitor)
    start = time.perf_counter()
    event, _ = call(app_url, "upscale", [small, "bicubic", 2], visitor)
    visitor_seconds = time.perf_counter() - start
    event_cls, _ = call(app_url, "classify", [small, "vit-demo", 3], visitor)
    for t in threads:
        t.join()
    assert event == "complete" and event_cls == "complete"
    assert statuses.count("refused") >= 3, statuses  # refused up front: the attacker's own limit, not the queue's
    assert statuses.count("complete") <= 3
    assert visitor_seconds < 5, f"a bicubic upscale waited {visitor_seconds:.1f} s behind another client's job"


def test_oversized_request_bodies_are_refused_before_gradio_parses_them(app_url):
    start = time.perf_counter()
    body = '{"data": [' + ",".join(["[]"] * 1_500_000) + "]}"  # ~4.5 MB of nested lists
    r = httpx.post(f"{app_url}/gradio_api/call/models", content=body, headers={"Content-Type": "application/json"},
                   timeout=60)
    assert r.status_code == 413 and "VTDEMO_MAX_REQUEST_BYTES" in r.text
    assert time.perf_counter() - start < 5
    event, _ = call(app_url, "models", [])  # and the server answers the next request
    assert event == "complete"


def test_cancelling_a_running_request_does_not_free_its_place(served, monkeypatch):
    app_url, demo = served
    monkeypatch.setenv("VTDEMO_TRUSTED_PROXY", "1")
    monkeypatch.setenv("VTDEMO_MAX_REQUESTS_PER_CLIENT", "2")
    who = {"X-Forwarded-For": "192.0.2.44"}
    config = httpx.get(f"{app_url}/config", timeout=30).json()
    fn = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "upscale")
    big = Image.fromarray(np.random.default_rng(2).integers(0, 256, (160, 160, 3), dtype=np.uint8))
    data = [upload(app_url, big, who), "hat-demo-x4", 4]

    def join(session: str) -> httpx.Response:
        return httpx.post(f"{app_url}/gradio_api/queue/join", headers=who, timeout=30,
                          json={"data": data, "fn_index": fn, "session_hash": session, "event_data": None,
                                "trigger_id": None})

    for session in ("s1", "s2"):
        joined = join(session)
        assert joined.status_code == 200, joined.text
        httpx.post(f"{app_url}/gradio_api/cancel", headers=who, timeout=30,
                   json={"session_hash": session, "fn_index": fn, "event_id": joined.json()["event_id"]})
    refused = join("s3")  # both are still computing: the client's limit still counts them
    assert refused.status_code == 200
    from tests.e2e.test_request_checks import completed

    message = completed(app_url, "s3")
    assert not message["success"] and "limit per visitor is 2" in message["output"]["error"]
    wait_until(lambda: queued(demo, "192.0.2.44") == 0 and holding("192.0.2.44") == 0,
               "the cancelled jobs to finish before the next test")
