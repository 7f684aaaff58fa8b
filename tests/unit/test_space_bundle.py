"""The Space's files: the Hub's binary rule on the tracked tree and on the bundle, the bundle's contents, and what
`space publish` sends."""
import shutil
import subprocess
from pathlib import Path

import pytest

from vtdemo import space

REPO = Path(__file__).resolve().parents[2]


def test_the_tracked_tree_passes_the_hubs_binary_rule_and_our_matcher_agrees_with_git():
    files = space.tracked_files(REPO)
    assert space.hub_rule_violations(REPO, files) == []
    attrs = subprocess.run(["git", "-C", str(REPO), "check-attr", "filter", "--", *files], capture_output=True,
                           text=True, check=True).stdout.splitlines()
    by_git = {line.split(": filter: ")[0]: line.endswith(": filter: lfs") for line in attrs}
    patterns = space.lfs_patterns(REPO)
    assert {f: space.stored_with_lfs(f, patterns) for f in files} == by_git


def test_the_rule_refuses_big_binaries_that_are_not_in_lfs(tmp_path):
    """Without .gitattributes the demo weights (1.9-9.5 MB) break the rule; a big text file too; small files and
    text do not."""
    for name in ("weights/hat-demo-x4.safetensors", "weights/vit-demo.safetensors", "weights/hat-demo-x4.json",
                 "weights/vit-demo.ood.safetensors"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, tmp_path / name)
    (tmp_path / "big.txt").write_text("x" * (11 * 2 ** 20))
    files = [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()]
    bad = {path: why for path, _, why in space.hub_rule_violations(tmp_path, files)}
    assert bad == {"weights/hat-demo-x4.safetensors": "a binary over 1 MB",
                   "weights/vit-demo.safetensors": "a binary over 1 MB", "big.txt": "over 10 MiB"}
    shutil.copy(REPO / ".gitattributes", tmp_path / ".gitattributes")
    assert [b[0] for b in space.hub_rule_violations(tmp_path, files)] == ["big.txt"]


def test_the_bundle_holds_what_a_space_runs_and_nothing_else(tmp_path):
    out = tmp_path / "bundle"
    files = space.bundle(out, allow_changes=True)  # this working tree, committed or not
    tracked = space.tracked_files(REPO)
    package = {f for f in tracked if f.startswith("vtdemo/") and f.endswith(".py")}
    weights = {f for f in tracked if f.startswith("weights/")}
    assert package | weights <= set(files)
    assert {"README.md", "app.py", "requirements.txt", "pyproject.toml", ".gitattributes", "docs/security.md",
            "docs/architecture.md"} <= set(files)  # the README's links work on the Space
    assert not [f for f in files if f.startswith(("tests/", ".ci/")) or f in {"Makefile", "requirements-dev.txt"}]
    on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert on_disk == files
    assert all((out / f).read_bytes() == (REPO / f).read_bytes() for f in files if f != "requirements.txt")
    def lines(path):
        return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]

    written, runtime, space_only = lines(out / "requirements.txt"), lines(REPO / "requirements.txt"), \
        [line for line in lines(REPO / "requirements-space.txt") if not line.startswith("-r")]
    assert written == runtime + space_only and any(line.startswith("spaces==") for line in space_only)
    assert space.hub_rule_violations(out, files) == []
    with pytest.raises(ValueError, match="not empty"):
        space.bundle(out, allow_changes=True)


def test_a_bundle_is_what_was_committed(tmp_path):
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    assert space.bundle(tmp_path / "a", clone)  # a clean checkout bundles
    (clone / "app.py").write_text((clone / "app.py").read_text() + "\nTOKEN = 'hf_secret'\n")
    with pytest.raises(ValueError, match="Uncommitted changes in app.py"):
        space.bundle(tmp_path / "b", clone)
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())


class _RecordingHub:
    """Stands in for huggingface_hub.HfApi: records what publish asks for (a Space with two stale files)."""

    def __init__(self):
        self.calls = []

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs))

    def list_repo_files(self, repo_id, **kwargs):
        return ["old_module.py", ".gitattributes", "README.md"]

    def create_commit(self, repo_id, operations, **kwargs):
        self.calls.append(("create_commit", repo_id, operations, kwargs))
        return type("Info", (), {"commit_url": f"https://hub.test/spaces/{repo_id}/commit/1"})()


def test_publish_sends_the_bundle_as_one_commit_to_a_gradio_space(tmp_path):
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    out = tmp_path / "bundle"
    files = space.bundle(out, allow_changes=True)
    # what running the app in the bundle leaves there never goes to the Space
    for leftover in ("weights/cache/HAT_SRx4.pth", ".gradio/x.png", "vtdemo/__pycache__/cli.pyc", "notes.txt"):
        (out / leftover).parent.mkdir(parents=True, exist_ok=True)
        (out / leftover).write_bytes(b"x" * 10)
    hub = _RecordingHub()
    assert space.publish("me/vtdemo", out, api=hub).endswith("/commit/1")
    (kind, repo, options), (_, _, ops, commit) = hub.calls
    assert kind == "create_repo" and repo == "me/vtdemo"
    assert options["repo_type"] == "space" and options["space_sdk"] == "gradio" and options["exist_ok"]
    adds = [op for op in ops if isinstance(op, CommitOperationAdd)]
    assert sorted(op.path_in_repo for op in adds) == files
    for op in adds:  # what the upload sends for each file: its own bytes' size
        assert op.upload_info.size == (out / op.path_in_repo).stat().st_size
    assert [op.path_in_repo for op in ops if isinstance(op, CommitOperationDelete)] == ["old_module.py"]
    assert commit["repo_type"] == "space"


def test_publish_refuses_a_folder_that_is_not_a_bundle(tmp_path):
    folder = tmp_path / "loose"
    folder.mkdir()
    shutil.copy(REPO / "weights" / "vit-demo.safetensors", folder)
    hub = _RecordingHub()
    with pytest.raises(ValueError, match="not a bundle"):
        space.publish("me/vtdemo", folder, api=hub)
    out = tmp_path / "bundle"
    space.bundle(out, allow_changes=True)
    (out / "app.py").unlink()
    (out / "app.py").symlink_to("/etc/hostname")  # a link would upload what it points to
    with pytest.raises(ValueError, match="app.py is missing or a link"):
        space.publish("me/vtdemo", out, api=hub)
    (out / "app.py").unlink()
    shutil.copy(REPO / "app.py", out / "app.py")
    (out / ".gitattributes").write_text("")  # the LFS rules gone: the Hub would refuse the weights
    with pytest.raises(ValueError, match="binary rule"):
        space.publish("me/vtdemo", out, api=hub)
    assert hub.calls == []
