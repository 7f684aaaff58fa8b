"""Where the bytes of a model come from, verified, and loaded without unpickling anything arbitrary.

Resolution order (design.md): an explicit path -> ``weights/`` in the repo -> the local cache (Hugging Face cache for
hub files, ``weights/cache/`` for URL files) -> a download, only when online -> otherwise ``WeightsUnavailable``,
whose message names the file, where to put it and the command that fetches it.
"""
from __future__ import annotations

import hashlib
import os
import re
import socket
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable

from vtdemo import limits
from vtdemo.runtime import Cancelled
from vtdemo.zoo.cards import ModelCard, WeightSource

REPO_ROOT = Path(__file__).resolve().parents[2]
Progress = Callable[[int, int | None], None]  # (bytes done, bytes total or None)



class SavedArguments:
    """Stands in for ``argparse.Namespace`` when a checkpoint is unpickled (official PerViT checkpoints carry their
    training arguments as one): a plain bag of values that nothing in the file can turn into another class (a real
    Namespace accepts any attribute, ``__class__`` included)."""

    def __init__(self, *_args, **_kwargs):
        self.values: dict = {}

    def __setstate__(self, state) -> None:
        self.values = {str(k): v for k, v in state.items()} if isinstance(state, dict) else {}


# What torch.load(weights_only=True) may rebuild besides tensors and containers: only the stand-in above.
SAFE_GLOBALS = [(SavedArguments, "argparse.Namespace")]
MAX_NESTING = 8  # wrapper dicts unwrapped at most (real checkpoints use 1 or 2)
# Wrapper keys of training checkpoints, in order of preference (EMA weights first, as the official test scripts do).
STATE_DICT_KEYS = ("params_ema", "params", "model", "state_dict")
CHECKPOINT_SUFFIXES = (".pth", ".pt", ".safetensors", ".ckpt", ".bin")  # what a checkpoint file may be named


class WeightsError(RuntimeError):
    """A checkpoint could not be obtained or loaded; the message says why and what to do."""


class WeightsUnavailable(WeightsError):
    """The file is not on this machine and cannot be downloaded now."""


class UnsafeCheckpointError(WeightsError):
    """The file would need arbitrary code to unpickle; it was refused without running anything."""


def _checkout() -> bool:
    """Running from a source checkout (its ``weights/`` beside ``pyproject.toml``), not an installed package."""
    return (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "weights").is_dir()


