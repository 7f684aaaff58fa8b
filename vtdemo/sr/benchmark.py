"""The SR papers' table on a folder of images: every model's mean PSNR-Y / SSIM-Y (border crop = scale) and time per
image, next to the number the paper reports when the folder is a known benchmark.

A folder is either the usual benchmark layout (``HR/`` and ``LR_bicubic/X<s>/<name>x<s>.png``) or just high-resolution
images, which are bicubic-degraded ×s first (the papers' protocol, as the Upscale tab's "degrade" mode).
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from functools import partial
from typing import TYPE_CHECKING, Callable

from vtdemo.imaging import IMAGE_SUFFIXES

if TYPE_CHECKING:
    from vtdemo.batch.engines import Plan

KNOWN = {"set5": "Set5", "set14": "Set14", "b100": "B100", "bsd100": "B100", "urban100": "Urban100",
         "manga109": "Manga109"}  # a folder's name, lower case: the benchmark it is
BENCHMARKS = tuple(dict.fromkeys(KNOWN.values()))  # each known benchmark once, in the papers' order
PUBLISHED_BICUBIC = {  # the bicubic rows of the SwinIR / HAT papers' tables: (PSNR-Y, SSIM-Y), MATLAB bicubic
    ("Set5", 2): (33.66, 0.9299), ("Set5", 3): (30.39, 0.8682), ("Set5", 4): (28.42, 0.8104),
    ("Set14", 2): (30.24, 0.8688), ("Set14", 3): (27.55, 0.7742), ("Set14", 4): (26.00, 0.7027),
}


@dataclass
class Row:
    model: str
    name: str
    psnr_y: float
    ssim_y: float
    seconds_per_image: float
    images: int
    reported: str  # the paper's number for this dataset and scale, "" when not known


def dataset_name(folder: Path) -> str | None:
    """The benchmark a folder is, by its name (Set5, Set14, B100/BSD100, Urban100, Manga109), or None."""
    return KNOWN.get(Path(folder).name.lower())


def pairs(folder: Path, scale: int) -> list[tuple[Path, Path | None]]:
    """(HR image, its LR image or None to degrade) for every image of ``folder``, sorted."""
    folder = Path(folder)
    hr_dir = folder / "HR" if (folder / "HR").is_dir() else folder
    lr_dir = folder / "LR_bicubic" / f"X{scale}"
    found = []
    for hr in sorted(p for p in hr_dir.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES):
        lr = lr_dir / f"{hr.stem}x{scale}{hr.suffix}"
        found.append((hr, lr if lr.is_file() else None))
    if not found:
        raise FileNotFoundError(f"no images in {hr_dir}")
    return found


def reported(model: str, dataset: str | None, scale: int) -> str:
    """What the paper reports for ``model`` on ``dataset`` at ``scale`` (PSNR-Y, and SSIM-Y when published)."""
    if dataset is None:
        return ""
    if model == "bicubic":
        known = PUBLISHED_BICUBIC.get((dataset, scale))
        return f"{known[0]:.2f} / {known[1]:.4f}" if known else ""
    from vtdemo.zoo.cards import get_card

    card = get_card(model)
    if card.source.kind == "embedded":
        return ""  # the project's own models: measured, no paper
    numbers = re.match(r"\s*(\d+\.\d+) / (\d+\.\d+)", card.reported or "")  # the cards give Set5 / Set14 PSNR-Y
    if numbers is None or card.scale != scale or dataset not in ("Set5", "Set14"):
        return ""
    return numbers.group(1 if dataset == "Set5" else 2)


def score_pair(hr: Path, lr: Path | None, models: list, scale: int, device=None, precision: str | None = None,
               progress: Callable[[float, str], None] | None = None, max_seconds: float | None = None):
    """The compare results (PSNR-Y, SSIM-Y, seconds per model) of one benchmark image: its LR file against the HR
    one, or the HR image bicubic-degraded first."""
    from vtdemo.imaging import decode_image
    from vtdemo.sr.compare import compare
    from vtdemo.sr.metrics import crop_to_multiple

    if lr is None:
        return compare(hr, models, scale=scale, mode="degrade", device=device, progress=progress,
                       max_seconds=max_seconds, precision=precision).results
    truth = crop_to_multiple(decode_image(hr).rgb, scale)
    return compare(lr, models, scale=scale, mode="reference", reference=truth, device=device, progress=progress,
                   max_seconds=max_seconds, precision=precision).results


class PairScorer:
    """A worker for the ray engine: the models loaded once; rows {"hr", "lr"} -> the same with per-model lists
    "names", "psnr", "ssim", "seconds", or the "error" that stops the benchmark (as it does locally)."""

    def __init__(self, models: list[str], scale: int, device=None, precision: str | None = None):
        from vtdemo.sr.engine import resolve_net

        for model in models:
            resolve_net(model, scale, device)  # loaded once here; the zoo's cache serves every image
        self.models, self.scale, self.device, self.precision = models, scale, device, precision

    def __call__(self, rows: list[dict]) -> list[dict]:
        out = []
        for row in rows:
            try:
                results = score_pair(Path(row["hr"]), Path(row["lr"]) if row["lr"] else None, self.models,
                                     self.scale, self.device, self.precision)
                error = ""
            except ValueError as exc:  # ImageError: a sentence for the user, raised by the caller
                results, error = [], str(exc)
            out.append({**row, "names": [r.name for r in results], "psnr": [r.psnr_y for r in results],
                        "ssim": [r.ssim_y for r in results], "seconds": [r.seconds for r in results],
                        "error": error})
        return out


def benchmark(folder: Path, models: list, scale: int = 4, device=None,
              progress: Callable[[float, str], None] | None = None, max_seconds: float | None = None,
              precision: str | None = None, plan: "Plan | None" = None) -> list[Row]:
    """Every model (an id, "bicubic", or an SRNet) on every image of ``folder`` (see the module doc), through the
    app's compare pipeline. ``max_seconds``: refused up front when the models' measured throughput says the whole
    run would take longer (every image's header is read first), and each image gets what is left of it.
    ``precision``: as for ``upscale`` (None: the device's default). ``plan``: the engine
    (``vtdemo.batch.engines.Plan``; default this process; the ray engine takes model ids, and no ``max_seconds``)."""
    import time

    from vtdemo.imaging import ImageError, header_size
    from vtdemo.sr.engine import check_estimate, resolve_net, seconds_per_output_pixel

    items = pairs(folder, scale)
    nets = [resolve_net(m, scale, device) for m in models]
    if max_seconds is not None:
        pixels = 0
        for hr, _ in items:
            size = header_size(hr)
            if size is None:
                raise ImageError(f"{hr.name} is not an image vtdemo reads (PNG, JPEG, WebP, TIFF, BMP, GIF, PPM).")
            pixels += (size[0] - size[0] % scale) * (size[1] - size[1] % scale)
        per_pixel = sum(seconds_per_output_pixel(net, device, precision) for net in nets) + \
            len(nets) * pipeline_seconds_per_pixel(scale)
        check_estimate(pixels * per_pixel, max_seconds, f"Benchmarking {len(items)} image(s) with {len(nets)} "
                                                        "model(s)")
    sums = [[0.0, 0.0, 0.0] for _ in models]
    names = [""] * len(models)
    if plan is not None and plan.engine != "local":
        from vtdemo.batch.engines import run

        if max_seconds is not None or not all(isinstance(m, str) for m in models):
            raise ValueError("the ray engine takes model ids and no time limit")
        rows = [{"hr": str(hr), "lr": str(lr) if lr else ""} for hr, lr in items]
        for done, row in enumerate(run(partial(PairScorer, models, scale, device, precision), rows, plan), 1):
            if row["error"]:
                raise ImageError(row["error"])
            for k in range(len(models)):
                names[k] = row["names"][k]
                for j, key in enumerate(("psnr", "ssim", "seconds")):
                    sums[k][j] += row[key][k]
            if progress:
                progress(done / len(rows), f"image {done}/{len(rows)}")
    else:
        start = time.perf_counter()
        for i, (hr, lr) in enumerate(items):
            def step(fraction: float, what: str, i=i) -> None:
                if progress:
                    progress((i + fraction) / len(items), f"image {i + 1}/{len(items)} · {what}")

            left = None
            if max_seconds is not None:
                left = max_seconds - (time.perf_counter() - start)
                if left <= 0:  # the estimate was short: the limit still holds, between images
                    raise ImageError(f"The benchmark reached this server's limit of {max_seconds:,.0f} s per request "
                                     f"(VTDEMO_MAX_JOB_SECONDS) after {i} of {len(items)} images: use fewer or "
                                     "smaller images, or the CLI.")
            for k, r in enumerate(score_pair(hr, lr, models, scale, device, precision, step, left)):
                names[k] = r.name
                for j, v in enumerate((r.psnr_y, r.ssim_y, r.seconds)):
                    sums[k][j] += v
    dataset = dataset_name(folder)
    n = len(items)
    return [Row(m if isinstance(m, str) else net.name, names[k], sums[k][0] / n, sums[k][1] / n, sums[k][2] / n,
                n, reported(m, dataset, scale) if isinstance(m, str) else "")
            for k, (m, net) in enumerate(zip(models, nets))]


_PIPELINE: dict[int, float] = {}


def pipeline_seconds_per_pixel(scale: int) -> float:
    """What a benchmark image costs besides the model, per HR pixel and model: decoding, bicubic degradation,
    bicubic upscaling and scoring, measured once per process on a 512² image (through the same path)."""
    if scale not in _PIPELINE:
        import tempfile
        import time

        import numpy as np
        from PIL import Image

        side = 512
        with tempfile.TemporaryDirectory() as folder:
            hr = Path(folder) / "probe.png"
            Image.fromarray(np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)).save(hr)
            start = time.perf_counter()
            score_pair(hr, None, ["bicubic"], scale)
            _PIPELINE[scale] = (time.perf_counter() - start) / (side * side)
    return _PIPELINE[scale]


def to_markdown(rows: list[Row], folder: Path, scale: int) -> str:
    title = dataset_name(folder) or Path(folder).name
    lines = [f"{title} ×{scale} ({rows[0].images} images; PSNR-Y / SSIM-Y, {scale}-px border crop)", "",
             "| model | PSNR-Y | SSIM-Y | s / image | paper |", "|---|---|---|---|---|"]
    lines += [f"| {r.name} | {r.psnr_y:.2f} | {r.ssim_y:.4f} | {r.seconds_per_image:.3f} | {r.reported or '—'} |"
              for r in rows]
    return "\n".join(lines)


def to_csv(rows: list[Row]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["model", "name", "psnr_y", "ssim_y", "seconds_per_image", "images", "paper"])
    for r in rows:
        writer.writerow([r.model, r.name, f"{r.psnr_y:.4f}", f"{r.ssim_y:.5f}", f"{r.seconds_per_image:.3f}",
                         r.images, r.reported])
    return out.getvalue()
