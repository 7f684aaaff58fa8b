"""Folders through a model: the ray engine writes the very files the local one does, a rerun skips what is done and
redoes what is not, a bad image is reported while the others complete."""
import hashlib
import json
import os
import socket
import sys

import numpy as np
import pytest
from PIL import Image

from vtdemo.batch.engines import EngineError, Plan
from vtdemo.batch.manifest import NAME, Manifest, ManifestBusy
from vtdemo.atomic import UMASK
from vtdemo.batch.upscale import UpscaleJob, upscale_folder
from vtdemo.cli import main
from vtdemo.sr.engine import upscale


def make_folder(tmp_path, corrupt=True):
    """Images this project made (random pixels of several shapes and modes), and a truncated PNG."""
    rng = np.random.default_rng(7)
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(rng.integers(0, 256, (20, 28, 3), dtype=np.uint8)).save(folder / "a.png")
    Image.fromarray(rng.integers(0, 256, (24, 16), dtype=np.uint8)).save(folder / "b.jpg")  # grayscale
    Image.fromarray(rng.integers(0, 256, (18, 18, 4), dtype=np.uint8)).save(folder / "c.png")  # with alpha
    Image.fromarray(rng.integers(0, 256, (16, 40, 3), dtype=np.uint8)).save(folder / "d.webp", lossless=True)
    if corrupt:
        (folder / "e.png").write_bytes((folder / "a.png").read_bytes()[:200])
    return folder


