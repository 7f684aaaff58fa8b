"""Where the bytes of a model come from, verified, and loaded without unpickling anything arbitrary.

Resolution order (design.md): an explicit path -> ``weights/`` in the repo -> the local cache (Hugging Face cache for
hub files, ``weights/cache/`` for URL files) -> a download, only when online -> otherwise ``WeightsUnavailable``,
whose message names the file, where to put it and the command that fetches it.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import socket
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable

from vtdemo import limits
from vtdemo.zoo.cards import ModelCard, WeightSource

REPO_ROOT = Path(__file__).resolve().parents[2]
Progress = Callable[[int, int | None], None]  # (bytes done, bytes total or None)

# What torch.load(weights_only=True) may rebuild besides tensors and containers: PerViT checkpoints carry their
# training arguments as an argparse.Namespace.
SAFE_GLOBALS = [argparse.Namespace]
# Wrapper keys of training checkpoints, in order of preference (EMA weights first, as the official test scripts do).
STATE_DICT_KEYS = ("params_ema", "params", "model", "state_dict")


class WeightsError(RuntimeError):
    """A checkpoint could not be obtained or loaded; the message says why and what to do."""


class WeightsUnavailable(WeightsError):
    """The file is not on this machine and cannot be downloaded now."""


class UnsafeCheckpointError(WeightsError):
    """The file would need arbitrary code to unpickle; it was refused without running anything."""


def weights_dir() -> Path:
    """The repo's ``weights/`` folder (embedded demo weights; also where users drop files), or VTDEMO_WEIGHTS_DIR."""
    return Path(os.environ.get("VTDEMO_WEIGHTS_DIR") or REPO_ROOT / "weights")


def url_cache_dir() -> Path:
    return Path(os.environ.get("VTDEMO_CACHE_DIR") or weights_dir() / "cache")


def hub_cache_dir() -> str:
    """Hugging Face's cache, read from the environment at call time (tests and users may point it elsewhere)."""
    from huggingface_hub import constants

    return os.environ.get("HF_HUB_CACHE") or constants.HF_HUB_CACHE


# --- online / offline -------------------------------------------------------------------------------------------

_online_checked: tuple[float, bool] | None = None


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def is_online(timeout: float = 1.5) -> bool:
    """False when HF_HUB_OFFLINE / VTDEMO_OFFLINE is set or huggingface.co cannot be reached (cached 60 s)."""
    global _online_checked
    if _env_true("HF_HUB_OFFLINE") or _env_true("VTDEMO_OFFLINE"):
        return False
    now = time.monotonic()
    if _online_checked and now - _online_checked[0] < 60:
        return _online_checked[1]
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
        online = True
    except OSError:
        online = False
    _online_checked = (now, online)
    return online


# --- finding a file on this machine -----------------------------------------------------------------------------

def find_local(source: WeightSource) -> Path | None:
    """The file of ``source`` if it is already on this machine (weights/, then the caches), else None."""
    candidate = weights_dir() / source.basename
    if candidate.is_file():
        return candidate
    if source.kind == "url":
        cached = url_cache_dir() / source.basename
        return cached if cached.is_file() else None
    if source.kind == "hub":
        from huggingface_hub import try_to_load_from_cache

        hit = try_to_load_from_cache(source.repo_id, source.filename, cache_dir=hub_cache_dir(),
                                     revision=source.revision)
        return Path(hit) if isinstance(hit, str) else None
    return None


def status(card: ModelCard, online: bool | None = None) -> str:
    """One of: embedded, cached, local file, downloadable, unavailable offline, local file needed, missing."""
    for source in card.sources:
        if find_local(source) is not None:
            return {"embedded": "embedded", "local": "local file"}.get(source.kind, "cached")
    kinds = {s.kind for s in card.sources}
    if kinds & {"hub", "url"}:
        online = is_online() if online is None else online
        return "downloadable" if online else "unavailable offline"
    if "local" in kinds:
        return "local file needed"
    return "missing"  # an embedded file that is not in weights/: a broken checkout


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
        if not actual.startswith(source.sha256.lower()):
            raise WeightsError(f"{source.basename}: sha256 mismatch (expected {source.sha256}, got {actual}); "
                               "the download is corrupt or the file was replaced upstream.")


