"""Plotly figures for the tabs."""
from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots


def sr_metrics_figure(rows: list[dict]) -> go.Figure:
    """PSNR-Y (bars, left axis) and time (markers, right axis) per model; time only when nothing was scored."""
    names = [r["name"] for r in rows]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    scored = [r for r in rows if r.get("psnr_y") is not None]
    if scored:
        fig.add_bar(x=names, y=[r.get("psnr_y") for r in rows], name="PSNR-Y (dB)", marker_color="#4f46e5",
                    text=[f"{r['psnr_y']:.2f}" if r.get("psnr_y") is not None else "" for r in rows],
                    textposition="outside")
        low = min(r["psnr_y"] for r in scored)
        fig.update_yaxes(title_text="PSNR-Y (dB)", range=[low - 2, max(r["psnr_y"] for r in scored) + 2],
                         secondary_y=False)
    fig.add_scatter(x=names, y=[r["seconds"] for r in rows], name="time (s)", mode="markers+text",
                    marker=dict(size=12, color="#f97316", symbol="diamond"),
                    text=[f"{r['seconds']:.2f}s" for r in rows], textposition="top center",
                    secondary_y=bool(scored))
    fig.update_yaxes(title_text="time (s)", rangemode="tozero", secondary_y=bool(scored))
    title = "PSNR-Y and time per model" if scored else "Time per model (no reference: nothing to score)"
    fig.update_layout(title=title, height=340, margin=dict(l=40, r=40, t=50, b=40), legend=dict(orientation="h"),
                      template="plotly_white")
    return fig


def di_figure(values: list[tuple[str, float]]) -> go.Figure:
    """Diffusion index per model (the HAT paper's LAM comparison): higher = more input pixels used."""
    fig = go.Figure(go.Bar(x=[n for n, _ in values], y=[v for _, v in values], marker_color="#4f46e5",
                           text=[f"{v:.2f}" for _, v in values], textposition="outside"))
    top = max((v for _, v in values), default=1)
    fig.update_layout(title="Diffusion index (DI): how many input pixels the model uses", yaxis_title="DI",
                      yaxis_range=[0, top * 1.25 + 1], height=320, margin=dict(l=40, r=20, t=50, b=40),
                      template="plotly_white")
    return fig


def channel_figure(weights) -> go.Figure:
    """Channel-attention weights of one HAB's CAB, one bar per channel."""
    fig = go.Figure()
    if weights is None:
        fig.update_layout(title="No channel attention in this block (OCAB)", height=240, template="plotly_white")
        return fig
    fig.add_bar(x=list(range(len(weights))), y=[float(w) for w in weights], marker_color="#f97316")
    fig.update_layout(title="Channel-attention weights (sigmoid) of this block's CAB", xaxis_title="channel",
                      yaxis_range=[0, 1], height=260, margin=dict(l=40, r=20, t=50, b=40), template="plotly_white")
    return fig
