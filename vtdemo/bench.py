"""``python -m vtdemo bench sr``: our HAT against the reference implementation (spandrel's verbatim port of the
official code), same random weights, one process; plus the ONNX Runtime backend."""
from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
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
    gflop: float | None = None
    peak_gflops: float | None = None  # this machine's matmul rate in the row's precision, measured in the same run
    default: bool = False  # the path vtdemo.upscale takes on this device


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


def peak_side(device: torch.device) -> int:
    """The side of the square products ``matmul_peak`` times: large enough to reach the peak on this kind of
    device (a GPU needs far larger products than a CPU)."""
    return 2048 if device.type == "cpu" else 8192


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int | None = None, repeats: int = 3) -> float:
    """This machine's dense matrix-product rate in GFLOP/s (best of ``repeats`` n×n products, n by ``peak_side``):
    the ceiling the models' achieved rates are compared with."""
    n = n or peak_side(device)
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(repeats + 1):  # the first is a warm-up
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best / 1e9


def model_gflop(module: torch.nn.Module, x: torch.Tensor) -> float:
    """GFLOP of one forward pass (matrix products, convolutions, attention), counted by torch's FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

    def cpu_sdpa(query, key, value, *args, out_shape=None, **kwargs) -> int:
        return sdpa_flop_count(query, key, value)

    # torch counts the GPU attention kernels but not the CPU one: without it a third of HAT's work goes uncounted
    cpu_attention = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: cpu_sdpa}
    with FlopCounterMode(display=False, custom_mapping=cpu_attention) as counter, torch.inference_mode():
        module(x)
    return counter.get_total_flops() / 1e9


def _peaks(device: torch.device) -> dict[str, float]:
    """fp32 and (where the hardware computes it natively) bf16 matmul peaks; emulated bf16 has no peak worth
    comparing with (and a 2048² product takes minutes)."""
    from vtdemo.runtime import native_bf16_cpu

    peaks = {"fp32": matmul_peak(device, torch.float32)}
    if device.type != "cpu" or native_bf16_cpu():
        peaks["bf16"] = matmul_peak(device, torch.bfloat16)
    if device.type != "cpu":
        peaks["fp16"] = matmul_peak(device, torch.float16)
    return peaks


def _precisions(device: torch.device) -> list[str]:
    return ["fp32", "bf16", "int8"] if device.type == "cpu" else ["fp32", "bf16", "fp16"]


def bench_sr(model_ids: list[str], size: int, repeats: int, device: str | None, onnx: bool,
             peaks: dict[str, float] | None = None) -> list[Row]:
    """Our HAT in every precision this device runs (and ONNX Runtime) against the reference code in fp32, same
    random weights: time, throughput, GFLOP/s against this machine's matmul peak, difference from the reference."""
    from spandrel.architectures.HAT.__arch.HAT import HAT as ReferenceHAT

    from vtdemo.models.hat import HAT
    from vtdemo.runtime import default_device, precision as default_precision
    from vtdemo.sr import backends
    from vtdemo.sr.backends import SRNet
    from vtdemo.zoo.cards import get_card

    dev = torch.device(device) if device else default_device()
    peaks = peaks or _peaks(dev)  # the caller's, when it printed them: one measurement for the line and the table
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
        gflop = model_gflop(ours, x)
        out_mp = (size * card.scale) ** 2 / 1e6
        t_ref, y_ref, m_ref = _time(reference, x, repeats, dev)
        label = f"{size}×{size}"
        rows.append(Row(f"{model_id} (reference)", "torch", dev.type, "fp32", label, t_ref * 1e3, out_mp / t_ref,
                        m_ref / 1e6, 1.0, 0.0, gflop, peaks["fp32"]))
        net = SRNet(ours, card.scale, f"bench-{model_id}")
        for precision in _precisions(dev):
            fn = backends.tile_fn(net, "torch", dev, size, precision)
            t, y, m = _time(fn, x, repeats, dev)
            rows.append(Row(model_id, "torch", dev.type, precision, label, t * 1e3, out_mp / t, m / 1e6, t_ref / t,
                            (y - y_ref).abs().max().item(), gflop, peaks.get(precision),
                            default=precision == default_precision(dev)))
        for name, backend in backends.BACKENDS.items() if onnx and dev.type == "cpu" else ():
            if name == "torch":
                continue  # the rows above
            fn = backend.tile_fn(net, dev, size, "fp32")  # exports if needed
            t, y, m = _time(fn, x, repeats, dev)
            rows.append(Row(model_id, name, "cpu", "fp32", label, t * 1e3, out_mp / t, m / 1e6, t_ref / t,
                            (y - y_ref).abs().max().item(), gflop, peaks["fp32"]))
    return rows


