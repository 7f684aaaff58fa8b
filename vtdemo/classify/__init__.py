"""Classification: each card's preprocessing, top-k with ImageNet (or a demo label set's) names."""
from vtdemo.classify.predict import classify, classify_heads

__all__ = ["classify", "classify_heads"]
