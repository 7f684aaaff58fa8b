"""Saying when an image is none of a classifier's classes: a 10-class demo model cannot know a tiger, and its top-1
on one is still a confident-looking probability. The signal is the Mahalanobis distance of the image's penultimate
features to the nearest class mean (tied covariance; Lee et al., NeurIPS 2018), fitted on every 4th training image
— on these small models it separates images of other kinds from in-class ones better than the maximum softmax
probability (both are measured by ``calibrate``).

The threshold is chosen on half of the in-class validation images (every other one) so that 5 % of them are flagged,
then measured on the other half (false alarms) and on images of other kinds that the project makes or scikit-image
ships (``other_images``: detections). The class means and precision matrix are stored beside the weights
(``<id>.ood.safetensors``), the threshold and both rates in the model's JSON card.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from vtdemo.cache import Cache

SCORE = "Mahalanobis distance of the penultimate features to the nearest class mean (tied covariance)"
FALSE_ALARMS = 0.05  # the share of in-class images flagged when the threshold is chosen
TRAIN_EVERY = 4  # the class statistics come from every 4th training image

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


def outputs(model, x):
    """(logits, penultimate features) of one forward pass: timm models through their ``forward_head`` (distilled
    DeiT: its two heads averaged, as at test time), PerViT through its pooled ``forward_features``."""
    if hasattr(model, "forward_head"):
        tokens = model.forward_features(x)
        return model.forward_head(tokens), model.forward_head(tokens, pre_logits=True)
    features = model.forward_features(x)
    return model.head(features), features


def _outputs(model_id: str, images: list, batch: int = 64, device=None, path=None) -> tuple[np.ndarray, np.ndarray]:
    """(softmax probabilities, penultimate features) of ``model_id`` for images or image files, through the app's
    own preprocessing; ``path``: other weights for the card's architecture (a model just trained)."""
    import torch

    from vtdemo.classify.preprocess import preprocess
    from vtdemo.imaging import decode_image
    from vtdemo.zoo.cards import get_card
    from vtdemo.zoo.loading import load_model

    card = get_card(model_id)
    model = load_model(model_id, device=device, path=path)
    dev = next(model.parameters()).device
    probs, feats = [], []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = torch.cat([preprocess(decode_image(im).rgb, card.preprocess)[0] for im in images[i:i + batch]])
            logits, features = outputs(model, x.to(dev))
            probs.append(logits.float().softmax(-1).cpu().numpy())
            feats.append(features.float().cpu().numpy())
    return np.concatenate(probs), np.concatenate(feats)


def fit(features: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Class means and the precision of the shared (tied) covariance of training features."""
    classes = np.unique(labels)
    means = np.stack([features[labels == c].mean(0) for c in classes])
    centred = features - means[np.searchsorted(classes, labels)]
    covariance = centred.T @ centred / len(features)
    ridge = 1e-3 * np.trace(covariance) / len(covariance)  # keeps the inverse stable with few images
    return {"means": means.astype(np.float32),
            "precision": np.linalg.inv(covariance + ridge * np.eye(len(covariance))).astype(np.float32)}


def score(features: np.ndarray, stats: dict[str, np.ndarray]) -> np.ndarray:
    """Minus the squared Mahalanobis distance to the nearest class mean (higher: more like the training classes)."""
    d = features[:, None, :] - stats["means"][None]
    return -np.einsum("nki,ij,nkj->nk", d, stats["precision"], d).min(1)


def calibrate(model_id: str, data: Path, device=None, path=None) -> tuple[dict, dict[str, np.ndarray]]:
    """(the card's ``out_of_class`` entry, the class statistics) of ``model_id``, from ``data``/train (every 4th
    image) and ``data``/val: the threshold flags 5 % of every other val image; the entry also gives the rates of
    the maximum softmax probability at the same false-alarm level, for comparison."""
    from vtdemo.classify.evaluate import class_index, labelled_images
    from vtdemo.zoo.cards import get_card

    card = get_card(model_id)

    def known(folder):
        return [(p, class_index(card.labels, s)) for p, s in labelled_images(folder)
                if class_index(card.labels, s) is not None]

    train = known(Path(data) / "train")[::TRAIN_EVERY]
    val = [p for p, _ in known(Path(data) / "val")]
    _, train_features = _outputs(model_id, [p for p, _ in train], device=device, path=path)
    stats = fit(train_features, np.array([label for _, label in train]))
    val_probs, val_features = _outputs(model_id, val, device=device, path=path)
    others = other_images()
    other_probs, other_features = _outputs(model_id, others, device=device, path=path)
    entry = {"score": SCORE, "train_images": len(train), "val_images": len(val) // 2, "other_images": len(others),
             "chosen_on": f"every other image of {len(val)} in-class validation images ({FALSE_ALARMS:.0%} flagged)"}
    for name, (v, o) in {"": (score(val_features, stats), score(other_features, stats)),
                         "msp_": (val_probs.max(-1), other_probs.max(-1))}.items():
        threshold = float(np.quantile(v[0::2], FALSE_ALARMS))
        entry[name + "threshold"] = round(threshold, 4)
        entry[name + "val_flagged"] = round(float((v[1::2] < threshold).mean()), 4)
        entry[name + "other_flagged"] = round(float((o < threshold).mean()), 4)
    return entry, stats


def _detector(model_id: str) -> tuple[float, dict[str, np.ndarray]] | None:
    """(threshold, class statistics) of an embedded model whose card has them; None otherwise. Read once per version
    of the two files (keyed by their modification times), not per request."""
    from vtdemo.zoo.cards import get_card
    from vtdemo.zoo.locations import embedded_dir

    card = get_card(model_id)
    if card.source.kind != "embedded":
        return None
    card_file, stats_file = embedded_dir() / f"{card.id}.json", embedded_dir() / f"{card.id}.ood.safetensors"
    if not card_file.is_file() or not stats_file.is_file():
        return None

    def load():
        from safetensors.numpy import load_file

        entry = card_entry(model_id)
        return (entry["threshold"], load_file(str(stats_file))) if entry else None

    key = (str(stats_file), stats_file.stat().st_mtime_ns, card_file.stat().st_mtime_ns)
    return _STATS.get_or_compute(key, load)


_STATS = Cache(8)


def card_entry(model_id: str) -> dict | None:
    """The ``out_of_class`` entry of an embedded model's JSON card (None when the model has none)."""
    from vtdemo.zoo.cards import get_card
    from vtdemo.zoo.locations import embedded_dir

    card = get_card(model_id)
    if card.source.kind != "embedded":
        return None
    try:
        return json.loads((embedded_dir() / f"{card.id}.json").read_text()).get("out_of_class")
    except (OSError, ValueError):
        return None


def is_out_of_class(model_id: str, features) -> bool | None:
    """Whether one image's penultimate features are further from every class than the model's threshold allows;
    None for a model without a calibrated detector (the ImageNet-1k models)."""
    found = _detector(model_id)
    if found is None:
        return None
    threshold, stats = found
    return bool(score(np.asarray(features, dtype=np.float32).reshape(1, -1), stats)[0] < threshold)
