"""The app as a server process with VTDEMO_RAY_SERVE: /upscale answers what the engine computes here, and the tiles
were computed by the Serve replica (asked through the server's own Ray cluster)."""
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def _port_outside_rays() -> int:
    """A free port below Linux's ephemeral range (32768+, where Ray's agents bind their random ports) and above
    Ray's worker ports (10002-19999): an ephemeral pick can be taken by the server's own Ray before Gradio binds it,
    and the test then talks HTTP to a gRPC port."""
    for port in random.Random(os.getpid()).sample(range(20000, 32000), 200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 20000-32000")


def _is_gradio(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "config", timeout=2) as r:
            return "components" in json.loads(r.read())
    except (OSError, ValueError):
        return False


def test_upscale_through_ray_serve_replicas(tmp_path):
    ray = pytest.importorskip("ray", reason="Ray Serve is an optional extra (pip install 'vtdemo[serve]')")
    pytest.importorskip("ray.serve", reason="Ray Serve is an optional extra (pip install 'vtdemo[serve]')")
    from gradio_client import Client, handle_file
    from ray import serve

    from vtdemo.sr import serve_backend
    from vtdemo.sr.engine import upscale
    from vtdemo.sr.tiling import count_tiles

    image = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(4).integers(0, 256, (50, 70, 3), dtype=np.uint8)).save(image)
    port = _port_outside_rays()
    secret = "hf_" + os.urandom(12).hex()  # a Space's token: it must reach no Ray process or log
    env = dict(os.environ, VTDEMO_RAY_SERVE="local", VTDEMO_RAY_SERVE_REPLICAS="1", VTDEMO_TILE="32",
               GRADIO_ANALYTICS_ENABLED="False", HF_TOKEN=secret)
    server = subprocess.Popen([sys.executable, "-m", "vtdemo", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 240  # Ray's start and the replica's deployment come before the port opens
        url = f"http://127.0.0.1:{port}/"
        while not _is_gradio(url):  # the app answering, not merely something listening on the port
            assert server.poll() is None, f"the server exited: {server.stderr.read()[-2000:]}"
            assert time.time() < deadline, "the server did not start in 240 s"
            time.sleep(1)
        answer = Client(url, verbose=False).predict(
            handle_file(str(image)), "hat-demo-x4", 4, api_name="/upscale")
        expected = upscale(image, "hat-demo-x4", tile=32, backend="torch", device="cpu")
        assert np.array_equal(np.asarray(Image.open(answer).convert("RGB")), np.asarray(expected))
        ray.init(address="auto", log_to_driver=False)  # the server's cluster: ask its replica what it did
        try:
            stats = serve_backend.wait(serve.get_app_handle("vtdemo-sr").stats.remote())
        finally:
            ray.shutdown()
        tiles = count_tiles(50, 70, 32, 8)
        assert tiles > 1 and stats["tiles"] == tiles and stats["pid"] != server.pid
        leaked = [str(p) for p in Path("/tmp/ray").glob("session_*/logs/**/*") if p.is_file() and
                  secret.encode() in p.read_bytes()]
        assert leaked == [], leaked  # Ray writes a job's runtime environment to its logs in clear
    finally:
        server.send_signal(signal.SIGINT)  # a normal exit: the server's Ray is shut down with it
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
