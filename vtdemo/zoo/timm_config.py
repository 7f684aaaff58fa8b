"""What timm knows about a pretrained tag, read offline from its pretrained configuration: the input pipeline
(size, crop_pct, interpolation, mean/std). Imported only when a timm card's pipeline is first read (timm imports
torch)."""
from __future__ import annotations

from vtdemo.cache import Cache

_CONFIGS = Cache(64)  # one entry per timm card's tag


def pretrained(tag: str):
    """timm's ``PretrainedCfg`` of ``tag`` (e.g. "vit_small_patch16_224.augreg_in21k_ft_in1k")."""
    def read():
        from timm.models import get_pretrained_cfg

        cfg = get_pretrained_cfg(tag)
        if cfg is None:
            raise KeyError(f"timm has no pretrained configuration {tag!r}")
        return cfg

    return _CONFIGS.get_or_compute(tag, read)


def pipeline(tag: str) -> dict:
    """The eval input pipeline of ``tag``: the keywords of a card's ``Preprocess``."""
    cfg = pretrained(tag)
    return dict(size=cfg.input_size[-1], crop_pct=cfg.crop_pct, interpolation=cfg.interpolation,
                mean=tuple(cfg.mean), std=tuple(cfg.std))

