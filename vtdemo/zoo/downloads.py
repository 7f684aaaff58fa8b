"""Getting a checkpoint's bytes from the network and trusting them: per-host reachability, bounded atomic downloads
(redirects only to public http(s)), published sizes and hashes, and trust on first use for sources that publish no
hash — checked again before every use of a cached file."""
from __future__ import annotations

import hashlib
import os
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable

from vtdemo import limits
from vtdemo.atomic import new_part, write_atomically
from vtdemo.zoo.cards import ModelCard, WeightSource
from vtdemo.zoo.errors import WeightsError
from vtdemo.zoo.locations import display_path, hub_cache_dir, url_cache_dir

Progress = Callable[[int, int | None], None]  # (bytes done, bytes total or None)


# --- online / offline -------------------------------------------------------------------------------------------

_reachable: dict[tuple[str, int], tuple[float, bool]] = {}  # (host, port) -> (when probed, reachable)


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def hub_endpoint() -> str:
    """The Hub's address: HF_ENDPOINT (a mirror, or a local stand-in in tests), read at call time."""
    return (os.environ.get("HF_ENDPOINT") or "https://huggingface.co").rstrip("/")


def reachable(host: str, port: int = 443, timeout: float = 1.5) -> bool:
    """False when HF_HUB_OFFLINE / VTDEMO_OFFLINE is set or ``host`` cannot be reached (cached 60 s per host:
    GitHub's releases stay downloadable while only the Hub is down)."""
    if _env_true("HF_HUB_OFFLINE") or _env_true("VTDEMO_OFFLINE") or not host:
        return False
    now = time.monotonic()
    seen = _reachable.get((host, port))
    if seen and now - seen[0] < 60:
        return seen[1]
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        online = True
    except OSError:
        online = False
    if len(_reachable) > 64:  # hosts come from cards and HF_ENDPOINT only; bounded anyway
        _reachable.clear()
    _reachable[(host, port)] = (now, online)
    return online


def _url_reachable(url: str) -> bool:
    parts = urllib.parse.urlsplit(url)
    return reachable(parts.hostname or "", parts.port or (80 if parts.scheme == "http" else 443))


def source_reachable(source: WeightSource) -> bool:
    """Whether ``source``'s host (the Hub, or its release server) can be reached now."""
    return _url_reachable(hub_endpoint() if source.kind == "hub" else source.url or "")


def is_online() -> bool:
    """Whether the Hugging Face Hub can be reached now (see ``reachable``)."""
    return _url_reachable(hub_endpoint())


# --- downloads --------------------------------------------------------------------------------------------------

def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, source: WeightSource) -> None:
    """Raise WeightsError when the file's size or sha256 differ from what the card publishes."""
    if source.size is not None and path.stat().st_size != source.size:
        raise WeightsError(f"{source.basename}: expected {source.size:,} bytes, got {path.stat().st_size:,}.")
    if source.sha256:
        actual = sha256_of(path)
        if actual != source.sha256.lower():
            raise WeightsError(f"{source.basename}: sha256 mismatch (expected {source.sha256}, got {actual}); "
                               "the download is corrupt or the file was replaced upstream.")


# --- trust: what a cached file must be ----------------------------------------------------------------------------

_VERDICTS: dict[tuple, str] = {}  # (path, inode, size, mtime_ns, ctime_ns) -> sha256 of a file that passed
_TRUST_LOCK = threading.Lock()
REJECTED: dict[str, str] = {}  # source key -> why its cached copy was deleted (named in the offline message)
RECORDED_NAME = ".vtdemo-recorded-sha256.json"  # beside the files: what unhashed sources' first downloads were


def _fresh_lock_in_child() -> None:
    """A forked process (a ZeroGPU worker) gets its own lock: one held by another thread at the fork would never be
    released there."""
    global _TRUST_LOCK
    _TRUST_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_fresh_lock_in_child)


def source_key(source: WeightSource) -> str:
    """A source's identity across runs: where its bytes come from (a Hub file includes its revision)."""
    if source.kind == "hub":
        return f"hub:{source.repo_id}/{source.revision or 'main'}/{source.filename}"
    return f"{source.kind}:{source.url or source.filename}"


def recorded_path(source: WeightSource) -> Path:
    """The record of first downloads for the cache that holds ``source``'s file (a record describes one cache)."""
    return (Path(hub_cache_dir()) if source.kind == "hub" else url_cache_dir()) / RECORDED_NAME


