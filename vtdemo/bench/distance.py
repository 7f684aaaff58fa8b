"""``python -m vtdemo bench distance``: mean attention distance per layer (mean over heads, px of each model's input)
on one of the example photos."""
from __future__ import annotations

HELP = "mean attention distance per layer on an example photo, per classifier"


def add_arguments(parser) -> None:
    from vtdemo.zoo.cards import demo_ids

    parser.add_argument("--models", nargs="+", default=demo_ids("classify"),
                        help="classifier ids (default: the demo classifiers)")
    parser.add_argument("--photo", default="chelsea", help="an example photo's name (default chelsea)")


def run(args) -> int:
    print("\n".join(bench_distance(args.models, args.photo)))
    return 0


def bench_distance(model_ids: list[str], photo: str = "chelsea") -> list[str]:
    import numpy as np

    from vtdemo.examples import photo as example_photo
    from vtdemo.explain.probes import attention_distance
    from vtdemo.zoo.cards import get_card

    image = example_photo(photo)
    lines = [f"Mean attention distance per layer (mean over heads; px of the model's input) on scikit-image's "
             f"'{photo}' photo:"]
    for model_id in model_ids:
        table = attention_distance(image, model_id)
        size = get_card(model_id).preprocess.size
        lines.append(f"  {model_id:14s} ({size} px input) " + " ".join(f"{v:5.1f}" for v in np.nanmean(table, 1)))
    return lines
