"""Attention probes for the classifiers: every layer captured in one non-fused forward pass, cached per (model id,
image), then sliced per click into a map over the image.

- ViT / DeiT: the clicked patch's row (or the CLS / distillation token's), per layer and head; attention rollout.
- Swin: the clicked token's (shifted) window, mapped back through the shift, per stage/block.
- PVT-v2: the query at its stage's stride over the spatially reduced key grid.
- PerViT: "content" softmax(q·kᵀ·scale), "position" φp and "mixed" (what the model uses), per block and head.
"""
from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from contextvars import ContextVar
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image
from torch import nn

from vtdemo.classify.preprocess import Geometry, preprocess
from vtdemo.explain import head_index
from vtdemo.imaging import ImageSource, decode_image
from vtdemo.lru import LRU
from vtdemo.zoo.cards import ModelCard, get_card

MODES = {"ViT": ("patch", "cls", "rollout"), "DeiT": ("patch", "cls", "distill", "rollout"),
         "Swin": ("window",), "PVT-v2": ("reduced",), "PerViT": ("mixed", "content", "position")}


@dataclass
class Layer:
    """One attention layer's weights for one image: (windows or 1, heads, queries, keys) on the CPU."""

    attn: torch.Tensor
    grid: tuple[int, int]  # query token grid (rows, cols)
    key_grid: tuple[int, int]  # key token grid (rows, cols), prefix tokens excluded
    prefix: int = 0  # class / distillation tokens in front of the patches (ViT, DeiT)
    window: int = 0  # Swin
    shift: int = 0  # Swin
    name: str = ""
    extra: dict = field(default_factory=dict)  # PerViT: "content" and "position" weights


@dataclass
class Capture:
    model: str
    family: str
    layers: list[Layer]
    geometry: Geometry
    view: Image.Image  # what the model sees (the centre crop)
    display: Image.Image | None = None  # the view enlarged for the Attention tab (made on first use)


def _timm_attention_modules(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if hasattr(m, "fused_attn") and hasattr(m, "attn_drop")]


# The attention weights a call records. A context variable: each request's thread has its own, so a capture never
# changes what a concurrent forward of the same shared model computes.
_PROBING: ContextVar[list | None] = ContextVar("timm_probing", default=None)
_PROBED_CLASSES: dict[type, type] = {}
_PROBE_LOCK = threading.Lock()


def _fused_attn(self) -> bool:
    """timm reads ``self.fused_attn`` in forward: the explicit path (whose weights pass ``attn_drop``) only for a
    call that is probing; every other call keeps the module's own setting."""
    return _PROBING.get() is None and self.__dict__.get("fused_attn", True)


def _set_fused_attn(self, value: bool) -> None:
    self.__dict__["fused_attn"] = value


def _record_attention(module: nn.Module, inputs, output: torch.Tensor) -> None:
    sink = _PROBING.get()
    if sink is not None:
        sink.append(output.detach().float().cpu())


def _make_probeable(model: nn.Module) -> list[nn.Module]:
    """Once per model: give each timm attention module a subclass whose ``fused_attn`` follows the calling context,
    and a hook on ``attn_drop`` that records for probing calls only. Behaviour for non-probing calls is unchanged."""
    modules = _timm_attention_modules(model)
    with _PROBE_LOCK:
        for m in modules:
            if type(m) in _PROBED_CLASSES.values():
                continue
            cls = type(m)
            if cls not in _PROBED_CLASSES:
                _PROBED_CLASSES[cls] = type(cls.__name__, (cls,), {"fused_attn": property(_fused_attn,
                                                                                          _set_fused_attn)})
            m.attn_drop.register_forward_hook(_record_attention)
            m.__class__ = _PROBED_CLASSES[cls]
    return modules


