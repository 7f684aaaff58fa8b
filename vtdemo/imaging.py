"""Decode anything a person might upload into 8-bit RGB (+ the alpha channel kept aside), with limits checked before
any pixel is decoded; tensor <-> PIL helpers; BT.601 luma.

Every failure is an ``ImageError`` whose message says what is wrong with the file, fit to show to a user.
"""
from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Union

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from vtdemo import limits

if TYPE_CHECKING:
    import torch

ImageSource = Union[str, os.PathLike, bytes, io.IOBase, Image.Image, np.ndarray]

# Pillow's own bomb guard (Image.MAX_IMAGE_PIXELS) is left as it is: it protects every library in the process.
# Our limit (VTDEMO_MAX_INPUT_PIXELS, lower by default) is checked from the header before any pixel is decoded.
ImageFile.LOAD_TRUNCATED_IMAGES = False
# Formats whose decoders produce the image the header declares. Others (ICO, IPTC/NAA, PSD, ...) can hide a larger
# embedded image that Pillow decodes while opening or loading, past the header check.
FORMATS = ("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "PPM")  # JPEG includes multi-picture (MPO) files
# the file names folders are searched for (CLI batches, evaluation, training): the formats above
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".ppm"})
ROWS_PER_CHUNK = 256  # high-bit-depth conversion works on this many rows at a time (bounded temporaries)


class ImageError(ValueError):
    """The upload is not an image we can use; the message says why."""


class TooManyPixels(ImageError):
    """An image over VTDEMO_MAX_INPUT_PIXELS (``size``: its width and height), which a visitor may downscale."""

    def __init__(self, message: str, size: tuple[int, int]):
        super().__init__(message)
        self.size = size


@dataclass
class DecodedImage:
    rgb: Image.Image  # mode "RGB", 8 bits per channel, EXIF orientation applied
    alpha: Image.Image | None  # mode "L" when the source had transparency
    grayscale: bool  # the source had no colour (L, LA, I;16, F, ...): show results in gray too
    source_mode: str
    source_format: str | None

    @property
    def size(self) -> tuple[int, int]:
        return self.rgb.size


ORIENTATION = 0x0112
# The EXIF an output carries: who made the photo, when, where, with what — IFD0's descriptive tags and the Exif and
# GPS sub-IFDs. Not Orientation (applied to the pixels), not the IFD1 thumbnail (not written by Pillow), not a
# TIFF's strip layout, Photoshop or XMP blobs (megabytes, about other pixels).
KEPT_EXIF_TAGS = frozenset({0x010E, 0x010F, 0x0110, 0x011A, 0x011B, 0x0128, 0x0131, 0x0132, 0x013B, 0x8298,
                            0x8769, 0x8825})
MAX_EXIF_BYTES = 60_000  # JPEG holds at most 65,533 bytes in its APP1 segment


def kept_exif(img: Image.Image) -> bytes | None:
    """The EXIF an output carries (KEPT_EXIF_TAGS), None when there is none, it is too large or it cannot be read."""
    try:
        source = img.getexif()
        kept = Image.Exif()
        for tag in KEPT_EXIF_TAGS & set(source):
            kept[tag] = source.get_ifd(tag) if tag in (0x8769, 0x8825) else source[tag]
        if not kept:
            return None
        data = kept.tobytes()
        return data if len(data) <= MAX_EXIF_BYTES else None
    except Exception:  # malformed EXIF is dropped, never fatal
        return None


@dataclass(frozen=True)
class Metadata:
    """What an output carries from its source, read from the header alone (no pixels decoded)."""
    size: tuple[int, int]  # as seen: after EXIF orientation
    icc_profile: bytes | None
    exif: bytes | None


def read_metadata(source: ImageSource) -> Metadata:
    """The size (orientation applied), colour profile and kept EXIF of an upload, from its header (an array has
    none of them)."""
    if isinstance(source, np.ndarray):
        return Metadata((source.shape[1], source.shape[0]), None, None)
    img = source if isinstance(source, Image.Image) else _open(*read_limited(source), decode=False)
    w, h = img.size
    try:
        turned = img.getexif().get(ORIENTATION) in (5, 6, 7, 8)
    except Exception:
        turned = False
    icc = img.info.get("icc_profile")
    return Metadata((h, w) if turned else (w, h), icc if isinstance(icc, bytes) and icc else None, kept_exif(img))


def _sniff_non_image(head: bytes) -> str | None:
    """A human name for common non-image payloads that people upload by mistake."""
    text = head.lstrip()[:256].lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text):
        return "an SVG (vector) drawing; export it as PNG first"
    if text.startswith((b"<!doctype html", b"<html")):
        return "an HTML page"
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if head.startswith(b"PK\x03\x04"):
        return "a ZIP archive (or a PyTorch checkpoint)"
    try:
        head.decode("utf-8")
        return "a text file"
    except UnicodeDecodeError:
        return None


