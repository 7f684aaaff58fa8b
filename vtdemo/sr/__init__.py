"""Super-resolution tasks: the upscale engine, checkpoints, metrics."""
from vtdemo.sr.checkpoints import load_checkpoint
from vtdemo.sr.engine import upscale

__all__ = ["load_checkpoint", "upscale"]
