"""``python -m vtdemo bench hostile``: what each hostile input costs the server — peak memory added and time, each in
a fresh process (so one case's peak does not hide another's). The files are generated here (a 1×60000 PNG, a float
TIFF, a data URL of a 20000² PNG, self-referencing / stride-0 / zip-bomb checkpoints); the README's "before / now"
table was measured with it."""
from __future__ import annotations

import base64
import io
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

CASES = ("line", "tiff", "dataurl", "loop", "stride0", "zipbomb", "bicubic4096", "lam64x100", "lam128x100")


def make_files(folder: Path) -> None:
    import numpy as np
    import torch
    from PIL import Image

    from vtdemo.models.hat import HAT

    Image.new("RGB", (1, 60000), "red").save(folder / "line.png")
    Image.fromarray(np.zeros((4096, 4096), np.float32), "F").save(folder / "float.tiff", compression="tiff_deflate")
    buf = io.BytesIO()
    Image.new("L", (20000, 20000)).save(buf, format="PNG")
    (folder / "dataurl.txt").write_text("data:image/png;base64," + base64.b64encode(buf.getvalue()).decode())
    loop: dict = {}
    loop["model"] = loop
    torch.save(loop, folder / "loop.pth")
    hat = HAT(upscale=4, embed_dim=12, depths=[1], num_heads=[2], window_size=4, compress_ratio=3, squeeze_factor=4,
              num_feat=8, mlp_ratio=1.0)
    state = {k: v.contiguous() for k, v in hat.state_dict().items()}
    state["conv_first.weight"] = torch.zeros(1).expand(2048, 3, 3, 3)
    torch.save({"params_ema": state}, folder / "stride0.pth")
    torch.save({"params": {"w": torch.zeros(500_000_000)}}, folder / "plain.pth")  # 2 GB of zeros, deflated:
    with zipfile.ZipFile(folder / "plain.pth") as zin, \
            zipfile.ZipFile(folder / "bomb.pth", "w", zipfile.ZIP_DEFLATED) as zout:  # ~2 MB on disk
        for item in zin.infolist():
            zout.writestr(item.filename, zin.read(item.filename))
    (folder / "plain.pth").unlink()
    Image.linear_gradient("L").resize((4096, 4096)).convert("RGB").save(folder / "big.png")  # small file, 16.8 MP


def _case(case: str, folder: Path):
    """Run one case; returns a short description of its outcome."""
    import numpy as np
    from PIL import Image

    if case == "line":
        from vtdemo.classify import classify

        return classify(str(folder / "line.png"), "pvt-demo", 1)[0]
    if case == "tiff":
        from vtdemo.imaging import decode_image

        return decode_image(str(folder / "float.tiff")).size
    if case == "dataurl":
        from vtdemo.imaging import decode_image, save_data_url

        # what the upload component does with a pasted data URL: the size check, then our decoder
        path = save_data_url((folder / "dataurl.txt").read_text(), folder / "pasted")
        return decode_image(path).size
    if case in ("loop", "stride0", "zipbomb"):
        from vtdemo.sr.checkpoints import load_checkpoint

        module = load_checkpoint(folder / {"zipbomb": "bomb.pth"}.get(case, f"{case}.pth")).model
        return f"built {sum(p.numel() for p in module.parameters()):,} parameters"
    if case == "bicubic4096":
        from vtdemo.sr.engine import upscale

        return upscale(str(folder / "big.png"), "bicubic", scale=2).size
    if case.startswith("lam"):
        from vtdemo.sr.lam import lam_for_image

        side, steps = (int(v) for v in case[3:].split("x"))
        img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8))
        return f"DI {lam_for_image(img, 'hat-demo-x4', (side // 2, side // 2), scale=4, steps=steps).di:.2f}"
    raise ValueError(f"unknown case {case!r}")


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_peak() -> float:
    """Reset this process's peak-RSS mark (Linux ``clear_refs``; ``ru_maxrss`` would carry the parent's peak across
    exec) and return the resident memory now, in MB."""
    Path("/proc/self/clear_refs").write_text("5")
    return _status_mb("VmRSS")


def peak_growth(start: float) -> float:
    """Peak resident memory (MB) reached since ``start_peak``, above what was resident then."""
    return _status_mb("VmHWM") - start


def measure(case: str, folder: Path) -> str:
    """In this process: peak RSS added by ``case`` and its wall time."""
    import vtdemo.classify  # noqa: F401 - imports are not part of the measurement
    import vtdemo.sr.checkpoints  # noqa: F401

    before = start_peak()
    start = time.perf_counter()
    try:
        outcome = _case(case, folder)
    except Exception as exc:  # noqa: BLE001 - a refusal is the outcome being measured
        outcome = f"refused: {type(exc).__name__}: {str(exc)[:110]}"
    return f"{case:12s} +{peak_growth(before):6.0f} MB peak  {time.perf_counter() - start:6.2f} s  -> {outcome}"


def run(cases: list[str] | None = None, timeout: float = 600) -> list[str]:
    """One line per case, each measured in a fresh interpreter (a case that never returns is reported so)."""
    folder = Path(tempfile.mkdtemp(prefix="vtdemo-hostile-"))
    make_files(folder)
    lines = []
    for case in cases or CASES:
        try:
            done = subprocess.run([sys.executable, "-m", "vtdemo.bench_hostile", case, str(folder)],
                                  capture_output=True, text=True, timeout=timeout)
            lines.append(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else
                         f"{case:12s} failed: {done.stderr.strip().splitlines()[-1:]}")
        except subprocess.TimeoutExpired:
            lines.append(f"{case:12s} did not return within {timeout:.0f} s")
    return lines


if __name__ == "__main__":
    print(measure(sys.argv[1], Path(sys.argv[2])))