def recorded_hashes(source: WeightSource) -> dict[str, dict]:
    """{source key: {"sha256", "size"}} recorded on first download of sources that publish no hash, in the cache
    that holds ``source``'s file. An unreadable record raises WeightsError: trust is never reset by accident."""
    import json

    path = recorded_path(source)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise WeightsError(f"The record of first downloads ({display_path(path)}) cannot be read ({exc}); fix or "
                           "delete it (deleting it trusts the cached files again as they are now).") from None
    if not isinstance(data, dict):
        raise WeightsError(f"The record of first downloads ({display_path(path)}) is not a JSON object.")
    return data


def _record(source: WeightSource, digest: str, size: int) -> None:
    """Add ``source``'s first download to its record: read, change and replace under an exclusive lock on a lock
    file beside it (the CLI and servers may share a cache), readable by everyone (0644)."""
    import fcntl
    import json

    path = recorded_path(source)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = recorded_hashes(source)
        data[source_key(source)] = {"sha256": digest, "size": size}
        write_atomically(path, json.dumps(data, indent=1, sort_keys=True).encode())


def check_file(path: Path, source: WeightSource, *, record: bool = True) -> None:
    """Raise WeightsError unless ``path`` holds ``source``'s bytes: its published size and sha256, or — a source
    that publishes no hash, in a cache — the sha256 recorded when it was first downloaded (trust on first use:
    recorded now if nothing is; a later change is refused; a cache the server may not write is used unrecorded,
    with a warning). ``record=False`` (a file the user placed) checks the published values only. The verdict is
    kept per (path, inode, size, mtime, ctime): a file is hashed once, and again whenever it changes (ctime cannot
    be set back)."""
    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        if key in _VERDICTS:
            return
        verify(path, source)  # size first: a wrong size is refused without reading the file
        digest = source.sha256.lower() if source.sha256 else sha256_of(path)
    except OSError as exc:  # gone or unreadable meanwhile (another process replaced it)
        raise WeightsError(f"{source.basename}: cannot be read ({exc.strerror or exc}).") from None
    if not source.sha256 and record:
        with _TRUST_LOCK:
            seen = recorded_hashes(source).get(source_key(source))
            if seen is None:
                try:
                    _record(source, digest, st.st_size)
                except OSError as exc:
                    import logging

                    logging.getLogger("vtdemo").warning("%s: first download not recorded (%s): a read-only cache",
                                                        source.basename, exc.strerror or exc)
            elif seen.get("sha256") != digest:
                raise WeightsError(f"{source.basename}: its sha256 {digest} differs from the {seen.get('sha256')} "
                                   "recorded when it was first downloaded; the file was changed or replaced.")
    with _TRUST_LOCK:
        if len(_VERDICTS) > 256:
            _VERDICTS.clear()
        _VERDICTS[key] = digest


def _is_private(host: str) -> bool:
    """True when ``host`` resolves to a loopback, private, link-local or reserved address (or does not resolve)."""
    import ipaddress

    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return True
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if address.is_loopback or address.is_private or address.is_link_local or address.is_reserved \
                or address.is_multicast or address.is_unspecified:
            return True
    return False


class _SafeRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to http(s), and never from a public host to a private one (a compromised mirror
    must not make the server fetch from its own network)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new, old = urllib.parse.urlsplit(newurl), urllib.parse.urlsplit(req.full_url)
        if new.scheme not in ("http", "https"):
            raise WeightsError(f"Refused a redirect to a {new.scheme or 'relative'}: URL.")
        if _is_private(new.hostname or "") and not _is_private(old.hostname or ""):
            raise WeightsError(f"Refused a redirect from {old.hostname} to a private or local address.")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def clean_partial_downloads(folder: Path | None = None, older_than_s: float = 3600) -> int:
    """Delete ``.part`` files a killed download left behind (older than ``older_than_s``); returns how many."""
    folder = folder or url_cache_dir()
    removed = 0
    for part in folder.glob(".*.part") if folder.is_dir() else []:
        if time.time() - part.stat().st_mtime > older_than_s:
            part.unlink(missing_ok=True)
            removed += 1
    return removed


