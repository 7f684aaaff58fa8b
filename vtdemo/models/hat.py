"""HAT — Hybrid Attention Transformer (Chen et al., "Activating More Pixels in Image Super-Resolution Transformer",
CVPR 2023), written for this project.

Key-for-key compatible with the official ``hat/archs/hat_arch.py`` (same constructor keywords, parameter and buffer
names; official ``{"params_ema": ...}`` checkpoints load with ``strict=True``) and number-for-number equal to it
(tests/reference). What differs is how it computes:

- features stay in (B, H, W, C) layout between blocks, so convolutions see channels-last views instead of copies;
- window attention runs through ``scaled_dot_product_attention``. The shifted-window mask of the official code has
  only four distinct window patterns (interior, last window row, last window column, corner), so each pattern is
  added to the relative-position bias once and the windows of that pattern are attended in one call — no
  (windows × heads × N × N) mask is ever materialised, and nothing is rebuilt per input size;
- OCAB gathers its overlapping (1+γ)M key/value windows through a strided view of the zero-padded feature map
  instead of ``nn.Unfold`` + rearrange (same values, one copy instead of three);
- any input size: ``forward`` reflect-pads bottom/right to a multiple of the window, runs, and crops, exactly as the
  official test pipeline does.

Attention can be captured for one block (``capture_attention``); when nothing is captured the fused path runs. A
capture belongs to the call that asked for it (a context variable, not a flag on the shared module), so forwards of
the same model running at the same time in other threads neither record nor change path.
"""
from __future__ import annotations

import math
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vtdemo.models.padding import pad_to_multiple

RGB_MEAN = (0.4488, 0.4371, 0.4040)  # DIV2K mean used by the official code

# Per call (each thread / context has its own value): what this call records, and whether it runs the explicit path.
_RECORDING: ContextVar[dict | None] = ContextVar("hat_recording", default=None)
_EXPLICIT: ContextVar[bool] = ContextVar("hat_explicit_attention", default=False)


def _record_for(module: nn.Module) -> dict | None:
    """The current call's record when it asked for ``module``'s weights, else None."""
    record = _RECORDING.get()
    return record if record is not None and id(module) in record else None


# --- small pieces -----------------------------------------------------------------------------------------------

class DropPath(nn.Module):
    """Stochastic depth (training only)."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int, drop: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class ChannelAttention(nn.Module):
    """RCAN-style squeeze-and-excitation; the last weights can be captured for display."""

    def __init__(self, dim: int, squeeze_factor: int):
        super().__init__()
        self.attention = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(dim, dim // squeeze_factor, 1), nn.ReLU(inplace=True),
            nn.Conv2d(dim // squeeze_factor, dim, 1), nn.Sigmoid())
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = self.attention(x)
        if (record := _record_for(self)) is not None:
            record[id(self)] = weights.detach().flatten(1)
        return x * weights


class CAB(nn.Module):
    """Channel attention block: conv 3×3 (compress) → GELU → conv 3×3 → channel attention."""

    def __init__(self, dim: int, compress_ratio: int, squeeze_factor: int):
        super().__init__()
        self.cab = nn.Sequential(
            nn.Conv2d(dim, dim // compress_ratio, 3, 1, 1), nn.GELU(),
            nn.Conv2d(dim // compress_ratio, dim, 3, 1, 1), ChannelAttention(dim, squeeze_factor))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cab(x)


def full_precision(x: torch.Tensor):
    """A context that switches autocast off on ``x``'s device where it is on (nothing otherwise)."""
    kind = x.device.type
    if kind in ("cpu", "cuda") and torch.is_autocast_enabled(kind):
        return torch.autocast(kind, enabled=False)
    return nullcontext()


def head_alignment(q: torch.Tensor) -> int:
    """The head size CUDA's fused attention kernels need a multiple of (8); elsewhere any size runs fused."""
    return 8 if q.is_cuda else 1


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor, scale: float,
           dropout: float = 0.0) -> torch.Tensor:
    """``scaled_dot_product_attention`` with the head size zero-padded up to ``head_alignment``: HAT's 180
    channels over 6 heads give 30, for which CUDA falls back to the unfused kernel (8.5× slower in bf16 on an
    H100). Zeros add nothing to q·k, and v's zero columns are cut off again."""
    d = q.shape[-1]
    pad = -d % head_alignment(q)
    if pad:
        q, k, v = (F.pad(t, (0, pad)) for t in (q, k, v))
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=scale, dropout_p=dropout)
    return out[..., :d] if pad else out


