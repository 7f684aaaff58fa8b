"""Shared test setup: offline, no analytics, and the ../shared folder (skipped with a reason when absent)."""
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VTDEMO_SHARED", REPO.parent / "shared"))
ARTIFACTS = REPO / "tests" / "artifacts"
HUB_CACHE_AT_START = os.environ.get("HF_HUB_CACHE")  # fixtures may change it for their tests only


@pytest.fixture(scope="session")
def shared() -> Path:
    if not (SHARED / "golden").is_dir():
        pytest.skip(f"../shared is not beside the checkout ({SHARED}); reference tests need it")
    return SHARED


def _zoomed(image, center, zoom: int, view: int):
    """What a zoom inspector crop must show, computed here without the app's code: the view/zoom-pixel square of
    the image centred at the fractional ``center`` (moved inside the image), each pixel repeated zoom×zoom."""
    import numpy as np

    arr = np.asarray(image)
    h, w = arr.shape[:2]
    side_w, side_h = min(round(view / zoom), w), min(round(view / zoom), h)
    left = min(max(0, round(center[0] * w - side_w / 2)), w - side_w)
    top = min(max(0, round(center[1] * h - side_h / 2)), h - side_h)
    return arr[top:top + side_h, left:left + side_w].repeat(zoom, 0).repeat(zoom, 1)


@pytest.fixture
def zoomed():
    return _zoomed


@pytest.fixture
def hub_cache_at_start() -> str | None:
    """HF_HUB_CACHE as the test session found it."""
    return HUB_CACHE_AT_START


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def weights_home(tmp_path, monkeypatch) -> Path:
    """An empty weights/ folder and caches, so tests never touch the repo's weights or the user's caches."""
    home = tmp_path / "weights"
    home.mkdir()
    monkeypatch.setenv("VTDEMO_WEIGHTS_DIR", str(home))
    monkeypatch.setenv("VTDEMO_CACHE_DIR", str(home / "cache"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    return home


@pytest.fixture
def prefill_hub(tmp_path):
    """Write ``model.safetensors`` into a Hugging Face cache layout (refs/main -> snapshot) under tmp_path/hub, as a
    previous online download would have left it. Returns the snapshot file's path."""
    from safetensors.torch import save_file

    def prefill(repo_id: str, tensors: dict, filename: str = "model.safetensors") -> Path:
        commit = "a" * 40
        repo = tmp_path / "hub" / ("models--" + repo_id.replace("/", "--"))
        (repo / "refs").mkdir(parents=True, exist_ok=True)
        (repo / "refs" / "main").write_text(commit)
        (repo / "snapshots" / commit).mkdir(parents=True, exist_ok=True)
        path = repo / "snapshots" / commit / filename
        save_file(tensors, str(path))
        return path

    return prefill


@pytest.fixture
def online(monkeypatch):
    """Downloads allowed for this test: the offline switches removed and the per-host probes forgotten, so a host
    counts as reachable exactly when it answers (a local server does; the internet does not here)."""
    from vtdemo.zoo import downloads, weights

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("VTDEMO_OFFLINE", raising=False)
    monkeypatch.setattr(downloads, "_reachable", {})
