"""The record of a batch run kept in its output folder, so that running the same command again skips what is done.

``vtdemo-manifest.jsonl`` holds one JSON object per line, appended (a line torn by a crash is ignored); the last line
for an output file wins. Before an output is written a ``writing`` line is appended, after it a ``done`` line with the
input's and the output's sha256, the model (and its weights' sha256), the scale and the settings; a failure appends
``failed`` with its reason. An item is finished when its last line is ``done`` for the same input, model and
settings and the file on disk still has the recorded digest; never started, ``writing`` (an interrupted run),
``failed``, a changed input or setting, or a deleted output is done again; an output changed after it was written is
kept, as any file the tool did not write (``--force`` overwrites it). One run at a time writes a folder (an
exclusive lock on the manifest, which is never opened through a link).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from vtdemo.zoo.downloads import sha256_of

NAME = "vtdemo-manifest.jsonl"


class ManifestBusy(RuntimeError):
    """Another run is writing to the same output folder."""


def _records(lines) -> dict[str, dict]:
    """output file name -> its last record, from the manifest's lines (malformed or torn lines are skipped)."""
    records = {}
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line torn by an interrupted run, or not ours
        if isinstance(record, dict) and isinstance(record.get("output"), str):
            records[record["output"]] = record
    return records


def recorded_outputs(folder: Path) -> dict[str, str | None]:
    """The files a manifest in ``folder`` says this tool wrote or was writing (read without locking): name ->
    the sha256 it recorded for the file (None while it was being written)."""
    try:
        with open(Path(folder) / NAME, encoding="utf-8", errors="replace") as f:
            return {name: r.get("output_sha256") if r.get("status") == "done" else None
                    for name, r in _records(f).items() if r.get("status") in ("done", "writing")}
    except OSError:
        return {}


class Manifest:
    """The manifest of one output folder, locked while open (use as a context manager)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.path = self.folder / NAME
        self.records: dict[str, dict] = {}  # output file name -> its last record
        self._file = None

    def __enter__(self) -> "Manifest":
        self.folder.mkdir(parents=True, exist_ok=True)
        try:  # never through a link: the manifest is appended to, and must be this folder's own file
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0), 0o644)
        except OSError as exc:
            raise OSError(f"cannot open {self.path} ({exc.strerror or exc}); it must be a plain file") from None
        # ASCII lines (ensure_ascii): a torn line never splits a character; other bytes are read as replacements
        self._file = os.fdopen(fd, "a+", encoding="utf-8", errors="replace")
        try:
            import fcntl

            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # Windows: no advisory locks here; one run at a time is then up to the user
            pass
        except OSError:
            self._file.close()
            raise ManifestBusy(f"another vtdemo run is writing to {self.folder} (its {NAME} is locked)") from None
        self._file.seek(0)
        self.records = _records(self._file)
        self._torn = self._file.tell() > 0 and not self._ends_with_newline()
        return self

    def _ends_with_newline(self) -> bool:
        with open(self._file.fileno(), "rb", closefd=False) as raw:
            raw.seek(-1, os.SEEK_END)
            return raw.read(1) == b"\n"

    def __exit__(self, *exc) -> None:
        self._file.close()

    def append(self, record: dict) -> None:
        """Add a line and make it durable before the caller goes on (the next step relies on it)."""
        record = {**record, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        line = json.dumps(record) + "\n"
        if self._torn:  # the last run stopped mid-line: end that line, or this record would be lost with it
            line, self._torn = "\n" + line, False
        self._file.write(line)
        self._file.flush()
        os.fsync(self._file.fileno())
        self.records[record["output"]] = record

    def state(self, output: Path, identity: dict) -> str:
        """What to do with ``output`` for an item described by ``identity`` (input digest, model, settings):
        "done" (skip it), "redo" (ours, unfinished, failed, made with other settings, or gone), "new" (no file
        yet) or "foreign" (a file this tool did not write, or changed after it wrote it: kept without --force)."""
        record = self.records.get(output.name)
        exists = output.exists() or output.is_symlink()
        if record is None:
            return "foreign" if exists else "new"
        if record.get("status") != "done" or not exists:
            return "redo"
        if output.is_symlink() or not output.is_file() or sha256_of(output) != record.get("output_sha256"):
            return "foreign"
        return "done" if all(record.get(k) == v for k, v in identity.items()) else "redo"
