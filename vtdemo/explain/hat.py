"""HAT's attention for a clicked pixel: (shifted) window self-attention, overlapping cross-attention (OCAB), and the
block's channel-attention weights — captured in one forward pass, then sliced per click.

Coordinates: HAT attends at LR resolution; its forward reflect-pads the bottom/right to a multiple of the window,
so feature (row, col) = LR pixel (row, col). A shifted block rolls the map by −s before windowing, so the query's
window is found in rolled coordinates and its keys are rolled back (+s, modulo the padded size). OCAB keys come
from the zero-padded ow×ow window around the query's m×m window; keys falling in the padding are not pixels.
"""
from __future__ import annotations

import hashlib

import numpy as np
import torch

from vtdemo.cache import Cache
from vtdemo.explain.base import LayerInfo, TokenMap
from vtdemo.models.hat import HAT, OCAB, Captured


def capture(model: HAT, lr: torch.Tensor, group: int, block: int) -> Captured:
    """One forward pass of ``model`` on ``lr`` (1, 3, h, w) recording block ``block`` of group ``group``
    (``block == depth`` is the group's OCAB); the weights move to the CPU."""
    blocks = model.blocks()
    if not 0 <= group < len(blocks) or not 0 <= block < len(blocks[group]):
        raise ValueError(f"HAT has {len(blocks)} groups of {len(blocks[0])} blocks (the last one is the OCAB); "
                         f"group {group}, block {block} does not exist.")
    device = next(model.parameters()).device
    with torch.no_grad(), model.capture_attention(group, block) as recording:
        model(lr.to(device))
    captured = recording.captured
    channel = captured.channel
    return Captured(captured.kind, captured.attn.float().cpu(), captured.window, captured.overlap_window,
                    captured.shift, captured.padded_size, None if channel is None else channel.float().cpu())


