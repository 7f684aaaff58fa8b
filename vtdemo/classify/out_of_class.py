"""Saying when an image is none of a classifier's classes: a 10-class demo model cannot know a tiger, and its top-1
on one is still a confident-looking probability.

The signal is a linear probe on the model's penultimate features trained to tell its classes from other images —
outlier exposure (Hendrycks et al., ICLR 2019) applied to the detector: every 4th training image of the model's
classes against crops of photos of other things (the SR training photos: BSDS and T91, one half of their files) and
synthetic images (noise of any size, gradients, stripes, flat colours), by L2-regularised logistic regression on
standardised features. On these small models it finds about twice the out-of-class photos the Mahalanobis distance
to the nearest class mean (Lee et al., NeurIPS 2018; this module's previous signal) or the maximum softmax
probability find at the same false-alarm rate (``calibrate`` measures all three).

The threshold is chosen on half of the in-class validation images (every other one) so that 5 % of them are flagged,
then measured on the other half (false alarms), on the other half of the photo files (never seen by the probe) and on
images the project makes or scikit-image ships (``other_images``: never seen either). The probe is stored beside the
weights (``<id>.ood.safetensors``), the threshold and every rate in the model's JSON card.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from vtdemo.cache import Cache

SCORE = ("a linear probe on the penultimate features telling the model's classes from other images (logistic "
         "regression with outlier exposure: crops of other photos and synthetic images)")
FALSE_ALARMS = 0.05  # the share of in-class images flagged when the threshold is chosen
TRAIN_EVERY = 4  # the in-class side of the probe: every 4th training image
OUTLIER_CROPS = 3  # random square crops per outlier photo
OUTLIER_SYNTHETIC = 60  # synthetic outlier images (another seed than other_images')
L2 = 1e-3  # the probe's weight penalty (on standardised features)

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
    return images + synthetic_images(synthetic, rng)


def synthetic_images(count: int, rng: np.random.Generator, any_size: bool = False) -> list[Image.Image]:
    """Noise, colour gradients, stripes and flat colours (in turn), 128 px; with ``any_size`` the noise is 4–128 px
    (an 8×8 noise image upscaled by the preprocessing is a known trap)."""
    yy, xx = np.mgrid[:128, :128] / 128.0
    images = []
    for i in range(count):
        kind = i % 4
        if kind == 0:
            side = int(rng.integers(4, 129)) if any_size else 128
            arr = rng.integers(0, 256, (side, side, 3))
        elif kind == 1:
            arr = 255 * np.stack([xx * rng.uniform(), yy * rng.uniform(), (xx + yy) / 2 * rng.uniform()], -1)
        elif kind == 2:
            arr = 127.5 + 127.5 * np.sin(2 * np.pi * rng.uniform(2, 16) * (xx * np.cos(i) + yy * np.sin(i)))
            arr = np.repeat(arr[..., None], 3, -1)
        else:
            arr = np.full((128, 128, 3), rng.integers(0, 256, 3))
        images.append(Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)))
    return images


def outlier_images(files: list[Path], seed: int = 5) -> list[Image.Image]:
    """The probe's outside: OUTLIER_CROPS random square crops (30–80 % of the short side) of each photo in
    ``files``, and OUTLIER_SYNTHETIC synthetic images."""
    rng = np.random.default_rng(seed)
    images = []
    for path in files:
        with Image.open(path) as opened:
            image = opened.convert("RGB")
        for _ in range(OUTLIER_CROPS):
            side = int(min(image.size) * rng.uniform(0.3, 0.8))
            left, top = rng.integers(0, image.width - side + 1), rng.integers(0, image.height - side + 1)
            images.append(image.crop((left, top, left + side, top + side)))
    return images + synthetic_images(OUTLIER_SYNTHETIC, rng, any_size=True)


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


def fit_probe(inside: np.ndarray, outside: np.ndarray, l2: float = L2) -> dict[str, np.ndarray]:
    """A logistic regression from standardised features to "one of the classes" (1) vs "other" (0), the two sides
    weighted equally, L2 ``l2`` on the weights; fitted by L-BFGS from zero (deterministic)."""
    import torch

    features = np.concatenate([inside, outside]).astype(np.float64)
    mean, scale = features.mean(0), features.std(0) + 1e-6
    x = torch.tensor((features - mean) / scale, dtype=torch.float64)
    y = torch.cat([torch.ones(len(inside)), torch.zeros(len(outside))]).double()
    weights = torch.where(y > 0, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([w, b], max_iter=500, tolerance_grad=1e-9, line_search_fn="strong_wolfe")

    def loss():
        optimizer.zero_grad()
        value = torch.nn.functional.binary_cross_entropy_with_logits(x @ w + b, y, weight=weights) + l2 * (w ** 2).sum()
        value.backward()
        return value

    optimizer.step(loss)
    return {"mean": mean.astype(np.float32), "scale": scale.astype(np.float32),
            "weight": w.detach().numpy().astype(np.float32), "bias": b.detach().numpy().astype(np.float32)}


def score(features: np.ndarray, probe: dict[str, np.ndarray]) -> np.ndarray:
    """The probe's logit (higher: more like the model's classes)."""
    z = (np.asarray(features, dtype=np.float32) - probe["mean"]) / probe["scale"]
    return z @ probe["weight"] + probe["bias"][0]


def fit(features: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Class means and the precision of the shared (tied) covariance of training features (the Mahalanobis
    baseline ``calibrate`` compares the probe with)."""
    classes = np.unique(labels)
    means = np.stack([features[labels == c].mean(0) for c in classes])
    centred = features - means[np.searchsorted(classes, labels)]
    covariance = centred.T @ centred / len(features)
    ridge = 1e-3 * np.trace(covariance) / len(covariance)  # keeps the inverse stable with few images
    return {"means": means.astype(np.float32),
            "precision": np.linalg.inv(covariance + ridge * np.eye(len(covariance))).astype(np.float32)}


