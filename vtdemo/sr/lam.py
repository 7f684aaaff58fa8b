"""LAM — Local Attribution Maps (Gu & Dong, CVPR 2021), the HAT paper's tool for "which input pixels does an SR
network use", with the diffusion index DI.

For an output box, the objective is the sum of the SR output's gradient magnitude over the box. The path goes
from a blurred LR image (Gaussian, σ = 1.2) to the LR image itself (σ → 0) in ``steps`` steps; the attribution
integrates the objective's gradient along it:

    attribution = mean_i  ∇f(LR ∗ K_{i+1}) ⊙ (LR ∗ K_{i+1} − LR ∗ K_i) · steps

map = |Σ_channels attribution| / max, and DI = (1 − Gini(map)) · 100 (more pixels used → higher DI). This follows
the reference code (LAM_Demo) exactly, including its reflect-101 borders and NaN-gradient handling; the path steps
are independent, so they run in batches.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vtdemo.sr.engine import BICUBIC

if TYPE_CHECKING:
    from PIL import Image

Progress = Callable[[int, int], None]  # (steps done, steps)


def gaussian_kernels(kernel_size: int, sigma: float, steps: int) -> torch.Tensor:
    """(steps + 1, l, l) isotropic Gaussians with σ = linspace(sigma, 0, steps + 1), each normalised to sum 1."""
    ax = torch.arange(kernel_size, dtype=torch.float64) - (kernel_size - 1) // 2
    sq = ax[None, :] ** 2 + ax[:, None] ** 2
    sigmas = torch.linspace(sigma, 0, steps + 1, dtype=torch.float64)
    k = torch.exp(-sq[None] / (2 * (sigmas[:, None, None] + 1e-5) ** 2))
    return k / k.sum(dim=(1, 2), keepdim=True)


def blur(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """(1, C, h, w) correlated with one (l, l) kernel per channel, reflect-101 borders (OpenCV's filter2D)."""
    c, p = image.shape[1], kernel.shape[-1] // 2
    padded = F.pad(image, (p, p, p, p), mode="reflect")
    return F.conv2d(padded, kernel.to(image)[None, None].expand(c, 1, -1, -1), groups=c)


def gradient_objective(sr: torch.Tensor, x: int, y: int, window: int) -> torch.Tensor:
    """Per sample: the sum over the box [y, y+window) × [x, x+window) of sqrt(dx² + dy²) of the SR output."""
    dy = (sr[:, :, :-1, :] - sr[:, :, 1:, :]) ** 2
    dx = (sr[:, :, :, :-1] - sr[:, :, :, 1:]) ** 2
    magnitude = torch.sqrt(dy[:, :, :, :-1] + dx[:, :, :-1, :])
    return magnitude[:, :, y:y + window, x:x + window].sum(dim=(1, 2, 3))


def gini(values: np.ndarray) -> float:
    """Gini coefficient of a non-negative distribution (LAM's reference formula)."""
    a = np.sort(values.astype(np.float64).ravel())
    if a.min() < 0:
        a = a - a.min()
    a = a + 1e-7
    n = a.size
    index = np.arange(1, n + 1)
    return float(np.sum((2 * index - n - 1) * a) / (n * np.sum(a)))


def diffusion_index(attribution: np.ndarray) -> float:
    """DI = (1 − Gini) · 100, in [0, 100]."""
    return (1.0 - gini(attribution)) * 100.0


class BicubicSR(nn.Module):
    """Differentiable bicubic upscaling, LAM's baseline "model"."""

    def __init__(self, scale: int):
        super().__init__()
        self.scale = scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False)


def default_batch_size(device: torch.device) -> int:
    return 25 if device.type == "cuda" else 10


PROBE = 32  # side (LR pixels) of the patch on which a model's LAM cost is measured


@dataclass(frozen=True)
class StepCost:
    """What one path step (forward + backward of one sample) costs per LR pixel, measured on this device: the memory
    plans the batches; the time only describes the probe (a LAM's time is measured on its own first step)."""

    bytes_per_pixel: float  # tensors autograd keeps for the backward pass, plus the backward's own buffers
    seconds_per_pixel: float


_COSTS: "weakref.WeakKeyDictionary[nn.Module, dict[str, StepCost]]" = weakref.WeakKeyDictionary()


