"""Recording the attention weights of timm's attention modules for one call, while other calls of the same shared
model keep timm's fused path.

timm reads ``self.fused_attn`` in forward; its explicit path passes the weights through ``attn_drop``. Once per model,
each attention module gets a subclass whose ``fused_attn`` follows a context variable (each request's thread has its
own) and a hook on ``attn_drop`` that records for the probing call only.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from contextvars import ContextVar

import torch
from torch import nn

_PROBING: ContextVar[list | None] = ContextVar("timm_probing", default=None)
_PROBED_CLASSES: dict[type, type] = {}
_PROBE_LOCK = threading.Lock()


def attention_modules(model: nn.Module) -> list[nn.Module]:
    """timm's attention modules of ``model`` in forward order."""
    return [m for m in model.modules() if hasattr(m, "fused_attn") and hasattr(m, "attn_drop")]


def _fused_attn(self) -> bool:
    return _PROBING.get() is None and self.__dict__.get("fused_attn", True)


def _set_fused_attn(self, value: bool) -> None:
    self.__dict__["fused_attn"] = value


class _GraphSink(list):
    """Weights kept in the autograd graph, where they were computed (for gradients with respect to them)."""


def _record_attention(module: nn.Module, inputs, output: torch.Tensor) -> None:
    sink = _PROBING.get()
    if sink is not None:
        sink.append(output if isinstance(sink, _GraphSink) else output.detach().float().cpu())


def make_probeable(model: nn.Module) -> list[nn.Module]:
    """Once per model: the context-following subclass and the recording hook on every attention module."""
    modules = attention_modules(model)
    with _PROBE_LOCK:
        for m in modules:
            if type(m) in _PROBED_CLASSES.values():
                continue
            cls = type(m)
            if cls not in _PROBED_CLASSES:
                _PROBED_CLASSES[cls] = type(cls.__name__, (cls,), {"fused_attn": property(_fused_attn,
                                                                                          _set_fused_attn)})
            m.attn_drop.register_forward_hook(_record_attention)
            m.__class__ = _PROBED_CLASSES[cls]
    return modules


def record(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """Attention weights of every timm attention module, in forward order, from one explicit pass of this call."""
    make_probeable(model)
    sink: list[torch.Tensor] = []
    token = _PROBING.set(sink)
    try:
        with torch.no_grad():
            model(x)
    finally:
        _PROBING.reset(token)
    return sink


@contextmanager
def recording_graph(model: nn.Module):
    """Within the context, this call's forward passes of ``model`` take timm's explicit path and append every
    attention module's weights, still in the autograd graph, to the yielded list."""
    make_probeable(model)
    sink = _GraphSink()
    token = _PROBING.set(sink)
    try:
        yield sink
    finally:
        _PROBING.reset(token)