def format_rows(rows: list[Row]) -> str:
    head = ("| model | backend | device | precision | input | ms/image | output MP/s | GFLOP | GFLOP/s | % of matmul "
            "peak | peak memory MB | speed-up vs reference | max abs diff vs reference |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        diff = "—" if r.max_diff is None else f"{r.max_diff:.1e}"
        rate = r.gflop / (r.ms / 1e3) if r.gflop else None
        share = f"{100 * rate / r.peak_gflops:.0f} %" if rate and r.peak_gflops and r.backend == "torch" \
            and r.dtype != "int8" else "—"
        lines.append(f"| {r.model} | {r.backend} | {r.device} | {r.dtype}{' (default)' if r.default else ''} | "
                     f"{r.size} | {r.ms:.0f} | {r.mp_per_s:.3f} | {r.gflop or 0:.1f} | "
                     f"{rate or 0:.0f} | {share} | {r.peak_mb:.0f} | {r.speedup:.2f}× | {diff} |")
    return "\n".join(lines)


def measure_peaks(device: str | None) -> dict[str, float]:
    """This machine's matmul peaks (GFLOP/s by precision) on ``device``, measured now."""
    from vtdemo.runtime import default_device

    return _peaks(torch.device(device) if device else default_device())


def peaks_line(peaks: dict[str, float], side: int = 2048) -> str:
    """The peaks that ``bench_sr``'s "% of matmul peak" column divides by, as one line."""
    bf16 = f"bf16 {peaks['bf16']:.0f} GFLOP/s" if "bf16" in peaks else "bf16 emulated (no AVX512-BF16/AMX): not measured"
    fp16 = f", fp16 {peaks['fp16']:.0f} GFLOP/s" if "fp16" in peaks else ""
    return f"matmul peak ({side}² products, this run): fp32 {peaks['fp32']:.0f} GFLOP/s, {bf16}{fp16}"


def profile_sr(model_id: str, size: int, device: str | None, precision: str | None = None, rows: int = 12) -> str:
    """torch.profiler's top operators (self time) of one forward of ``model_id`` (our HAT, random weights) in
    ``precision`` (default: the device's): where the time goes."""
    from torch.profiler import ProfilerActivity, profile

    from vtdemo.models.hat import HAT
    from vtdemo.runtime import default_device, precision as default_precision
    from vtdemo.sr import backends
    from vtdemo.sr.backends import SRNet
    from vtdemo.zoo.cards import get_card

    dev = torch.device(device) if device else default_device()
    used = precision or default_precision(dev)
    card = get_card(model_id)
    torch.manual_seed(0)
    model = HAT(**card.config).eval().to(dev)
    fn = backends.tile_fn(SRNet(model, card.scale, model_id), "torch", dev, size, used)
    x = torch.rand(1, 3, size, size, device=dev)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
    with torch.inference_mode():
        fn(x)
        with profile(activities=activities) as prof:
            fn(x)
    sort = "self_cuda_time_total" if dev.type == "cuda" else "self_cpu_time_total"
    return (f"{model_id} {size}×{size} {used} on {dev.type}:\n"
            + prof.key_averages().table(sort_by=sort, row_limit=rows, max_name_column_width=44))


PHOTO = (480, 320)  # a typical phone photo downscaled for the web: what one upscale costs a user
PHOTO_MODELS = ("hat-demo-x4", "hat-s-x4", "hat-x4", "swinir-m-x4")


def bench_photo(model_ids: list[str], device: str | None, precision: str | None = None):
    """One 480×320 photo ×4 through ``vtdemo.upscale`` (tiles, blending, the device's default precision) per model,
    random weights of the real architecture when its checkpoint is not here: ms, output MP/s, peak memory. Yields
    the table's lines as they are measured."""
    from PIL import Image

    from vtdemo.runtime import default_device, precision as default_precision
    from vtdemo.sr.backends import SRNet
    from vtdemo.sr.engine import upscale
    from vtdemo.zoo.cards import get_card

    dev = torch.device(device) if device else default_device()
    used = precision or default_precision(dev)
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 256, (PHOTO[1], PHOTO[0], 3), dtype=np.uint8))
    yield "| model | weights | input | precision | seconds | output MP/s | peak memory MB |"
    yield "|---|---|---|---|---|---|---|"
    for model_id in model_ids:
        module, random = _attention_model(model_id, random_weights=False)
        card = get_card(model_id)
        net = SRNet(module.to(dev), card.scale, model_id)
        upscale(photo.crop((0, 0, 32, 32)), net, device=dev, precision=used)  # warm-up
        with peak_memory(dev) as mem:
            start = time.perf_counter()
            out = upscale(photo, net, device=dev, precision=used)
            seconds = time.perf_counter() - start
        yield (f"| {model_id} | {'random' if random else 'trained'} | {PHOTO[0]}×{PHOTO[1]} ×{card.scale} | "
               f"{used} | {seconds:.1f} | {out.width * out.height / 1e6 / seconds:.3f} | {mem['bytes'] / 1e6:.0f} |")
        del module, net


