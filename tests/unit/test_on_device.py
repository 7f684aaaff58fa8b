"""The GPU boundary's own pieces, as ZeroGPU uses them: what crosses it pickles, Stop reaches a process forked
before it was pressed, a forked worker's torch does not hang, and durations follow the work."""
import multiprocessing
import pickle

import gradio as gr
import pytest
from PIL import Image

from vtdemo.ui import on_device, stop


class _Request:
    session_hash = "s1"


def _run_until_stopped(report, done):
    """In a forked child: report progress until Stop raises (at most ~30 s)."""
    import time

    for i in range(3000):
        try:
            report(i / 3000, "working")
        except gr.Error as exc:
            done.put(exc.message)
            return
        time.sleep(0.01)
    done.put("never stopped")


class _Progress:
    """gr.Progress's call signature, recording."""

    def __init__(self):
        self.seen = []

    def __call__(self, fraction, desc=None):
        self.seen.append((round(fraction, 3), desc))


def test_a_report_crosses_a_pickle_and_stop_reaches_a_worker_forked_before_it():
    with stop.stoppable(_Request(), "lam") as check:
        pickle.loads(pickle.dumps(on_device.Report(gr.Progress(), check)))  # what the page's handlers pass
        report = pickle.loads(pickle.dumps(on_device.Report(_Progress(), check)))
        report.part(1, 2, "HAT: ").steps(5, 10)
        assert report.progress.seen == [(0.75, "HAT: LAM step 5/10")]
        context = multiprocessing.get_context("fork")
        done = context.SimpleQueue()
        child = context.Process(target=_run_until_stopped, args=(on_device.Report(None, check), done))
        child.start()
        stop.ask_stop("lam", _Request())  # pressed after the fork
        child.join(60)
        assert done.get() == stop.STOPPED
    assert pickle.loads(pickle.dumps(on_device.Uploaded("/x/model.pth"))) == on_device.Uploaded("/x/model.pth")


def _matmul(done):
    import torch

    on_device._in_worker()
    done.put(float((torch.ones(512, 512) @ torch.ones(512, 512))[0, 0]))


def test_a_forked_worker_computes_after_the_parent_used_torchs_thread_pool():
    """After this process ran a multi-threaded op, a fork child's first multi-threaded op hangs (OpenMP is not
    fork-safe); ``_in_worker`` — called first in every GPU function — keeps the child off the pool."""
    import torch

    if torch.get_num_threads() < 2:
        pytest.skip("one CPU thread: there is no thread pool to inherit")
    (torch.rand(512, 512) @ torch.rand(512, 512)).sum()  # the parent uses its pool
    context = multiprocessing.get_context("fork")
    done = context.SimpleQueue()
    child = context.Process(target=_matmul, args=(done,))
    child.start()
    child.join(60)
    alive = child.is_alive()
    if alive:
        child.kill()
    assert not alive and done.get() == 512.0


@pytest.fixture
def zerogpu(monkeypatch):
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")


def _image(tmp_path, w, h):
    path = tmp_path / f"{w}x{h}.png"
    Image.new("RGB", (w, h)).save(path)
    return str(path)


def test_durations_follow_the_work_and_default_jobs_fit_the_free_quota(zerogpu, tmp_path):
    small, photo = _image(tmp_path, 256, 256), _image(tmp_path, 2000, 1500)
    default = on_device.sr_seconds(small, ["bicubic", "hat-demo-x4"], scale=4)
    assert on_device.SETUP_SECONDS < default <= 60
    assert on_device.sr_seconds(photo, ["bicubic", "hat-s-x4"], scale=4) > default  # more pixels, a bigger model
    assert on_device.sr_seconds(photo, ["hat-l-x4"], scale=4) > on_device.sr_seconds(photo, ["hat-s-x4"], scale=4)
    assert on_device.sr_seconds(photo, ["hat-s-x4"], scale=4, mode="degrade") < \
        on_device.sr_seconds(photo, ["hat-s-x4"], scale=4)  # degrade: the output is the input's size
    assert on_device.lam_seconds(small, "hat-demo-x4", (10, 10), scale=4, steps=50, context=24) <= 60
    assert on_device.lam_seconds(small, "hat-x4", (10, 10), scale=4, steps=100, context=24) > \
        on_device.lam_seconds(small, "hat-demo-x4", (10, 10), scale=4, steps=50, context=24)
    folder = tmp_path / "bench"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (256, 256)).save(folder / f"{i}.png")
    assert on_device.benchmark_seconds(folder, ["bicubic", "hat-demo-x4"], 4) <= 60
    whole = _image(tmp_path, 128, 128)  # attributed whole (no context): every pixel's gradient, 100 times
    with pytest.raises(on_device.TooLongForGPU, match=r"needs about \d+ s of GPU time.*at most 120 s"):
        on_device.lam_seconds(whole, "hat-l-x4", (10, 10), scale=4, steps=100)


