"""``python -m vtdemo bench photo`` (also ``bench sr --photo``): one photo ×4 through ``vtdemo.upscale`` — what one
upscale costs a user (the tile plan, blending, the backend and precision ``auto`` picks): seconds, output MP/s,
useful GFLOP/s against this machine's matmul peak, peak memory; ``--end-to-end``: from PNG bytes to PNG bytes."""
from __future__ import annotations

import time

from vtdemo.bench import _compute

PHOTO = (480, 320)  # a typical phone photo downscaled for the web
MODELS = ("hat-demo-x4", "hat-s-x4", "hat-x4", "swinir-m-x4")

HELP = (f"one photo (default {PHOTO[0]}×{PHOTO[1]}) upscaled per model through vtdemo.upscale (random weights of the "
        "real architecture where none are here): seconds, output MP/s, GFLOP/s and %% of peak, peak memory")


def size_arg(text: str) -> tuple[int, int]:
    w, _, h = text.lower().partition("x")
    return int(w), int(h)


def add_photo_arguments(parser) -> None:
    """The options ``bench photo`` and ``bench sr --photo`` share."""
    from vtdemo.runtime import PRECISIONS

    parser.add_argument("--precision", choices=PRECISIONS, help="default: the device's")
    parser.add_argument("--backend", default="auto", help="as for upscale (default auto)")
    parser.add_argument("--photo-size", type=size_arg, default=PHOTO, metavar="WxH",
                        help=f"the photo's size (default {PHOTO[0]}x{PHOTO[1]})")
    parser.add_argument("--end-to-end", action="store_true",
                        help="time from the PNG file's bytes to the result's PNG bytes (decode, upscale, encode)")


def add_arguments(parser) -> None:
    parser.add_argument("--models", nargs="+", default=list(MODELS),
                        help=f"SR model ids (default {' '.join(MODELS)})")
    parser.add_argument("--device", help="cpu, cuda, ... (default: auto)")
    add_photo_arguments(parser)


def run(args) -> int:
    device = _compute.device_of(args.device)
    found = _compute.peaks(device)
    print(_compute.header(device, found))
    for line in bench_photo(args.models, args.device, args.precision, args.photo_size, args.backend,
                            args.end_to_end, found):
        print(line, flush=True)
    return 0


def _photo(size: tuple[int, int]):
    """A real photo (scikit-image's astronaut, resized): tiles of noise would hide nothing, but PNG sizes and
    decode times are those of photos only for a photo."""
    from PIL import Image
    from skimage import data

    return Image.fromarray(data.astronaut()).resize(size, Image.Resampling.BICUBIC)


def bench_photo(model_ids: list[str], device: str | None, precision: str | None = None,
                size: tuple[int, int] = PHOTO, backend: str = "auto", end_to_end: bool = False,
                peaks: dict[str, float] | None = None):
    """Per model: seconds, output MP/s, useful GFLOP/s (the model's FLOPs for the photo's own pixels, not the
    tiles' overlaps) and its share of the matmul peak in the precision used, peak memory. Yields the table's
    lines as they are measured."""
    import io

    import torch

    from vtdemo.bench._rss import peak_memory
    from vtdemo.sr import backends, tiling
    from vtdemo.sr.backends import SRNet
    from vtdemo.sr.engine import auto_tile, upscale
    from vtdemo.zoo.cards import get_card

    dev = _compute.device_of(device)
    peaks = peaks or _compute.peaks(dev)
    photo = _photo(size)
    source = io.BytesIO()
    photo.save(source, "PNG")
    what = "PNG → PNG" if end_to_end else "image → image"
    yield (f"One {size[0]}×{size[1]} photo through vtdemo.upscale ({what}, backend={backend}), "
           f"{time.strftime('%Y-%m-%d')}:")
    yield ("| model | weights | input | backend · precision | tiles | seconds | output MP/s | useful GFLOP/s | "
           "% of peak | peak memory MB |")
    yield "|---|---|---|---|---|---|---|---|---|---|"
    for model_id in model_ids:
        module, random = _compute.model_or_random(model_id)
        card = get_card(model_id)
        net = SRNet(module.to(dev), card.scale, model_id)
        per_pixel = _compute.model_gflop(module, torch.rand(1, 3, 64, 64, device=dev)) / 64 ** 2
        tile = auto_tile(size[1], size[0], dev)
        used, used_precision = backends.chosen(net, backend, dev, tile, precision, (size[1], size[0]))
        upscale(photo, net, device=dev, precision=precision, backend=backend)  # warm-up: the heap, graphs, caches
        plan = tiling.plan(size[1], size[0], tile, tiling.overlap_for(tile),
                           backends.tile_multiple(net, tile, used))
        with peak_memory(dev) as mem:
            start = time.perf_counter()
            if end_to_end:
                out = upscale(source.getvalue(), net, device=dev, precision=precision, backend=backend)
                out.save(io.BytesIO(), "PNG")
            else:
                out = upscale(photo, net, device=dev, precision=precision, backend=backend)
            seconds = time.perf_counter() - start
        rate = per_pixel * size[0] * size[1] / seconds
        peak = peaks.get(used_precision)
        share = f"{100 * rate / peak:.1f} %" if peak else "—"
        yield (f"| {model_id} | {'random' if random else 'trained'} | {size[0]}×{size[1]} ×{card.scale} | "
               f"{used} · {used_precision} | {plan.count} × {plan.tw}×{plan.th} | {seconds:.1f} | "
               f"{out.width * out.height / 1e6 / seconds:.3f} | {rate:.0f} | {share} | {mem['bytes'] / 1e6:.0f} |")
        del module, net
