"""The Super-resolution tab's handlers without a browser: model lists, uploads, inspector crops."""
import io
import pickle
import zipfile
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from vtdemo.models.hat import HAT
from vtdemo.ui import sr_tab


class _Evil:
    """Unpickling this would create a file."""

    def __init__(self, canary):
        self.canary = str(canary)

    def __reduce__(self):
        return open, (self.canary, "w")


def test_model_lists_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    values = [v for _, v in sr_tab.model_choices(4)]
    assert values[0] == "bicubic" and "hat-demo-x4" in values
    assert "hat-x4" not in values and "hat-demo-x2" not in values
    text = sr_tab.unavailable_models(4)
    assert "`hat-x4`" in text and "python -m vtdemo fetch hat-x4" in text and "hat-demo" not in text
    assert sr_tab.default_models(2) == ["bicubic", "hat-demo-x2"]


def test_uploaded_checkpoint_joins_the_comparison(tmp_path):
    model = HAT(upscale=4, embed_dim=12, depths=[1], num_heads=[2], window_size=4, compress_ratio=3,
                squeeze_factor=4, num_feat=8, mlp_ratio=1.0)
    path = tmp_path / "mine.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    message, uploads, update = sr_tab.on_checkpoint(str(path), 4, {}, ["bicubic"])
    assert "HAT, ×4" in message
    key = next(iter(uploads))
    assert update["value"] == ["bicubic", key] and ("📦 mine.safetensors (uploaded)", key) in update["choices"]
    # at ×2 it is offered only after switching the scale
    message, uploads2, update = sr_tab.on_checkpoint(str(path), 2, {}, ["bicubic"])
    assert "switch the scale to ×4" in message and "value" not in update


def test_unsafe_or_foreign_checkpoints_get_a_clear_message(tmp_path):
    canary = tmp_path / "canary.txt"
    evil = tmp_path / "evil.pth"
    with open(evil, "wb") as f:
        pickle.dump({"params": {"w": torch.zeros(1)}, "x": _Evil(canary)}, f)
    with pytest.raises(gr.Error) as err:
        sr_tab.on_checkpoint(str(evil), 4, {}, [])
    assert not canary.exists()
    assert "pickle" in str(err.value).lower() or "unsafe" in str(err.value).lower()
    other = tmp_path / "classifier.safetensors"
    save_file({"head.weight": torch.zeros(10, 4)}, str(other))
    with pytest.raises(gr.Error, match="not a super-resolution checkpoint"):
        sr_tab.on_checkpoint(str(other), 4, {}, [])


def test_inspector_crops_are_the_results_crops(tmp_path, zoom_of):
    from vtdemo.sr.compare import compare

    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8))
    state = sr_tab.save_comparison(compare(image, ["bicubic"], scale=2, mode="degrade"))
    crops = sr_tab.inspector_crops(state, 30.0, 70.0, 3)
    assert [c for _, c in crops][0] == "input (nearest)" and crops[-1][1] == "HR reference"
    result = Image.open(state["results"][0]["path"])
    zoom_of(Image.open(crops[1][0]), result, (0.3, 0.7), 3, sr_tab.VIEW)
    lr = Image.open(state["input"])  # half the size: twice the zoom shows the same content
    zoom_of(Image.open(crops[0][0]), lr, (0.3, 0.7), 6, sr_tab.VIEW)


def test_inspector_crops_are_made_once_per_view_and_bounded_on_disk(monkeypatch):
    from vtdemo.sr.compare import compare

    image = Image.fromarray(np.random.default_rng(1).integers(0, 256, (40, 48, 3), dtype=np.uint8))
    state = sr_tab.save_comparison(compare(image, ["bicubic"], scale=2, mode="degrade"))
    folder = Path(state["input"]).parent / "zoom"
    first = sr_tab.inspector_crops(state, 30.0, 70.0, 3)
    made = {p: Path(p).stat().st_mtime_ns for p, _ in first}
    again = sr_tab.inspector_crops(state, 30.2, 69.9, 3.3)  # a client's floats: the same view on the grid
    assert [p for p, _ in again] == [p for p, _ in first]
    assert {p: Path(p).stat().st_mtime_ns for p, _ in again} == made  # reused, not written again
    monkeypatch.setattr(sr_tab, "MAX_CROP_FILES", 12)
    for i in range(10):  # ten new views, three crops each
        sr_tab.inspector_crops(state, float(i * 7), 50.0, 2)
    assert len(list(folder.glob("*.png"))) <= 12


