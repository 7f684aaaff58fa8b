"""``python -m vtdemo bench photo``: one phone-sized photo ×4 through ``vtdemo.upscale`` — what one upscale costs a
user (tiles, blending, the device's default precision)."""
from __future__ import annotations

import time

from vtdemo.bench import _compute

PHOTO = (480, 320)  # a typical phone photo downscaled for the web
MODELS = ("hat-demo-x4", "hat-s-x4", "hat-x4", "swinir-m-x4")

HELP = (f"one {PHOTO[0]}×{PHOTO[1]} photo upscaled per model through vtdemo.upscale (random weights of the real "
        "architecture where none are here): seconds, output MP/s, peak memory")


def add_arguments(parser) -> None:
    parser.add_argument("--models", nargs="+", default=list(MODELS),
                        help=f"SR model ids (default {' '.join(MODELS)})")
    parser.add_argument("--device", help="cpu, cuda, ... (default: auto)")
    from vtdemo.runtime import PRECISIONS

    parser.add_argument("--precision", choices=PRECISIONS, help="default: the device's")


def run(args) -> int:
    device = _compute.device_of(args.device)
    print(_compute.header(device, _compute.peaks(device)))
    print(f"One {PHOTO[0]}×{PHOTO[1]} photo through vtdemo.upscale:")
    for line in bench_photo(args.models, args.device, args.precision):
        print(line, flush=True)
    return 0


def bench_photo(model_ids: list[str], device: str | None, precision: str | None = None):
    """Per model: ms, output MP/s, peak memory of one photo. Yields the table's lines as they are measured."""
    import numpy as np
    from PIL import Image

    from vtdemo.bench._rss import peak_memory
    from vtdemo.runtime import precision as default_precision
    from vtdemo.sr.backends import SRNet
    from vtdemo.sr.engine import upscale
    from vtdemo.zoo.cards import get_card

    dev = _compute.device_of(device)
    used = precision or default_precision(dev)
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 256, (PHOTO[1], PHOTO[0], 3), dtype=np.uint8))
    yield "| model | weights | input | precision | seconds | output MP/s | peak memory MB |"
    yield "|---|---|---|---|---|---|---|"
    for model_id in model_ids:
        module, random = _compute.model_or_random(model_id)
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
