"""The work of a request that runs models, as functions decorated for Hugging Face ZeroGPU (``spaces.GPU``; a no-op
anywhere else). On a ZeroGPU Space a GPU is attached only while such a function runs, and ``spaces`` runs it in a
*forked worker process*: its arguments and result are pickled across, so everything passed in is plain data (paths,
images, ids, ``Uploaded``, ``Report``) and everything returned is too (on the CPU).

Around each GPU call, in this process: weights are resolved and downloaded first (never inside the GPU window), what
a later click reuses is cached here (a worker's memory is not this process's), and the call's duration is computed
from the work it will do (``spaces`` asks the scheduler for that much GPU time; the free daily quotas are 2 min
unauthenticated and 5 min with an account). A job whose estimate exceeds the longest call is refused with a
sentence before anything is scheduled."""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass

from vtdemo.runtime import gpu

PARENT_PID = os.getpid()  # the server process; ZeroGPU workers are forks of it
BICUBIC = "bicubic"  # as vtdemo.sr.engine.BICUBIC (not imported: building the app stays free of torch)

# GPU seconds of the work, on ZeroGPU's slice of an H200: derived from the H100 numbers in docs/performance.md (HAT: 0.13 s
# per output megapixel at 20.8M parameters; a slice is about half an H100), then doubled as a margin.
MAX_CALL_SECONDS = 120  # the longest call asked for (the unauthenticated daily quota)
SETUP_SECONDS = 10  # a worker's CUDA start, moving weights, first kernels
SR_SECONDS_PER_MP_MPARAM = 0.025  # per output megapixel per million parameters
LAM_SECONDS_PER_STEP_MP_MPARAM = 2.0  # forward + backward per path step, per input megapixel per million parameters
LOAD_SECONDS_PER_MPARAM = 0.05  # reading a checkpoint and moving it to the GPU
SMALL_CALL_SECONDS = 20  # a classification, a capture, a HAT block
# a class map with its scores: Integrated Gradients' 32 passes and back, 3 maps × 2 curves × 21 passes, twice for
# the randomization check
EXPLAIN_SECONDS = 40


@dataclass(frozen=True)
class Uploaded:
    """An uploaded SR checkpoint as it crosses into a GPU call: its path (loaded there, once per content)."""

    path: str


@dataclass
class Report:
    """Progress of a job that also checks its Stop: ``report(fraction, what)`` (or ``report.steps(done, total)`` for
    LAM). Picklable: inside a ZeroGPU worker the ``gr.Progress`` it holds is forwarded to the page by ``spaces``,
    and the Stop flag is a file (``ui/stop.py``)."""

    progress: object = None  # a gr.Progress, or None
    check: object = None  # StopFlag.check, or None
    start: float = 0.0  # this job's share of the request's progress bar
    span: float = 1.0
    label: str = ""  # put before each message (e.g. the model's name)

    def __call__(self, fraction: float, what: str) -> None:
        if self.check is not None:
            self.check()
        if self.progress is not None:
            self.progress(self.start + self.span * min(max(fraction, 0.0), 1.0), desc=f"{self.label}{what}")

    def steps(self, done: int, total: int) -> None:
        self(done / total if total else 0.0, f"LAM step {done}/{total}")

    def part(self, i: int, n: int, label: str = "") -> "Report":
        """The report of part ``i`` of ``n`` of this job (e.g. one model of a comparison)."""
        return Report(self.progress, self.check, self.start + self.span * i / n, self.span / n, label)


class TooLongForGPU(ValueError):
    """The job needs more GPU time than one ZeroGPU call may take."""


def zero_gpu() -> bool:
    """Whether GPU calls run on ZeroGPU (each in a forked worker with a scheduled duration)."""
    return os.environ.get("SPACES_ZERO_GPU", "").strip().lower() in {"1", "t", "true"}


# --- in this process, before a call ----------------------------------------------------------------------------

WANTED = {"sr": "a super-resolution model", "classify": "a classifier"}


def fetch_weights(models, task: str, report: Report | None = None) -> None:
    """Resolve every zoo model's weights here (downloading them when needed and allowed), so that no download
    happens inside a GPU window; raises the zoo's clear errors (a model of another ``task`` first)."""
    from vtdemo.zoo.cards import get_card
    from vtdemo.zoo.weights import resolve

    for model in models:
        if isinstance(model, str) and model != BICUBIC:
            card = get_card(model)
            if card.task != task:
                raise ValueError(f"{card.id} is a {card.task} model, not {WANTED[task]}.")
            progress = None
            if report is not None:
                def progress(done, total, card=card):
                    report(done / total if total else 0.0, f"downloading {card.source.basename}")
            resolve(card, progress=progress)


