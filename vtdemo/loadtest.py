"""``python -m vtdemo bench load``: concurrent gradio_client users against a local server — completed and failed
requests, latency percentiles, and the server's memory (baseline, peak, after)."""
from __future__ import annotations

import gc
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def rss_mb() -> float:
    """This process's resident memory (MB), from /proc (Linux); 0 elsewhere."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _requests(image: str):
    """The mix each user sends, in turn: an upscale, a HAT attention click, a LAM with few steps, the zoo."""
    from gradio_client import handle_file

    return [
        ("/upscale", (handle_file(image), "hat-demo-x4", 4)),
        ("/hat_attention", (handle_file(image), "hat-demo-x4", 10, 12, 0, 1, "mean")),
        ("/lam", (handle_file(image), "bicubic", 10, 12, 5)),
        ("/models", ()),
    ]


def run(clients: int, requests: int, url: str | None = None) -> list[str]:
    from gradio_client import Client
    from PIL import Image

    demo = None
    if url is None:
        from vtdemo.ui import build_app, launch

        demo = build_app()
        _, url, _ = launch(demo, port=_free_port(), prevent_thread_lock=True, quiet=True)
    image = str(Path(tempfile.mkdtemp()) / "load.png")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(image)
    warm = Client(url, verbose=False)  # load the models once: the baseline is a warm server
    for endpoint, args in _requests(image):
        warm.predict(*args, api_name=endpoint)
    gc.collect()
    baseline = peak = rss_mb()
    stop = threading.Event()

    def sample():
        nonlocal peak
        while not stop.wait(0.05):
            peak = max(peak, rss_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    latencies, failures, lock = [], [], threading.Lock()

    def user(k: int) -> None:
        client = Client(url, verbose=False)
        mix = _requests(image)
        for i in range(requests):
            endpoint, args = mix[(k + i) % len(mix)]
            start = time.perf_counter()
            try:
                client.predict(*args, api_name=endpoint)
                with lock:
                    latencies.append(time.perf_counter() - start)
            except Exception as exc:  # noqa: BLE001 - counted and reported
                with lock:
                    failures.append(f"{endpoint}: {type(exc).__name__}: {str(exc)[:120]}")

    start = time.perf_counter()
    threads = [threading.Thread(target=user, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    stop.set()
    sampler.join()
    gc.collect()
    after = rss_mb()
    if demo is not None:
        demo.close()
    lat = np.sort(np.asarray(latencies)) if latencies else np.zeros(1)
    lines = [f"{clients} clients × {requests} requests against {url} in {wall:.1f} s",
             f"  completed {len(latencies)}, failed {len(failures)}",
             f"  latency p50 {np.percentile(lat, 50):.2f} s, p95 {np.percentile(lat, 95):.2f} s, "
             f"max {lat.max():.2f} s",
             f"  server memory: baseline {baseline:.0f} MB, peak {peak:.0f} MB, after {after:.0f} MB"
             + ("" if demo is not None else " (this process, not the remote server)")]
    lines += [f"  failure: {f}" for f in failures[:10]]
    return lines


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
