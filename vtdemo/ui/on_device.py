"""The work of a request that runs models, as functions decorated for Hugging Face ZeroGPU (``spaces.GPU``; a no-op
anywhere else). On a ZeroGPU Space a GPU is attached only while such a function runs, so every model forward of a
request happens inside one, and models reach CUDA there (``load_model`` places them on the default device), never at
import. Durations are sized to the longest work each may do within the server's limits."""
from __future__ import annotations

import importlib

from vtdemo.runtime import gpu


def _on_gpu(duration: int, module: str, name: str):
    """``module.name`` run inside a GPU function of ``duration`` seconds (imported on first call: building the app
    stays free of torch)."""

    def run(*args, **kwargs):
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    run.__name__ = run.__qualname__ = name
    return gpu(duration=duration)(run)


compare = _on_gpu(120, "vtdemo.sr.compare", "compare")
sr_benchmark = _on_gpu(600, "vtdemo.sr.benchmark", "benchmark")  # refused up front over VTDEMO_MAX_JOB_SECONDS
upscale = _on_gpu(120, "vtdemo.sr.engine", "upscale")
lam_for_image = _on_gpu(120, "vtdemo.sr.lam", "lam_for_image")
hat_attention_for_image = _on_gpu(30, "vtdemo.explain.hat", "hat_attention_for_image")
attention_capture = _on_gpu(30, "vtdemo.explain.probes", "cached_capture")  # cached: a later click runs nothing
attention_distance = _on_gpu(30, "vtdemo.explain.probes", "attention_distance")
classify_heads = _on_gpu(20, "vtdemo.classify.predict", "classify_heads")
