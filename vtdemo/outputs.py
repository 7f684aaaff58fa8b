"""Results people keep: PNG, JPEG or WebP (lossy with a quality, or lossless), the source's colour profile and EXIF
carried over, a target size reached from the model's native scale with a high-quality resize, and file names that
say model and scale. One module for the UI, ``vtdemo.upscale_file``, the CLI and the batch engine."""
from __future__ import annotations

import io
import re
from dataclasses import dataclass

from PIL import Image

from vtdemo.imaging import ImageError

FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}  # name: Pillow's
EXTENSIONS = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}
DEFAULT_QUALITY = 92
RESIZE = Image.Resampling.LANCZOS  # from the model's native scale to a requested size
# bounded digit counts and no adjacent repeats: linear time on any text (the text is also capped first)
_SIZE = re.compile(r"^(?:(\d{1,6}) ?[x×] ?(\d{0,6})|[x×] ?(\d{1,6})|(\d{1,2}(?:\.\d{1,3})?))$", re.I)
MAX_SIZE_TEXT = 32
MAX_SIDE = {"png": 2 ** 31 - 1, "jpeg": 65_535, "webp": 16_383}  # what each format can hold
MAX_ICC_BYTES = 4_000_000  # JPEG splits a profile into at most 255 markers of 64 KB


@dataclass(frozen=True)
class OutputSpec:
    """How a result is written. ``size``: "1920x1080" (fit inside, aspect kept), "1920x" (width), "x1080"
    (height), or a factor such as "3" or "2.5"; None: the model's native scale."""

    format: str = "png"
    quality: int = DEFAULT_QUALITY  # JPEG and lossy WebP, 1–100
    lossless: bool = False  # WebP only (PNG is always lossless)
    size: str | None = None

    def __post_init__(self):
        if self.format not in FORMATS:
            raise ValueError(f"unknown output format {self.format!r}: {', '.join(FORMATS)}")
        if not 1 <= int(self.quality) <= 100:
            raise ValueError(f"quality must be 1–100, got {self.quality}")
        if self.size is not None:
            parse_size(self.size)

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.format]

    def describe(self) -> str:
        if self.format == "png":
            return "PNG"
        if self.format == "webp" and self.lossless:
            return "lossless WebP"
        return f"{FORMATS[self.format]} quality {self.quality}"


def parse_size(text: str) -> tuple[int | None, int | None, float | None]:
    """(width, height, factor) of a size request; ValueError with the accepted forms otherwise."""
    text = str(text).strip()
    m = _SIZE.match(text) if len(text) <= MAX_SIZE_TEXT else None
    shown = repr(text[:MAX_SIZE_TEXT]) + ("…" if len(text) > MAX_SIZE_TEXT else "")  # never the whole of it
    if not m:
        raise ValueError(f"size {shown}: use WIDTHxHEIGHT, WIDTHx, xHEIGHT or a factor such as 3")
    w, h, only_h, factor = m.groups()
    width, height = int(w) if w else None, int(h) if h else (int(only_h) if only_h else None)
    f = float(factor) if factor else None
    if any(v is not None and v <= 0 for v in (width, height, f)) or (f is not None and f > 16):
        raise ValueError(f"size {shown}: sides must be positive and a factor at most 16")
    return width, height, f


def target_size(width: int, height: int, size: str | None, native_scale: int) -> tuple[int, int]:
    """The output size for an input of ``width``×``height``: the model's native scale, or the request (aspect kept;
    a box is fitted inside)."""
    if size is None:
        return width * native_scale, height * native_scale
    w, h, factor = parse_size(size)
    if factor is not None:
        scale = factor
    elif w and h:
        scale = min(w / width, h / height)
    else:
        scale = w / width if w else h / height
    return max(1, round(width * scale)), max(1, round(height * scale))


def check_target(size: tuple[int, int], count: int = 1, fmt: str = "png") -> None:
    """Refuse ``count`` outputs of ``size`` over the output limit (all of a request's outputs together), or a side
    the format cannot hold."""
    from vtdemo import limits

    if count * size[0] * size[1] > limits.max_output_pixels():
        what = f"{count} results of {size[0]}×{size[1]}" if count > 1 else f"the requested size {size[0]}×{size[1]}"
        raise ImageError(f"{what[0].upper() + what[1:]} is over the output limit of "
                         f"{limits.max_output_pixels() / 1e6:.0f} MP (VTDEMO_MAX_OUTPUT_PIXELS) for one request.")
    if max(size) > MAX_SIDE[fmt]:
        raise ImageError(f"{FORMATS[fmt]} cannot hold a {size[0]}×{size[1]} image (at most {MAX_SIDE[fmt]:,} px a "
                         "side): choose PNG or a smaller size.")


