"""Upscale an image with any SR model: pick device/precision/backend, tile, blend, keep alpha and grayness."""
from __future__ import annotations

import os
import sys
import weakref
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch
from PIL import Image
from torch import nn

from vtdemo.imaging import (ImageError, ImageSource, check_aspect, decode_image, pil_to_tensor, reattach_alpha,
                             tensor_to_pil)
from vtdemo.sr import tiling
from vtdemo.sr import backends
from vtdemo.sr.backends import SRNet

if TYPE_CHECKING:
    from spandrel import ImageModelDescriptor

BICUBIC = "bicubic"
SCALES = (2, 3, 4)  # the scales the app offers: bicubic runs at each, the zoo has models for each
Progress = Callable[[float, str], None]  # (fraction done, what is happening)
MIN_TILE = 32


_SCALES: "weakref.WeakKeyDictionary[nn.Module, int]" = weakref.WeakKeyDictionary()


def scale_of(module: nn.Module) -> int:
    """The factor a bare SR module upscales by, measured once on a 16×16 input (no attribute guessing: a spandrel
    descriptor or a zoo card says it when there is one)."""
    if module not in _SCALES:
        first = next(module.parameters(), None)
        x = torch.zeros(1, 3, 16, 16, device=first.device if first is not None else "cpu")
        with torch.inference_mode():
            out = module(x)
        if out.shape[-1] % 16 or out.shape[-2] != out.shape[-1] or out.shape[-1] < 16:
            raise ValueError(f"{type(module).__name__} is not an SR model: a 16×16 input gave {tuple(out.shape)}.")
        _SCALES[module] = out.shape[-1] // 16
    return _SCALES[module]


def resolve_net(model: "str | nn.Module | SRNet | ImageModelDescriptor", scale: int | None = None, device=None,
                progress: Progress | None = None) -> SRNet:
    """An id (or "bicubic"), a spandrel descriptor (``load_checkpoint``), a loaded module, or an SRNet -> SRNet,
    checking ``scale`` against the model's (a bare module's is measured by ``scale_of``)."""
    spandrel = sys.modules.get("spandrel")  # a descriptor exists only once spandrel is imported (a heavy import)
    if isinstance(model, SRNet):
        net = model
    elif spandrel is not None and isinstance(model, spandrel.ImageModelDescriptor):
        net = SRNet(model.model, model.scale, model.architecture.name, model)
    elif isinstance(model, str) and model == BICUBIC:
        return SRNet(None, scale or 4, BICUBIC)
    elif isinstance(model, str):
        from vtdemo.zoo.cards import get_card
        from vtdemo.zoo.loading import load_model

        card = get_card(model)
        if card.task != "sr":
            raise ValueError(f"{model} is a {card.task} model, not a super-resolution model.")
        report = (lambda done, total: progress(done / total if total else 0.0, f"Downloading {card.id}")) \
            if progress else None
        net = SRNet(load_model(model, device=device, progress=report), card.scale, model)
    elif isinstance(model, nn.Module):
        from vtdemo.sr.checkpoints import descriptor_of

        known = descriptor_of(model)  # loaded by spandrel: its scale and contract, nothing measured
        net = SRNet(model, known.scale, known.architecture.name, known) if known else \
            SRNet(model, scale_of(model), type(model).__name__)
    else:
        raise TypeError(f"model must be a model id, a spandrel ImageModelDescriptor, an nn.Module or an SRNet, not "
                        f"{type(model).__name__}")
    if scale is not None and scale != net.scale:
        raise ValueError(f"{net.name} upscales ×{net.scale}; scale={scale} was asked for.")
    return net


def bicubic_upscale(lr: torch.Tensor, scale: int) -> torch.Tensor:
    """The benchmarks' bicubic baseline: Keys kernel with a = −0.5 as MATLAB's imresize and PIL use (torch's
    ``interpolate`` uses a = −0.75, about 0.3 dB off the published numbers). Float data, per channel."""
    _, c, h, w = lr.shape
    out = torch.empty(1, c, h * scale, w * scale)  # filled plane by plane: one temporary plane at a time
    for i in range(c):
        plane = Image.fromarray(lr[0, i].float().cpu().numpy(), "F").resize((w * scale, h * scale),
                                                                           Image.Resampling.BICUBIC)
        out[0, i].numpy()[:] = np.asarray(plane)
        del plane
    return out.clamp_(0, 1)


