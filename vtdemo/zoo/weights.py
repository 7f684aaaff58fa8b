"""Where the bytes of a model come from: resolved, verified and loaded without unpickling anything arbitrary.

Resolution order (design.md): an explicit path -> ``weights/`` in the repo -> the local cache (Hugging Face cache for
hub files, ``weights/cache/`` for URL files) -> a download, only when online -> otherwise ``WeightsUnavailable``,
whose message names the file, where to put it and the command that fetches it. The parts live by concern:
``locations`` (folders), ``downloads`` (network, hashes, trust), ``safe_loading`` (reading a file), ``errors``;
their public names are importable from here too.
"""
from __future__ import annotations

import os
from pathlib import Path

from vtdemo.runtime import Cancelled
from vtdemo.zoo.cards import ModelCard, WeightSource
from vtdemo.zoo.downloads import (REJECTED, Progress, _discard, _fetch_source, check_file, check_sources,  # noqa: F401
                                  clean_partial_downloads, download_url, hub_endpoint, is_online, reachable,
                                  recorded_hashes, recorded_path, sha256_of, source_key, source_reachable, verify)
from vtdemo.zoo.errors import UnsafeCheckpointError, WeightsError, WeightsUnavailable  # noqa: F401
from vtdemo.zoo.locations import (REPO_ROOT, display_path, embedded_dir, hub_cache_dir, url_cache_dir,  # noqa: F401
                                  user_dir, weights_dir)
from vtdemo.zoo.safe_loading import (CHECKPOINT_SUFFIXES, SAFE_GLOBALS, STATE_DICT_KEYS, SavedArguments,  # noqa: F401
                                     check_tensors, load_state_dict, unwrap_state_dict, without_references)


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
