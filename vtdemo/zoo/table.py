"""The zoo as rows: one dict per model with its live status (for the Models tab and `python -m vtdemo models`)."""
from __future__ import annotations

from vtdemo.zoo import builders, weights
from vtdemo.zoo.cards import ModelCard, Task, cards


def format_params(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e6:.1f}M"


def short_citation(paper: str) -> str:
    """'Chen et al., Activating ... (CVPR 2023)' -> 'Chen et al. (CVPR 2023)'."""
    venue = paper[paper.rfind("("):] if paper.endswith(")") else ""
    return f"{paper.split(',')[0]} {venue}".strip()


def describe_source(card: ModelCard) -> str:
    s = card.source
    if s.kind == "hub":
        return f"hub:{s.repo_id}/{s.filename} (or weights/{s.local_basename})"
    if s.kind == "url":
        return s.url
    if s.kind == "local":
        return f"local file weights/{s.basename} (from {s.page})"
    return f"embedded weights/{s.basename}"


NOT_PROBED = "not downloaded"  # a remote source's status when its host was not asked


def _status(card: ModelCard, probe: bool) -> str:
    """The weights' status, with "unverified" for a download no published sha256 checks; without ``probe`` no host
    is contacted and a file that is not here is "not downloaded"."""
    status = weights.status(card, None if probe else False)
    if not probe and status == "unavailable offline":
        status = NOT_PROBED
    unverified = status in {"cached", "downloadable"} and weights.verification(card) == "unverified"
    return f"{status} (unverified)" if unverified else status


def model_rows(task: Task | None = None, probe: bool = True) -> list[dict]:
    """One row per card of ``task``; ``probe``: ask each remote source's host whether it can be reached now."""
    return [{
        "id": card.id,
        "task": card.task,
        "family": card.family,
        "name": card.name,
        "paper": card.paper,
        "paper_url": card.paper_url,
        "params": format_params(card.params),
        "licence": card.licence,
        "source": describe_source(card),
        "status": _status(card, probe),
        "builder": "ready" if builders.builder_ready(card) else "not implemented yet",
        "reported": card.reported,
    } for card in cards(task)]