def resized(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """``image`` at ``size`` with a high-quality (Lanczos) resize; itself when it is that size."""
    check_target(size)
    return image if image.size == size else image.resize(size, RESIZE)


def fitting_profile(icc: bytes | None, mode: str) -> bytes | None:
    """The source's ICC profile when it describes the output's colours (an RGB profile on RGB, a gray one on gray),
    else None: a CMYK camera profile on the RGB result would mis-colour it."""
    if not icc or len(icc) > MAX_ICC_BYTES or len(icc) < 20:
        return None
    space = icc[16:20]
    return icc if (space == b"RGB " and mode in ("RGB", "RGBA")) or (space == b"GRAY" and mode in ("L", "LA")) \
        else None


def encode(image: Image.Image, spec: OutputSpec, icc_profile: bytes | None = None, exif: bytes | None = None) -> bytes:
    """The bytes of ``image`` in ``spec``'s format, with the source's colour profile (where it fits the output's
    colours) and EXIF."""
    from vtdemo.imaging import png_level

    check_target(image.size, fmt=spec.format)
    if spec.format == "jpeg" and image.mode in ("RGBA", "LA"):  # JPEG has no alpha: flattened on white
        rgba = image.convert("RGBA")
        image = Image.new("RGB", image.size, (255, 255, 255))
        image.paste(rgba, mask=rgba.getchannel("A"))
    extra = {k: v for k, v in (("icc_profile", fitting_profile(icc_profile, image.mode)), ("exif", exif)) if v}
    buf = io.BytesIO()
    if spec.format == "png":
        image.save(buf, "PNG", compress_level=png_level(image), **extra)
    elif spec.format == "jpeg":
        image.save(buf, "JPEG", quality=int(spec.quality), optimize=True, **extra)
    else:
        image.save(buf, "WEBP", quality=100 if spec.lossless else int(spec.quality), lossless=spec.lossless,
                   method=4, **extra)
    return buf.getvalue()


def file_name(stem: str, model: str, scale: int, spec: OutputSpec, size: tuple[int, int] | None = None) -> str:
    """``<stem>_<model>_x<scale>[_<W>x<H>].<ext>``: what made it, and its size when one was requested."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-.")[:64] or "image"
    model = re.sub(r"[^A-Za-z0-9._-]+", "-", model).strip("-.")[:64] or "model"
    tail = f"_{size[0]}x{size[1]}" if size else ""
    return f"{safe}_{model}_x{scale}{tail}{spec.extension}"


def caption(model: str, scale: int, native: tuple[int, int], final: tuple[int, int], spec: OutputSpec) -> str:
    """How a result was made, for its caption: the model's scale, then the resize when there was one."""
    text = f"×{scale} by {model}"
    if final != native:
        text += f" ({native[0]}×{native[1]}), then Lanczos to {final[0]}×{final[1]}"
    return f"{text} · {spec.describe()}"


def finish(result: Image.Image, input_size: tuple[int, int], spec: OutputSpec, native_scale: int,
           icc_profile: bytes | None = None, exif: bytes | None = None) -> tuple[bytes, tuple[int, int]]:
    """A model's result as the file to keep: resized to ``spec.size`` (from the input's size), encoded with the
    source's profile and EXIF; (bytes, final size)."""
    final = target_size(*input_size, spec.size, native_scale)
    return encode(resized(result, final), spec, icc_profile, exif), final


def upscale_file(source, model: str = "hat-demo-x4", output=None, *, format: str = "png",
                 quality: int = DEFAULT_QUALITY, lossless: bool = False, size: str | None = None, **upscale_options):
    """Upscale an image file (or bytes) and write the result to keep: ``output`` (a file, or a folder for the
    self-describing name; default: beside ``source``) in ``format`` with ``quality``, at ``size``; EXIF
    orientation applied, the profile and EXIF carried over. Returns the path written."""
    from pathlib import Path

    from vtdemo.imaging import read_limited, read_metadata
    from vtdemo.sr.engine import upscale

    spec = OutputSpec(format, quality, lossless, size)
    data, name = read_limited(source)
    meta = read_metadata(data)
    result = upscale(data, model, **upscale_options)
    scale = result.width // meta.size[0]
    payload, final = finish(result, meta.size, spec, scale, meta.icc_profile, meta.exif)
    stem = Path(name).stem if isinstance(source, (str, Path)) else "image"
    named = file_name(stem, Path(model).stem, scale, spec, final if size else None)
    if output is None:
        path = (Path(source).parent if isinstance(source, (str, Path)) else Path.cwd()) / named
    elif Path(output).is_dir() or str(output).endswith(("/", "\\")):  # a folder, made when it is missing
        Path(output).mkdir(parents=True, exist_ok=True)
        path = Path(output) / named
    else:
        path = Path(output)
    from vtdemo.atomic import write_atomically

    write_atomically(path, payload)
    return path
