"""Failures while the app runs: weights deleted or corrupted, then restored; one tab's exception does not leak."""
import shutil

import gradio as gr
import pytest

from vtdemo.zoo.weights import REPO_ROOT, WeightsError


def test_weights_deleted_or_corrupted_then_restored(weights_home):
    from vtdemo.zoo.loading import clear_cache, load_model

    original = REPO_ROOT / "weights" / "hat-demo-x4.safetensors"
    target = weights_home / original.name
    backup = weights_home.parent / "backup.safetensors"
    shutil.copyfile(original, backup)
    shutil.copyfile(backup, target)
    clear_cache()
    assert load_model("hat-demo-x4", device="cpu") is not None
    clear_cache()  # as if the LRU had evicted it
    target.unlink()
    with pytest.raises(WeightsError, match="hat-demo-x4.safetensors"):
        load_model("hat-demo-x4", device="cpu")
    target.write_bytes(backup.read_bytes()[:1000])  # corrupted
    with pytest.raises(WeightsError, match="not a valid safetensors"):
        load_model("hat-demo-x4", device="cpu")
    shutil.copyfile(backup, target)  # restored: the next request works, nothing was cached from the failures
    assert load_model("hat-demo-x4", device="cpu") is not None


def test_unexpected_exceptions_become_one_line_messages():
    from vtdemo.ui.errors import user_errors

    @user_errors
    def broken():
        raise KeyError("boom")

    @user_errors
    def fine():
        return 42

    with pytest.raises(gr.Error, match=r"Internal error \(KeyError\)"):
        broken()
    assert fine() == 42  # other handlers are unaffected
