"""What can go wrong in getting or loading a checkpoint; every message says why and what to do."""
from __future__ import annotations


class WeightsError(RuntimeError):
    """A checkpoint could not be obtained or loaded; the message says why and what to do."""


class WeightsUnavailable(WeightsError):
    """The file is not on this machine and cannot be downloaded now."""


class UnsafeCheckpointError(WeightsError):
    """The file would need arbitrary code to unpickle; it was refused without running anything."""
