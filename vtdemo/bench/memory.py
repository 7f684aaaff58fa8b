"""``python -m vtdemo bench memory``: resident memory each model adds to a fresh process (torch, timm, spandrel and
vtdemo imported first), and the process's peak after one request on a side×side image (SR: upscaled in fp32;
classifiers: classified)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HELP = "resident memory per loaded model in a fresh process, and its peak after one request"

_PROBE = r"""
import sys, torch
from vtdemo.bench._rss import rss_mb, status_mb
torch.set_num_threads(2)
model_id, side = sys.argv[1], int(sys.argv[2])
from PIL import Image
from vtdemo.zoo.cards import get_card
from vtdemo.zoo.loading import load_model
import timm, spandrel, vtdemo.classify, vtdemo.sr.engine  # the libraries' own memory is not the model's
card = get_card(model_id)
before = rss_mb()
model = load_model(model_id, device="cpu")
loaded = rss_mb()
image = Image.new("RGB", (side, side), (90, 120, 200))
if card.task == "sr":
    from vtdemo.sr.engine import upscale
    upscale(image, model, device="cpu", precision="fp32")
else:
    from vtdemo.classify import classify
    classify(image, model_id, 5)
print(f"{before:.0f} {loaded:.0f} {status_mb('VmHWM'):.0f}")
"""


def add_arguments(parser) -> None:
    from vtdemo.zoo.cards import demo_ids

    parser.add_argument("--models", nargs="+", default=demo_ids(), help="model ids (default: the demo models)")
    parser.add_argument("--size", type=int, default=256, help="the request's image side (default 256)")


def run(args) -> int:
    print("\n".join(bench_memory(args.models, args.size)))
    return 0


def bench_memory(model_ids: list[str], side: int = 256) -> list[str]:
    from vtdemo.zoo.cards import get_card

    lines = [f"Resident memory of a fresh process per model (CPU; one request on a {side}×{side} image):", "",
             "| model | params | process with the libraries | + the loaded model | peak after one request |",
             "|---|---|---|---|---|"]
    for model_id in model_ids:
        run = subprocess.run([sys.executable, "-c", _PROBE, model_id, str(side)], capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
        if run.returncode:
            lines.append(f"| {model_id} | — | failed: {run.stderr.strip().splitlines()[-1][:100]} | | |")
            continue
        before, loaded, peak = map(float, run.stdout.split()[-3:])
        params = get_card(model_id).params
        lines.append(f"| {model_id} | {params / 1e6:.2f} M | {before:.0f} MB | {loaded - before:+.0f} MB | "
                     f"{peak:.0f} MB |")
    return lines
