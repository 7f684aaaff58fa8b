"""``python -m vtdemo ...``: the app's tasks from a terminal."""
from __future__ import annotations

import argparse
import json
import sys

from vtdemo.zoo.cards import UnknownModelError


def _cmd_serve(args: argparse.Namespace) -> int:
    from vtdemo.ui import build_app, launch

    launch(build_app(), host=args.host, port=args.port)
    return 0


def _model_rows(task: str | None) -> list[dict]:
    from vtdemo.zoo import table

    return table.model_rows(task)


def _cmd_models(args: argparse.Namespace) -> int:
    rows = _model_rows(args.task)
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    columns = ["id", "task", "family", "params", "status", "builder", "source"]
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in columns))
    print(f"\n{len(rows)} models. `python -m vtdemo fetch <id>` downloads one.")
    return 0


def _cmd_fetch(args: argparse.Namespace) -> int:
    from vtdemo.zoo import weights
    from vtdemo.zoo.cards import get_card

    status = 0
    for model_id in args.ids:
        try:
            card = get_card(model_id)
            path = weights.resolve(card)
        except (UnknownModelError, weights.WeightsError) as exc:
            print(f"vtdemo fetch: {exc}", file=sys.stderr)
            status = 2
            continue
        print(f"{model_id}: {path}")
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m vtdemo",
        description="vtdemo: super-resolution and vision-transformer lab (HAT, SwinIR, ViT, DeiT, PVT, Swin, PerViT).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="start the web app (default 127.0.0.1:7860)")
    serve.add_argument("--host", help="interface to bind (default: $GRADIO_SERVER_NAME or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: $GRADIO_SERVER_PORT or 7860)")
    serve.set_defaults(func=_cmd_serve)

    models = sub.add_parser("models", help="list every model with its weights' status")
    models.add_argument("--json", action="store_true", help="machine-readable output")
    models.add_argument("--task", choices=["sr", "classify"], help="only one task's models")
    models.set_defaults(func=_cmd_models)

    fetch = sub.add_parser("fetch", help="download (or locate) the weights of one or more models")
    fetch.add_argument("ids", nargs="+", metavar="ID", help="model id, e.g. hat-x4 (see `models`)")
    fetch.set_defaults(func=_cmd_fetch)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
