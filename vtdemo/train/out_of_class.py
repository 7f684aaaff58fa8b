"""python -m vtdemo.train out-of-class --data FOLDER [--models ...] — fit each embedded demo classifier's "none of my
classes" detector on FOLDER/train, choose its threshold on FOLDER/val, and write the class statistics beside the
weights and the threshold with its measured rates into the model's JSON card."""
from __future__ import annotations

import json
from pathlib import Path


def build_parser(sub) -> None:
    p = sub.add_parser("out-of-class", help="calibrate the 'none of my classes' signal of demo classifiers")
    p.add_argument("--data", type=Path, required=True,
                   help="a folder with train/ and val/ of in-class images as <synset>/<image>")
    p.add_argument("--models", nargs="+", help="embedded classifier ids (default: all of them)")
    p.set_defaults(run=run)


def save(weights: Path, entry: dict, stats: dict) -> None:
    """The class statistics beside ``weights`` (<id>.ood.safetensors) and the entry in its JSON card."""
    from safetensors.numpy import save_file

    save_file(stats, str(weights.with_suffix(".ood.safetensors")))
    card_path = weights.with_suffix(".json")
    card = json.loads(card_path.read_text())
    card["out_of_class"] = entry
    card_path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")


def run(args) -> None:
    from vtdemo.classify.out_of_class import calibrate
    from vtdemo.zoo.cards import cards
    from vtdemo.zoo.locations import embedded_dir

    ids = args.models or [c.id for c in cards("classify") if c.source.kind == "embedded"]
    print(f"{'model':<14} {'val flagged':>12} {'others flagged':>15}   maximum softmax probability instead")
    for model_id in ids:
        entry, stats = calibrate(model_id, args.data)
        save(embedded_dir() / f"{model_id}.safetensors", entry, stats)
        print(f"{model_id:<14} {entry['val_flagged']:>12.1%} {entry['other_flagged']:>15.1%}   "
              f"{entry['msp_val_flagged']:.1%} / {entry['msp_other_flagged']:.1%}   ({entry['val_images']} val, "
              f"{entry['other_images']} other images)")
