"""The work of a request that runs models, as functions decorated for Hugging Face ZeroGPU (``spaces.GPU``; a no-op
anywhere else). On a ZeroGPU Space a GPU is attached only while such a function runs, so every model forward of a
request happens inside one, and models reach CUDA there (``load_model`` places them on the default device), never at
import. Durations are sized to the longest work each may do within the server's limits."""
from __future__ import annotations

from vtdemo.runtime import gpu


@gpu(duration=120)
def compare(*args, **kwargs):
    from vtdemo.sr.compare import compare as run

    return run(*args, **kwargs)


@gpu(duration=120)
def upscale(*args, **kwargs):
    from vtdemo.sr.engine import upscale as run

    return run(*args, **kwargs)


@gpu(duration=120)
def lam_for_image(*args, **kwargs):
    from vtdemo.sr.lam import lam_for_image as run

    return run(*args, **kwargs)


@gpu(duration=30)
def hat_attention_for_image(*args, **kwargs):
    from vtdemo.explain.hat_attention import hat_attention_for_image as run

    return run(*args, **kwargs)


@gpu(duration=30)
def attention_capture(image, model_id: str):
    """The classifier's attention capture for ``image`` (cached: a later click runs nothing)."""
    from vtdemo.explain.probes import CACHE

    return CACHE.get(image, model_id)


@gpu(duration=20)
def classify_heads(*args, **kwargs):
    from vtdemo.classify import classify_heads as run

    return run(*args, **kwargs)


@gpu(duration=20)
def classify(*args, **kwargs):
    from vtdemo.classify.predict import classify as run

    return run(*args, **kwargs)