def _zlib_level_of_png(path) -> int:
    """The FLEVEL field of the first IDAT's zlib header: 0 fastest … 3 maximum (zlib level 1 → 0, 6 → 2)."""
    data = Path(path).read_bytes()
    idat = data.index(b"IDAT") + 4
    return data[idat + 1] >> 6


def test_big_results_are_written_fast_with_progress_and_the_zip_holds_them(monkeypatch):
    import zipfile

    from vtdemo.sr.compare import Comparison, SRResult

    from vtdemo import imaging

    monkeypatch.setattr(imaging, "FAST_PNG_PIXELS", 1000)
    rng = np.random.default_rng(0)
    small = Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8))  # 600 px
    big = Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8))  # 1,600 px
    comparison = Comparison(input=small, reference=None, scale=2, mode="lr",
                            results=[SRResult("a", "A", small, 0.1), SRResult("b", "B", big, 0.2)])
    seen = []
    state = sr_tab.save_comparison(comparison, lambda f, what: seen.append((f, what)))
    small_png, big_png = (r["path"] for r in state["results"])
    assert _zlib_level_of_png(small_png) == 2 and _zlib_level_of_png(big_png) == 0
    assert np.array_equal(np.asarray(Image.open(big_png)), np.asarray(big))  # still lossless
    assert [w for _, w in seen] == ["writing result 1/2 as PNG (30×20)", "writing result 2/2 as PNG (40×40)",
                                    "packing the zip"]
    with zipfile.ZipFile(state["zip"]) as z:
        assert sorted(z.namelist()) == sorted(Path(p).name for p in (small_png, big_png))
        assert z.read(Path(big_png).name) == Path(big_png).read_bytes()


def test_transparency_survives_the_sr_tab_as_it_does_upscale(tmp_path):
    """RGBA in → RGBA results and downloads, alpha upscaled as vtdemo.upscale does it (pixels under alpha 0 stay
    hidden); the scores of a reference run are computed on the colours."""
    from vtdemo.sr.engine import upscale

    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (20, 24, 4), dtype=np.uint8)
    rgba[:, :8, 3] = 0  # a transparent left band
    path = tmp_path / "logo.png"
    Image.fromarray(rgba, "RGBA").save(path)
    comparison, state = sr_tab._compare(str(path), ["bicubic"], "lr", 2, None, {})
    saved = Image.open(state["results"][0]["path"])
    assert saved.mode == "RGBA" and Image.open(state["input"]).mode == "RGBA"
    assert np.array_equal(np.asarray(saved), np.asarray(upscale(path, "bicubic", scale=2)))
    with zipfile.ZipFile(state["zip"]) as z:
        assert Image.open(io.BytesIO(z.read(Path(state["results"][0]["path"]).name))).mode == "RGBA"
    reference = tmp_path / "ref.png"
    Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(reference)
    scored, _ = sr_tab._compare(str(path), ["bicubic"], "reference", 2, str(reference), {})
    assert scored.results[0].image.mode == "RGBA" and scored.results[0].psnr_y is not None


def _page_handler(elem_id: str):
    """The function the built page runs for the click on ``elem_id`` (the button), as Gradio will call it (not its
    page-only script, which has no server function)."""
    from vtdemo.ui.app import build_app

    demo = build_app()
    for fn in demo.fns.values():
        if fn.fn is not None and any(getattr(demo.blocks.get(t[0]), "elem_id", None) == elem_id for t in fn.targets):
            return fn.fn
    raise AssertionError(f"no handler for {elem_id}")


def test_a_failed_run_shows_one_message_and_clears_the_old_results(tmp_path):
    """A wrong-size reference after a good run: the page shows the message, and no result of the good run stays
    beside it (no red error pills either: the page's handler returns instead of raising)."""
    handler = _page_handler("sr-run")
    image, reference = tmp_path / "in.png", tmp_path / "ref.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (12, 16, 3), dtype=np.uint8)).save(image)
    Image.new("RGB", (20, 20)).save(reference)  # smaller than 2× the input (32×24)
    good = handler(str(image), ["bicubic"], "lr", 2, None, {}, 0, 50, 50, 4, progress=lambda *a, **k: None)
    assert good[0] is not None and good[5]  # state and inspector crops
    failed = handler(str(image), ["bicubic"], "reference", 2, str(reference), {}, 0, 50, 50, 4,
                     progress=lambda *a, **k: None)
    state, summary, left, right, slider, inspector, table, plot, files = failed
    assert summary.startswith("⚠️") and "reference" in summary.lower()
    assert state is None and slider is None and inspector == [] and table is None and plot is None and files is None
    assert left == gr.skip() and right == gr.skip()


