"""How each card's architecture is built from a state dict. A builder whose module has not been written yet is
reported as such (the card stays listed)."""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from vtdemo.zoo.cards import ModelCard

if TYPE_CHECKING:
    import torch


class BuildError(RuntimeError):
    """The weights do not fit the card's architecture, or the builder is missing; the message says which."""


@dataclass(frozen=True)
class Builder:
    module: str  # what must be importable for this builder to work
    build: Callable[[ModelCard, dict], "torch.nn.Module"]


def architecture(card: ModelCard) -> "torch.nn.Module":
    """A card's architecture with untrained weights (timm, our PerViT or our HAT); builders load into it, the probe
    registry reads its layer and head counts from it."""
    if card.builder == "pervit":
        from vtdemo.models.pervit import PerViT

        return PerViT(**card.config)
    if card.builder == "hat":
        from vtdemo.models.hat import HAT

        return HAT(**card.config)
    if card.builder != "timm":
        raise BuildError(f"{card.id}: its architecture is known only from its weights.")
    import timm

    return timm.create_model(card.config["timm_name"], pretrained=False,
                             num_classes=int(card.config.get("num_classes", 1000)),
                             **dict(card.config.get("kwargs", {})))  # the demo models' own sizes


def _build_timm(card: ModelCard, state_dict: dict):
    model = architecture(card)
    _load_strict(model, state_dict, card)
    return model


def _build_spandrel(card: ModelCard, state_dict: dict):
    from spandrel import ModelLoader

    try:
        descriptor = ModelLoader().load_from_state_dict(state_dict)
    except Exception as exc:
        raise BuildError(f"{card.id}: spandrel does not recognise these weights ({exc}).") from exc
    if card.scale is not None and descriptor.scale != card.scale:
        raise BuildError(f"{card.id}: the weights are a ×{descriptor.scale} model, the card says ×{card.scale}.")
    descriptor.model.vtdemo_scale = descriptor.scale
    return descriptor.model


def _build_hat(card: ModelCard, state_dict: dict):
    model = architecture(card)
    _load_strict(model, state_dict, card)
    return model


def _build_pervit(card: ModelCard, state_dict: dict):
    model = architecture(card)
    _load_strict(model, state_dict, card)
    return model


def _load_strict(model, state_dict: dict, card: ModelCard) -> None:
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[:4]
        raise BuildError(f"{card.id}: these weights do not fit the {card.name} architecture: "
                         + " ".join(line.strip() for line in first)) from exc


BUILDERS: dict[str, Builder] = {
    "timm": Builder("timm", _build_timm),
    "spandrel": Builder("spandrel", _build_spandrel),
    "hat": Builder("vtdemo.models.hat", _build_hat),
    "pervit": Builder("vtdemo.models.pervit", _build_pervit),
}


def builder_ready(card: ModelCard) -> bool:
    """Whether the code that builds ``card`` exists in this install (later issues add HAT and PerViT)."""
    builder = BUILDERS.get(card.builder)
    if builder is None:
        return False
    try:
        return importlib.util.find_spec(builder.module) is not None
    except ModuleNotFoundError:
        return False


def build(card: ModelCard, state_dict: dict):
    if not builder_ready(card):
        raise BuildError(f"{card.id}: the {card.builder!r} architecture is not implemented in this version of "
                         "vtdemo yet.")
    return BUILDERS[card.builder].build(card, state_dict)