def test_off_zerogpu_no_job_is_refused_for_gpu_time(monkeypatch, tmp_path):
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    assert on_device.lam_seconds(_image(tmp_path, 128, 128), "hat-l-x4", (10, 10), scale=4, steps=100) == \
        on_device.MAX_CALL_SECONDS


def test_every_tab_handler_runs_its_model_work_in_spaces_own_forked_worker(tmp_path):
    """The real `spaces` package in ZeroGPU mode, in a fresh process that has used torch's thread pool first (as a
    server does): the tabs' API handlers return their results, and the model work ran in forked workers (the device
    API saw their pids, never this process's), each asking for a duration computed from the work. Without a server,
    a browser or the Space environment, so that it runs wherever the unit tests do."""
    import json
    import os
    import subprocess
    import sys
    import textwrap

    import numpy as np

    from tests.support.zerogpu import DeviceAPI

    image = tmp_path / "img.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(image)
    script = textwrap.dedent(f"""
        import json, os, sys
        sys.path.insert(0, "tests/support")
        from zerogpu import cuda_standin
        cuda_standin()
        import torch
        (torch.rand(512, 512) @ torch.rand(512, 512)).sum()  # the server's own CPU work before any GPU call
        from vtdemo.ui import attention_tab, classify_tab, classify_why, lam_tab, sr_tab
        img = {str(image)!r}
        out = dict(
            upscale=sr_tab.api_upscale(img, "hat-demo-x4", 4),
            compare=len(sr_tab.api_compare(img, ["bicubic", "hat-demo-x4"], "degrade", 4)[0]),
            lam=lam_tab.lam_api(img, "hat-demo-x4", 10, 10, 2)[1],
            hat=lam_tab.attention_api(img, "hat-demo-x4", 10, 10, 0, 1, "mean"),
            classify=len(classify_tab.classify_api(img, "vit-demo", 3)),
            attention=attention_tab.attention_api(img, "vit-demo", 24, 20, -1, "mean", ""),
            explain=classify_why.explain_api(img, "deit-demo", "tench", "chefer")[1],
        )
        print(json.dumps(dict(out, pid=os.getpid())))
    """)
    api = DeviceAPI()
    try:
        run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                             env={**os.environ, "HF_HUB_OFFLINE": "1", "SPACES_ZERO_GPU": "true",
                                  "SPACES_ZERO_DEVICE_API_URL": api.url})
        assert run.returncode == 0, run.stderr[-3000:]
        out = json.loads(run.stdout.strip().splitlines()[-1])
        assert Image.open(out["upscale"]).size == (192, 160) and out["compare"] == 2 and 0 < out["lam"] < 100
        assert Image.open(out["hat"]).size and Image.open(out["attention"]).size and out["classify"]
        assert out["explain"]["class"] == "tench" and 0 <= out["explain"]["map_deletion_auc"] <= 1
        workers = {int(a["pid"]) for a in api.of("/allow")}
        assert workers and out["pid"] not in workers
        durations = [int(s["durationSeconds"]) for s in api.of("/schedule")]
        assert len(durations) == 7 and all(on_device.SETUP_SECONDS < d <= 60 for d in durations)
    finally:
        api.close()