def read_limited(source) -> tuple[bytes, str]:
    """(the bytes, a name for messages) of a path, file object or bytes, refused (ImageError) when over
    VTDEMO_MAX_UPLOAD_BYTES or empty; a file's size is checked before it is read."""
    max_bytes = limits.max_upload_bytes()
    if isinstance(source, (bytes, bytearray)):
        data, name = bytes(source), "image"
    elif isinstance(source, io.IOBase):
        data, name = source.read(max_bytes + 1), getattr(source, "name", "image")
    else:
        path = Path(source)
        name = path.name
        if not path.is_file():
            raise ImageError(f"{name}: no such file.")
        size = path.stat().st_size
        if size > max_bytes:
            raise ImageError(f"{name} is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB "
                             "(VTDEMO_MAX_UPLOAD_BYTES).")
        data = path.read_bytes()
    if len(data) > max_bytes:
        raise ImageError(f"{name} is over the {max_bytes / 1e6:.1f} MB limit (VTDEMO_MAX_UPLOAD_BYTES).")
    if not data:
        raise ImageError(f"{name} is empty (0 bytes).")
    return data, name


def check_pixels(width: int, height: int, name: str = "The image") -> None:
    max_pixels = limits.max_input_pixels()
    if width * height > max_pixels:
        raise TooManyPixels(f"{name} is {width}×{height} = {width * height / 1e6:.1f} megapixels; the limit is "
                            f"{max_pixels / 1e6:.1f} MP (VTDEMO_MAX_INPUT_PIXELS). Downscale it first.",
                            (width, height))
    if width < 1 or height < 1:
        raise ImageError(f"{name} has no pixels ({width}×{height}).")


def check_aspect(width: int, height: int, name: str = "The image") -> None:
    """Refuse extreme aspect ratios for work done over the whole image (upscaling, HAT attention): resampling
    bookkeeping grows with the long side, so a 1×16 M line costs far more than a square of the same pixels."""
    most = limits.max_aspect()
    if max(width, height) > most * max(1, min(width, height)):
        raise ImageError(f"{name} is {width}×{height}: its aspect ratio is over {most}:1 (VTDEMO_MAX_ASPECT). "
                         "Crop it first.")


def header_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(width, height) from an image file's header, or None when it is not an image vtdemo reads."""
    try:
        Image.init()
        with Image.open(path, formats=FORMATS) as img:
            return img.size
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def _to_uint8(arr: np.ndarray, sixteen_bit: bool) -> np.ndarray:
    """Map integer or float samples to 0..255, a few rows at a time: the temporaries stay small whatever the size
    (a whole-image float64 copy of a 16-MP float TIFF would be 130 MB per operation)."""
    if arr.dtype == np.uint8:
        return arr
    offset, gain = 0.0, 1 / 257.0  # 16-bit: 65535 -> 255
    if np.issubdtype(arr.dtype, np.floating) and not sixteen_bit:
        low, top = np.inf, -np.inf
        for start in range(0, arr.shape[0], ROWS_PER_CHUNK):
            rows = arr[start:start + ROWS_PER_CHUNK]
            finite = rows[np.isfinite(rows)]
            if finite.size:
                low, top = min(low, float(finite.min())), max(top, float(finite.max()))
        offset, gain = 0.0, 1.0
        if top <= 1.0:  # float images are conventionally in [0, 1] (also when nothing is finite)
            gain = 255.0
        elif top > 255.0:  # HDR-ish data: stretch to the full range
            offset, gain = low, 255.0 / max(top - low, 1e-12)
    out = np.empty(arr.shape, dtype=np.uint8)
    for start in range(0, arr.shape[0], ROWS_PER_CHUNK):
        rows = arr[start:start + ROWS_PER_CHUNK].astype(np.float64)
        rows -= offset
        rows *= gain
        np.nan_to_num(rows, copy=False)
        np.clip(rows, 0, 255, out=rows)
        out[start:start + ROWS_PER_CHUNK] = np.rint(rows)
    return out


def _high_bit_depth_to_l(img: Image.Image) -> Image.Image:
    """I;16*, I (16/32-bit integer) and F (float) gray images to 8-bit L."""
    arr = np.asarray(img)
    if img.mode == "F":
        return Image.fromarray(_to_uint8(arr, sixteen_bit=False), "L")
    if img.mode.startswith("I;16") or arr.max(initial=0) > 255 or img.format == "PNG":
        return Image.fromarray(_to_uint8(arr, sixteen_bit=True), "L")
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")


