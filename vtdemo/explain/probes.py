"""Classifier attention for a clicked point: every layer captured in one forward pass (by the family's probe, see
registry.py), cached per (model id, image), then sliced per click into a map over the image."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image
from torch import nn

from vtdemo.cache import Cache
from vtdemo.classify.geometry import Geometry
from vtdemo.classify.preprocess import preprocess
from vtdemo.explain import head_index
from vtdemo.explain.base import Layer, TokenMap
from vtdemo.explain.registry import probe_for
from vtdemo.imaging import ImageSource, decode_image
from vtdemo.zoo.cards import ModelCard, get_card


@dataclass
class Capture:
    model: str
    family: str
    layers: list[Layer]
    geometry: Geometry
    view: Image.Image  # what the model sees (the centre crop)
    display: Image.Image | None = None  # the view enlarged for the Attention tab (made on first use)


def capture_module(model: nn.Module, family: str, image: ImageSource, pp, name: str = "") -> Capture:
    """Run a loaded classifier of ``family`` once on ``image`` (preprocessed by ``pp``), recording every layer."""
    probe = probe_for(family)
    x, geo, view = preprocess(decode_image(image).rgb, pp)
    layers = probe.capture(model, x.to(next(model.parameters()).device))
    return Capture(name, family, layers, geo, view)


def capture(image: ImageSource, model_id: str, device=None) -> Capture:
    """Load the classifier ``model_id`` and capture its attention on ``image``."""
    from vtdemo.zoo.loading import load_model

    card = get_card(model_id)
    if card.task != "classify":
        raise ValueError(f"{card.id} is a {card.task} model: attention maps are for the classifiers.")
    return capture_module(load_model(card.id, device=device), card.family, image, card.preprocess, card.id)


# --- slicing a capture -----------------------------------------------------------------------------------------

def token_at(layer: Layer, geo: Geometry, point: tuple[float, float]) -> tuple[int, int]:
    """(row, col) of the query token under an original-image point, at this layer's grid."""
    x, y = geo.to_input(*point)
    if not (0 <= x < geo.size and 0 <= y < geo.size):
        raise ValueError(f"The point ({point[0]:.0f}, {point[1]:.0f}) is outside the centre crop the model sees.")
    rows, cols = layer.grid
    return min(int(y * rows / geo.size), rows - 1), min(int(x * cols / geo.size), cols - 1)


def layer_index(cap: Capture, layer: int) -> int:
    """``layer`` (negative counts from the end) as an index into the capture's layers; a clear error if none."""
    n = len(cap.layers)
    if not -n <= layer < n:
        raise ValueError(f"layer {layer} does not exist: this model has {n} attention layers (0–{n - 1})")
    return layer % n


def depth_layer(cap: Capture, depth: float) -> int:
    """The layer at relative ``depth`` (0 = first attention layer, 1 = last) of a capture."""
    return int(round(depth * (len(cap.layers) - 1)))


def query_map(cap: Capture, point: tuple[float, float], layer: int = -1, head: str | int = "mean",
              mode: str | None = None) -> TokenMap:
    """What the query token under ``point`` attends to in ``layer``, over the layer's key grid."""
    probe = probe_for(cap.family)
    mode = mode or probe.modes[0]
    if mode not in probe.modes:
        raise ValueError(f"mode {str(mode)[:20]!r} is not available for {cap.family}: {', '.join(probe.modes)}")
    index = layer_index(cap, layer)
    lay = cap.layers[index]
    r, c = token_at(lay, cap.geometry, point)
    found = probe.token_map(cap.layers, index, r, c, head_index(head, lay.attn.shape[-3]), mode)
    found.heat = found.heat.copy()  # a view into the shared cached capture: never handed out writable
    return found


def click_analysis(cap: Capture, point: tuple[float, float], layer: int = -1) -> dict | None:
    """The family's analysis of a click (PerViT: peripheral distances and φp maps), with the token size in model-input
    pixels; None for families without one."""
    index = layer_index(cap, layer)
    lay = cap.layers[index]
    analysis = probe_for(cap.family).analysis(cap.layers, index, *token_at(lay, cap.geometry, point))
    return None if analysis is None else dict(analysis, token_px=cap.geometry.size / lay.grid[0])


