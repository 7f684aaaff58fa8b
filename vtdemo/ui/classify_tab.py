"""Classify tab: an image, up to four classifiers side by side (top-k each, latency each); the /classify endpoint."""
from __future__ import annotations

import gradio as gr

from vtdemo.classify.labels import label_names
from vtdemo.classify.out_of_class import FALSE_ALARMS
from vtdemo.ui.components import Checkbox, Dropdown, HeadlineLabel, ImageUpload, NumberInput, Slider
from vtdemo.ui import classify_why, on_device, validate, where
from vtdemo.ui.arrival import check_on_arrival
from vtdemo.ui.choices import CLASSIFY_SLOTS
from vtdemo.ui.errors import user_errors
from vtdemo.zoo.availability import unavailable, usable
from vtdemo.zoo.cards import get_card

SLOTS = CLASSIFY_SLOTS
MAX_TOP_K = 10
HEAVY_CLS = "classify"
# Offline defaults: four of the five embedded demo models (Swin is one click away).
DEFAULT_DEMOS = ("vit-demo", "deit-demo", "pvt-demo", "pervit-demo")


def classifier_choices() -> list[tuple[str, str]]:
    """Classifiers usable now (embedded, cached, local file, or downloadable when online)."""
    return [(c.name, c.id) for c in usable("classify")]


def unavailable_classifiers() -> str:
    lines = [f"- **{c.name}** (`{c.id}`) — {reason}: {how}" for c, reason, how in unavailable("classify")]
    return "\n".join(lines) or "Every classifier is available."


def default_classifiers() -> list[str]:
    """The embedded demo models when present (they always work offline), else the first two usable ones."""
    ids = [v for _, v in classifier_choices()]
    demo = [i for i in DEFAULT_DEMOS if i in ids]
    return demo or ids[:2]


def none_of(card) -> str:
    """The headline shown instead of a top-1 a model is not sure of."""
    return f"⚠ probably none of its {len(label_names(card.labels))} classes; the closest of them:"


def _flagged_value(pred, card) -> dict:
    """gr.Label's value with the warning as its headline; the probabilities stay."""
    return {"label": none_of(card), "confidences": [{"label": k, "confidence": v} for k, v in pred.top]}


def _label_value(top: list[tuple[str, float]]) -> dict[str, float]:
    return {label: prob for label, prob in top}


@user_errors
def run_classify(image, models, top_k):
    if not image:
        raise gr.Error("Upload an image (or pick an example) first.")
    models = validate.model_ids(models or [], "classifiers", max_count=SLOTS)
    if not models:
        raise gr.Error("Choose at least one classifier.")
    top_k = validate.integer(top_k, "top_k", 1, MAX_TOP_K)
    labels, captions, listed = [], [], []
    for model_id in models:
        pred = on_device.classify_heads(image, model_id, top_k)
        listed += [name for name, _ in pred.top]
        card = get_card(model_id)
        caption = f"**{card.name}** · {pred.seconds * 1000:.0f} ms"
        if "class token" in pred.heads:
            cls, dist = pred.heads["class token"][0], pred.heads["distillation token"][0]
            caption += (f"<br>average of the two heads; class token: {cls[0]} ({cls[1]:.0%}), "
                        f"distillation token: {dist[0]} ({dist[1]:.0%})")
        if card.labels not in (None, "imagenet-1k"):
            caption += f"<br>knows only the {len(label_names(card.labels))} {card.labels} classes"
        if pred.out_of_class:
            caption += (f"<br>⚠ this image looks less like its classes than {1 - FALSE_ALARMS:.0%} of their own "
                        "validation images do (a probe on its features, trained against photos of other things): "
                        "it is probably none of them, and the list shows only the closest of its classes")
        value = _flagged_value(pred, card) if pred.out_of_class else _label_value(pred.top)
        labels.append(gr.update(value=value, label=card.name, visible=True))
        captions.append(gr.update(value=caption, visible=True))
    for _ in range(SLOTS - len(models)):
        labels.append(gr.update(value=None, visible=False))
        captions.append(gr.update(value="", visible=False))
    why_class = gr.update(choices=classify_why.class_choices(listed), value=classify_why.TOP_ONE)
    return [*labels, *captions, why_class]


@user_errors
def classify_api(image: str, model_id: str, top_k: int = 5):
    """Top-k of one classifier: {label: probability} (distilled DeiT: the average of its heads); the headline says
    "probably none of its N classes" when the model's top probability is below its calibrated threshold."""
    if not image:
        raise gr.Error("No image given.")
    model_id = validate.text(model_id, "model_id")
    pred = on_device.classify_heads(image, model_id, validate.integer(top_k, "top_k", 1, MAX_TOP_K))
    return _flagged_value(pred, get_card(model_id)) if pred.out_of_class else _label_value(pred.top)