def step_cost(model: nn.Module) -> StepCost:
    """Measured once per model: one forward + backward on a PROBE×PROBE patch, counting the bytes of every tensor
    autograd saves (each storage once) — the activation memory a LAM step holds, which grows with the pixels."""
    import time

    device = next(model.parameters(), torch.zeros(())).device
    per_device = _COSTS.setdefault(model, {})
    if str(device) in per_device:
        return per_device[str(device)]
    saved: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    x = torch.rand(1, 3, PROBE, PROBE, device=device, requires_grad=True)
    with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        for _ in range(2):  # the first pass pays one-off set-up (kernel choices, allocations): only the second,
            saved.clear()  # warm one is counted, or ordinary LAMs are estimated too long and refused
            start = time.perf_counter()
            out = gradient_objective(model(x), 0, 0, min(16, PROBE)).sum()
            torch.autograd.grad(out, x)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            seconds = time.perf_counter() - start
    # measured on hat-demo-x4 (batches of 2, 4 and 7 at 64²): peak memory grows by ~1.25× the saved tensors — the
    # backward pass's gradient buffers come on top of what autograd keeps
    per_device[str(device)] = StepCost(1.25 * sum(saved.values()) / PROBE ** 2, seconds / PROBE ** 2)
    return per_device[str(device)]


def _advice(fast: bool, steps: int) -> str:
    """What would make a refused LAM smaller — never what is already on."""
    options = (["fewer path steps"] if steps > 10 else []) + ([] if fast else ["the fast (neighbourhood) mode",
                                                                            "a smaller image"])
    return "use " + " or ".join(options) if options else "try again when the server is less busy"


