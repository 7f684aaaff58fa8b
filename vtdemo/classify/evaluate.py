"""Top-1 of a classifier on a folder of labelled images, through the app's own preprocessing and model loading.

The folder has one sub-folder per class, named by its WordNet synset (ImageNet layout, e.g. ``n01440764/``), so
the same folder scores the 10-class demo models and the ImageNet-1k ones alike.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import torch

from vtdemo.classify.labels import LABEL_SETS
from vtdemo.classify.preprocess import preprocess
from vtdemo.imaging import IMAGE_SUFFIXES, decode_image
from vtdemo.zoo.cards import get_card



@dataclass(frozen=True)
class Score:
    model: str
    top1: float
    images: int
    seconds: float


@lru_cache(maxsize=1)
def _imagenet_synsets() -> dict[str, int]:
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    return {info.index_to_label_name(i): i for i in range(info.num_classes())}


def class_index(labels: str | None, synset: str) -> int | None:
    """The output index a model with ``labels`` uses for ``synset``; None when it has no such class."""
    if labels in (None, "imagenet-1k"):
        return _imagenet_synsets().get(synset)
    return next((i for i, (_, s, _) in enumerate(LABEL_SETS[labels]) if s == synset), None)


def labelled_images(root: Path) -> list[tuple[Path, str]]:
    """(image, synset) for every image under root/<synset>/, sorted."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder")
    found = [(p, d.name) for d in sorted(root.iterdir()) if d.is_dir()
             for p in sorted(d.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
    if not found:
        raise ValueError(f"{root} holds no <synset>/<image> files")
    return found


@torch.no_grad()
def folder_top1(model_id: str, root: Path, batch: int = 64, limit: int | None = None, device=None,
                progress: Callable[[int, int], None] | None = None) -> Score:
    """Top-1 accuracy of ``model_id`` on the images of ``root`` whose class the model knows (distilled DeiT: the
    average of its two heads, as at test time)."""
    from vtdemo.zoo.loading import load_model

    card = get_card(model_id)
    if card.task != "classify":
        raise ValueError(f"{model_id} is not a classifier")
    items = [(p, class_index(card.labels, s)) for p, s in labelled_images(root)]
    items = [(p, i) for p, i in items if i is not None]
    if not items:
        raise ValueError(f"none of the classes in {root} is one of {model_id}'s classes")
    if limit:
        items = items[:: max(1, len(items) // limit)][:limit]
    model = load_model(model_id, device=device)
    dev = next(model.parameters()).device
    correct, start = 0, time.perf_counter()
    for i in range(0, len(items), batch):
        chunk = items[i:i + batch]
        x = torch.cat([preprocess(decode_image(p).rgb, card.preprocess)[0] for p, _ in chunk]).to(dev)
        logits = model(x)
        target = torch.tensor([t for _, t in chunk], device=dev)
        correct += int((logits.argmax(-1) == target).sum())
        if progress:
            progress(min(i + batch, len(items)), len(items))
    return Score(model_id, correct / len(items), len(items), time.perf_counter() - start)
