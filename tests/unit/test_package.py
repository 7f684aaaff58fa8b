"""vtdemo installed as a package (the wheel), run from another folder: the embedded models are found, downloads and
caches go to a user folder, the CLI and the app work."""
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def test_every_subpackage_is_listed_for_the_wheel():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "vtdemo").rglob("*.py")}  # namespace too
    assert found | {"vtdemo_weights"} == listed


def test_installed_wheel_runs_from_another_folder(tmp_path):
    wheels, target, elsewhere, home = (tmp_path / d for d in ("wheels", "site", "elsewhere", "home"))
    for d in (elsewhere, home):
        d.mkdir()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(wheels), str(ROOT)], check=True, timeout=600, cwd=tmp_path)
    wheel = next(wheels.glob("vtdemo-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, timeout=600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VTDEMO_")}
    env.update(PYTHONPATH=str(target), HOME=str(home), HF_HUB_OFFLINE="1", XDG_CACHE_HOME=str(home / ".cache"))
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (12, 16, 3), dtype=np.uint8)).save(elsewhere / "a.png")

    def run(*args):
        done = subprocess.run([sys.executable, *args], cwd=elsewhere, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    where = run("-c", "import vtdemo, sys; print(vtdemo.__file__)")
    assert where.strip().startswith(str(target))  # the installed copy, not the checkout
    models = run("-m", "vtdemo", "models")
    assert all(f"{i}" in models for i in ("hat-demo-x4", "vit-demo")) and "missing" not in models
    run("-m", "vtdemo", "upscale", "a.png", "-m", "hat-demo-x4", "-o", "out.png")
    assert Image.open(elsewhere / "out.png").size == (64, 48)
    run("-c", "import vtdemo; print(vtdemo.classify('a.png', 'vit-demo', 1))")
    run("-c", "from vtdemo.ui import build_app; build_app()")  # the app builds: examples go to the user folder
    assert (home / ".cache" / "vtdemo" / "examples").is_dir()