def pixel_attention(captured: Captured, x: int, y: int, size: tuple[int, int]) -> TokenMap:
    """The attention row of the query at LR pixel (x, y), mapped onto the (h, w) = ``size`` image."""
    h, w = size
    if not (0 <= x < w and 0 <= y < h):
        raise ValueError(f"Pixel ({x}, {y}) is outside the {w}×{h} input.")
    hp, wp = captured.padded_size
    m, s, ow = captured.window, captured.shift, captured.overlap_window
    heads = captured.attn.shape[1]
    grid = np.zeros((heads, hp, wp), dtype=np.float64)
    window = np.zeros((hp, wp), dtype=bool)
    keys = np.zeros((hp, wp), dtype=bool)
    if captured.kind == "OCAB":
        wi, wj = y // m, x // m
        row = captured.attn[wi * (wp // m) + wj, :, (y % m) * m + x % m].double().numpy().reshape(heads, ow, ow)
        pad = (ow - m) // 2
        top, left = wi * m - pad, wj * m - pad
        ys, xs = slice(max(0, top), min(hp, top + ow)), slice(max(0, left), min(wp, left + ow))
        grid[:, ys, xs] = row[:, ys.start - top:ys.stop - top, xs.start - left:xs.stop - left]
        keys[ys, xs] = True
        window[wi * m:(wi + 1) * m, wj * m:(wj + 1) * m] = True
    else:
        sy, sx = (y - s) % hp, (x - s) % wp
        wi, wj = sy // m, sx // m
        row = captured.attn[wi * (wp // m) + wj, :, (sy % m) * m + sx % m].double().numpy().reshape(heads, m, m)
        rows = (wi * m + np.arange(m) + s) % hp
        cols = (wj * m + np.arange(m) + s) % wp
        grid[:, rows[:, None], cols[None, :]] = row
        window[rows[:, None], cols[None, :]] = True
        keys = window.copy()
    grid, window, keys = grid[:, :h, :w], window[:h, :w], keys[:h, :w]
    channel = None if captured.channel is None else captured.channel[0].numpy()
    return TokenMap(grid.mean(0).astype(np.float32), window=window, keys=keys, heads=grid.astype(np.float32),
                    channel=channel, kind=captured.kind)


def image_digest(lr: torch.Tensor) -> str:
    return hashlib.sha256(lr.detach().cpu().numpy().tobytes()).hexdigest()[:24]


class AttentionCache:
    """Captured blocks per (model key, image digest, group, block): a click only slices (LRU, ``size`` entries)."""

    def __init__(self, size: int | None = None):
        # captures of a large HAT hold hundreds of MB each: a few, VTDEMO_ATTENTION_CACHE
        self.lru = Cache(size or "VTDEMO_ATTENTION_CACHE")

    @property
    def forwards(self) -> int:
        """Forward passes run so far (tests count them)."""
        return self.lru.computed

    def get(self, key: str, model: HAT, lr: torch.Tensor, group: int, block: int) -> Captured:
        return self.lru.get_or_compute((key, image_digest(lr), group, block),
                                       lambda: capture(model, lr, group, block))


CACHE = AttentionCache()


def neighbourhood(size: tuple[int, int], point: tuple[int, int], side: int) -> tuple[int, int, int, int]:
    """A ``side``×``side`` box (left, top, right, bottom) around ``point`` inside an image of ``size``; aligned to
    multiples of 16 so that nearby clicks share one box (and one cached forward pass)."""
    w, h = size
    left = min(max(0, (point[0] - side // 2) // 16 * 16), max(0, w - side))
    top = min(max(0, (point[1] - side // 2) // 16 * 16), max(0, h - side))
    return left, top, min(w, left + side), min(h, top + side)


def hat_attention_for_image(image, model_id: str, point: tuple[int, int], group: int, block: int,
                            capture_block=None):
    """(TokenMap, the LR image attended, its (left, top) in the input) for the LR pixel ``point`` of ``image``
    under the zoo HAT ``model_id``. The forward pass is cached per (model, image, group, block), so further clicks
    only slice. Inputs larger than VTDEMO_MAX_ATTENTION_PIXELS are attended in a neighbourhood of the point:
    window attention is local, only the channel attention's global pooling sees less of the image. On a miss
    ``capture_block(rgb, model_id, group, block)`` runs the forward pass (default: here; the app passes its GPU
    function)."""
    from vtdemo import limits
    from vtdemo.imaging import check_aspect, decode_image, pil_to_tensor
    from vtdemo.zoo.cards import get_card
    from vtdemo.zoo.loading import load_model

    card = get_card(model_id)
    if not has_attention(card):
        raise ValueError(f"{card.name} is not a HAT model: window attention maps need HAT.")
    rgb = decode_image(image).rgb
    check_aspect(*rgb.size)
    x, y = int(point[0]), int(point[1])
    if not (0 <= x < rgb.width and 0 <= y < rgb.height):
        raise ValueError(f"Pixel ({x}, {y}) is outside the {rgb.width}×{rgb.height} input.")
    offset = (0, 0)
    if rgb.width * rgb.height > limits.max_attention_pixels():
        box = neighbourhood(rgb.size, (x, y), int(limits.max_attention_pixels() ** 0.5))
        rgb, offset = rgb.crop(box), box[:2]
    lr = pil_to_tensor(rgb)
    run = capture_block or (lambda img, model, g, b: capture(load_model(model), lr, g, b))
    captured = CACHE.lru.get_or_compute((model_id, image_digest(lr), group, block),
                                        lambda: run(rgb, model_id, group, block))
    view = pixel_attention(captured, x - offset[0], y - offset[1], (rgb.height, rgb.width))
    return view, rgb, offset


class HATAttention:
    """HAT's attention layers as the LAM tab's controls show them. HAT is not in the probe registry (``PROBES``) on
    purpose: a probe captures every layer of a fixed-size model input in one pass and measures distances over it,
    while HAT attends at the resolution of an input of any size, whose one block's weights are hundreds of MB — so
    it captures one block per pass around the click (``hat_attention_for_image``), and what its maps show (windows,
    OCAB's overlapping keys, CAB's channel weights) has no classifier counterpart. Its layers are the blocks of every
    group (HABs, then the group's OCAB), in forward order."""

    family = "HAT"

    def layers(self, model):
        infos = []
        for g, blocks in enumerate(model.blocks()):
            for b, block in enumerate(blocks):
                if isinstance(block, OCAB):
                    infos.append(LayerInfo(f"group {g} block {b} (OCAB)", block.num_heads, "overlapping window",
                                           (g, b)))
                else:
                    kind = "SW-MSA" if block.shift_size else "W-MSA"
                    infos.append(LayerInfo(f"group {g} block {b} ({kind})", block.attn.num_heads, "window", (g, b)))
        return infos


HAT_ATTENTION = HATAttention()


def has_attention(card) -> bool:
    """Whether ``card``'s model has HAT attention to show (the LAM tab's attention view)."""
    return card.task == "sr" and card.family == HATAttention.family


def layer_infos(card) -> list[LayerInfo]:
    """The blocks of ``card``'s HAT, read once from a build on the meta device (the controls' ranges)."""
    from vtdemo.explain.registry import layer_infos as infos_of

    return infos_of(card, HAT_ATTENTION)
