"""Saying when an image is none of a classifier's classes: a 10-class demo model cannot know a tiger, and its top-1
on one is still a confident-looking probability. The signal is the maximum softmax probability (MSP, Hendrycks &
Gimpel 2017): below a threshold chosen on in-class images, the answer is flagged.

The threshold is chosen on half of the in-class validation images (every other one) so that 5 % of them are flagged,
then measured on the other half (false alarms) and on images of other kinds that the project makes or scikit-image
ships (``other_images``: detections). Both rates are written into the model's JSON card with the threshold.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

SCORE = "maximum softmax probability"
FALSE_ALARMS = 0.05  # the share of in-class images flagged when the threshold is chosen

# scikit-image's bundled images (public domain or CC0); none shows one of the Imagenette classes
_SKIMAGE = ("astronaut", "brick", "camera", "cell", "checkerboard", "chelsea", "clock", "coffee", "coins",
            "colorwheel", "grass", "gravel", "horse", "hubble_deep_field", "immunohistochemistry", "logo",
            "microaneurysms", "moon", "page", "retina", "rocket", "shepp_logan_phantom", "stereo_motorcycle", "text")


def other_images(crops: int = 3, synthetic: int = 20, seed: int = 0) -> list[Image.Image]:
    """Images that are none of the Imagenette classes, made here: scikit-image's photos and textures (whole, and
    ``crops`` random crops of each), the project's test charts, and ``synthetic`` noise / gradient / stripe images."""
    import skimage.data

    from vtdemo.examples import CHARTS

    rng = np.random.default_rng(seed)
    images = []
    for name in _SKIMAGE:
        data = getattr(skimage.data, name)()
        data = data[0] if isinstance(data, tuple) else data
        if data.dtype != np.uint8:
            data = (255 * (data.astype(np.float64) / max(1e-9, data.max()))).astype(np.uint8)
        image = Image.fromarray(data).convert("RGB")
        images.append(image)
        for _ in range(crops):
            side = int(min(image.size) * rng.uniform(0.35, 0.7))
            left, top = rng.integers(0, image.width - side + 1), rng.integers(0, image.height - side + 1)
            images.append(image.crop((left, top, left + side, top + side)))
    images += [make().convert("RGB") for make in CHARTS.values()]
    yy, xx = np.mgrid[:128, :128] / 128.0
    for i in range(synthetic):
        kind = i % 4
        if kind == 0:
            arr = rng.integers(0, 256, (128, 128, 3))
        elif kind == 1:
            arr = 255 * np.stack([xx * rng.uniform(), yy * rng.uniform(), (xx + yy) / 2 * rng.uniform()], -1)
        elif kind == 2:
            arr = 127.5 + 127.5 * np.sin(2 * np.pi * rng.uniform(2, 16) * (xx * np.cos(i) + yy * np.sin(i)))
            arr = np.repeat(arr[..., None], 3, -1)
        else:
            arr = np.full((128, 128, 3), rng.integers(0, 256, 3))
        images.append(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)))
    return images


def probabilities(model_id: str, images: list, batch: int = 64, device=None, path=None) -> np.ndarray:
    """(n, classes) softmax outputs of ``model_id`` (what its top-k shows; distilled DeiT: its two heads
    averaged) for images or image files, through the app's own preprocessing; ``path``: other weights for the
    card's architecture (a model just trained)."""
    import torch

    from vtdemo.classify.preprocess import preprocess
    from vtdemo.imaging import decode_image
    from vtdemo.zoo.cards import get_card
    from vtdemo.zoo.loading import load_model

    card = get_card(model_id)
    model = load_model(model_id, device=device, path=path)
    dev = next(model.parameters()).device
    out = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = torch.cat([preprocess(decode_image(im).rgb, card.preprocess)[0] for im in images[i:i + batch]])
            out.append(model(x.to(dev)).float().softmax(-1).cpu().numpy())
    return np.concatenate(out)


def calibrate(model_id: str, val_folder: Path, device=None, path=None) -> dict:
    """The threshold of ``model_id`` chosen on every other in-class validation image, and how it does on the rest
    and on ``other_images()``: the ``out_of_class`` entry of its card."""
    from vtdemo.classify.evaluate import class_index, labelled_images
    from vtdemo.zoo.cards import get_card

    card = get_card(model_id)
    files = [p for p, synset in labelled_images(val_folder) if class_index(card.labels, synset) is not None]
    val = probabilities(model_id, files, device=device, path=path).max(-1)
    others = other_images()
    other = probabilities(model_id, others, device=device, path=path).max(-1)
    threshold = float(np.quantile(val[0::2], FALSE_ALARMS))
    return {"score": SCORE, "threshold": round(threshold, 4),
            "chosen_on": f"every other image of {len(files)} in-class validation images ({FALSE_ALARMS:.0%} flagged)",
            "val_flagged": round(float((val[1::2] < threshold).mean()), 4), "val_images": int(len(val[1::2])),
            "other_flagged": round(float((other < threshold).mean()), 4), "other_images": len(others)}


def card_entry(model_id: str) -> dict | None:
    """The ``out_of_class`` entry of an embedded model's JSON card (None when the model has none)."""
    from vtdemo.zoo.cards import get_card
    from vtdemo.zoo.weights import embedded_dir

    card = get_card(model_id)
    if card.source.kind != "embedded":
        return None
    path = embedded_dir() / f"{card.id}.json"
    try:
        return json.loads(path.read_text()).get("out_of_class")
    except (OSError, ValueError):
        return None


def is_out_of_class(model_id: str, probabilities_row) -> bool | None:
    """Whether a prediction's maximum probability is below the model's threshold; None when it has none."""
    entry = card_entry(model_id)
    if not entry:
        return None
    return float(max(probabilities_row)) < entry["threshold"]
