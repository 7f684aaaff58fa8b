"""How a classifier's cost grows with its input: latency of the real architecture (random weights) at a few input
sides, and the exponent k of time ∝ pixels^k — ViT's global attention grows with the square of the tokens, Swin's
windows and PVT-v2's reduced keys were designed to grow linearly with the pixels.

Bounded for a server (``measure`` with limits): before anything runs, each (model, side) is traced once on PyTorch's
meta device — shapes only, no arithmetic — for its FLOPs and the peak bytes of the activations alive at once
(``Footprint``; PerViT's peripheral maps at 672² hold gigabytes), so a point over the memory limit is refused
instead of run; the time is the FLOPs at a rate measured on a small real probe, corrected by each point measured;
the rest is checked against the time limit before every point, and ``report`` (which may raise to stop) is called
between points."""
from __future__ import annotations

import contextlib
import time
import weakref
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch.utils._python_dispatch import TorchDispatchMode

PROBE = 128  # the side of the real probe that gives a model's rate (every family builds at it)
MARGIN = 1.5  # the time estimate's safety factor


class ScalingError(ValueError):
    """The measurement cannot be made here (a sentence for the user)."""


@dataclass
class ScalingPoint:
    model: str
    size: int
    ms: float
    peak_mb: float  # activations alive at once (``Footprint``)


def at_size(model_id: str, size: int) -> torch.nn.Module:
    """The card's architecture built for size×size inputs, random weights: ViT/DeiT/Swin get the token grid (and
    position embeddings) of that size, as timm builds them for another ``img_size``; PVT-v2 takes any size."""
    from vtdemo.zoo.builders import architecture
    from vtdemo.zoo.cards import get_card
    from vtdemo.zoo.demo_archs import build_classifier

    card = get_card(model_id)
    if card.builder not in ("timm", "pervit"):
        return architecture(card).eval()
    config = dict(card.config)
    num_classes = int(config.pop("num_classes", 1000))
    if card.builder == "pervit":
        return build_classifier({"config": dict(config, img_size=size)}, num_classes).eval()
    kwargs = dict(config.get("kwargs", {}))
    try:
        return build_classifier({"timm_name": config["timm_name"], "kwargs": {**kwargs, "img_size": size}},
                                num_classes).eval()
    except TypeError:  # an architecture without an input size (it takes any)
        return build_classifier({"timm_name": config["timm_name"], "kwargs": kwargs}, num_classes).eval()


def time_at(model_id: str, size: int, device: torch.device, repeats: int = 1) -> ScalingPoint:
    """One point: a warm-up pass (counting the peak activation memory, ``Footprint``), then the best of
    ``repeats`` timed passes."""
    torch.manual_seed(0)
    try:
        model = at_size(model_id, size).to(device)
        x = torch.rand(1, 3, size, size, device=device)
        with torch.inference_mode():
            with Footprint() as memory:
                model(x)
            best = float("inf")
            for _ in range(repeats):
                _sync(device)
                begin = time.perf_counter()
                model(x)
                _sync(device)
                best = min(best, time.perf_counter() - begin)
    except (AssertionError, ValueError, RuntimeError, TypeError) as exc:  # a grid this size does not divide
        raise ScalingError(f"{model_id} cannot run {size}×{size} inputs: {_first_line(exc)}") from None
    return ScalingPoint(model_id, size, best * 1000, memory.peak / 1e6)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Footprint(TorchDispatchMode):
    """The peak bytes of tensors alive at once among those the traced code creates (views share their storage's
    bytes), counted as the ops run — on the meta device too, where nothing is allocated."""

    def __init__(self):
        super().__init__()
        self.now = self.peak = 0
        self._users: dict[int, int] = {}  # storage -> live tensors created here that use it
        self._bytes: dict[int, int] = {}
        self._seen: set[int] = set()

    def _release(self, storage: int, tensor: int) -> None:
        self._seen.discard(tensor)
        self._users[storage] -= 1
        if not self._users[storage]:
            del self._users[storage]
            self.now -= self._bytes.pop(storage)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        from torch.utils._pytree import tree_leaves

        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor) and id(t) not in self._seen:  # an in-place op returns its input
                self._seen.add(id(t))
                storage = t.untyped_storage()
                key = storage._cdata
                if key not in self._users:
                    self._users[key], self._bytes[key] = 0, storage.nbytes()
                    self.now += self._bytes[key]
                    self.peak = max(self.peak, self.now)
                self._users[key] += 1
                weakref.finalize(t, self._release, key, id(t))
        return out


