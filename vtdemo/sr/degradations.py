"""Real-world degradations: the second-order model of Real-ESRGAN (Wang et al., ICCVW 2021, §3), written from the
paper and its published training options (``options/train_realesrnet_x4plus.yml``).

Each of two rounds: blur (isotropic / anisotropic Gaussian, generalized Gaussian, plateau, or a sinc filter) →
resize (up, down or keep; area, bilinear or bicubic) → Gaussian or Poisson noise (colour or gray) → JPEG. Then the
resize to the target LR size with a final sinc filter (ringing), and JPEG, in random order. The probabilities and
ranges are the paper's; they live in :class:`Round` and :data:`FINAL_SINC_PROB`, typed once.

:func:`degrade` draws that second-order model for half of the samples and, for the other half, the first-order
*web* model of a downscaled, maybe noisy, JPEG-saved photo (:data:`WEB`). Measured reason: trained on the
second-order model alone, the demo HAT beat the bicubic-trained one on second-order inputs (+0.30 dB Set5) but lost
0.6 dB on plain JPEG-50 inputs — it sharpened blur that was not there (docs/models.md).

Everything works on one float image tensor (3, H, W) in [0, 1] and draws from a ``numpy.random.Generator``, so a
sample is a pure function of its seed (training batches, the held-out degraded benchmarks).
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

KERNEL_SIZES = tuple(range(7, 22, 2))  # odd sizes 7..21
KERNEL_KINDS = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")
KERNEL_PROBS = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
RESIZE_MODES = ("area", "bilinear", "bicubic")
FINAL_SINC_PROB = 0.8
SECOND_ORDER_PROB = 0.5  # else the web model


@dataclass(frozen=True)
class Web:
    """The first-order web model: antialiased bicubic downscale, Gaussian noise (maybe), JPEG."""
    noise_prob: float = 0.5
    noise_sigma: tuple[float, float] = (1, 15)  # 0..255 units
    gray_noise_prob: float = 0.4
    jpeg_quality: tuple[int, int] = (40, 95)


WEB = Web()


@dataclass(frozen=True)
class Round:
    """One round of the second-order model (the paper's values: first and second)."""
    blur_prob: float
    sigma: tuple[float, float]  # Gaussian kernel std, px
    beta_generalized: tuple[float, float]
    beta_plateau: tuple[float, float]
    sinc_prob: float
    resize_probs: tuple[float, float, float]  # up, down, keep
    resize_range: tuple[float, float]
    gaussian_noise_prob: float  # else Poisson
    noise_sigma: tuple[float, float]  # Gaussian noise std, in 0..255 units
    poisson_scale: tuple[float, float]
    gray_noise_prob: float
    jpeg_quality: tuple[int, int]


FIRST = Round(1.0, (0.2, 3.0), (0.5, 4.0), (1.0, 2.0), 0.1, (0.2, 0.7, 0.1), (0.15, 1.5), 0.5, (1, 30),
              (0.05, 3.0), 0.4, (30, 95))
SECOND = Round(0.8, (0.2, 1.5), (0.5, 4.0), (1.0, 2.0), 0.1, (0.3, 0.4, 0.3), (0.3, 1.2), 0.5, (1, 25),
               (0.05, 2.5), 0.4, (30, 95))


# ---------------------------------------------------------------- kernels

def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    r = np.arange(size) - size // 2
    return np.meshgrid(r, r, indexing="xy")


def mahalanobis2(size: int, sigma_x: float, sigma_y: float, theta: float) -> np.ndarray:
    """x^T Σ^-1 x on a size×size grid for the covariance with principal stds (sigma_x, sigma_y) rotated by theta."""
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    cov = rot @ np.diag([sigma_x ** 2, sigma_y ** 2]) @ rot.T
    x, y = _grid(size)
    xy = np.stack([x, y], -1).astype(np.float64)
    return np.einsum("...i,ij,...j->...", xy, np.linalg.inv(cov), xy)


def shaped_kernel(size: int, sigma_x: float, sigma_y: float, theta: float, shape: str = "gaussian",
                  beta: float = 1.0) -> np.ndarray:
    """Normalised blur kernel: Gaussian exp(-d²/2), generalized exp(-(d²)^β / 2) or plateau 1 / (1 + (d²)^β)."""
    d2 = mahalanobis2(size, sigma_x, sigma_y, theta)
    if shape == "gaussian":
        k = np.exp(-0.5 * d2)
    elif shape == "generalized":
        k = np.exp(-0.5 * d2 ** beta)
    elif shape == "plateau":
        k = 1.0 / (d2 ** beta + 1.0)
    else:
        raise ValueError(f"unknown kernel shape {shape!r}")
    return k / k.sum()


def sinc_kernel(size: int, cutoff: float) -> np.ndarray:
    """The circular low-pass filter of cutoff ω_c (radians/px): ω_c J1(ω_c r) / (2π r), ω_c² / 4π at the centre."""
    from scipy.special import j1

    x, y = _grid(size)
    r = np.hypot(x, y)
    with np.errstate(invalid="ignore", divide="ignore"):
        k = cutoff * j1(cutoff * r) / (2 * np.pi * r)
    k[size // 2, size // 2] = cutoff ** 2 / (4 * np.pi)
    return k / k.sum()


def _beta(rng: np.random.Generator, low: float, high: float) -> float:
    # half the draws below 1 (sharper than Gaussian), half above, as the reference sampler does
    return rng.uniform(low, 1.0) if rng.uniform() < 0.5 and low < 1 else rng.uniform(max(1.0, low), high)


def random_kernel(rng: np.random.Generator, stage: Round) -> np.ndarray:
    size = int(rng.choice(KERNEL_SIZES))
    if rng.uniform() < stage.sinc_prob:
        return sinc_kernel(size, rng.uniform(math.pi / 3 if size < 13 else math.pi / 5, math.pi))
    kind = KERNEL_KINDS[rng.choice(len(KERNEL_KINDS), p=KERNEL_PROBS)]
    sx = rng.uniform(*stage.sigma)
    sy, theta = (rng.uniform(*stage.sigma), rng.uniform(-math.pi, math.pi)) if kind.endswith("aniso") else (sx, 0.0)
    if kind.startswith("generalized"):
        return shaped_kernel(size, sx, sy, theta, "generalized", _beta(rng, *stage.beta_generalized))
    if kind.startswith("plateau"):
        return shaped_kernel(size, sx, sy, theta, "plateau", _beta(rng, *stage.beta_plateau))
    return shaped_kernel(size, sx, sy, theta)


# ---------------------------------------------------------------- operations on (3, H, W) in [0, 1]

def blur(img: torch.Tensor, kernel: np.ndarray) -> torch.Tensor:
    """Reflect-padded convolution by FFT (kernels up to 21², where a direct depthwise conv is ~6× slower on CPU);
    every kernel here is point-symmetric, so convolution and correlation agree."""
    from scipy.signal import fftconvolve

    pad = kernel.shape[-1] // 2
    x = F.pad(img[None].float().cpu(), (pad,) * 4, mode="reflect" if min(img.shape[-2:]) > pad else "replicate")
    out = fftconvolve(x[0].numpy(), kernel[None], mode="valid", axes=(1, 2))
    return torch.from_numpy(np.ascontiguousarray(out)).to(img.device, img.dtype)


def resize(img: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    kwargs = {} if mode == "area" else {"align_corners": False}
    return F.interpolate(img[None], size=size, mode=mode, **kwargs)[0]


def gaussian_noise(img: torch.Tensor, sigma: float, gray: bool, rng: np.random.Generator) -> torch.Tensor:
    shape = (1, *img.shape[1:]) if gray else img.shape
    noise = torch.as_tensor(rng.standard_normal(shape), dtype=img.dtype) * (sigma / 255)
    return img + noise.to(img.device)


def poisson_noise(img: torch.Tensor, scale: float, gray: bool, rng: np.random.Generator) -> torch.Tensor:
    """Shot noise of an 8-bit image (256 levels as photon counts), scaled; on luma only when ``gray``."""
    base = img.clamp(0, 1)
    if gray:
        base = (0.299 * base[0] + 0.587 * base[1] + 0.114 * base[2])[None]
    base = (base * 255).round() / 255
    counts = base.double().cpu().numpy() * 256
    noise = torch.as_tensor(rng.poisson(counts) / 256 - base.double().cpu().numpy(), dtype=img.dtype)
    return img + noise.to(img.device) * scale


def jpeg(img: torch.Tensor, quality: int) -> torch.Tensor:
    """A real JPEG round trip (libjpeg through Pillow, 4:2:0 as cameras and the web use)."""
    arr = (img.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=int(quality))
    out = np.asarray(Image.open(buf).convert("RGB"))
    return torch.from_numpy(out.copy()).permute(2, 0, 1).to(img.device, img.dtype) / 255


def _round(img: torch.Tensor, stage: Round, base: tuple[int, int], rng: np.random.Generator) -> torch.Tensor:
    if rng.uniform() < stage.blur_prob:
        img = blur(img, random_kernel(rng, stage))
    direction = rng.choice(3, p=stage.resize_probs)
    factor = rng.uniform(1, stage.resize_range[1]) if direction == 0 else (
        rng.uniform(stage.resize_range[0], 1) if direction == 1 else 1.0)
    size = (max(1, int(base[0] * factor)), max(1, int(base[1] * factor)))
    img = resize(img, size, RESIZE_MODES[rng.choice(3)])
    gray = rng.uniform() < stage.gray_noise_prob
    if rng.uniform() < stage.gaussian_noise_prob:
        img = gaussian_noise(img, rng.uniform(*stage.noise_sigma), gray, rng)
    else:
        img = poisson_noise(img, rng.uniform(*stage.poisson_scale), gray, rng)
    return jpeg(img, int(rng.integers(stage.jpeg_quality[0], stage.jpeg_quality[1] + 1)))


def degrade(hr: torch.Tensor, scale: int, rng: np.random.Generator) -> torch.Tensor:
    """The training degradation of an HR image (3, H, W), H and W multiples of ``scale``: second-order with
    probability :data:`SECOND_ORDER_PROB`, else the web model; the LR image (3, H/scale, W/scale), 8-bit values."""
    if rng.uniform() < SECOND_ORDER_PROB:
        return second_order(hr, scale, rng)
    return web(hr, scale, rng)


def web(hr: torch.Tensor, scale: int, rng: np.random.Generator) -> torch.Tensor:
    h, w = hr.shape[-2:]
    img = F.interpolate(hr[None], size=(h // scale, w // scale), mode="bicubic", antialias=True,
                        align_corners=False)[0]
    if rng.uniform() < WEB.noise_prob:
        img = gaussian_noise(img, rng.uniform(*WEB.noise_sigma), rng.uniform() < WEB.gray_noise_prob, rng)
    img = jpeg(img, int(rng.integers(WEB.jpeg_quality[0], WEB.jpeg_quality[1] + 1)))
    return (img.clamp(0, 1) * 255).round() / 255


def second_order(hr: torch.Tensor, scale: int, rng: np.random.Generator) -> torch.Tensor:
    """Real-ESRGAN's second-order degradation (module docstring)."""
    h, w = hr.shape[-2:]
    img = _round(hr, FIRST, (h, w), rng)
    # the second round's resize is relative to the target LR size, as in the paper's pipeline
    img = _round(img, SECOND, (h // scale, w // scale), rng)
    target, mode = (h // scale, w // scale), RESIZE_MODES[rng.choice(3)]
    final = sinc_kernel(int(rng.choice(KERNEL_SIZES)), rng.uniform(math.pi / 3, math.pi)) \
        if rng.uniform() < FINAL_SINC_PROB else None
    quality = int(rng.integers(SECOND.jpeg_quality[0], SECOND.jpeg_quality[1] + 1))
    if rng.uniform() < 0.5:  # resize + sinc, then JPEG
        img = resize(img, target, mode)
        img = jpeg(blur(img, final) if final is not None else img, quality)
    else:  # JPEG, then resize + sinc
        img = resize(jpeg(img, quality), target, mode)
        img = blur(img, final) if final is not None else img
    return (img.clamp(0, 1) * 255).round() / 255


def degrade_image(image: Image.Image, scale: int, seed: int) -> Image.Image:
    """:func:`degrade` of a PIL image (cropped to a multiple of ``scale``) with a seeded generator."""
    w, h = image.size
    hr = np.asarray(image.convert("RGB").crop((0, 0, w - w % scale, h - h % scale)))
    t = torch.from_numpy(hr.copy()).permute(2, 0, 1).float() / 255
    lr = degrade(t, scale, np.random.default_rng(seed))
    return Image.fromarray((lr * 255).round().byte().permute(1, 2, 0).numpy())