def bench_precision(root: Path, model_ids: list[str], datasets: tuple[str, ...] = ("Set5", "Set14"),
                    precisions: tuple[str, ...] = ("bf16", "fp16", "int8"), device: str | None = None):
    """Mean PSNR-Y / SSIM-Y of each model on each benchmark set in fp32 and in each other precision, and the
    difference: what a lower precision costs in quality (the rule for a default: within 0.01 dB). Yields the
    table's lines as they are measured."""
    from vtdemo.runtime import check_precision, default_device
    from vtdemo.sr.benchmark import benchmark
    from vtdemo.zoo.cards import get_card

    dev = torch.device(device) if device else default_device()
    yield ("| model | set | fp32 PSNR-Y / SSIM-Y | precision | PSNR-Y / SSIM-Y | Δ PSNR dB | Δ SSIM | s/image fp32 → "
           "this precision |")
    yield "|---|---|---|---|---|---|---|---|"
    for model_id in model_ids:
        scale = get_card(model_id).scale
        for dataset in datasets:
            base = benchmark(Path(root) / dataset, [model_id], scale, device=dev, precision="fp32")[0]
            for precision in precisions:
                try:
                    check_precision(precision, dev)
                except ValueError:
                    continue
                row = benchmark(Path(root) / dataset, [model_id], scale, device=dev, precision=precision)[0]
                yield (f"| {model_id} | {dataset} | {base.psnr_y:.3f} / {base.ssim_y:.4f} | {precision} | "
                       f"{row.psnr_y:.3f} / {row.ssim_y:.4f} | {row.psnr_y - base.psnr_y:+.4f} | "
                       f"{row.ssim_y - base.ssim_y:+.5f} | {base.seconds_per_image:.2f} → {row.seconds_per_image:.2f} |")


