"""What timm knows about a pretrained tag, read offline from its pretrained configuration: the input pipeline
(size, crop_pct, interpolation, mean/std), the Hub repo and the architecture's parameter count. Imported only when a
timm card's derived value is first read (timm imports torch)."""
from __future__ import annotations

from vtdemo.cache import Cache

_CONFIGS, _COUNTS = Cache(64), Cache(64)  # one entry per timm card's tag


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


def parameter_count(tag: str) -> int:
    """Parameters of the architecture, built on the meta device (nothing allocated)."""
    def count() -> int:
        import timm
        import torch

        with torch.device("meta"):
            model = timm.create_model(tag.split(".")[0], pretrained=False, num_classes=pretrained(tag).num_classes)
        return sum(p.numel() for p in model.parameters())

    return _COUNTS.get_or_compute(tag, count)
