"""ONNX export of SR models with a fixed tile, onnxruntime execution, and the measured auto choice of backend."""
from __future__ import annotations

import copy
import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import torch

from vtdemo.zoo.weights import url_cache_dir

_sessions: dict[str, object] = {}
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
    """A cached onnxruntime CPU session for ``path``."""
    import onnxruntime as ort

    key = str(path)
    with _lock:
        if key not in _sessions:
            options = ort.SessionOptions()
            options.intra_op_num_threads = torch.get_num_threads()
            _sessions[key] = ort.InferenceSession(key, options, providers=["CPUExecutionProvider"])
        return _sessions[key]


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


def choose_backend(net, device: torch.device, tile: int) -> str:
    """The faster backend for ``net`` on ``device`` at ``tile``, by measurement, remembered in a JSON file.

    onnxruntime runs on the CPU only, so CUDA always means torch. On the CPU the choice is measured once an ONNX
    graph exists (``python -m vtdemo export-onnx <id>``); until then torch is used.
    """
    if device.type != "cpu" or net.module is None or not onnx_path(net, tile).is_file():
        return "torch"
    import onnxruntime

    key = (f"{onnx_path(net, tile).stem}|threads{torch.get_num_threads()}|torch{torch.__version__}"
           f"|ort{onnxruntime.__version__}")
    file = _choices_file()
    choices = json.loads(file.read_text()) if file.is_file() else {}
    if key not in choices:
        from vtdemo.sr.engine import backend_fn

        times = {"torch": _measure(backend_fn(net, "torch", device, tile), tile),
                 "onnxruntime": _measure(tile_fn(net, tile), tile)}
        choices[key] = {"backend": min(times, key=times.get), "seconds_per_tile": times}
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(json.dumps(choices, indent=2))
    return choices[key]["backend"]
