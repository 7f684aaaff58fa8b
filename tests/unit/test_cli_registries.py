"""Every CLI choice comes from its registry: a backend registered (as a plug-in would) appears in `upscale
--help` and can be chosen; ray-serve, precisions and engines are offered from theirs."""
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
