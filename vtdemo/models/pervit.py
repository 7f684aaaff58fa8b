"""PerViT — Peripheral Vision Transformer (Min et al., NeurIPS 2022), key-compatible with the official checkpoints.

Structure (official names): a convolutional stem (``conv_layers``: 3×3 stride-2 conv + BN + ReLU per stage, then a
1×1 conv) turns the image into an S×S token grid; 12 blocks in stages of (2, 2, 6, 2), each
``x = x + MPA(norm1(CPE(x)))`` then ``x = res_path(x) + MLP(norm2(x))`` (``res_path`` is a Linear where the width
changes); final LayerNorm, mean over tokens, linear head.

MPA (multi-head peripheral attention) is softmax-free: attention = L1-normalise(φp ⊙ exp(q·kᵀ·scale − max)),
where the position attention φp depends only on the weights: the Euclidean distances between query and key
positions on a grid padded by 2 (``rpe``), a shared Linear(1 → 4H) (``rpe_proj``), then per block two valid 3×3
convolutions over the key grid with instance norms (GroupNorm with one channel per group), ReLU, and a sigmoid.

Differences from the official code, none of which changes a number: φp is computed once and cached in eval mode
(invalidated by ``load_state_dict``, ``train()`` and device/dtype moves) instead of per call; without attention
capture the product runs as ``softmax(q·kᵀ·scale + log φp)`` through fused SDPA (the same distribution); it runs on
CPU (the official code hard-codes CUDA); and the token grid follows the input size and stem strides (e.g. 112 px with
strides (2, 2, 2, 1) gives the official 14×14 grid), while the official 224 px / stride-16 setting is unchanged.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from contextvars import ContextVar

import torch
import torch.nn.functional as F
from torch import nn

from vtdemo.models.sizes import PERVIT_SIZES

# Per call (each thread / context has its own): the MPAs whose weights this call records, and what they recorded.
_RECORDING: ContextVar[dict | None] = ContextVar("pervit_recording", default=None)

PAD = 2  # the distance grid is padded by (kernel // 2) * 2 = 2 on each side: two valid 3×3 convs remove it


def distance_grid(side: int, pad: int = PAD) -> torch.Tensor:
    """(N', N', 1) Euclidean distances between positions of a (side + 2·pad)² grid with coordinates in [−1, 1]
    (the official ``OffsetGenerator``: linspace(−1, 1, side), extended by ``pad`` steps each way)."""
    grid = torch.linspace(-1, 1, side)
    step = grid[-1] - grid[-2]
    ext = torch.cumsum(step.repeat(pad), 0)
    grid = torch.cat([(-1 - ext).flip(0), grid, 1 + ext]) if pad else grid
    n = grid.numel()
    coords = torch.stack([grid.view(-1, 1).repeat(1, n), grid.view(1, -1).repeat(n, 1)], -1).view(-1, 2)
    return (coords[None, :, :] - coords[:, None, :]).norm(p=2, dim=-1, keepdim=True)


class PeripheralPositionEncoding(nn.Module):
    """Distances projected to 4H channels -> per query: conv3×3, instance norm, ReLU, conv3×3, instance norm,
    sigmoid over the key grid -> φp (1, H, N, N)."""

    def __init__(self, num_heads: int, norm_init: tuple[float, float] | None = None, kernel_size: int = 3):
        super().__init__()
        hidden = num_heads * 4
        self.conv1 = nn.Conv2d(hidden, hidden, kernel_size, 1, 0)
        self.conv2 = nn.Conv2d(hidden, num_heads, kernel_size, 1, 0)
        self.gn1 = nn.GroupNorm(hidden, hidden)
        self.gn2 = nn.GroupNorm(num_heads, num_heads)
        for conv in (self.conv1, self.conv2):  # the paper's peripheral initialisation
            nn.init.constant_(conv.weight, 0.02)
            nn.init.constant_(conv.bias, 0.0)
        if norm_init is not None:
            nn.init.constant_(self.gn2.bias, float(norm_init[0]))
            nn.init.constant_(self.gn2.weight, float(norm_init[1]))

    def forward(self, rpe: torch.Tensor) -> torch.Tensor:
        """``rpe``: (N', N', 4H) projected distances on the padded grid of side S + 4 -> (1, H, S², S²)."""
        side = math.isqrt(rpe.shape[1])
        inner = side - 2 * PAD
        d = rpe.shape[-1]
        x = rpe.view(side, side, side, side, d)[PAD:-PAD, PAD:-PAD]  # queries: the real grid; keys: padded grid
        x = x.reshape(inner * inner, side, side, d).permute(0, 3, 1, 2)  # (queries, 4H, S+4, S+4)
        x = F.relu(self.gn1(self.conv1(x)))
        x = self.gn2(self.conv2(x))  # (queries, H, S, S)
        return torch.sigmoid(x.flatten(2).permute(1, 0, 2).unsqueeze(0))


class MPA(nn.Module):
    """Multi-head peripheral attention: L1-normalise(φp ⊙ exp(q·kᵀ·scale − max)) · v."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = False, qk_scale: float | None = None,
                 proj_drop: float = 0.0, norm_init=None):
        super().__init__()
        self.num_heads = num_heads
        self.scale = qk_scale or (dim // num_heads) ** -0.5
        self.activation = PeripheralPositionEncoding(num_heads, norm_init)
        self.to_qkv = nn.Linear(dim, dim * 3, bias=False)  # the official code ignores qkv_bias here
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        for m in (self.to_qkv, self.proj):
            nn.init.trunc_normal_(m.weight, std=0.02)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.to_qkv(x).view(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        record = _RECORDING.get()
        if record is not None and id(self) in record:
            dots = (q @ k.transpose(-1, -2)) * self.scale
            dots = torch.exp(dots - dots.amax(-1, keepdim=True))
            attn = F.normalize(position * dots, p=1, dim=-1)
            # (mixed attention, content attention softmax(q·kᵀ·scale))
            kept = attn if record.get("keep_graph") else attn.detach()  # gradients w.r.t. it (class maps)
            record[id(self)] = (kept, (dots / dots.sum(-1, keepdim=True)).detach())
            out = attn @ v
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=torch.log(position).to(q.dtype), scale=self.scale)
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(b, n, c)))


