"""The hostile files an attacker sends, generated (never stored): the one generator ``bench hostile``, ``bench load
--attack`` and the tests use. ``make(folder, names)`` writes the named ones and returns their paths."""
from __future__ import annotations

import base64
import io
import struct
import zipfile
import zlib
from pathlib import Path


def bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A valid PNG header declaring width×height pixels with a tiny (truncated) body: a decompression bomb."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + \
        chunk(b"IEND", b"")


def _bomb(path: Path) -> None:
    path.write_bytes(bomb_png())


def _line(path: Path) -> None:
    """1×60000 pixels in a few hundred bytes: an aspect ratio that once cost a 4 GB resize."""
    from PIL import Image

    Image.new("RGB", (1, 60000), "red").save(path)


def _float_tiff(path: Path) -> None:
    import numpy as np
    from PIL import Image

    Image.fromarray(np.zeros((4096, 4096), np.float32), "F").save(path, compression="tiff_deflate")


def _data_url(path: Path) -> None:
    """A pasted data URL of a 20000² PNG (a small text, 400 megapixels)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (20000, 20000)).save(buf, format="PNG")
    path.write_text("data:image/png;base64," + base64.b64encode(buf.getvalue()).decode())


def _tiny_hat():
    from vtdemo.models.hat import HAT

    return HAT(upscale=4, embed_dim=12, depths=[1], num_heads=[2], window_size=4, compress_ratio=3, squeeze_factor=4,
               num_feat=8, mlp_ratio=1.0)


def _loop(path: Path) -> None:
    """A pickle whose dict contains itself."""
    import torch

    loop: dict = {}
    loop["model"] = loop
    torch.save(loop, path)


def _stride0(path: Path) -> None:
    """A HAT checkpoint whose first weight is one float seen as 2048×3×3×3 through zero strides."""
    import torch

    state = {k: v.contiguous() for k, v in _tiny_hat().state_dict().items()}
    state["conv_first.weight"] = torch.zeros(1).expand(2048, 3, 3, 3)
    torch.save({"params_ema": state}, path)


def _zip_bomb(path: Path) -> None:
    """2 GB of zeros in a torch checkpoint, deflated to ~2 MB on disk."""
    import torch

    plain = path.with_suffix(".plain")
    torch.save({"params": {"w": torch.zeros(500_000_000)}}, plain)
    with zipfile.ZipFile(plain) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            zout.writestr(item.filename, zin.read(item.filename))
    plain.unlink()


def _gradient_4096(path: Path) -> None:
    """16.8 megapixels in a small file: bicubic at the output limit."""
    from PIL import Image

    Image.linear_gradient("L").resize((4096, 4096)).convert("RGB").save(path)


def _noise_256(path: Path) -> None:
    """An honest-looking 256² photo that keeps a model busy: what a flood of heavy upscales sends."""
    import numpy as np
    from PIL import Image

    Image.fromarray(np.random.default_rng(1).integers(0, 256, (256, 256, 3), dtype=np.uint8)).save(path)


def _tiny_checkpoint(path: Path) -> None:
    """A valid small HAT ×4 checkpoint (safetensors), as a user would upload one."""
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    save_file({k: v.contiguous() for k, v in _tiny_hat().state_dict().items()}, str(path))


FILES = {  # name: (file name, maker)
    "bomb": ("bomb.png", _bomb),
    "line": ("line.png", _line),
    "float-tiff": ("float.tiff", _float_tiff),
    "data-url": ("dataurl.txt", _data_url),
    "loop": ("loop.pth", _loop),
    "stride0": ("stride0.pth", _stride0),
    "zip-bomb": ("bomb.pth", _zip_bomb),
    "gradient-4096": ("big.png", _gradient_4096),
    "noise-256": ("heavy.png", _noise_256),
    "tiny-checkpoint": ("mine.safetensors", _tiny_checkpoint),
}


def make(folder: Path, names: list[str] | tuple[str, ...] | None = None) -> dict[str, Path]:
    """Write the named hostile files (all when None) into ``folder``; their paths by name."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in names or FILES:
        file_name, maker = FILES[name]
        maker(folder / file_name)
        paths[name] = folder / file_name
    return paths
