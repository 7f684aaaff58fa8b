"""Device choice and the optional Hugging Face ZeroGPU decorator."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

try:  # on a ZeroGPU Space, GPU work must run inside functions decorated with spaces.GPU
    import spaces

    gpu = spaces.GPU
except ImportError:  # anywhere else it is a no-op, usable as @gpu and @gpu(duration=...)
    def gpu(fn=None, **_kwargs):
        return fn if fn is not None else (lambda f: f)


def default_device() -> "torch.device":
    """VTDEMO_DEVICE if set, else CUDA when available, else CPU."""
    import torch

    wanted = os.environ.get("VTDEMO_DEVICE", "").strip()
    if wanted:
        return torch.device(wanted)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def precision(device: "torch.device") -> str:
    """"bf16" or "fp32" for SR models on ``device``: VTDEMO_PRECISION when set (any device), else bf16 only on a
    GPU that computes it natively (a T4 emulates it: slower and not measured), fp32 everywhere else."""
    import torch

    wanted = os.environ.get("VTDEMO_PRECISION", "").strip().lower()
    if wanted:
        if wanted not in ("fp32", "bf16"):
            raise ValueError(f"VTDEMO_PRECISION must be fp32 or bf16, not {wanted[:20]!r}")
        return wanted
    if device.type == "cuda" and torch.cuda.is_bf16_supported(including_emulation=False):
        return "bf16"
    return "fp32"


def describe_device() -> str:
    """A short human description, e.g. 'CPU (2 threads)' or 'CUDA: NVIDIA H100'."""
    import torch

    device = default_device()
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    return f"CPU ({torch.get_num_threads()} threads)"


def _load_malloc_trim():
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, musl, Windows)
        return None


_MALLOC_TRIM = _load_malloc_trim()


def release_memory() -> None:
    """Hand freed heap memory back to the OS (glibc ``malloc_trim``). Images of varying sizes otherwise fragment
    the heap and a long-running server's resident memory creeps up although nothing leaks."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
