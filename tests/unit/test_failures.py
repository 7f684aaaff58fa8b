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


def test_library_value_errors_are_bugs_and_vtdemo_checks_are_messages(caplog):
    import logging

    import numpy as np

    from vtdemo.ui.errors import user_errors
    from vtdemo.zoo.builders import BuildError

    @user_errors
    def library_bug():
        np.zeros(3).reshape(2, 2)  # a ValueError raised inside numpy: our bug, not the visitor's

    @user_errors
    def our_check():
        from vtdemo.explain import head_index

        head_index("7", 4)  # vtdemo's own check of a request's value

    @user_errors
    def wrong_file():
        raise BuildError("hat-demo-x4: these weights do not fit the HAT-demo architecture")

    with caplog.at_level(logging.WARNING):
        with pytest.raises(gr.Error, match=r"Internal error \(ValueError\)"):
            library_bug()
        assert any(r.exc_info for r in caplog.records)  # its traceback is in the log
        caplog.clear()
        with pytest.raises(gr.Error, match="head 7 does not exist"):
            our_check()
        assert not caplog.records
        with pytest.raises(gr.Error, match="do not fit") as err:
            wrong_file()
        assert "Internal error" not in err.value.message
        assert [r.levelname for r in caplog.records] == ["WARNING"] and not caplog.records[0].exc_info
