"""The public Python API (re-exported from ``vtdemo``)."""
from __future__ import annotations

from vtdemo.classify import classify
from vtdemo.explain.explanation import explain_class
from vtdemo.explain.probes import attention_distance, attention_map
from vtdemo.outputs import upscale_file
from vtdemo.sr.consistency import consistency_map, disagreement_map
from vtdemo.sr.inspection import inspect_image
from vtdemo.sr.compare import compare
from vtdemo.sr.engine import upscale
from vtdemo.sr.lam import attribution_map
from vtdemo.zoo.cards import ModelCard, Task, cards
from vtdemo.zoo.loading import load_model


def list_models(task: Task | None = None) -> list[ModelCard]:
    """Every model card, or those of one task ("sr" or "classify")."""
    return cards(task)


__all__ = ["list_models", "load_model", "upscale", "upscale_file", "compare", "attribution_map", "classify",
           "attention_map", "attention_distance", "explain_class", "inspect_image", "consistency_map", "disagreement_map"]
