"""The SR tab's PSNR/time chart: honest axes (from zero) and no label drawn over another bar."""
from vtdemo.viz.plots import sr_metrics_figure

ROWS = [dict(name="Bicubic", short="Bicubic", psnr_y=28.43, seconds=0.01),
        dict(name="HAT-demo ×4 (small, trained by vtdemo)", short="HAT-demo ×4", psnr_y=30.01, seconds=2.5),
        dict(name="same as reference", short="same as reference", psnr_y=float("inf"), seconds=1.0)]


def test_both_axes_start_at_zero_and_bars_sit_side_by_side():
    fig = sr_metrics_figure(ROWS)
    layout = fig.layout
    assert layout.yaxis.range[0] == 0 and layout.yaxis.range[1] >= 30.01  # PSNR from 0 dB, not from 26
    assert layout.yaxis2.range[0] == 0 and layout.yaxis2.range[1] >= 2.5
    psnr, time = fig.data
    assert psnr.type == time.type == "bar" and layout.barmode == "group"
    assert psnr.offsetgroup != time.offsetgroup  # on two axes, bars in one offset group would overlap
    assert list(psnr.text) == ["28.43 dB", "30.01 dB", "∞ (identical)"] and list(time.text)[1] == "2.50 s"
    assert list(psnr.x)[1] == "HAT-demo ×4"  # the short name: the axis fits a phone


def test_without_scores_only_time_is_drawn():
    fig = sr_metrics_figure([dict(name="Bicubic", short="Bicubic", psnr_y=None, seconds=0.02)])
    assert [t.name for t in fig.data] == ["time (s)"] and fig.layout.yaxis.range[0] == 0
