"""Where the tabs write the files they return (results, overlays, zips): fresh folders under the system temp dir,
which Gradio may serve; folders older than VTDEMO_FILE_MAX_AGE_S are removed."""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from vtdemo import limits

_last_prune = 0.0


def run_dir() -> Path:
    """A fresh folder for one request's files (old folders are pruned at most once a minute, not per click)."""
    global _last_prune
    root = Path(tempfile.gettempdir()) / "vtdemo-results"
    root.mkdir(exist_ok=True)
    now = time.time()
    if now - _last_prune > 60:
        _last_prune = now
        for old in root.iterdir():
            if old.is_dir() and now - old.stat().st_mtime > limits.file_max_age_seconds():
                shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(dir=root))


def safe_name(name: str) -> str:
    """A file-name-safe version of a model id or uploaded file name."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:60]


def save_png(image, path: Path) -> str:
    """Write a lossless PNG with light compression (an interactive view: encoding time matters more than bytes)."""
    image.save(path, format="PNG", compress_level=1)
    return str(path)
