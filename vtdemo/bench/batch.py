"""``python -m vtdemo bench batch``: one folder upscaled by the local engine and by Ray with 1 and 2 workers.

Prints images/s over the whole run (model loading in each worker included; Ray's own start is timed apart) and in
the steady state (from the first finished image to the last), checks that every engine wrote the same bytes, and
times what is not the model (decode + PNG encode) to show where the limit is.
"""
from __future__ import annotations

import hashlib
import sys
import tempfile
import time
from pathlib import Path

HELP = "a folder upscaled locally and on Ray with 1 and 2 workers: images/s, and the same bytes from each"


def add_arguments(parser) -> None:
    parser.add_argument("--model", default="hat-demo-x4", help="SR model id (default hat-demo-x4)")
    parser.add_argument("--data", type=Path, help="your folder of images (default: generated crops)")
    parser.add_argument("--images", type=int, default=16, help="generated images (default 16)")
    parser.add_argument("--size", type=int, default=128, help="generated images' side in pixels (default 128)")


def run(args) -> int:
    from vtdemo.batch.engines import EngineError

    try:
        lines = bench_batch(args.model, args.images, args.size, args.data)
    except EngineError as exc:
        print(f"vtdemo bench batch: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


def example_folder(folder: Path, count: int, size: int) -> Path:
    """``count`` size×size crops of scikit-image's bundled public-domain photos, as PNG files."""
    from PIL import Image
    from skimage import data

    photos = [getattr(data, name)() for name in ("astronaut", "coffee", "chelsea", "rocket", "camera")]
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        photo = photos[i % len(photos)]
        step = i // len(photos)
        y = (step * size // 2) % max(1, photo.shape[0] - size)
        x = (step * size) % max(1, photo.shape[1] - size)
        Image.fromarray(photo[y:y + size, x:x + size]).save(folder / f"{i:03d}.png")
    return folder


def _one_run(folder: Path, out: Path, job, plan) -> dict:
    from vtdemo.batch.upscale import upscale_folder

    finished = []
    start = time.perf_counter()
    summary = upscale_folder([str(folder)], job, str(out), plan=plan,
                             report=lambda event, *_: finished.append(time.perf_counter()) if event == "done" else 0)
    wall = time.perf_counter() - start
    steady = (len(finished) - 1) / (finished[-1] - finished[0]) if len(finished) > 1 else 0.0
    digest = hashlib.sha256(b"".join(hashlib.sha256(p.read_bytes()).digest()
                                     for p in sorted(out.glob("*.png")))).hexdigest()
    return {"images": len(summary.done), "failed": len(summary.failed), "wall": wall,
            "rate": len(summary.done) / wall, "steady": steady, "digest": digest}


def _non_model_seconds(folder: Path, out: Path) -> tuple[float, float]:
    """Mean seconds per image to decode an input and to encode its result (what a worker does besides the model)."""
    from PIL import Image

    from vtdemo.imaging import decode_image, encode_png

    inputs, outputs = sorted(folder.glob("*.png")), sorted(out.glob("*.png"))
    start = time.perf_counter()
    for p in inputs:
        decode_image(p)
    decode = (time.perf_counter() - start) / len(inputs)
    images = [Image.open(p).convert("RGB") for p in outputs]
    start = time.perf_counter()
    for image in images:
        encode_png(image)
    return decode, (time.perf_counter() - start) / len(images)


def bench_batch(model: str = "hat-demo-x4", count: int = 16, size: int = 128, data: Path | None = None,
        workers: tuple[int, ...] = (1, 2)) -> list[str]:
    import os

    import torch

    from vtdemo.batch.engines import Plan, ray_session
    from vtdemo.batch.upscale import UpscaleJob
    from vtdemo.runtime import precision

    job = UpscaleJob(model, device="cpu", precision=precision(torch.device("cpu")), backend="torch")
    with tempfile.TemporaryDirectory() as tmp:
        folder = data or example_folder(Path(tmp) / "in", count, size)
        n = len(list(folder.iterdir()))
        lines = [f"{n} images from {folder if data else f'{count} {size}×{size} crops of scikit-image photos'}, "
                 f"{model}, {job.precision} on {os.cpu_count()} CPU cores (torch {torch.__version__}, "
                 f"{torch.get_num_threads()} threads locally)", "",
                 "| engine | images/s (whole run) | images/s (steady) | seconds | same bytes as local |",
                 "|---|---|---|---|---|"]
        local = _one_run(folder, Path(tmp) / "local", job, Plan("local"))
        lines.append(f"| local | {local['rate']:.2f} | {local['steady']:.2f} | {local['wall']:.1f} | — |")
        start = time.perf_counter()
        with ray_session(None):
            started = time.perf_counter() - start
            for w in workers:
                r = _one_run(folder, Path(tmp) / f"ray{w}", job, Plan("ray", workers=w, device="cpu"))
                lines.append(f"| ray, {w} worker{'s' if w > 1 else ''} | {r['rate']:.2f} | {r['steady']:.2f} | "
                             f"{r['wall']:.1f} | {'yes' if r['digest'] == local['digest'] else 'NO'} |")
        decode, encode = _non_model_seconds(folder, Path(tmp) / "local")
        per_image = 1 / local["steady"] if local["steady"] else local["wall"] / max(1, local["images"])
        lines += ["", f"Ray's start (ray.init, not in the rows): {started:.1f} s. Per image, besides the model: decode "
                  f"{decode * 1000:.1f} ms, PNG encode {encode * 1000:.1f} ms, of {per_image * 1000:.0f} ms per image "
                  f"in the local steady state ({(decode + encode) / per_image:.1%})."]
    return lines
