"""``python -m vtdemo bench explain``: class maps per method per classifier — the time of each map on this machine,
and over a folder of ImageNet-layout images (``<synset>/<image>``, e.g. Imagenette val) the faithfulness table:
mean deletion / insertion AUC of each method's map of the true class against a random map and attention rollout,
how often the map beats the random one on both, and (``--sanity``) the randomization check's mean ρ."""
from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

HELP = "class maps: time per method per model, and the deletion / insertion faithfulness table over a folder"
IMAGES = (".jpg", ".jpeg", ".png", ".webp")


def add_arguments(parser) -> None:
    parser.add_argument("folder", nargs="?", type=Path, help="ImageNet layout: one sub-folder per class, named by "
                        "its synset (e.g. Imagenette's val/); without it only the times, on a generated image")
    parser.add_argument("--models", nargs="+", help="classifier ids (default: the embedded demo models)")
    parser.add_argument("--per-class", type=int, default=3, help="images per class sub-folder (default 3)")
    parser.add_argument("--sanity", action="store_true", help="also the randomization check per image")
    parser.add_argument("--random-weights", action="store_true",
                        help="times only: random weights of the real architectures (models without weights here "
                             "always get them)")


def run(args) -> int:
    from vtdemo.zoo import weights
    from vtdemo.zoo.cards import UnknownModelError, cards

    ids = args.models or [c.id for c in cards("classify") if c.source.kind == "embedded"]
    try:
        for line in times(ids, args.random_weights):
            print(line, flush=True)
        if args.folder:
            for line in faithfulness_table(ids, args.folder, args.per_class, args.sanity):
                print(line, flush=True)
    except (UnknownModelError, weights.WeightsError, FileNotFoundError, ValueError) as exc:
        print(f"vtdemo bench explain: {exc}", file=sys.stderr)
        return 2
    return 0


def times(model_ids: list[str], random_weights: bool = False, repeats: int = 3) -> list[str]:
    """Median milliseconds of each method's map (and of the map with its scores) on a generated image."""
    import torch

    from vtdemo.bench._compute import model_or_random
    from vtdemo.classify.labels import label_names
    from vtdemo.examples import example_files
    from vtdemo.explain.class_maps import methods_for
    from vtdemo.explain.explanation import explain_module
    from vtdemo.zoo.cards import get_card

    image = next(p for p in example_files() if p.stem == "golf-ball")
    lines = [f"Class maps, median of {repeats} ({torch.get_num_threads()} threads): map alone · with its "
             "deletion/insertion and the baselines'", f"| model | {'method':<15} | map (ms) | with scores (ms) |",
             "|---|---|---:|---:|"]
    for model_id in model_ids:
        card = get_card(model_id)
        model, random = model_or_random(model_id, random_weights)
        names = label_names(card.labels)
        for method in methods_for(card.family, model):
            alone, scored = [], []
            for _ in range(repeats):
                found = explain_module(model, card.family, image, card.preprocess, names, None, method, False)
                alone.append(found.seconds * 1000)
                start = time.perf_counter()
                explain_module(model, card.family, image, card.preprocess, names, None, method, True)
                scored.append((time.perf_counter() - start) * 1000)
            lines.append(f"| {model_id}{' (random weights)' if random else ''} | {method:<15} | "
                         f"{sorted(alone)[repeats // 2]:8.1f} | {sorted(scored)[repeats // 2]:8.1f} |")
    return lines


def _images(folder: Path, per_class: int) -> list[tuple[Path, str]]:
    """(image, synset) for the first ``per_class`` images of each class sub-folder, in name order."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is not a folder")
    found = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        files = sorted(p for p in sub.iterdir() if p.suffix.lower() in IMAGES)
        found += [(p, sub.name) for p in files[:per_class]]
    if not found:
        raise FileNotFoundError(f"{folder} has no <synset>/<image> files")
    return found


def faithfulness_table(model_ids: list[str], folder: Path, per_class: int = 3, sanity: bool = False) -> list[str]:
    """Per model and method, over the images of classes the model knows, explaining the true class."""
    import numpy as np

    from vtdemo.classify.evaluate import class_index
    from vtdemo.classify.labels import label_names
    from vtdemo.explain.class_maps import methods_for
    from vtdemo.explain.explanation import explain_module
    from vtdemo.zoo.cards import get_card
    from vtdemo.zoo.loading import load_model

    images = _images(folder, per_class)
    lines = ["", f"Faithfulness on {folder.name} ({per_class} per class), the true class explained: mean AUC "
             "(deletion ↓, insertion ↑); then the share of images where the map's deletion is below the random "
             "map's, its insertion above, and both", "| model | family | method | images | deletion | insertion | "
             "random del / ins | rollout del / ins | del < random | ins > random | both | randomization ρ |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for model_id in model_ids:
        card = get_card(model_id)
        model, names = load_model(model_id, download=False), label_names(card.labels)
        known = [(p, class_index(card.labels, s)) for p, s in images if class_index(card.labels, s) is not None]
        for method in methods_for(card.family, model):
            rows = []
            for path, target in known:
                s = explain_module(model, card.family, path, card.preprocess, names, target, method, True,
                                   sanity).scores
                rows.append((s.map.deletion_auc, s.map.insertion_auc, s.random.deletion_auc, s.random.insertion_auc,
                             s.rollout.deletion_auc if s.rollout else np.nan,
                             s.rollout.insertion_auc if s.rollout else np.nan, s.beats_random,
                             np.nan if s.randomization is None else s.randomization))
            r = np.asarray(rows, dtype=np.float64).reshape(-1, 8)
            with warnings.catch_warnings():  # a column of NaN (no rollout, no check) has no mean: "—"
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(r, 0)
            rollout = "—" if np.isnan(mean[4]) else f"{mean[4]:.3f} / {mean[5]:.3f}"
            rho = "—" if np.isnan(mean[7]) else f"{mean[7]:.2f}"
            lower, higher = np.mean(r[:, 0] < r[:, 2]), np.mean(r[:, 1] > r[:, 3])
            lines.append(f"| {model_id} | {card.family} | {method} | {len(r)} | {mean[0]:.3f} | {mean[1]:.3f} | "
                         f"{mean[2]:.3f} / {mean[3]:.3f} | {rollout} | {lower:.0%} | {higher:.0%} | {mean[6]:.0%} | "
                         f"{rho} |")
    return lines
