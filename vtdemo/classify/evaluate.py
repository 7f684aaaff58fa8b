"""Top-1 of a classifier on a folder of labelled images, through the app's own preprocessing and model loading.

The folder has one sub-folder per class, named by its WordNet synset (ImageNet layout, e.g. ``n01440764/``), so
the same folder scores the 10-class demo models and the ImageNet-1k ones alike.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import torch

from vtdemo.classify.labels import LABEL_SETS
from vtdemo.classify.preprocess import preprocess
from vtdemo.imaging import IMAGE_SUFFIXES, decode_image
from vtdemo.zoo.cards import get_card

if TYPE_CHECKING:
    from vtdemo.batch.engines import Plan


@dataclass(frozen=True)
class Score:
    model: str
    top1: float  # over the images that could be read
    images: int
    seconds: float
    failed: tuple[tuple[str, str], ...] = ()  # (image, reason): left out of the score
    predictions: dict = field(default_factory=dict, compare=False)  # image path -> predicted class index


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


class TopOne:
    """A worker: the classifier loaded once; rows {"path", "target"} -> the same with "pred" (the class index, −1
    when the image failed) and "error". Run by the local engine or by Ray actors (``vtdemo.batch.engines``)."""

    def __init__(self, model_id: str, device=None):
        from vtdemo.zoo.loading import load_model

        self.card = get_card(model_id)
        self.model = load_model(model_id, device=device)
        self.device = next(self.model.parameters()).device

    @torch.no_grad()
    def __call__(self, rows: list[dict]) -> list[dict]:
        out = [{**row, "pred": -1, "error": ""} for row in rows]
        tensors, readable = [], []
        for result in out:
            try:
                tensors.append(preprocess(decode_image(result["path"]).rgb, self.card.preprocess)[0])
                readable.append(result)
            except ValueError as exc:  # ImageError: reported, left out of the score
                result["error"] = str(exc)
        if tensors:
            logits = self.model(torch.cat(tensors).to(self.device))
            for result, pred in zip(readable, logits.argmax(-1).tolist()):
                result["pred"] = int(pred)
        return out


def folder_top1(model_id: str, root: Path, batch: int = 64, limit: int | None = None, device=None,
                progress: Callable[[int, int], None] | None = None, plan: "Plan | None" = None) -> Score:
    """Top-1 accuracy of ``model_id`` on the images of ``root`` whose class the model knows (distilled DeiT: the
    average of its two heads, as at test time). Images that cannot be read are reported in ``failed`` and left
    out. ``plan``: the engine (``vtdemo.batch.engines.Plan``; default this process)."""
    from vtdemo.batch.engines import Plan, run

    card = get_card(model_id)
    if card.task != "classify":
        raise ValueError(f"{model_id} is not a classifier")
    items = [(p, class_index(card.labels, s)) for p, s in labelled_images(root)]
    items = [(p, i) for p, i in items if i is not None]
    if not items:
        raise ValueError(f"none of the classes in {root} is one of {model_id}'s classes")
    if limit:
        items = items[:: max(1, len(items) // limit)][:limit]
    rows = [{"path": str(p), "target": t} for p, t in items]
    correct, failed, predictions, start = 0, [], {}, time.perf_counter()
    for done, row in enumerate(run(partial(TopOne, model_id, device), rows, plan or Plan(), batch_size=batch), 1):
        if row["error"]:
            failed.append((row["path"], row["error"]))
        else:
            predictions[row["path"]] = row["pred"]
            correct += row["pred"] == row["target"]
        if progress:
            progress(done, len(rows))
    scored = len(predictions)
    return Score(model_id, correct / scored if scored else 0.0, scored, time.perf_counter() - start, tuple(failed),
                 predictions)