def build(demo: gr.Blocks) -> None:
    from vtdemo.examples import PHOTOS, SCENES, example_files

    photos = [[str(p)] for p in example_files() if p.stem in PHOTOS or p.stem in SCENES]
    with gr.Tab("Classify", id="classify"):
        gr.Markdown("Top-k ImageNet predictions of ViT, DeiT (⚗ distilled: both heads shown), Swin, PVT-v2 and "
                    "PerViT, side by side. The *-demo* models are small models trained by vtdemo that know only "
                    f"10 ImageNet classes ({', '.join(label_names('imagenette'))}): show them one of those. The "
                    "others need their ImageNet weights (hub, or a file in `weights/`).")
        with gr.Row():
            with gr.Column(scale=2, min_width=320):
                image = ImageUpload(type="filepath", image_mode=None, label="Image",
                                    sources=["upload", "clipboard"], elem_id="cls-input", height=320)
                check_on_arrival(image)
                gr.Examples(photos, inputs=image, label="Examples (a rendered golf ball; scikit-image's public-domain "
                            "photos)")
                models = Dropdown(classifier_choices(), value=default_classifiers(), multiselect=True,
                                     max_choices=SLOTS, label=f"Classifiers (up to {SLOTS})", elem_id="cls-models")
                top_k = Slider(1, MAX_TOP_K, value=5, step=1, label="Top-k")
                with gr.Accordion("Classifiers not available here", open=False):
                    gr.Markdown(unavailable_classifiers())
                run = gr.Button("Classify", variant="primary", elem_id="cls-run")
                where_crop = where.picture("What the classifiers see (yellow: their centre crop)", "cls-where")
            with gr.Column(scale=3, min_width=420):
                slots = []
                for row in range(0, SLOTS, 2):  # two per row: four fit as 2 + 2, not 3 + 1 full-width
                    with gr.Row():
                        for i in range(row, min(row + 2, SLOTS)):
                            with gr.Column(min_width=200):
                                caption = gr.Markdown(visible=False, elem_id=f"cls-caption-{i}")  # name first
                                label = HeadlineLabel(visible=False, show_label=False, elem_id=f"cls-label-{i}")
                                slots.append((label, caption))  # no name chip over the top-1 headline
        with gr.Accordion("Why this class? One class explained by each model, and how far to trust the map",
                          open=True, elem_id="why"):
            gr.Markdown("Click a class in a model's list above (or pick one here) to see which pixels made each "
                        "model give it: class maps on one colour scale, with deletion / insertion curves "
                        "against a random map.")
            with gr.Row():
                why_class = Dropdown(classify_why.class_choices([]), value=classify_why.TOP_ONE, label="Class",
                                     elem_id="why-class")
                why_method = Dropdown(classify_why.METHOD_CHOICES, value="auto", label="Method",
                                      elem_id="why-method")
                why_sanity = Checkbox(value=False, label="Also the randomization check (about twice the time)")
                why_run = gr.Button("Explain", elem_id="why-run")
            why_maps = gr.Gallery(label="Class maps (each scaled to its maximum)", columns=4, height="auto",
                                  format="png", object_fit="contain", elem_id="why-maps")
            why_table = gr.Markdown(elem_id="why-table")
            why_plot = gr.Plot(label="Deletion and insertion", elem_id="why-plot")
        outputs = [label for label, _ in slots] + [caption for _, caption in slots] + [why_class]
        why_inputs, why_outputs = [image, models, why_class, why_method, why_sanity], [why_maps, why_plot, why_table]
        why_run.click(classify_why.explain_models, why_inputs, why_outputs, api_visibility="private",
                      concurrency_id=HEAVY_CLS, concurrency_limit=2)
        for label, _ in slots:
            label.select(classify_why.select_class, None, why_class, api_visibility="private",
                         show_progress="hidden").then(
                classify_why.explain_models, why_inputs, why_outputs, api_visibility="private",
                concurrency_id=HEAVY_CLS, concurrency_limit=2)
        gr.on([image.change, models.change], where.for_classifiers, [image, models], where_crop,
              api_visibility="private", show_progress="hidden", trigger_mode="always_last")
        run.click(run_classify, [image, models, top_k], outputs, api_visibility="private",
                  concurrency_id=HEAVY_CLS, concurrency_limit=2)
        with gr.Column(visible=False):
            api_image = ImageUpload(type="filepath", image_mode=None, label="image")
            api_model = gr.Textbox(label="model_id", value="vit-demo")
            api_k = NumberInput(value=5, precision=0, label="top_k")
            api_label = HeadlineLabel(label="prediction")
            button = gr.Button()
        button.click(classify_api, [api_image, api_model, api_k], api_label, api_name="classify",
                     concurrency_id=HEAVY_CLS, concurrency_limit=2,
                     api_description="Top-k of one classifier: label and confidences; the label is 'probably none "
                                     "of its N classes' when the model is not sure the image is one of them.")
        with gr.Column(visible=False):
            why_image = ImageUpload(type="filepath", image_mode=None, label="image")
            why_model = gr.Textbox(label="model_id", value="vit-demo")
            why_target = gr.Textbox(label="target", value="")
            why_how = gr.Textbox(label="method", value="auto")
            why_map = gr.Image(label="map", format="png")
            why_numbers = gr.JSON(label="scores")
            why_button = gr.Button()
        why_button.click(classify_why.explain_api, [why_image, why_model, why_target, why_how],
                         [why_map, why_numbers], api_name="explain_class", concurrency_id=HEAVY_CLS,
                         concurrency_limit=2,
                         api_description="Why one classifier gives a class (target: a class name or index; empty: "
                                         "its top-1; method: auto, chefer, chefer-cls, chefer-distill, gradcam, "
                                         "layercam or ig): the map over the model's view and the deletion / "
                                         "insertion AUCs of the map, a random map and attention rollout.")