def _normalise(img: Image.Image) -> DecodedImage:
    fmt, mode = img.format, img.mode
    img = ImageOps.exif_transpose(img) or img  # rotation from EXIF Orientation, then the tag is dropped
    alpha = None
    grayscale = mode in {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F", "La"}
    if mode == "P":
        if "transparency" in img.info or img.palette.mode == "RGBA":
            img = img.convert("RGBA")
        else:
            img = img.convert("RGB")
        colours = np.asarray(img)[..., :3]
        grayscale = bool(np.all(colours[..., 0] == colours[..., 1]) and np.all(colours[..., 1] == colours[..., 2]))
    if img.mode in {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}:
        img = _high_bit_depth_to_l(img)
    if img.mode in {"RGBA", "LA", "La", "RGBa", "PA"}:
        rgba = img.convert("RGBA")
        alpha = rgba.getchannel("A")
        if alpha.getextrema() == (255, 255):
            alpha = None  # fully opaque: no need to carry it
        img = rgba.convert("RGB")
    if img.mode != "RGB":
        img = img.convert("RGB")  # L, 1, CMYK (Pillow honours Adobe's inverted CMYK), YCbCr, LAB, HSV
    return DecodedImage(rgb=img, alpha=alpha, grayscale=grayscale, source_mode=mode, source_format=fmt)


def decode_image(source: ImageSource) -> DecodedImage:
    """Decode an upload (path, bytes, file object, PIL image or uint8 array) into RGB + optional alpha.

    Limits (VTDEMO_MAX_UPLOAD_BYTES, VTDEMO_MAX_INPUT_PIXELS) are checked before decoding; animations give their
    first frame; 16-bit and float data are scaled to 8 bits.
    """
    if isinstance(source, np.ndarray):
        if source.ndim not in (2, 3):
            raise ImageError(f"Expected an H×W or H×W×C array, got shape {source.shape}.")
        check_pixels(source.shape[1], source.shape[0])
        arr = source if source.dtype == np.uint8 else _to_uint8(source, sixteen_bit=source.dtype == np.uint16)
        return _normalise(Image.fromarray(arr))
    if isinstance(source, Image.Image):
        check_pixels(*source.size)
        return _normalise(source)
    data, name = read_limited(source)
    return _normalise(_open(data, name, decode=True))


def check_header(source: ImageSource) -> tuple[int, int]:
    """(width, height) of an upload whose bytes, format and header pass every limit decode_image checks, without
    decoding its pixels (milliseconds: an upload is checked on arrival); ImageError with the same sentence
    otherwise."""
    if isinstance(source, (np.ndarray, Image.Image)):
        return decode_image(source).rgb.size
    return _open(*read_limited(source), decode=False).size


DOWNSCALE_FACTOR = 4  # an image up to this many times the pixel limit may be downscaled to fit (bounded decode)


def fit_size(width: int, height: int) -> tuple[int, int]:
    """The largest size of the same aspect within VTDEMO_MAX_INPUT_PIXELS."""
    factor = min(1.0, (limits.max_input_pixels() / (width * height)) ** 0.5)
    return max(1, int(width * factor)), max(1, int(height * factor))


def downscale_to_fit(source: ImageSource, folder: Path) -> Path:
    """An image over the pixel limit (by at most DOWNSCALE_FACTOR) resized to fit it (Lanczos; JPEGs decoded at a
    reduced scale first), written as PNG to a new file in ``folder``; ImageError when it is not such an image."""
    import uuid

    data, name = read_limited(source)
    try:
        check_header(data)
        raise ImageError(f"{name} is within the pixel limit already.")
    except TooManyPixels as big:
        width, height = big.size
    if width * height > DOWNSCALE_FACTOR * limits.max_input_pixels():
        raise ImageError(f"{name} is {width}×{height}: over {DOWNSCALE_FACTOR}× the pixel limit "
                         "(VTDEMO_MAX_INPUT_PIXELS), too large to downscale here. Downscale it before uploading.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # bounded above
            img = Image.open(io.BytesIO(data), formats=FORMATS)
            img.draft("RGB", fit_size(width, height))  # JPEG: decoded at 1/2–1/8 scale while still large enough
            img.seek(0)
            img.load()
            small = _normalise(img)  # EXIF orientation applied: the size to fit is taken after it
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise ImageError(f"{name} is truncated or corrupt ({exc}).") from None
    target = fit_size(*small.rgb.size)
    out = reattach_alpha(small.rgb.resize(target, Image.Resampling.LANCZOS),
                         small.alpha.resize(target, Image.Resampling.LANCZOS) if small.alpha else None)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.png"
    out.save(path)
    return path


def _open(data: bytes, name: str, decode: bool) -> Image.Image:
    """The image in ``data``, its header checked (and with ``decode`` its first frame decoded and checked again)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limit was checked
            Image.init()  # registers every plugin, so that ``formats`` can name them
            img = Image.open(io.BytesIO(data), formats=FORMATS)  # reads the header only
            check_pixels(*img.size, name=name)
            if decode:
                img.seek(0)  # first frame of GIF / WebP / APNG / multi-page TIFF
                img.load()
                check_pixels(*img.size, name=name)  # what was decoded, not only what the header said
    except ImageError:
        raise
    except UnidentifiedImageError:
        kind = _sniff_non_image(data[:512])
        what = f"it looks like {kind}" if kind else f"it is not {', '.join(FORMATS[:-1])} or {FORMATS[-1]}"
        raise ImageError(f"{name} is not an image we can read: {what}.") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{name} declares more than {2 * (Image.MAX_IMAGE_PIXELS or 0) / 1e6:.0f} megapixels "
                         f"(a decompression bomb?); the limit is {limits.max_input_pixels() / 1e6:.1f} MP "
                         "(VTDEMO_MAX_INPUT_PIXELS).") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"{name} is truncated or corrupt ({exc}).") from None
    return img


FAST_PNG_PIXELS = 4_000_000  # above this, PNGs are written with zlib level 1: ~3× faster, ~25 % larger files


def png_level(image: Image.Image) -> int:
    """zlib level for a result PNG: the default for small images, the fastest for big ones (a 12 MP photo takes
    8.1 s at level 6 and 2.4 s at level 1 on a 2-core CPU, 6.6 vs 8.3 MB)."""
    return 1 if image.width * image.height > FAST_PNG_PIXELS else 6


def encode_png(image: Image.Image) -> bytes:
    """The PNG file of a result (lossless; zlib level by ``png_level``)."""
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=png_level(image))
    return out.getvalue()


def reattach_alpha(rgb: Image.Image, alpha: Image.Image | None) -> Image.Image:
    """Put an alpha channel back on an (upscaled) RGB image, resizing the alpha with bicubic when sizes differ."""
    if alpha is None:
        return rgb
    if alpha.size != rgb.size:
        alpha = alpha.resize(rgb.size, Image.Resampling.BICUBIC)
    out = rgb.copy()
    out.putalpha(alpha)
    return out


# --- tensors and colour -----------------------------------------------------------------------------------------

def pil_to_tensor(img: Image.Image) -> "torch.Tensor":
    """RGB PIL image -> (1, 3, H, W) float32 tensor in [0, 1]."""
    import torch

    arr = np.asarray(img.convert("RGB"), dtype=np.float32)  # a new, writable array: no further copy needed
    return torch.from_numpy(arr).div_(255.0).permute(2, 0, 1).unsqueeze(0)


def tensor_to_pil(tensor: "torch.Tensor") -> Image.Image:
    """(1, 3, H, W) or (3, H, W) tensor in [0, 1] -> RGB PIL image (clamped, rounded)."""
    import torch

    t = tensor.detach().cpu()
    if t.ndim == 4:
        t = t[0]
    arr = np.empty((t.shape[1], t.shape[2], 3), dtype=np.uint8)
    for start in range(0, t.shape[1], ROWS_PER_CHUNK):  # a few rows at a time: no full-size float temporaries
        rows = t[:, start:start + ROWS_PER_CHUNK].float().clamp(0, 1).mul_(255.0).round_()
        arr[start:start + ROWS_PER_CHUNK] = rows.to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(arr, "RGB")


def rgb_to_y(rgb: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma as the SR literature computes it: uint8 RGB (or floats in 0..255) -> Y in [16, 235],
    float64: Y = 16 + (65.481 R + 128.553 G + 24.966 B) with R, G, B in [0, 1]."""
    x = np.asarray(rgb, dtype=np.float64) / 255.0
    return 16.0 + x[..., 0] * 65.481 + x[..., 1] * 128.553 + x[..., 2] * 24.966


def save_data_url(url: str, folder: Path) -> Path:
    """A pasted ``data:image/...;base64,`` URL written to a random-named file in ``folder``, refused (ImageError)
    before decoding anything when its encoded size is over the upload limit. The image itself is decoded later by
    ``decode_image``, which checks the header's pixel count first."""
    import base64
    import binascii
    import uuid

    from vtdemo import limits

    header, _, encoded = url.partition(",")
    if not header.startswith("data:") or ";base64" not in header:
        raise ImageError("A pasted image must be a base64 data URL (data:image/...;base64,...).")
    limit = limits.max_upload_bytes()
    if len(encoded) > (limit + 2) // 3 * 4 + 4:
        raise ImageError(f"The pasted image is over the {limit / 1e6:.1f} MB limit (VTDEMO_MAX_UPLOAD_BYTES).")
    try:
        data = base64.b64decode(encoded, validate=False)
    except (binascii.Error, ValueError):
        raise ImageError("The pasted image is not valid base64.") from None
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{uuid.uuid4().hex}.img"  # random: a name must not tell whether an image was pasted
    target.write_bytes(data)
    return target