def test_a_bad_checkpoint_upload_is_a_message_beside_it(tmp_path):
    handler = _page_handler("sr-checkpoint")
    junk = tmp_path / "random.pth"
    junk.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    text, uploads, models = handler(str(junk), 4, {}, ["bicubic"])
    assert text.startswith("⚠️") and "checkpoint" in text.lower()
    assert uploads == gr.skip() and models == gr.skip()  # the session's models untouched


def test_stop_ends_the_running_comparison_at_its_next_progress_report(tmp_path):
    from types import SimpleNamespace

    from vtdemo.ui.stop import STOPPED, ask_stop

    handler = _page_handler("sr-run")
    image = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(image)
    mine, other = SimpleNamespace(session_hash="mine"), SimpleNamespace(session_hash="other")
    reports = []

    def progress(fraction, desc=None):  # the visitor presses Stop while the first model runs
        reports.append(desc)
        ask_stop("sr", other)  # another visitor's Stop does nothing to this job
        if len(reports) == 2:
            ask_stop("sr", mine)

    stopped = handler(str(image), ["bicubic", "hat-demo-x4"], "lr", 4, None, {}, 16, 50, 50, 4,
                      progress=progress, request=mine)
    assert stopped[0] is None and stopped[1] == f"⚠️ {STOPPED}" and len(reports) == 2
    ask_stop("sr", other)  # pressed when nothing of theirs runs: not remembered for their next run
    for who in (mine, other):  # a Stop belongs to the run it stopped, not to the next one
        again = handler(str(image), ["bicubic"], "lr", 4, None, {}, 0, 50, 50, 4, progress=lambda *a, **k: None,
                        request=who)
        assert again[0] is not None


def test_the_progress_says_the_estimated_time_before_the_work(monkeypatch, tmp_path):
    from vtdemo.sr import compare as compare_module

    monkeypatch.setattr(compare_module, "seconds_per_output_pixel",
                        lambda net, device=None, precision=None: 0.0 if net.module is None else 0.01)
    image = tmp_path / "in.png"
    Image.new("RGB", (20, 10)).save(image)
    seen = []
    compare_module.compare(str(image), ["bicubic", "hat-demo-x4"], scale=4, progress=lambda f, w: seen.append(w))
    assert seen[0].startswith("model 1/2") and seen[0].endswith("about 32 s in all (estimated)")  # 3200 px × 0.01
    hat = [line for line in seen if line.startswith("model 2/2")]
    assert len(hat) > 1 and all(line.startswith("model 2/2 · HAT-demo ×4") for line in hat)  # one name per model
    assert not any("hat-demo-x4" in line for line in hat)
    assert compare_module.duration(3000) == "50 min" and compare_module.duration(7200) == "2.0 h"


def test_lam_errors_and_stop_go_to_its_message_area(tmp_path):
    """The LAM tab follows the same rules: a refused point is a message with no maps of an earlier run beside it,
    and Stop ends a running LAM at its next batch of path steps."""
    from types import SimpleNamespace

    from vtdemo.ui.stop import STOPPED, ask_stop

    handler = _page_handler("lam-run")
    image = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(image)
    maps, plot, summary, preview, offset = handler(str(image), ["bicubic"], 4, 5, True, 500, 3,
                                                   progress=lambda *a, **k: None)
    assert summary.startswith("⚠️") and "500" in summary and maps == [] and preview is None and plot is None
    me = SimpleNamespace(session_hash="me")
    maps, plot, summary, preview, offset = handler(str(image), ["bicubic"], 4, 20, True, 10, 10, request=me,
                                                   progress=lambda *a, **k: ask_stop("lam", me))
    assert summary == f"⚠️ {STOPPED}" and maps == []


def test_captions_put_the_numbers_first(tmp_path):
    """A caption cut to fit its image must lose the model's name, not its time and scores."""
    image = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(image)
    comparison, _ = sr_tab._compare(str(image), ["bicubic"], "degrade", 2, None, {})
    caption = comparison.results[0].caption()
    psnr, ssim_time, name = caption.split(" / ")[0], caption.split(" / ")[1], caption.split(" · ")[-1]
    assert float(psnr.removesuffix(" dB")) > 0 and " s" in ssim_time and name == "Bicubic"


