"""``python -m vtdemo bench sr``: our HAT against the reference implementation (spandrel's verbatim port of the
official code), same random weights, one process, in every precision this device runs, plus the other backends;
``--profile``: where one forward's time goes; ``--photo``: one photo through ``vtdemo.upscale`` (``bench photo``)."""
from __future__ import annotations

from dataclasses import dataclass

from vtdemo.bench import _compute
from vtdemo.bench._compute import time_fn

HELP = ("our HAT in each precision and backend against the official code (same random weights): ms, MP/s, GFLOP/s "
        "against this machine's matmul peak, difference from the reference")


def add_arguments(parser) -> None:
    parser.add_argument("--models", nargs="+", default=["hat-s-x4"], help="HAT model ids (default hat-s-x4)")
    parser.add_argument("--size", type=int, default=64, help="input side in pixels (default 64)")
    parser.add_argument("--repeats", type=int, default=3, help="timed forwards per row, best taken (default 3)")
    parser.add_argument("--device", help="cpu, cuda, ... (default: auto)")
    parser.add_argument("--no-onnx", action="store_true", help="only the torch rows (no other backend)")
    parser.add_argument("--photo", action="store_true",
                        help="instead: one photo ×4 through vtdemo.upscale per model (as `bench photo`)")
    from vtdemo.bench.photo import add_photo_arguments

    add_photo_arguments(parser)
    parser.add_argument("--profile", action="store_true",
                        help="instead: torch.profiler's top operators of one forward of the first model (default "
                             "precision)")


def run(args) -> int:
    device = _compute.device_of(args.device)
    peaks = _compute.peaks(device)
    print(_compute.header(device, peaks))
    if args.photo:
        from vtdemo.bench.photo import bench_photo

        for line in bench_photo(args.models, args.device, args.precision, args.photo_size, args.backend,
                                args.end_to_end, peaks):
            print(line, flush=True)
        return 0
    if args.profile:
        print(profile_sr(args.models[0], args.size, args.device))
        return 0
    print(format_rows(bench_sr(args.models, args.size, args.repeats, args.device, onnx=not args.no_onnx,
                               peaks=peaks)))
    return 0


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


def _precisions(device) -> list[str]:
    return ["fp32", "bf16", "int8"] if device.type == "cpu" else ["fp32", "bf16", "fp16"]


def _other_backends(device) -> list[tuple[str, str]]:
    """(backend, precision) rows besides torch's: the local CPU backends installed here, in each precision they run
    that this CPU computes natively."""
    from vtdemo.runtime import native_bf16_cpu
    from vtdemo.sr import backends

    if device.type != "cpu":
        return []
    pairs = []
    for name, backend in backends.BACKENDS.items():
        if name == "torch" or backend.remote or not backend.installed():
            continue
        pairs += [(name, p) for p in backend.precisions or ("fp32",) if p != "bf16" or native_bf16_cpu()]
    return pairs


def bench_sr(model_ids: list[str], size: int, repeats: int, device: str | None, onnx: bool,
             peaks: dict[str, float] | None = None) -> list[Row]:
    """Our HAT in every precision this device runs (and the other CPU backends) against the reference code in
    fp32, same random weights: time, throughput, GFLOP/s against this machine's matmul peak, difference from the
    reference."""
    import torch
    from spandrel.architectures.HAT.__arch.HAT import HAT as ReferenceHAT

    from vtdemo.models.hat import HAT
    from vtdemo.runtime import precision as default_precision
    from vtdemo.sr import backends
    from vtdemo.sr.backends import SRNet
    from vtdemo.zoo.cards import get_card

    dev = _compute.device_of(device)
    peaks = peaks or _compute.peaks(dev)  # the caller's when it printed them: one measurement for line and table
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
        gflop = _compute.model_gflop(ours, x)
        out_mp = (size * card.scale) ** 2 / 1e6
        t_ref, y_ref, m_ref = time_fn(reference, x, repeats, dev)
        label = f"{size}×{size}"
        rows.append(Row(f"{model_id} (reference)", "torch", dev.type, "fp32", label, t_ref * 1e3, out_mp / t_ref,
                        m_ref / 1e6, 1.0, 0.0, gflop, peaks["fp32"]))
        net = SRNet(ours, card.scale, f"bench-{model_id}")
        for precision in _precisions(dev):
            fn = backends.tile_fn(net, "torch", dev, size, precision)
            t, y, m = time_fn(fn, x, repeats, dev)
            rows.append(Row(model_id, "torch", dev.type, precision, label, t * 1e3, out_mp / t, m / 1e6, t_ref / t,
                            (y - y_ref).abs().max().item(), gflop, peaks.get(precision),
                            default=precision == default_precision(dev)))
        for name, precision in _other_backends(dev) if onnx else ():
            fn = backends.BACKENDS[name].tile_fn(net, dev, size, precision)  # exports if needed
            t, y, m = time_fn(fn, x, repeats, dev)
            rows.append(Row(model_id, name, "cpu", precision, label, t * 1e3, out_mp / t, m / 1e6, t_ref / t,
                            (y - y_ref).abs().max().item(), gflop, peaks.get(precision)))
    return rows


def format_rows(rows: list[Row]) -> str:
    head = ("| model | backend | device | precision | input | ms/image | output MP/s | GFLOP | GFLOP/s | % of matmul "
            "peak | peak memory MB | speed-up vs reference | max abs diff vs reference |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for r in rows:
        diff = "—" if r.max_diff is None else f"{r.max_diff:.1e}"
        rate = r.gflop / (r.ms / 1e3) if r.gflop else None
        share = f"{100 * rate / r.peak_gflops:.0f} %" if rate and r.peak_gflops and r.dtype != "int8" else "—"
        lines.append(f"| {r.model} | {r.backend} | {r.device} | {r.dtype}{' (default)' if r.default else ''} | "
                     f"{r.size} | {r.ms:.0f} | {r.mp_per_s:.3f} | {r.gflop or 0:.1f} | "
                     f"{rate or 0:.0f} | {share} | {r.peak_mb:.0f} | {r.speedup:.2f}× | {diff} |")
    return "\n".join(lines)


def profile_sr(model_id: str, size: int, device: str | None, precision: str | None = None, rows: int = 12) -> str:
    """torch.profiler's top operators (self time) of one forward of ``model_id`` (our HAT, random weights) in
    ``precision`` (default: the device's): where the time goes."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from vtdemo.models.hat import HAT
    from vtdemo.runtime import precision as default_precision
    from vtdemo.sr import backends
    from vtdemo.sr.backends import SRNet
    from vtdemo.zoo.cards import get_card

    dev = _compute.device_of(device)
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
