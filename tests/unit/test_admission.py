"""The admission mechanics on their own: the heavy slots (one for this process whatever Ray Serve has, one per
replica for jobs Serve computes; granted in turns by address), the round-robin place of a new event in Gradio's
queue, and what Ray workers get from this process's environment."""
import threading
from types import SimpleNamespace

import pytest

from vtdemo.ui import admission


class _as_client:
    """Run the block as if for a request from ``client`` (as Gradio sets it for an event's handler)."""

    def __init__(self, client):
        self.client = client

    def __enter__(self):
        from gradio.context import LocalContext

        self.token = LocalContext.request.set(SimpleNamespace(headers={}, client=SimpleNamespace(host=self.client)))

    def __exit__(self, *exc):
        from gradio.context import LocalContext

        LocalContext.request.reset(self.token)


def _wait_until(condition):
    while not condition():
        threading.Event().wait(0.005)


def test_the_process_has_one_heavy_slot_even_with_serve_replicas(monkeypatch):
    monkeypatch.setenv("VTDEMO_RAY_SERVE", "local")
    monkeypatch.setenv("VTDEMO_RAY_SERVE_REPLICAS", "3")
    monkeypatch.setattr(admission, "_SERVE", None)
    for on_serve, most in ((False, 1), (True, 3)):
        inside, release = [], threading.Event()

        def job():
            with admission.heavy_slot(on_serve=on_serve):
                inside.append(1)
                release.wait()

        threads = [threading.Thread(target=job) for _ in range(3)]
        for t in threads:
            t.start()
        slots = admission._SERVE if on_serve else admission._LOCAL
        _wait_until(lambda: len(inside) + len(slots._waiting) == 3)  # every job is in or waiting
        assert len(inside) == most, on_serve
        release.set()
        for t in threads:
            t.join()


def test_a_slot_goes_to_the_address_with_fewest_turns():
    slots = admission._Slots(1)
    holding = threading.Event()
    let_go = threading.Event()
    order = []

    def first():
        with _as_client("pile"), slots.hold():
            order.append("pile")
            holding.set()
            let_go.wait()

    def later(client):
        with _as_client(client), slots.hold():
            order.append(client)

    t0 = threading.Thread(target=first)
    t0.start()
    holding.wait()
    waiting = []
    for client in ("pile", "pile", "pile", "visitor"):  # the visitor comes last
        waiting.append(threading.Thread(target=later, args=(client,)))
        waiting[-1].start()
        _wait_until(lambda: len(slots._waiting) == len(waiting))  # queued in this order
    let_go.set()
    for t in [t0, *waiting]:
        t.join()
    assert order == ["pile", "visitor", "pile", "pile", "pile"]


def test_a_new_event_takes_its_turn_in_the_queue():
    waiting = []
    queue = SimpleNamespace(event_ids_to_events={}, event_queue_per_concurrency_id={"sr": SimpleNamespace(
        queue=waiting)})
    for i, client in enumerate("AABABC"):  # as they arrive; each is appended by Gradio, then placed
        event = SimpleNamespace(request=SimpleNamespace(headers={}, client=SimpleNamespace(host=client)),
                                concurrency_id="sr")
        queue.event_ids_to_events[i] = event
        waiting.append(event)
        admission._place_fairly(queue, i)
    assert "".join(e.request.client.host for e in waiting) == "ABCABA"  # rounds: A B C | A B | A


def test_ray_workers_get_no_secret(monkeypatch):
    from vtdemo.batch.engines import worker_env

    monkeypatch.setenv("HF_TOKEN", "hf_secret")
    monkeypatch.setenv("HUGGING_FACE_HUB_TOKEN", "hf_secret2")
    monkeypatch.setenv("HF_HOME", "/data/hf")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("VTDEMO_MAX_TILE", "128")
    monkeypatch.setenv("VTDEMO_SOME_TOKEN", "x")
    env = worker_env()
    assert env["HF_HOME"] == "/data/hf" and env["HF_HUB_OFFLINE"] == "1" and env["VTDEMO_MAX_TILE"] == "128"
    assert not any("TOKEN" in k for k in env) and "hf_secret" not in str(env)


def test_gradio_internals_are_patched_only_in_a_version_they_were_read_in(monkeypatch, caplog):
    import gradio as gr

    from vtdemo.ui import gradio_internals

    gradio_internals.check_version(gr.__version__)  # the pinned Gradio: served
    monkeypatch.delenv("VTDEMO_UNTESTED_GRADIO", raising=False)
    with pytest.raises(RuntimeError, match=r"Gradio 7\.0\.2.*gradio==6\.31\.0"):
        gradio_internals.check_version("7.0.2")
    monkeypatch.setenv("VTDEMO_UNTESTED_GRADIO", "1")
    gradio_internals.check_version("7.0.2")  # asked for: served, with a warning in the log
    assert "7.0.2" in caplog.text
