"""What a lower precision costs on the benchmarks (../shared): bf16 is the default where the hardware computes it
natively, which is allowed only while it stays within 0.01 dB PSNR-Y of fp32 on Set5 and Set14."""
import pytest

from vtdemo.sr.benchmark import benchmark


@pytest.mark.parametrize("scale", [4, 2])
@pytest.mark.parametrize("dataset", ["Set5", "Set14"])
def test_bf16_is_within_a_hundredth_of_a_db_of_fp32(shared, dataset, scale):
    root = shared / "data" / "sr" / "benchmark" / dataset
    model = f"hat-demo-x{scale}"
    fp32 = benchmark(root, [model], scale, device="cpu", precision="fp32")[0]
    bf16 = benchmark(root, [model], scale, device="cpu", precision="bf16")[0]
    assert fp32.psnr_y != bf16.psnr_y  # bf16 really ran: the outputs differ
    assert abs(bf16.psnr_y - fp32.psnr_y) <= 0.01
    assert abs(bf16.ssim_y - fp32.ssim_y) <= 2e-4
