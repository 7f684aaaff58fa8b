"""The architectures of the embedded demo classifiers (trained by ``python -m vtdemo.train classify``).

Each is ≤ 10 MB and sized for training on two CPU cores; "size" is the default training resolution (a shipped model
may run at another: its zoo card says which, see ``at_size``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

# ViT/DeiT/PerViT at 64 px (an 8×8 token grid), Swin at 64 px (16×16 tokens; window 4 divides every stage, which
# the attention probes rely on), PVT-v2 at 96 px.
DEMO_ARCHS: dict[str, dict] = {
    "vit": dict(family="ViT", timm_name="vit_tiny_patch16_224", size=64,
                kwargs=dict(img_size=64, patch_size=8, embed_dim=192, depth=5, num_heads=3)),
    "deit": dict(family="DeiT", timm_name="deit_tiny_distilled_patch16_224", size=64,
                 kwargs=dict(img_size=64, patch_size=8, embed_dim=192, depth=5, num_heads=3)),
    "swin": dict(family="Swin", timm_name="swin_tiny_patch4_window7_224", size=64,
                 kwargs=dict(img_size=64, patch_size=4, window_size=4, embed_dim=32, depths=(2, 2, 2, 2),
                             num_heads=(2, 4, 8, 8))),
    "pvt": dict(family="PVT-v2", timm_name="pvt_v2_b0", size=96,
                kwargs=dict(embed_dims=(32, 64, 128, 192), depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8))),
    "pervit": dict(family="PerViT", size=64, config=dict(num_heads=4, emb_dims=[80, 112, 128, 144],
                                                         convstem_dims=[3, 24, 48, 64, 80], img_size=64,
                                                         stem_strides=[2, 2, 2, 1])),
}


def at_size(arch: dict, size: int) -> dict:
    """``arch`` for ``size``-px inputs: the token grid (``img_size``, hence a ViT's position embedding) follows;
    PVT-v2 takes any multiple of 32 as it is."""
    arch = dict(arch, size=size)
    for key in ("config", "kwargs"):
        if "img_size" in arch.get(key, {}):
            arch[key] = dict(arch[key], img_size=size)
    return arch


def build_classifier(arch: dict, num_classes: int) -> "torch.nn.Module":
    """An untrained classifier: a timm architecture (``timm_name`` + ``kwargs``) or our PerViT (``config``) — a
    DEMO_ARCHS entry, a JSON of the same shape, or what a zoo card's configuration says (builders.architecture)."""
    if "timm_name" not in arch:
        from vtdemo.models.pervit import PerViT

        return PerViT(**arch["config"], num_classes=num_classes)
    import timm

    return timm.create_model(arch["timm_name"], pretrained=False, num_classes=num_classes,
                             **dict(arch.get("kwargs", {})))
