"""Compare SR models on one image, scored the way the papers do when a reference exists.

Modes:
  - ``lr``: the image is the low-resolution input; results are not scored (unless a ``reference`` is given);
  - ``degrade``: the image is the high-resolution truth: it is cropped to a multiple of the scale, downscaled with
    antialiased bicubic (the benchmarks' degradation), every model reconstructs it, and each result is scored
    against the original (PSNR-Y / SSIM-Y with a border of ``scale`` pixels removed);
  - ``reference``: the image is the input and ``reference`` a separately supplied HR image of ``scale`` × its size.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image
from torch import nn

from vtdemo import limits
from vtdemo.cache import Cache
from vtdemo.imaging import ImageError, ImageSource, check_aspect, decode_image, reattach_alpha
from vtdemo.sr.engine import (BICUBIC, Progress, SRNet, check_estimate, check_output_size, resolve_net, runs_with,
                              seconds_per_output_pixel, upscale)
from vtdemo.sr.metrics import crop_to_multiple, psnr_y, ssim_y

MODES = ("lr", "degrade", "reference")


def format_psnr(value: float) -> str:
    """PSNR for people: a result identical to the reference has no finite PSNR."""
    return "∞ (identical)" if value == float("inf") else f"{value:.2f} dB"


@dataclass
class SRResult:
    model: str  # id, "bicubic", or the uploaded file's name
    name: str
    image: Image.Image
    seconds: float
    psnr_y: float | None = None
    ssim_y: float | None = None
    precision: str = ""  # "fp32" / "bf16" / "int8" for a model, empty for bicubic

    def caption(self) -> str:
        """Numbers first, the model's name last: a caption cut to fit its image loses the name, not the scores."""
        score = f"{format_psnr(self.psnr_y)} / {self.ssim_y:.4f} · " if self.psnr_y is not None else ""
        precision = f" · {self.precision}" if self.precision else ""
        return f"{score}{self.seconds:.2f} s{precision} · {self.name}"


@dataclass
class Comparison:
    input: Image.Image  # what the models were given
    reference: Image.Image | None  # the HR truth, when known
    scale: int
    mode: str
    results: list[SRResult] = field(default_factory=list)

    def rows(self) -> list[dict]:
        """The metrics table: one row per model (``short``: its name without the card's parenthesised note,
        "HAT-demo ×4 (small, trained by vtdemo)" → "HAT-demo ×4", for the table and chart that must fit a phone)."""
        return [dict(model=r.model, name=r.name, short=r.name.split(" (")[0], seconds=round(r.seconds, 3),
                     size=f"{r.image.width}×{r.image.height}",
                     psnr_y=None if r.psnr_y is None else round(r.psnr_y, 3),
                     ssim_y=None if r.ssim_y is None else round(r.ssim_y, 4)) for r in self.results]


