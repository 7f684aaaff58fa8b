"""Attention probes: what a model looks at for a clicked pixel, as maps in image coordinates."""
