"""``python -m vtdemo bench attention``: an attention click as the server computes it — the first (one forward pass
with capture) and later clicks on the same image (cache slice + overlay + PNG), per classifier."""
from __future__ import annotations

import sys
import time
from pathlib import Path

HELP = "classifier attention clicks: the first (forward with capture) and later ones (cache slice, overlay, PNG)"


def add_arguments(parser) -> None:
    parser.add_argument("--models", nargs="+", default=["vit-demo"], help="classifier ids (default vit-demo)")
    parser.add_argument("--size", type=int, default=320, help="image side in pixels (default 320)")
    parser.add_argument("--random-weights", action="store_true",
                        help="random weights of the real architectures even where weights are here (models "
                             "without weights here always get them)")


def run(args) -> int:
    from vtdemo.zoo import weights
    from vtdemo.zoo.cards import UnknownModelError

    try:
        print("\n".join(bench_attention(args.models, size=args.size, random_weights=args.random_weights)))
    except (UnknownModelError, weights.WeightsError) as exc:
        print(f"vtdemo bench attention: {exc}", file=sys.stderr)
        return 2
    return 0


def bench_attention(model_ids: list[str], size: int = 320, clicks: int = 20, random_weights: bool = False) -> list[str]:
    """Models without weights here run with random weights of the real architecture (timing does not depend on the
    values)."""
    import tempfile

    import numpy as np
    import torch
    from PIL import Image

    from vtdemo.bench._compute import model_or_random, png_ms
    from vtdemo.explain.probes import capture_module, image_key
    from vtdemo.viz.attention import classifier_overlay
    from vtdemo.zoo.cards import get_card

    path = Path(tempfile.mkdtemp()) / "click.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)
    lines = [f"Attention clicks on a {size}×{size} image ({torch.get_num_threads()} threads):"]
    for model_id in model_ids:
        card = get_card(model_id)
        model, random = model_or_random(model_id, random_weights)  # loading is not part of a click

        def click(x: float, y: float, layer: int, cap=None):
            start = time.perf_counter()
            image_key(str(path))  # a later click only looks the file's digest up
            cap = cap or capture_module(model, card.family, str(path), card.preprocess, model_id)
            image, _ = classifier_overlay(cap, (x, y), layer, "mean", None)
            return (time.perf_counter() - start) * 1000 + png_ms(image), cap

        first, cap = click(size / 2, size / 2, -1)
        times = sorted(click(40 + (i * 13) % (size - 80), size / 2, -1 - i % 3, cap)[0] for i in range(clicks))
        lines.append(f"  {model_id:22s} first click {first:7.1f} ms   later clicks: median "
                     f"{times[len(times) // 2]:5.1f} ms, max {times[-1]:5.1f} ms"
                     + ("   (random weights)" if random else ""))
    return lines
