"""The openvino backend: the fixed-tile ONNX graph that ``export-onnx`` writes (``onnx_backend``), compiled by
OpenVINO for the CPU in bf16 — OpenVINO's own kernels for AVX512-BF16/AMX — or fp32. Usable once the graph exists
and the ``openvino`` package is installed; ``auto`` takes it where ``backends.measure`` timed it fastest.

Compiled graphs are kept in the same small LRU as the ONNX Runtime sessions (VTDEMO_ONNX_SESSIONS); each call gets
its own infer request, so concurrent tiles never share one.
"""
from __future__ import annotations

import importlib.util

import torch

from vtdemo.cache import Cache
from vtdemo.sr import onnx_backend

_COMPILED = Cache("VTDEMO_ONNX_SESSIONS")
HINTS = {"bf16": "bf16", "fp32": "f32"}  # our precision names -> OpenVINO's INFERENCE_PRECISION_HINT


def available() -> bool:
    return importlib.util.find_spec("openvino") is not None


def ready(net, device: torch.device, tile: int) -> bool:
    return available() and onnx_backend.ready(net, device, tile)


def identity(net, tile: int) -> str:
    return onnx_backend.identity(net, tile).replace(".onnx", ".openvino")


def compiled(net, tile: int, precision: str):
    """The graph compiled for this CPU in ``precision`` (compiled once: seconds)."""
    import openvino

    path = onnx_backend.ensure_exported(net, tile)

    def compile_graph():
        core = openvino.Core()
        return core.compile_model(core.read_model(str(path)), "CPU", {
            "INFERENCE_PRECISION_HINT": HINTS[precision], "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": torch.get_num_threads()})

    return _COMPILED.get_or_compute(f"{path}|{precision}", compile_graph)


def tile_fn(net, device: torch.device, tile: int, precision: str):
    """A tile function running the compiled graph (``onnx_backend.fixed_tile_fn``: smaller tiles padded)."""
    model = compiled(net, tile, precision)
    # a request of its own per call: concurrent tiles never share one
    return onnx_backend.fixed_tile_fn(net, tile,
                                      lambda lr: model.create_infer_request().infer({0: lr})[model.output(0)])
