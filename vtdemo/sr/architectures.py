"""SR checkpoints through spandrel: the project's HAT is registered ahead of spandrel's own HAT in a registry that
holds every architecture spandrel knows, so zoo cards, uploads, the CLI and ``load_checkpoint`` all load through
``spandrel.ModelLoader`` and get an ``ImageModelDescriptor`` (scale, channels, purpose, size requirements).

To add an SR architecture of our own: write its module under ``vtdemo/models/`` and an ``Architecture`` here, and add
it to ``ARCHITECTURES``.
"""
from __future__ import annotations

import math

from spandrel import (ArchRegistry, ArchSupport, Architecture, ImageModelDescriptor, MAIN_REGISTRY, ModelLoader,
                      SizeRequirements, StateDict)
from spandrel.architectures.HAT import HATArch as SpandrelHAT
from spandrel.util import get_pixelshuffle_params, get_seq_len

from vtdemo.models.hat import HAT


def _overlap_ratio(window: int, overlap_window: int) -> float:
    """A ratio r with int(window + window·r) == overlap_window, a round one when possible (0.5 for the papers')."""
    for ratio in (0.5, 0, 0.25, 0.75, 1, 0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9):
        if int(window + window * ratio) == overlap_window:
            return ratio
    return (overlap_window - window) / window + 1e-6  # rounding must not drop below the integer


def hat_config(sd: StateDict) -> dict:
    """The official HAT constructor keywords that produce exactly these tensors."""
    embed_dim, in_chans = sd["conv_first.weight"].shape[:2]
    groups = get_seq_len(sd, "layers")
    block0 = "layers.0.residual_group.blocks.0."
    num_feat = sd["conv_last.weight"].shape[1]
    upscale, _ = get_pixelshuffle_params(sd, "upsample", num_feat)
    window = math.isqrt(sd["relative_position_index_SA"].shape[0])
    ape = "absolute_pos_embed" in sd
    return dict(
        img_size=math.isqrt(sd["absolute_pos_embed"].shape[1]) if ape else 64, patch_size=1, in_chans=in_chans,
        embed_dim=embed_dim, depths=[get_seq_len(sd, f"layers.{g}.residual_group.blocks") for g in range(groups)],
        num_heads=[sd[f"layers.{g}.residual_group.overlap_attn.relative_position_bias_table"].shape[1]
                   for g in range(groups)],
        window_size=window,
        overlap_ratio=_overlap_ratio(window, math.isqrt(sd["relative_position_index_OCA"].shape[1])),
        compress_ratio=embed_dim // sd[block0 + "conv_block.cab.0.weight"].shape[0],
        squeeze_factor=embed_dim // sd[block0 + "conv_block.cab.3.attention.1.weight"].shape[0],
        mlp_ratio=sd[block0 + "mlp.fc1.weight"].shape[0] / embed_dim, qkv_bias=block0 + "attn.qkv.bias" in sd,
        upscale=upscale, img_range=1.0, upsampler="pixelshuffle",
        resi_connection="1conv" if "conv_after_body.weight" in sd else "identity", num_feat=num_feat, ape=ape,
        patch_norm="patch_embed.norm.weight" in sd,
    )


class HATArch(Architecture[HAT]):
    """The project's HAT (vtdemo/models/hat.py): the same files as spandrel's HAT (its key test), built as ours —
    attention that can be shown, fused, tiled, any input size."""

    def __init__(self) -> None:
        super().__init__(id="vtdemo.HAT", detect=SpandrelHAT().detect)

    def load(self, state_dict: StateDict) -> ImageModelDescriptor[HAT]:
        config = hat_config(state_dict)
        return ImageModelDescriptor(
            HAT(**config), state_dict, architecture=self, purpose="SR" if config["upscale"] > 1 else "Restoration",
            tags=[f"{config['embed_dim']}dim", f"w{config['window_size']}"], supports_half=False,
            supports_bfloat16=True, scale=config["upscale"], input_channels=config["in_chans"],
            output_channels=config["in_chans"], size_requirements=SizeRequirements(),  # pads any size itself
        )


ARCHITECTURES = (ArchSupport.from_architecture(HATArch(), before=("HAT",)),)
# architectures whose descriptor calls the bare module on any input (no padding, no call function of its own): an
# exported graph of the module is the same function, so onnxruntime may run them
PLAIN_CALL = frozenset({"vtdemo.HAT"})

REGISTRY = ArchRegistry()  # spandrel's architectures and ours; spandrel's global registry is left as it is
REGISTRY.add(*MAIN_REGISTRY.architectures("insertion"), *ARCHITECTURES)


def load_descriptor(state_dict: StateDict, device: str = "cpu") -> ImageModelDescriptor:
    """The descriptor of an SR state dict (detected among spandrel's architectures and ours), its model on
    ``device`` ("meta" to size a model without allocating it)."""
    return ModelLoader(device=device, registry=REGISTRY).load_from_state_dict(state_dict)