def bench_lam(model_id: str, size: int, steps: int, batch_size: int | None, device: str | None) -> list[str]:
    """LAM with the path steps batched vs one step at a time (same maps), and the cached HAT-attention click."""
    from vtdemo.runtime import default_device
    from vtdemo.sr.lam import attribution_map, default_batch_size, sr_module
    from vtdemo.zoo.cards import get_card

    dev = torch.device(device) if device else default_device()
    scale = get_card(model_id).scale
    model = sr_module(model_id, scale).to(dev)
    lr = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    x = y = size * scale // 2 - 8
    batch = batch_size or default_batch_size(dev)
    timings, maps = {}, {}
    for name, b in (("one step at a time", 1), (f"batched ({batch} steps per pass)", batch)):
        attribution_map(model, lr, x, y, steps=min(steps, b), batch_size=b)  # warm-up
        _sync(dev)
        start = time.perf_counter()
        maps[name], _ = attribution_map(model, lr, x, y, steps=steps, batch_size=b)
        _sync(dev)
        timings[name] = (time.perf_counter() - start) * 1000 / steps
    first, second = list(timings)
    diff = float(np.abs(maps[first] - maps[second]).max())
    lines = [f"LAM, {model_id} on a {size}×{size} input, {steps} steps, {dev}:"]
    lines += [f"  {name:32s} {ms:8.1f} ms/step" for name, ms in timings.items()]
    lines.append(f"  speed-up {timings[first] / timings[second]:.2f}×, max map difference {diff:.1e}")
    from vtdemo.explain.registry import has_probe

    if has_probe(get_card(model_id).family):
        lines.append(_bench_click(model_id, size))
    return lines


def _png_ms(image) -> float:
    """Milliseconds to encode ``image`` as the PNG a click returns."""
    import io

    start = time.perf_counter()
    image.save(io.BytesIO(), "PNG")
    return (time.perf_counter() - start) * 1000


def _bench_click(model_id: str, size: int, clicks: int = 20) -> str:
    """Time of an attention click once the block is cached: decode + slice + overlay + PNG (what the server does)."""
    import tempfile

    from PIL import Image

    from vtdemo.explain.hat import hat_attention_for_image
    from vtdemo.viz.attention import hat_overlay

    def click(x: int, y: int) -> float:
        start = time.perf_counter()
        found, lr, (ox, oy) = hat_attention_for_image(str(path), model_id, (x, y), 0, 1)
        image, _ = hat_overlay(found, lr, x - ox, y - oy)
        return (time.perf_counter() - start) * 1000 + _png_ms(image)

    path = Path(tempfile.mkdtemp()) / "click.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)
    click(5, 5)  # the one forward pass
    times = sorted(click(3 + i % (size - 6), 7) for i in range(clicks))
    return (f"HAT attention click (cached block, {size}×{size}): median {times[len(times) // 2]:.1f} ms, "
            f"max {times[-1]:.1f} ms over {clicks} clicks")


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _attention_model(model_id: str, random_weights: bool):
    """(model, whether its weights are random): the card's weights when available and wanted, else the real
    architecture with random weights (built here: no download, no pre-filled cache needed)."""
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


