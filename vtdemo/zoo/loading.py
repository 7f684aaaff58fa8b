"""Load a model by id: resolve its weights, build its architecture, keep a small LRU of loaded models."""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING

from vtdemo.zoo import builders, weights
from vtdemo.zoo.cards import get_card

if TYPE_CHECKING:
    import torch

_cache: "OrderedDict[tuple, torch.nn.Module]" = OrderedDict()
_lock = threading.Lock()


def cache_size() -> int:
    """How many loaded models stay in memory (VTDEMO_MODEL_CACHE, default 4)."""
    return max(1, int(os.environ.get("VTDEMO_MODEL_CACHE", "4")))


def load_model(model_id: str, *, device=None, path: str | os.PathLike | None = None, download: bool = True,
               progress: weights.Progress | None = None) -> "torch.nn.Module":
    """The model ``model_id`` in eval mode on ``device`` (default: runtime.default_device()).

    Raises UnknownModelError, WeightsUnavailable (with instructions), WeightsError or BuildError, each with a
    message fit for a user.
    """
    import torch

    from vtdemo.runtime import default_device

    card = get_card(model_id)
    device = torch.device(device) if device is not None else default_device()
    checkpoint = weights.resolve(card, path, download=download, progress=progress)
    stat = checkpoint.stat()
    key = (card.id, str(device), str(Path(checkpoint).resolve()), stat.st_mtime_ns, stat.st_size)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    return _remember(key, builders.build(card, weights.load_state_dict(checkpoint)).eval().to(device))


def _remember(key: tuple, model):
    """Keep ``model`` in the LRU, evicting the least recently used beyond VTDEMO_MODEL_CACHE."""
    with _lock:
        _cache[key] = model
        while len(_cache) > cache_size():
            _cache.popitem(last=False)
    return model


def clear_cache() -> None:
    with _lock:
        _cache.clear()
