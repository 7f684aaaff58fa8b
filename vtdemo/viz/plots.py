"""Plotly figures for the tabs."""
from __future__ import annotations

import math

import plotly.graph_objects as go
from plotly.subplots import make_subplots


def sr_metrics_figure(rows: list[dict]) -> go.Figure:
    """PSNR-Y (left axis) and time (right axis) per model as side-by-side bars, both axes from zero (a cut axis
    makes 0.3 dB look like a doubling; the numbers are written on the bars); time only when nothing was scored."""
    names = [r["short"] for r in rows]  # the axis must fit a phone
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    scored = finite = [r for r in rows if r.get("psnr_y") is not None and math.isfinite(r["psnr_y"])]
    if scored:  # an identical result (PSNR ∞) has no bar: its label says so
        fig.add_bar(x=names, y=[r["psnr_y"] if r in finite else None for r in rows], name="PSNR-Y (dB)",
                    marker_color="#4f46e5", textposition="outside", offsetgroup="psnr",
                    text=[f"{r['psnr_y']:.2f} dB" if r in finite else "∞ (identical)" if r.get("psnr_y") else ""
                          for r in rows])
        fig.update_yaxes(title_text="PSNR-Y (dB)", range=[0, max(r["psnr_y"] for r in scored) * 1.2],
                         secondary_y=False)
    fig.add_bar(x=names, y=[r["seconds"] for r in rows], name="time (s)", marker_color="#f97316",
                text=[f"{r['seconds']:.2f} s" for r in rows], textposition="outside",
                offsetgroup="time" if scored else None, secondary_y=bool(scored))  # alone: centred on its name
    top = max((r["seconds"] for r in rows), default=0) or 1.0
    fig.update_yaxes(title_text="time (s)", range=[0, top * 1.2], secondary_y=bool(scored))  # room for labels
    title = "PSNR-Y and time per model" if scored else "Time per model<br><sup>no reference: nothing to score</sup>"
    fig.update_layout(title=title, height=340, margin=dict(l=40, r=40, t=60, b=40), legend=dict(orientation="h"),
                      template="plotly_white", barmode="group", uniformtext=dict(minsize=9, mode="show"))
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
    fig.add_bar(x=list(range(len(weights))), y=[float(w) for w in weights], marker_color="#f97316")
    fig.update_layout(title="Channel-attention weights (sigmoid) of this block's CAB", xaxis_title="channel",
                      yaxis_range=[0, 1], height=260, margin=dict(l=40, r=20, t=50, b=40), template="plotly_white")
    return fig


def distance_figure(position: "np.ndarray", mixed: "np.ndarray", token_px: float) -> go.Figure:
    """Mean attention distance per head (lines) across layers, for φp and the mixed attention (PerViT's
    peripheral analysis): local heads early, broad heads later."""
    import numpy as np  # noqa: F401

    fig = make_subplots(rows=1, cols=2, subplot_titles=("position attention φp", "mixed attention"), shared_yaxes=True)
    layers = list(range(position.shape[0]))
    for h in range(position.shape[1]):
        for col, table in ((1, position), (2, mixed)):
            fig.add_scatter(x=layers, y=table[:, h] * token_px, mode="lines+markers", name=f"head {h}",
                            legendgroup=f"h{h}", showlegend=col == 1, row=1, col=col)
    fig.update_xaxes(title_text="block")
    fig.update_yaxes(title_text="mean attention distance (px)", row=1, col=1)
    fig.update_layout(height=340, margin=dict(l=50, r=20, t=50, b=40), template="plotly_white",
                      title="Peripheral analysis: how far each head looks")
    return fig


def depth_distance_figure(tables: dict[str, "np.ndarray"]) -> go.Figure:
    """The ViT paper's Fig. 7 for several models on one axis: every head's mean attention distance (px of the
    model's input) against relative depth (first layer 0, last 1), one colour per model."""
    import numpy as np

    fig = go.Figure()
    colours = ("#4c51bf", "#e53e3e", "#38a169", "#d69e2e", "#805ad5", "#319795")
    for i, (name, table) in enumerate(tables.items()):
        layers, heads = table.shape
        depth = np.repeat(np.arange(layers) / max(1, layers - 1), heads)
        values = table.reshape(-1)
        keep = np.isfinite(values)
        fig.add_scatter(x=depth[keep], y=values[keep], mode="markers", name=name,
                        marker=dict(color=colours[i % len(colours)], size=7, opacity=0.75),
                        hovertemplate=f"{name}<br>depth %{{x:.2f}}<br>%{{y:.1f}} px<extra></extra>")
        fig.add_scatter(x=np.arange(layers) / max(1, layers - 1), y=np.nanmean(table, 1), mode="lines",
                        line=dict(color=colours[i % len(colours)], width=1.5), showlegend=False, hoverinfo="skip")
    fig.update_xaxes(title_text="relative depth (first layer 0, last 1)", range=[-0.05, 1.05])
    fig.update_yaxes(title_text="mean attention distance (px of the model's input)", rangemode="tozero")
    fig.update_layout(height=380, margin=dict(l=60, r=20, t=50, b=50), template="plotly_white",
                      title="How far each head looks, by depth (dots: heads; lines: their mean)")
    return fig


