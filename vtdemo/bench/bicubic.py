"""``python -m vtdemo bench bicubic``: vtdemo's bicubic against the papers' bicubic rows on Set5 and Set14 (×2, ×3,
×4): the check that our metrics and resampling are the papers'."""
from __future__ import annotations

from pathlib import Path

HELP = "Set5/Set14 bicubic PSNR-Y / SSIM-Y against the papers' (--data)"


def add_arguments(parser) -> None:
    parser.add_argument("--data", type=Path, required=True,
                        help="a folder holding Set5/ and Set14/ (HR/ and LR_bicubic/X2..X4/, or HR images)")


def run(args) -> int:
    print("\n".join(bench_bicubic(args.data)))
    return 0


def bicubic_scores(root: Path, dataset: str, scale: int) -> tuple[float, float]:
    """Mean (PSNR-Y, SSIM-Y) of vtdemo's bicubic on ``root``/``dataset``."""
    from vtdemo.sr.benchmark import benchmark

    row = benchmark(Path(root) / dataset, ["bicubic"], scale)[0]
    return row.psnr_y, row.ssim_y


def bench_bicubic(root: Path) -> list[str]:
    from vtdemo.sr.benchmark import PUBLISHED_BICUBIC

    keys = sorted(PUBLISHED_BICUBIC, key=lambda k: (k[0] != "Set5", k[1]))
    ours = {k: bicubic_scores(root, *k) for k in keys}
    return ["| bicubic | " + " | ".join(f"{d} ×{s}" for d, s in keys) + " |", "|---|" + "---|" * len(keys),
            "| vtdemo (PSNR-Y / SSIM-Y) | " + " | ".join(f"{ours[k][0]:.2f} / {ours[k][1]:.4f}" for k in keys) + " |",
            "| published | " + " | ".join(f"{PUBLISHED_BICUBIC[k][0]:.2f} / {PUBLISHED_BICUBIC[k][1]:.4f}"
                                         for k in keys) + " |"]
