"""What the compute benchmarks share: the device, this machine's matmul peaks, FLOP counts, timing, and a model with
its weights or, where none are here, the real architecture with random weights."""
from __future__ import annotations

import time


def device_of(name: str | None):
    """``--device`` as a torch device (default: the one the app would use)."""
    import torch

    from vtdemo.runtime import default_device

    return torch.device(name) if name else default_device()


def sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_fn(fn, x, repeats: int, device):
    """(best seconds of ``repeats`` calls after a warm-up, the output as fp32 on the CPU, peak memory bytes)."""
    import torch

    from vtdemo.bench._rss import peak_memory

    with torch.inference_mode():
        out = fn(x)  # warm-up (allocations, caches, lazy init)
        sync(device)
        times = []
        with peak_memory(device) as mem:
            for _ in range(repeats):
                start = time.perf_counter()
                out = fn(x)
                sync(device)
                times.append(time.perf_counter() - start)
    return min(times), out.float().cpu(), mem["bytes"]


def png_ms(image) -> float:
    """Milliseconds to encode ``image`` as the PNG an attention click returns."""
    import io

    start = time.perf_counter()
    image.save(io.BytesIO(), "PNG")
    return (time.perf_counter() - start) * 1000


def peak_side(device) -> int:
    """The side of the square products ``matmul_peak`` times: large enough to reach the peak on this kind of
    device (a GPU needs far larger products than a CPU)."""
    return 2048 if device.type == "cpu" else 8192


def matmul_peak(device, dtype, n: int | None = None, repeats: int = 3) -> float:
    """This machine's dense matrix-product rate in GFLOP/s (best of ``repeats`` n×n products, n by ``peak_side``):
    the ceiling the models' achieved rates are compared with."""
    import torch

    n = n or peak_side(device)
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(repeats + 1):  # the first is a warm-up
        sync(device)
        start = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best / 1e9


def peaks(device) -> dict[str, float]:
    """fp32 and (where the hardware computes it natively) bf16 matmul peaks; emulated bf16 has no peak worth
    comparing with (and a 2048² product takes minutes)."""
    import torch

    from vtdemo.runtime import native_bf16_cpu

    found = {"fp32": matmul_peak(device, torch.float32)}
    if device.type != "cpu" or native_bf16_cpu():
        found["bf16"] = matmul_peak(device, torch.bfloat16)
    if device.type != "cpu":
        found["fp16"] = matmul_peak(device, torch.float16)
    return found


def peaks_line(found: dict[str, float], side: int = 2048) -> str:
    """The peaks that the "% of matmul peak" columns divide by, as one line."""
    bf16 = f"bf16 {found['bf16']:.0f} GFLOP/s" if "bf16" in found else "bf16 emulated (no AVX512-BF16/AMX): not measured"
    fp16 = f", fp16 {found['fp16']:.0f} GFLOP/s" if "fp16" in found else ""
    return f"matmul peak ({side}² products, this run): fp32 {found['fp32']:.0f} GFLOP/s, {bf16}{fp16}"


def header(device, found: dict[str, float]) -> str:
    """The first line of a compute benchmark's report: torch, the device, the peaks measured in this run."""
    import torch

    from vtdemo.runtime import describe_device

    return f"torch {torch.__version__}, {describe_device(device)}; {peaks_line(found, peak_side(device))}"


def model_gflop(module, x) -> float:
    """GFLOP of one forward pass (matrix products, convolutions, attention), counted by torch's FlopCounterMode."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

    def cpu_sdpa(query, key, value, *args, out_shape=None, **kwargs) -> int:
        return sdpa_flop_count(query, key, value)

    # torch counts the GPU attention kernels but not the CPU one: without it a third of HAT's work goes uncounted
    cpu_attention = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: cpu_sdpa}
    with FlopCounterMode(display=False, custom_mapping=cpu_attention) as counter, torch.inference_mode():
        module(x)
    return counter.get_total_flops() / 1e9


def model_or_random(model_id: str, random_weights: bool = False):
    """(model, whether its weights are random): the card's weights when available and wanted, else the real
    architecture with random weights (built here: no download, no pre-filled cache needed)."""
    import torch

    from vtdemo.zoo import weights
    from vtdemo.zoo.builders import architecture
    from vtdemo.zoo.cards import get_card
    from vtdemo.zoo.loading import load_model

    if not random_weights:
        try:
            return load_model(model_id, download=False), False
        except weights.WeightsUnavailable:
            pass
    torch.manual_seed(0)
    return architecture(get_card(model_id)).eval(), True