def scaling_figure(points, exponents: dict[str, float]) -> go.Figure:
    """Latency against input pixels on log–log axes, one line per model, its fitted exponent in the legend."""
    fig = go.Figure()
    for model_id, k in exponents.items():
        mine = sorted((p for p in points if p.model == model_id), key=lambda p: p.size)
        fig.add_scatter(x=[p.size ** 2 for p in mine], y=[p.ms for p in mine], mode="lines+markers",
                        name=f"{model_id} (k = {k:.2f})", text=[f"{p.size}×{p.size}" for p in mine],
                        hovertemplate="%{text}: %{y:.0f} ms<extra></extra>")
    fig.update_xaxes(type="log", title_text="input pixels")
    fig.update_yaxes(type="log", title_text="latency (ms, batch 1)")
    fig.update_layout(height=380, margin=dict(l=60, r=20, t=50, b=50), template="plotly_white",
                      title="Cost vs input size: time ∝ pixels^k")
    return fig


def head_maps_figure(maps: "np.ndarray", query: tuple[int, int], title: str) -> go.Figure:
    """A grid of heat maps, one per head (``maps``: (heads, rows, cols)), the query marked."""
    heads = maps.shape[0]
    cols = min(heads, 4)
    rows = -(-heads // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[f"head {h}" for h in range(heads)],
                        horizontal_spacing=0.03, vertical_spacing=0.08)
    for h in range(heads):
        r, c = h // cols + 1, h % cols + 1
        fig.add_heatmap(z=maps[h][::-1], colorscale="Inferno", showscale=h == 0, row=r, col=c)
        fig.add_scatter(x=[query[1]], y=[maps.shape[1] - 1 - query[0]], mode="markers", showlegend=False,
                        marker=dict(color="cyan", size=8, symbol="x"), row=r, col=c)
    fig.update_xaxes(showticklabels=False)
    fig.update_yaxes(showticklabels=False, scaleanchor="x")
    fig.update_layout(height=220 * rows + 60, margin=dict(l=10, r=10, t=60, b=10), title=title,
                      template="plotly_white")
    return fig


def faithfulness_figure(explanations) -> go.Figure:
    """Deletion (left) and insertion (right) curves of each explanation's map, with the random map's dotted in the
    same colour: a faithful map deletes fast and inserts fast (AUCs in the legend)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("deletion (lower is better)", "insertion (higher is better)"),
                        shared_yaxes=True)
    colours = ("#4f46e5", "#f97316", "#059669", "#db2777")
    for i, e in enumerate(explanations):
        s, colour = e.scores, colours[i % len(colours)]
        steps = [k / (len(s.map.deletion) - 1) for k in range(len(s.map.deletion))]
        for col, (mine, rnd, auc, rauc) in enumerate((
                (s.map.deletion, s.random.deletion, s.map.deletion_auc, s.random.deletion_auc),
                (s.map.insertion, s.random.insertion, s.map.insertion_auc, s.random.insertion_auc)), 1):
            fig.add_scatter(x=steps, y=list(map(float, mine)), mode="lines", line=dict(color=colour), row=1, col=col,
                            name=f"{e.model} · {e.method} (AUC {auc:.2f})", legendgroup=e.model)
            fig.add_scatter(x=steps, y=list(map(float, rnd)), mode="lines", row=1, col=col, legendgroup=e.model,
                            line=dict(color=colour, dash="dot"), name=f"{e.model} · random map (AUC {rauc:.2f})")
    fig.update_xaxes(title_text="share of pixels changed, most relevant first", range=[0, 1])
    fig.update_yaxes(title_text="probability of the class", range=[0, 1.02], col=1)
    fig.update_layout(height=360, margin=dict(l=50, r=20, t=50, b=40), template="plotly_white",
                      legend=dict(orientation="h", y=-0.25))
    return fig
