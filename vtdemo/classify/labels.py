"""Class names: ImageNet-1k from timm's bundled files, or a demo label set (a subset of ImageNet-1k)."""
from __future__ import annotations

from functools import lru_cache

# Imagenette: 10 easily told apart ImageNet-1k classes, (ImageNet index, synset, name), in label order.
IMAGENETTE = (
    (0, "n01440764", "tench"), (217, "n02102040", "English springer"), (482, "n02979186", "cassette player"),
    (491, "n03000684", "chain saw"), (497, "n03028079", "church"), (566, "n03394916", "French horn"),
    (569, "n03417042", "garbage truck"), (571, "n03425413", "gas pump"), (574, "n03445777", "golf ball"),
    (701, "n03888257", "parachute"),
)
LABEL_SETS = {"imagenette": IMAGENETTE}


@lru_cache(maxsize=1)
def imagenet_names() -> tuple[str, ...]:
    """The 1000 ImageNet-1k class names in index order (first lemma of each synset), from timm's files."""
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return tuple(info.index_to_description(i).split(",")[0].strip() for i in range(info.num_classes()))


def label_names(labels: str | None) -> tuple[str, ...]:
    """Names for a card's ``labels`` ("imagenet-1k" or a demo set)."""
    if labels in (None, "imagenet-1k"):
        return imagenet_names()
    try:
        return tuple(name for _, _, name in LABEL_SETS[labels])
    except KeyError:
        raise ValueError(f"unknown label set {labels!r}") from None


def imagenet_indices(labels: str) -> tuple[int, ...]:
    """The ImageNet-1k index of each class of a demo label set."""
    return tuple(index for index, _, _ in LABEL_SETS[labels])
