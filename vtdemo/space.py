"""A Hugging Face Space from this checkout: ``bundle`` writes exactly the files a Space needs, ``publish`` uploads
them through huggingface_hub's API (which stores each binary with LFS/Xet as the Hub decides), and
``hub_rule_violations`` applies the Hub's rule for pushed files — a binary over 1 MB, or any file over 10 MiB,
must be stored with LFS/Xet — so a bundle or a tree that the Hub would refuse is caught here.

A ``git push`` of this repository's history is refused by the Hub (its older weights are plain blobs); publish the
bundle instead."""
from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
MAX_BINARY_BYTES = 1_000_000  # the Hub: "binary files over 1 MB must be stored with LFS/Xet"
MAX_TEXT_BYTES = 10 * 2 ** 20  # any file over 10 MiB too
# What a Space runs (app.py, the package, its requirements and embedded weights) and what its page shows (the
# README with the Space's front matter and the screenshots it links). pyproject.toml makes the folder a checkout:
# weights are then read from its weights/.
# (fnmatch patterns: * also matches /); requirements.txt is written from requirements-space.txt
BUNDLE = ("README.md", "app.py", "pyproject.toml", ".gitattributes", "vtdemo/*.py", "weights/README.md",
          "weights/*.json", "weights/*.safetensors", "docs/*.md", "docs/screenshots/*.png")


def is_binary(path: Path) -> bool:
    """Git's test, which the Hub applies: a NUL byte in the first 8000 bytes."""
    with open(path, "rb") as f:
        return b"\0" in f.read(8000)


def lfs_patterns(root: Path) -> list[str]:
    """The patterns ``.gitattributes`` stores with LFS (``filter=lfs``)."""
    path = root / ".gitattributes"
    if not path.is_file():
        return []
    patterns = []
    for line in path.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 2 and not fields[0].startswith("#") and "filter=lfs" in fields[1:]:
            patterns.append(fields[0])
    return patterns


def stored_with_lfs(relative: str, patterns: list[str]) -> bool:
    """Whether ``.gitattributes`` puts ``relative`` (a path with /) in LFS: a pattern without a slash matches the
    file's name at any depth, one with a slash the whole path (gitattributes' rules for these simple patterns)."""
    name = relative.rsplit("/", 1)[-1]
    for pattern in patterns:
        anchored = pattern.lstrip("/")
        if "/" in anchored:
            if fnmatch.fnmatchcase(relative, anchored):
                return True
        elif fnmatch.fnmatchcase(name, anchored):
            return True
    return False


def hub_rule_violations(root: Path, files: list[str]) -> list[tuple[str, int, str]]:
    """(path, bytes, why) for each of ``files`` (relative to ``root``) that the Hub would refuse as a plain git
    file under ``root``'s ``.gitattributes``."""
    patterns = lfs_patterns(root)
    bad = []
    for relative in files:
        size = (root / relative).stat().st_size
        if stored_with_lfs(relative, patterns):
            continue
        if size > MAX_TEXT_BYTES:
            bad.append((relative, size, "over 10 MiB"))
        elif size > MAX_BINARY_BYTES and is_binary(root / relative):
            bad.append((relative, size, "a binary over 1 MB"))
    return bad


def tracked_files(root: Path = REPO_ROOT) -> list[str]:
    """The files git tracks in ``root`` (what a push would send)."""
    out = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], capture_output=True, check=True).stdout
    return [f for f in out.decode().split("\0") if f]


def bundle_files(root: Path = REPO_ROOT) -> list[str]:
    """The tracked files a Space needs (``BUNDLE``), in a stable order."""
    return sorted(f for f in tracked_files(root) if any(fnmatch.fnmatchcase(f, p) for p in BUNDLE))


def space_files(root: Path = REPO_ROOT) -> list[str]:
    """Every file of a bundle of ``root``: the tracked ones and the requirements.txt ``bundle`` writes."""
    return sorted([*bundle_files(root), "requirements.txt"])


