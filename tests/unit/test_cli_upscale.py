"""python -m vtdemo upscale: files and folders, outputs named and placed predictably, never overwritten silently."""
import numpy as np
import torch
from PIL import Image

from vtdemo.cli import main
from vtdemo.models.hat import HAT
from vtdemo.sr.engine import upscale


def make_folder(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(folder / "a.png")
    Image.fromarray(rng.integers(0, 256, (16, 16), dtype=np.uint8)).save(folder / "b.jpg")  # grayscale
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_folder_to_folder_with_bicubic(tmp_path, capsys):
    folder = make_folder(tmp_path)
    out = tmp_path / "out"
    assert main(["upscale", str(folder), "-m", "bicubic", "--scale", "3", "-o", str(out)]) == 0
    a, b = out / "a_bicubic_x3.png", out / "b_bicubic_x3.png"
    assert sorted(p.name for p in out.iterdir()) == [a.name, b.name, "vtdemo-manifest.jsonl"]
    assert Image.open(a).size == (90, 60) and Image.open(b).mode == "L"
    assert np.array_equal(np.asarray(Image.open(a)), np.asarray(upscale(folder / "a.png", "bicubic", scale=3)))


def test_never_overwrites_without_force(tmp_path, capsys):
    folder = make_folder(tmp_path)
    target = tmp_path / "one.png"
    target.write_bytes(b"keep me")
    assert main(["upscale", str(folder / "a.png"), "-m", "bicubic", "-o", str(target)]) == 1
    assert target.read_bytes() == b"keep me"
    assert "use --force" in capsys.readouterr().out
    assert main(["upscale", str(folder / "a.png"), "-m", "bicubic", "-o", str(target), "--force"]) == 0
    assert Image.open(target).size == (120, 80)


def test_outputs_land_next_to_inputs_by_default_and_checkpoints_work(tmp_path):
    from safetensors.torch import save_file

    folder = make_folder(tmp_path)
    model = HAT(upscale=2, embed_dim=12, depths=[1], num_heads=[2], window_size=4, compress_ratio=3,
                squeeze_factor=4, num_feat=8, mlp_ratio=1.0).eval()
    ckpt = tmp_path / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(ckpt))
    assert main(["upscale", str(folder / "a.png"), "-m", str(ckpt), "--backend", "torch"]) == 0
    result = Image.open(folder / "a_tiny_x2.png")
    with torch.no_grad():
        expected = upscale(folder / "a.png", model, backend="torch")
    assert np.array_equal(np.asarray(result), np.asarray(expected))


def test_clear_errors(tmp_path, capsys):
    assert main(["upscale", str(tmp_path / "missing.png"), "-m", "bicubic"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["upscale", str(tmp_path), "-m", "no-such-model"]) == 2
    assert "Unknown model id" in capsys.readouterr().err
    bad = tmp_path / "bad.png"
    bad.write_text("<html>")
    assert main(["upscale", str(bad), "-m", "bicubic"]) == 1
    assert "fail" in capsys.readouterr().out


def test_export_onnx_measures_and_records_the_auto_choice(tmp_path, monkeypatch, capsys):
    from vtdemo.cli import main
    from vtdemo.sr import backends
    from vtdemo.sr.engine import resolve_net

    monkeypatch.setenv("VTDEMO_CACHE_DIR", str(tmp_path))
    assert main(["export-onnx", "hat-demo-x2", "--tile", "16"]) == 0
    out = capsys.readouterr().out
    net = resolve_net("hat-demo-x2", device="cpu")
    backend, precision = backends.choose(net, __import__("torch").device("cpu"), 16)
    assert f"backend='auto' uses {backend} in {precision} for hat-demo-x2" in out


def test_the_precision_is_chosen_printed_and_refused_where_it_cannot_run(tmp_path, capsys, monkeypatch):
    folder = make_folder(tmp_path)
    monkeypatch.delenv("VTDEMO_PRECISION", raising=False)
    outputs = {}
    for precision in ("fp32", "int8"):
        out = tmp_path / f"{precision}.png"
        assert main(["upscale", str(folder / "a.png"), "-m", "hat-demo-x4", "--precision", precision, "-o",
                     str(out), "--device", "cpu"]) == 0
        assert f"· {precision} on cpu" in capsys.readouterr().err  # the progress bar's title
        outputs[precision] = np.asarray(Image.open(out))
    assert not np.array_equal(outputs["fp32"], outputs["int8"])
    monkeypatch.setenv("VTDEMO_PRECISION", "fp8")
    assert main(["upscale", str(folder / "a.png"), "-m", "hat-demo-x4", "-o", str(tmp_path / "x.png")]) == 2
    assert "VTDEMO_PRECISION" in capsys.readouterr().err
    monkeypatch.setenv("VTDEMO_PRECISION", "fp16")
    assert main(["upscale", str(folder / "a.png"), "-m", "hat-demo-x4", "-o", str(tmp_path / "x.png"),
                 "--device", "cpu"]) == 2
    assert "GPU only" in capsys.readouterr().err


def test_a_skipped_output_gets_no_progress_bar(tmp_path, capsys):
    folder = make_folder(tmp_path)
    target = tmp_path / "one.png"
    target.write_bytes(b"keep me")
    assert main(["upscale", str(folder / "a.png"), "-m", "bicubic", "-o", str(target)]) == 1
    out, err = capsys.readouterr()
    assert "skip" in out and "100%" not in err and "it/s" not in err and "image/s" not in err
