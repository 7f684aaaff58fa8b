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


def _cmd_export_onnx(args: argparse.Namespace) -> int:
    from vtdemo.sr import onnx_backend
    from vtdemo.sr.engine import resolve_net
    from vtdemo.zoo import builders, weights

    try:
        net = resolve_net(args.id, device="cpu")
    except (UnknownModelError, ValueError, weights.WeightsError, builders.BuildError) as exc:
        print(f"vtdemo export-onnx: {exc}", file=sys.stderr)
        return 2
    path = onnx_backend.onnx_path(net, args.tile)
    if path.is_file() and not args.force:
        print(f"{path} exists (use --force to export again)")
        return 0
    path.unlink(missing_ok=True)
    print(f"{onnx_backend.ensure_exported(net, args.tile)}")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    import torch

    from vtdemo import bench

    if args.threads:
        torch.set_num_threads(args.threads)
    rows = bench.bench_sr(args.models, args.size, args.repeats, args.device, onnx=not args.no_onnx)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(bench.format_rows(rows))
    return 0


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

    export = sub.add_parser("export-onnx", help="export an SR model as a fixed-tile ONNX graph (weights/cache/onnx)")
    export.add_argument("id", help="SR model id")
    export.add_argument("--tile", type=int, default=64, help="tile side in LR pixels (default 64)")
    export.add_argument("--force", action="store_true", help="export again even if the graph exists")
    export.set_defaults(func=_cmd_export_onnx)

    bench = sub.add_parser("bench", help="benchmarks (sr: our HAT vs the reference code)")
    bench.add_argument("what", choices=["sr"])
    bench.add_argument("--models", nargs="+", default=["hat-s-x4"], help="HAT model ids (random weights)")
    bench.add_argument("--size", type=int, default=64, help="input side in pixels (default 64)")
    bench.add_argument("--repeats", type=int, default=3)
    bench.add_argument("--device", help="cpu, cuda, ... (default: auto)")
    bench.add_argument("--threads", type=int, help="torch CPU threads")
    bench.add_argument("--no-onnx", action="store_true", help="skip the onnxruntime row")
    bench.set_defaults(func=_cmd_bench)
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
