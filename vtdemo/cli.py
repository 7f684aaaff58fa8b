"""``python -m vtdemo ...``: the app's tasks from a terminal."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from vtdemo.zoo.cards import UnknownModelError


def _cmd_serve(args: argparse.Namespace) -> int:
    from vtdemo.ui import build_app, launch

    launch(build_app(), host=args.host, port=args.port)
    return 0


def _cmd_models(args: argparse.Namespace) -> int:
    from vtdemo.zoo import table

    rows = table.model_rows(args.task, probe=args.online)
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    columns = ["id", "task", "family", "params", "status", "builder", "source"]
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.upper().ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in columns))
    unprobed = "" if args.online else f" \"{table.NOT_PROBED}\": --online checks whether it can be downloaded now."
    print(f"\n{len(rows)} models. `python -m vtdemo fetch <id>` downloads one.{unprobed}")
    return 0


def _cmd_fetch(args: argparse.Namespace) -> int:
    from vtdemo.zoo import weights
    from vtdemo.zoo.cards import cards, get_card

    if args.check:
        try:
            chosen = [get_card(i) for i in args.ids] if args.ids else cards()
        except UnknownModelError as exc:
            print(f"vtdemo fetch: {exc}", file=sys.stderr)
            return 2
        return _check_sources(chosen)
    if not args.ids:
        print("vtdemo fetch: name at least one model id (or --check)", file=sys.stderr)
        return 2
    status = 0
    for model_id in args.ids:
        try:
            card = get_card(model_id)
            path = weights.resolve(card)
        except (UnknownModelError, weights.WeightsError) as exc:
            print(f"vtdemo fetch: {exc}", file=sys.stderr)
            status = 2
            continue
        note = "" if weights.verification(card) != "unverified" else \
            " (unverified: no published sha256; the first download's is recorded and later changes refused)"
        print(f"{model_id}: {path}{note}")
    return status


def _check_sources(chosen) -> int:
    """``fetch --check``: every source's size and sha256 against its card, as a table; exit 1 on a mismatch or an
    error (a check that could not run is not a pass)."""
    from vtdemo.zoo import weights

    rows = weights.check_sources(chosen)
    columns = ["id", "verdict", "size", "actual_size", "sha256", "actual_sha256", "url"]

    def cell(value) -> str:
        return "-" if value is None else f"{value:,}" if isinstance(value, int) else str(value)

    table = [[cell(r[c]) for c in columns] for r in rows]
    widths = [max(len(c), *(len(t[i]) for t in table)) if table else len(c) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths)))
    for t in table:
        print("  ".join(v.ljust(w) for v, w in zip(t, widths)))
    bad = [r for r in rows if r["verdict"] == "MISMATCH" or r["verdict"].startswith("error")]
    print(f"\n{len(rows)} sources checked: {sum(r['verdict'] == 'MISMATCH' for r in rows)} mismatch(es), "
          f"{sum(r['verdict'].startswith('error') for r in rows)} error(s), "
          f"{sum(r['verdict'] == 'no published hash' for r in rows)} without a published hash.")
    return 1 if bad else 0


def _cmd_space(args: argparse.Namespace) -> int:
    import tempfile

    from vtdemo import space

    try:
        if args.action == "bundle":
            files = space.bundle(Path(args.target), allow_changes=args.allow_changes)
            print(f"{len(files)} files in {args.target}: upload them with `python -m vtdemo space publish USER/NAME "
                  f"--bundle {args.target}`")
            return 0
        with tempfile.TemporaryDirectory(prefix="vtdemo-space-") as tmp:
            folder = Path(args.bundle) if args.bundle else Path(tmp) / "bundle"
            if not args.bundle:
                space.bundle(folder, allow_changes=args.allow_changes)
            url = space.publish(args.target, folder, token=args.token or None, private=args.private)
        print(f"published: {url}")
        return 0
    except (ValueError, OSError, subprocess.CalledProcessError) as exc:
        print(f"vtdemo space: {exc}", file=sys.stderr)
        return 2


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
    import torch

    from vtdemo.sr import backends

    choice = backends.measure(net, torch.device("cpu"), args.tile)
    times = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in choice["seconds_per_tile"].items())
    print(f"per {args.tile}² tile: {times} -> backend='auto' uses {choice['backend']} in {choice['precision']} "
          f"for {args.id}")
    return 0


def _plan(args: argparse.Namespace):
    """The engine the command runs on (--engine, --workers, --ray-address)."""
    from vtdemo.batch.engines import Plan

    return Plan(args.engine, args.workers, args.ray_address, args.device)


class _BackendNames(Sequence):
    """"auto" and every registered SR backend (importing serve_backend registers ray-serve), read when argparse
    first checks or lists them: the registry imports torch, which a command like ``models`` must not wait for."""

    def _names(self) -> list[str]:
        from vtdemo.sr import backends, serve_backend  # noqa: F401

        return ["auto", *backends.BACKENDS]

    def __getitem__(self, index):
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())

    def __contains__(self, name) -> bool:
        return name in self._names()


def _add_engine_options(parser: argparse.ArgumentParser) -> None:
    from vtdemo.batch.engines import ENGINES

    parser.add_argument("--engine", choices=ENGINES, default=ENGINES[0],
                        help="local: this process (default); ray: Ray Data actors that load the model once each, on "
                             "a local Ray or a cluster (pip install \"vtdemo[ray]\")")
    parser.add_argument("--workers", type=int, help="ray: actors (default: one per node, or per GPU with "
                        "--device cuda); each gets its share of the node's CPU cores")
    parser.add_argument("--ray-address", help="ray: an existing cluster (e.g. auto or ray://head:10001; default: "
                        "$RAY_ADDRESS, else start Ray on this machine)")


def shown(path) -> str:
    """A file name fit for a terminal: control characters (escape sequences, newlines) written as \\xNN."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in str(path))


