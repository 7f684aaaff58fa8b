"""Who gets the server, against the real server over raw HTTP: many honest visitors behind one address are served
(and a refusal's sentence reaches the page's stream and gradio_client), one address's pile of heavy jobs delays
another visitor by about one job, one client's stream of new sessions evicts only its own, and the cost chart's
worst request is refused before it runs."""
import os
import threading
import time

import numpy as np
from PIL import Image

from tests.e2e.helpers import call, upload, wait_until
from tests.e2e.test_request_checks import completed, fn_index, join


def noise(side: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8))


def test_a_classroom_behind_one_address_is_served_and_a_refusal_says_why(app_url, monkeypatch):
    monkeypatch.setenv("VTDEMO_TRUSTED_PROXY", "1")
    monkeypatch.setenv("VTDEMO_MAX_REQUESTS_PER_SESSION", "1")
    classroom = {"X-Forwarded-For": "198.51.100.30"}
    fn = fn_index(app_url, "upscale")
    small = upload(app_url, noise(48), classroom)
    # eight students, one request each, all at once: the address has room for them (it had 4 before)
    for i in range(8):
        assert join(app_url, fn, [small, "hat-demo-x4", 4], f"student{i}", classroom).status_code == 200
    results = [completed(app_url, f"student{i}") for i in range(8)]
    assert all(r["success"] for r in results), [r["output"].get("error") for r in results if not r["success"]]
    # one student clicking twice: the second request gets the app's sentence in the page's own stream
    assert join(app_url, fn, [small, "hat-demo-x4", 4], "student0", classroom).status_code == 200
    assert join(app_url, fn, [small, "bicubic", 2], "student0", classroom).status_code == 200
    again = join(app_url, fn, [small, "bicubic", 2], "student0", classroom)  # while that refusal is unread
    assert again.status_code == 400 and "limit per visitor is 1" in again.json()["detail"]  # not kept: a 400
    first, second = completed(app_url, "student0", count=2)
    refused = [m for m in (first, second) if not m["success"]]
    assert len(refused) == 1 and "in this session (the limit per visitor is 1)" in refused[0]["output"]["error"]
    # and gradio_client raises it (Gradio's own refusal reads "Queue is full! Please try again.")
    from gradio_client import Client, handle_file

    client = Client(app_url, verbose=False, headers=classroom)
    path = "/tmp/vtdemo-classroom.png"
    noise(160, 3).save(path)
    job = client.submit(handle_file(path), "hat-demo-x4", 4, api_name="/upscale")
    wait_until(lambda: job.status().code.name in ("PROCESSING", "FINISHED"), "the first request to start")
    try:
        client.predict(handle_file(path), "bicubic", 2, api_name="/upscale")
        raise AssertionError("a second request of one session was accepted")
    except Exception as exc:
        assert "limit per visitor is 1" in str(exc) and "Queue is full" not in str(exc), exc
    job.result()


def test_one_address_with_many_heavy_jobs_delays_another_visitor_by_about_one(app_url, monkeypatch):
    monkeypatch.setenv("VTDEMO_TRUSTED_PROXY", "1")
    pile, visitor = {"X-Forwarded-For": "203.0.113.50"}, {"X-Forwarded-For": "192.0.2.60"}
    fn = fn_index(app_url, "upscale")
    heavy = [upload(app_url, noise(160, 1), pile), "hat-demo-x4", 4]
    done, lock = [], threading.Lock()

    def one(session):
        message = completed(app_url, session)
        with lock:
            done.append((time.perf_counter(), session, message["success"]))

    threads = []
    for i in range(10):  # ten sessions of one address: the per-session cap does not stop them, the order does
        assert join(app_url, fn, heavy, f"pile{i}", pile).status_code == 200
        threads.append(threading.Thread(target=one, args=(f"pile{i}",)))
        threads[-1].start()
    wait_until(lambda: bool(done), "the pile's first job to finish")  # the others are queued or computing
    mine = [upload(app_url, noise(96, 2), visitor), "hat-demo-x4", 4]
    assert join(app_url, fn, mine, "visitor0", visitor).status_code == 200
    one("visitor0")
    for t in threads:
        t.join()
    order = [session for _, session, _ in sorted(done)]
    assert all(ok for _, _, ok in done)
    # first come, first served, the visitor would be last; in turns it is within the pile's next few
    assert order.index("visitor0") <= 5, order


def test_a_flood_of_new_sessions_evicts_only_the_flooders_own(served, monkeypatch):
    url, demo = served
    monkeypatch.setenv("VTDEMO_TRUSTED_PROXY", "1")
    monkeypatch.setenv("VTDEMO_MAX_SESSIONS_PER_CLIENT", "20")
    fn = fn_index(url, "models")
    victim = {"X-Forwarded-For": "192.0.2.70"}
    assert join(url, fn, [], "victim01", victim).status_code == 200 and completed(url, "victim01")["success"]
    assert "victim01" in demo.state_holder
    flood = {"X-Forwarded-For": "203.0.113.70"}
    for i in range(60):  # sequentially, never more than one waiting: only the sessions add up
        assert join(url, fn, [], f"flood{i:03d}", flood).status_code == 200
        completed(url, f"flood{i:03d}")
    from vtdemo.ui.admission import SESSIONS

    assert "victim01" in demo.state_holder  # still there, whatever the total capacity
    assert SESSIONS.count("203.0.113.70") == 20
    kept = [s for s in demo.state_holder.session_data if s.startswith("flood")]
    assert kept == [f"flood{i:03d}" for i in range(40, 60)]  # its newest 20
    # many addresses, each within its share, filling the whole store: the fullest address gives way
    monkeypatch.setenv("VTDEMO_MAX_SESSIONS", str(len(SESSIONS._owner) + 15))
    for k in range(5):
        for i in range(20):
            many = {"X-Forwarded-For": f"203.0.113.{100 + k}"}
            assert join(url, fn, [], f"m{k}x{i:03d}", many).status_code == 200
            completed(url, f"m{k}x{i:03d}")
    assert "victim01" in demo.state_holder and len(SESSIONS._owner) <= int(os.environ["VTDEMO_MAX_SESSIONS"])


def test_the_cost_charts_worst_request_is_refused_before_it_runs(app_url):
    fn = fn_index(app_url, output_elem="scaling-plot")
    start = time.perf_counter()
    r = join(app_url, fn, [["pervit-m", "swin-t", "pvt-v2-b2", "deit-s16-distilled"], "576 608 640 672"], "chart01")
    assert r.status_code == 200
    message = completed(app_url, "chart01")
    assert not message["success"] and "VTDEMO_CHART_MEMORY_MB" in message["output"]["error"]
    assert "\n" not in message["output"]["error"] and time.perf_counter() - start < 60
    tiny = upload(app_url, noise(16))
    event, _ = call(app_url, "upscale", [tiny, "bicubic", 2])  # the server goes on serving
    assert event == "complete"
