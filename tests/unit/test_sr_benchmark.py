"""benchmark sr on folders the project makes: the papers' protocol recomputed here with PIL and the formula."""
import numpy as np
import pytest
from PIL import Image

from vtdemo.sr import benchmark


def _y(img):
    a = np.asarray(img.convert("RGB"), dtype=np.float64)
    return 16 + (65.481 * a[..., 0] + 128.553 * a[..., 1] + 24.966 * a[..., 2]) / 255


def _psnr(a, b, crop):
    ya, yb = _y(a)[crop:-crop, crop:-crop], _y(b)[crop:-crop, crop:-crop]
    return 10 * np.log10(255 ** 2 / np.mean((ya - yb) ** 2))


@pytest.fixture
def hr_folder(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "Set5"  # a known benchmark's name: the paper's bicubic number is shown
    folder.mkdir()
    for i in range(3):
        smooth = Image.fromarray(rng.integers(0, 256, (9 + i, 11, 3), dtype=np.uint8)).resize((50 + 2 * i, 61))
        smooth.save(folder / f"img{i}.png")
    return folder


def test_hr_only_folder_is_degraded_then_scored(hr_folder):
    rows = benchmark.benchmark(hr_folder, ["bicubic"], scale=2)
    expected = []
    for path in sorted(hr_folder.glob("*.png")):  # the papers' protocol, written out with PIL
        hr = Image.open(path).convert("RGB")
        hr = hr.crop((0, 0, hr.width - hr.width % 2, hr.height - hr.height % 2))
        lr = hr.resize((hr.width // 2, hr.height // 2), Image.Resampling.BICUBIC)
        channels = [Image.fromarray(np.asarray(band, dtype=np.float32) / 255, "F").resize(
            hr.size, Image.Resampling.BICUBIC) for band in lr.split()]
        sr = np.stack([np.rint(np.clip(np.asarray(c), 0, 1) * 255) for c in channels], -1).astype(np.uint8)
        expected.append(_psnr(Image.fromarray(sr), hr, 2))
    assert rows[0].images == 3 and rows[0].psnr_y == pytest.approx(np.mean(expected), abs=1e-6)
    assert rows[0].reported == "33.66 / 0.9299"  # Set5 ×2 bicubic in the papers' tables


def test_lr_pairs_are_used_when_given_and_tables_are_written(hr_folder, tmp_path):
    folder = tmp_path / "mine"
    (folder / "HR").mkdir(parents=True)
    (folder / "LR_bicubic" / "X2").mkdir(parents=True)
    for path in sorted(hr_folder.glob("*.png")):
        hr = Image.open(path).convert("RGB")
        hr = hr.crop((0, 0, hr.width - hr.width % 2, hr.height - hr.height % 2))
        hr.save(folder / "HR" / path.name)
        hr.resize((hr.width // 2, hr.height // 2), Image.Resampling.NEAREST).save(
            folder / "LR_bicubic" / "X2" / f"{path.stem}x2.png")
    given = benchmark.benchmark(folder, ["bicubic"], scale=2)[0]
    degraded = benchmark.benchmark(hr_folder, ["bicubic"], scale=2)[0]
    assert given.psnr_y != pytest.approx(degraded.psnr_y, abs=1e-3)  # the nearest-neighbour LR files were used
    assert given.reported == ""  # not a known benchmark
    table = benchmark.to_markdown([given], folder, 2)
    assert "| Bicubic |" in table and f"{given.psnr_y:.2f}" in table
    csv = benchmark.to_csv([given]).splitlines()
    assert csv[0].startswith("model,name,psnr_y") and csv[1].startswith("bicubic,Bicubic,")


def test_the_sr_tab_benchmarks_uploaded_images_and_offers_the_table(hr_folder, monkeypatch):
    import gradio as gr

    from vtdemo.ui import sr_tab

    files = [str(p) for p in sorted(hr_folder.glob("*.png"))]
    table, downloads = sr_tab.run_benchmark(files, ["bicubic"], 2, "Set5", progress=lambda *a, **k: None)
    expected = benchmark.benchmark(hr_folder, ["bicubic"], scale=2)[0]
    assert f"| Bicubic | {expected.psnr_y:.2f} | {expected.ssim_y:.4f} |" in table and "33.66 / 0.9299" in table
    assert [p.rsplit(".", 1)[-1] for p in downloads] == ["csv", "md"]
    twice = sr_tab.run_benchmark(files * 2, ["bicubic"], 2, "Set5", progress=lambda *a, **k: None)[0]
    assert "(3 images;" in twice  # the same upload listed again is scored once
    monkeypatch.setenv("VTDEMO_MAX_BENCHMARK_IMAGES", "2")
    with pytest.raises(gr.Error, match="VTDEMO_MAX_BENCHMARK_IMAGES"):
        sr_tab.run_benchmark(files, ["bicubic"], 2, "", progress=lambda *a, **k: None)
    monkeypatch.setenv("VTDEMO_MAX_BENCHMARK_IMAGES", "20")
    monkeypatch.setenv("VTDEMO_MAX_JOB_SECONDS", "0")  # refused from the headers, before any model runs
    with pytest.raises(gr.Error, match="VTDEMO_MAX_JOB_SECONDS"):
        sr_tab.run_benchmark(files, ["bicubic", "hat-demo-x2"], 2, "", progress=lambda *a, **k: None)


def test_a_benchmark_is_estimated_whole_and_held_to_the_limit_between_images(tmp_path, monkeypatch):
    import time

    folder = tmp_path / "big"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.random.default_rng(i).integers(0, 256, (1024, 1024, 3), dtype=np.uint8)).save(
            folder / f"{i}.png")
    # bicubic has no model time: the estimate is degrading, upscaling and scoring, measured on a probe
    per_pixel = benchmark.pipeline_seconds_per_pixel(2)
    start = time.perf_counter()
    rows = benchmark.benchmark(folder, ["bicubic"], scale=2, max_seconds=600)
    real = time.perf_counter() - start
    assert per_pixel * 3 * 1024 * 1024 > real / 3  # not far under the real time (a probe's fixed costs: over)
    with pytest.raises(ValueError, match="VTDEMO_MAX_JOB_SECONDS") as refused:
        benchmark.benchmark(folder, ["bicubic"], scale=2, max_seconds=per_pixel * 3 * 1024 * 1024 / 2)
    assert "would take about" in str(refused.value)  # up front
    # an estimate that is short (here: made zero) is caught between images
    monkeypatch.setattr(benchmark, "pipeline_seconds_per_pixel", lambda scale: 0.0)
    with pytest.raises(ValueError, match=r"after [12] of 3 images"):
        benchmark.benchmark(folder, ["bicubic"], scale=2, max_seconds=real / 3 * 0.9)
    assert rows[0].images == 3


def test_the_benchmark_tab_scores_a_model_named_twice_once_and_can_be_stopped(hr_folder):
    import gradio as gr

    from vtdemo.ui import sr_tab

    files = [str(p) for p in sorted(hr_folder.glob("*.png"))]
    table, _ = sr_tab.run_benchmark(files, ["bicubic", "bicubic"], 2, "", progress=lambda *a, **k: None)
    assert table.count("| Bicubic |") == 1

    class Stopping:
        def __call__(self, *args, **kwargs):
            from vtdemo.ui.stop import ask_stop

            ask_stop("bench", request)

    request = type("Request", (), {"session_hash": "bench-stop-test"})()
    with pytest.raises(gr.Error, match="Stopped"):
        sr_tab.run_benchmark(files, ["bicubic"], 2, "", progress=Stopping(), request=request)


def test_scaling_builds_each_architecture_for_the_size_and_fits_the_exponent():
    from vtdemo.classify.scaling import at_size, measure
    from vtdemo.ui import models_tab

    vit = at_size("vit-demo", 128)  # 8-px patches: a 16×16 grid, position embeddings to match
    assert tuple(vit.patch_embed.grid_size) == (16, 16) and vit.pos_embed.shape[1] == 1 + 256
    deit = at_size("deit-demo", 128)  # the distilled class takes img_size through **kwargs
    assert tuple(deit.patch_embed.grid_size) == (16, 16)
    points, exponents = measure(["vit-demo", "pvt-demo"], [64, 128], repeats=1)
    assert [(p.model, p.size) for p in points] == [("vit-demo", 64), ("vit-demo", 128), ("pvt-demo", 64),
                                                    ("pvt-demo", 128)]
    for model_id, k in exponents.items():  # two sizes: the slope between them on log–log axes
        a, b = [p.ms for p in points if p.model == model_id]
        assert k == pytest.approx(np.log(b / a) / np.log(4), rel=1e-6)
    figure, _ = models_tab.scaling_figure(["vit-demo", "pvt-demo"], "64 128", progress=lambda *a, **k: None)
    assert [t.name.split(" (")[0] for t in figure.data] == ["vit-demo", "pvt-demo"]
    with pytest.raises(Exception, match="multiples of 32 between 32 and 1024"):
        models_tab.scaling_figure(["vit-demo"], "64 4096", progress=lambda *a, **k: None)
    with pytest.raises(Exception, match="at most 288 px here"):  # pervit-demo's attention grows with grid⁴
        models_tab.scaling_figure(["pervit-demo"], "64 1024", progress=lambda *a, **k: None)


def test_the_footprint_counts_the_bytes_alive_at_once_as_defined():
    import torch

    from vtdemo.classify.scaling import Footprint

    for device in ("cpu", "meta"):  # on the meta device nothing is allocated, and it counts the same
        with Footprint() as memory:
            a = torch.ones(1000, 1000, device=device)  # 4 MB
            b = a * 2  # 4 MB
            view = b[:500]  # a view: no bytes of its own
            c = b + 1  # 4 MB: three alive at once
            del b, view
            after = memory.now
            d = a.add_(1)  # in place: nothing new
        assert memory.peak == 12_000_000 and after == 8_000_000 and memory.now == 8_000_000, device
        del a, c, d


def test_the_cost_chart_is_estimated_before_it_runs_and_bounded(monkeypatch):
    import time

    import gradio as gr

    from vtdemo.classify import scaling
    from vtdemo.ui import models_tab

    ran = []
    real_time_at = scaling.time_at
    monkeypatch.setattr(scaling, "time_at", lambda m, s, *a, **k: ran.append((m, s)) or real_time_at(m, s, *a, **k))
    # PerViT's peripheral maps: an N²×channels tensor per block; traced on the meta device, never run
    gflop, mb = scaling.cost("pervit-demo", 256)
    small_gflop, small_mb = scaling.cost("pervit-demo", 128)
    assert mb > 8 * small_mb and gflop > 8 * small_gflop  # 4× the tokens: more than 4× (the N² part)
    monkeypatch.setenv("VTDEMO_CHART_MEMORY_MB", str(int(mb) - 1))
    with pytest.raises(gr.Error, match="VTDEMO_CHART_MEMORY_MB"):
        models_tab.scaling_figure(["vit-demo", "pervit-demo"], "64 256", progress=lambda *a, **k: None)
    assert ran == []  # nothing ran: the memory check comes first
    monkeypatch.delenv("VTDEMO_CHART_MEMORY_MB")
    monkeypatch.setenv("VTDEMO_MAX_JOB_SECONDS", "1")
    start = time.perf_counter()
    with pytest.raises(gr.Error, match="VTDEMO_MAX_JOB_SECONDS"):
        models_tab.scaling_figure(["vit-demo", "pervit-demo"], "64 160 224 288", progress=lambda *a, **k: None)
    assert time.perf_counter() - start < 30 and all(s == scaling.PROBE for _, s in ran)  # only the probe ran
    monkeypatch.delenv("VTDEMO_MAX_JOB_SECONDS")

    def stop_at_the_second_point(fraction, what):
        if fraction > 0:
            raise gr.Error("stopped")

    with pytest.raises(gr.Error, match="stopped"):
        scaling.measure(["vit-demo"], [64, 96, 128], report=stop_at_the_second_point, max_seconds=100)
    assert [s for _, s in ran if s != scaling.PROBE][-1:] == [64]  # one point, then the report stopped it