def bench_attention(model_ids: list[str], size: int = 320, clicks: int = 20, random_weights: bool = False) -> list[str]:
    """Time of an attention click as the server computes it: the first (one forward pass with capture) and later
    clicks on the same image (cache slice + overlay + PNG), per classifier. Models without weights here run with
    random weights of the real architecture (timing does not depend on the values)."""
    import tempfile

    from PIL import Image

    from vtdemo.explain.probes import capture_module, image_key
    from vtdemo.viz.attention import classifier_overlay
    from vtdemo.zoo.cards import get_card

    path = Path(tempfile.mkdtemp()) / "click.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)
    lines = [f"Attention clicks on a {size}×{size} image ({torch.get_num_threads()} threads):"]
    for model_id in model_ids:
        card = get_card(model_id)
        model, random = _attention_model(model_id, random_weights)  # loading is not part of a click

        def click(x: float, y: float, layer: int, cap=None):
            start = time.perf_counter()
            image_key(str(path))  # a later click only looks the file's digest up
            cap = cap or capture_module(model, card.family, str(path), card.preprocess, model_id)
            image, _ = classifier_overlay(cap, (x, y), layer, "mean", None)
            return (time.perf_counter() - start) * 1000 + _png_ms(image), cap

        first, cap = click(size / 2, size / 2, -1)
        times = sorted(click(40 + (i * 13) % (size - 80), size / 2, -1 - i % 3, cap)[0] for i in range(clicks))
        lines.append(f"  {model_id:22s} first click {first:7.1f} ms   later clicks: median "
                     f"{times[len(times) // 2]:5.1f} ms, max {times[-1]:5.1f} ms"
                     + ("   (random weights)" if random else ""))
    return lines


def bench_distance(model_ids: list[str], photo: str = "chelsea") -> list[str]:
    """Mean attention distance per layer (mean over heads, px of each model's input) on one of the example photos."""
    from vtdemo.examples import photo as example_photo
    from vtdemo.explain.probes import attention_distance
    from vtdemo.zoo.cards import get_card

    image = example_photo(photo)
    lines = [f"Mean attention distance per layer (mean over heads; px of the model's input) on scikit-image's "
             f"'{photo}' photo:"]
    for model_id in model_ids:
        table = attention_distance(image, model_id)
        size = get_card(model_id).preprocess.size
        lines.append(f"  {model_id:14s} ({size} px input) " + " ".join(f"{v:5.1f}" for v in np.nanmean(table, 1)))
    return lines


def bench_pervit(model_id: str = "pervit-demo") -> list[str]:
    """PerViT's peripheral position attention φp: the mean attention distance per block (mean over heads, in
    tokens) at the paper's initialisation and in the trained model, with a uniform map's distance for scale."""
    from vtdemo.explain.pervit import mean_distance
    from vtdemo.zoo.builders import architecture
    from vtdemo.zoo.cards import get_card
    from vtdemo.zoo.loading import load_model

    card = get_card(model_id)
    torch.manual_seed(0)
    models = {"initialised": architecture(card).eval(), "trained": load_model(model_id, device="cpu")}
    with torch.no_grad():
        tables = {name: [mean_distance(p / p.sum(-1, keepdim=True), m.grid).mean()
                         for p in m.position_attention()] for name, m in models.items()}
    grid = models["trained"].grid
    uniform = float(mean_distance(torch.ones(1, 1, grid * grid, grid * grid) / grid ** 2, grid)[0])
    lines = [f"{model_id}: mean attention distance of φp per block (tokens, mean over heads; {grid}×{grid} grid, "
             f"a uniform map: {uniform:.1f})",
             "| block | " + " | ".join(str(i) for i in range(len(tables["trained"]))) + " |",
             "|---|" + "---|" * len(tables["trained"])]
    lines += [f"| {name} | " + " | ".join(f"{v:.1f}" for v in values) + " |" for name, values in tables.items()]
    return lines


def bicubic_scores(root: Path, dataset: str, scale: int) -> tuple[float, float]:
    """Mean (PSNR-Y, SSIM-Y) of vtdemo's bicubic on ``root``/``dataset`` (the benchmark layout, or HR images)."""
    from vtdemo.sr.benchmark import benchmark

    row = benchmark(Path(root) / dataset, ["bicubic"], scale)[0]
    return row.psnr_y, row.ssim_y


