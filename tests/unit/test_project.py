"""The project's promises about itself: Space front matter, the two commands, CLI, launch defaults."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from vtdemo.zoo.cards import CARDS

REPO = Path(__file__).resolve().parents[2]


def _front_matter() -> dict:
    text = (REPO / "README.md").read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_space_front_matter_is_consistent_with_the_zoo():
    meta = _front_matter()
    assert meta["sdk"] == "gradio" and (REPO / meta["app_file"]).is_file()
    pinned = re.search(r"^gradio==([\d.]+)$", (REPO / "requirements-dev.txt").read_text(), re.M).group(1)
    assert meta["sdk_version"] == pinned
    hub_files = {(s.repo_id, s.filename) for c in CARDS for s in c.sources if s.kind == "hub"}
    assert {repo for repo, _ in hub_files} == set(meta["models"])
    assert meta["suggested_hardware"]
    requirements = [line.strip() for line in (REPO / "requirements.txt").read_text().splitlines()]
    assert not any(line.startswith("gradio") for line in requirements)  # a Space installs it from sdk_version


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    assert "make test" in readme and "make run" in readme
    assert re.search(r"^make test$", (REPO / ".ci" / "run").read_text(), re.M)


def test_cli_help_lists_the_sub_commands():
    run = subprocess.run([sys.executable, "-m", "vtdemo", "--help"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0
    for command in ("serve", "models", "fetch"):
        assert command in run.stdout


def test_cli_models_json():
    import json

    run = subprocess.run([sys.executable, "-m", "vtdemo", "models", "--json"], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    rows = json.loads(run.stdout)
    assert len(rows) == len(CARDS) >= 20
    assert {"id", "task", "family", "paper", "params", "licence", "source", "status"} <= set(rows[0])


def test_the_cli_works_without_the_demo_weights(tmp_path):
    """A weights folder without the demo models (VTDEMO_WEIGHTS_DIR elsewhere, a broken checkout): their cards still
    exist, say "missing", and every command starts."""
    run = subprocess.run([sys.executable, "-m", "vtdemo", "models"], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "HF_HUB_OFFLINE": "1", "VTDEMO_WEIGHTS_DIR": str(tmp_path)})
    assert run.returncode == 0, run.stderr[-2000:]
    demo = [line for line in run.stdout.splitlines() if line.startswith(("hat-demo-x4 ", "vit-demo "))]
    assert len(demo) == 2 and all(" missing " in line for line in demo), demo


class _FakeQueue:
    event_ids_to_events: dict = {}

    async def push(self, body, request, username):
        return True, "id", "success"


class _FakeBlocks:
    def queue(self, **kwargs):
        self.queue_kwargs = kwargs
        self._queue = _FakeQueue()

    def launch(self, **kwargs):
        self.launch_kwargs = kwargs


def test_launch_defaults_are_safe(monkeypatch):
    from vtdemo import limits
    from vtdemo.ui import launch

    monkeypatch.delenv("GRADIO_SERVER_NAME", raising=False)
    monkeypatch.delenv("GRADIO_SERVER_PORT", raising=False)
    monkeypatch.delenv("VTDEMO_UNTESTED_GRADIO", raising=False)
    monkeypatch.setenv("VTDEMO_HEAVY_SLOTS", "2")
    from vtdemo.ui import admission

    monkeypatch.setattr(admission, "_LOCAL", admission._LOCAL)  # the real one is restored after the test
    fake = _FakeBlocks()
    launch(fake)
    kw = fake.launch_kwargs
    assert kw["server_name"] == "127.0.0.1" and kw["server_port"] == 7860 and kw["share"] is False
    assert kw["max_file_size"] >= limits.max_upload_bytes()
    assert fake.queue_kwargs["max_size"] > 0
    from vtdemo.ui.app import SESSION_MARGIN

    # the fair eviction (admission.Sessions) works at VTDEMO_MAX_SESSIONS; Gradio's own LRU only behind it
    assert kw["state_session_capacity"] == limits.max_sessions() + SESSION_MARGIN
    assert fake.queue_kwargs["api_open"] is False and kw["enable_monitoring"] is False  # no queue-skipping routes
    assert fake._queue.push.__name__ == "push_with_policy"  # the per-client limit is in front of Gradio's queue
    assert admission._LOCAL._free == 2  # the heavy slots were sized at launch (VTDEMO_HEAVY_SLOTS above)
    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7999")
    launch(fake)
    assert (fake.launch_kwargs["server_name"], fake.launch_kwargs["server_port"]) == ("0.0.0.0", 7999)
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
    monkeypatch.setattr("gradio.__version__", "7.0.0")
    with pytest.raises(RuntimeError, match="Gradio 7.0.0"):  # internals read in another version: not served
        launch(_FakeBlocks())


def test_gpu_decorator_is_a_no_op_without_spaces():
    from vtdemo.runtime import gpu

    def f(x):
        return x + 1

    assert gpu(f)(1) == 2 and gpu(duration=30)(f)(1) == 2


def test_every_public_name_works_on_every_call_in_a_fresh_process(tmp_path):
    """vtdemo.classify is also a subpackage: importing it must not turn the function into a module."""
    import subprocess
    import sys
    import textwrap

    from PIL import Image

    image = tmp_path / "img.png"
    Image.new("RGB", (40, 32), "green").save(image)
    script = textwrap.dedent(f"""
        import vtdemo
        import vtdemo.ui  # imports vtdemo.classify.* first, as the app does
        for _ in range(2):
            assert vtdemo.classify({str(image)!r}, "vit-demo", 2)[0][0]
            assert vtdemo.upscale({str(image)!r}, "bicubic", scale=2).size == (80, 64)
            assert vtdemo.compare({str(image)!r}, ["bicubic"], scale=2).results
            assert vtdemo.attention_map({str(image)!r}, "vit-demo", (20, 16)).shape == (32, 40)
            assert vtdemo.list_models("sr") and vtdemo.load_model("hat-demo-x4", device="cpu") is not None
            amap, di = vtdemo.attribution_map(vtdemo.load_model("hat-demo-x4", device="cpu"),
                                              __import__("torch").rand(1, 3, 16, 16), 0, 0, steps=2)
            assert amap.shape == (16, 16)
        print("ok")
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                         env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"})
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), run.stderr[-2000:]


