"""Where vtdemo looks for weights and writes what it downloads: a checkout's ``weights/``, an installed package's
data and user folder, the caches — read from the environment at call time — and how a path is shown to a user."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _checkout() -> bool:
    """Running from a source checkout (its ``weights/`` beside ``pyproject.toml``), not an installed package."""
    return (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "weights").is_dir()


def user_dir() -> Path:
    """Where an installed vtdemo keeps what it writes: VTDEMO_CACHE_DIR, else $XDG_CACHE_HOME/vtdemo (~/.cache)."""
    if os.environ.get("VTDEMO_CACHE_DIR"):
        return Path(os.environ["VTDEMO_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vtdemo"


def weights_dir() -> Path:
    """Where vtdemo looks for weights first and users drop files: VTDEMO_WEIGHTS_DIR, else the checkout's
    ``weights/``, else (installed) ``<user dir>/weights``."""
    if os.environ.get("VTDEMO_WEIGHTS_DIR"):
        return Path(os.environ["VTDEMO_WEIGHTS_DIR"])
    return REPO_ROOT / "weights" if _checkout() else user_dir() / "weights"


def embedded_dir() -> Path:
    """The embedded demo weights and their cards: VTDEMO_WEIGHTS_DIR when set, the checkout's ``weights/``, or the
    installed package data."""
    if os.environ.get("VTDEMO_WEIGHTS_DIR") or _checkout():
        return weights_dir()
    from importlib.util import find_spec

    spec = find_spec("vtdemo_weights")  # a data-only (namespace) package: its folder is the search location
    return Path(next(iter(spec.submodule_search_locations))) if spec else REPO_ROOT / "weights"


def url_cache_dir() -> Path:
    """Downloads, exported graphs and example images: VTDEMO_CACHE_DIR, the checkout's ``weights/cache/``, or the
    user dir (an installed package's folder may not be writable)."""
    if os.environ.get("VTDEMO_CACHE_DIR"):
        return Path(os.environ["VTDEMO_CACHE_DIR"])
    return REPO_ROOT / "weights" / "cache" if _checkout() else user_dir()


def hub_cache_dir() -> str:
    """Hugging Face's cache, read from the environment at call time (tests and users may point it elsewhere)."""
    from huggingface_hub import constants

    return os.environ.get("HF_HUB_CACHE") or constants.HF_HUB_CACHE


def display_path(path: str | os.PathLike) -> str:
    """``path`` as a user may be shown it: relative to the weights folder or a cache, named by the setting that
    chose it — never the server's absolute layout."""
    path = Path(path)
    checkout = _checkout()
    places = [(url_cache_dir(), "$VTDEMO_CACHE_DIR" if os.environ.get("VTDEMO_CACHE_DIR")
               else "weights/cache" if checkout else "~/.cache/vtdemo"),
              (weights_dir(), "$VTDEMO_WEIGHTS_DIR" if os.environ.get("VTDEMO_WEIGHTS_DIR")
               else "weights" if checkout else "~/.cache/vtdemo/weights"),
              (Path(hub_cache_dir()), "<Hugging Face cache>")]
    places.sort(key=lambda place: -len(place[0].resolve().parts))  # the most specific folder first
    for folder, name in places:
        try:
            return f"{name}/{path.resolve().relative_to(folder.resolve()).as_posix()}"
        except ValueError:
            continue
    return path.name
