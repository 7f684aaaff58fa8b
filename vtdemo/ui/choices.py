"""Dropdown choices shared by the tabs (tabs do not import each other): what the zoo says is usable now, plus
bicubic and this session's uploaded checkpoints."""
from __future__ import annotations

from vtdemo.sr.engine import BICUBIC
from vtdemo.zoo.availability import usable

CLASSIFY_SLOTS = 4  # classifiers side by side in the Classify tab (and explained together by its "why?")


def sr_choices(scale: int, uploads: dict | None = None) -> list[tuple[str, str]]:
    """(label, value) of every SR model usable now at ``scale``: bicubic, embedded/cached/downloadable zoo models,
    and this session's uploaded checkpoints."""
    choices = [("Bicubic (baseline)", BICUBIC)] + [(card.name, card.id) for card in usable("sr", scale)]
    for key, item in (uploads or {}).items():
        if item["scale"] == scale:
            choices.append((f"📦 {item['name']} (uploaded)", key))
    return choices


def head_choices(heads: int) -> list[str]:
    """The head picker's choices: the mean over heads, then each head by index."""
    return ["mean"] + [str(h) for h in range(heads)]


def scale_choices(scales: tuple[int, ...]) -> list[tuple[str, int]]:
    """(label, scale) for the scale picker: a scale with no model usable here says that only bicubic runs at it
    (offline, ×3 has no embedded model)."""
    return [(f"×{s}" if usable("sr", s) else f"×{s} (bicubic only here)", s) for s in scales]
