"""Loading a checkpoint's tensors without unpickling anything arbitrary: safetensors, or ``torch.load(weights_only=True)``
with a one-class allow-list; every file sized (and its zip directory read) before anything is allocated, and state
dicts that describe more than they hold refused."""
from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

from vtdemo import limits
from vtdemo.zoo.errors import UnsafeCheckpointError, WeightsError


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
# Wrapper keys of training checkpoints named in messages (spandrel's canonicalize_state_dict knows these and more;
# EMA weights before the raw ones, as the official test scripts take them).
STATE_DICT_KEYS = ("params_ema", "params", "model", "state_dict")
CHECKPOINT_SUFFIXES = (".pth", ".pt", ".safetensors", ".ckpt", ".bin")  # what a checkpoint file may be named


def _is_tensor_dict(obj) -> bool:
    import torch

    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def unwrap_state_dict(obj) -> dict:
    """The tensors of a training checkpoint: at each level the first of STATE_DICT_KEYS that holds a dict (EMA
    weights first), else spandrel's ``canonicalize_state_dict`` (its other wrapper keys — ``model_state_dict``,
    ``params-ema``, ``net`` — or a single key); at the end spandrel's prefix rule (``module.`` or ``netG.`` removed
    when every key has it). What spandrel's one pass would not bound is bounded here: a wrapper that contains
    itself, nesting deeper than MAX_NESTING, or keys that are not names are refused (a 1-kB file must not loop
    forever or crash the prefix rule)."""
    seen = set()
    while isinstance(obj, dict) and not _is_tensor_dict(obj):
        if id(obj) in seen or len(seen) >= MAX_NESTING:
            raise WeightsError("This checkpoint's wrapper dicts nest too deep or contain themselves.")
        seen.add(id(obj))
        key = next((k for k in STATE_DICT_KEYS if isinstance(obj.get(k), dict)), None)
        inner = obj[key] if key is not None else _canonical(obj)
        if any(v is obj for v in obj.values()):  # spandrel unwraps {"model": itself} to itself
            raise WeightsError("This checkpoint's wrapper dicts nest too deep or contain themselves.")
        if inner is obj or not isinstance(inner, dict):
            raise WeightsError("This checkpoint holds no state dict (no tensors, and none of the keys "
                               f"{', '.join(STATE_DICT_KEYS)}); top-level keys: "
                               f"{[str(k)[:40] for k in list(obj)[:8]]}.")
        obj = inner
    if not _is_tensor_dict(obj):
        raise WeightsError(f"This checkpoint holds a {type(obj).__name__}, not a state dict of tensors.")
    return dict(_canonical(obj))


def _canonical(obj: dict) -> dict:
    from spandrel import canonicalize_state_dict

    try:
        if all(isinstance(k, str) for k in obj):
            return canonicalize_state_dict(obj)
    except (AttributeError, TypeError):  # an unwrapped level whose keys are not strings
        pass
    raise WeightsError("This checkpoint's state dict has keys that are not names (e.g. integers).")


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
