"""SR checkpoints from files, uploads and the zoo: sized before they are built, then loaded through spandrel (our HAT
for HAT files, spandrel's architectures for the rest: ``vtdemo.sr.architectures``)."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

from vtdemo.zoo.errors import WeightsError
from vtdemo.zoo.safe_loading import load_state_dict, without_references

if TYPE_CHECKING:
    from spandrel import ImageModelDescriptor


def _small_factories_on_cpu():
    """A torch function mode for meta-device builds: ``linspace``/``arange``/``logspace`` results go to the CPU, so
    constructors that read them back (``[x.item() for x in torch.linspace(0, rate, depth)]``, common for drop-path
    rates) still work; everything else stays on the meta device."""
    import torch
    from torch.overrides import TorchFunctionMode

    factories = (torch.linspace, torch.arange, torch.logspace)

    class SmallFactoriesOnCPU(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = dict(kwargs or {})
            if func in factories:
                kwargs["device"] = "cpu"
            return func(*args, **kwargs)

    return SmallFactoriesOnCPU()


def _elements(module) -> int:
    """Parameters and buffers (HAT's attention masks grow with the window as the fourth power)."""
    return sum(t.numel() for t in module.parameters()) + sum(t.numel() for t in module.buffers())


def _misfit(exc: BaseException) -> WeightsError | None:
    """A load_state_dict shape/key mismatch as a user's message: the keys name an architecture, the tensors do not
    fit it (None for any other error)."""
    import re

    found = re.match(r"Error\(s\) in loading state_dict for (\w+):\s*(.*)", str(exc).strip(), re.S)
    if found is None:
        return None
    detail = " ".join(line.strip() for line in found.group(2).splitlines()[:2])[:300]
    return WeightsError(f"This checkpoint does not fit the {found.group(1)} architecture its keys suggest: {detail}")


def _parameter_count(build, state_dict: dict) -> int:
    """Parameters of the module ``build()`` makes, without allocating it: built on the meta device (retried with
    small factory tensors on the CPU); when an architecture cannot be built there, in a separate process whose
    memory is capped, so a checkpoint that implies a huge model fails there and not here."""
    import warnings

    import torch
    from spandrel import UnsupportedModelError

    for small_on_cpu in (False, True):
        try:
            with warnings.catch_warnings(), torch.device("meta"):
                warnings.simplefilter("ignore")  # loading data into meta parameters is a no-op, and says so
                if small_on_cpu:
                    with _small_factories_on_cpu():
                        module = build()
                else:
                    module = build()
            module = getattr(module, "model", module)  # spandrel returns a descriptor
            return _elements(module)
        except (WeightsError, UnsupportedModelError):
            raise  # refused, or no architecture recognises these tensors: nothing to size
        except Exception as exc:  # noqa: BLE001 - this architecture does not build on meta: try the next way
            if _misfit(exc):
                raise _misfit(exc) from None
            continue
    return _parameter_count_isolated(state_dict)


CHILD_ROOM = 512 * 2 ** 20
_CHILD = """
import json, resource, sys, warnings
import torch
from vtdemo.sr.architectures import REGISTRY
warnings.simplefilter("ignore")
spec, budget = json.loads(sys.stdin.read()), int(sys.argv[1])
state_dict = {k: torch.zeros(shape, dtype=getattr(torch, dtype)) for k, (shape, dtype) in spec.items()}
try:  # Linux: cap the data segment (heap and anonymous mappings) at what is used now + the budget
    used = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmData:"))
    resource.setrlimit(resource.RLIMIT_DATA, (used + budget, used + budget))
except (OSError, StopIteration, ValueError):
    pass
try:
    model = REGISTRY.load(state_dict).model
except MemoryError:
    print("too large"); sys.exit(0)
except RuntimeError as exc:
    print("too large" if "allocate" in str(exc) else "error: " + " ".join(str(exc).strip().split())[:300])
    sys.exit(0)
print(sum(t.numel() for t in model.parameters()) + sum(t.numel() for t in model.buffers()))
"""


def _parameter_count_isolated(state_dict: dict) -> int:
    """Build the spandrel model of ``state_dict``'s shapes in a child process limited to the memory of
    VTDEMO_MAX_MODEL_PARAMS fp32 parameters (plus working room); its parameter count, or a refusal."""
    import json
    import subprocess
    import sys

    from vtdemo import limits

    spec = {k: [list(t.shape), str(t.dtype).removeprefix("torch.")] for k, t in state_dict.items()}
    budget = limits.max_model_params() * 4 * 2 + CHILD_ROOM  # fp32 weights, their initialisation, working room
    try:
        package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)  # the child imports vtdemo
        run = subprocess.run([sys.executable, "-c", _CHILD, str(budget)], input=json.dumps(spec), text=True,
                             capture_output=True, timeout=300, env={**os.environ, "PYTHONPATH": path})
    except subprocess.TimeoutExpired:
        raise WeightsError("This checkpoint's model took too long to build: refused.") from None
    answer = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
    if answer.isdigit():
        return int(answer)
    if answer == "too large" or run.returncode < 0:  # killed (by the kernel's OOM killer) counts as too large
        raise WeightsError("This checkpoint describes a model too large to build here "
                           f"(VTDEMO_MAX_MODEL_PARAMS = {limits.max_model_params():,}).")
    detail = answer.removeprefix("error: ") or (run.stderr.strip().splitlines() or ["unknown error"])[-1][:200]
    if _misfit(RuntimeError(detail)):
        raise _misfit(RuntimeError(detail))
    raise WeightsError(f"This checkpoint's model could not be built: {detail}")


