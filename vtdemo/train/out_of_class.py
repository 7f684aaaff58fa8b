"""python -m vtdemo.train out-of-class --data VAL_FOLDER [--models ...] — choose each embedded demo classifier's
"none of my classes" threshold and write it, with its measured rates, into the model's JSON card."""
from __future__ import annotations

import json
from pathlib import Path


def build_parser(sub) -> None:
    p = sub.add_parser("out-of-class", help="calibrate the 'none of my classes' signal of demo classifiers")
    p.add_argument("--data", type=Path, required=True, help="in-class validation images as <synset>/<image>")
    p.add_argument("--models", nargs="+", help="embedded classifier ids (default: all of them)")
    p.set_defaults(run=run)


def write_entry(card_path: Path, entry: dict) -> None:
    card = json.loads(card_path.read_text())
    card["out_of_class"] = entry
    card_path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")


def run(args) -> None:
    from vtdemo.classify.out_of_class import calibrate
    from vtdemo.zoo.cards import cards
    from vtdemo.zoo.weights import embedded_dir

    ids = args.models or [c.id for c in cards("classify") if c.source.kind == "embedded"]
    print(f"{'model':<14} {'threshold':>9} {'val flagged':>12} {'others flagged':>15}")
    for model_id in ids:
        entry = calibrate(model_id, args.data)
        write_entry(embedded_dir() / f"{model_id}.json", entry)
        print(f"{model_id:<14} {entry['threshold']:>9.3f} {entry['val_flagged']:>12.1%} "
              f"{entry['other_flagged']:>15.1%}  ({entry['val_images']} val, {entry['other_images']} other images)")
