"""Odd and hostile image files, generated (no binary fixtures): name -> (bytes, file name)."""
from __future__ import annotations

import io

import numpy as np
from PIL import Image

from vtdemo.bench._files import bomb_png


def _png(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", **kw)
    return buf.getvalue()


def _jpeg(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", **kw)
    return buf.getvalue()


def photo(w: int, h: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray((rng.random((max(1, h // 8), max(1, w // 8), 3)) * 255).astype(np.uint8)).resize(
        (w, h), Image.BICUBIC)


def corpus() -> dict[str, tuple[bytes, str]]:
    """Each entry: (file bytes, file name). Bad ones are listed in BAD with a word their error must contain."""
    rgb = photo(48, 40)
    exif_img = photo(40, 24)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° CW on display
    rgba = rgb.convert("RGBA")
    rgba.putalpha(128)
    la = rgb.convert("LA")
    la.putalpha(Image.linear_gradient("L").resize(la.size))  # real transparency
    palette = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette.info["transparency"] = 0
    frames = [photo(32, 32, s) for s in range(3)]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    tiff = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).random((30, 40)).astype(np.float32), mode="F").save(tiff, format="TIFF")
    sixteen = Image.fromarray((np.random.default_rng(1).random((30, 40)) * 65535).astype(np.uint16))
    return {
        "zero-byte": (b"", "empty.png"),
        "truncated-png": (_png(rgb)[:200], "truncated.png"),
        "truncated-jpeg": (_jpeg(rgb)[:300], "truncated.jpg"),
        "html-as-png": (b"<!DOCTYPE html><html><body>hello</body></html>", "page.png"),
        "svg-as-png": (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "vector.png"),
        "text-as-png": (b"just some text, not an image\n" * 5, "notes.png"),
        "bomb": (bomb_png(), "bomb.png"),
        "1x1": (_png(photo(1, 1)), "one.png"),
        "3x3": (_png(photo(3, 3)), "three.png"),
        "16-bit": (_png(sixteen), "sixteen.png"),
        "cmyk-jpeg": (_jpeg(rgb.convert("CMYK")), "cmyk.jpg"),
        "palette-transparency": (_png(palette), "palette.png"),
        "rgba": (_png(rgba), "rgba.png"),
        "la": (_png(la), "la.png"),
        "animated-gif": (gif.getvalue(), "anim.gif"),
        "exif-rotated": (_jpeg(exif_img, exif=exif), "rotated.jpg"),
        "float-tiff": (tiff.getvalue(), "float.tiff"),
        "grayscale": (_png(rgb.convert("L")), "gray.png"),
    }


# the files that must be refused, with a word the message must contain
BAD = {"zero-byte": "empty", "truncated-png": "truncated", "truncated-jpeg": "truncated", "html-as-png": "HTML",
       "svg-as-png": "SVG", "text-as-png": "not an image", "bomb": "pixels"}
