"""python -m vtdemo.train out-of-class --data FOLDER [--outliers FOLDER ...] [--models ...] — fit each embedded demo
classifier's "none of my classes" probe on FOLDER/train against photos of other things (default: the SR training
photos), choose its threshold on FOLDER/val, and write the probe beside the weights and the threshold with its
measured rates into the model's JSON card."""
from __future__ import annotations

import json
from pathlib import Path


def build_parser(sub) -> None:
    from vtdemo.train.sr import DEFAULT_TRAIN

    p = sub.add_parser("out-of-class", help="calibrate the 'none of my classes' signal of demo classifiers")
    p.add_argument("--data", type=Path, required=True,
                   help="a folder with train/ and val/ of in-class images as <synset>/<image>")
    p.add_argument("--outliers", type=Path, nargs="+", default=DEFAULT_TRAIN,
                   help="folders of photos of none of the classes (default: the SR training photos); every other "
                        "file trains the probe, the rest measures it")
    p.add_argument("--models", nargs="+", help="embedded classifier ids (default: all of them)")
    p.set_defaults(run=run)


def save(weights: Path, entry: dict, stats: dict) -> None:
    """The probe beside ``weights`` (<id>.ood.safetensors) and the entry in its JSON card."""
    from vtdemo.atomic import save_tensors

    save_tensors(stats, weights.with_suffix(".ood.safetensors"))
    card_path = weights.with_suffix(".json")
    card = json.loads(card_path.read_text())
    card["out_of_class"] = entry
    card_path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")


def run(args) -> None:
    from vtdemo.classify.out_of_class import calibrate
    from vtdemo.zoo.cards import cards
    from vtdemo.zoo.locations import embedded_dir

    ids = args.models or [c.id for c in cards("classify") if c.source.kind == "embedded"]
    print("flagged at 5 % false alarms on in-class validation images: held-out photos / made-here images "
          "(probe | Mahalanobis | max softmax)")
    for model_id in ids:
        entry, stats = calibrate(model_id, args.data, args.outliers)
        save(embedded_dir() / f"{model_id}.safetensors", entry, stats)
        rates = " | ".join(f"{entry[k + 'held_out_flagged']:.1%} / {entry[k + 'other_flagged']:.1%}"
                           for k in ("", "mahalanobis_", "msp_"))
        print(f"{model_id:<14} val {entry['val_flagged']:.1%}   {rates}", flush=True)