def _check_size(params: int, name: str) -> None:
    from vtdemo import limits

    if params > limits.max_model_params():
        raise WeightsError(f"{name} describes a model of {params:,} parameters and buffer values; the limit is "
                           f"{limits.max_model_params():,} (VTDEMO_MAX_MODEL_PARAMS).")


def load_checkpoint(path: str | os.PathLike, upload: bool = False) -> "ImageModelDescriptor":
    """The spandrel ``ImageModelDescriptor`` of an SR .pth/.safetensors file (``.model``, ``.scale``,
    ``.input_channels``, ...), loaded without unpickling arbitrary objects.

    HAT checkpoints get the project's HAT; SwinIR, RRDB/Real-ESRGAN, Compact and the other architectures spandrel
    knows get spandrel's (``vtdemo.sr.architectures``). The model the tensors' shapes imply is sized on the meta
    device before anything is allocated (VTDEMO_MAX_MODEL_PARAMS). ``upload``: the file came from a client (the
    upload size limit applies). Raises WeightsError (or UnsafeCheckpointError) with a message fit for a user; a
    refused file leaves nothing referenced.
    """
    try:
        return load_sr_state_dict(load_state_dict(path, upload), os.path.basename(path))
    except WeightsError as exc:
        error = exc
    raise without_references(error)


def load_sr_state_dict(state_dict: dict, name: str) -> "ImageModelDescriptor":
    """The descriptor of an SR state dict, sized before it is built; WeightsError when it is not an RGB SR model."""
    from spandrel import UnsupportedModelError

    from vtdemo.sr.architectures import load_descriptor

    try:
        _check_size(_parameter_count(lambda: load_descriptor(state_dict, "meta"), state_dict), name)
        descriptor = load_descriptor(state_dict)
    except WeightsError:
        raise
    except UnsupportedModelError:
        raise WeightsError(f"{name} is not a super-resolution checkpoint vtdemo recognises (HAT, SwinIR, "
                           "Real-ESRGAN, Compact, ... via spandrel).") from None
    except Exception as exc:  # noqa: BLE001 - a recognised architecture whose tensors do not fit it
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f"{name} does not fit the architecture its keys suggest: {detail}") from None
    if descriptor.purpose != "SR" or descriptor.scale < 2 or descriptor.input_channels != 3:
        raise WeightsError(f"{name} is a {descriptor.architecture.name} model for {descriptor.purpose} "
                           f"(scale {descriptor.scale}, {descriptor.input_channels} input channels), not an RGB "
                           "super-resolution model.")
    descriptor.model.eval()
    attach(descriptor)
    return descriptor


def attach(descriptor: "ImageModelDescriptor") -> None:
    """Keep ``descriptor`` with its module (collected with it; a deep copy carries its own), so that a module that
    travels alone (the zoo's cache, ``SRNet``) is still called as spandrel says: padding to its size requirements,
    its own call function, its precision flags."""
    descriptor.model.__dict__["spandrel_descriptor"] = descriptor


def descriptor_of(module) -> "ImageModelDescriptor | None":
    """The spandrel descriptor ``module`` was loaded with (``load_sr_state_dict``), or None."""
    found = getattr(module, "__dict__", {}).get("spandrel_descriptor")
    return found if found is not None and found.model is module else None
