"""Example images the app offers: test charts and scenes drawn here, and scikit-image's public-domain photos.

Nothing is shipped as a binary: charts are generated and photos read from scikit-image at run time, then written
once as PNG into a cache folder (Gradio's examples need files).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")  # skimage.data, public domain


def zone_plate(size: int = 192) -> Image.Image:
    """A circular zone plate: frequency rising with radius, the classic aliasing / resolution test."""
    r = np.hypot(*np.meshgrid(np.arange(size) - size / 2, np.arange(size) - size / 2))
    v = 0.5 + 0.5 * np.cos(np.pi * r ** 2 / size)
    return Image.fromarray(np.repeat((v * 255).round().astype(np.uint8)[..., None], 3, -1))


def resolution_wedge(width: int = 240, height: int = 160) -> Image.Image:
    """Black/white line wedges converging to a point (a resolution chart), with a Siemens star beside them."""
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    for i in range(12):  # wedge lines fanning out from the left edge
        draw.line((4, height // 2, width // 2 - 8, 8 + i * (height - 16) / 11), fill="black", width=1)
    cx, cy, rad = width * 3 // 4, height // 2, min(width // 4, height // 2) - 6
    for k in range(18):  # Siemens star: 18 black sectors
        draw.pieslice((cx - rad, cy - rad, cx + rad, cy + rad), k * 20, k * 20 + 10, fill="black")
    return img


def rendered_text(width: int = 256, height: int = 112) -> Image.Image:
    """Small text on coloured stripes: edges, thin strokes and colour fringes in one image."""
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    for i, colour in enumerate(("#1d4ed8", "#b91c1c", "#15803d", "#7c3aed")):
        draw.rectangle((i * width // 4, 0, (i + 1) * width // 4, 14), fill=colour)
    lines = ["Hybrid Attention Transformer", "activates more pixels x4", "0123456789 - ABCDEFG abcdefg"]
    for j, (line, size) in enumerate(zip(lines, (14, 12, 10))):
        draw.text((6, 20 + j * 28), line, fill="black", font=ImageFont.load_default(size))
    return img


def golf_ball(size: int = 320) -> Image.Image:
    """A rendered golf ball on grass — an object of one of the demo classifiers' 10 classes, made by the project
    (the Imagenette photos they were trained on may not be shipped)."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) * (320 / size)
    noise = rng.normal(0, 1, (size, size)).astype(np.float32)
    grass = np.asarray(Image.fromarray(((noise - noise.min()) / np.ptp(noise) * 255).astype(np.uint8))
                       .filter(ImageFilter.GaussianBlur(1)), np.float32) / 255
    img = np.stack([40 + 60 * grass, 110 + 90 * grass, 30 + 40 * grass], -1)
    cx, cy, r = 165, 150, 90
    dx, dy = (xx - cx) / r, (yy - cy) / r
    inside = dx ** 2 + dy ** 2 < 1
    dz = np.sqrt(np.clip(1 - dx ** 2 - dy ** 2, 0, 1))
    light = np.array([-0.4, -0.5, 0.77]) / np.linalg.norm([-0.4, -0.5, 0.77])
    shade = np.clip(dx * light[0] + dy * light[1] + dz * light[2], 0, 1)  # Lambert
    u, v = np.arctan2(dx, dz) * 9, np.arcsin(np.clip(dy, -1, 1)) * 9  # dimples on a lattice of the sphere's angles
    dimples = (np.cos(u * 3.2) * np.cos(v * 3.2) > 0.55) * 0.12
    ball = np.clip(0.25 + 0.8 * shade - dimples, 0, 1) * 245
    img = np.where(inside[..., None], ball[..., None], img)
    shadow = ((xx - cx - 40) / (r * 1.1)) ** 2 + ((yy - cy - r * 0.95) / (r * 0.3)) ** 2 < 1
    img[shadow & ~inside] *= 0.55
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


CHARTS = {"zone-plate": zone_plate, "resolution-wedge": resolution_wedge, "text": rendered_text}
SCENES = {"golf-ball": golf_ball}  # rendered objects for the classifiers


def photo(name: str) -> Image.Image:
    import skimage.data

    if name not in PHOTOS:
        raise KeyError(f"unknown photo {name!r}: {', '.join(PHOTOS)}")
    return Image.fromarray(getattr(skimage.data, name)()).convert("RGB")


def examples_dir() -> Path:
    from vtdemo.zoo.locations import url_cache_dir

    return Path(os.environ.get("VTDEMO_EXAMPLES_DIR") or url_cache_dir() / "examples")


def example_files(photos: bool = True) -> list[Path]:
    """PNG files of every chart and rendered scene (and photo), written on first use."""
    folder = examples_dir()
    folder.mkdir(parents=True, exist_ok=True)
    makers = {**CHARTS, **SCENES}
    if photos:
        makers.update({name: (lambda n=name: photo(n)) for name in PHOTOS})
    files = []
    for name, make in makers.items():
        path = folder / f"{name}.png"
        if not path.exists():
            tmp = path.with_suffix(".tmp.png")
            make().save(tmp)
            os.replace(tmp, path)
        files.append(path)
    return files