def window_partition(x: torch.Tensor, m: int) -> torch.Tensor:
    """(B, H, W, C) -> (B·nH·nW, m·m, C), windows in row-major order."""
    b, h, w, c = x.shape
    x = x.view(b, h // m, m, w // m, m, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, m * m, c)


def window_reverse(windows: torch.Tensor, m: int, b: int, h: int, w: int) -> torch.Tensor:
    """(B·nH·nW, m·m, C) -> (B, H, W, C)."""
    c = windows.shape[-1]
    x = windows.view(b, h // m, w // m, m, m, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h, w, c)


def mask_groups(nh: int, nw: int) -> list[tuple[slice, slice, int]]:
    """The windows sharing one shift-mask pattern, as (window rows, window cols, pattern) — non-empty ones only.
    Patterns: 0 interior, 1 last column, 2 last row, 3 corner (the order of ``shift_mask(2m, 2m, ...)``)."""
    groups = [(slice(0, nh - 1), slice(0, nw - 1), 0), (slice(0, nh - 1), slice(nw - 1, nw), 1),
              (slice(nh - 1, nh), slice(0, nw - 1), 2), (slice(nh - 1, nh), slice(nw - 1, nw), 3)]
    return [g for g in groups if g[0].stop > g[0].start and g[1].stop > g[1].start]


def partition_grouped(x: torch.Tensor, m: int, groups) -> torch.Tensor:
    """Like window_partition, but windows ordered group by group (one copy, as window_partition)."""
    b, h, w, c = x.shape
    grid = x.view(b, h // m, m, w // m, m, c).permute(0, 1, 3, 2, 4, 5)  # (B, nH, nW, m, m, C) view
    out = x.new_empty(b * (h // m) * (w // m), m * m, c)
    start = 0
    for rows, cols, _ in groups:
        part = grid[:, rows, cols]
        stop = start + part.shape[0] * part.shape[1] * part.shape[2]
        out[start:stop].view(part.shape).copy_(part)
        start = stop
    return out


def reverse_grouped(windows: torch.Tensor, m: int, groups, b: int, h: int, w: int) -> torch.Tensor:
    """Inverse of partition_grouped: (B·nW, m², C) in group order -> (B, H, W, C)."""
    c = windows.shape[-1]
    out = windows.new_empty(b, h, w, c)
    grid = out.view(b, h // m, m, w // m, m, c).permute(0, 1, 3, 2, 4, 5)
    start = 0
    for rows, cols, _ in groups:
        target = grid[:, rows, cols]
        stop = start + target.shape[0] * target.shape[1] * target.shape[2]
        target.copy_(windows[start:stop].view(target.shape))
        start = stop
    return out


def relative_position_index_sa(m: int) -> torch.Tensor:
    """(m², m²) index into a (2m−1)² bias table, as in Swin / the official HAT."""
    coords = torch.stack(torch.meshgrid(torch.arange(m), torch.arange(m), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (m - 1)
    return rel[..., 0] * (2 * m - 1) + rel[..., 1]


def relative_position_index_oca(m: int, ow: int) -> torch.Tensor:
    """(m², ow²) index into a (m+ow−1)² bias table: query in an m×m window, key in its ow×ow overlapping window."""
    q = torch.stack(torch.meshgrid(torch.arange(m), torch.arange(m), indexing="ij")).flatten(1)
    k = torch.stack(torch.meshgrid(torch.arange(ow), torch.arange(ow), indexing="ij")).flatten(1)
    rel = (k[:, None, :] - q[:, :, None]).permute(1, 2, 0) + (m - ow + 1)
    return rel[..., 0] * (m + ow - 1) + rel[..., 1]


def shift_mask(h: int, w: int, m: int, s: int) -> torch.Tensor:
    """The official (nW, m², m²) mask of shifted windows for an (h, w) map: 0 within a region, −100 across."""
    labels = torch.zeros(h, w)
    cuts = (slice(0, -m), slice(-m, -s), slice(-s, None))
    for i, rows in enumerate(cuts):
        for j, cols in enumerate(cuts):
            labels[rows, cols] = i * 3 + j
    win = labels.view(h // m, m, w // m, m).permute(0, 2, 1, 3).reshape(-1, m * m)
    diff = win[:, None, :] - win[:, :, None]
    return torch.where(diff != 0, torch.tensor(-100.0), torch.tensor(0.0))


class _BiasCache:
    """Relative-position bias (heads, Nq, Nk) gathered from a table; reused while the table is unchanged and no
    gradient is needed (``_version`` changes on every in-place update, e.g. load_state_dict or an optimiser step)."""

    def __init__(self):
        self.entry = (None, None)  # (key, value), replaced whole: concurrent passes read a matching pair

    def get(self, table: torch.Tensor, index: torch.Tensor, nq: int, nk: int) -> torch.Tensor:
        if torch.is_grad_enabled() and table.requires_grad:
            return table[index.reshape(-1)].view(nq, nk, -1).permute(2, 0, 1)
        # an inference-mode tensor cannot enter a graph (LAM's backward through frozen weights): one per mode
        key = (table.data_ptr(), table._version, table.device, table.dtype, index.data_ptr(),
               torch.is_inference_mode_enabled())
        cached_key, value = self.entry
        if key != cached_key:
            value = table[index.reshape(-1)].view(nq, nk, -1).permute(2, 0, 1).contiguous()
            self.entry = (key, value)
        return value


@dataclass
class Captured:
    """Attention weights of one block, from one forward pass (see HAT.capture_attention)."""

    kind: str  # "W-MSA", "SW-MSA" or "OCAB"
    attn: torch.Tensor  # (B·nW, heads, m², m²) or, for OCAB, (B·nW, heads, m², ow²)
    window: int
    overlap_window: int
    shift: int
    padded_size: tuple[int, int]  # the (H, W) of the feature map the windows tile
    channel: torch.Tensor | None = None  # (B, C) channel-attention weights of the block's CAB (HAB only)


# --- attention blocks -------------------------------------------------------------------------------------------

class WindowAttention(nn.Module):
    """(Shifted) window multi-head self-attention with relative position bias."""

    def __init__(self, dim: int, window_size: int, num_heads: int, qkv_bias: bool = True,
                 qk_scale: float | None = None, attn_drop: float = 0.0, proj_drop: float = 0.0):
        super().__init__()
        self.window_size, self.num_heads = window_size, num_heads
        self.scale = qk_scale or (dim // num_heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self._bias = _BiasCache()

    def bias(self, rpi: torch.Tensor) -> torch.Tensor:
        n = self.window_size ** 2
        return self._bias.get(self.relative_position_bias_table, rpi, n, n)

    def qkv_heads(self, windows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B_, N, C) windows -> q, k, v of shape (B_, heads, N, d)."""
        b_, n, c = windows.shape
        qkv = self.qkv(windows).view(b_, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        return qkv[0], qkv[1], qkv[2]


class HAB(nn.Module):
    """Hybrid attention block: (S)W-MSA ∥ CAB·conv_scale, then an MLP."""

    def __init__(self, dim: int, input_resolution: tuple[int, int], num_heads: int, window_size: int,
                 shift_size: int, compress_ratio: int, squeeze_factor: int, conv_scale: float, mlp_ratio: float,
                 qkv_bias: bool, qk_scale: float | None, drop: float, attn_drop: float, drop_path: float,
                 norm_layer=nn.LayerNorm):
        super().__init__()
        if min(input_resolution) <= window_size:  # official rule: one window covers the (training) input
            shift_size, window_size = 0, min(input_resolution)
        self.window_size, self.shift_size, self.conv_scale = window_size, shift_size, conv_scale
        self.norm1 = norm_layer(dim)
        self.attn = WindowAttention(dim, window_size, num_heads, qkv_bias, qk_scale, attn_drop, drop)
        self.conv_block = CAB(dim, compress_ratio, squeeze_factor)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)
        # The 4 distinct window patterns of the shift mask: interior, right column, bottom row, corner.
        if shift_size:
            patterns = shift_mask(2 * window_size, 2 * window_size, window_size, shift_size)
            self.register_buffer("_mask_patterns", patterns[:, None], persistent=False)  # (4, 1, N, N)

    def forward(self, x: torch.Tensor, rpi: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        shortcut = x
        x = self.norm1(x)
        conv_x = self.conv_block(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        s, m = self.shift_size, self.window_size
        shifted = torch.roll(x, shifts=(-s, -s), dims=(1, 2)) if s else x
        bias = self.attn.bias(rpi)
        dropout = self.attn.attn_drop if self.training else 0.0
        record = _record_for(self)
        if record is not None or _EXPLICIT.get():
            q, k, v = self.attn.qkv_heads(window_partition(shifted, m))
            out = self._explicit_attention(q, k, v, bias, b, h, w, record)
            attn_x = window_reverse(self._project(out, c), m, b, h, w)
        elif s:
            # Windows ordered by mask pattern, so that each pattern's windows are one contiguous batch for SDPA.
            groups = mask_groups(h // m, w // m)
            q, k, v = self.attn.qkv_heads(partition_grouped(shifted, m, groups))
            biases = (bias + self._mask_patterns.to(bias.dtype)).to(q.dtype)  # (4, heads, N, N)
            out = torch.empty_like(q)
            start = 0
            for rows, cols, pattern in groups:
                stop = start + b * (rows.stop - rows.start) * (cols.stop - cols.start)
                out[start:stop] = attend(q[start:stop], k[start:stop], v[start:stop], biases[pattern: pattern + 1],
                                         self.attn.scale, dropout)
                start = stop
            attn_x = reverse_grouped(self._project(out, c), m, groups, b, h, w)
        else:
            q, k, v = self.attn.qkv_heads(window_partition(shifted, m))
            out = attend(q, k, v, bias.unsqueeze(0).to(q.dtype), self.attn.scale, dropout)
            attn_x = window_reverse(self._project(out, c), m, b, h, w)
        if s:
            attn_x = torch.roll(attn_x, shifts=(s, s), dims=(1, 2))
        x = shortcut + self.drop_path(attn_x) + conv_x * self.conv_scale
        return x + self.drop_path(self.mlp(self.norm2(x)))

    def _project(self, out: torch.Tensor, c: int) -> torch.Tensor:
        """(B_, heads, N, d) -> merged heads, output projection: (B_, N, C)."""
        return self.attn.proj_drop(self.attn.proj(out.transpose(1, 2).reshape(out.shape[0], -1, c)))

    def _explicit_attention(self, q, k, v, bias, b, h, w, record: dict | None):
        """The official computation, keeping the weights in ``record``: softmax(q·kᵀ·scale + bias [+ mask])."""
        m, s = self.window_size, self.shift_size
        logits = (q * self.attn.scale) @ k.transpose(-2, -1) + bias.unsqueeze(0)
        if s:
            mask = shift_mask(h, w, m, s).to(logits)
            logits = (logits.view(b, -1, *logits.shape[1:]) + mask[None, :, None]).view_as(logits)
        attn = logits.softmax(-1)
        if record is not None:
            record[id(self)] = Captured(kind="SW-MSA" if s else "W-MSA", attn=attn.detach(), window=m,
                                        overlap_window=m, shift=s, padded_size=(h, w),
                                        channel=record.get(id(self.conv_block.cab[3])))
        return attn @ v


class OCAB(nn.Module):
    """Overlapping cross-attention block: queries from m×m windows, keys/values from (1+γ)m overlapping windows."""

    def __init__(self, dim: int, input_resolution: tuple[int, int], window_size: int, overlap_ratio: float,
                 num_heads: int, qkv_bias: bool = True, qk_scale: float | None = None, mlp_ratio: float = 2.0,
                 norm_layer=nn.LayerNorm):
        super().__init__()
        self.dim, self.window_size, self.num_heads = dim, window_size, num_heads
        self.scale = qk_scale or (dim // num_heads) ** -0.5
        self.overlap_win_size = int(window_size * overlap_ratio) + window_size
        self.norm1 = norm_layer(dim)
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((window_size + self.overlap_win_size - 1) ** 2, num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self._bias = _BiasCache()

    def overlapping_windows(self, kv: torch.Tensor) -> torch.Tensor:
        """(B, H, W, 2C) -> (B·nW, ow², 2C): the zero-padded ow×ow window around each m×m window (= nn.Unfold)."""
        b, h, w, c2 = kv.shape
        m, ow = self.window_size, self.overlap_win_size
        pad = (ow - m) // 2
        kv = F.pad(kv, (0, 0, pad, pad, pad, pad))  # zeros, as Unfold's padding
        sb, sh, sw, sc = kv.stride()
        windows = kv.as_strided((b, h // m, w // m, ow, ow, c2), (sb, m * sh, m * sw, sh, sw, sc))
        return windows.reshape(-1, ow * ow, c2)

    def forward(self, x: torch.Tensor, rpi: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        m, ow, heads = self.window_size, self.overlap_win_size, self.num_heads
        d = c // heads
        shortcut = x
        qkv = self.qkv(self.norm1(x))
        q = window_partition(qkv[..., :c], m).view(-1, m * m, heads, d).transpose(1, 2)
        kv = self.overlapping_windows(qkv[..., c:]).view(-1, ow * ow, 2, heads, d).permute(2, 0, 3, 1, 4)
        k, v = kv[0], kv[1]
        bias = self._bias.get(self.relative_position_bias_table, rpi, m * m, ow * ow)
        record = _record_for(self)
        if record is not None or _EXPLICIT.get():
            attn = ((q * self.scale) @ k.transpose(-2, -1) + bias.unsqueeze(0)).softmax(-1)
            if record is not None:
                record[id(self)] = Captured(kind="OCAB", attn=attn.detach(), window=m, overlap_window=ow, shift=0,
                                            padded_size=(h, w))
            out = attn @ v
        else:
            out = attend(q, k, v, bias.unsqueeze(0).to(q.dtype), self.scale)
        x = window_reverse(out.transpose(1, 2).reshape(-1, m * m, c), m, b, h, w)
        x = self.proj(x) + shortcut
        return x + self.mlp(self.norm2(x))


class AttenBlocks(nn.Module):
    """The blocks of one RHAG: ``depth`` HABs (shift 0, M/2, 0, ...) then one OCAB."""

    def __init__(self, dim, input_resolution, depth, num_heads, window_size, compress_ratio, squeeze_factor,
                 conv_scale, overlap_ratio, mlp_ratio, qkv_bias, qk_scale, drop, attn_drop, drop_path, norm_layer,
                 use_checkpoint=False):
        super().__init__()
        self.use_checkpoint = use_checkpoint
        self.blocks = nn.ModuleList([
            HAB(dim, input_resolution, num_heads, window_size, 0 if i % 2 == 0 else window_size // 2,
                compress_ratio, squeeze_factor, conv_scale, mlp_ratio, qkv_bias, qk_scale, drop, attn_drop,
                drop_path[i] if isinstance(drop_path, (list, tuple)) else drop_path, norm_layer)
            for i in range(depth)])
        self.overlap_attn = OCAB(dim, input_resolution, window_size, overlap_ratio, num_heads, qkv_bias, qk_scale,
                                 mlp_ratio, norm_layer)

    def forward(self, x: torch.Tensor, rpi_sa: torch.Tensor, rpi_oca: torch.Tensor) -> torch.Tensor:
        for blk in self.blocks:
            if self.use_checkpoint and self.training:
                x = torch.utils.checkpoint.checkpoint(blk, x, rpi_sa, use_reentrant=False)
            else:
                x = blk(x, rpi_sa)
        return self.overlap_attn(x, rpi_oca)


class RHAG(nn.Module):
    """Residual hybrid attention group: blocks → 3×3 conv → + input."""

    def __init__(self, dim, input_resolution, depth, num_heads, window_size, compress_ratio, squeeze_factor,
                 conv_scale, overlap_ratio, mlp_ratio, qkv_bias, qk_scale, drop, attn_drop, drop_path, norm_layer,
                 use_checkpoint, resi_connection):
        super().__init__()
        self.residual_group = AttenBlocks(dim, input_resolution, depth, num_heads, window_size, compress_ratio,
                                          squeeze_factor, conv_scale, overlap_ratio, mlp_ratio, qkv_bias, qk_scale,
                                          drop, attn_drop, drop_path, norm_layer, use_checkpoint)
        if resi_connection == "1conv":
            self.conv = nn.Conv2d(dim, dim, 3, 1, 1)
        elif resi_connection == "identity":
            self.conv = nn.Identity()
        else:
            raise ValueError(f"resi_connection {resi_connection!r} is not one of '1conv', 'identity'")

    def forward(self, x: torch.Tensor, rpi_sa: torch.Tensor, rpi_oca: torch.Tensor) -> torch.Tensor:
        y = self.residual_group(x, rpi_sa, rpi_oca)
        return self.conv(y.permute(0, 3, 1, 2)).permute(0, 2, 3, 1) + x


class PatchEmbed(nn.Module):
    """Kept for key compatibility: the official PatchEmbed only flattens and (optionally) normalises."""

    def __init__(self, embed_dim: int, norm_layer=None):
        super().__init__()
        self.norm = norm_layer(embed_dim) if norm_layer is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x) if self.norm is not None else x


class Upsample(nn.Sequential):
    """Conv + PixelShuffle stages: 2^n or 3."""

    def __init__(self, scale: int, num_feat: int):
        layers: list[nn.Module] = []
        if scale & (scale - 1) == 0:
            for _ in range(int(math.log2(scale))):
                layers += [nn.Conv2d(num_feat, 4 * num_feat, 3, 1, 1), nn.PixelShuffle(2)]
        elif scale == 3:
            layers += [nn.Conv2d(num_feat, 9 * num_feat, 3, 1, 1), nn.PixelShuffle(3)]
        else:
            raise ValueError(f"scale {scale} is not supported (2^n or 3)")
        super().__init__(*layers)


# --- the network ------------------------------------------------------------------------------------------------

class HAT(nn.Module):
    """Hybrid Attention Transformer. Accepts the official constructor keywords."""

    def __init__(self, img_size=64, patch_size=1, in_chans=3, embed_dim=96, depths=(6, 6, 6, 6),
                 num_heads=(6, 6, 6, 6), window_size=7, compress_ratio=3, squeeze_factor=30, conv_scale=0.01,
                 overlap_ratio=0.5, mlp_ratio=4.0, qkv_bias=True, qk_scale=None, drop_rate=0.0, attn_drop_rate=0.0,
                 drop_path_rate=0.1, norm_layer=nn.LayerNorm, ape=False, patch_norm=True, use_checkpoint=False,
                 upscale=2, img_range=1.0, upsampler="pixelshuffle", resi_connection="1conv", num_feat=64,
                 **unused):
        super().__init__()
        if upsampler != "pixelshuffle":
            raise ValueError(f"upsampler {upsampler!r}: the HAT SR models use 'pixelshuffle'")
        self.window_size, self.upscale, self.img_range = window_size, upscale, img_range
        self.overlap_ratio = overlap_ratio
        mean = torch.tensor(RGB_MEAN).view(1, 3, 1, 1) if in_chans == 3 else torch.zeros(1, 1, 1, 1)
        self.register_buffer("mean", mean, persistent=False)
        overlap = int(window_size * overlap_ratio) + window_size
        self.register_buffer("relative_position_index_SA", relative_position_index_sa(window_size))
        self.register_buffer("relative_position_index_OCA", relative_position_index_oca(window_size, overlap))

        resolution = (img_size // patch_size,) * 2 if isinstance(img_size, int) else \
            (img_size[0] // patch_size, img_size[1] // patch_size)
        self.conv_first = nn.Conv2d(in_chans, embed_dim, 3, 1, 1)
        self.patch_embed = PatchEmbed(embed_dim, norm_layer if patch_norm else None)
        self.ape = ape
        if ape:
            self.absolute_pos_embed = nn.Parameter(torch.zeros(1, resolution[0] * resolution[1], embed_dim))
            nn.init.trunc_normal_(self.absolute_pos_embed, std=0.02)
        self.pos_drop = nn.Dropout(drop_rate)
        dpr = torch.linspace(0, drop_path_rate, sum(depths), device="cpu").tolist()  # plain floats, also on meta
        self.layers = nn.ModuleList([
            RHAG(embed_dim, resolution, depths[i], num_heads[i], window_size, compress_ratio, squeeze_factor,
                 conv_scale, overlap_ratio, mlp_ratio, qkv_bias, qk_scale, drop_rate, attn_drop_rate,
                 dpr[sum(depths[:i]):sum(depths[:i + 1])], norm_layer, use_checkpoint, resi_connection)
            for i in range(len(depths))])
        self.norm = norm_layer(embed_dim)
        self.conv_after_body = nn.Conv2d(embed_dim, embed_dim, 3, 1, 1) if resi_connection == "1conv" \
            else nn.Identity()
        self.conv_before_upsample = nn.Sequential(nn.Conv2d(embed_dim, num_feat, 3, 1, 1),
                                                  nn.LeakyReLU(inplace=True))
        self.upsample = Upsample(upscale, num_feat)
        self.conv_last = nn.Conv2d(num_feat, in_chans, 3, 1, 1)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(m: nn.Module) -> None:
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def bf16_trunk(self) -> "HAT":
        """A copy that computes in bf16 from the first convolution's output to the last one's input — the residual
        stream, LayerNorms, attention and MLPs — with no casts in between; the two convolutions that touch the image
        keep fp32 (see ``forward_aligned``). Faster than bf16 autocast on a CPU with AVX512-BF16/AMX, which casts
        around every LayerNorm and residual add (docs/performance.md)."""
        import copy

        trunk = copy.deepcopy(self).to(torch.bfloat16)
        trunk.conv_first.float()
        trunk.conv_last.float()
        trunk.mean = self.mean.clone()  # added back to the output in fp32: rounded to bf16 it shifts every pixel
        return trunk.eval()

    @property
    def scale(self) -> int:
        return self.upscale

    def blocks(self) -> list[list[nn.Module]]:
        """Per group: its HABs then its OCAB."""
        return [[*layer.residual_group.blocks, layer.residual_group.overlap_attn] for layer in self.layers]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) shallow features, H and W multiples of the window -> deep features (B, C, H, W)."""
        t = self.patch_embed(x.permute(0, 2, 3, 1))
        if self.ape:
            t = t + self.absolute_pos_embed.view(1, *x.shape[2:], -1)
        t = self.pos_drop(t)
        for layer in self.layers:
            t = layer(t, self.relative_position_index_SA, self.relative_position_index_OCA)
        return self.norm(t).permute(0, 3, 1, 2)

    def forward_aligned(self, x: torch.Tensor) -> torch.Tensor:
        """The official ``HAT.forward``: H and W must be multiples of the window size."""
        mean = self.mean.to(x.dtype)
        # under autocast the image enters and leaves in the weights' precision (fp32): a bf16 output is off by up
        # to a grey level (measured: 0.0085 dB on Set5 ×2); the input may come in bf16 (LAM blurs it under autocast)
        with full_precision(x):
            x = self.conv_first(((x - mean) * self.img_range).to(self.conv_first.weight.dtype))
        # the trunk runs in its weights' precision: bf16 throughout in a ``bf16_trunk`` copy (autocast is off there)
        x = x.to(self.norm.weight.dtype)
        x = self.conv_after_body(self.forward_features(x)) + x
        x = self.upsample(self.conv_before_upsample(x))
        with full_precision(x):
            x = self.conv_last(x.to(self.conv_last.weight.dtype))
        return x / self.img_range + mean

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Any H, W ≥ 1: reflect-pad bottom/right to a multiple of the window, run, crop to (H·s, W·s)."""
        h, w = x.shape[-2:]
        padded = pad_to_multiple(x, self.window_size)
        out = self.forward_aligned(padded)
        return out[..., : h * self.upscale, : w * self.upscale]

    @contextmanager
    def capture_attention(self, group: int, block: int):
        """Within the context, this call's forward passes record the attention weights of one block of one group
        (block index ``len(depths[group])`` is the group's OCAB). Yields a ``Recording``; read ``.captured``."""
        target = self.blocks()[group][block]
        record = {id(target): None}
        if isinstance(target, HAB):
            record[id(target.conv_block.cab[3])] = None  # its channel attention, shown beside the map
        token = _RECORDING.set(record)
        try:
            yield Recording(record, id(target))
        finally:
            _RECORDING.reset(token)


class Recording:
    """What one ``capture_attention`` context recorded."""

    def __init__(self, record: dict, key: int):
        self._record, self._key = record, key

    @property
    def captured(self) -> Captured | None:
        return self._record[self._key]


@contextmanager
def unfused_attention(model: nn.Module):
    """Run HAT blocks with explicit attention inside the context, in this call only (for exporters that
    mistranslate SDPA)."""
    token = _EXPLICIT.set(True)
    try:
        yield model
    finally:
        _EXPLICIT.reset(token)
