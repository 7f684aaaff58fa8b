"""Super-resolution tasks: the upscale engine, checkpoints, metrics. ``upscale`` and ``load_checkpoint`` are bound
on first use, so that the package's light modules (the benchmark table's names, the CLI's parser) import no torch."""
__all__ = ["load_checkpoint", "upscale"]


def __getattr__(name: str):
    if name == "upscale":
        from vtdemo.sr.engine import upscale

        return upscale
    if name == "load_checkpoint":
        from vtdemo.sr.checkpoints import load_checkpoint

        return load_checkpoint
    raise AttributeError(f"module 'vtdemo.sr' has no attribute {name!r}")