def changed_files(files: list[str], root: Path = REPO_ROOT) -> list[str]:
    """Those of ``files`` whose working copy differs from the last commit."""
    out = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "-z", "--", *files],
                         capture_output=True, check=True).stdout.decode()
    return sorted(entry[3:] for entry in out.split("\0") if entry)


def requirements(path: Path) -> list[str]:
    """The requirement lines of ``path`` with its ``-r`` includes expanded (a Space installs one flat file)."""
    lines = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            lines += requirements(path.parent / line[3:].strip())
        elif line:
            lines.append(line)
    return lines


def bundle(out: Path, root: Path = REPO_ROOT, *, allow_changes: bool = False) -> list[str]:
    """Copy the Space's files into the empty or new folder ``out`` and write its requirements.txt (from
    requirements-space.txt); refuse when the result breaks the Hub's rule, and — unless ``allow_changes`` — when a
    bundled file has uncommitted changes (what is published is what was committed). Returns the files written."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} is not empty: bundle into a new folder.")
    files = bundle_files(root)
    changed = [] if allow_changes else changed_files([*files, "requirements.txt", "requirements-space.txt"], root)
    if changed:
        raise ValueError(f"Uncommitted changes in {', '.join(changed[:5])}{' …' if len(changed) > 5 else ''}: "
                         "commit them first (or pass --allow-changes).")
    missing = [f for f in ("README.md", "app.py", ".gitattributes") if f not in files]
    if missing or not (root / "requirements-space.txt").is_file():
        raise ValueError(f"This checkout lacks {', '.join(missing) or 'requirements-space.txt'}: is it a vtdemo "
                         "checkout?")
    for relative in files:
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / relative, target)
    (out / "requirements.txt").write_text("# written by `python -m vtdemo space bundle` from requirements-space.txt"
                                          "\n" + "\n".join(requirements(root / "requirements-space.txt")) + "\n")
    files = sorted([*files, "requirements.txt"])
    bad = hub_rule_violations(out, files)
    if bad:
        shutil.rmtree(out)
        raise ValueError("The Hub would refuse: " + "; ".join(f"{p} ({n:,} B, {why}) is not stored with LFS"
                                                              for p, n, why in bad))
    return files


def operations(folder: Path, files: list[str]) -> list:
    """One ``CommitOperationAdd`` per file of a bundle (huggingface_hub asks the Hub which go to LFS/Xet)."""
    from huggingface_hub import CommitOperationAdd

    return [CommitOperationAdd(path_in_repo=f, path_or_fileobj=str(Path(folder) / f)) for f in files]


def publish(repo_id: str, folder: Path, *, token: str | None = None, private: bool = False, api=None) -> str:
    """Create (or update) the Gradio Space ``repo_id`` with the bundle in ``folder`` in one commit, deleting files
    the bundle no longer has. Only the bundle's own files go (``space_files``: not a cache, ``.gradio/`` or
    ``__pycache__`` that running the app there left), each a plain file. Returns the commit's URL. ``api``: an
    ``HfApi`` (default: one for HF_ENDPOINT and ``token``, else the logged-in user's)."""
    from huggingface_hub import CommitOperationDelete, HfApi

    folder = Path(folder)
    files = space_files()
    missing = [f for f in files if not (folder / f).is_file() or (folder / f).is_symlink()]
    if missing:
        raise ValueError(f"{folder} is not a bundle of this checkout ({missing[0]} is missing or a link): make it "
                         "with `space bundle`.")
    bad = hub_rule_violations(folder, files)
    if bad:
        raise ValueError(f"{folder} breaks the Hub's binary rule ({bad[0][0]}): make it with `space bundle`.")
    api = api or HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None, token=token)
    api.create_repo(repo_id, repo_type="space", space_sdk="gradio", private=private, exist_ok=True)
    existing = set(api.list_repo_files(repo_id, repo_type="space"))
    deletes = [CommitOperationDelete(path_in_repo=p) for p in sorted(existing - set(files))]
    info = api.create_commit(repo_id, repo_type="space", operations=[*operations(folder, files), *deletes],
                             commit_message="vtdemo: the Space bundle")
    return info.commit_url
