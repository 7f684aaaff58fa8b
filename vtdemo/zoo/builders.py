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


_SPANDREL_ARCHS = {"SwinIR": "spandrel.architectures.SwinIR.__arch.SwinIR",  # arch name -> its module in spandrel
                   "SRVGGNetCompact": "spandrel.architectures.Compact.__arch.SRVGG"}


def spandrel_class(arch: str) -> type:
    """spandrel's module class of architecture ``arch`` (a key of _SPANDREL_ARCHS)."""
    import importlib

    return getattr(importlib.import_module(_SPANDREL_ARCHS[arch]), arch)


def architecture(card: ModelCard) -> "torch.nn.Module":
    """A card's architecture with untrained weights (timm, our PerViT, our HAT, or a spandrel architecture the card
    names); builders load into it, the probe registry reads its layer and head counts from it."""
    from vtdemo.zoo.demo_archs import build_classifier

    config = dict(card.config)
    num_classes = int(config.pop("num_classes", 1000))
    if card.builder == "pervit":
        return build_classifier({"config": config}, num_classes)
    if card.builder == "hat":
        from vtdemo.models.hat import HAT

        return HAT(**card.config)
    if card.builder == "spandrel" and "arch" in config:
        return spandrel_class(config.pop("arch"))(**config)
    if card.builder != "timm":
        raise BuildError(f"{card.id}: its architecture is known only from its weights.")
    return build_classifier({"timm_name": config["timm_name"], "kwargs": config.get("kwargs", {})}, num_classes)


def _build_timm(card: ModelCard, state_dict: dict):
    model = architecture(card)
    _load_strict(model, state_dict, card)
    return model


def _build_sr(card: ModelCard, state_dict: dict):
    """Every SR card loads through spandrel's loader with the project's HAT registered first (a HAT card gets our
    HAT); the descriptor's scale must be the card's."""
    from vtdemo.sr.checkpoints import load_sr_state_dict
    from vtdemo.zoo.errors import WeightsError

    if card.builder == "hat":  # our HAT is built from the card; spandrel detects the others from their weights
        _check_fits(card, state_dict)
    try:
        descriptor = load_sr_state_dict(state_dict, card.id)
    except WeightsError as exc:
        raise BuildError(f"{card.id}: {exc}") from None
    if card.scale is not None and descriptor.scale != card.scale:
        raise BuildError(f"{card.id}: the weights are a ×{descriptor.scale} model, the card says ×{card.scale}.")
    return descriptor.model


def _build_pervit(card: ModelCard, state_dict: dict):
    model = architecture(card)
    _load_strict(model, state_dict, card)
    return model


def _check_fits(card: ModelCard, state_dict: dict) -> None:
    """The weights must be the card's architecture (keys and shapes), checked on the meta device before anything
    is built: a zoo file is not trusted to be what its name says."""
    import torch

    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in architecture(card).state_dict().items()}
    found = {k: tuple(getattr(v, "shape", ())) for k, v in state_dict.items()}
    wrong = sorted(k for k in expected.keys() & found.keys() if expected[k] != found[k])
    missing, unexpected = sorted(expected.keys() - found.keys()), sorted(found.keys() - expected.keys())
    if wrong or missing or unexpected:
        detail = "; ".join(f"{what}: {', '.join(keys[:3])}{' …' if len(keys) > 3 else ''}"
                           for what, keys in (("other shapes", wrong), ("missing", missing),
                                              ("unexpected", unexpected)) if keys)
        raise BuildError(f"{card.id}: these weights do not fit the {card.name} architecture ({detail}).")


def _load_strict(model, state_dict: dict, card: ModelCard) -> None:
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[:4]
        raise BuildError(f"{card.id}: these weights do not fit the {card.name} architecture: "
                         + " ".join(line.strip() for line in first)) from exc


BUILDERS: dict[str, Builder] = {
    "timm": Builder("timm", _build_timm),
    "spandrel": Builder("spandrel", _build_sr),
    "hat": Builder("vtdemo.models.hat", _build_sr),  # our HAT, its configuration on the card
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
