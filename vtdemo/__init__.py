"""vtdemo — an interactive lab for HAT, SwinIR, ViT, DeiT, PVT, Swin and PerViT."""
from vtdemo.api import list_models, load_model

__version__ = "0.1.0"
__all__ = ["list_models", "load_model", "__version__"]
