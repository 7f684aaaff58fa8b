"""The JSON record ``vtdemo.train`` writes beside each embedded demo model (how it was made, what it measured): the
one source of the numbers the demo models' cards and the docs' demo tables show."""
from __future__ import annotations

import functools
import json

from vtdemo.zoo.locations import embedded_dir


@functools.cache
def record(model_id: str) -> dict:
    """The record of ``model_id``'s embedded weights (``weights/<id>.json``); empty when the file is missing (a
    broken checkout, or VTDEMO_WEIGHTS_DIR without the demo models: their status then says "missing")."""
    path = embedded_dir() / f"{model_id}.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def sr_scores(model_id: str, inputs: str | None = None) -> str:
    """Set5 / Set14 PSNR-Y, and bicubic's, as the zoo's "reported" column shows a measured SR demo model;
    ``inputs``: the record's rows for those inputs (e.g. "degraded": the real-world models' held-out sets)."""
    results = record(model_id).get("results")
    if not results:
        return "no record of its scores here"
    keys = [f"{s} {inputs}" if inputs else s for s in ("Set5", "Set14")]
    ours = " / ".join(f"{results[k]['psnr_y']:.2f}" for k in keys)
    bicubic = " / ".join(f"{results[k]['bicubic_psnr_y']:.2f}" for k in keys)
    return f"{ours} (bicubic {bicubic}){' on ' + inputs + ' inputs' if inputs else ''}"
