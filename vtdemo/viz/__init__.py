"""Pictures made from results: zoom crops, overlays, colour maps, plotly figures (no model code here)."""
