"""``python -m vtdemo bench precision``: what a lower precision costs in quality — Set5/Set14 PSNR-Y / SSIM-Y of each
model in fp32 and in each other precision this device runs (the rule for a default: within 0.01 dB)."""
from __future__ import annotations

from pathlib import Path

HELP = "Set5/Set14 PSNR-Y and SSIM-Y of bf16, fp16 and int8 against fp32, per model (--data)"


def add_arguments(parser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="a folder holding Set5/ and Set14/")
    parser.add_argument("--models", nargs="+", default=["hat-demo-x4", "hat-demo-x2"],
                        help="SR model ids (default hat-demo-x4 hat-demo-x2)")
    parser.add_argument("--device", help="cpu, cuda, ... (default: auto)")


def run(args) -> int:
    for line in bench_precision(args.data, args.models, device=args.device):
        print(line, flush=True)
    return 0


def bench_precision(root: Path, model_ids: list[str], datasets: tuple[str, ...] = ("Set5", "Set14"),
                    precisions: tuple[str, ...] = ("bf16", "fp16", "int8"), device: str | None = None):
    """Yields the table's lines as they are measured."""
    from vtdemo.bench._compute import device_of
    from vtdemo.runtime import check_precision
    from vtdemo.sr.benchmark import benchmark
    from vtdemo.zoo.cards import get_card

    dev = device_of(device)
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
