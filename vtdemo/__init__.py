"""vtdemo — an interactive lab for HAT, SwinIR, ViT, DeiT, PVT, Swin and PerViT.

The public API lives in ``vtdemo.api``; it is imported on first use so that ``import vtdemo.ui`` and the CLI's
help stay fast (no torch import until a model is needed).
"""
__version__ = "0.1.0"
__all__ = ["list_models", "load_model", "upscale", "upscale_file", "compare", "attribution_map", "classify",
           "attention_map", "attention_distance", "explain_class", "inspect_image", "consistency_map", "disagreement_map",
           "__version__"]


def __getattr__(name: str):
    if name in __all__ and name != "__version__":
        from vtdemo import api

        for public in api.__all__:  # bind them all now: importing api bound subpackages of the same names
            globals()[public] = getattr(api, public)
        return globals()[name]
    raise AttributeError(f"module 'vtdemo' has no attribute {name!r}")
