"""The onnxruntime backend: ONNX export of an SR model for a fixed tile, and running the exported graph.

Graphs are named by the weights' fingerprint (computed once per loaded module), so a graph is never reused for other
weights that share a model name. Sessions are kept in a small LRU (VTDEMO_ONNX_SESSIONS).
"""
from __future__ import annotations

import copy
import os
import threading
import weakref
from pathlib import Path

import numpy as np
import torch

from vtdemo.cache import Cache
from vtdemo.zoo.locations import url_cache_dir

_SESSIONS = Cache("VTDEMO_ONNX_SESSIONS")
_FINGERPRINTS: "weakref.WeakKeyDictionary[torch.nn.Module, str]" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def onnx_dir() -> Path:
    return url_cache_dir() / "onnx"


def weights_fingerprint(module: torch.nn.Module) -> str:
    """The sha256 of a module's every tensor (name, dtype, shape and bytes): two modules share it only when their
    weights are the same, so an exported graph or a Serve replica's model is never taken for other weights."""
    import hashlib

    digest = hashlib.sha256()
    for key, tensor in module.state_dict().items():
        data = tensor.detach().cpu().contiguous()
        digest.update(f"{key}|{data.dtype}|{tuple(data.shape)}|".encode())
        digest.update(data.reshape(-1).view(torch.uint8).numpy().tobytes() if data.numel() else b"")
    return digest.hexdigest()[:32]


def fingerprint_of(module: torch.nn.Module) -> str:
    """``weights_fingerprint`` computed once per loaded module."""
    with _lock:
        if module in _FINGERPRINTS:
            return _FINGERPRINTS[module]
    value = weights_fingerprint(module)
    with _lock:
        _FINGERPRINTS[module] = value
    return value


def onnx_path(net, tile: int) -> Path:
    return onnx_dir() / identity(net, tile)


def identity(net, tile: int) -> str:
    """The exported graph's file name: model name, weights fingerprint and tile side."""
    return f"{net.name}-{fingerprint_of(net.module)}-t{tile}.onnx"


def exportable(net) -> bool:
    """Whether a graph of the bare module computes what the model's spandrel descriptor computes: a module without
    one, or an architecture called plainly (its padding and own call stay the torch backend's to keep)."""
    if net.descriptor is None:
        return True
    from vtdemo.sr.architectures import PLAIN_CALL

    return net.descriptor.architecture.id in PLAIN_CALL


def ready(net, device: torch.device, tile: int) -> bool:
    """Whether a graph for ``net`` at ``tile`` was exported (by ``export-onnx``); CPU only. Cheap when no graph of
    this model name exists: no fingerprint is computed then."""
    if device.type != "cpu" or net.module is None or not exportable(net) or not onnx_dir().is_dir():
        return False
    return any(onnx_dir().glob(f"{net.name}-*-t{tile}.onnx")) and onnx_path(net, tile).is_file()


def export_onnx(module: torch.nn.Module, path: Path, tile: int, opset: int = 17) -> Path:
    """Export ``module`` for a fixed (1, 3, tile, tile) input, atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    example = torch.rand(1, 3, tile, tile)
    if any(p.device.type != "cpu" for p in module.parameters()):
        module = copy.deepcopy(module).cpu()  # export on the CPU without moving the caller's model
    module.eval()
    from vtdemo.models.hat import unfused_attention

    try:
        with torch.inference_mode(False), torch.no_grad(), unfused_attention(module):
            torch.onnx.export(module, (example,), str(tmp), input_names=["lr"], output_names=["sr"],
                              opset_version=opset, dynamo=False, do_constant_folding=True)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def session(path: Path):
    """An onnxruntime CPU session for ``path`` (the VTDEMO_ONNX_SESSIONS most recent ones are kept)."""
    import onnxruntime as ort

    def create():
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    return _SESSIONS.get_or_compute(str(path), create)


def ensure_exported(net, tile: int) -> Path:
    if not exportable(net):
        raise ValueError(f"{net.name} ({net.descriptor.architecture.name}) is called through spandrel's "
                         "descriptor (padding, its own call): the onnxruntime backend runs plainly called models "
                         "only (HAT); use the torch backend.")
    path = onnx_path(net, tile)
    if not path.is_file():
        export_onnx(net.module, path, tile)
    return path


def fixed_tile_fn(net, tile: int, infer):
    """A tile function for a graph of fixed (1, 3, tile, tile) input: ``infer`` maps that array to the output
    array; tiles smaller than ``tile`` (an image smaller than one) are reflect-padded and cropped."""
    from vtdemo.models.padding import pad_bottom_right

    s = net.scale

    def run(t: torch.Tensor) -> torch.Tensor:
        h, w = t.shape[-2:]
        padded = pad_bottom_right(t.float().cpu(), tile - h, tile - w)
        out = infer(padded.numpy())
        return torch.from_numpy(np.ascontiguousarray(out[:, :, : h * s, : w * s]))

    return run


def tile_fn(net, tile: int):
    """A tile function running the exported graph in onnxruntime."""
    sess = session(ensure_exported(net, tile))
    return fixed_tile_fn(net, tile, lambda lr: sess.run(["sr"], {"lr": lr})[0])
