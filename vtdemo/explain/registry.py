"""The probe registry: one attention probe per classifier family, looked up by the family a model card names. The
Attention tab, the API and the bench ask here; nothing else compares family names.

To add a family: write ``vtdemo/explain/<family>.py`` with a ``Probe`` subclass (base.py) and add it to ``PROBES``.
HAT is not a probe: it attends at the resolution of an input of any size, one block per pass around the click, and
the LAM tab shows it (``explain/hat.py`` says why in full).
"""
from __future__ import annotations

from vtdemo.cache import Cache
from vtdemo.explain.base import LayerInfo, Probe
from vtdemo.explain.pervit import PerViTProbe
from vtdemo.explain.pvt import PVTProbe
from vtdemo.explain.swin import SwinProbe
from vtdemo.explain.vit import DeiTProbe, ViTProbe

PROBES: dict[str, Probe] = {p.family: p for p in (ViTProbe(), DeiTProbe(), SwinProbe(), PVTProbe(), PerViTProbe())}


def probe_for(family: str) -> Probe:
    """The probe of ``family``; a clear error when the family has none."""
    try:
        return PROBES[family]
    except KeyError:
        raise ValueError(f"no attention probe for the {str(family)[:40]} family") from None


def layer_infos(card, probe=None) -> list[LayerInfo]:
    """The attention layers of a card's architecture (names, head counts, what is drawn) by its probe (or ``probe``:
    anything with ``layers(model)``), read once per card from a build on the meta device — the controls' ranges,
    without allocating weights or running anything."""
    probe = probe or probe_for(card.family)
    return list(_INFOS.get_or_compute(card.id, lambda: tuple(probe.layers(_skeleton(card)))))


def _skeleton(card):
    """The card's architecture with no storage (meta device); on the CPU if it cannot be built there."""
    import torch

    from vtdemo.zoo.builders import architecture

    try:
        with torch.device("meta"):
            return architecture(card)
    except Exception:  # noqa: BLE001 - a constructor that reads tensor values back: build it for real
        return architecture(card)


_INFOS = Cache(64)
