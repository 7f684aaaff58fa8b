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


def _parameter_count(build) -> int:
    """Parameters of the module ``build()`` makes, built on the meta device (no memory, no data)."""
    import torch

    with torch.device("meta"):
        module = build()
    module = getattr(module, "model", module)  # spandrel returns a descriptor
    return sum(p.numel() for p in module.parameters())


def _check_size(params: int, name: str) -> None:
    from vtdemo import limits

    if params > limits.max_model_params():
        raise WeightsError(f"{name} describes a model of {params:,} parameters; the limit is "
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
            _check_size(_parameter_count(lambda: HAT(**config)), name)
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
        _check_size(_parameter_count(lambda: MAIN_REGISTRY.load(state_dict)), name)
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
