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


class Cancelled(Exception):
    """A job stopped on request (the UI's Stop raises a gr.Error that is also this): never retried or reworded."""


def default_device() -> "torch.device":
    """VTDEMO_DEVICE if set, else CUDA when available, else CPU."""
    import torch

    wanted = os.environ.get("VTDEMO_DEVICE", "").strip()
    if wanted:
        return torch.device(wanted)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


PRECISIONS = ("fp32", "bf16", "fp16", "int8")


def native_bf16_cpu() -> bool:
    """Whether this CPU computes bf16 matrix products in hardware (AVX512-BF16 or AMX), as torch detects it. Where
    it does not, oneDNN emulates bf16 and runs several times slower than fp32."""
    import torch

    return any(getattr(torch.cpu, name, lambda: False)() for name in ("_is_avx512_bf16_supported",
                                                                       "_is_amx_tile_supported"))


def precision(device: "torch.device") -> str:
    """"fp32", "bf16", "fp16" or "int8" for SR models on ``device``: VTDEMO_PRECISION when set (int8 is CPU
    only, fp16 GPU only), else bf16 where the hardware computes it natively — a GPU that does (a T4 only emulates
    it) or a CPU with AVX512-BF16/AMX, where bf16 was measured within 0.01 dB of fp32 (docs/performance.md) — and fp32 everywhere
    else."""
    import torch

    wanted = os.environ.get("VTDEMO_PRECISION", "").strip().lower()
    if wanted:
        check_precision(wanted, device)
        return wanted
    if device.type == "cuda" and torch.cuda.is_bf16_supported(including_emulation=False):
        return "bf16"
    if device.type == "cpu" and native_bf16_cpu():
        return "bf16"
    return "fp32"


def check_precision(name: str, device: "torch.device") -> None:
    """Raise ValueError for a precision that is unknown or that ``device`` cannot run."""
    if name not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)} (VTDEMO_PRECISION), not {name[:20]!r}")
    if name == "int8" and device.type != "cpu":
        raise ValueError("int8 (dynamically quantized Linear layers) runs on the CPU only; use fp32 or bf16 on "
                         f"{device.type}.")
    if name == "fp16" and device.type == "cpu":
        raise ValueError("fp16 runs on a GPU only (CPUs compute it slowly or not at all); use fp32, bf16 or int8.")


def describe_device(device: "torch.device | None" = None) -> str:
    """A short human description of ``device`` (default: ``default_device()``), e.g. 'CPU (2 threads)' or
    'CUDA: NVIDIA H100'."""
    import torch

    device = device or default_device()
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    return f"CPU ({torch.get_num_threads()} threads)"


def _glibc(name: str):
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return getattr(libc, name)
    except (OSError, AttributeError):  # not glibc (macOS, musl, Windows)
        return None


_MALLOC_TRIM, _MALLOPT = _glibc("malloc_trim"), _glibc("mallopt")


_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # glibc's mallopt parameters
_REUSING = False


def reuse_freed_memory() -> None:
    """Let glibc keep freed memory for the next allocation instead of mapping every large block afresh: by default
    each activation over 32 MB is a new mmap whose pages fault in (zero-filled) on every forward, which made a
    256² HAT tile 27 % slower per pixel than a 64² one (bf16, measured). Freed memory then stays in the process
    until ``release_memory`` (after every request) hands it back. Blocks too large for a thread's arena are still
    mapped. Once per process; nothing where the C library is not glibc."""
    global _REUSING
    if _REUSING or _MALLOPT is None:
        return
    _MALLOPT(_M_MMAP_MAX, 0)
    _MALLOPT(_M_TRIM_THRESHOLD, 1 << 30)  # ...and the heap's top is not trimmed on every free either
    _REUSING = True


def release_memory() -> None:
    """Hand freed heap memory back to the OS (glibc ``malloc_trim``). Images of varying sizes otherwise fragment
    the heap and a long-running server's resident memory creeps up although nothing leaks."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)