def download_url(url: str, target: Path, *, sha256: str | None = None, size: int | None = None,
                 progress: Progress | None = None, timeout: float = 30.0) -> Path:
    """Download ``url`` to ``target`` atomically: a temporary file in the same folder, verified, then renamed.

    Bounded: at most ``size`` (or VTDEMO_MAX_CHECKPOINT_BYTES) bytes, ``timeout`` s per read and
    VTDEMO_DOWNLOAD_TIMEOUT_S in all (a server that drips a byte at a time is cut off), redirects only to http(s)
    and not into a private network. Nothing is left at ``target`` (nor a temporary file) after an error, a hash
    mismatch or Ctrl-C.
    """
    from tqdm.auto import tqdm

    target.parent.mkdir(parents=True, exist_ok=True)
    clean_partial_downloads(target.parent)
    limit, named = (size, "the size its card publishes") if size else \
        (limits.max_checkpoint_bytes(), "VTDEMO_MAX_CHECKPOINT_BYTES")
    deadline = time.monotonic() + limits.download_timeout_seconds()
    fd, tmp = new_part(target)
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "vtdemo"})
        opener = urllib.request.build_opener(_SafeRedirects)
        with os.fdopen(fd, "wb") as out, opener.open(request, timeout=timeout) as response:
            total = response.headers.get("Content-Length")
            total = int(total) if total is not None else size
            if total is not None and total > limit:
                raise WeightsError(f"{target.name}: the server announces {total:,} bytes, over the {limit:,} "
                                   f"allowed ({named}).")
            done = 0
            with tqdm(total=total, unit="B", unit_scale=True, desc=target.name, leave=False) as bar:
                while block := response.read1(1 << 16):  # returns what has arrived: the deadline is checked
                    out.write(block)
                    done += len(block)
                    if done > limit:
                        raise WeightsError(f"{target.name}: more than {limit:,} bytes arrived ({named}); stopped.")
                    if time.monotonic() > deadline:
                        raise WeightsError(f"{target.name}: the download took longer than "
                                           f"{limits.download_timeout_seconds()} s (VTDEMO_DOWNLOAD_TIMEOUT_S).")
                    bar.update(len(block))
                    if progress:
                        progress(done, total)
        if total is not None and done != total:
            raise WeightsError(f"{target.name}: the connection closed after {done:,} of {total:,} bytes.")
        verify(tmp, WeightSource("url", target.name, url=url, sha256=sha256, size=size))
        os.replace(tmp, target)
        return target
    except (urllib.error.URLError, OSError) as exc:
        raise WeightsError(f"Downloading {url} failed: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def _discard(path: Path) -> None:
    """Delete a cached file, and the blob a Hugging Face snapshot link points to (a cache this process may not
    write keeps them: they are refused again at the next use)."""
    blob = Path(os.path.realpath(path))
    try:
        path.unlink(missing_ok=True)
        if blob != path:
            blob.unlink(missing_ok=True)
    except OSError:
        pass


def _fetch_source(source: WeightSource, progress: Progress | None) -> Path:
    """Download ``source`` into its cache, checked (``check_file``) before it is returned; a file that fails the
    check is deleted."""
    if source.kind == "url":
        path = download_url(source.url, url_cache_dir() / source.basename, sha256=source.sha256,
                            size=source.size, progress=progress)
    else:
        from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url

        limit, named = (source.size, "the size its card publishes") if source.size else \
            (limits.max_checkpoint_bytes(), "VTDEMO_MAX_CHECKPOINT_BYTES")
        meta = get_hf_file_metadata(hf_hub_url(source.repo_id, source.filename, revision=source.revision,
                                               endpoint=hub_endpoint()))
        if meta.size is not None and meta.size > limit:
            raise WeightsError(f"{source.basename}: the Hub announces {meta.size:,} bytes, over the {limit:,} "
                               f"allowed ({named}).")
        path = Path(hf_hub_download(source.repo_id, source.filename, revision=source.revision,
                                    cache_dir=hub_cache_dir(), endpoint=hub_endpoint()))
    try:
        check_file(path, source)
    except WeightsError:
        _discard(path)
        raise
    REJECTED.pop(source_key(source), None)
    return path


def check_sources(chosen: list[ModelCard], progress: Progress | None = None) -> list[dict]:
    """For maintainers, online: download every hub/URL source of ``chosen`` into a temporary folder (bounded like
    any download) and compare its size and sha256 with the card. One row per source: id, url, card and actual
    size and sha256, and the verdict ("ok", "MISMATCH", "no published hash" or the error)."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="vtdemo-check-") as tmp:
        for card in chosen:
            for source in (s for s in card.sources if s.kind in {"hub", "url"}):
                row = dict(id=card.id, url=source.download_url, size=source.size, sha256=source.sha256,
                           actual_size=None, actual_sha256=None)
                try:
                    target = Path(tmp) / source.basename
                    download_url(source.download_url, target, progress=progress)
                    row.update(actual_size=target.stat().st_size, actual_sha256=sha256_of(target))
                    target.unlink()
                    same = (source.size in (None, row["actual_size"])
                            and source.sha256 in (None, row["actual_sha256"]))
                    row["verdict"] = ("ok" if source.sha256 else "no published hash") if same else "MISMATCH"
                except Exception as exc:  # noqa: BLE001 - one row per source, whatever went wrong
                    row["verdict"] = f"error: {str(exc)[:160] or type(exc).__name__}"
                rows.append(row)
    return rows
