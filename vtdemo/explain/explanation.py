"""``explain_class``: why a classifier gives a class — the map of one method over the image, with its faithfulness
(deletion / insertion against a random map and the class-agnostic rollout; optionally the randomization check)."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn

from vtdemo.classify.geometry import Geometry
from vtdemo.classify.labels import label_names
from vtdemo.classify.preprocess import preprocess
from vtdemo.explain import class_maps, faithfulness
from vtdemo.explain.registry import probe_for
from vtdemo.imaging import ImageSource, decode_image
from vtdemo.zoo.cards import ModelCard, get_card


@dataclass(frozen=True)
class Scores:
    """Faithfulness of one map (faithfulness.py): its curves and the baselines' on the same image and class."""

    map: faithfulness.Curves
    random: faithfulness.Curves
    rollout: faithfulness.Curves | None  # None where attention is not global (Swin, PVT-v2)
    randomization: float | None = None  # Spearman ρ with the map of a copy with re-initialised top blocks

    @property
    def beats_random(self) -> bool:
        return (self.map.deletion_auc < self.random.deletion_auc
                and self.map.insertion_auc > self.random.insertion_auc)


@dataclass(frozen=True)
class ClassExplanation:
    model: str
    family: str
    method: str
    target: int  # the class's index in the model's output
    label: str
    probability: float
    input_map: np.ndarray  # (size, size) over the model's input, in [0, 1]
    geometry: Geometry
    view: Image.Image  # what the model sees (the centre crop)
    seconds: float  # the map's computation
    scores: Scores | None = None

    @property
    def map(self) -> np.ndarray:
        """(height, width) over the original image, zero outside the centre crop the model sees."""
        return self.geometry.to_image(self.input_map)

    def summary(self) -> dict:
        """Plain numbers (JSON): the class, the method and every AUC."""
        out = {"model": self.model, "method": self.method, "class": self.label, "index": self.target,
               "probability": round(self.probability, 4), "seconds": round(self.seconds, 3)}
        if self.scores is not None:
            s = self.scores
            for name, c in (("map", s.map), ("random", s.random), ("rollout", s.rollout)):
                if c is not None:
                    out[f"{name}_deletion_auc"] = round(c.deletion_auc, 4)
                    out[f"{name}_insertion_auc"] = round(c.insertion_auc, 4)
            if s.randomization is not None:
                out["randomization_rho"] = round(s.randomization, 4)
        return out


def resolve_target(target, names: tuple[str, ...], probs: torch.Tensor) -> int:
    """The class index: None → top-1; an index; or a class name as the top-k shows it (case-insensitive)."""
    if target is None or (isinstance(target, str) and not target.strip()):
        return int(probs.argmax())
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        if not 0 <= int(target) < len(names):
            raise ValueError(f"class index {int(target)} does not exist: this model has {len(names)} classes "
                             f"(0–{len(names) - 1})")
        return int(target)
    text = str(target).strip()
    if text.isdigit():
        return resolve_target(int(text), names, probs)
    lowered = [n.lower() for n in names]
    if text.lower() not in lowered:
        raise ValueError(f"this model has no class {text[:60]!r}" + (
            f": it knows {', '.join(names)}" if len(names) <= 20 else ""))
    return lowered.index(text.lower())


def explain_module(model: nn.Module, family: str, image: ImageSource, pp, names: tuple[str, ...], target=None,
                   method: str = "auto", scores: bool = True, sanity: bool = False,
                   name: str = "") -> ClassExplanation:
    """``explain_class`` for a loaded classifier of ``family`` with preprocessing ``pp`` and class ``names``."""
    method = class_maps.check_method(family, method, model)
    x, geo, view = preprocess(decode_image(image).rgb, pp)
    x = x.to(next(model.parameters()).device)
    with torch.no_grad():
        probs = model(x).float().softmax(-1)[0].cpu()
    index = resolve_target(target, names, probs)
    start = time.perf_counter()
    found = class_maps.class_map(model, family, x, index, method)
    seconds = time.perf_counter() - start
    result = None
    if scores:
        rollout = class_maps.attention_rollout(model, family, x)
        rho = None
        if sanity:
            broken = faithfulness.randomized_copy(model, probe_for(family).top_blocks)
            rho = faithfulness.rank_correlation(found, class_maps.class_map(broken, family, x, index, method))
        result = Scores(faithfulness.deletion_insertion(model, x, index, found),
                        faithfulness.deletion_insertion(model, x, index, faithfulness.random_map(x.shape[-1])),
                        None if rollout is None else faithfulness.deletion_insertion(model, x, index, rollout), rho)
    return ClassExplanation(name, family, method, index, names[index], float(probs[index]), found, geo, view,
                            seconds, result)


def explain_class(image: ImageSource, model: str | ModelCard, target=None, method: str = "auto",
                  scores: bool = True, sanity: bool = False, device=None) -> ClassExplanation:
    """Why classifier ``model`` gives class ``target`` (a class name as the top-k shows it, an index, or None for
    the top-1) on ``image``: ``method`` is "auto" (the family's default), "chefer" (gradient-weighted attention
    rollout; "chefer-cls" / "chefer-distill" for one head of a distilled DeiT), "gradcam", "layercam" or "ig"
    (``class_maps.methods_for(family)`` lists what applies). ``.map`` is a (height, width) array over the image;
    ``.scores`` the deletion / insertion curves and AUCs of the map, a random map and attention rollout;
    ``sanity``: also the randomization check's rank correlation."""
    from vtdemo.zoo.loading import load_model

    card = model if isinstance(model, ModelCard) else get_card(model)
    if card.task != "classify":
        raise ValueError(f"{card.id} is a {card.task} model: class explanations are for the classifiers.")
    probe_for(card.family)  # a clear error for a family without a probe
    module = load_model(card.id, device=device)
    return explain_module(module, card.family, image, card.preprocess, label_names(card.labels), target, method,
                          scores, sanity, card.id)
