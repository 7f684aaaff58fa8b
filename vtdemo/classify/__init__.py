"""Classification: each card's preprocessing, top-k with ImageNet (or a demo label set's) names.

``vtdemo.classify`` is both this package and the public function ``vtdemo.classify(image, model)``: whichever of the
two Python's import system leaves bound on ``vtdemo``, calling it classifies.
"""
import sys
import types

from vtdemo.classify.predict import classify, classify_heads

__all__ = ["classify", "classify_heads"]


class _CallablePackage(types.ModuleType):
    def __call__(self, *args, **kwargs):
        return classify(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