def user_dir() -> Path:
    """Where an installed vtdemo keeps what it writes: VTDEMO_CACHE_DIR, else $XDG_CACHE_HOME/vtdemo (~/.cache)."""
    if os.environ.get("VTDEMO_CACHE_DIR"):
        return Path(os.environ["VTDEMO_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vtdemo"


def weights_dir() -> Path:
    """Where vtdemo looks for weights first and users drop files: VTDEMO_WEIGHTS_DIR, else the checkout's
    ``weights/``, else (installed) ``<user dir>/weights``."""
    if os.environ.get("VTDEMO_WEIGHTS_DIR"):
        return Path(os.environ["VTDEMO_WEIGHTS_DIR"])
    return REPO_ROOT / "weights" if _checkout() else user_dir() / "weights"


def embedded_dir() -> Path:
    """The embedded demo weights and their cards: VTDEMO_WEIGHTS_DIR when set, the checkout's ``weights/``, or the
    installed package data."""
    if os.environ.get("VTDEMO_WEIGHTS_DIR") or _checkout():
        return weights_dir()
    from importlib.util import find_spec

    spec = find_spec("vtdemo_weights")  # a data-only (namespace) package: its folder is the search location
    return Path(next(iter(spec.submodule_search_locations))) if spec else REPO_ROOT / "weights"


def url_cache_dir() -> Path:
    """Downloads, exported graphs and example images: VTDEMO_CACHE_DIR, the checkout's ``weights/cache/``, or the
    user dir (an installed package's folder may not be writable)."""
    if os.environ.get("VTDEMO_CACHE_DIR"):
        return Path(os.environ["VTDEMO_CACHE_DIR"])
    return REPO_ROOT / "weights" / "cache" if _checkout() else user_dir()


def hub_cache_dir() -> str:
    """Hugging Face's cache, read from the environment at call time (tests and users may point it elsewhere)."""
    from huggingface_hub import constants

    return os.environ.get("HF_HUB_CACHE") or constants.HF_HUB_CACHE


def display_path(path: str | os.PathLike) -> str:
    """``path`` as a user may be shown it: relative to the weights folder or a cache, named by the setting that
    chose it — never the server's absolute layout."""
    path = Path(path)
    checkout = _checkout()
    places = [(url_cache_dir(), "$VTDEMO_CACHE_DIR" if os.environ.get("VTDEMO_CACHE_DIR")
               else "weights/cache" if checkout else "~/.cache/vtdemo"),
              (weights_dir(), "$VTDEMO_WEIGHTS_DIR" if os.environ.get("VTDEMO_WEIGHTS_DIR")
               else "weights" if checkout else "~/.cache/vtdemo/weights"),
              (Path(hub_cache_dir()), "<Hugging Face cache>")]
    places.sort(key=lambda place: -len(place[0].resolve().parts))  # the most specific folder first
    for folder, name in places:
        try:
            return f"{name}/{path.resolve().relative_to(folder.resolve()).as_posix()}"
        except ValueError:
            continue
    return path.name


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


# --- finding a file on this machine -----------------------------------------------------------------------------

def find_local(source: WeightSource) -> Path | None:
    """The file of ``source`` if it is already on this machine (weights/, then the caches), else None. A file in a
    cache is checked before every use (``check_file``; the verdict is kept per path, size and mtime) and deleted
    when it fails: a tampered or half-written file is never loaded. A file the user placed in weights/ that does
    not match a published hash raises WeightsError (it is the user's: not deleted)."""
    candidate = weights_dir() / source.local_basename
    if candidate.is_file():
        if source.kind in {"hub", "url"}:
            check_file(candidate, source, record=False)
        return candidate
    if source.kind == "embedded" and (embedded_dir() / source.basename).is_file():
        return embedded_dir() / source.basename
    cached = None
    if source.kind == "url":
        cached = url_cache_dir() / source.basename
    elif source.kind == "hub":
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(source.repo_id, source.filename, cache_dir=hub_cache_dir(),
                                     revision=source.revision)
        cached = Path(hit) if isinstance(hit, str) else None
    if cached is None or not cached.is_file():
        return None
    try:
        check_file(cached, source)
    except WeightsError as exc:
        _discard(cached)
        REJECTED[source_key(source)] = f"{exc} The cached copy was deleted."
        return None
    return cached


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


def status(card: ModelCard, online: bool | None = None) -> str:
    """One of: embedded, cached, local file, downloadable, unavailable offline, local file needed, missing, wrong
    file in weights/. ``online`` overrides the per-host probe (tests, one probe for a whole table)."""
    for source in card.sources:
        try:
            found = find_local(source)
        except WeightsError:
            return "wrong file in weights/"
        if found is not None:
            return {"embedded": "embedded", "local": "local file"}.get(source.kind, "cached")
    remote = [s for s in card.sources if s.kind in {"hub", "url"}]
    if remote:
        online = any(source_reachable(s) for s in remote) if online is None else online
        return "downloadable" if online else "unavailable offline"
    if any(s.kind == "local" for s in card.sources):
        return "local file needed"
    return "missing"  # an embedded file that is not in weights/: a broken checkout


def verification(card: ModelCard) -> str:
    """How the card's downloaded bytes are checked: "verified" (a published sha256), "unverified" (none published:
    the hash is recorded on first download and any later change refused), or "" (embedded or user-placed files)."""
    remote = [s for s in card.sources if s.kind in {"hub", "url"}]
    if not remote:
        return ""
    return "verified" if all(s.sha256 for s in remote) else "unverified"


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
        fd, tmp = tempfile.mkstemp(prefix=".recorded.", suffix=".part", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(data, f, indent=1, sort_keys=True)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        finally:
            Path(tmp).unlink(missing_ok=True)


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
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
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


def offline_message(card: ModelCard, reason: str = "this machine is offline") -> str:
    """One paragraph: which file, from where, where to put it, and the command that fetches it."""
    source = card.source
    target = display_path(weights_dir() / source.local_basename)
    if source.kind == "local":
        return (f"{card.id} ({card.name}) needs the file {source.basename}, which has no automatic download. "
                f"Get it from {source.page} and place it at {target}; vtdemo looks there first.")
    if source.kind == "embedded":
        return (f"{card.id} ({card.name}) ships with vtdemo as {target}, but that file is missing: this checkout "
                f"is incomplete. Restore it with `git checkout -- weights/{source.basename}` (or point "
                f"VTDEMO_WEIGHTS_DIR at a folder that holds it).")
    size = f" ({source.size / 1e6:.1f} MB)" if source.size else ""
    where = (f"the Hugging Face Hub repo {source.repo_id}" if source.kind == "hub" else "its release page")
    check = (f" It is verified against sha256 {source.sha256}." if source.sha256 else
             " No sha256 is published for it: the first download's is recorded and any later change refused.")
    rejected = "".join(f" {REJECTED[source_key(s)]}" for s in card.sources if source_key(s) in REJECTED)
    return (f"{card.id} ({card.name}) needs the file {source.basename}{size} from {where}: "
            f"{source.download_url}. It is not on this machine and {reason}, so it cannot be downloaded now. "
            f"Either run `python -m vtdemo fetch {card.id}` on a machine with internet access and copy the file, "
            f"or download it yourself and place it at {target} (that name); vtdemo looks there first.{check}"
            f"{rejected}")


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


def resolve(card: ModelCard, path: str | os.PathLike | None = None, *, download: bool = True,
            progress: Progress | None = None) -> Path:
    """The local path of ``card``'s checkpoint, downloading it if allowed and possible (from each source whose
    host answers, in the card's order)."""
    if path is not None:
        explicit = Path(path)
        if not explicit.is_file():
            raise WeightsError(f"No checkpoint at {explicit}.")
        return explicit
    for source in card.sources:
        found = find_local(source)
        if found is not None:
            return found
    downloadable = [s for s in card.sources if s.kind in {"hub", "url"}]
    if not downloadable:
        raise WeightsUnavailable(offline_message(card))
    if not download:
        raise WeightsUnavailable(offline_message(card, reason="downloads were not allowed"))
    online = [s for s in downloadable if source_reachable(s)]
    if not online:
        raise WeightsUnavailable(offline_message(card))
    errors = []
    for source in online:
        try:
            return _fetch_source(source, progress)
        except Cancelled:
            raise
        except Exception as exc:  # try the next mirror; report all of them
            errors.append(f"{source.download_url}: {exc}")
    raise WeightsUnavailable(offline_message(card, reason="every download failed") + "\n" + "\n".join(errors))


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


# --- safe loading -----------------------------------------------------------------------------------------------

def _is_tensor_dict(obj) -> bool:
    import torch

    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def unwrap_state_dict(obj) -> dict:
    """The tensors of a training checkpoint: ``params_ema`` > ``params`` > ``model`` > ``state_dict``, without
    DataParallel's ``module.`` prefixes. A wrapper that contains itself, or nesting deeper than MAX_NESTING, is
    refused (a 1-kB file must not loop forever)."""
    seen = set()
    while isinstance(obj, dict) and not _is_tensor_dict(obj):
        if id(obj) in seen or len(seen) >= MAX_NESTING:
            raise WeightsError("This checkpoint's wrapper dicts nest too deep or contain themselves.")
        seen.add(id(obj))
        key = next((k for k in STATE_DICT_KEYS if isinstance(obj.get(k), dict)), None)
        if key is None:
            raise WeightsError("This checkpoint holds no state dict (no tensors, and none of the keys "
                               f"{', '.join(STATE_DICT_KEYS)}); top-level keys: "
                               f"{[str(k)[:40] for k in list(obj)[:8]]}.")
        obj = obj[key]
    if not _is_tensor_dict(obj):
        raise WeightsError(f"This checkpoint holds a {type(obj).__name__}, not a state dict of tensors.")
    if not all(isinstance(k, str) for k in obj):
        raise WeightsError("This checkpoint's state dict has keys that are not names (e.g. integers).")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def check_tensors(state_dict: dict, name: str) -> None:
    """Refuse state dicts that describe more than they hold: too many tensors, or tensors whose elements repeat or
    share storage (stride 0 from ``expand``, overlapping views): a model built from their shapes would allocate
    what the file never paid for."""
    if len(state_dict) > limits.max_checkpoint_tensors():
        raise WeightsError(f"{name} has {len(state_dict):,} tensors; the limit is {limits.max_checkpoint_tensors():,} "
                           "(VTDEMO_MAX_CHECKPOINT_TENSORS).")
    import torch

    claimed, storages = 0, {}
    for key, t in state_dict.items():
        if t.layout != torch.strided:
            raise WeightsError(f"{name}: tensor {key[:80]!r} is {t.layout} (only dense tensors are accepted).")
        if any(st == 0 for st, n in zip(t.stride(), t.shape) if n > 1):
            raise WeightsError(f"{name}: tensor {key[:80]!r} repeats one value along an axis (stride 0): refused.")
        claimed += t.numel() * t.element_size()
        storage = t.untyped_storage()
        storages[storage.data_ptr()] = max(storages.get(storage.data_ptr(), 0), storage.nbytes())
    if claimed > sum(storages.values()):
        raise WeightsError(f"{name}: its tensors share or overlap their storage ({claimed / 1e6:,.1f} MB described, "
                           f"{sum(storages.values()) / 1e6:,.1f} MB stored): refused.")


MAX_EXPANSION, EXPANSION_ALLOWANCE = 10, 16_000_000


def _check_zip(path: Path, upload: bool) -> None:
    """A torch zip checkpoint must unpack to at most the size limit (its members' declared sizes, which the reader
    allocates) and have a sane number of members — a small deflated file can otherwise expand to gigabytes."""
    max_bytes, variable = _limit(upload)
    with open(path, "rb") as f:
        end = zipfile._EndRecData(f)  # the end record PyTorch's reader also starts from
    with zipfile.ZipFile(path) as archive:
        if end is None or archive.start_dir != end[zipfile._ECD_OFFSET]:
            # Python would read a central directory other than the one at the declared offset, which PyTorch
            # reads: two directories, one of them lying about sizes
            raise WeightsError(f"{path.name} is an inconsistent zip archive: refused.")
        members = archive.infolist()
        if len(members) > limits.max_checkpoint_tensors() + 16:
            raise WeightsError(f"{path.name} holds {len(members):,} files: refused "
                               "(VTDEMO_MAX_CHECKPOINT_TENSORS).")
        unpacked = sum(m.file_size for m in members)
        if unpacked > max_bytes:
            raise WeightsError(f"{path.name} unpacks to {_mb(unpacked)}; the limit for checkpoints is "
                               f"{_mb(max_bytes)} ({variable}).")
        if any(m.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) for m in members):
            raise WeightsError(f"{path.name} uses a zip compression PyTorch cannot read.")
        # torch.save stores members; re-packed files (some official ones) deflate them, and weights barely compress
        # (1.1×), while a bomb of zeros expands 1000×: what expands beyond 10× is refused past a small allowance
        deflated = [m for m in members if m.compress_type == zipfile.ZIP_DEFLATED]
        excess = sum(max(0, m.file_size - MAX_EXPANSION * m.compress_size) for m in deflated)
        if excess > EXPANSION_ALLOWANCE:
            packed = sum(m.compress_size for m in deflated)
            raise WeightsError(f"{path.name} has compressed members that expand {_mb(packed)} to "
                               f"{_mb(sum(m.file_size for m in deflated))} (weights barely compress): refused as a "
                               "zip bomb.")


def _limit(upload: bool) -> tuple[int, str]:
    """(bytes, variable name) of the checkpoint size limit: uploads to the app have their own, lower one."""
    if upload:
        return limits.max_checkpoint_upload_bytes(), "VTDEMO_MAX_CHECKPOINT_UPLOAD_BYTES"
    return limits.max_checkpoint_bytes(), "VTDEMO_MAX_CHECKPOINT_BYTES"


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n < 10e6 else f"{n / 1e6:,.0f} MB"


def load_state_dict(path: str | os.PathLike, upload: bool = False) -> dict:
    """Load a checkpoint's tensors safely: safetensors, or torch.load(weights_only=True) with a tiny allow-list.

    The size limit (VTDEMO_MAX_CHECKPOINT_BYTES, or VTDEMO_MAX_CHECKPOINT_UPLOAD_BYTES for an ``upload``) bounds the
    file and what it unpacks to. Raises UnsafeCheckpointError for a pickle that needs anything else (its payload
    never runs) and WeightsError for an empty, truncated, oversized, self-referencing or foreign file. Nothing of a
    refused file stays referenced (no exception chain holds its tensors).
    """
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise WeightsError(f"{path.name} is empty (0 bytes).")
    max_bytes, variable = _limit(upload)
    if size > max_bytes:
        raise WeightsError(f"{path.name} is {_mb(size)}; the limit for checkpoints is {_mb(max_bytes)} "
                           f"({variable}).")
    try:
        return _checked_state_dict(path, upload)
    except WeightsError as exc:
        error = exc
    raise without_references(error)


def without_references(error: BaseException) -> BaseException:
    """``error`` with no traceback, cause or context: raising it keeps no frame (and no half-loaded tensor) alive
    until the next garbage collection."""
    error.__cause__ = error.__context__ = None
    return error.with_traceback(None)


def _checked_state_dict(path: Path, upload: bool) -> dict:
    state_dict = unwrap_state_dict(_read_checkpoint(path, upload))
    check_tensors(state_dict, path.name)
    return state_dict


def _check_safetensors_header(path: Path, head: bytes) -> None:
    """Count a safetensors file's tensors from its JSON header before anything is loaded."""
    import json
    import struct

    size = struct.unpack("<Q", head[:8])[0] if len(head) >= 8 else 0
    if not 2 <= size <= 16 * 2 ** 20 or size > path.stat().st_size - 8:
        raise WeightsError(f"{path.name} is not a valid safetensors file (header of {size:,} bytes).")
    with open(path, "rb") as f:
        f.seek(8)
        try:
            header = json.loads(f.read(size))
        except ValueError:
            raise WeightsError(f"{path.name} is not a valid safetensors file (unreadable header).") from None
    count = len(header) - ("__metadata__" in header) if isinstance(header, dict) else 0
    if count > limits.max_checkpoint_tensors():
        raise WeightsError(f"{path.name} has {count:,} tensors; the limit is {limits.max_checkpoint_tensors():,} "
                           "(VTDEMO_MAX_CHECKPOINT_TENSORS).")


def _read_checkpoint(path: Path, upload: bool):
    import pickle

    import torch

    with open(path, "rb") as f:
        head = f.read(16)
    is_zip = zipfile.is_zipfile(path)
    if path.suffix == ".safetensors" or (head[8:9] == b"{" and not is_zip):
        from safetensors.torch import load_file

        _check_safetensors_header(path, head)

        try:
            return load_file(str(path))  # its header is checked against the file's size: no bombs
        except Exception as exc:
            raise WeightsError(f"{path.name} is not a valid safetensors file ({str(exc)[:200]}).") from None
    if is_zip:
        _check_zip(path, upload)
    elif head[:2] == b"PK":
        raise WeightsError(f"{path.name} is a damaged or truncated zip archive, not a readable PyTorch checkpoint.")
    elif not (head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05")):
        raise WeightsError(f"{path.name} is not a checkpoint: neither safetensors nor a PyTorch file (a zip archive "
                           "or a pickle).")
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        if "weights only" not in str(exc).lower() and "unsupported global" not in str(exc).lower():
            raise WeightsError(f"{path.name} is not a readable PyTorch checkpoint ({detail}).") from None
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        if found is None:  # not a foreign object: a pickle torch cannot read as a checkpoint (e.g. protocol 4+)
            raise WeightsError(f"{path.name} is a pickle but not a PyTorch checkpoint vtdemo can read safely "
                               "(save it with torch.save or as safetensors).") from None
        needs = f"the object {found.group(1)[:80]}"
        raise UnsafeCheckpointError(
            f"{path.name} was refused: it is a pickle that needs {needs} to load, and vtdemo never unpickles "
            "arbitrary objects — convert it to safetensors or save only its state_dict.") from None
    except Exception as exc:  # the restricted unpickler raises many kinds on garbage (KeyError, EOFError, ...)
        detail = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ''}"
        raise WeightsError(f"{path.name} is not a readable PyTorch checkpoint (not one, truncated or corrupt; "
                           f"{detail}).") from None