def token_map(cap: Capture, point: tuple[float, float], layer: int = -1, head: str | int = "mean",
              mode: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """(map over the key grid, the query's window or None) for the clicked point."""
    found = query_map(cap, point, layer, head, mode)
    return found.heat, found.window


# --- cache and the public entry point -------------------------------------------------------------------------

_FILE_DIGESTS = Cache("VTDEMO_DIGEST_CACHE")


def _digest(rgb: Image.Image) -> str:
    return hashlib.sha256(rgb.tobytes() + repr(rgb.size).encode()).hexdigest()[:24]


def image_key(image: ImageSource) -> tuple[str, Image.Image | None]:
    """(digest of the decoded pixels, the decoded image or None when the digest was known from the file).
    A file seen before (same path, size and mtime) is not decoded again: a click needs only the digest."""
    if isinstance(image, (str, os.PathLike)):
        st = os.stat(image)
        decoded = []

        def digest_of_file() -> str:
            decoded.append(decode_image(image).rgb)
            return _digest(decoded[0])

        digest = _FILE_DIGESTS.get_or_compute((os.fspath(image), st.st_size, st.st_mtime_ns), digest_of_file)
        return digest, (decoded[0] if decoded else None)
    rgb = decode_image(image).rgb
    return _digest(rgb), rgb


class CaptureCache:
    """Captures per (model id, image digest), VTDEMO_CAPTURE_CACHE of them. ``forwards`` counts model runs (tests
    read it)."""

    def __init__(self, size: int | str = "VTDEMO_CAPTURE_CACHE"):
        self.lru = Cache(size)

    @property
    def forwards(self) -> int:
        return self.lru.computed

    def get(self, image: ImageSource, model_id: str, device=None, compute=None) -> Capture:
        """The capture of ``model_id`` on ``image``; on a miss ``compute(image, model_id)`` makes it (default: a
        forward pass here; the app passes its GPU function)."""
        digest, rgb = image_key(image)
        source = rgb if rgb is not None else image
        run = compute or (lambda img, model: capture(img, model, device))
        return self.lru.get_or_compute((model_id, digest), lambda: run(source, model_id))


CACHE = CaptureCache()


def cached_capture(image: ImageSource, model_id: str) -> Capture:
    """The capture of ``model_id`` on ``image`` from the shared cache (one forward pass the first time)."""
    return CACHE.get(image, model_id)


def attention_distance(image: ImageSource, model: str | ModelCard, capture=cached_capture) -> np.ndarray:
    """(layers, heads) mean attention distance of ``model`` on ``image``, in pixels of the model's input (the resized,
    centre-cropped image it sees): per layer and head, the attention-weighted distance from each query token's centre
    to the image-token keys' centres, averaged over the queries (the ViT paper's Fig. 7). Class / distillation tokens
    are left out; Swin within each shifted window in image coordinates; PVT-v2 to the reduced keys' centres; PerViT
    its mixed attention. Layers with fewer heads than the widest are padded with NaN. ``capture(image, model_id)``
    gives the capture (default: the shared cache)."""
    model_id = model.id if isinstance(model, ModelCard) else model
    cap = capture(image, model_id)
    rows = probe_for(cap.family).distances(cap.layers, cap.geometry.size)
    table = np.full((len(rows), max(len(r) for r in rows)), np.nan)
    for i, row in enumerate(rows):
        table[i, :len(row)] = row
    return table


def attention_map(image: ImageSource, model: str | ModelCard, point: tuple[float, float], layer: int = -1,
                  head: str | int = "mean", mode: str | None = None) -> np.ndarray:
    """(H, W) float32 attention of the clicked point's query over the image (original pixel coordinates; zero
    outside the centre crop the model sees). ``mode``: one of the family's (``registry.probe_for(family).modes``;
    the first when None)."""
    model_id = model.id if isinstance(model, ModelCard) else model
    cap = CACHE.get(image, model_id)
    return cap.geometry.to_image(query_map(cap, point, layer, head, mode).heat)
