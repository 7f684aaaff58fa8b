"""python -m vtdemo.train curves CARD.json ... — the validation top-1 per epoch of trained classifiers, side by side,
from the history their cards carry (docs/models.md's equal-budget comparison is printed by this)."""
from __future__ import annotations

import json
from pathlib import Path


def build_parser(sub) -> None:
    p = sub.add_parser("curves", help="val top-1 per epoch of classifier cards, side by side")
    p.add_argument("cards", nargs="+", type=Path, help="JSON cards written by `train classify --export`")
    p.add_argument("--every", type=int, default=4, help="show every N-th epoch (and the last)")
    p.set_defaults(run=run)


def table(cards: list[dict], every: int) -> list[str]:
    """Markdown rows: one per card, the top-1 at every ``every``-th epoch and the best, with wall time."""
    epochs = sorted({r["epoch"] for c in cards if isinstance(c.get("history"), list) for r in c["history"]
                     if "top1" in r})
    shown = [e for e in epochs if e % every == 0 or e == epochs[-1]] if epochs else []
    def row(cells):
        return "| " + " | ".join(cells) + " |"

    lines = [row(["model", *(f"epoch {e}" for e in shown), "best", "wall time"]), "|---" * (len(shown) + 3) + "|"]
    for card in cards:
        history = card.get("history") if isinstance(card.get("history"), list) else []
        top1 = {r["epoch"]: r["top1"] for r in history if "top1" in r}
        lines.append(row([card["id"], *(f"{top1[e]:.1%}" if e in top1 else "—" for e in shown),
                          f"{card['val_top1']:.1%}", f"{card['wall_time_s'] / 60:.0f} min"]))
    return lines


def training_runs(card: dict) -> list[dict]:
    """The training runs behind a card, first first: a card continued or re-exported with ``--init-from`` names
    the run it started from. Re-exports (no epoch trained) are left out; each run is labelled with the card's id."""
    chain = [card]
    while isinstance(chain[-1].get("init_from"), dict):
        chain.append(chain[-1]["init_from"])
    trained = [c for c in reversed(chain) if c.get("epochs")]
    return [dict(c, id=card["id"] if len(trained) == 1 else f"{card['id']} (stage {k} of {len(trained)})")
            for k, c in enumerate(trained, 1)]


def run(args) -> None:
    cards = [run for path in args.cards for run in training_runs(json.loads(path.read_text()))]
    missing = [c["id"] for c in cards if not isinstance(c.get("history"), list)]
    print("\n".join(table(cards, args.every)))
    if missing:
        print(f"(no per-epoch history for {', '.join(missing)}: exported before cards carried it)")
