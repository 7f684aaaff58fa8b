"""Look at an input before upscaling it: how it was made, and which kind of model fits it.

Estimates, each with the error it was tested at (tests/unit/test_inspection.py, on images the tests degrade by
known amounts):

- **JPEG quality** from the file's own luminance quantisation table, matched against the IJG tables libjpeg scales
  from its quality setting (exact for files saved by libjpeg-based encoders such as Pillow; the nearest quality for
  cameras' own tables);
- **noise σ** (0..255 units) with scikit-image's wavelet estimator (``estimate_sigma``, Donoho's MAD rule), the
  mean over R, G, B; within ±1.5 + 15 % of the true σ of added Gaussian noise (a clean photo measures 0.5–2);
- **blur σ** (px) from how much a known extra Gaussian blur (σ_r = 1.5) removes of the gradient energy: for a blurred
  step edge that energy goes as 1/σ, so the ratio ρ gives σ = σ_r ρ / √(1 − ρ²); within 25 % + 0.6 px of the blur
  added to a sharp photo (the photo's own blur, ~0.6 px, included);
- **detail stops at 1/s** (×2, ×3, ×4): under 0.8 % of the spectral power lies above 1/s of Nyquist, as after a
  bicubic enlargement by s (measured 0.2–0.6 %; camera photos 2–20 %) — or a blur of σ ≳ 1 px, which removes the
  same frequencies: either way an SR model has no detail there to recover;
- size and colour profile (the ICC profile's description).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from vtdemo.imaging import ImageSource

# The IJG (JPEG Annex K) luminance table libjpeg scales by the quality setting, in natural (row-major) order.
IJG_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99])
REBLUR = 1.5  # σ of the known extra blur the blur estimate measures against
NOISY = 3.0  # σ above which an image counts as noisy (clean photos measured 0.5–2.2)
COMPRESSED = 90  # JPEG quality below which its artefacts show at ×2–×4
BLURRED = 1.5  # px
DETAIL_FLOOR = 0.008  # share of spectral power above 1/s of Nyquist under which the image "stops at 1/s"
MAX_SIDE = 1024  # the estimates look at most this many pixels per side (bounded time on huge uploads)
MAX_PROFILE_NAME = 64


def ijg_table(quality: int) -> np.ndarray:
    """The luminance table libjpeg writes at ``quality`` (1–100)."""
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    return np.clip(np.floor((IJG_LUMA * scale + 50) / 100), 1, 255)


def jpeg_quality(quantization: dict | None) -> int | None:
    """The IJG quality whose luminance table is nearest the file's (None: not a JPEG)."""
    if not quantization or 0 not in quantization:
        return None
    table = np.asarray(quantization[0], dtype=np.float64)[:64]
    errors = [np.abs(ijg_table(q) - table).sum() for q in range(1, 101)]
    return int(np.argmin(errors)) + 1


def luma(rgb: Image.Image) -> np.ndarray:
    return np.asarray(rgb.convert("L"), dtype=np.float64)


def noise_sigma(rgb: np.ndarray) -> float:
    from skimage.restoration import estimate_sigma

    sigma = float(estimate_sigma(rgb / 255.0, channel_axis=-1, average_sigmas=True)) * 255.0
    return sigma if math.isfinite(sigma) else 0.0  # a flat channel has no detail coefficients: no noise seen


def _gradient_energy(y: np.ndarray) -> float:
    from scipy import ndimage

    return float(np.mean(ndimage.sobel(y, 0) ** 2 + ndimage.sobel(y, 1) ** 2))


def blur_sigma(y: np.ndarray) -> float:
    from scipy import ndimage

    energy = _gradient_energy(y)
    if energy <= 1e-9:
        return float("inf")  # flat: no edge to measure
    rho = min(_gradient_energy(ndimage.gaussian_filter(y, REBLUR)) / energy, 0.999)
    return REBLUR * rho / math.sqrt(1 - rho ** 2)


