"""Every CLI choice comes from its registry: a backend registered (as a plug-in would) appears in `upscale
--help` and can be chosen; ray-serve, precisions and engines are offered from theirs; a benchmark file dropped into
the bench package is a `bench` command with its own options."""
import sys

import pytest

from vtdemo import cli
from vtdemo.batch.engines import ENGINES
from vtdemo.runtime import PRECISIONS
from vtdemo.sr import backends


def _help(capsys, *argv) -> str:
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args([*argv, "--help"])
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines


def test_a_registered_backend_is_offered_and_accepted(monkeypatch, capsys):
    fake = backends.Backend("fake-accel", lambda net, device, tile, precision: None, ready=lambda *a: False,
                            identity=lambda net, tile: "fake")
    monkeypatch.setitem(backends.BACKENDS, fake.name, fake)
    text = _help(capsys, "upscale")
    assert "fake-accel" in text and "ray-serve" in text
    args = cli.build_parser().parse_args(["upscale", "x.png", "--backend", "fake-accel"])
    assert args.backend == "fake-accel"


def test_precisions_and_engines_come_from_their_registries(capsys):
    text = _help(capsys, "upscale")
    assert "{" + ",".join(PRECISIONS) + "}" in text and "{" + ",".join(ENGINES) + "}" in text
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["upscale", "x.png", "--precision", "fp8"])


FAKE_BENCHMARK = """
HELP = "laps around a fake track"


def add_arguments(parser):
    parser.add_argument("--laps", type=int, default=1)


def run(args):
    print(f"ran {args.laps} laps")
    return 3
"""


def test_a_benchmark_is_one_file_in_the_package(tmp_path, monkeypatch, capsys):
    """The recipe "add a benchmark" done for real: a module file where the package looks, nothing else."""
    import vtdemo.bench as bench

    (tmp_path / "fake_track.py").write_text(FAKE_BENCHMARK)
    monkeypatch.setattr(bench, "__path__", [*bench.__path__, str(tmp_path)])
    monkeypatch.delitem(sys.modules, "vtdemo.bench.fake_track", raising=False)
    try:
        text = _help(capsys, "bench")
        assert "fake_track" in text and "laps around a fake track" in text
        assert {"sr", "photo", "precision", "lam", "attention", "distance", "pervit", "bicubic", "scaling", "memory",
                "load", "batch", "hostile"} <= set(bench.benchmarks())
        assert "--laps" in _help(capsys, "bench", "fake_track") and "--threads" in _help(capsys, "bench", "sr")
        assert cli.main(["bench", "fake_track", "--laps", "4"]) == 3  # its own options and exit status
        assert capsys.readouterr().out.strip() == "ran 4 laps"
        assert cli.build_parser().parse_args(["bench", "hostile"]).cases == []  # no case named: all of them
        with pytest.raises(SystemExit):  # another benchmark's option is not this one's
            cli.build_parser().parse_args(["bench", "sr", "--laps", "2"])
    finally:
        sys.modules.pop("vtdemo.bench.fake_track", None)


def test_a_broken_benchmark_file_does_not_break_the_cli(tmp_path, monkeypatch, capsys):
    import vtdemo.bench as bench

    (tmp_path / "half_written.py").write_text("HELP = 'oops'\ndef run(args:\n")  # a syntax error
    (tmp_path / "no_run.py").write_text("HELP = 'no run'\n")
    monkeypatch.setattr(bench, "__path__", [*bench.__path__, str(tmp_path)])
    try:
        text = _help(capsys, "bench")
        assert "half_written" in text and "cannot be imported: SyntaxError" in text
        assert "it has no add_arguments, run" in text
        assert "--port" in _help(capsys, "serve")  # the other commands are untouched
        assert cli.main(["bench", "half_written"]) == 2 and "SyntaxError" in capsys.readouterr().err
    finally:
        for name in ("half_written", "no_run"):
            sys.modules.pop(f"vtdemo.bench.{name}", None)
