"""Run a Space's app.py (the current folder) the way a ZeroGPU Space does, on a CPU: ``spaces.zero.torch`` — CUDA's
init and the move of weights to the GPU, which need a GPU — is replaced by no-ops before ``spaces`` is imported;
the rest of ``spaces`` runs as it is. Without SPACES_ZERO_GPU the app runs as on any Space."""
import os
import runpy
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
if os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true"):
    from zerogpu import cuda_standin

    cuda_standin()

sys.path.insert(0, os.getcwd())
runpy.run_path("app.py", run_name="__main__")