def bench_bicubic(root: Path) -> list[str]:
    """vtdemo's bicubic against the papers' bicubic rows on Set5 and Set14 (×2, ×3, ×4)."""
    from vtdemo.sr.benchmark import PUBLISHED_BICUBIC

    keys = sorted(PUBLISHED_BICUBIC, key=lambda k: (k[0] != "Set5", k[1]))
    ours = {k: bicubic_scores(root, *k) for k in keys}
    return ["| bicubic | " + " | ".join(f"{d} ×{s}" for d, s in keys) + " |", "|---|" + "---|" * len(keys),
            "| vtdemo (PSNR-Y / SSIM-Y) | " + " | ".join(f"{ours[k][0]:.2f} / {ours[k][1]:.4f}" for k in keys) + " |",
            "| published | " + " | ".join(f"{PUBLISHED_BICUBIC[k][0]:.2f} / {PUBLISHED_BICUBIC[k][1]:.4f}"
                                         for k in keys) + " |"]


def bench_scaling(model_ids: list[str], sizes: list[int], repeats: int = 2, device: str | None = None,
                  progress=None):
    """Latency and peak activation memory of each model at each input size (random weights of the real
    architecture), and the exponent k of time ∝ pixels^k: ``vtdemo.classify.scaling.measure`` with no limits."""
    from vtdemo.classify.scaling import measure

    return measure(model_ids, sizes, device=device, repeats=repeats, report=progress)


def format_scaling(points: list[ScalingPoint], exponents: dict[str, float]) -> str:
    sizes = sorted({p.size for p in points})
    lines = ["| model | " + " | ".join(f"{s}² ms (MB)" for s in sizes) + " | time ∝ pixels^k |",
             "|---" * (len(sizes) + 2) + "|"]
    for model_id, k in exponents.items():
        cells = {p.size: f"{p.ms:.0f} ({p.peak_mb:.0f})" for p in points if p.model == model_id}
        lines.append(f"| {model_id} | " + " | ".join(cells.get(s, "—") for s in sizes) + f" | {k:.2f} |")
    return "\n".join(lines)


_MEMORY_PROBE = r"""
import resource, sys, torch
from vtdemo.loadtest import rss_mb
import os
torch.set_num_threads(2)
model_id, side = sys.argv[1], int(sys.argv[2])
from vtdemo.zoo.cards import get_card
from vtdemo.zoo.loading import load_model
import timm, spandrel, vtdemo.classify, vtdemo.sr.engine  # the libraries' own memory is not the model's
card = get_card(model_id)
before = rss_mb(os.getpid())
model = load_model(model_id, device="cpu")
loaded = rss_mb(os.getpid())
if card.task == "sr":
    from vtdemo.sr.engine import upscale
    from PIL import Image
    upscale(Image.new("RGB", (side, side), (90, 120, 200)), model, device="cpu", precision="fp32")
else:
    from vtdemo.classify import classify
    from PIL import Image
    classify(Image.new("RGB", (side, side), (90, 120, 200)), model_id, 5)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{before:.0f} {loaded:.0f} {peak:.0f}")
"""


def bench_memory(model_ids: list[str], side: int = 256) -> list[str]:
    """Resident memory each model adds to a fresh process (torch, timm, spandrel and vtdemo imported first), and the
    process's peak after one request on a side×side image (SR: upscaled in fp32; classifiers: classified)."""
    import subprocess
    import sys

    lines = [f"Resident memory of a fresh process per model (CPU; one request on a {side}×{side} image):", "",
             "| model | params | process with the libraries | + the loaded model | peak after one request |",
             "|---|---|---|---|---|"]
    from vtdemo.zoo.cards import get_card

    for model_id in model_ids:
        run = subprocess.run([sys.executable, "-c", _MEMORY_PROBE, model_id, str(side)], capture_output=True,
                             text=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
        if run.returncode:
            lines.append(f"| {model_id} | — | failed: {run.stderr.strip().splitlines()[-1][:100]} | | |")
            continue
        before, loaded, peak = map(float, run.stdout.split()[-3:])
        params = get_card(model_id).params
        lines.append(f"| {model_id} | {params / 1e6:.2f} M | {before:.0f} MB | {loaded - before:+.0f} MB | "
                     f"{peak:.0f} MB |")
    return lines