def bicubic_image(rgb: Image.Image, scale: int) -> Image.Image:
    """``bicubic_upscale`` straight from and to 8-bit RGB, one channel at a time: the same pixels, without a
    full-size float tensor of the output (12 bytes per output pixel)."""
    from vtdemo.imaging import ROWS_PER_CHUNK

    size = (rgb.width * scale, rgb.height * scale)
    bands = []
    for band in rgb.split():
        plane = Image.fromarray(np.asarray(band, dtype=np.float32) / 255.0, "F").resize(size, Image.Resampling.BICUBIC)
        out = np.empty((size[1], size[0]), dtype=np.uint8)
        for start in range(0, size[1], ROWS_PER_CHUNK):
            rows = np.asarray(plane.crop((0, start, size[0], min(size[1], start + ROWS_PER_CHUNK))))
            out[start:start + ROWS_PER_CHUNK] = np.rint(np.clip(rows, 0, 1) * np.float32(255.0))
        del plane
        bands.append(Image.fromarray(out, "L"))
    return Image.merge("RGB", bands)


# LR pixels. Measured (HAT-S ×4 bf16, 480×320 photo, 2-core Xeon with AMX): 256 → 4 tiles of 176×256, 15.1 s,
# 737 MB; 384 → 2 tiles, 14.9 s, 1362 MB; 512 → the whole photo at once, 15.4 s, 2578 MB. Larger tiles save the
# overlap but not time, and cost memory.
CPU_TILE = 256


def auto_tile(h: int, w: int, device: torch.device) -> int:
    """Tile side in LR pixels: VTDEMO_TILE if set; on CUDA from free memory; on CPU ``CPU_TILE``."""
    if os.environ.get("VTDEMO_TILE"):
        return max(MIN_TILE, int(os.environ["VTDEMO_TILE"]))
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return 1024 if free > 40e9 else 512 if free > 10e9 else 256
    return CPU_TILE


def runs_with(net: SRNet, h: int, w: int, *, tile: int | None = None, device=None, backend: str = "auto",
              precision: str | None = None) -> tuple[str, str]:
    """The (backend, precision) ``upscale_tensor`` runs ``net`` with on an h×w image (what a caption says)."""
    from vtdemo.runtime import default_device

    device = torch.device(device) if device is not None else default_device()
    return backends.chosen(net, backend, device, tile or auto_tile(h, w, device), precision, (h, w))


def _is_out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, torch.cuda.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and ("out of memory" in str(exc) or "can't allocate memory" in str(exc)))


def upscale_tensor(net: SRNet, lr: torch.Tensor, *, tile: int | None = None, overlap: int | None = None,
                   device=None, backend: str = "torch", progress: Progress | None = None,
                   precision: str | None = None) -> torch.Tensor:
    """(1, 3, h, w) in [0, 1] -> (1, 3, h·s, w·s) in [0, 1] on the CPU. Tiles when the image exceeds ``tile``;
    on out-of-memory the tile is halved and the image is tried again. ``precision``: fp32, bf16, fp16 (GPU) or
    int8 (CPU) (None: the device's default, ``runtime.precision``)."""
    from vtdemo.runtime import default_device, reuse_freed_memory

    if net.module is None:
        return bicubic_upscale(lr, net.scale)
    device = torch.device(device) if device is not None else default_device()
    reuse_freed_memory()
    h, w = lr.shape[-2:]
    tile = tile or auto_tile(h, w, device)
    overlap = tiling.overlap_for(tile, overlap)
    while True:
        total = tiling.count_tiles(h, w, tile, overlap)
        check_tiles(total, tile)  # also after halving: smaller tiles must stay within the limit
        name, used = backends.chosen(net, backend, device, tile, precision, (h, w))  # per tile size and image
        fn = backends.BACKENDS[name].tile_fn(net, device, tile, used)
        multiple = backends.tile_multiple(net, tile, name)

        def tick(done: int, of: int) -> None:
            if progress:
                progress(done / of, f"{net.name}: tile {done}/{of}")

        try:
            with torch.inference_mode():
                return tiling.run_tiled(fn, lr, net.scale, tile, overlap, tick, multiple).clamp_(0, 1)
        except (RuntimeError, torch.cuda.OutOfMemoryError) as exc:
            if not _is_out_of_memory(exc) or tile // 2 < MIN_TILE:
                raise
            if device.type == "cuda":
                torch.cuda.empty_cache()
            tile //= 2
            overlap = tiling.overlap_for(tile, overlap)
            if progress:
                progress(0.0, f"{net.name}: out of memory with {total} tiles, retrying with {tile}px tiles")


PROBE = 32  # side (LR pixels) of the tile a model's throughput is measured on
_SECONDS_PER_PIXEL: "weakref.WeakKeyDictionary[nn.Module, dict[str, float]]" = weakref.WeakKeyDictionary()


