"""bench sr: FLOP counts against the formula, every precision row present, the default one marked, and our HAT
equal to the official code's in fp32 (the table docs/performance.md quotes)."""
import torch
from torch import nn

from vtdemo.bench import _compute, sr


def test_flops_are_counted_as_the_formula_says():
    conv, linear = nn.Conv2d(3, 8, 3, padding=1), nn.Linear(8, 5)
    x = torch.rand(1, 3, 10, 12)
    assert _compute.model_gflop(conv, x) * 1e9 == 2 * (10 * 12) * 8 * 3 * 9  # 2·(output pixels)·Cout·Cin·k²
    assert _compute.model_gflop(linear, torch.rand(7, 8)) * 1e9 == 2 * 7 * 8 * 5


def test_attention_is_counted_on_the_cpu_too():
    """torch's counter knows the GPU attention kernels only; on the CPU HAT's attention was a third uncounted."""
    class Attention(torch.nn.Module):
        def forward(self, q):
            return torch.nn.functional.scaled_dot_product_attention(q, q, q, attn_mask=torch.zeros(1, 2, 16, 16))

    q = torch.rand(3, 2, 16, 8)  # batch 3, 2 heads, 16 tokens, head size 8
    assert _compute.model_gflop(Attention(), q) * 1e9 == 2 * (2 * 3 * 2 * 16 * 16 * 8)  # q·kᵀ and a·v


def test_every_precision_is_measured_against_the_reference(monkeypatch):
    monkeypatch.delenv("VTDEMO_PRECISION", raising=False)
    monkeypatch.setattr(_compute, "matmul_peak", lambda device, dtype: 100.0)  # measured by the real command only
    rows = sr.bench_sr(["hat-demo-x2"], size=16, repeats=1, device="cpu", onnx=False)
    assert [(r.model, r.dtype) for r in rows] == [("hat-demo-x2 (reference)", "fp32"), ("hat-demo-x2", "fp32"),
                                                   ("hat-demo-x2", "bf16"), ("hat-demo-x2", "int8")]
    ours = {r.dtype: r for r in rows[1:]}
    assert ours["fp32"].max_diff < 1e-4 < ours["bf16"].max_diff  # exact in fp32; bf16 really ran
    assert ours["int8"].max_diff > 1e-4
    from vtdemo.runtime import precision

    assert [r.dtype for r in rows if r.default] == [precision(torch.device("cpu"))]
    assert len({r.gflop for r in rows}) == 1 and rows[0].gflop > 0
    table = sr.format_rows(rows)
    assert table.count("(default)") == 1 and "% of matmul peak" in table


def test_the_printed_peak_is_the_one_the_table_divides_by(monkeypatch):
    calls = []
    monkeypatch.setattr(_compute, "matmul_peak", lambda device, dtype: calls.append(dtype) or 100.0)
    peaks = _compute.peaks(torch.device("cpu"))
    measured = len(calls)
    rows = sr.bench_sr(["hat-demo-x2"], size=16, repeats=1, device="cpu", onnx=False, peaks={"fp32": 50.0})
    assert len(calls) == measured  # not measured again
    assert "fp32 100 GFLOP/s" in _compute.peaks_line(peaks)
    fp32 = next(r for r in rows if r.dtype == "fp32" and "reference" not in r.model)
    share = 100 * fp32.gflop / (fp32.ms / 1e3) / 50.0
    assert f"| {share:.0f} % |" in sr.format_rows([fp32])


def test_the_photo_rows_say_what_ran_and_divide_by_its_peak(monkeypatch, tmp_path):
    """bench photo / bench sr --photo: the backend and precision that ran, the engine's tile plan, and useful
    GFLOP/s against the peak of the precision that ran."""
    from vtdemo.bench import photo

    monkeypatch.setenv("VTDEMO_CACHE_DIR", str(tmp_path))  # no recorded backend choice: torch
    monkeypatch.setenv("VTDEMO_TILE", "32")
    lines = list(photo.bench_photo(["hat-demo-x2"], "cpu", "fp32", (72, 40), end_to_end=True,
                                   peaks={"fp32": 50.0, "bf16": 1e6}))
    assert "72×40" in lines[0] and "PNG → PNG" in lines[0]
    cells = [c.strip() for c in lines[-1].strip("|").split("|")]
    # 72 = 3 tiles of 32 overlapping by ≥ 8 (hat-demo's window 8 divides 32), 40 = 2 tiles of 24
    assert cells[3:5] == ["torch · fp32", "6 × 32×24"]
    rate, share = int(cells[7]), float(cells[8].rstrip(" %"))
    assert rate > 0 and abs(share - 100 * rate / 50.0) <= 100 * 0.5 / 50.0 + 0.05  # the fp32 peak, not bf16's
