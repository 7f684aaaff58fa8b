"""Which models can run here now (code present, weights embedded, cached, placed or downloadable), and how to get
the others: the one answer every dropdown, the Models tab and the CLI use."""
from __future__ import annotations

from vtdemo.zoo import weights
from vtdemo.zoo.builders import builder_ready
from vtdemo.zoo.cards import ModelCard, Task, cards

USABLE = ("embedded", "cached", "local file", "downloadable")


def usable(task: Task, scale: int | None = None, online: bool | None = None) -> list[ModelCard]:
    """The cards of ``task`` (and ``scale``, for SR) whose model can be built and whose weights are here or can be
    downloaded now (each source's host probed, unless ``online`` says), in table order."""
    return [c for c in cards(task) if (scale is None or c.scale == scale) and builder_ready(c)
            and weights.status(c, online) in USABLE]


def unavailable(task: Task, scale: int | None = None) -> list[tuple[ModelCard, str, str]]:
    """(card, why it cannot run, how to get it) for the cards of ``task`` (and ``scale``) that cannot run now."""
    ready = {c.id for c in usable(task, scale)}
    rows = []
    for card in cards(task):
        if (scale is not None and card.scale != scale) or card.id in ready:
            continue
        how = (f"download it from {card.source.page} into `weights/`" if card.source.kind == "local"
               else f"`python -m vtdemo fetch {card.id}` on a machine with internet, or copy "
                    f"`{card.source.local_basename}` into `weights/`")
        rows.append((card, weights.status(card), how))
    return rows
