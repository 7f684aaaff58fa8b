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


def _zoom_of(shown, image, center, zoom: int, view: int) -> None:
    """Assert that ``shown`` is what a zoom inspector must show of ``image`` — by its definition, not the app's
    formula: a zoom×zoom nearest-neighbour magnification (every pixel a constant block) of a contiguous region of
    the image, a view/zoom-pixel square (no larger than the image), centred within a pixel of the fractional
    ``center``, or pushed against the border it would cross."""
    import numpy as np

    shown, arr = np.asarray(shown), np.asarray(image)
    h, w = arr.shape[:2]
    region = shown[::zoom, ::zoom]
    assert np.array_equal(region.repeat(zoom, 0).repeat(zoom, 1), shown), "not a nearest-neighbour magnification"
    side_h, side_w = region.shape[:2]
    assert (side_w, side_h) == (min(round(view / zoom), w), min(round(view / zoom), h)), (side_w, side_h)
    want_x, want_y = center[0] * w, center[1] * h

    def centred(start: int, side: int, want: float, full: int) -> bool:
        return abs(start + side / 2 - want) <= 1 or (start == 0 and want < side / 2) or \
            (start == full - side and want > full - side / 2)

    corner = np.argwhere((arr == region[0, 0]).all(-1) if arr.ndim == 3 else arr == region[0, 0])
    found = [(y, x) for y, x in corner if y + side_h <= h and x + side_w <= w
             and np.array_equal(arr[y:y + side_h, x:x + side_w], region)]
    assert found, "the crop is not a region of the image"
    assert any(centred(x, side_w, want_x, w) and centred(y, side_h, want_y, h) for y, x in found), \
        (found[:3], want_x, want_y)


@pytest.fixture
def zoom_of():
    return _zoom_of


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
    from vtdemo.zoo import downloads

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("VTDEMO_OFFLINE", raising=False)
    monkeypatch.setattr(downloads, "_reachable", {})