def plan_batches(model: nn.Module, pixels: int, steps: int, device: torch.device, fast: bool = False) -> int:
    """Samples per batch so that a batch's activations fit VTDEMO_LAM_MEMORY_MB; refuses (ValueError, with what to
    change) a LAM whose single step does not fit. Its time is judged on its own first step (``path_gradients``)."""
    from vtdemo import limits

    per_sample = step_cost(model).bytes_per_pixel * pixels
    budget = limits.lam_memory_bytes()
    if per_sample > budget:
        raise ValueError(f"LAM on {pixels:,} input pixels needs about {per_sample / 1e6:,.0f} MB per path step, over "
                         f"this server's budget of {budget / 1e6:,.0f} MB (VTDEMO_LAM_MEMORY_MB): "
                         f"{_advice(fast, 0) if not fast else 'use a smaller box or image'}.")
    return max(1, min(default_batch_size(device), int(budget // per_sample)))


class TooLong(ValueError):
    """A LAM whose measured first steps project it over VTDEMO_MAX_LAM_SECONDS (refused after those steps)."""


class LamClock:
    """The projection of a LAM's time from its own steps at its real size (the time so far + the rest at the best
    rate per sample seen), checked against the limit after every pass: its first two steps run alone (the first pays
    one-off set-up, so only a gross excess refuses there), then a batch; the projection after that batch is the
    estimate (a fifth of a 50-step job spent at most) and must be within the limit; later passes may run 1.5× over
    before a slowed-down machine stops the job."""

    # allowed projection / limit after the first, second and third pass (1.5 after): the first step alone can
    # take ten times a warm one (one-off set-up at a new size, seen 5.9 s against 0.45 s), so only a gross excess
    # refuses there; the second, warm step is the estimate
    SLACK = (8.0, 1.5, 1.0)

    def __init__(self, steps: int, limit: float, fast: bool):
        import time

        self.steps, self.limit, self.fast, self.start = steps, limit, fast, time.perf_counter()
        self.estimate: float | None = None  # seconds for the whole LAM, projected after its first three passes
        self.best = float("inf")  # seconds per sample, the fastest pass seen
        self.passes = 0

    def measured(self, done: int, samples: int, seconds: float) -> None:
        import time

        self.best = min(self.best, seconds / samples)
        elapsed = time.perf_counter() - self.start
        projected = elapsed + (self.steps - done) * self.best
        slack = self.SLACK[self.passes] if self.passes < len(self.SLACK) else 1.5
        self.passes += 1
        if self.passes <= len(self.SLACK):
            self.estimate = projected
        if projected > self.limit * slack:
            spent = "its first step" if done == 1 else f"its first {done} steps"
            raise TooLong(f"LAM with {self.steps} path steps would take about {projected:,.0f} s here ({spent} "
                          f"took {elapsed:.1f} s), over this server's limit of {self.limit:g} s "
                          f"(VTDEMO_MAX_LAM_SECONDS): {_advice(self.fast, self.steps)}.")


def path_gradients(model: nn.Module, path: torch.Tensor, x: int, y: int, window: int, batch_size: int,
                   progress: Progress | None = None, clock: LamClock | None = None) -> torch.Tensor:
    """∇ objective at every path image. The objective is per sample and the model treats samples independently, so
    the gradient of the batch's sum is each sample's own gradient. With a ``clock``, the first two steps run alone
    (their time is the LAM's estimate) and the rest ``batch_size`` at a time, or one at a time when that was faster
    per sample (on a CPU large batches are often slower: memory bandwidth, not arithmetic)."""
    import time

    grads = torch.empty_like(path)
    steps = path.shape[0]
    rates: dict[int, float] = {}  # batch size -> seconds per sample, warm
    start = 0
    while start < steps:
        if clock is None:
            size = batch_size
        elif start < 2:  # the first step (set-up included) and a warm one, alone
            size = 1
        else:
            size = batch_size if batch_size not in rates else min(rates, key=rates.get)
        size = min(size, steps - start)
        began = time.perf_counter()
        chunk = path[start:start + size].clone().requires_grad_(True)
        with torch.enable_grad():
            objective = gradient_objective(model(chunk), x, y, window).sum()
            (grad,) = torch.autograd.grad(objective, chunk)
        grads[start:start + size] = torch.nan_to_num(grad, nan=0.0)
        if clock is not None:
            seconds = time.perf_counter() - began
            if start > 0:
                rates[size] = seconds / size
            clock.measured(start + size, size, seconds)
        start += size
        if progress:
            progress(start, steps)
    return grads


def attribution_map(model: nn.Module, lr: torch.Tensor, x: int, y: int, *, window: int = 16, steps: int = 50,
                    sigma: float = 1.2, kernel_size: int = 9, batch_size: int | None = None,
                    context: int | None = None, progress: Progress | None = None,
                    clock: LamClock | None = None) -> tuple[np.ndarray, float]:
    """The LAM map of ``model`` for the ``window``×``window`` output box whose top-left is (x, y) in HR pixels.

    ``lr``: (1, 3, h, w) in [0, 1]. Returns (map, DI): ``map`` float32 (h, w), |Σ_c attribution| / max; DI in
    [0, 100]. ``context``: when set, only the LR region within ``context`` LR pixels of the box is attributed (the
    rest is zero, and DI is computed over that region) — much faster on large images, exact for models whose
    receptive field fits in it, an approximation for models with a global one (channel attention pools the whole
    image). Refused (``TooLong``) when its first step projects it over VTDEMO_MAX_LAM_SECONDS; ``clock`` (a
    ``LamClock``) keeps that projection for the caller.
    """
    if lr.dim() != 4 or lr.shape[0] != 1:
        raise ValueError("lr must be a (1, C, h, w) tensor")
    device = next(model.parameters(), lr).device
    from vtdemo.sr.engine import scale_of

    scale = model.scale if isinstance(model, BicubicSR) else scale_of(model)
    h, w = lr.shape[-2:]
    full = (h, w)
    offset = (0, 0)
    if context is not None:
        top, left = max(0, y // scale - context), max(0, x // scale - context)
        bottom, right = min(h, -(-(y + window) // scale) + context), min(w, -(-(x + window) // scale) + context)
        lr = lr[..., top:bottom, left:right]
        x, y, offset = x - left * scale, y - top * scale, (top, left)
    if (y + window > lr.shape[-2] * scale or x + window > lr.shape[-1] * scale):
        raise ValueError(f"The box ({x}, {y}) + {window} lies outside the {lr.shape[-1] * scale}×"
                         f"{lr.shape[-2] * scale} output.")
    lr = lr.to(device=device, dtype=torch.float32)
    kernels = gaussian_kernels(kernel_size, sigma, steps)
    blurred = torch.cat([blur(lr, k) for k in kernels])  # (steps + 1, C, h, w)
    path, derivative = blurred[1:], (blurred[1:] - blurred[:-1]) * steps
    from vtdemo import limits

    fast = context is not None
    batch_size = batch_size or plan_batches(model, lr.shape[-2] * lr.shape[-1], steps, device, fast)
    clock = clock or LamClock(steps, limits.max_lam_seconds(), fast)
    grads = path_gradients(model, path, x, y, window, batch_size, progress, clock)
    attribution = (grads * derivative).mean(dim=0)  # (C, h, w)
    grad_2d = attribution.sum(dim=0).abs().double().cpu().numpy()
    peak = grad_2d.max()
    crop_map = grad_2d / peak if peak > 0 else grad_2d
    result = np.zeros(full, dtype=np.float64)
    result[offset[0]:offset[0] + crop_map.shape[0], offset[1]:offset[1] + crop_map.shape[1]] = crop_map
    # DI over the pixels attributed: the whole input, or the context region (not diluted by the zeros outside)
    return result.astype(np.float32), diffusion_index(crop_map)


@dataclass
class LamResult:
    model: str
    map: np.ndarray  # (h, w) at LR resolution
    di: float
    lr: "Image.Image"  # the LR image attributed
    box: tuple[int, int, int, int]  # the output box (x0, y0, x1, y1) in HR pixels
    scale: int
    seconds: float


def sr_module(model: str | nn.Module, scale: int) -> nn.Module:
    """A differentiable SR module: "bicubic" → BicubicSR(scale), a zoo id → the loaded model (checked ×scale)."""
    if isinstance(model, nn.Module):
        return model
    if model == BICUBIC:
        return BicubicSR(scale)
    from vtdemo.zoo.cards import get_card
    from vtdemo.zoo.loading import load_model

    card = get_card(model)
    if card.task != "sr":
        raise ValueError(f"{model} is a {card.task} model, not a super-resolution model.")
    if card.scale != scale:
        raise ValueError(f"{card.name} upscales ×{card.scale}, not ×{scale}.")
    return load_model(model)


def box_at(point: tuple[float, float], lr_size: tuple[int, int], scale: int, window: int) -> tuple[int, int]:
    """Top-left (x, y) in HR pixels of the ``window`` box centred on an LR ``point``, kept inside the output."""
    w, h = lr_size[0] * scale, lr_size[1] * scale
    x = int(round(point[0] * scale + scale / 2 - window / 2))
    y = int(round(point[1] * scale + scale / 2 - window / 2))
    return min(max(0, x), w - window), min(max(0, y), h - window)


CONTEXT = 24  # LR pixels around the box attributed when LAM is limited to a neighbourhood (the "fast" option)


def lam_for_image(image, model: str | nn.Module, point: tuple[float, float], *, scale: int, window: int = 16,
                  steps: int = 50, context: int | None = None, progress: Progress | None = None,
                  name: str | None = None) -> LamResult:
    """LAM of ``model`` for the box centred on LR pixel ``point`` of ``image`` (any image source)."""
    import time

    from vtdemo import limits
    from vtdemo.imaging import decode_image, pil_to_tensor

    if not 1 <= steps <= limits.max_lam_steps():
        raise ValueError(f"steps must be between 1 and {limits.max_lam_steps()} (VTDEMO_MAX_LAM_STEPS).")
    rgb = decode_image(image).rgb
    if not (0 <= point[0] < rgb.width and 0 <= point[1] < rgb.height):
        raise ValueError(f"Pixel ({point[0]}, {point[1]}) is outside the {rgb.width}×{rgb.height} input.")
    if rgb.width * scale < window or rgb.height * scale < window:
        raise ValueError(f"The image is too small for a {window}×{window} box at ×{scale}.")
    if rgb.width * rgb.height > limits.max_lam_pixels() and context is None:
        context = CONTEXT  # whole-image LAM on a big input would take minutes: attribute a neighbourhood
    module = sr_module(model, scale)
    x, y = box_at(point, rgb.size, scale, window)
    start = time.perf_counter()
    amap, di = attribution_map(module, pil_to_tensor(rgb), x, y, window=window, steps=steps, context=context,
                               progress=progress)
    label = name or (model if isinstance(model, str) else type(model).__name__)
    return LamResult(label, amap, di, rgb, (x, y, x + window, y + window), scale, time.perf_counter() - start)
