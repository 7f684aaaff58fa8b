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
        prune_uploads()
    return Path(tempfile.mkdtemp(dir=root))


def prune_uploads() -> None:
    """Delete what Gradio's own cache cleaning does not track, once older than VTDEMO_FILE_MAX_AGE_S: pasted images
    (written by vtdemo) and the temporary files that aborted uploads leave in the upload folder."""
    from gradio.utils import get_upload_folder

    from vtdemo.ui.components import PASTED_DIR

    folder, now = Path(get_upload_folder()), time.time()
    stale = [*folder.glob("tmp*"), *(folder / PASTED_DIR).glob("*")] if folder.is_dir() else []
    for path in stale:
        try:
            if path.is_file() and now - path.stat().st_mtime > limits.file_max_age_seconds():
                path.unlink()
        except OSError:
            continue


def safe_name(name: str) -> str:
    """A file-name-safe version of a model id or uploaded file name."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:60]


def save_png(image, path: Path) -> str:
    """Write a lossless PNG with light compression (an interactive view: encoding time matters more than bytes)."""
    image.save(path, format="PNG", compress_level=1)
    return str(path)