def mahalanobis_score(features: np.ndarray, stats: dict[str, np.ndarray]) -> np.ndarray:
    """Minus the squared Mahalanobis distance to the nearest class mean (higher: more like the training classes)."""
    d = features[:, None, :] - stats["means"][None]
    return -np.einsum("nki,ij,nkj->nk", d, stats["precision"], d).min(1)


def calibrate(model_id: str, data: Path, outliers: list[Path], device=None, path=None
              ) -> tuple[dict, dict[str, np.ndarray]]:
    """(the card's ``out_of_class`` entry, the probe) of ``model_id``: the probe from ``data``/train (every 4th
    image) against ``outlier_images`` of every other file of ``outliers`` (folders of photos of other things); the
    threshold flags 5 % of every other ``data``/val image; the entry gives the rates on the other val half, the
    other photo files and ``other_images``, and those of the Mahalanobis distance and the maximum softmax
    probability at the same false-alarm level, for comparison."""
    from vtdemo.classify.evaluate import class_index, labelled_images
    from vtdemo.imaging import IMAGE_SUFFIXES
    from vtdemo.zoo.cards import get_card

    card = get_card(model_id)

    def known(folder):
        return [(p, class_index(card.labels, s)) for p, s in labelled_images(folder)
                if class_index(card.labels, s) is not None]

    def run(images):
        return _outputs(model_id, images, device=device, path=path)

    train = known(Path(data) / "train")[::TRAIN_EVERY]
    val = [p for p, _ in known(Path(data) / "val")]
    photos = sorted(p for folder in outliers for p in Path(folder).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    exposed, held_out = photos[0::2], photos[1::2]
    _, train_features = run([p for p, _ in train])
    _, outlier_features = run(outlier_images(exposed))
    probe = fit_probe(train_features, outlier_features)
    stats = fit(train_features, np.array([label for _, label in train]))
    measured = {name: run(images) for name, images in (("val", val), ("held_out", held_out),
                                                         ("other", other_images()))}
    entry = {"score": SCORE, "train_images": len(train), "outlier_photos": len(exposed),
             "outlier_images": len(outlier_features), "val_images": len(val) // 2,
             "held_out_photos": len(held_out), "other_images": len(measured["other"][0]),
             "chosen_on": f"every other image of {len(val)} in-class validation images ({FALSE_ALARMS:.0%} flagged)"}
    signals = {"": lambda probs, feats: score(feats, probe),
               "mahalanobis_": lambda probs, feats: mahalanobis_score(feats, stats),
               "msp_": lambda probs, feats: probs.max(-1)}
    for name, signal in signals.items():
        values = {kind: signal(*outputs_) for kind, outputs_ in measured.items()}
        threshold = float(np.quantile(values["val"][0::2], FALSE_ALARMS))
        entry[name + "threshold"] = round(threshold, 4)
        entry[name + "val_flagged"] = round(float((values["val"][1::2] < threshold).mean()), 4)
        entry[name + "held_out_flagged"] = round(float((values["held_out"] < threshold).mean()), 4)
        entry[name + "other_flagged"] = round(float((values["other"] < threshold).mean()), 4)
    return entry, probe


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
        probe = load_file(str(stats_file))
        if not entry or set(probe) != {"mean", "scale", "weight", "bias"}:
            return None  # no entry, or the statistics of an earlier kind of detector: not calibrated
        return entry["threshold"], probe

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
    """Whether one image's penultimate features score below the model's threshold (probably none of its classes);
    None for a model without a calibrated detector (the ImageNet-1k models)."""
    found = _detector(model_id)
    if found is None:
        return None
    threshold, probe = found
    return bool(score(np.asarray(features, dtype=np.float32).reshape(1, -1), probe)[0] < threshold)
