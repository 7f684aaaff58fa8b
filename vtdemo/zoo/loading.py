"""Load a model by id: resolve its weights, build its architecture, keep the most recently used loaded models (VTDEMO_MODEL_CACHE) (single-flight:
two first requests for a model load it once)."""
from __future__ import annotations

import os
import weakref
from pathlib import Path
from typing import TYPE_CHECKING

from vtdemo.cache import Cache
from vtdemo.zoo import builders, weights
from vtdemo.zoo.cards import get_card

if TYPE_CHECKING:
    import torch


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
    def build():
        # frozen: a model shared by requests gets no parameter gradients (LAM and class maps need the input's)
        model = builders.build(card, weights.load_state_dict(checkpoint)).eval().requires_grad_(False).to(device)
        _ZOO_IDS[model] = card.id
        return model

    return _CACHE.get_or_compute(key, build)


_CACHE = Cache("VTDEMO_MODEL_CACHE")
_ZOO_IDS: "weakref.WeakKeyDictionary[torch.nn.Module, str]" = weakref.WeakKeyDictionary()


def zoo_id_of(module) -> str | None:
    """The zoo id ``module`` was loaded as by ``load_model``, or None for any other object (an upload, a module
    built by a caller), whatever name it goes by."""
    try:
        return _ZOO_IDS.get(module)
    except TypeError:
        return None


def clear_cache() -> None:
    _CACHE.clear()