def cost(model_id: str, size: int) -> tuple[float, float]:
    """(GFLOP, peak activation MB) of one forward pass at size×size, traced on the meta device."""
    from torch.utils.flop_counter import FlopCounterMode

    try:
        model = at_size(model_id, size).to("meta")
        with torch.inference_mode(), FlopCounterMode(display=False) as flops, Footprint() as memory:
            model(torch.empty(1, 3, size, size, device="meta"))
    except (AssertionError, ValueError, RuntimeError, TypeError, NotImplementedError) as exc:
        raise ScalingError(f"{model_id} cannot run {size}×{size} inputs: {_first_line(exc)}") from None
    return flops.get_total_flops() / 1e9, memory.peak / 1e6


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__


def measure(model_ids: list[str], sizes: list[int], device: str | None = None, repeats: int = 1,
            report: Callable[[float, str], None] | None = None, max_seconds: float | None = None,
            max_memory_mb: float | None = None, hold=contextlib.nullcontext
            ) -> tuple[list[ScalingPoint], dict[str, float]]:
    """Every model at every side, and the exponents of time ∝ pixels^k (least squares on log–log). With
    ``max_seconds`` / ``max_memory_mb``: refused (ScalingError) where the estimate passes a limit. ``hold()`` is
    entered around each real run (a server's heavy slot: other jobs get their turn between points)."""
    from vtdemo.runtime import default_device

    dev = torch.device(device) if device else default_device()
    sizes = sorted(set(sizes))
    plan = [(m, s) for m in model_ids for s in sizes]
    bounded = max_seconds is not None or max_memory_mb is not None
    start, gflop, rate = time.perf_counter(), {}, {}  # rate: seconds per GFLOP, per model
    if bounded:
        for model_id, size in plan:
            if report:
                report(0.0, f"estimating {model_id} at {size}×{size}")
            gflop[model_id, size], mb = cost(model_id, size)
            if max_memory_mb is not None and mb > max_memory_mb:
                raise ScalingError(f"{model_id} at {size}×{size} would hold about {mb:,.0f} MB of activations "
                                   f"here, over this server's limit of {max_memory_mb:,.0f} MB "
                                   "(VTDEMO_CHART_MEMORY_MB): choose smaller sizes; the CLI (python -m vtdemo bench "
                                   "scaling) has no such limit.")
        for model_id in model_ids:
            with hold():
                probe = time_at(model_id, PROBE, dev)
            rate[model_id] = probe.ms / 1000 / max(cost(model_id, PROBE)[0], 1e-6)
    points = []
    for i, (model_id, size) in enumerate(plan):
        if report:
            report(i / len(plan), f"{model_id} at {size}×{size}")
        if max_seconds is not None:
            rest = sum(MARGIN * 2 * gflop[p] * rate[p[0]] for p in plan[i:])  # a warm-up and a timed pass
            if time.perf_counter() - start + rest > max_seconds:
                raise ScalingError(
                    f"Measuring {'these models at these sizes' if i == 0 else 'the rest'} would take about "
                    f"{time.perf_counter() - start + rest:,.0f} s here, over this server's limit of "
                    f"{max_seconds:,.0f} s per request (VTDEMO_MAX_JOB_SECONDS): choose fewer models or smaller "
                    "sizes; the CLI (python -m vtdemo bench scaling) has no such limit.")
        with hold():
            point = time_at(model_id, size, dev, repeats)
        points.append(point)
        if bounded:
            rate[model_id] = point.ms / 1000 / max(gflop[model_id, size], 1e-6)  # what this machine does now
    return points, exponents(points)


def exponents(points: list[ScalingPoint]) -> dict[str, float]:
    """k of time ∝ pixels^k per model, least squares on log–log over its points."""
    out = {}
    for model_id in dict.fromkeys(p.model for p in points):
        mine = [p for p in points if p.model == model_id]
        if len(mine) >= 2:
            k, _ = np.polyfit(np.log([p.size ** 2 for p in mine]), np.log([p.ms for p in mine]), 1)
            out[model_id] = float(k)
    return out
