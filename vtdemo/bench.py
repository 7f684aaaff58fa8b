"""``python -m vtdemo bench sr``: our HAT against the reference implementation (spandrel's verbatim port of the
official code), same random weights, one process; plus the ONNX Runtime backend."""
from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

import torch


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextmanager
def peak_memory(device: torch.device):
    """Yields a dict whose "bytes" is, afterwards, the peak memory above the starting point: CUDA allocations on a
    GPU; resident set size sampled every 2 ms on the CPU."""
    result = {"bytes": 0}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        start = torch.cuda.memory_allocated(device)
        yield result
        result["bytes"] = torch.cuda.max_memory_allocated(device) - start
        return
    start, peak, stop = _rss_bytes(), [0], threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            time.sleep(0.002)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join()
        result["bytes"] = max(0, max(peak[0], _rss_bytes()) - start)


@dataclass
class Row:
    model: str
    backend: str
    device: str
    dtype: str
    size: str
    ms: float
    mp_per_s: float
    peak_mb: float
    speedup: float | None
    max_diff: float | None


def _time(fn, x, repeats: int, device) -> tuple[float, torch.Tensor, int]:
    with torch.inference_mode():
        out = fn(x)  # warm-up (allocations, caches, lazy init)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times = []
        with peak_memory(device) as mem:
            for _ in range(repeats):
                start = time.perf_counter()
                out = fn(x)
                if device.type == "cuda":
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - start)
    return min(times), out.float().cpu(), mem["bytes"]


def bench_sr(model_ids: list[str], size: int, repeats: int, device: str | None, onnx: bool) -> list[Row]:
    from spandrel.architectures.HAT.__arch.HAT import HAT as ReferenceHAT

    from vtdemo.models.hat import HAT
    from vtdemo.runtime import default_device
    from vtdemo.sr.engine import SRNet
    from vtdemo.zoo.cards import get_card

    dev = torch.device(device) if device else default_device()
    rows = []
    for model_id in model_ids:
        card = get_card(model_id)
        if card.builder != "hat":
            raise SystemExit(f"bench sr compares HAT models with the reference; {model_id} is {card.family}")
        torch.manual_seed(0)
        reference = ReferenceHAT(**card.config).eval()
        with torch.no_grad():  # random weights, none left at a constant initial value
            for p in reference.parameters():
                p.add_(0.02 * torch.randn_like(p))
        ours = HAT(**card.config).eval()
        ours.load_state_dict(reference.state_dict(), strict=True)
        reference.to(dev)
        ours.to(dev)
        x = torch.rand(1, 3, size, size, device=dev)
        out_mp = (size * card.scale) ** 2 / 1e6
        t_ref, y_ref, m_ref = _time(reference, x, repeats, dev)
        label = f"{size}×{size}"
        rows.append(Row(f"{model_id} (reference)", "torch", dev.type, "fp32", label, t_ref * 1e3, out_mp / t_ref,
                        m_ref / 1e6, 1.0, 0.0))
        t, y, m = _time(ours, x, repeats, dev)
        rows.append(Row(model_id, "torch", dev.type, "fp32", label, t * 1e3, out_mp / t, m / 1e6, t_ref / t,
                        (y - y_ref).abs().max().item()))
        if dev.type == "cuda":
            def bf16(inp):
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    return ours(inp)

            t, y, m = _time(bf16, x, repeats, dev)
            rows.append(Row(model_id, "torch", "cuda", "bf16", label, t * 1e3, out_mp / t, m / 1e6, t_ref / t,
                            (y - y_ref).abs().max().item()))
        if onnx and dev.type == "cpu":
            from vtdemo.sr import onnx_backend

            net = SRNet(ours, card.scale, f"bench-{model_id}")
            fn = onnx_backend.tile_fn(net, size)
            t, y, m = _time(fn, x, repeats, dev)
            rows.append(Row(model_id, "onnxruntime", "cpu", "fp32", label, t * 1e3, out_mp / t, m / 1e6, t_ref / t,
                            (y - y_ref).abs().max().item()))
    return rows


def format_rows(rows: list[Row]) -> str:
    head = ("| model | backend | device | dtype | input | ms/image | output MP/s | peak memory MB | speed-up vs "
            "reference | max abs diff vs reference |\n|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        diff = "—" if r.max_diff is None else f"{r.max_diff:.1e}"
        lines.append(f"| {r.model} | {r.backend} | {r.device} | {r.dtype} | {r.size} | {r.ms:.0f} | "
                     f"{r.mp_per_s:.3f} | {r.peak_mb:.0f} | {r.speedup:.2f}× | {diff} |")
    return "\n".join(lines)