def seconds_per_output_pixel(net: SRNet, device=None, precision: str | None = None) -> float:
    """The model's compute time per output pixel on ``device`` in ``precision`` (None: the device's default),
    measured once per device and precision (a warm PROBE×PROBE tile)."""
    import time

    from vtdemo.runtime import default_device

    if net.module is None:
        return 0.0
    device = torch.device(device) if device is not None else default_device()
    precision = net.precision(device, precision)
    per_device = _SECONDS_PER_PIXEL.setdefault(net.module, {})
    key = f"{device}|{precision}"
    if key not in per_device:
        fn = backends.tile_fn(net, "torch", device, PROBE, precision)
        lr = torch.rand(1, 3, PROBE, PROBE)
        with torch.inference_mode():
            fn(lr)  # warm-up: first-call allocations and kernel choices
            start = time.perf_counter()
            fn(lr)
            per_device[key] = (time.perf_counter() - start) / (PROBE * PROBE * net.scale ** 2)
    return per_device[key]


def check_estimate(seconds: float, max_seconds: float | None, what: str) -> None:
    """Refuse (ImageError) a job whose estimated compute time is over ``max_seconds`` (None: no limit)."""
    if max_seconds is not None and seconds > max_seconds:
        raise ImageError(f"{what} would take about {seconds:,.0f} s here, over this server's limit of "
                         f"{max_seconds:,.0f} s per request (VTDEMO_MAX_JOB_SECONDS): use a smaller image, fewer "
                         "models or a lower scale.")


def check_tiles(count: int, tile: int) -> None:
    """Refuse a request that would run more than VTDEMO_MAX_TILES tiles (a tiny --tile on a big image)."""
    from vtdemo import limits

    if count > limits.max_tiles():
        raise ImageError(f"{tile}px tiles would need {count} tiles, over this server's limit of {limits.max_tiles()} "
                         "(VTDEMO_MAX_TILES): use larger tiles or a smaller image.")


def check_output_size(width: int, height: int, scale: int, count: int = 1) -> None:
    """Refuse an upscale whose ``count`` outputs together would exceed VTDEMO_MAX_OUTPUT_PIXELS (before any work is
    done): the limit bounds the memory (about 20 bytes per output pixel) and the disk a request takes."""
    from vtdemo import limits

    out = width * height * scale * scale * count
    if out > limits.max_output_pixels():
        what = f"{count} results of" if count > 1 else "The result would be"
        raise ImageError(f"{what} {width * scale}×{height * scale} = {out / 1e6:.1f} MP, over this server's limit "
                         f"of {limits.max_output_pixels() / 1e6:.1f} MP per request (VTDEMO_MAX_OUTPUT_PIXELS): crop "
                         "or downscale the image first" + (", or compare fewer models." if count > 1 else "."))


def upscale(image: ImageSource, model: "str | nn.Module | SRNet | ImageModelDescriptor", *, scale: int | None = None, tile: int | None = None,
            overlap: int | None = None, device=None, backend: str = "auto", progress: Progress | None = None,
            max_seconds: float | None = None, precision: str | None = None) -> Image.Image:
    """Upscale ``image`` with ``model`` (an id such as "hat-demo-x4", "bicubic", or a loaded module).

    The whole image is processed at once when it fits in a tile, otherwise in overlapping tiles blended smoothly.
    An alpha channel is upscaled separately (bicubic) and re-attached; a grayscale input gives a grayscale output
    (mode "L"/"LA"). ``backend``: "torch", "onnxruntime" (exported fixed-tile graph) or "auto" (the faster one on
    this device, by a cached measurement). ``precision``: "fp32", "bf16" or "int8" (CPU); None: bf16 where the
    hardware computes it natively, else fp32 (``runtime.precision``; VTDEMO_PRECISION overrides). ``max_seconds``:
    refuse up front when the measured throughput says the job would take longer.
    """
    decoded = decode_image(image)
    net = resolve_net(model, scale, device, progress)
    w, h = decoded.rgb.size
    check_aspect(w, h)
    check_output_size(w, h, net.scale)
    if max_seconds is not None:
        check_estimate(seconds_per_output_pixel(net, device, precision) * w * h * net.scale ** 2, max_seconds,
                       f"Upscaling {w}×{h} ×{net.scale} with {net.name}")
    if net.module is None:
        out = bicubic_image(decoded.rgb, net.scale)
    else:
        out = tensor_to_pil(upscale_tensor(net, pil_to_tensor(decoded.rgb), tile=tile, overlap=overlap,
                                           device=device, backend=backend, progress=progress,
                                           precision=precision))
        from vtdemo.runtime import release_memory

        release_memory()  # the activations' memory, kept for reuse while tiles ran (runtime.reuse_freed_memory)
    if decoded.grayscale:
        out = out.convert("L")
    return reattach_alpha(out, decoded.alpha)
