"""The Classify tab's "Why this class?": one class explained by up to four classifiers side by side (each map
scaled to its maximum: one colour scale), with deletion / insertion curves and their AUCs against a random map and
attention rollout; a click on a class in a model's top-k explains that class. And the /explain_class endpoint."""
from __future__ import annotations

import gradio as gr

from vtdemo.ui import on_device, validate
from vtdemo.ui.admission import heavy_slot, light
from vtdemo.ui.choices import CLASSIFY_SLOTS
from vtdemo.ui.errors import user_errors
from vtdemo.zoo.cards import get_card

TOP_ONE = ""  # the class dropdown's "each model's top-1"
METHOD_CHOICES = [("auto (most faithful, measured)", "auto"),
                  ("gradient-weighted rollout (ViT, DeiT, PerViT)", "chefer"),
                  ("Grad-CAM", "gradcam"), ("LayerCAM", "layercam"), ("Integrated Gradients", "ig")]
API_METHODS = ("auto", "chefer", "chefer-cls", "chefer-distill", "gradcam", "layercam", "ig")


def class_choices(labels: list[str]) -> list[tuple[str, str]]:
    """The class dropdown: each model's top-1, then the classes the last classification listed (in order)."""
    return [("each model's top-1", TOP_ONE)] + [(name, name) for name in dict.fromkeys(labels)]


def _method_here(family: str, method: str) -> tuple[str, str]:
    """(the method to run for ``family``, a note when the asked one does not apply there)."""
    from vtdemo.explain.registry import probe_for

    why = probe_for(family).rollout_why_not
    if method.startswith("chefer") and why:
        return "auto", f"rollout does not apply: {why}"
    return method, ""


def _row(e, note: str = "") -> str:
    s = e.scores
    cells = [f"**{get_card(e.model).name}**", f"{e.label} ({e.probability:.0%})", e.method,
             f"{s.map.deletion_auc:.3f} / {s.random.deletion_auc:.3f}",
             f"{s.map.insertion_auc:.3f} / {s.random.insertion_auc:.3f}",
             "—" if s.rollout is None else f"{s.rollout.deletion_auc:.3f} / {s.rollout.insertion_auc:.3f}",
             "—" if s.randomization is None else f"{s.randomization:.2f}"]
    return "| " + " | ".join(cells) + " |" + (f"\n| ↳ {note} |||||||" if note else "")


HEADER = ("| model | class | method | deletion AUC: map / random ↓ | insertion AUC: map / random ↑ | rollout del / ins "
          "| randomization ρ ↓ |\n|---|---|---|---|---|---|---|")


@user_errors
def explain_models(image, models, target, method, sanity, progress=gr.Progress()):
    """(gallery of maps, curves figure, table): ``target`` explained by every chosen classifier."""
    from vtdemo.explain.class_maps import METHODS
    from vtdemo.viz.attention import class_overlay
    from vtdemo.viz.plots import faithfulness_figure

    if not image:
        raise gr.Error("Upload an image (or pick an example) first.")
    models = validate.model_ids(models or [], "classifiers", max_count=CLASSIFY_SLOTS)
    if not models:
        raise gr.Error("Choose at least one classifier.")
    target = validate.optional_text(target, "class", max_length=80).strip() or None
    method = validate.choice(method or "auto", "method", [v for _, v in METHOD_CHOICES])
    items, found, lines = [], [], []
    report = on_device.Report(progress)
    with heavy_slot(lambda what: progress(0, desc=what)):
        for i, model_id in enumerate(models):
            card = get_card(model_id)
            here, note = _method_here(card.family, method)
            report.part(i, len(models), f"{card.name}: ")(0, "explaining")
            try:
                e = on_device.explain_class(image, model_id, target, here, bool(sanity))
            except gr.Error as exc:  # e.g. a class this model does not know: the others still run
                lines.append(f"| **{card.name}** | {exc.message} ||||||")
                continue
            found.append(e)
            items.append((class_overlay(e), f"{card.name}: {e.label} ({e.probability:.0%}) · "
                                             f"{METHODS[e.method].name}"))
            lines.append(_row(e, note))
    table = HEADER + "\n" + "\n".join(lines) + (
        "\n\nEach map is scaled to its own maximum (one colour scale, 0–1). Deletion replaces the most relevant "
        "pixels first by the mean colour, insertion puts them into a blurred copy (RISE); the random map is coarse "
        "noise. ρ: rank correlation with the map of a copy whose top blocks are re-initialised (low = the map "
        "follows the weights).")
    figure = faithfulness_figure(found) if found else None
    return items, figure, table


@light
def select_class(evt: gr.SelectData):
    """A click on a class in a model's top-k: that class in the dropdown (which then explains it)."""
    value = evt.value if isinstance(evt.value, str) else None
    return gr.update(value=value) if value else gr.skip()


@user_errors
def explain_api(image: str, model_id: str, target: str = "", method: str = "auto"):
    """One classifier's map of one class: (the map over the model's view, its numbers as JSON)."""
    from vtdemo.viz.attention import class_overlay

    if not image:
        raise gr.Error("No image given.")
    model_id = validate.text(model_id, "model_id")
    target = validate.optional_text(target, "target", max_length=80).strip() or None
    method = validate.choice(method or "auto", "method", API_METHODS)
    with heavy_slot():
        e = on_device.explain_class(image, model_id, target, method, False)
    return class_overlay(e), e.summary()
