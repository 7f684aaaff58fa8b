"""Run a worker over a list of items in this process (``local``) or in Ray actors (``ray``), streaming results back.

A worker is made by ``make_worker()`` once per process that runs it (the model is loaded once per actor) and maps a
list of rows (plain dicts) to as many result rows. The ray engine is a Ray Data pipeline — items → actor pool
(``map_batches``, ``batch_format="pyarrow"``) → rows streamed back to the caller, who writes files and the manifest —
so the same code runs on a local Ray (``ray.init()``) and on a cluster (``--ray-address`` or ``RAY_ADDRESS``). Ray is
optional: only ``engine="ray"`` imports it.
"""
from __future__ import annotations

import logging
import os
import socket
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

ENGINES = ("local", "ray")
Worker = Callable[[list[dict]], list[dict]]
INSTALL_RAY = 'the ray engine needs Ray: pip install "vtdemo[ray]" (or pip install "ray[data]")'


class EngineError(RuntimeError):
    """The engine cannot run (Ray missing or unreachable, bad worker count); the message says what to do."""


@dataclass(frozen=True)
class Plan:
    engine: str = "local"
    workers: int | None = None  # ray: actors (default: one per GPU with a CUDA device, else one per node)
    address: str | None = None  # ray: an existing cluster ("auto", "ray://host:10001"); None: RAY_ADDRESS or start one
    device: str | None = None  # what each worker computes on ("cuda" reserves one GPU per actor)

    def __post_init__(self):
        if self.engine not in ENGINES:
            raise EngineError(f"unknown engine {self.engine!r}: use one of {', '.join(ENGINES)}")
        if self.workers is not None and self.workers < 1:
            raise EngineError(f"--workers must be at least 1 (got {self.workers})")
        if self.workers is not None and self.engine == "local":
            raise EngineError("--workers is for --engine ray (the local engine is this one process)")


def worker_name() -> str:
    """host:pid of the process running a worker (recorded per item: which machine made a result)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def run(make_worker: Callable[[], Worker], items: list[dict], plan: Plan = Plan(), batch_size: int = 1
        ) -> Iterator[dict]:
    """Result rows for ``items`` (in completion order for ray, in order locally), as they are ready."""
    if not items:
        return
    if plan.engine == "local":
        worker = make_worker()
        for start in range(0, len(items), batch_size):
            yield from worker(items[start:start + batch_size])
        return
    with ray_session(plan.address) as ray:
        try:
            yield from _run_ray(ray, make_worker, items, plan, batch_size)
        except ray.exceptions.RayError as exc:  # e.g. a worker killed again and again (out of memory)
            raise EngineError(f"the Ray pipeline stopped ({type(exc).__name__}: {str(exc)[:300]}); what finished is "
                              "recorded: run the same command again to go on") from None


@contextmanager
def ray_session(address: str | None):
    """The ``ray`` module, connected: an existing connection is reused (and left open); otherwise Ray is started or
    joined (``address``, else RAY_ADDRESS, else a new local instance) and shut down afterwards."""
    try:
        import ray
    except ImportError:
        raise EngineError(INSTALL_RAY) from None
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
                     configure_logging=True)
        except Exception as exc:  # Ray raises plain Exceptions too (a node that does not start in time)
            raise EngineError(f"could not start or reach Ray{f' at {address}' if address else ''}: {exc}") from None
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


# what a worker needs from the Hugging Face settings: where the cache is, whether to go online, which endpoint;
# never a token (Ray writes a job's runtime environment in clear to its session logs)
HF_FORWARDED = ("HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE", "HF_ENDPOINT",
                "HF_HUB_DOWNLOAD_TIMEOUT", "HF_HUB_ETAG_TIMEOUT", "HF_HUB_DISABLE_TELEMETRY")
SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "KEY")


def worker_env() -> dict[str, str]:
    """What an actor needs from this process's environment: vtdemo's limits and settings (VTDEMO_*, none of them a
    secret), the Hugging Face cache and offline switches (``HF_FORWARDED``), and where this vtdemo lives (a
    checkout is not installed; an installed one is found anyway)."""
    env = {k: v for k, v in os.environ.items()
           if (k.startswith("VTDEMO_") and not any(w in k for w in SECRET_WORDS)) or k in HF_FORWARDED}
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + os.pathsep + "${PYTHONPATH}"  # Ray expands the node's own value
    return env


def _run_ray(ray, make_worker: Callable[[], Worker], items: list[dict], plan: Plan, batch_size: int
             ) -> Iterator[dict]:
    import ray.data

    resources = ray.cluster_resources()
    gpu = bool(plan.device and plan.device.startswith("cuda"))
    if gpu and resources.get("GPU", 0) < 1:
        raise EngineError("--device cuda was asked for but the Ray cluster has no GPU")
    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    total = int(resources.get("CPU", 1))
    if plan.workers and plan.workers > total:
        raise EngineError(f"{plan.workers} workers were asked for; the Ray cluster has {total} CPUs")
    workers = min(len(items), plan.workers or (int(resources.get("GPU", 1)) if gpu else max(1, len(nodes))))
    # each actor's share of the cores (its torch threads), never more than one node has: it must fit somewhere
    cpus = max(1, min(total // workers, int(max((n.get("CPU", 0) for n in nodes), default=1))))
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # the caller shows one bar, with images/s and an ETA
    ctx.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # its "execution finished" notices
    dataset = ray.data.from_items(items, override_num_blocks=min(len(items), 1000))  # one item per block: balance
    results = dataset.map_batches(
        _Actor, fn_constructor_args=(make_worker, cpus), batch_size=batch_size, batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=cpus, num_gpus=1 if gpu else 0,
        runtime_env={"env_vars": worker_env()})
    yield from results.iter_rows()


class _Actor:
    """One Ray actor: makes the worker once (loads the model), then maps batches of rows."""

    def __init__(self, make_worker: Callable[[], Worker], threads: int):
        import torch

        torch.set_num_threads(threads)  # its share of the node's cores: actors must not oversubscribe them
        self.worker = make_worker()

    def __call__(self, batch):
        import pyarrow as pa

        return pa.Table.from_pylist(self.worker(batch.to_pylist()))
