"""Run a Space's app.py (the current folder) the way a ZeroGPU Space does, on a CPU: ``spaces.zero.torch`` — CUDA's
init and the move of weights to the GPU, which need a GPU — is replaced by no-ops before ``spaces`` is imported;
the rest of ``spaces`` runs as it is. Without SPACES_ZERO_GPU the app runs as on any Space."""
import os
import runpy
import sys
import types

if os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true"):
    cuda = types.ModuleType("spaces.zero.torch")
    for name in ("patch", "unpatch", "init", "move", "enter_mode"):
        setattr(cuda, name, lambda *args, **kwargs: None)
    cuda.pack = cuda.size = lambda *args, **kwargs: 0
    cuda.is_in_bad_fork = lambda: False
    sys.modules["spaces.zero.torch"] = cuda

sys.path.insert(0, os.getcwd())
runpy.run_path("app.py", run_name="__main__")
