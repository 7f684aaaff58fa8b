"""Whole folders through a model — upscaling, classifier evaluation, the SR benchmark — in this process or on Ray,
with a manifest that makes a run resumable (``python -m vtdemo upscale FOLDER --engine ray``)."""
