"""Files written whole or not at all: a uniquely named part in the target's folder (created exclusively, so never
through a planted link), renamed over the target when complete. Parts get the mode any file this user creates gets
(0644 under the usual umask), not mkstemp's 0600, so results, downloads and records read like the user's own files."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


UMASK = _umask()  # read once, at import (setting it is process-wide)


def new_part(target: Path, suffix: str = ".part") -> tuple[int, Path]:
    """(an open descriptor, its path) of a new empty file beside ``target``, with the user's normal mode."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name[:100]}.", suffix=suffix, dir=target.parent)
    os.fchmod(fd, 0o666 & ~UMASK)
    return fd, Path(tmp)


def write_atomically(path: Path, data: bytes) -> None:
    """``path`` holds ``data`` or what it held before, never a part (a link at ``path`` is replaced, not followed)."""
    fd, tmp = new_part(path)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save_tensors(tensors: dict, path: Path, metadata: dict[str, str] | None = None) -> None:
    """torch or numpy tensors as a safetensors file, written whole with the user's normal mode (safetensors'
    ``save_file`` creates its files 0600)."""
    first = next(iter(tensors.values()), None)
    if first is not None and type(first).__module__.startswith("numpy"):
        from safetensors.numpy import save
    else:
        from safetensors.torch import save
    write_atomically(Path(path), save(tensors, metadata=metadata))
