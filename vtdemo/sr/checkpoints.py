"""Third-party SR checkpoints: detect the architecture (our HAT for HAT files, spandrel for the rest), load safely."""
from __future__ import annotations

import math
import os
import re

from torch import nn

from vtdemo.zoo.weights import WeightsError, load_state_dict, without_references


def is_hat_state_dict(state_dict: dict) -> bool:
    return "relative_position_index_OCA" in state_dict or any(".overlap_attn." in k for k in state_dict)


def hat_config_from_state_dict(sd: dict) -> dict:
    """The official HAT constructor keywords that produce exactly these tensors."""
    embed_dim = sd["conv_first.weight"].shape[0]
    groups = sorted({int(m.group(1)) for k in sd if (m := re.match(r"layers\.(\d+)\.", k))})
    depths, heads = [], []
    for g in groups:
        blocks = {int(m.group(1)) for k in sd if (m := re.match(rf"layers\.{g}\.residual_group\.blocks\.(\d+)\.", k))}
        depths.append(len(blocks))
        heads.append(sd[f"layers.{g}.residual_group.blocks.0.attn.relative_position_bias_table"].shape[1])
    window = math.isqrt(sd["relative_position_index_SA"].shape[0])
    overlap_window = math.isqrt(sd["relative_position_index_OCA"].shape[1])
    block0 = "layers.0.residual_group.blocks.0."
    num_feat = sd["conv_before_upsample.0.weight"].shape[0]
    ups = sorted(int(m.group(1)) for k in sd if (m := re.match(r"upsample\.(\d+)\.weight", k)))
    first = sd[f"upsample.{ups[0]}.weight"].shape[0] // num_feat
    scale = 3 if first == 9 else 2 ** len(ups)
    return dict(
        img_size=64, patch_size=1, in_chans=sd["conv_first.weight"].shape[1], embed_dim=embed_dim, depths=depths,
        num_heads=heads, window_size=window, overlap_ratio=(overlap_window - window) / window,
        compress_ratio=embed_dim // sd[block0 + "conv_block.cab.0.weight"].shape[0],
        squeeze_factor=embed_dim // sd[block0 + "conv_block.cab.3.attention.1.weight"].shape[0],
        mlp_ratio=sd[block0 + "mlp.fc1.weight"].shape[0] / embed_dim, upscale=scale, img_range=1.0,
        upsampler="pixelshuffle", resi_connection="1conv" if "conv_after_body.weight" in sd else "identity",
        num_feat=num_feat, ape="absolute_pos_embed" in sd, patch_norm="patch_embed.norm.weight" in sd,
    )


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
        except Exception:  # noqa: BLE001 - this architecture does not build on meta: try the next way
            continue
    return _parameter_count_isolated(state_dict)


CHILD_ROOM = 512 * 2 ** 20
_CHILD = """
import json, resource, sys, warnings
import torch
from spandrel import MAIN_REGISTRY
warnings.simplefilter("ignore")
spec, budget = json.loads(sys.stdin.read()), int(sys.argv[1])
state_dict = {k: torch.zeros(shape, dtype=getattr(torch, dtype)) for k, (shape, dtype) in spec.items()}
try:  # Linux: cap the data segment (heap and anonymous mappings) at what is used now + the budget
    used = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmData:"))
    resource.setrlimit(resource.RLIMIT_DATA, (used + budget, used + budget))
except (OSError, StopIteration, ValueError):
    pass
try:
    model = MAIN_REGISTRY.load(state_dict).model
except MemoryError:
    print("too large"); sys.exit(0)
except RuntimeError as exc:
    print("too large" if "allocate" in str(exc) else "error: " + str(exc).strip().splitlines()[0][:200])
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
        run = subprocess.run([sys.executable, "-c", _CHILD, str(budget)], input=json.dumps(spec), text=True,
                             capture_output=True, timeout=300)
    except subprocess.TimeoutExpired:
        raise WeightsError("This checkpoint's model took too long to build: refused.") from None
    answer = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else ""
    if answer.isdigit():
        return int(answer)
    if answer == "too large" or run.returncode < 0:  # killed (by the kernel's OOM killer) counts as too large
        raise WeightsError("This checkpoint describes a model too large to build here "
                           f"(VTDEMO_MAX_MODEL_PARAMS = {limits.max_model_params():,}).")
    detail = answer.removeprefix("error: ") or (run.stderr.strip().splitlines() or ["unknown error"])[-1][:200]
    raise WeightsError(f"This checkpoint's model could not be built: {detail}")


def _check_size(params: int, name: str) -> None:
    from vtdemo import limits

    if params > limits.max_model_params():
        raise WeightsError(f"{name} describes a model of {params:,} parameters and buffer values; the limit is "
                           f"{limits.max_model_params():,} (VTDEMO_MAX_MODEL_PARAMS).")


def load_checkpoint(path: str | os.PathLike, upload: bool = False) -> tuple[nn.Module, int]:
    """An SR network and its scale from a .pth/.safetensors file, loaded without unpickling arbitrary objects.

    HAT checkpoints get the project's HAT; SwinIR, RRDB/Real-ESRGAN, Compact and the other architectures spandrel
    knows get spandrel's. The model the tensors' shapes imply is sized on the meta device before anything is
    allocated (VTDEMO_MAX_MODEL_PARAMS). ``upload``: the file came from a client (the upload size limit applies).
    Raises WeightsError (or UnsafeCheckpointError) with a message fit for a user; a refused file leaves nothing
    referenced.
    """
    try:
        return _load_checkpoint(path, upload)
    except WeightsError as exc:
        error = exc
    raise without_references(error)


def _load_checkpoint(path, upload: bool):
    state_dict = load_state_dict(path, upload)
    name = os.path.basename(path)
    if is_hat_state_dict(state_dict):
        from vtdemo.models.hat import HAT

        try:
            config = hat_config_from_state_dict(state_dict)
            _check_size(_parameter_count(lambda: HAT(**config), state_dict), name)
            model = HAT(**config)
            model.load_state_dict(state_dict, strict=True)
        except WeightsError:
            raise
        except (KeyError, RuntimeError, ValueError, IndexError, TypeError, ZeroDivisionError) as exc:
            raise WeightsError(f"{name} looks like a HAT checkpoint but does not fit the HAT architecture: "
                               f"{str(exc)[:300]}") from None
        return model.eval(), model.upscale
    from spandrel import MAIN_REGISTRY

    try:
        _check_size(_parameter_count(lambda: MAIN_REGISTRY.load(state_dict), state_dict), name)
        descriptor = MAIN_REGISTRY.load(state_dict)
    except WeightsError:
        raise
    except Exception as exc:
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f"{name} is not a super-resolution checkpoint vtdemo recognises (HAT, SwinIR, "
                           f"Real-ESRGAN, Compact, ... via spandrel): {detail}") from None
    if descriptor.purpose != "SR" or descriptor.scale < 2 or descriptor.input_channels != 3:
        raise WeightsError(f"{name} is a {descriptor.architecture.name} model for {descriptor.purpose} "
                           f"(scale {descriptor.scale}, {descriptor.input_channels} input channels), not an RGB "
                           "super-resolution model.")
    return descriptor.model.eval(), descriptor.scale
