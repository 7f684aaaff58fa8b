"""Top-k predictions of a classifier card on any image."""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn

from vtdemo.classify.labels import label_names
from vtdemo.classify.preprocess import preprocess
from vtdemo.imaging import ImageSource, decode_image
from vtdemo.zoo.cards import ModelCard, get_card


@dataclass
class Prediction:
    model: str
    # "prediction"; for distilled DeiT "average", "class token" and "distillation token"
    heads: dict[str, list[tuple[str, float]]]
    seconds: float
    # True when the image's features are further from every class than the model's calibrated threshold allows
    # (probably none of its classes: vtdemo.classify.out_of_class); None for models without a detector
    out_of_class: bool | None = None

    @property
    def top(self) -> list[tuple[str, float]]:
        return self.heads.get("average") or self.heads["prediction"]


def _card_and_model(model: str | ModelCard, device=None) -> tuple[ModelCard, nn.Module]:
    from vtdemo.zoo.loading import load_model

    card = model if isinstance(model, ModelCard) else get_card(model)
    if card.task != "classify":
        raise ValueError(f"{card.id} is a {card.task} model, not a classifier.")
    return card, load_model(card.id, device=device)


def _top_k(logits: torch.Tensor, names: tuple[str, ...], k: int) -> list[tuple[str, float]]:
    probs = logits.float().softmax(-1)[0]
    values, indices = probs.topk(min(k, probs.numel()))
    return [(names[i], float(v)) for v, i in zip(values.tolist(), indices.tolist())]


def is_distilled(module: nn.Module) -> bool:
    return hasattr(module, "head_dist") and getattr(module, "num_prefix_tokens", 1) == 2


@torch.no_grad()
def classify_heads(image: ImageSource, model: str | ModelCard, top_k: int = 5, device=None) -> Prediction:
    """Top-k of every head: one "prediction", or for distilled DeiT the class-token head, the distillation-token
    head and their average (what the model outputs at test time)."""
    if not 1 <= top_k <= 1000:
        raise ValueError("top_k must be between 1 and 1000")
    card, module = _card_and_model(model, device)
    names = label_names(card.labels)
    x, _, _ = preprocess(decode_image(image).rgb, card.preprocess)
    x = x.to(next(module.parameters()).device)
    from vtdemo.classify.out_of_class import is_out_of_class, outputs

    start = time.perf_counter()
    if is_distilled(module):
        tokens = module.forward_features(x)
        cls_logits, dist_logits = module.head(tokens[:, 0]), module.head_dist(tokens[:, 1])
        features = module.forward_head(tokens, pre_logits=True)
        heads = {"average": _top_k((cls_logits + dist_logits) / 2, names, top_k),
                 "class token": _top_k(cls_logits, names, top_k),
                 "distillation token": _top_k(dist_logits, names, top_k)}
    else:
        logits, features = outputs(module, x)
        heads = {"prediction": _top_k(logits, names, top_k)}
    flagged = is_out_of_class(card.id, features[0].float().cpu().numpy())
    return Prediction(card.id, heads, time.perf_counter() - start, flagged)


class TopK(list):
    """[(label, probability)], best first, with ``out_of_class``: True when the image is probably none of the
    model's classes (then these are only the closest of them), None for a model without a detector."""

    out_of_class: bool | None = None


def classify(image: ImageSource, model: str | ModelCard, top_k: int = 5, device=None) -> TopK:
    """[(label, probability)] of the ``top_k`` classes (distilled DeiT: the average of its two heads), as a list
    that also carries ``out_of_class``."""
    pred = classify_heads(image, model, top_k, device)
    result = TopK(pred.top)
    result.out_of_class = pred.out_of_class
    return result