def test_the_model_table_needs_neither_torch_nor_the_network(tmp_path):
    """`vtdemo models` answers at once: no torch or timm import for the table, and no host is contacted unless
    --online asks (every socket connection fails here, so a probe would show up as "unavailable offline")."""
    code = ("import socket, sys\n"
            "def refuse(*a, **k): raise AssertionError('a connection was attempted')\n"
            "socket.create_connection = socket.socket.connect = refuse\n"
            "from vtdemo.cli import main\n"
            "status = main(['models'])\n"
            "heavy = sorted(m for m in ('torch', 'timm', 'gradio') if m in sys.modules)\n"
            "print('HEAVY', heavy, 'STATUS', status)\n")
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"}  # offline mode would hide a probe
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                         env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "HEAVY [] STATUS 0" in run.stdout
    rows = {line.split()[0]: line for line in run.stdout.splitlines() if line and not line.startswith(" ")}
    assert "not downloaded" in rows["hat-x4"] and "embedded" in rows["hat-demo-x4"]


def test_the_project_is_importable_from_any_folder(tmp_path):
    """The test environment (made by `make`, like `make run`'s) has vtdemo installed from this checkout: the CLI and
    `import vtdemo` work from another folder and use the checkout's code and embedded weights."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([sys.executable, "-c", "import vtdemo; print(vtdemo.__file__)"], capture_output=True,
                         text=True, timeout=60, cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    assert Path(run.stdout.strip()).resolve() == REPO / "vtdemo" / "__init__.py"
    done = subprocess.run([str(Path(sys.prefix) / "bin" / "vtdemo"), "models", "--task", "sr"], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path, env=env)
    assert done.returncode == 0 and "hat-demo-x4" in done.stdout, done.stderr[-2000:]