def test_stop_reaches_every_run_of_the_session_and_the_table_empties():
    """A double click starts two runs of one session: Stop ends both — also the one still running after the other
    finished — and nothing stays recorded after them."""
    import contextlib
    from types import SimpleNamespace

    from vtdemo.ui import stop

    me = SimpleNamespace(session_hash="twice")
    with contextlib.ExitStack() as runs:
        first = runs.enter_context(contextlib.ExitStack())
        first.enter_context(stop.stoppable(me, "sr"))
        second = runs.enter_context(stop.stoppable(me, "sr"))
        first.close()  # the first run ends
        stop.ask_stop("sr", me)
        with pytest.raises(gr.Error, match="Stopped"):
            second()
    assert stop._RUNNING == {}
    with stop.stoppable(me, "sr") as third:
        third()  # a new run starts unstopped


def test_the_slider_can_show_the_input_and_the_reference(tmp_path):
    """Beside the results, the slider's pickers offer the input at the output's size (nearest: the pixels given,
    nothing made up) and the high-resolution reference when there is one."""
    rng = np.random.default_rng(4)
    path = tmp_path / "hr.png"
    Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(path)
    state, _, left, right, pair, *_ = sr_tab.run_comparison(str(path), ["bicubic"], "degrade", 2, None, {}, 0,
                                                            0.5, 0.5, 2)
    keys = [key for _, key in left["choices"]]
    assert keys == ["bicubic", sr_tab.INPUT_VIEW, sr_tab.REFERENCE_VIEW] and left["value"] == "bicubic"
    nearest, reference = sr_tab.slider_pair(state, sr_tab.INPUT_VIEW, sr_tab.REFERENCE_VIEW)
    lr = Image.open(state["input"])
    expected = np.asarray(lr).repeat(2, axis=0).repeat(2, axis=1)  # nearest ×2, written out
    assert np.array_equal(np.asarray(Image.open(nearest)), expected)
    assert np.array_equal(np.asarray(Image.open(reference)), np.asarray(Image.open(state["reference"])))


def test_one_refused_lam_model_keeps_the_others_maps(tmp_path, monkeypatch):
    """Three models, the second refused (its time over the limit): the first and third maps are shown, the refusal
    is a line in the summary (the first model's finished map was thrown away before)."""
    from vtdemo.ui import on_device

    real = on_device.lam_for_image

    def refuse_hat(image, model, point, **kwargs):
        if model == "hat-demo-x4":
            raise gr.Error("LAM with 5 path steps would take about 999 s here, over this server's limit",
                           print_exception=False)
        return real(image, model, point, **kwargs)

    monkeypatch.setattr(on_device, "lam_for_image", refuse_hat)
    handler = _page_handler("lam-run")
    image = tmp_path / "in.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(image)
    maps, plot, summary, preview, offset = handler(str(image), ["bicubic", "hat-demo-x4", "cnn-demo-x4"], 4, 5, True,
                                                   10, 10, progress=lambda *a, **k: None)
    assert [caption.split(" · ")[-1] for _, caption in maps] == ["Bicubic", "CNN-demo ×4 (compact SRVGG, hat-demo's "
                                                                  "size, trained by vtdemo)"]
    assert "HAT-demo ×4" in summary and "999 s" in summary and preview is not None
    monkeypatch.setattr(on_device, "lam_for_image", lambda *a, **k: refuse_hat(a[0], "hat-demo-x4", a[2]))
    maps, _, summary, _, _ = handler(str(image), ["bicubic"], 4, 5, True, 10, 10, progress=lambda *a, **k: None)
    assert maps == [] and summary.startswith("⚠️") and "999 s" in summary  # nothing ran: the run failed


def test_a_click_outside_the_models_crop_is_a_message_not_an_error(tmp_path):
    handler = _page_handler("attn-show")
    image = tmp_path / "wide.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (60, 200, 3), dtype=np.uint8)).save(image)
    overlay, info, *_ = handler(str(image), "vit-demo", 2, 30, -1, "mean", "patch")  # left of the centre crop
    assert isinstance(overlay, type(gr.skip())) and info.startswith("⚠️") and "centre crop" in info