def _radial_power(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Power spectrum of the (windowed) luma against radial frequency (cycles/px, Nyquist = 0.5)."""
    h, w = y.shape
    window = np.outer(np.hanning(h), np.hanning(w))
    power = np.abs(np.fft.fftshift(np.fft.fft2((y - y.mean()) * window))) ** 2
    fy, fx = np.meshgrid(np.fft.fftshift(np.fft.fftfreq(h)), np.fft.fftshift(np.fft.fftfreq(w)), indexing="ij")
    return np.hypot(fy, fx).ravel(), power.ravel()


def upscaled_factor(y: np.ndarray) -> int | None:
    """The largest s in (4, 3, 2) with under DETAIL_FLOOR of the power (DC excluded) above 0.5/s cycles/px."""
    if min(y.shape) < 64:
        return None
    radius, power = _radial_power(y)
    total = power[radius > 0.01].sum()
    if total <= 0:
        return None  # flat
    return next((s for s in (4, 3, 2) if power[radius > 0.5 / s].sum() / total < DETAIL_FLOOR), None)


def _profile_name(icc: bytes | None) -> str | None:
    if not icc:
        return None
    try:
        import io

        from PIL import ImageCms

        name = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc)))
    except Exception:  # a broken profile is reported, not fatal
        return "unreadable ICC profile"
    # the file's own words, shown to people: printable and short (the page escapes its Markdown)
    return "".join(c for c in name if c.isprintable()).strip()[:MAX_PROFILE_NAME] or "unnamed"


@dataclass(frozen=True)
class Inspection:
    width: int
    height: int
    format: str | None
    jpeg_quality: int | None
    noise_sigma: float
    blur_sigma: float
    upscaled: int | None
    profile: str | None
    reasons: tuple[str, ...] = field(default=())

    @property
    def real_world(self) -> bool:
        """Whether a model trained on real degradations should do better than a bicubic-trained one."""
        return bool(self.reasons)

    def summary(self) -> str:
        """One line for the page: what was measured, and which kind of model fits."""
        parts = [f"{self.width}×{self.height} {self.format or 'image'}"]
        if self.jpeg_quality is not None:
            parts.append(f"JPEG quality ≈ {self.jpeg_quality}")
        parts.append(f"noise σ ≈ {self.noise_sigma:.1f}")
        parts.append(f"blur σ ≈ {self.blur_sigma:.1f} px" if math.isfinite(self.blur_sigma) else "no edges")
        if self.upscaled:
            parts.append(f"detail stops at 1/{self.upscaled} of its size")
        if self.profile:
            parts.append(f"colour profile “{self.profile}”")
        if self.real_world:
            verdict = f"{' and '.join(self.reasons)}: a model trained on real degradations will do better than a " \
                      "bicubic one"
        else:
            verdict = "clean: a bicubic-trained model fits"
        if self.upscaled:
            verdict += f"; it was enlarged ×{self.upscaled} (or blurred) before, so expect little new detail"
        return ", ".join(parts) + " — " + verdict + "."


def inspect_image(image: ImageSource) -> Inspection:
    """Measure an upload (path, bytes, PIL image, array): JPEG quality, noise, blur, prior upscaling, profile."""
    from vtdemo.imaging import decode_image, read_limited, _open

    quantization, fmt, icc = None, None, None
    if isinstance(image, Image.Image):
        quantization, fmt, icc = getattr(image, "quantization", None), image.format, image.info.get("icc_profile")
    elif not isinstance(image, np.ndarray):
        data, name = read_limited(image)
        header = _open(data, name, decode=False)
        quantization, fmt, icc = getattr(header, "quantization", None), header.format, header.info.get("icc_profile")
        image = data
    rgb = decode_image(image).rgb
    w, h = rgb.size
    small = rgb
    if max(w, h) > MAX_SIDE:  # measured on the centre crop: downscaling would change noise and blur
        left, top = (w - min(w, MAX_SIDE)) // 2, (h - min(h, MAX_SIDE)) // 2
        small = rgb.crop((left, top, left + min(w, MAX_SIDE), top + min(h, MAX_SIDE)))
    y = luma(small)
    quality = jpeg_quality(quantization) if fmt in ("JPEG", "MPO") else None
    sigma, blur, up = noise_sigma(np.asarray(small, dtype=np.float64)), blur_sigma(y), upscaled_factor(y)
    reasons = []
    if quality is not None and quality < COMPRESSED:
        reasons.append(f"JPEG quality ≈ {quality}")
    if sigma > NOISY:
        reasons.append(f"noise σ ≈ {sigma:.1f}")
    if math.isfinite(blur) and blur > BLURRED and not up:  # an enlargement's blur is said as such instead
        reasons.append(f"blurred (σ ≈ {blur:.1f} px)")
    return Inspection(w, h, fmt, quality, sigma, blur, up, _profile_name(icc), tuple(reasons))


def suggested_models(inspection: Inspection, scale: int, available: list[str]) -> tuple[list[str], str]:
    """The compare selection that fits, among ``available`` (this scale's): bicubic and the bicubic-trained model
    for a clean input; for a degraded one the real-world model too, last (the slider's right side), the
    bicubic-trained one beside it to see the difference. With the reason in words."""
    from vtdemo.zoo.cards import REAL_WORLD

    real = [m for m in available if m in REAL_WORLD]
    fidelity = [m for m in available if m not in REAL_WORLD and m != "bicubic"]
    demo = f"hat-demo-x{scale}"  # the default bicubic-trained model where it exists
    fidelity = ([demo] if demo in fidelity else []) + [m for m in fidelity if m != demo]
    if inspection.real_world and real:  # last: the slider shows it on the right, against bicubic
        return ["bicubic", *fidelity[:1], real[0]], f"{', '.join(inspection.reasons)}: {real[0]} fits"
    why = "a clean input: a bicubic-trained model fits" if not inspection.real_world else \
        f"{', '.join(inspection.reasons)}, but no real-world model of this scale is available"
    return ["bicubic", *fidelity[:1]], why