def _mparams(model) -> float:
    """Millions of parameters of a zoo id or an upload (its file size / 4 bytes), for time estimates."""
    if isinstance(model, Uploaded):
        return os.path.getsize(model.path) / 4e6
    if model == BICUBIC:
        return 0.02
    from vtdemo.zoo.cards import get_card

    card = get_card(model)
    return (card.params or 20_000_000) / 1e6


def _pixels(image) -> int:
    """Pixels of an image path or PIL image (the header only)."""
    if hasattr(image, "size") and not isinstance(image, (str, os.PathLike)):
        return image.size[0] * image.size[1]
    from vtdemo.imaging import header_size

    size = header_size(image) if image is not None else None
    return size[0] * size[1] if size else 1_000_000


def _fit(seconds: float, what: str) -> int:
    """``seconds`` of GPU work as the duration to ask for; refused over the longest call."""
    seconds = SETUP_SECONDS + seconds
    if zero_gpu() and seconds > MAX_CALL_SECONDS:
        raise TooLongForGPU(f"{what} needs about {seconds:.0f} s of GPU time; one call on this Space may take at "
                            f"most {MAX_CALL_SECONDS} s. Use a smaller image, fewer models or fewer steps.")
    return int(min(MAX_CALL_SECONDS, max(SETUP_SECONDS + 5, seconds)))


def sr_seconds(image, models, *, scale: int, mode: str = "lr", **_) -> int:
    out_mp = _pixels(image) * (1 if mode == "degrade" else scale * scale) / 1e6
    return _fit(_sr_work(out_mp, models), f"Upscaling {out_mp:.1f} output megapixels with {len(models)} model(s)")


def _sr_work(out_mp: float, models) -> float:
    return sum(out_mp * max(1.0, _mparams(m)) * SR_SECONDS_PER_MP_MPARAM + _mparams(m) * LOAD_SECONDS_PER_MPARAM
               for m in models)


def benchmark_seconds(folder, models, scale: int, **_) -> int:
    from pathlib import Path

    out_mp = sum(_pixels(p) for p in Path(folder).iterdir()) / 1e6
    return _fit(_sr_work(out_mp, models), f"The benchmark ({out_mp:.1f} megapixels, {len(models)} model(s))")


def lam_seconds(image, model, point, *, scale: int, steps: int = 50, context: int | None = None, **_) -> int:
    from vtdemo import limits

    pixels = _pixels(image)
    if context is not None or pixels > limits.max_lam_pixels():
        side = 16 // scale + 2 * (context or 24)
        pixels = min(pixels, side * side)
    work = steps * pixels / 1e6 * max(1.0, _mparams(model)) * LAM_SECONDS_PER_STEP_MP_MPARAM \
        + _mparams(model) * LOAD_SECONDS_PER_MPARAM
    return _fit(work, f"LAM with {steps} steps")


def upscale_seconds(image, model, *, scale: int | None = None, **kwargs) -> int:
    card_scale = scale or 4
    if isinstance(model, str) and model != BICUBIC:
        from vtdemo.zoo.cards import get_card

        card_scale = get_card(model).scale or card_scale
    return sr_seconds(image, [model], scale=card_scale)


# --- inside a call (a forked worker on ZeroGPU) ----------------------------------------------------------------

def _in_worker() -> None:
    """A forked ZeroGPU worker must not use torch's CPU thread pool as the parent left it: after the parent ran a
    multi-threaded op, the child's next one hangs (OpenMP is not fork-safe). One thread; the GPU does the work."""
    if os.getpid() != PARENT_PID:
        import torch

        if torch.get_num_threads() != 1:
            torch.set_num_threads(1)


def _model(model):
    """What the task functions accept: an id, or the SRNet of an upload (loaded once per content)."""
    if isinstance(model, Uploaded):
        from vtdemo.sr.compare import uploaded_net

        return uploaded_net(model.path)
    return model


