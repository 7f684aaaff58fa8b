"""``python -m vtdemo bench load``: concurrent gradio_client users against a server — completed and failed
requests, latency percentiles, and the server's resident memory (after a warm-up, at its peak, after each round).

Without ``--url`` a server is started as a separate process (``python -m vtdemo serve``) so that its memory is
measured apart from the clients'. A leak shows as memory growing round after round; a warm server's working set
(models, caches, allocator pools) is reached in the first round and then stays flat.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np


def rss_mb(pid: int) -> float:
    """Resident memory (MB) of process ``pid`` from /proc (Linux); 0 elsewhere."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _requests(image: str):
    """The mix each user sends, in turn: an upscale, a HAT attention click, a LAM with few steps, a classification
    and a classifier attention click with embedded demo models, the zoo."""
    from gradio_client import handle_file

    return [
        ("/upscale", (handle_file(image), "hat-demo-x4", 4)),
        ("/hat_attention", (handle_file(image), "hat-demo-x4", 10, 12, 0, 1, "mean")),
        ("/lam", (handle_file(image), "bicubic", 10, 12, 5)),
        ("/classify", (handle_file(image), "pvt-demo", 3)),
        ("/attention", (handle_file(image), "pvt-demo", 20, 16, -1, "mean", "")),
        ("/models", ()),
    ]


def _start_server() -> tuple[subprocess.Popen, str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False")
    proc = subprocess.Popen([sys.executable, "-m", "vtdemo", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, url
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("the server exited while starting")
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the server did not start within 120 s")


def run(clients: int, requests: int, url: str | None = None, rounds: int = 2) -> tuple[list[str], int]:
    """(report lines, number of failed requests)."""
    from gradio_client import Client
    from PIL import Image

    proc = None
    if url is None:
        proc, url = _start_server()
    pid = proc.pid if proc else None
    try:
        image = str(Path(tempfile.mkdtemp()) / "load.png")
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(image)
        warm = Client(url, verbose=False)  # load the models once: the baseline is a warm server
        for endpoint, args in _requests(image):
            warm.predict(*args, api_name=endpoint)
        baseline = peak = rss_mb(pid) if pid else 0.0
        stop = threading.Event()

        def sample():
            nonlocal peak
            while pid and not stop.wait(0.05):
                peak = max(peak, rss_mb(pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        latencies, failures, after, lock = [], [], [], threading.Lock()

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
        for _ in range(rounds):
            threads = [threading.Thread(target=user, args=(k,)) for k in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            time.sleep(1.0)
            after.append(rss_mb(pid) if pid else 0.0)
        wall = time.perf_counter() - start
        stop.set()
        sampler.join()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    lat = np.sort(np.asarray(latencies)) if latencies else np.zeros(1)
    lines = [f"{rounds} rounds × {clients} clients × {requests} requests against {url} in {wall:.1f} s",
             f"  completed {len(latencies)}, failed {len(failures)}",
             f"  latency p50 {np.percentile(lat, 50):.2f} s, p95 {np.percentile(lat, 95):.2f} s, "
             f"max {lat.max():.2f} s"]
    if pid:
        lines.append(f"  server memory: warm baseline {baseline:.0f} MB, peak {peak:.0f} MB, after each round "
                     + ", ".join(f"{m:.0f}" for m in after) + " MB")
    lines += [f"  failure: {f}" for f in failures[:10]]
    return lines, len(failures)