def _capture_timm(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """Attention weights of every timm attention module, in forward order, from one explicit pass of this call."""
    _make_probeable(model)
    sink: list[torch.Tensor] = []
    token = _PROBING.set(sink)
    try:
        with torch.no_grad():
            model(x)
    finally:
        _PROBING.reset(token)
    return sink


def _layers_vit(model, weights: list[torch.Tensor]) -> list[Layer]:
    grid = tuple(model.patch_embed.grid_size)
    prefix = model.num_prefix_tokens
    return [Layer(a, grid, grid, prefix=prefix, name=f"block {i}") for i, a in enumerate(weights)]


def _layers_swin(model, weights: list[torch.Tensor]) -> list[Layer]:
    layers, i = [], 0
    for s, stage in enumerate(model.layers):
        for b, block in enumerate(stage.blocks):
            res = tuple(block.input_resolution)
            win, shift = block.window_size[0], block.shift_size[0]
            layers.append(Layer(weights[i], res, res, window=win, shift=shift,
                                name=f"stage {s} block {b} ({'SW' if shift else 'W'}-MSA)"))
            i += 1
    return layers


def _layers_pvt(model, weights: list[torch.Tensor]) -> list[Layer]:
    layers, i = [], 0
    for s, stage in enumerate(model.stages):
        for b, _ in enumerate(stage.blocks):
            a = weights[i]
            side, kside = math.isqrt(a.shape[-2]), math.isqrt(a.shape[-1])
            layers.append(Layer(a, (side, side), (kside, kside), name=f"stage {s} block {b} (keys {kside}×{kside})"))
            i += 1
    return layers


def _capture_pervit(model, x: torch.Tensor) -> list[Layer]:
    with torch.no_grad():
        with model.capturing() as record:
            model(x)
        mixed = [a.float().cpu() for a in record.mixed]
        content = [a.float().cpu() for a in record.content]
        position = [p.float().cpu() for p in model.position_attention()]
    side = model.grid
    return [Layer(m, (side, side), (side, side), name=f"block {i}",
                  extra={"content": c, "position": p / p.sum(-1, keepdim=True)})
            for i, (m, c, p) in enumerate(zip(mixed, content, position))]


def capture_module(model: nn.Module, family: str, image: ImageSource, pp, name: str = "") -> Capture:
    """Run a loaded classifier of ``family`` once on ``image`` (preprocessed by ``pp``), recording every layer."""
    x, geo, view = preprocess(decode_image(image).rgb, pp)
    x = x.to(next(model.parameters()).device)
    if family == "PerViT":
        layers = _capture_pervit(model, x)
    else:
        builders = {"ViT": _layers_vit, "DeiT": _layers_vit, "Swin": _layers_swin, "PVT-v2": _layers_pvt}
        if family not in builders:
            raise ValueError(f"no attention probe for the {family} family")
        layers = builders[family](model, _capture_timm(model, x))
    return Capture(name, family, layers, geo, view)


def capture(image: ImageSource, model_id: str, device=None) -> Capture:
    """Load the classifier ``model_id`` and capture its attention on ``image``."""
    from vtdemo.zoo.loading import load_model

    card = get_card(model_id)
    if card.task != "classify":
        raise ValueError(f"{card.id} is a {card.task} model: attention maps are for the classifiers.")
    return capture_module(load_model(card.id, device=device), card.family, image, card.preprocess, card.id)


# --- slicing a capture -----------------------------------------------------------------------------------------

def _heads(a: torch.Tensor, head: str | int) -> torch.Tensor:
    """(…, heads, q, k) -> (…, q, k): the mean over heads or one head."""
    h = head_index(head, a.shape[-3])
    return a.mean(-3) if h is None else a[..., h, :, :]


def rollout(layers: list[Layer], upto: int, head: str | int = "mean") -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema 2020) through layers 0..upto: Π (0.5·A + 0.5·I), rows renormalised."""
    result = None
    for layer in layers[:upto + 1]:
        a = _heads(layer.attn[0], head)
        a = 0.5 * a + 0.5 * torch.eye(a.shape[-1])
        a = a / a.sum(-1, keepdim=True)
        result = a if result is None else a @ result
    return result


def token_at(layer: Layer, geo: Geometry, point: tuple[float, float]) -> tuple[int, int]:
    """(row, col) of the query token under an original-image point, at this layer's grid."""
    x, y = geo.to_input(*point)
    if not (0 <= x < geo.size and 0 <= y < geo.size):
        raise ValueError(f"The point ({point[0]:.0f}, {point[1]:.0f}) is outside the centre crop the model sees.")
    rows, cols = layer.grid
    return min(int(y * rows / geo.size), rows - 1), min(int(x * cols / geo.size), cols - 1)


