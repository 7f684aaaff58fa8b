"""The ray-serve backend: SR tiles computed by Ray Serve replicas instead of this process (``VTDEMO_RAY_SERVE``).

The app stays what it is — admission, limits, progress per tile, the Stop button, scoring and files happen here —
and only the model's forward pass on each tile goes to a Serve deployment whose replicas load the zoo's models once
each (on other machines, or on GPUs this process does not have). A tile is sent with the model id and the weights'
fingerprint (the sha256 of its tensors); a replica refuses a tile whose fingerprint is not the one of its own copy of
that model, and ``ready`` only offers this backend for a module the zoo's loader made under that id, whose weights the
replicas hold (an uploaded checkpoint never leaves this process, whatever it is named). A failure on the Ray side is
one sentence here; Ray's own report (addresses, pids, paths) goes to the server's log only. The replicas run the
tile exactly as the torch backend does, so results are the same.

``VTDEMO_RAY_SERVE``: ``local`` (start Ray on this machine) or a Ray address (``auto``, ``ray://head:10001``);
``VTDEMO_RAY_SERVE_REPLICAS`` (default 2): replicas, each with its share of the cluster's CPUs and, when the cluster
has as many GPUs, one GPU. No HTTP proxy is started: the deployment is reachable through this process only.
"""
from __future__ import annotations

import os
import threading

import numpy as np
import torch

from vtdemo import limits
from vtdemo.sr import backends
from vtdemo.sr.onnx_backend import fingerprint_of

APP = "vtdemo-sr"
_lock = threading.Lock()
_handle = None
_replica_fingerprints: dict[str, str] = {}  # model id -> the replicas' weights fingerprint


class ServeError(RuntimeError):
    """The replicas could not answer (the message is fit for a visitor; Ray's details are logged)."""


def wait(response, what: str = "the request"):
    """A Serve response's result. Serve refuses to block a thread that runs an asyncio event loop (a notebook, a
    test runner, an async caller): there the wait happens on a helper thread."""
    import asyncio

    try:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return response.result()
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as pool:
            return pool.submit(response.result).result()
    except Exception as exc:
        import logging

        logging.getLogger(__name__).error("Ray Serve failed on %s: %s", what, exc)
        raise ServeError(f"The Ray Serve replicas failed on {what} ({type(exc).__name__}); the server's log has "
                         "the details.") from None


def enabled() -> bool:
    return bool(os.environ.get("VTDEMO_RAY_SERVE", "").strip())


class SRReplica:
    """One Serve replica: zoo models loaded on first use (the zoo's cache), one tile at a time."""

    def __init__(self, threads: int):
        from vtdemo.runtime import default_device

        torch.set_num_threads(threads)
        self.device = default_device()
        self.tiles = 0

    def _net(self, model_id: str) -> backends.SRNet:
        from vtdemo.zoo.cards import get_card
        from vtdemo.zoo.loading import load_model

        return backends.SRNet(load_model(model_id, device=self.device), get_card(model_id).scale, model_id)

    def fingerprint(self, model_id: str) -> str:
        return fingerprint_of(self._net(model_id).module)

    def __call__(self, model_id: str, fingerprint: str, precision: str, tile: np.ndarray) -> np.ndarray:
        net = self._net(model_id)
        if self.fingerprint(model_id) != fingerprint:
            raise ValueError(f"this replica's {model_id} has other weights than the caller's")
        fn = backends.tile_fn(net, "torch", self.device, max(tile.shape[-2:]), precision)
        with torch.inference_mode():
            out = fn(torch.from_numpy(tile)).float().cpu().numpy()
        self.tiles += 1
        return out

    def stats(self) -> dict:
        return {"pid": os.getpid(), "tiles": self.tiles}


def start(address: str | None = None, replicas: int | None = None):
    """Connect to (or start) Ray, and deploy the replicas (once per process); returns the deployment's handle."""
    global _handle
    with _lock:
        if _handle is not None:
            return _handle
        try:
            import ray
            from ray import serve
        except ImportError:
            raise RuntimeError('VTDEMO_RAY_SERVE needs Ray Serve: pip install "vtdemo[serve]"') from None
        from vtdemo.batch.engines import worker_env

        address = address or os.environ.get("VTDEMO_RAY_SERVE", "local").strip()
        replicas = replicas or limits.ray_serve_replicas()
        if not ray.is_initialized():
            ray.init(address=None if address == "local" else address, include_dashboard=False,
                     log_to_driver=False, runtime_env={"env_vars": worker_env()})
        resources = ray.cluster_resources()
        if replicas > int(resources.get("CPU", 1)):  # they would wait for cores forever, and the app with them
            raise RuntimeError(f"VTDEMO_RAY_SERVE_REPLICAS={replicas} is more than the Ray cluster's "
                               f"{int(resources.get('CPU', 1))} CPUs")
        cpus = max(1, int(resources.get("CPU", 1)) // replicas)
        gpus = 1 if resources.get("GPU", 0) >= replicas else 0
        serve.start(proxy_location="Disabled")
        deployment = serve.deployment(SRReplica, name=APP, num_replicas=replicas, max_ongoing_requests=1,
                                      ray_actor_options={"num_cpus": cpus, "num_gpus": gpus})
        _handle = serve.run(deployment.bind(cpus), name=APP, route_prefix=None)
        return _handle


def stop() -> None:
    """Remove the deployment (tests; a server's end)."""
    global _handle
    with _lock:
        if _handle is not None:
            from ray import serve

            serve.delete(APP)
            _handle = None
            _replica_fingerprints.clear()


def ready(net, device: torch.device, tile: int) -> bool:
    """Whether the replicas hold ``net``'s weights: a zoo model whose fingerprint they report, asked once per id."""
    from vtdemo.zoo.loading import zoo_id_of

    if not enabled() or net.module is None or zoo_id_of(net.module) != net.name:
        return False  # an upload or a caller's own module, whatever its name: only this process has it
    if net.name not in _replica_fingerprints:
        _replica_fingerprints[net.name] = wait(start().fingerprint.remote(net.name), f"loading {net.name}")
    return _replica_fingerprints[net.name] == fingerprint_of(net.module)


def tile_fn(net, device: torch.device, tile: int, precision: str):
    """A tile function that sends each tile to a replica and waits for its result."""
    handle, fingerprint = start(), fingerprint_of(net.module)

    def run(t: torch.Tensor) -> torch.Tensor:
        out = wait(handle.remote(net.name, fingerprint, precision, t.float().cpu().numpy()), f"a tile of {net.name}")
        return torch.from_numpy(out if out.flags.writeable else out.copy())  # Ray's zero-copy arrays are read-only

    return run


backends.register(backends.Backend("ray-serve", tile_fn, ready=ready, identity=lambda net, tile: f"{net.name}-serve",
                                   remote=True))