def download_url(url: str, target: Path, *, sha256: str | None = None, size: int | None = None,
                 progress: Progress | None = None, timeout: float = 30.0) -> Path:
    """Download ``url`` to ``target`` atomically: a temporary file in the same folder, verified, then renamed.

    Nothing is left at ``target`` (nor a temporary file) after an error, a hash mismatch or Ctrl-C.
    """
    from tqdm.auto import tqdm

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "vtdemo"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=timeout) as response:
            total = response.headers.get("Content-Length")
            total = int(total) if total is not None else size
            done = 0
            with tqdm(total=total, unit="B", unit_scale=True, desc=target.name, leave=False) as bar:
                while block := response.read(1 << 16):
                    out.write(block)
                    done += len(block)
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
    target = weights_dir() / source.basename
    if source.kind == "local":
        return (f"{card.id} ({card.name}) needs the file {source.basename}, which has no automatic download. "
                f"Get it from {source.page} and place it at {target}; vtdemo looks there first.")
    if source.kind == "embedded":
        return (f"{card.id} ({card.name}) ships with vtdemo as {target}, but that file is missing: this checkout "
                f"is incomplete. Restore it with `git checkout -- weights/{source.basename}` (or point "
                f"VTDEMO_WEIGHTS_DIR at a folder that holds it).")
    size = f" ({source.size / 1e6:.1f} MB)" if source.size else ""
    where = (f"the Hugging Face Hub repo {source.repo_id}" if source.kind == "hub" else "its release page")
    check = f" It is verified against sha256 {source.sha256[:16]}…" if source.sha256 else ""
    return (f"{card.id} ({card.name}) needs the file {source.basename}{size} from {where}: "
            f"{source.download_url}. It is not on this machine and {reason}, so it cannot be downloaded now. "
            f"Either run `python -m vtdemo fetch {card.id}` on a machine with internet access and copy the file, "
            f"or download it yourself and place it at {target}; vtdemo looks there first.{check}")


def _fetch_source(source: WeightSource, progress: Progress | None) -> Path:
    if source.kind == "url":
        return download_url(source.url, url_cache_dir() / source.basename, sha256=source.sha256,
                            size=source.size, progress=progress)
    from huggingface_hub import hf_hub_download

    path = Path(hf_hub_download(source.repo_id, source.filename, revision=source.revision,
                                cache_dir=hub_cache_dir()))
    verify(path, source)
    return path


def resolve(card: ModelCard, path: str | os.PathLike | None = None, *, download: bool = True,
            progress: Progress | None = None) -> Path:
    """The local path of ``card``'s checkpoint, downloading it if allowed and possible."""
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
    if not is_online():
        raise WeightsUnavailable(offline_message(card))
    errors = []
    for source in downloadable:
        try:
            return _fetch_source(source, progress)
        except Exception as exc:  # try the next mirror; report all of them
            errors.append(f"{source.download_url}: {exc}")
    raise WeightsUnavailable(offline_message(card, reason="every download failed") + "\n" + "\n".join(errors))


# --- safe loading -----------------------------------------------------------------------------------------------

def _is_tensor_dict(obj) -> bool:
    import torch

    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def unwrap_state_dict(obj) -> dict:
    """The tensors of a training checkpoint: ``params_ema`` > ``params`` > ``model`` > ``state_dict``, without
    DataParallel's ``module.`` prefixes."""
    while isinstance(obj, dict) and not _is_tensor_dict(obj):
        key = next((k for k in STATE_DICT_KEYS if isinstance(obj.get(k), dict)), None)
        if key is None:
            raise WeightsError("This checkpoint holds no state dict (no tensors, and none of the keys "
                               f"{', '.join(STATE_DICT_KEYS)}); top-level keys: {sorted(map(str, obj))[:8]}.")
        obj = obj[key]
    if not _is_tensor_dict(obj):
        raise WeightsError(f"This checkpoint holds a {type(obj).__name__}, not a state dict of tensors.")
    return {k.removeprefix("module."): v for k, v in obj.items()}


def load_state_dict(path: str | os.PathLike) -> dict:
    """Load a checkpoint's tensors safely: safetensors, or torch.load(weights_only=True) with a tiny allow-list.

    Raises UnsafeCheckpointError for a pickle that needs anything else (its payload never runs) and WeightsError for
    an empty, truncated, oversized or foreign file.
    """
    import pickle

    import torch

    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise WeightsError(f"{path.name} is empty (0 bytes).")
    if size > limits.max_checkpoint_bytes():
        raise WeightsError(f"{path.name} is {size / 1e6:,.0f} MB; the limit for checkpoints is "
                           f"{limits.max_checkpoint_bytes() / 1e6:,.0f} MB (VTDEMO_MAX_CHECKPOINT_BYTES).")
    with open(path, "rb") as f:
        head = f.read(16)
    if path.suffix == ".safetensors" or (head[8:9] == b"{" and not zipfile.is_zipfile(path)):
        from safetensors.torch import load_file

        try:
            return unwrap_state_dict(load_file(str(path)))
        except WeightsError:
            raise
        except Exception as exc:
            raise WeightsError(f"{path.name} is not a valid safetensors file ({exc}).") from exc
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights only" not in str(exc).lower() and "unsupported global" not in str(exc).lower():
            raise WeightsError(f"{path.name} is not a readable PyTorch checkpoint ({exc}).") from exc
        raise UnsafeCheckpointError(
            f"{path.name} was refused: it is a pickle that needs code outside the allow-list to load, and vtdemo "
            f"never unpickles arbitrary objects. Convert it to safetensors or save only its state_dict. "
            f"({str(exc).splitlines()[0]})") from exc
    except Exception as exc:  # the restricted unpickler raises many kinds on garbage (KeyError, EOFError, ...)
        detail = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        raise WeightsError(f"{path.name} is not a readable PyTorch checkpoint (not one, truncated or corrupt; "
                           f"{detail}).") from exc
    return unwrap_state_dict(obj)
