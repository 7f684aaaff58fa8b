"""``python -m vtdemo bench hostile``: what each hostile input costs the server — peak memory added and time, each in
a fresh process (so one case's peak does not hide another's). The files come from ``_files`` (a 1×60000 PNG, a float
TIFF, a data URL of a 20000² PNG, self-referencing / stride-0 / zip-bomb checkpoints); docs/security.md's "before /
now" table was measured with it."""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vtdemo.bench import _files

CASES = ("line", "tiff", "dataurl", "loop", "stride0", "zipbomb", "bicubic4096", "lam64x100", "lam128x100")
_FILES = {"line": "line", "tiff": "float-tiff", "dataurl": "data-url", "loop": "loop", "stride0": "stride0",
          "zipbomb": "zip-bomb", "bicubic4096": "gradient-4096"}  # case: the file of _files it sends
HELP = "peak memory and time of each hostile input, each in a fresh process"


def add_arguments(parser) -> None:
    parser.add_argument("cases", nargs="*", metavar="CASE", help=f"cases to run (default all: {' '.join(CASES)})")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per case (default 600)")


def run(args) -> int:
    unknown = [c for c in args.cases if c not in CASES]
    if unknown:
        print(f"vtdemo bench hostile: unknown case {unknown[0][:40]!r}; the cases: {' '.join(CASES)}", file=sys.stderr)
        return 2
    print("\n".join(bench_hostile(args.cases, args.timeout)))
    return 0


def _case(case: str, folder: Path):
    """Run one case; returns a short description of its outcome."""
    import numpy as np
    from PIL import Image

    file = str(folder / _files.FILES[_FILES[case]][0]) if case in _FILES else None
    if case == "line":
        from vtdemo.classify import classify

        return classify(file, "pvt-demo", 1)[0]
    if case == "tiff":
        from vtdemo.imaging import decode_image

        return decode_image(file).size
    if case == "dataurl":
        from vtdemo.imaging import decode_image, save_data_url

        # what the upload component does with a pasted data URL: the size check, then our decoder
        path = save_data_url(Path(file).read_text(), folder / "pasted")
        return decode_image(path).size
    if case in ("loop", "stride0", "zipbomb"):
        from vtdemo.sr.checkpoints import load_checkpoint

        module = load_checkpoint(file).model
        return f"built {sum(p.numel() for p in module.parameters()):,} parameters"
    if case == "bicubic4096":
        from vtdemo.sr.engine import upscale

        return upscale(file, "bicubic", scale=2).size
    if case.startswith("lam"):
        from vtdemo.sr.lam import lam_for_image

        side, steps = (int(v) for v in case[3:].split("x"))
        img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8))
        return f"DI {lam_for_image(img, 'hat-demo-x4', (side // 2, side // 2), scale=4, steps=steps).di:.2f}"
    raise ValueError(f"unknown case {case!r}")


def measure(case: str, folder: Path) -> str:
    """In this process: peak RSS added by ``case`` and its wall time."""
    import vtdemo.classify  # noqa: F401 - imports are not part of the measurement
    import vtdemo.sr.checkpoints  # noqa: F401
    from vtdemo.bench._rss import peak_growth, start_peak

    before = start_peak()
    start = time.perf_counter()
    try:
        outcome = _case(case, folder)
    except Exception as exc:  # noqa: BLE001 - a refusal is the outcome being measured
        outcome = f"refused: {type(exc).__name__}: {str(exc)[:110]}"
    return f"{case:12s} +{peak_growth(before):6.0f} MB peak  {time.perf_counter() - start:6.2f} s  -> {outcome}"


def bench_hostile(cases: list[str] | None = None, timeout: float = 600) -> list[str]:
    """One line per case, each measured in a fresh interpreter (a case that never returns is reported so)."""
    folder = Path(tempfile.mkdtemp(prefix="vtdemo-hostile-"))
    _files.make(folder, sorted(set(_FILES[c] for c in cases or CASES if c in _FILES)))
    lines = []
    for case in cases or CASES:
        try:
            done = subprocess.run([sys.executable, "-m", "vtdemo.bench.hostile", case, str(folder)],
                                  capture_output=True, text=True, timeout=timeout)
            lines.append(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else
                         f"{case:12s} failed: {done.stderr.strip().splitlines()[-1:]}")
        except subprocess.TimeoutExpired:
            lines.append(f"{case:12s} did not return within {timeout:.0f} s")
    return lines


if __name__ == "__main__":
    print(measure(sys.argv[1], Path(sys.argv[2])))