def digests(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.png"))}


def records(folder):
    return [json.loads(line) for line in (folder / NAME).read_text().splitlines()]


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the module (the CLI reuses a connection it finds, and leaves it open)."""
    ray = pytest.importorskip("ray", reason="Ray is an optional extra (pip install 'vtdemo[ray]')")
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    except RuntimeError as exc:  # once in a full run here Ray's GCS did not write its port file in time
        if "Timed out waiting for file" not in str(exc):
            raise
        ray.shutdown()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_writes_the_same_files_as_local_reports_the_bad_one_and_a_rerun_skips_the_rest(tmp_path, capsys,
                                                                                          local_ray):
    folder = make_folder(tmp_path)
    args = [str(folder), "-m", "hat-demo-x4", "--device", "cpu", "--precision", "fp32"]
    assert main(["upscale", *args, "-o", str(tmp_path / "local")]) == 1  # one image failed
    out = capsys.readouterr().out
    assert "4 upscaled" in out and "1 failed" in out and "e.png is truncated or corrupt" in out
    assert main(["upscale", *args, "-o", str(tmp_path / "ray"), "--engine", "ray", "--workers", "2"]) == 1
    out = capsys.readouterr().out
    assert "4 upscaled" in out and "e.png is truncated or corrupt" in out

    local, ray = digests(tmp_path / "local"), digests(tmp_path / "ray")
    assert sorted(ray) == ["a_hat-demo-x4_x4.png", "b_hat-demo-x4_x4.png", "c_hat-demo-x4_x4.png",
                           "d_hat-demo-x4_x4.png"]
    assert ray == local  # same names, same bytes
    expected = upscale(folder / "c.png", "hat-demo-x4", device="cpu", precision="fp32")  # the Python API's pixels
    assert np.array_equal(np.asarray(Image.open(tmp_path / "ray" / "c_hat-demo-x4_x4.png")), np.asarray(expected))
    assert Image.open(tmp_path / "ray" / "b_hat-demo-x4_x4.png").mode == "L"
    workers = {r["worker"] for r in records(tmp_path / "ray") if r["status"] == "done"}
    assert workers and f"{socket.gethostname()}:{os.getpid()}" not in workers  # computed in actors, not here

    before = (tmp_path / "ray" / NAME).read_text()
    mtimes = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "ray").glob("*.png")}
    assert main(["upscale", *args, "-o", str(tmp_path / "ray"), "--engine", "ray", "--workers", "2"]) == 1
    out = capsys.readouterr().out
    assert "0 upscaled, 4 already done, 1 failed" in out  # the corrupt file is tried again, nothing else
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "ray").glob("*.png")} == mtimes
    new = [json.loads(line) for line in (tmp_path / "ray" / NAME).read_text()[len(before):].splitlines()]
    assert [(r["output"], r["status"]) for r in new] == [("e_hat-demo-x4_x4.png", "failed")]


def run_bicubic(folder, out, **kwargs):
    job = UpscaleJob("bicubic", scale=2, **kwargs)
    return upscale_folder([str(folder)], job, str(out))


def test_an_interrupted_or_changed_item_is_redone_and_only_it(tmp_path):
    folder = make_folder(tmp_path, corrupt=False)
    out = tmp_path / "out"
    first = run_bicubic(folder, out)
    assert len(first.done) == 4 and first.ok
    # an interrupted write: the last record says "writing" and the file is half there
    a = out / "a_bicubic_x2.png"
    with Manifest(out) as manifest:
        manifest.append({**manifest.records[a.name], "status": "writing"})
    a.write_bytes(a.read_bytes()[:100])
    # a changed input, and an output changed after it was written
    Image.fromarray(np.zeros((12, 12, 3), np.uint8)).save(folder / "b.jpg")
    c = out / "c_bicubic_x2.png"
    c.write_bytes(c.read_bytes() + b"x")
    with open(out / NAME, "ab") as f:
        f.write(b'{"output": "d_bicubic_x2.png", "st\xe7\x8c')  # a line torn by a crash (mid-character): ignored
    second = run_bicubic(folder, out)
    assert sorted(p.name for p in second.done) == ["a_bicubic_x2.png", "b_bicubic_x2.png"]
    assert [p.name for p in second.skipped] == ["d_bicubic_x2.png"]
    assert np.array_equal(np.asarray(Image.open(a)), np.asarray(upscale(folder / "a.png", "bicubic", scale=2)))
    assert Image.open(out / "b_bicubic_x2.png").size == (24, 24)
    # the output changed after it was written is somebody's edit: kept unless forced
    assert second.failed == [(folder / "c.png", f"{c} exists and is not what this tool wrote there (use --force "
                                                "to overwrite it)")]
    assert c.read_bytes().endswith(b"x")
    forced = upscale_folder([str(folder)], UpscaleJob("bicubic", scale=2), str(out), force=True)
    assert [p.name for p in forced.done] == ["c_bicubic_x2.png"] and len(forced.skipped) == 3
    # another setting is another result: redone
    third = upscale_folder([str(folder)], UpscaleJob("bicubic", scale=2, tile=64), str(out))
    assert len(third.done) == 4 and not third.skipped
    assert len(run_bicubic(folder, out).done) == 4  # and back


def test_files_it_did_not_write_are_kept_and_a_second_run_on_the_same_folder_is_refused(tmp_path, capsys):
    folder = make_folder(tmp_path, corrupt=False)
    out = tmp_path / "out"
    out.mkdir()
    (out / "a_bicubic_x2.png").write_bytes(b"mine")
    summary = run_bicubic(folder, out)
    assert (out / "a_bicubic_x2.png").read_bytes() == b"mine" and len(summary.done) == 3 and not summary.ok
    assert "use --force" in summary.failed[0][1]
    with Manifest(out):
        with pytest.raises(ManifestBusy, match="another vtdemo run"):
            run_bicubic(folder, out)
        assert main(["upscale", str(folder), "-m", "bicubic", "--scale", "2", "-o", str(out)]) == 2
        assert "another vtdemo run is writing" in capsys.readouterr().err


def test_two_inputs_that_would_write_one_file_are_refused_before_any_work(tmp_path, capsys):
    folder = make_folder(tmp_path, corrupt=False)
    Image.new("RGB", (8, 8)).save(folder / "a.bmp")
    assert main(["upscale", str(folder), "-m", "bicubic", "-o", str(tmp_path / "out")]) == 2
    assert "would both be written to" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.png"))


def test_without_ray_the_ray_engine_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    folder = make_folder(tmp_path, corrupt=False)
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    assert main(["upscale", str(folder), "-m", "bicubic", "-o", str(tmp_path / "out"), "--engine", "ray"]) == 2
    assert 'pip install "vtdemo[ray]"' in capsys.readouterr().err
    with pytest.raises(EngineError, match="at least 1"):
        Plan("ray", workers=0)


def test_evaluate_on_ray_predicts_what_local_does_and_reports_a_bad_image(tmp_path, local_ray):
    from vtdemo.classify.evaluate import folder_top1
    from vtdemo.classify.labels import LABEL_SETS

    rng = np.random.default_rng(3)
    for _, synset, _ in LABEL_SETS["imagenette"][:3]:
        (tmp_path / synset).mkdir()
        for i in range(3):
            noise = rng.integers(0, 256, (40 + 7 * i, 50, 3), dtype=np.uint8)
            Image.fromarray(noise).save(tmp_path / synset / f"{i}.png")
    bad = tmp_path / LABEL_SETS["imagenette"][0][1] / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    local = folder_top1("vit-demo", tmp_path, batch=4)
    ray = folder_top1("vit-demo", tmp_path, batch=4, plan=Plan("ray", workers=2))
    assert local.images == ray.images == 9 and len(local.predictions) == 9
    assert ray.predictions == local.predictions and ray.top1 == local.top1
    assert [p for p, _ in ray.failed] == [p for p, _ in local.failed] == [str(bad)]


def test_benchmark_on_ray_scores_what_local_does(tmp_path, local_ray):
    from vtdemo.sr.benchmark import benchmark

    rng = np.random.default_rng(5)
    for i in range(3):
        small = Image.fromarray(rng.integers(0, 256, (8 + i, 10, 3), dtype=np.uint8))
        small.resize((36 + 2 * i, 40)).save(tmp_path / f"{i}.png")
    models = ["bicubic", "hat-demo-x2"]
    local = benchmark(tmp_path, models, scale=2, device="cpu", precision="fp32")
    ray = benchmark(tmp_path, models, scale=2, device="cpu", precision="fp32", plan=Plan("ray", workers=2))
    for a, b in zip(local, ray):
        assert (a.model, a.name, a.images) == (b.model, b.name, b.images) == (a.model, a.name, 3)
        assert a.psnr_y == pytest.approx(b.psnr_y, abs=1e-9) and a.ssim_y == pytest.approx(b.ssim_y, abs=1e-9)
    assert local[1].psnr_y != local[0].psnr_y  # two different models were scored
    (tmp_path / "3.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")  # stops the table on both engines, by name
    from vtdemo.imaging import ImageError

    for plan in (None, Plan("ray", workers=1)):
        with pytest.raises(ImageError, match="3.png"):
            benchmark(tmp_path, models, scale=2, device="cpu", precision="fp32", plan=plan)


def test_bench_batch_runs_every_engine_on_the_same_folder_and_checks_their_bytes_agree(local_ray):
    from vtdemo.bench.batch import bench_batch

    lines = bench_batch("hat-demo-x4", count=3, size=24, workers=(1, 2))
    rows = [line for line in lines if line.startswith("| ray")]
    assert len(rows) == 2 and all(row.endswith("| yes |") for row in rows)
    assert any(line.startswith("| local | ") for line in lines)


def test_more_workers_than_cores_is_refused_with_a_reason(tmp_path, capsys, local_ray):
    folder = make_folder(tmp_path, corrupt=False)
    assert main(["upscale", str(folder), "-m", "bicubic", "-o", str(tmp_path / "out"), "--engine", "ray",
                 "--workers", "3"]) == 2  # the module's Ray has 2 CPUs
    assert "3 workers were asked for; the Ray cluster has 2 CPUs" in capsys.readouterr().err


def test_a_gpu_run_on_a_cluster_without_gpus_is_refused_with_a_reason(tmp_path, local_ray):
    folder = make_folder(tmp_path, corrupt=False)
    with pytest.raises(EngineError, match="has no GPU"):
        upscale_folder([str(folder)], UpscaleJob("bicubic", scale=2), str(tmp_path / "out"),
                       plan=Plan("ray", device="cuda"))


def test_a_rerun_into_the_input_folder_does_not_upscale_its_own_results(tmp_path, capsys):
    folder = make_folder(tmp_path, corrupt=False)
    for _ in range(2):  # no -o: results next to the inputs
        assert main(["upscale", str(folder), "-m", "bicubic", "--scale", "2"]) == 0
    assert "0 upscaled, 4 already done, 0 failed" in capsys.readouterr().out
    assert not list(folder.glob("*_x2_bicubic_x2.png"))
    assert main(["upscale", str(folder / "a.png"), "-m", "bicubic", "-o", str(folder / "a.png"), "--force"]) == 2
    assert "would be overwritten by its own result" in capsys.readouterr().err


def test_links_planted_in_the_output_folder_are_never_written_through(tmp_path, capsys):
    folder = make_folder(tmp_path, corrupt=False)
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep")
    (out / "a_bicubic_x2.png.part").symlink_to(victim)  # the old fixed temporary name
    (out / "b_bicubic_x2.png").symlink_to(victim)  # the output's own name: not ours, kept
    summary = run_bicubic(folder, out)
    assert victim.read_text() == "keep" and len(summary.done) == 3
    assert not (out / "a_bicubic_x2.png").is_symlink() and (out / "b_bicubic_x2.png").is_symlink()
    assert not [p for p in out.iterdir() if p.name.endswith(".part") and not p.is_symlink()]
    other = tmp_path / "other"
    other.mkdir()
    (other / NAME).symlink_to(victim)
    assert main(["upscale", str(folder), "-m", "bicubic", "-o", str(other)]) == 2
    assert "must be a plain file" in capsys.readouterr().err and victim.read_text() == "keep"


def test_a_hostile_input_folder_hides_nothing_silently_and_cannot_reach_outside(tmp_path, capsys):
    folder = make_folder(tmp_path, corrupt=False)
    out = tmp_path / "out"
    # a manifest planted among the inputs, claiming two of them as this tool's results
    planted = [{"output": name, "status": "done", "output_sha256": "0" * 64} for name in ("a.png", "c.png")]
    planted.append({"output": "b.jpg", "status": "done",
                    "output_sha256": hashlib.sha256((folder / "b.jpg").read_bytes()).hexdigest()})
    (folder / NAME).write_text("".join(json.dumps(r) + "\n" for r in planted))
    secret = tmp_path / "elsewhere" / "secret.png"
    secret.parent.mkdir()
    Image.new("RGB", (8, 8), "red").save(secret)
    (folder / "link.png").symlink_to(secret)  # a link out of the folder
    escape = "\x1b[2J\x1b]0;pwned\x07"
    Image.new("RGB", (8, 8), "blue").save(folder / f"x{escape}.png")
    assert main(["upscale", str(folder), "-m", "bicubic", "--scale", "2", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    made = sorted(p.name for p in out.glob("*.png"))
    assert made == sorted(["a_bicubic_x2.png", "b_bicubic_x2.png", "c_bicubic_x2.png", "d_bicubic_x2.png",
                           f"x{escape}_bicubic_x2.png"])  # the manifest hid nothing (another folder is written)
    assert "link.png: a link to a file outside its folder" in printed and "secret" not in " ".join(made)
    assert "\x1b" not in printed and "x\\x1b[2J\\x1b]0;pwned\\x07" in printed  # escaped, not run by the terminal
    assert all((p.stat().st_mode & 0o777) == 0o666 & ~UMASK for p in out.glob("*.png"))  # as the umask says
    assert main(["upscale", str(folder / "link.png"), "-m", "bicubic", "--scale", "2", "-o",
                 str(tmp_path / "named.png")]) == 0  # a link the user names is read
    assert main(["upscale", str(folder), "-m", "bicubic", "--scale", "2", "-o", str(tmp_path / "all"),
                 "--follow-links"]) == 0
    assert (tmp_path / "all" / "link_bicubic_x2.png").is_file()
    # into the input folder itself, a record only hides the file whose bytes it recorded (b.jpg), and says so
    capsys.readouterr()
    assert main(["upscale", str(folder), "-m", "bicubic", "--scale", "2"]) == 0
    printed = capsys.readouterr().out
    assert "b.jpg: a result of an earlier run" in printed and (folder / "a_bicubic_x2.png").is_file()
    assert not (folder / "b_bicubic_x2.png").exists()


def test_a_torn_last_line_does_not_swallow_the_next_record(tmp_path):
    folder = make_folder(tmp_path, corrupt=False)
    out = tmp_path / "out"
    run_bicubic(folder, out)
    (out / "a_bicubic_x2.png").unlink()
    with open(out / NAME, "a") as f:
        f.write('{"output": "a_bic')  # no newline: the next append must start a line of its own
    assert [p.name for p in run_bicubic(folder, out).done] == ["a_bicubic_x2.png"]
    assert [p.name for p in run_bicubic(folder, out).skipped] == [f"{c}_bicubic_x2.png" for c in "abcd"]


def test_bad_options_are_refused_before_any_work(tmp_path, capsys):
    folder = make_folder(tmp_path, corrupt=False)
    for args, message in ((["-m", "bicubic", "--scale", "0"], "between 2 and 8"),
                          (["-m", "bicubic", "--workers", "2"], "--workers is for --engine ray")):
        assert main(["upscale", str(folder), *args, "-o", str(tmp_path / "out")]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