# images/s even below one per second (tqdm's default turns the rate into s/image there), and the time left
BAR = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_noinv_fmt}{postfix}]"


def _cmd_upscale(args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    from vtdemo.batch.engines import EngineError
    from vtdemo.batch.manifest import ManifestBusy
    from vtdemo.batch.upscale import UpscaleJob, upscale_folder
    from vtdemo.runtime import check_precision, default_device, precision
    from vtdemo.sr.engine import BICUBIC
    from vtdemo.zoo import builders, weights

    bar = None

    def report(event: str, what, detail: str) -> None:
        nonlocal bar
        if event == "todo":
            title = detail + (f" · {used} on {device}" if used else "") + \
                (f" · ray ×{args.workers}" if args.engine == "ray" and args.workers else
                 " · ray" if args.engine == "ray" else "")
            bar = tqdm(total=what, unit="image", desc=title, bar_format=BAR) if what else None
            if bar is not None and args.engine == "ray":
                bar.set_postfix_str("starting Ray workers (each loads the model)")
        elif event in ("keep", "ignore"):  # finished ones ("skip") are only counted
            print(f"skip {shown(what)}: {shown(detail)}")
        elif event == "fail":
            (bar.write if bar else print)(f"fail {shown(what)}: {shown(detail)}")
            if bar is not None:
                bar.update(1)
        elif event == "done":
            bar.update(1)
            bar.write(f"{shown(what)} ({detail})")

    try:
        device = torch.device(args.device) if args.device else default_device()
        used = "" if args.model == BICUBIC else args.precision or precision(device)
        if used:
            check_precision(used, device)
        from vtdemo.outputs import OutputSpec

        spec = OutputSpec(args.format, args.quality, args.lossless, args.size)
        job = UpscaleJob(args.model, args.scale if args.model == BICUBIC else None, args.device, used, args.tile,
                         args.backend, spec)
        summary = upscale_folder(args.inputs, job, args.output, force=args.force, follow_links=args.follow_links,
                                 plan=_plan(args), report=report,
                                 tile_progress=lambda f, what: bar and bar.set_postfix_str(what))
    except (UnknownModelError, ValueError, OSError, weights.WeightsError, builders.BuildError, EngineError,
            ManifestBusy) as exc:  # OSError: a folder that cannot be written, a full disk (what finished is kept)
        print(f"vtdemo upscale: {shown(exc)}", file=sys.stderr)
        return 2
    finally:
        if bar is not None:
            bar.close()
    if not (summary.done or summary.skipped or summary.failed):
        print("vtdemo upscale: no images found", file=sys.stderr)
        return 2
    rate = f" in {summary.seconds:.1f} s ({summary.images_per_second:.2f} images/s)" if summary.done else ""
    print(f"{len(summary.done)} upscaled{rate}, {len(summary.skipped)} already done, {len(summary.failed)} failed")
    for src, reason in summary.failed:
        print(f"  failed: {shown(src)}: {shown(reason)}")
    return 0 if summary.ok else 1


def _cmd_inspect(args: argparse.Namespace) -> int:
    import json
    from dataclasses import asdict

    from vtdemo.imaging import ImageError
    from vtdemo.sr.inspection import inspect_image

    status = 0
    for path in args.images:
        try:
            found = inspect_image(path)
        except (ImageError, OSError) as exc:
            print(f"vtdemo inspect: {shown(path)}: {shown(exc)}", file=sys.stderr)
            status = 2
            continue
        if args.json:
            row = {k: (None if isinstance(v, float) and v == float("inf") else v) for k, v in asdict(found).items()}
            print(json.dumps({"file": path, **row, "real_world": found.real_world}))
        else:
            print(f"{shown(path)}: {found.summary()}")
    return status


def _cmd_explain(args: argparse.Namespace) -> int:
    import io

    from vtdemo.atomic import write_atomically
    from vtdemo.explain.explanation import explain_class
    from vtdemo.imaging import ImageError, decode_image
    from vtdemo.viz.attention import class_overlay
    from vtdemo.zoo import builders, weights

    try:
        found = explain_class(args.image, args.model, target=args.target, method=args.method,
                              scores=not args.no_scores, sanity=args.sanity, device=args.device)
        picture = class_overlay(found, image=decode_image(args.image).rgb)
    except (UnknownModelError, ImageError, OSError, ValueError, weights.WeightsError, builders.BuildError) as exc:
        print(f"vtdemo explain: {shown(exc)}", file=sys.stderr)
        return 2
    source = Path(args.image)
    out = Path(args.output) if args.output else source.with_name(f"{source.stem}_{found.model}_{found.method}.png")
    buffer = io.BytesIO()
    picture.save(buffer, "PNG")
    write_atomically(out, buffer.getvalue())
    summary = found.summary()
    if args.json:
        print(json.dumps({"file": args.image, "map": str(out), **summary}))
        return 0
    print(f"{found.model}: {found.label} ({found.probability:.1%}), {found.method} in {found.seconds:.2f} s -> "
          f"{shown(out)}")
    if found.scores is not None:
        print(f"  {'map':<16} {'deletion AUC':>12} {'insertion AUC':>13}")
        for name in ("map", "random", "rollout"):
            if f"{name}_deletion_auc" in summary:
                print(f"  {name:<16} {summary[f'{name}_deletion_auc']:>12.3f} "
                      f"{summary[f'{name}_insertion_auc']:>13.3f}")
        if "randomization_rho" in summary:
            from vtdemo.explain.faithfulness import RANDOMIZED_BELOW

            rho = summary["randomization_rho"]
            verdict = "passes: the map follows the weights" if rho < RANDOMIZED_BELOW else \
                "fails: the map barely changes when the top blocks are re-initialised"
            print(f"  randomization check: Spearman ρ {rho:.2f} ({verdict})")
    return 0


def _cmd_docs(args: argparse.Namespace) -> int:
    from vtdemo.doc_tables import render
    from vtdemo.zoo.locations import REPO_ROOT

    stale = render(REPO_ROOT, write=not args.check)
    print("\n".join(stale.values()) or "every generated table matches its source")
    missing = any("has no" in why for why in stale.values())
    return 1 if missing or (stale and args.check) else 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from vtdemo.batch.engines import EngineError
    from vtdemo.classify.evaluate import folder_top1
    from vtdemo.zoo import weights
    from vtdemo.zoo.cards import cards

    ids = args.models or [c.id for c in cards("classify") if c.source.kind == "embedded"]
    print(f"{'model':<22} {'top-1':>7} {'images':>7} {'seconds':>8}")
    failed = 0
    for model_id in ids:
        bar = tqdm(desc=model_id, unit="img", leave=False, dynamic_ncols=True)

        def progress(done, total, bar=bar):
            bar.total = total
            bar.update(done - bar.n)

        try:
            score = folder_top1(model_id, args.folder, limit=args.limit, device=args.device, progress=progress,
                                plan=_plan(args))
        except (UnknownModelError, weights.WeightsError, FileNotFoundError, ValueError, EngineError) as exc:
            bar.close()
            print(f"{model_id:<22} failed: {exc}", file=sys.stderr)
            failed += 1
            continue
        bar.close()
        print(f"{model_id:<22} {score.top1:>7.2%} {score.images:>7} {score.seconds:>8.1f}")
        for path, reason in score.failed:  # left out of the score, and the exit status says so
            print(f"  not scored: {path}: {reason}", file=sys.stderr)
        failed += bool(score.failed)
    return 1 if failed else 0


def _cmd_benchmark(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from vtdemo.batch.engines import EngineError
    from vtdemo.sr.benchmark import benchmark, to_csv, to_markdown
    from vtdemo.zoo import builders, weights

    models = args.models or ["bicubic", f"hat-demo-x{args.scale}"]
    bar = tqdm(total=100, unit="%", dynamic_ncols=True, leave=False)

    def progress(fraction: float, what: str) -> None:
        bar.set_description(what[:60])
        bar.update(int(fraction * 100) - bar.n)

    try:
        rows = benchmark(args.folder, models, args.scale, device=args.device, progress=progress, plan=_plan(args))
    except (UnknownModelError, ValueError, FileNotFoundError, weights.WeightsError, builders.BuildError,
            EngineError) as exc:
        bar.close()
        print(f"vtdemo benchmark sr: {exc}", file=sys.stderr)
        return 2
    bar.close()
    print(to_markdown(rows, args.folder, args.scale))
    if args.csv:
        Path(args.csv).write_text(to_csv(rows))
        print(f"wrote {args.csv}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from vtdemo.runtime import PRECISIONS
    from vtdemo.sr.benchmark import BENCHMARKS

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
    models.add_argument("--online", action="store_true",
                        help="ask each download host whether it can be reached now (default: no network)")
    models.set_defaults(func=_cmd_models)

    fetch = sub.add_parser("fetch", help="download (or locate) the weights of one or more models")
    fetch.add_argument("ids", nargs="*", metavar="ID", help="model id, e.g. hat-x4 (see `models`)")
    fetch.add_argument("--check", action="store_true",
                       help="for maintainers, online: download each source of the named models (all when none "
                            "is named) and compare its size and sha256 with the card; nothing is kept")
    fetch.set_defaults(func=_cmd_fetch)

    sp = sub.add_parser("space", help="a Hugging Face Space from this checkout: bundle its files, publish them",
                        description="bundle OUT: write exactly the files a Space needs into the new folder OUT. "
                                    "publish USER/NAME: create or update that Gradio Space with a bundle through "
                                    "the Hub's upload API (binaries go to LFS/Xet); logs in with --token, "
                                    "HF_TOKEN or `hf auth login`.")
    sp.add_argument("action", choices=["bundle", "publish"])
    sp.add_argument("target", help="bundle: the folder to write; publish: the Space's id, USER/NAME")
    sp.add_argument("--bundle", help="publish this bundle folder (default: bundle the checkout now)")
    sp.add_argument("--private", action="store_true", help="create the Space private")
    sp.add_argument("--allow-changes", action="store_true",
                    help="bundle files with uncommitted changes too (default: refused)")
    sp.add_argument("--token", help="a Hugging Face token with write access (default: HF_TOKEN or the login)")
    sp.set_defaults(func=_cmd_space)

    export = sub.add_parser("export-onnx", help="export an SR model as a fixed-tile ONNX graph (weights/cache/onnx)")
    export.add_argument("id", help="SR model id")
    export.add_argument("--tile", type=int, default=64, help="tile side in LR pixels (default 64)")
    export.add_argument("--force", action="store_true", help="export again even if the graph exists")
    export.set_defaults(func=_cmd_export_onnx)

    up = sub.add_parser("upscale", help="upscale image files or folders with an SR model",
                        description="Upscale images (files or folders) with a model id, 'bicubic' or a checkpoint "
                                    "file; results are lossless PNG. Each output folder keeps a manifest "
                                    "(vtdemo-manifest.jsonl): running the same command again skips finished "
                                    "images and redoes interrupted or failed ones. A file the tool did not "
                                    "write is never overwritten without --force. Exit status 0 when every "
                                    "image is done, 1 when some failed, 2 when nothing could start.")
    up.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders of images")
    up.add_argument("-m", "--model", default="hat-demo-x4", help="model id, 'bicubic', or a .pth/.safetensors file "
                    "(default hat-demo-x4)")
    up.add_argument("-o", "--output", metavar="OUT_OR_DIR", help="output file (one input) or folder "
                    "(default: next to each input as <name>_<model>_x<scale>.png)")
    up.add_argument("--scale", type=int, default=4, help="scale for 'bicubic' (models have their own)")
    up.add_argument("--tile", type=int, help="tile side in LR pixels (default: automatic)")
    up.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: CUDA when present)")
    up.add_argument("--backend", default="auto", choices=_BackendNames(), metavar="BACKEND",
                    help="auto (default: the fastest recorded by export-onnx; ray-serve when it is ready), or one "
                         "of: %(choices)s")
    up.add_argument("--precision", choices=PRECISIONS,
                    help="default: bf16 where the hardware computes it natively, else fp32 (VTDEMO_PRECISION); "
                         "fp16: GPU only; int8: Linear layers dynamically quantized, CPU only")
    up.add_argument("--format", choices=("png", "jpeg", "webp"), default="png", help="output format (default png)")
    up.add_argument("--quality", type=int, default=92, help="JPEG / WebP quality 1-100 (default 92)")
    up.add_argument("--lossless", action="store_true", help="WebP: lossless")
    up.add_argument("--size", help="output size: WIDTHxHEIGHT (fitted inside), WIDTHx, xHEIGHT or a factor such as "
                    "3; the model's native scale, then a Lanczos resize (default: the native scale)")
    up.add_argument("--force", action="store_true", help="overwrite outputs this tool did not write")
    up.add_argument("--follow-links", action="store_true", help="read links in an input folder that point outside "
                    "it (left out by default)")
    _add_engine_options(up)
    up.set_defaults(func=_cmd_upscale)

    ins = sub.add_parser("inspect", help="say how an image was made (JPEG quality, noise, blur, enlargement, "
                         "profile) and which kind of SR model fits it")
    ins.add_argument("images", nargs="+", metavar="IMAGE")
    ins.add_argument("--json", action="store_true", help="one JSON object per image")
    ins.set_defaults(func=_cmd_inspect)

    why = sub.add_parser("explain", help="why a classifier gives a class: a class map over the image and how "
                         "faithful it is",
                         description="Writes the map over the image as a PNG (default: <image>_<model>_<method>.png "
                                     "beside it) and prints the class, its probability and the deletion / "
                                     "insertion AUCs of the map, a random map and attention rollout (RISE).")
    why.add_argument("image")
    why.add_argument("-m", "--model", default="vit-demo", help="classifier id (default vit-demo)")
    why.add_argument("--class", dest="target", help="a class name as the top-k shows it, or its index (default: "
                     "the top-1)")
    why.add_argument("--method", default="auto", help="auto (the family's best), chefer, chefer-cls, "
                     "chefer-distill (ViT, DeiT, PerViT), gradcam, layercam or ig")
    why.add_argument("-o", "--output", help="the PNG to write")
    why.add_argument("--sanity", action="store_true", help="also the randomization check (Adebayo et al. 2018)")
    why.add_argument("--no-scores", action="store_true", help="only the map (no deletion / insertion)")
    why.add_argument("--json", action="store_true", help="one JSON object")
    why.add_argument("--device", help="cpu, cuda, ... (default: auto)")
    why.set_defaults(func=_cmd_explain)

    ev = sub.add_parser("evaluate", help="top-1 of classifiers on a folder of <synset>/<image> files",
                        description="Top-1 accuracy through the app's preprocessing on a folder in ImageNet layout "
                                    "(one sub-folder per class, named by its synset, e.g. n01440764/). Images of "
                                    "classes a model does not have are left out of its score.")
    ev.add_argument("folder", type=Path, help="e.g. an Imagenette val/ folder")
    ev.add_argument("-m", "--models", nargs="+", help="classifier ids (default: the embedded demo models)")
    ev.add_argument("--limit", type=int, help="score an evenly spaced subset of this many images")
    ev.add_argument("--device", help="cpu, cuda, ... (default: auto)")
    _add_engine_options(ev)
    ev.set_defaults(func=_cmd_evaluate)

    mark = sub.add_parser("benchmark", help="the SR papers' table on a folder of images (PSNR-Y/SSIM-Y, time)",
                          description="Every model's mean PSNR-Y / SSIM-Y and time per image on a folder: the "
                                      "benchmark layout (HR/ + LR_bicubic/X<s>/) or high-resolution images, "
                                      "bicubic-degraded first. Known benchmarks ("
                                      f"{', '.join(BENCHMARKS)}, by folder name) show the paper's number where it "
                                      "is known.")
    mark.add_argument("task", choices=["sr"])
    mark.add_argument("folder", type=Path)
    mark.add_argument("-m", "--models", nargs="+", help="SR model ids and/or bicubic (default: bicubic, hat-demo)")
    mark.add_argument("--scale", type=int, default=4)
    mark.add_argument("--csv", help="also write the table as CSV here")
    mark.add_argument("--device", help="cpu, cuda, ... (default: auto)")
    _add_engine_options(mark)
    mark.set_defaults(func=_cmd_benchmark)

    docs = sub.add_parser("docs", help="rewrite the docs' generated tables (limits, demo models) from their sources",
                          description="For maintainers, in a checkout: the tables between <!-- generated: NAME --> "
                                      "markers in docs/ are rewritten from the code's data.")
    docs.add_argument("--check", action="store_true", help="only say which tables differ (exit 1 if any)")
    docs.set_defaults(func=_cmd_docs)

    from vtdemo import bench

    bench.add_commands(sub.add_parser("bench", help="benchmarks, one per NAME (bench NAME --help)",
                                      description="Benchmarks of the task functions; each NAME has its own options."))
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