def degrade(image: Image.Image, scale: int) -> tuple[Image.Image, Image.Image]:
    """(LR, HR): HR cropped to a multiple of ``scale``, LR its antialiased bicubic downscale."""
    hr = crop_to_multiple(image, scale)
    if min(hr.size) < scale * 4:
        raise ImageError(f"The image is too small to degrade by ×{scale}: it needs at least {scale * 4} px a side.")
    return hr.resize((hr.width // scale, hr.height // scale), Image.Resampling.BICUBIC), hr


def match_reference(reference: Image.Image, lr: Image.Image, scale: int) -> Image.Image:
    """The part of ``reference`` that corresponds to ``lr`` × ``scale`` (top-left aligned, as cropping does)."""
    w, h = lr.width * scale, lr.height * scale
    if reference.width < w or reference.height < h:
        raise ImageError(f"The reference is {reference.width}×{reference.height}; at ×{scale} the input needs "
                         f"{w}×{h}. Upload the high-resolution original of this image.")
    return reference.crop((0, 0, w, h))


_UPLOADED = Cache("VTDEMO_UPLOAD_CACHE")  # the last uploaded checkpoints stay loaded, keyed by content


def uploaded_net(path: str | Path) -> SRNet:
    """An uploaded SR checkpoint as an SRNet named after the file, loaded safely (and once per content)."""
    from vtdemo.sr.checkpoints import load_checkpoint

    from vtdemo.zoo.downloads import sha256_of

    path = Path(path)

    def load() -> SRNet:
        descriptor = load_checkpoint(path, upload=True)
        return SRNet(descriptor.model, descriptor.scale, path.name)

    return _UPLOADED.get_or_compute(sha256_of(path), load)


def _label(model: str | nn.Module | SRNet, net: SRNet) -> tuple[str, str]:
    """(model key, display name) of a result."""
    if isinstance(model, str):
        if model == BICUBIC:
            return BICUBIC, "Bicubic"
        from vtdemo.zoo.cards import get_card

        return model, get_card(model).name
    return net.name, net.name


def duration(seconds: float) -> str:
    """'3 s', '45 s', '4 min', '1.5 h': how long, for a person."""
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"


def _ran(net: SRNet, rgb, tile, device, backend: str, precision: str | None) -> str:
    """The precision the model ran in, with the backend when it is not torch: "bf16", "fp32 (onnxruntime)"."""
    name, used = runs_with(net, rgb.height, rgb.width, tile=tile, device=device, backend=backend,
                           precision=precision)
    return used if name == "torch" else f"{used} ({name})"


def compare(image: ImageSource, models: list[str | nn.Module | SRNet], *, scale: int, mode: str = "lr",
            reference: ImageSource | None = None, tile: int | None = None, device=None, backend: str = "auto",
            progress: Progress | None = None, max_seconds: float | None = None,
            precision: str | None = None) -> Comparison:
    """Run every model on the same input; score each against the reference when one exists (see module doc).

    Before any model runs: the outputs of all models together must fit VTDEMO_MAX_OUTPUT_PIXELS, and with
    ``max_seconds`` the estimated time (each model's measured throughput × its output pixels) must fit too.
    ``precision``: as for ``upscale``; each result's caption says the one used."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if not models:
        raise ValueError("Choose at least one model.")
    if len(models) > limits.max_compare_models():
        raise ValueError(f"At most {limits.max_compare_models()} models per comparison "
                         f"(VTDEMO_MAX_COMPARE_MODELS); {len(models)} were chosen.")
    decoded = decode_image(image)
    rgb = decoded.rgb
    alpha = decoded.alpha if mode != "degrade" else None  # degrade: the input is made from the truth's colours
    truth = None
    if mode == "degrade":
        rgb, truth = degrade(rgb, scale)
    elif mode == "reference":
        if reference is None:
            raise ValueError("Reference mode needs a high-resolution reference image.")
        truth = match_reference(decode_image(reference).rgb, rgb, scale)
    comparison = Comparison(input=reattach_alpha(rgb, alpha), reference=truth, scale=scale, mode=mode)
    n = len(models)
    check_aspect(rgb.width, rgb.height)
    check_output_size(rgb.width, rgb.height, scale, count=n)  # every result is held until the end
    nets = [resolve_net(model, scale, device, progress) for model in models]  # checks each model's scale
    estimate = ""
    if max_seconds is not None or progress:  # from each model's measured throughput (a 32-px tile, once)
        seconds = sum(seconds_per_output_pixel(net, device, precision) for net in nets) * rgb.width * rgb.height \
            * scale ** 2
        check_estimate(seconds, max_seconds, f"Upscaling {rgb.width}×{rgb.height} ×{scale} with {n} model(s)")
        estimate = f" · about {duration(seconds)} in all (estimated)"
    for i, (model, net) in enumerate(zip(models, nets)):
        key, name = _label(model, net)

        def step(fraction: float, what: str, i=i, name=name, own=f"{net.name}: ") -> None:
            if progress:  # one name per model: the engine's lines start with its id, shown as the card's name
                what = what[len(own):] if what.startswith(own) else what
                progress((i + fraction) / n, f"model {i + 1}/{n} · {name}: {what}{estimate}")

        step(0.0, "running")
        start = time.perf_counter()
        out = upscale(rgb, net, scale=scale, tile=tile, device=device, backend=backend, progress=step,
                      precision=precision)
        scored = out
        if alpha is not None:  # transparency kept, as upscale() keeps it: alpha upscaled with bicubic
            out = reattach_alpha(out, alpha)
        ran = "" if net.module is None else _ran(net, rgb, tile, device, backend, precision)
        result = SRResult(key, name, out, time.perf_counter() - start, precision=ran)
        if truth is not None:
            result.psnr_y = float(psnr_y(scored, truth, crop=scale))
            result.ssim_y = float(ssim_y(scored, truth, crop=scale))
        comparison.results.append(result)
    if progress:
        progress(1.0, "done")
    return comparison
