"""``python -m vtdemo bench scaling``: latency and peak activation memory of each classifier at each input size
(random weights of the real architecture), and the exponent k of time ∝ pixels^k — the task function the Models
tab's chart calls (``vtdemo.classify.scaling.measure``), with no limits."""
from __future__ import annotations

MODELS = ["vit-ti16", "deit-ti16", "swin-t", "pvt-v2-b0"]
HELP = "latency and peak memory of classifiers against input size, with the fitted exponent"


def add_arguments(parser) -> None:
    parser.add_argument("--models", nargs="+", default=MODELS, help=f"classifier ids (default {' '.join(MODELS)})")
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 448, 672],
                        help="input sides (default 224 448 672)")
    parser.add_argument("--repeats", type=int, default=2, help="timed forwards per point, best taken (default 2)")
    parser.add_argument("--device", help="cpu, cuda, ... (default: auto)")


def run(args) -> int:
    import torch

    from vtdemo.classify.scaling import measure

    points, exponents = measure(args.models, args.sizes, device=args.device, repeats=args.repeats)
    print(f"Latency and peak memory by input size ({torch.get_num_threads()} threads, random weights):")
    print(format_scaling(points, exponents))
    return 0


def format_scaling(points, exponents: dict[str, float]) -> str:
    sizes = sorted({p.size for p in points})
    lines = ["| model | " + " | ".join(f"{s}² ms (MB)" for s in sizes) + " | time ∝ pixels^k |",
             "|---" * (len(sizes) + 2) + "|"]
    for model_id, k in exponents.items():
        cells = {p.size: f"{p.ms:.0f} ({p.peak_mb:.0f})" for p in points if p.model == model_id}
        lines.append(f"| {model_id} | " + " | ".join(cells.get(s, "—") for s in sizes) + f" | {k:.2f} |")
    return "\n".join(lines)