class Mlp(nn.Module):
    def __init__(self, in_features: int, hidden_features: int, out_features: int, drop: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_features, out_features)
        self.drop = nn.Dropout(drop)
        for m in (self.fc1, self.fc2):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class CPE(nn.Module):
    """Convolutional position encoding: a depthwise 3×3 conv over the token grid."""

    def __init__(self, dim: int, k: int = 3):
        super().__init__()
        self.proj = nn.Conv2d(dim, dim, k, 1, k // 2, groups=dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        side = math.isqrt(n)
        return self.proj(x.transpose(1, 2).reshape(b, c, side, side)).flatten(2).transpose(1, 2)


class Block(nn.Module):
    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = False,
                 qk_scale: float | None = None, drop: float = 0.0, drop_path: float = 0.0, norm_layer=nn.LayerNorm,
                 norm_init=None, next_dim: int | None = None):
        super().__init__()
        next_dim = next_dim or dim
        self.norm1 = norm_layer(dim)
        self.res_path = nn.Linear(dim, next_dim) if dim != next_dim else nn.Identity()
        self.attn = MPA(dim, num_heads, qkv_bias, qk_scale, drop, norm_init)
        self.conv = CPE(dim)
        self.drop_path_rate = drop_path
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), next_dim, drop)

    def drop_path(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.drop_path_rate == 0.0:
            return x
        keep = 1 - self.drop_path_rate
        mask = x.new_empty(x.shape[0], *(1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep

    def forward(self, x: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(self.conv(x)), position))
        return self.res_path(x) + self.drop_path(self.mlp(self.norm2(x)))


class ConvolutionalStem(nn.Module):
    """3×3 conv + BN + ReLU per entry of ``dims`` (strides ``strides``), then a 1×1 conv; flattened to tokens."""

    def __init__(self, dims: list[int], strides: tuple[int, ...] = (2, 2, 2, 2)):
        super().__init__()
        if len(strides) != len(dims) - 1:
            raise ValueError(f"{len(dims) - 1} stem convolutions need {len(dims) - 1} strides, got {strides}")
        self.conv_layers = nn.Sequential(*[
            nn.Sequential(nn.Conv2d(dims[i], dims[i + 1], 3, strides[i], 1), nn.BatchNorm2d(dims[i + 1]),
                          nn.ReLU(inplace=True))
            for i in range(len(dims) - 1)])
        self.conv1x1 = nn.Conv2d(dims[-1], dims[-1], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv1x1(self.conv_layers(x)).flatten(2).transpose(1, 2)


class PerViT(nn.Module):
    """The official ``VisionTransformer`` of PerViT (constructor keywords and parameter names kept)."""

    def __init__(self, num_heads: int = 12, emb_dims: list[int] | None = None,
                 convstem_dims: list[int] | None = None, num_classes: int = 1000, stages=(2, 2, 6, 2),
                 mlp_ratio: float = 4.0, qkv_bias: bool = False, qk_scale: float | None = None, drop_rate: float = 0.0,
                 drop_path_rate: float = 0.0, layernorm_eps: float = 1e-6, img_size: int = 224,
                 stem_strides: tuple[int, ...] = (2, 2, 2, 2), **unused):
        super().__init__()
        emb_dims = list(emb_dims or [312, 468, 540, 684])
        convstem_dims = list(convstem_dims or [3, 64, 192, 256, 312])
        self.num_heads, self.num_classes = num_heads, num_classes
        self.img_size, self.stem_strides = img_size, tuple(stem_strides)
        self.conv_layers = ConvolutionalStem(convstem_dims, self.stem_strides)
        self.grid = img_size // math.prod(self.stem_strides)
        ch_dims = [d for d, n in zip(emb_dims, stages) for _ in range(n)]
        ch_dims.append(ch_dims[-1])
        depth = len(ch_dims) - 1
        self.register_buffer("rpe", distance_grid(self.grid), persistent=False)  # official: a plain attribute
        self.rpe_proj = nn.Linear(1, num_heads * 4)
        nn.init.constant_(self.rpe_proj.weight, -0.02)
        nn.init.constant_(self.rpe_proj.bias, 0.0)
        # peripheral initialisation: early blocks local (low bias, strong weight), late blocks broad
        norm_init = torch.stack([torch.linspace(-5.0, 4.0, depth), torch.linspace(3.0, 0.01, depth)], 1)
        dpr = torch.linspace(0, drop_path_rate, depth).tolist()
        norm = lambda d: nn.LayerNorm(d, eps=layernorm_eps)  # noqa: E731
        self.blocks = nn.ModuleList([
            Block(ch_dims[i], num_heads, mlp_ratio, qkv_bias, qk_scale, drop_rate, dpr[i], norm,
                  norm_init[i].tolist(), ch_dims[i + 1]) for i in range(depth)])
        self.norm = norm(ch_dims[-1])
        self.head = nn.Linear(ch_dims[-1], num_classes) if num_classes > 0 else nn.Identity()
        if num_classes > 0:
            nn.init.trunc_normal_(self.head.weight, std=0.02)
            nn.init.zeros_(self.head.bias)
        self._position_cache: list[torch.Tensor] | None = None
        self.register_load_state_dict_post_hook(lambda module, keys: module.invalidate_position_cache())

    # --- position attention φp -----------------------------------------------------------------------------

    def invalidate_position_cache(self) -> None:
        self._position_cache = None

    def train(self, mode: bool = True):
        self.invalidate_position_cache()  # weights are about to change
        return super().train(mode)

    def _apply(self, fn, *args, **kwargs):
        self.invalidate_position_cache()  # device / dtype moves
        return super()._apply(fn, *args, **kwargs)

    def _compute_position_attention(self) -> list[torch.Tensor]:
        rpe = self.rpe_proj(self.rpe)
        return [blk.attn.activation(rpe) for blk in self.blocks]

    def position_attention(self) -> list[torch.Tensor]:
        """Per block, the position attention φp (1, heads, N, N); cached in eval mode without gradients."""
        if self.training or torch.is_grad_enabled():
            return self._compute_position_attention()
        if self._position_cache is None:
            self._position_cache = self._compute_position_attention()
        return self._position_cache

    # --- forward ----------------------------------------------------------------------------------------------

    def _check_input(self, x: torch.Tensor) -> None:
        if x.shape[-2:] != (self.img_size, self.img_size):
            raise ValueError(f"PerViT was built for {self.img_size}×{self.img_size} inputs (a {self.grid}×"
                             f"{self.grid} token grid); got {x.shape[-1]}×{x.shape[-2]}.")

    def forward_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """The normalised tokens (B, N, C) that the mean pooling averages."""
        self._check_input(x)
        x = self.conv_layers(x)
        for blk, position in zip(self.blocks, self.position_attention()):
            x = blk(x, position)
        return self.norm(x)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features (B, C) before the head."""
        return self.forward_tokens(x).mean(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))

    @contextmanager
    def capturing(self, keep_graph: bool = False):
        """Within the context, this call's forward passes record every MPA's mixed attention (B, heads, N, N) and
        its content attention softmax(q·kᵀ·scale); yields an ``AttentionRecord``. Other threads running the same
        model are untouched (a context variable, not a flag on the shared module). ``keep_graph``: the mixed
        attention stays in the autograd graph."""
        record = {id(blk.attn): None for blk in self.blocks}
        record["keep_graph"] = keep_graph
        token = _RECORDING.set(record)
        try:
            yield AttentionRecord(self, record)
        finally:
            _RECORDING.reset(token)

    def forward_with_attention(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(logits, per block the mixed attention (B, heads, N, N)) from one explicit (non-fused) pass."""
        with self.capturing() as record:
            logits = self(x)
        return logits, record.mixed


class AttentionRecord:
    """What one ``capturing`` context recorded, per block in order."""

    def __init__(self, model: "PerViT", record: dict):
        self._model, self._record = model, record

    def _part(self, i: int) -> list[torch.Tensor]:
        return [self._record[id(blk.attn)][i] for blk in self._model.blocks]

    @property
    def mixed(self) -> list[torch.Tensor]:
        return self._part(0)

    @property
    def content(self) -> list[torch.Tensor]:
        return self._part(1)




def pervit_tiny(**kwargs) -> PerViT:
    heads, dims, stem = PERVIT_SIZES["tiny"]
    return PerViT(num_heads=heads, emb_dims=dims, convstem_dims=stem, **kwargs)


def pervit_small(**kwargs) -> PerViT:
    heads, dims, stem = PERVIT_SIZES["small"]
    return PerViT(num_heads=heads, emb_dims=dims, convstem_dims=stem, **kwargs)


def pervit_medium(**kwargs) -> PerViT:
    heads, dims, stem = PERVIT_SIZES["medium"]
    return PerViT(num_heads=heads, emb_dims=dims, convstem_dims=stem, **kwargs)
