"""ONNX export of SR models with a fixed tile, onnxruntime execution, and the measured auto choice of backend.

The choice is measured when a graph is exported (``python -m vtdemo export-onnx``), never inside a request; a request
only reads it (a missing or corrupt record means torch). Sessions are kept in a small LRU; a module's weights
fingerprint is computed once per loaded module.
"""
from __future__ import annotations

import copy
import json
import os
import tempfile
import threading
import time
import weakref
from pathlib import Path

import numpy as np
import torch

from vtdemo.lru import LRU
from vtdemo.zoo.weights import url_cache_dir

_SESSIONS = LRU(lambda: int(os.environ.get("VTDEMO_ONNX_SESSIONS", "2")))
_FINGERPRINTS: "weakref.WeakKeyDictionary[torch.nn.Module, str]" = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def onnx_dir() -> Path:
    return url_cache_dir() / "onnx"


def weights_fingerprint(module: torch.nn.Module) -> str:
    """A short digest of a module's tensors (shapes, sums and a strided sample of values), so that an exported graph
    is never reused for other weights that happen to share a model name."""
    import hashlib

    digest = hashlib.sha1()
    for key, tensor in module.state_dict().items():
        flat = tensor.detach().float().flatten().cpu()
        sample = flat[:: max(1, flat.numel() // 64)]
        digest.update(f"{key}{tuple(tensor.shape)}{flat.sum().item():.6e}".encode())
        digest.update(sample.numpy().tobytes())
    return digest.hexdigest()[:12]


def fingerprint_of(module: torch.nn.Module) -> str:
    """``weights_fingerprint`` computed once per loaded module (100–220 ms for HAT-S/HAT-L on a CPU)."""
    with _lock:
        if module in _FINGERPRINTS:
            return _FINGERPRINTS[module]
    value = weights_fingerprint(module)
    with _lock:
        _FINGERPRINTS[module] = value
    return value


def onnx_path(net, tile: int) -> Path:
    return onnx_dir() / f"{net.name}-{net.fingerprint}-t{tile}.onnx"


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
    path = onnx_path(net, tile)
    if not path.is_file():
        export_onnx(net.module, path, tile)
    return path


def tile_fn(net, tile: int):
    """A tile function running the exported graph; tiles smaller than ``tile`` are reflect-padded and cropped."""
    from vtdemo.models.hat import pad_bottom_right

    sess = session(ensure_exported(net, tile))
    s = net.scale

    def run(t: torch.Tensor) -> torch.Tensor:
        h, w = t.shape[-2:]
        padded = pad_bottom_right(t.float().cpu(), tile - h, tile - w)
        out = sess.run(["sr"], {"lr": padded.numpy()})[0]
        return torch.from_numpy(np.ascontiguousarray(out[:, :, : h * s, : w * s]))

    return run


def _choices_file() -> Path:
    return onnx_dir() / "backend-choices.json"


def _measure(fn, tile: int, repeats: int = 2) -> float:
    x = torch.rand(1, 3, tile, tile)
    with torch.inference_mode():
        fn(x)
        start = time.perf_counter()
        for _ in range(repeats):
            fn(x)
    return (time.perf_counter() - start) / repeats


def _choice_key(net, tile: int) -> str:
    import onnxruntime

    return (f"{onnx_path(net, tile).stem}|threads{torch.get_num_threads()}|torch{torch.__version__}"
            f"|ort{onnxruntime.__version__}")


def _read_choices() -> dict:
    """The recorded choices; an unreadable or corrupt file counts as none (torch is used until re-measured)."""
    try:
        choices = json.loads(_choices_file().read_text())
    except (OSError, ValueError):
        return {}
    return choices if isinstance(choices, dict) else {}


def measure_backends(net, device: torch.device, tile: int) -> dict:
    """Time torch and onnxruntime on one tile and record the faster one (atomically: other processes may read the
    file at any moment). Run by ``export-onnx``, outside any request."""
    from vtdemo.sr.engine import backend_fn

    times = {"torch": _measure(backend_fn(net, "torch", device, tile), tile),
             "onnxruntime": _measure(tile_fn(net, tile), tile)}
    choice = {"backend": min(times, key=times.get), "seconds_per_tile": times}
    key = _choice_key(net, tile)  # before taking the lock: the fingerprint takes it too
    with _lock:
        choices = _read_choices()
        choices[key] = choice
        file = _choices_file()
        file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".choices.", suffix=".tmp", dir=file.parent)
        with os.fdopen(fd, "w") as out:
            json.dump(choices, out, indent=2)
        os.replace(tmp, file)
    return choice


def choose_backend(net, device: torch.device, tile: int) -> str:
    """The backend recorded as faster for ``net`` on ``device`` at ``tile``; torch when nothing is recorded.

    onnxruntime runs on the CPU only, so CUDA always means torch. Cheap: no graph for this model name means no
    fingerprint is computed at all, and nothing is measured here.
    """
    if device.type != "cpu" or net.module is None or not onnx_dir().is_dir():
        return "torch"
    if not any(onnx_dir().glob(f"{net.name}-*-t{tile}.onnx")) or not onnx_path(net, tile).is_file():
        return "torch"
    return _read_choices().get(_choice_key(net, tile), {}).get("backend", "torch")
