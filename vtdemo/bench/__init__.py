"""``python -m vtdemo bench NAME``: the benchmarks, one module each in this package — tools that time and measure
the task functions, apart from the product (nothing outside this package and the CLI imports it).

A benchmark is a module here whose name does not start with ``_``, holding ``HELP`` (its line in ``bench --help``),
``add_arguments(parser)`` (its own options) and ``run(args) -> int`` (prints its report, returns the exit status).
They are found when the parser is built: adding a benchmark is adding its file. What several share lives in the
``_``-prefixed modules (``_rss``: resident memory; ``_files``: hostile files; ``_compute``: peaks, FLOPs, timing).
Module top levels import nothing heavy: every CLI start reads them.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from types import ModuleType


def benchmarks() -> dict[str, ModuleType]:
    """Every benchmark module of this package, by name (= the sub-command), sorted. One that cannot be imported
    becomes a command that says why: a broken benchmark never breaks ``serve`` or ``upscale``."""
    found = {}
    for name in sorted(info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")):
        try:
            module = importlib.import_module(f"{__name__}.{name}")
            missing = [attr for attr in ("HELP", "add_arguments", "run") if not hasattr(module, attr)]
            found[name] = _broken(name, AttributeError(f"it has no {', '.join(missing)}")) if missing else module
        except Exception as exc:  # noqa: BLE001 - reported by the command itself
            found[name] = _broken(name, exc)
    return found


def _broken(name: str, exc: Exception) -> ModuleType:
    module = ModuleType(name)
    module.HELP = f"(cannot be imported: {type(exc).__name__}: {str(exc)[:80]})"
    module.add_arguments = lambda parser: None

    def run(args) -> int:
        print(f"vtdemo bench {name}: {module.HELP}", file=sys.stderr)
        return 2

    module.run = run
    return module


def add_commands(parser: argparse.ArgumentParser) -> None:
    """One sub-command of ``parser`` per benchmark, with the benchmark's own arguments and ``--threads``."""
    sub = parser.add_subparsers(dest="benchmark", metavar="NAME")
    for name, module in benchmarks().items():
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
        command.set_defaults(bench=module)
    parser.set_defaults(func=lambda args: _run(parser, args))


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if not getattr(args, "bench", None):
        parser.print_help()
        return 0
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    return args.bench.run(args)