def token_map(cap: Capture, point: tuple[float, float], layer: int = -1, head: str | int = "mean",
              mode: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """(map over the key grid, mask of the query's window/keys or None) for the clicked point."""
    family = cap.family
    mode = mode or MODES[family][0]
    if mode not in MODES[family]:
        raise ValueError(f"mode {mode!r} is not available for {family}: {', '.join(MODES[family])}")
    n = len(cap.layers)
    if not -n <= layer < n:
        raise ValueError(f"layer {layer} does not exist: this model has {n} attention layers (0–{n - 1})")
    idx = layer % n
    lay = cap.layers[idx]
    r, c = token_at(lay, cap.geometry, point)
    rows, cols = lay.grid
    if family in ("ViT", "DeiT"):
        p = lay.prefix
        if mode == "rollout":
            row = rollout(cap.layers, idx, head)[0]  # the CLS token's row
        else:
            query = {"cls": 0, "distill": 1}.get(mode, p + r * cols + c)
            row = _heads(lay.attn[0], head)[query]
        return row[p:].reshape(rows, cols).numpy(), None
    if family == "Swin":
        m, s = lay.window, lay.shift
        sr, sc = (r - s) % rows, (c - s) % cols
        wi, wj = sr // m, sc // m
        row = _heads(lay.attn[wi * (cols // m) + wj], head)[(sr % m) * m + sc % m].reshape(m, m).numpy()
        out, mask = np.zeros((rows, cols), np.float32), np.zeros((rows, cols), bool)
        rr, cc = (wi * m + np.arange(m) + s) % rows, (wj * m + np.arange(m) + s) % cols
        out[rr[:, None], cc[None, :]] = row
        mask[rr[:, None], cc[None, :]] = True
        return out, mask
    if family == "PVT-v2":
        kr, kc = lay.key_grid
        return _heads(lay.attn[0], head)[r * cols + c].reshape(kr, kc).numpy(), None
    weights = lay.attn if mode == "mixed" else lay.extra[mode]  # PerViT
    return _heads(weights[0], head)[r * cols + c].reshape(rows, cols).numpy(), None


# --- cache and the public entry point -------------------------------------------------------------------------

_FILE_DIGESTS: OrderedDict[tuple, str] = OrderedDict()


def image_key(image: ImageSource) -> tuple[str, Image.Image | None]:
    """(digest of the decoded pixels, the decoded image or None when the digest was known from the file).
    A file seen before (same path, size and mtime) is not decoded again: a click needs only the digest."""
    import os

    file_key = None
    if isinstance(image, (str, os.PathLike)):
        st = os.stat(image)
        file_key = (os.fspath(image), st.st_size, st.st_mtime_ns)
        if file_key in _FILE_DIGESTS:
            return _FILE_DIGESTS[file_key], None
    rgb = decode_image(image).rgb
    digest = hashlib.sha256(rgb.tobytes() + repr(rgb.size).encode()).hexdigest()[:24]
    if file_key is not None:
        _FILE_DIGESTS[file_key] = digest
        while len(_FILE_DIGESTS) > 64:
            _FILE_DIGESTS.popitem(last=False)
    return digest, rgb


class CaptureCache:
    """Captures per (model id, image digest); LRU of ``size``. ``forwards`` counts model runs (tests read it)."""

    def __init__(self, size: int = 4):
        self.lru = LRU(size)

    @property
    def forwards(self) -> int:
        return self.lru.computed

    def get(self, image: ImageSource, model_id: str, device=None) -> Capture:
        digest, rgb = image_key(image)
        return self.lru.get_or_compute((model_id, digest),
                                       lambda: capture(rgb if rgb is not None else image, model_id, device))


CACHE = CaptureCache()


def cached_capture(image: ImageSource, model_id: str) -> Capture:
    """The capture of ``model_id`` on ``image`` from the shared cache (one forward pass the first time)."""
    return CACHE.get(image, model_id)


def attention_map(image: ImageSource, model: str | ModelCard, point: tuple[float, float], layer: int = -1,
                  head: str | int = "mean", mode: str | None = None) -> np.ndarray:
    """(H, W) float32 attention of the clicked point's query over the image (original pixel coordinates; zero
    outside the centre crop the model sees). ``mode`` per family: see ``MODES``."""
    model_id = model.id if isinstance(model, ModelCard) else model
    cap = CACHE.get(image, model_id)
    grid_map, _ = token_map(cap, point, layer, head, mode)
    return cap.geometry.to_image(grid_map)
