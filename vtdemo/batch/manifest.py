"""The record of a batch run kept in its output folder, so that running the same command again skips what is done.

``vtdemo-manifest.jsonl`` holds one JSON object per line, appended (a line torn by a crash is ignored); the last line
for an output file wins. Before an output is written a ``writing`` line is appended, after it a ``done`` line with the
input's and the output's sha256, the model (and its weights' sha256), the scale and the settings; a failure appends
``failed`` with its reason. An item is finished when its last line is ``done`` for the same input, model and
settings and the file on disk still has the recorded digest; anything else — never started, ``writing`` (an
interrupted run), ``failed``, a changed input or setting, a changed output file — is done again. One run at a time
writes a folder (an exclusive lock on the manifest).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

NAME = "vtdemo-manifest.jsonl"


class ManifestBusy(RuntimeError):
    """Another run is writing to the same output folder."""


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class Manifest:
    """The manifest of one output folder, locked while open (use as a context manager)."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.path = self.folder / NAME
        self.records: dict[str, dict] = {}  # output file name -> its last record
        self._file = None

    def __enter__(self) -> "Manifest":
        self.folder.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a+", encoding="utf-8")
        try:
            import fcntl

            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # Windows: no advisory locks here; one run at a time is then up to the user
            pass
        except OSError:
            self._file.close()
            raise ManifestBusy(f"another vtdemo run is writing to {self.folder} (its {NAME} is locked)") from None
        self._file.seek(0)
        for line in self._file:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line torn by an interrupted run
            if isinstance(record, dict) and isinstance(record.get("output"), str):
                self.records[record["output"]] = record
        return self

    def __exit__(self, *exc) -> None:
        self._file.close()

    def append(self, record: dict) -> None:
        """Add a line and make it durable before the caller goes on (the next step relies on it)."""
        record = {**record, "at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self.records[record["output"]] = record

    def state(self, output: Path, identity: dict) -> str:
        """What to do with ``output`` for an item described by ``identity`` (input digest, model, settings):
        "done" (skip it), "redo" (ours, but unfinished, failed or made otherwise), "new" (no file yet) or "foreign"
        (a file this manifest never wrote: not overwritten without --force)."""
        record = self.records.get(output.name)
        if record is None:
            return "foreign" if output.exists() else "new"
        if (record.get("status") == "done" and all(record.get(k) == v for k, v in identity.items())
                and output.is_file() and sha256_file(output) == record.get("output_sha256")):
            return "done"
        return "redo"