def _call(module: str, function: str, *args, **kwargs):
    """``module.function(*args, **kwargs)`` with its errors as the messages the page shows: a ZeroGPU worker
    passes only a gr.Error's message back (any other exception arrives as its class name)."""
    from vtdemo.ui.errors import user_errors

    _in_worker()
    return user_errors(getattr(importlib.import_module(module), function))(*args, **kwargs)


@gpu(duration=sr_seconds)
def _compare(image, models, **kwargs):
    return _call("vtdemo.sr.compare", "compare", image, [_model(m) for m in models], **kwargs)


@gpu(duration=benchmark_seconds)
def _benchmark(folder, models, scale, **kwargs):
    return _call("vtdemo.sr.benchmark", "benchmark", folder, [_model(m) for m in models], scale, **kwargs)


@gpu(duration=upscale_seconds)
def _upscale(image, model, **kwargs):
    return _call("vtdemo.sr.engine", "upscale", image, _model(model), **kwargs)


@gpu(duration=lam_seconds)
def _lam(image, model, point, **kwargs):
    return _call("vtdemo.sr.lam", "lam_for_image", image, _model(model), point, **kwargs)


def _hat_capture(rgb, model_id: str, group: int, block: int):
    from vtdemo.explain.hat import capture
    from vtdemo.imaging import pil_to_tensor
    from vtdemo.zoo.loading import load_model

    return capture(load_model(model_id), pil_to_tensor(rgb), group, block)


@gpu(duration=SMALL_CALL_SECONDS)
def _hat_block(rgb, model_id: str, group: int, block: int):
    return _call(__name__, "_hat_capture", rgb, model_id, group, block)


@gpu(duration=SMALL_CALL_SECONDS)
def _capture(image, model_id: str):
    return _call("vtdemo.explain.probes", "capture", image, model_id)


@gpu(duration=EXPLAIN_SECONDS)
def _explain(image, model_id: str, target, method: str, sanity: bool):
    return _call("vtdemo.explain.explanation", "explain_class", image, model_id, target, method, sanity=sanity)


@gpu(duration=SMALL_CALL_SECONDS)
def _classify(image, model_id: str, top_k: int):
    return _call("vtdemo.classify.predict", "classify_heads", image, model_id, top_k)


# --- what the tabs call ----------------------------------------------------------------------------------------

def compare(image, models, *, report: Report | None = None, **kwargs):
    """``vtdemo.sr.compare.compare`` on the GPU; ``models`` are ids and ``Uploaded``."""
    fetch_weights(models, "sr", report)
    return _compare(image, list(models), progress=report, **kwargs)


def sr_benchmark(folder, models, scale: int, *, report: Report | None = None, **kwargs):
    fetch_weights(models, "sr", report)
    return _benchmark(folder, list(models), scale, progress=report, **kwargs)


def upscale(image, model, **kwargs):
    fetch_weights([model], "sr")
    return _upscale(image, model, **kwargs)


def lam_for_image(image, model, point, *, report: Report | None = None, **kwargs):
    fetch_weights([model], "sr", report)
    return _lam(image, model, point, progress=report.steps if report is not None else None, **kwargs)


def hat_attention_for_image(image, model_id: str, point, group: int, block: int):
    """HAT's attention for a clicked pixel: the captured block is cached here, so further clicks run nothing on
    the GPU."""
    from vtdemo.explain import hat

    def capture_block(rgb, model_id, group, block):  # on a cache miss only, after the request's checks
        fetch_weights([model_id], "sr")
        return _hat_block(rgb, model_id, group, block)

    return hat.hat_attention_for_image(image, model_id, point, group, block, capture_block=capture_block)


def attention_capture(image, model_id: str):
    """A classifier's capture on ``image``, cached here: a later click only slices it."""
    from vtdemo.explain import probes

    def capture(image, model_id):  # on a cache miss only
        fetch_weights([model_id], "classify")
        return _capture(image, model_id)

    return probes.CACHE.get(image, model_id, compute=capture)


def attention_distance(image, model_id: str):
    from vtdemo.explain import probes

    return probes.attention_distance(image, model_id, capture=attention_capture)


def classify_heads(image, model_id: str, top_k: int):
    fetch_weights([model_id], "classify")
    return _classify(image, model_id, top_k)


def explain_class(image, model_id: str, target, method: str, sanity: bool = False):
    """``vtdemo.explain_class`` with its scores on the GPU (a ``ClassExplanation``: arrays and the model's view)."""
    fetch_weights([model_id], "classify")
    return _explain(image, model_id, target, method, sanity)
