"""The docs' tables that restate what the code already knows, generated from their one source: the limits
(``vtdemo.limits.LIMITS``) and the embedded demo models (their ``weights/*.json`` records). In a docs file a
generated table sits between ``<!-- generated: NAME -->`` and ``<!-- end generated -->``; ``python -m vtdemo docs``
rewrites them, ``--check`` only says which differ (a test runs it)."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable


def limits_table() -> str:
    from vtdemo.limits import table

    return table()


def demo_sr_table() -> str:
    from vtdemo.zoo.cards import demo_ids, get_card
    from vtdemo.zoo.demo_records import record

    rows = ["| model | family | scale | params | file | training | Set5 PSNR-Y / SSIM-Y | Set14 PSNR-Y / SSIM-Y | "
            "bicubic Set5 / Set14 PSNR-Y |", "|---|---|---|---|---|---|---|---|---|"]
    for model_id in demo_ids("sr"):
        info, card = record(model_id), get_card(model_id)
        if not info:
            rows.append(f"| {model_id} | {card.family} | ×{card.scale} | — | missing | no record of its training "
                        "here | — | — | — |")
            continue
        init = str(info.get("init_from") or "")
        source = next((other for other in demo_ids("sr") if other != model_id and other in init), None)
        start = "from scratch" if not init else f"from {source or 'another model'}'s weights"
        training = (f"{info['iterations']:,} iterations {start}, batch {info['batch']}, lr {info['lr']:g}, "
                    f"{info['wall_time_s'] / 60:.0f} min on {info['device']} ({info['date']})")
        scores = info["results"]
        cells = [f"{scores[s]['psnr_y']:.2f} / {scores[s]['ssim_y']:.4f}" for s in ("Set5", "Set14")]
        bicubic = " / ".join(f"{scores[s]['bicubic_psnr_y']:.2f}" for s in ("Set5", "Set14"))
        rows.append(f"| {model_id} | {info['architecture']} | ×{card.scale} | {info['parameters']:,} | {info['file_bytes'] / 1e6:.1f} MB | "
                    f"{training} | {cells[0]} | {cells[1]} | {bicubic} |")
    return "\n".join(rows)


def demo_real_world_table() -> str:
    """The real-world demo models against the bicubic-trained one they started from, on every input their record
    scores (the training degradation held out, known JPEG/noise levels, clean bicubic)."""
    from vtdemo.zoo.cards import REAL_WORLD, demo_ids
    from vtdemo.zoo.demo_records import record

    rows = ["| model | inputs | Set5: it / bicubic-trained / bicubic | Set14: it / bicubic-trained / bicubic | PIQE ↓ "
            "Set5: it / bicubic-trained / bicubic (HR) | PIQE ↓ Set14 |", "|---|---|---|---|---|---|"]
    for model_id in (m for m in demo_ids("sr") if m in REAL_WORLD):
        info = record(model_id)
        if not info:
            continue
        ref = str(info.get("init_from") or "").rsplit("/", 1)[-1].removesuffix(".safetensors")
        for inputs in ("degraded", "JPEG q50", "noise σ10 + JPEG q75", None):
            cells, piqe = [], []
            for bench in ("Set5", "Set14"):
                r = info["results"][f"{bench} {inputs}" if inputs else bench]
                cells.append(" / ".join(f"{r[k + 'psnr_y']:.2f} dB {r[k + 'ssim_y']:.3f}"
                                        for k in ("", f"{ref}_", "bicubic_")))
                piqe.append(" / ".join(f"{r[k + 'piqe']:.1f}" for k in ("", f"{ref}_", "bicubic_"))
                            + f" ({r['hr_piqe']:.1f})" if "piqe" in r else "—")
            label = {"degraded": "training degradation (held out)", None: "clean bicubic"}.get(inputs, inputs)
            rows.append(f"| {model_id} (vs {ref}) | {label} | {cells[0]} | {cells[1]} | {piqe[0]} | {piqe[1]} |")
    return "\n".join(rows)


def demo_classifier_table() -> str:
    from vtdemo.zoo.cards import demo_ids, get_card
    from vtdemo.zoo.demo_records import record

    rows = ["| model | family | input | params | file | Imagenette val top-1 | exported |", "|---|---|---|---|---|---|---|"]
    for model_id in demo_ids("classify"):
        info, card = record(model_id), get_card(model_id)
        rows.append(f"| {model_id} | {card.family} | {info['input_size']} px | {info['parameters']:,} | "
                    f"{info['file_bytes'] / 1e6:.1f} MB | **{100 * info['val_top1']:.1f} %** "
                    f"({info['validation_images']:,} images) | {info['date']} |")
    return "\n".join(rows)


TABLES: dict[str, tuple[str, Callable[[], str]]] = {  # name: (docs file, generator)
    "limits": ("docs/security.md", limits_table),
    "demo-sr": ("docs/models.md", demo_sr_table),
    "demo-sr-real": ("docs/models.md", demo_real_world_table),
    "demo-classifiers": ("docs/models.md", demo_classifier_table),
}


def _block(name: str) -> re.Pattern:
    return re.compile(rf"(<!-- generated: {re.escape(name)} -->\n)(?:.*?\n)??(<!-- end generated -->)", re.S)


def render(root: Path, write: bool) -> dict[str, str]:
    """{name: what is wrong} for the tables whose docs text differs from what their source generates now (rewritten
    when ``write``, and said so); a missing file or marker is reported, never guessed at."""
    stale = {}
    for name, (file, generate) in TABLES.items():
        path = Path(root) / file
        text = path.read_text() if path.is_file() else ""
        if not _block(name).search(text):
            stale[name] = f"{file} has no <!-- generated: {name} --> block"
            continue
        new = _block(name).sub(lambda m: m.group(1) + generate() + "\n" + m.group(2), text)
        if new != text:
            stale[name] = f"{file}: the {name} table " + ("was rewritten" if write else "differs from its source")
            if write:
                path.write_text(new)
    return stale
