"""What every training command shares: seeding, schedules, resumable checkpoints, exported weights and their cards."""
from __future__ import annotations

import json
import math
import os
import platform
import shlex
import time
from pathlib import Path

import torch
from torch import nn


def lr_factor(step: int, total: int, schedule: str, warmup: int = 0, milestones: tuple[float, ...] = (0.5, 0.8),
              gamma: float = 0.5, floor: float = 0.01) -> float:
    """The learning-rate multiplier at ``step`` (0-based) of ``total``: linear warm-up, then cosine or step decay."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    if schedule == "cosine":
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    if schedule == "step":
        return gamma ** sum(progress >= m for m in milestones)
    if schedule == "constant":
        return 1.0
    raise ValueError(f"unknown schedule {schedule!r}: cosine, step or constant")


def save_state(path: Path, **state) -> None:
    """Write a resumable training state atomically (tensors and plain values only: loads with weights_only=True)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_state(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def export_weights(model: nn.Module, path: Path, metadata: dict[str, str] | None = None) -> int:
    """Save ``model``'s state dict as safetensors (contiguous float32 copies); returns the file size in bytes."""
    from vtdemo.atomic import save_tensors

    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    save_tensors(tensors, path, metadata=metadata or {})
    return path.stat().st_size


def write_card(path: Path, card: dict) -> None:
    path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")


def command_line(argv: list[str]) -> str:
    """The command that was run, as a user would type it again."""
    return "python -m vtdemo.train " + shlex.join(argv)


def device_description(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


class Clock:
    """Wall time that survives a resume: seconds spent in earlier runs plus this one."""

    def __init__(self, previous: float = 0.0):
        self.previous, self.start = previous, time.perf_counter()

    def total(self) -> float:
        return self.previous + time.perf_counter() - self.start


def portable(path: Path) -> str:
    """A data path as the card records it: relative to the checkout's parent when it is under it (../shared/...)."""
    import os

    root = Path(__file__).resolve().parents[2]
    rel = os.path.relpath(Path(path).resolve(), root)
    return rel if rel.startswith("..") and not rel.startswith("../..") else str(path)
