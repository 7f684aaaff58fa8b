"""Resident memory, the one way the benchmarks (and the memory tests) read it: Linux's /proc; 0 elsewhere."""
from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path


def status_mb(field: str, pid: int | str = "self") -> float:
    """A memory field of /proc/PID/status in MB: VmRSS (resident now), VmHWM (peak since start or ``start_peak``)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def rss_mb(pid: int | str = "self") -> float:
    """Resident memory (MB) of process ``pid`` now, from /proc/PID/statm (one short line: cheap enough to sample
    every 2 ms while a benchmark is timed)."""
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


def start_peak() -> float:
    """Reset this process's peak mark (``clear_refs``; ``ru_maxrss`` would carry the parent's peak across exec) and
    return the resident memory now, in MB."""
    Path("/proc/self/clear_refs").write_text("5")
    return rss_mb()


def peak_growth(start: float) -> float:
    """Peak resident memory (MB) reached since ``start_peak``, above what was resident then."""
    return status_mb("VmHWM") - start


@contextmanager
def peak_memory(device):
    """Yields a dict whose "bytes" is, afterwards, the peak memory above the starting point: CUDA allocations on a
    GPU; on the CPU the resident set sampled every 2 ms (the process's peak mark is left alone: callers may hold
    one)."""
    import torch

    result = {"bytes": 0}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        start = torch.cuda.memory_allocated(device)
        yield result
        result["bytes"] = torch.cuda.max_memory_allocated(device) - start
        return
    start, peak, stop = rss_mb(), [0.0], threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mb())
            time.sleep(0.002)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join()
        result["bytes"] = int(max(0.0, max(peak[0], rss_mb()) - start) * 1024 * 1024)
