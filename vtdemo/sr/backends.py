"""SR backends behind one interface: a backend turns (network, device, tile side) into a function that upscales one
tile. The engine depends on this module, never the reverse.

- ``torch``: the module itself in fp32; in bf16 a copy computing in bf16 where the architecture makes one (our HAT
  on a CPU: ``HAT.bf16_trunk``), else bf16 autocast; fp16 autocast (GPU); or (int8, CPU) a copy with dynamically
  quantized Linear layers — the precision the caller asks for, by default the one ``runtime.precision`` chooses for
  the device;
- ``onnxruntime``: an exported fixed-tile fp32 graph (``onnx_backend``), CPU only, usable once ``export-onnx`` made
  it;
- ``openvino``: the same exported graph compiled by OpenVINO (``openvino_backend``) in bf16 or fp32, CPU only;
- ``ray-serve``: the torch backend run by Ray Serve replicas (``serve_backend``), for zoo models when
  VTDEMO_RAY_SERVE is set; ``auto`` takes it whenever it is ready.

``auto`` picks the (backend, precision) pair recorded as fastest for this network, device and tile by ``measure``
(run by ``python -m vtdemo export-onnx``, never inside a request) among the device's default precision and fp32;
torch in the default precision when nothing is recorded.
"""
from __future__ import annotations

import json
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from vtdemo.atomic import write_atomically
from vtdemo.sr import onnx_backend, openvino_backend
from vtdemo.sr.checkpoints import descriptor_of
from vtdemo.sr.tiling import TileFn


@dataclass
class SRNet:
    """A loaded SR network with what the engine and the backends need to know about it."""

    module: nn.Module | None  # None for bicubic
    scale: int
    name: str
    # spandrel's ImageModelDescriptor of ``module`` when it has one: the runtime contract (padding to its size
    # requirements, its call function, its precision flags). Found with the module when not given.
    descriptor: Any = None

    def __post_init__(self) -> None:
        if self.descriptor is None and self.module is not None:
            self.descriptor = descriptor_of(self.module)

    def supports(self, precision: str) -> bool:
        """Whether the model's descriptor allows ``precision`` (a module without one allows all)."""
        d = self.descriptor
        return d is None or {"fp16": d.supports_half, "bf16": d.supports_bfloat16}.get(precision, True)

    def precision(self, device: torch.device, asked: str | None = None) -> str:
        """``asked`` if the model supports it (ValueError otherwise); None: the device's default, or fp32 where
        the model's descriptor declares the default unsupported."""
        from vtdemo.runtime import check_precision, precision as default_precision

        used = asked or default_precision(device)
        if not self.supports(used):
            if asked:
                raise ValueError(f"{self.name} ({self.descriptor.architecture.name}) does not support {used}, "
                                 "by its spandrel description: choose fp32.")
            used = "fp32"
        check_precision(used, device)
        return used


@dataclass(frozen=True)
class Backend:
    name: str
    tile_fn: Callable[[SRNet, torch.device, int, str], TileFn]  # (net, device, tile, precision)
    # whether the backend can run ``net`` on ``device`` at ``tile`` right now without exporting or measuring
    # anything (cheap: asked on every request by ``auto``); and the key its recorded timing is filed under
    ready: Callable[[SRNet, torch.device, int], bool]
    identity: Callable[[SRNet, int], str]
    remote: bool = False  # computed elsewhere (ray-serve): never timed here; ``auto`` takes it whenever it is ready
    precisions: tuple[str, ...] = ()  # the only ones it runs (the first when none is asked); empty: any
    fixed_tile: bool = False  # runs tile×tile inputs only (an exported graph): the engine's tiles are that size
    installed: Callable[[], bool] = lambda: True  # whether its library is here (an optional extra's is not always)


_MOVE_LOCK = threading.Lock()


def on_device(module: nn.Module, device: torch.device) -> nn.Module:
    """``module`` with its weights on ``device``, moved once (in place) if they are elsewhere: modules that did not
    come through the zoo (uploads, CLI files, ``load_checkpoint``) start on the CPU."""
    first = next(module.parameters(), None)
    if first is not None and first.device != device:
        with _MOVE_LOCK:
            if next(module.parameters()).device != device:
                module.to(device)
    return module


_COPIES_LOCK = threading.Lock()


def _weights_version(module: nn.Module) -> tuple:
    """Changes whenever a weight is replaced or updated in place (``load_state_dict``, an optimiser step): a copy
    made from older weights is stale."""
    def version(p: torch.Tensor) -> int:
        try:
            return p._version
        except RuntimeError:  # an inference tensor has no version counter (and cannot be updated outside one)
            return 0

    return tuple((p.data_ptr(), version(p)) for p in module.parameters())


class _Copies:
    """Derived copies of shared modules (int8, bf16), one per module, made again when its weights changed (a model
    being trained and validated between steps)."""

    def __init__(self):
        self._made: "weakref.WeakKeyDictionary[nn.Module, tuple[tuple, nn.Module]]" = weakref.WeakKeyDictionary()

    def get(self, module: nn.Module, make) -> nn.Module:
        version = _weights_version(module)
        with _COPIES_LOCK:
            made = self._made.get(module)
            if made is None or made[0] != version:
                made = self._made[module] = (version, make())
            return made[1]


_INT8, _BF16 = _Copies(), _Copies()


def int8_copy(module: nn.Module) -> nn.Module:
    """A copy of ``module`` whose Linear layers are dynamically quantized to int8 (weights int8, activations
    quantized per batch), made once per module and weights; the shared fp32 module is never changed. A module with
    a spandrel descriptor keeps one (the copy's: ``deepcopy`` copies the pair together, quantized in place)."""
    def make() -> nn.Module:
            import copy
            import warnings

            # normal tensors even when asked inside inference_mode (their version counters are read later)
            with warnings.catch_warnings(), torch.inference_mode(False):
                warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to torchao
                from torch.ao.quantization import quantize_dynamic

                return quantize_dynamic(copy.deepcopy(module).cpu().eval(), {nn.Linear}, dtype=torch.qint8,
                                        inplace=True)

    return _INT8.get(module, make)


def bf16_copy(module: nn.Module) -> nn.Module | None:
    """The module's bf16 copy where its architecture makes one (``bf16_trunk``: our HAT), made once per module and
    weights, on the CPU; None otherwise (autocast runs it). The shared fp32 module is never changed."""
    trunk = getattr(module, "bf16_trunk", None)
    if trunk is None:
        return None

    def make() -> nn.Module:
        with torch.inference_mode(False):
            return trunk().cpu()

    return _BF16.get(module, make)


_AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16}


def _torch_tile_fn(net: SRNet, device: torch.device, tile: int, precision: str) -> TileFn:
    if precision == "bf16" and device.type == "cpu" and (trunk := bf16_copy(net.module)) is not None:
        return lambda t: trunk(t.cpu()).float()
    module = int8_copy(net.module) if precision == "int8" else on_device(net.module, device)
    # spandrel's descriptor pads a tile to the model's size requirements, calls it its way and crops the result
    descriptor = descriptor_of(module) if net.descriptor is not None else None
    call = descriptor if descriptor is not None else module

    def run(t: torch.Tensor) -> torch.Tensor:
        t = t.to(device)
        if precision in _AUTOCAST:
            with torch.autocast(device.type, dtype=_AUTOCAST[precision]):
                return call(t).float()
        return call(t)

    return run


BACKENDS: dict[str, Backend] = {
    "torch": Backend("torch", _torch_tile_fn, ready=lambda net, device, tile: True,
                     identity=lambda net, tile: f"{net.name}-torch"),
    "onnxruntime": Backend("onnxruntime", lambda net, device, tile, precision: onnx_backend.tile_fn(net, tile),
                           ready=onnx_backend.ready, identity=onnx_backend.identity, precisions=("fp32",),
                           fixed_tile=True),
    "openvino": Backend("openvino", openvino_backend.tile_fn, ready=openvino_backend.ready,
                        identity=openvino_backend.identity, precisions=("bf16", "fp32"), fixed_tile=True,
                        installed=openvino_backend.available),
}  # ray-serve registers itself when vtdemo.sr.serve_backend is imported (it imports this module)


def register(backend: Backend) -> None:
    BACKENDS[backend.name] = backend


def tile_multiple(net: SRNet, tile: int, backend: str = "torch") -> int:
    """The side a tile is best a multiple of: the model's attention window (what it pads to anyway), or its
    spandrel size requirement; 1 when neither is known. A fixed-size graph (``Backend.fixed_tile``) pads smaller
    tiles, which changes what the model sees: its tiles are all ``tile`` × ``tile``."""
    if BACKENDS[backend].fixed_tile:
        return tile
    window = getattr(net.module, "window_size", None)
    if isinstance(window, int) and window > 0:
        return window
    requirements = getattr(net.descriptor, "size_requirements", None)
    return max(1, getattr(requirements, "multiple_of", 1) or 1)


def chosen(net: SRNet, backend: str, device: torch.device, tile: int, precision: str | None = None,
           image: tuple[int, int] | None = None) -> tuple[str, str]:
    """The (backend, precision) that ``tile_fn`` runs for ``backend`` ("auto" or one of BACKENDS) and ``precision``
    (None: the device's default, ``runtime.precision``; for a backend that cannot run that, the backend's own —
    never an error; fp32 where the model's descriptor declares the default unsupported). ``image``: the (h, w)
    to be upscaled, for ``choose``."""
    if backend != "auto" and backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(['auto', *BACKENDS])}, not {str(backend)[:40]!r}")
    if net.module is None:
        return ("torch" if backend == "auto" else backend), precision or "fp32"
    if backend == "auto":
        remote = [name for name, b in BACKENDS.items() if b.remote and b.ready(net, device, tile)]
        return (remote[0], net.precision(device, precision)) if remote else \
            choose(net, device, tile, precision, image)
    runs = BACKENDS[backend].precisions
    if precision is None and runs and net.precision(device) not in runs:
        precision = runs[0]  # the device's default is not a request for a precision this backend cannot run
    used = net.precision(device, precision)
    if runs and used not in runs:
        raise ValueError(f"the {backend} backend runs {', '.join(runs)} only, not {used}")
    if BACKENDS[backend].remote and not BACKENDS[backend].ready(net, device, tile):
        raise ValueError(f"the {backend} backend cannot run {net.name}: it serves zoo models only, with "
                         "VTDEMO_RAY_SERVE set")
    return backend, used


def tile_fn(net: SRNet, backend: str, device: torch.device, tile: int, precision: str | None = None) -> TileFn:
    """The function that upscales one tile with ``backend`` in ``precision``, as ``chosen`` resolves them."""
    name, used = chosen(net, backend, device, tile, precision)
    return BACKENDS[name].tile_fn(net, device, tile, used)


# --- recorded choices --------------------------------------------------------------------------------------------

_lock = threading.Lock()


def _choices_file() -> Path:
    return onnx_backend.onnx_dir() / "backend-choices.json"


def _read_choices() -> dict:
    """The recorded choices; an unreadable or corrupt file counts as none (torch is used until re-measured)."""
    try:
        choices = json.loads(_choices_file().read_text())
    except (OSError, ValueError):
        return {}
    return choices if isinstance(choices, dict) else {}


def candidates(net: SRNet, device: torch.device, tile: int, precision: str | None = None) -> list[tuple[str, str]]:
    """The (backend, precision) pairs ``auto`` chooses among: every local backend ready for ``net`` here, in
    ``precision`` when one is asked, else in the device's default or fp32 — the precisions measured within the
    quality bound (docs/performance.md) — where the backend runs it. Torch in the default comes first."""
    default = net.precision(device, precision)
    wanted = [default] if precision is not None or default == "fp32" else [default, "fp32"]
    pairs = []
    for name, b in BACKENDS.items():
        if b.remote or not b.ready(net, device, tile):
            continue
        pairs += [(name, p) for p in wanted if not b.precisions or p in b.precisions]
    return pairs


def _label(pair: tuple[str, str]) -> str:
    return f"{pair[0]}/{pair[1]}"


def _versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for package in ("onnxruntime", "openvino"):
        try:
            found.append(f"{package}{version(package)}")
        except PackageNotFoundError:
            pass
    return "|".join(found)


def _choice_key(net: SRNet, device: torch.device, tile: int, pairs: list[tuple[str, str]]) -> str:
    names = "+".join(f"{BACKENDS[b].identity(net, tile)}/{p}" for b, p in pairs)
    return (f"{names}|{device.type}|t{tile}|threads{torch.get_num_threads()}|torch{torch.__version__}"
            f"|{_versions()}")


def _measure(fn: TileFn, tile: int, repeats: int = 2) -> float:
    x = torch.rand(1, 3, tile, tile)
    with torch.inference_mode():
        fn(x)
        start = time.perf_counter()
        for _ in range(repeats):
            fn(x)
    return (time.perf_counter() - start) / repeats


def measure(net: SRNet, device: torch.device, tile: int) -> dict:
    """Time every (backend, precision) pair ``auto`` may choose for ``net`` on one tile and record the fastest
    (atomically: other processes may read the file at any moment). Run by ``export-onnx``, outside any request."""
    pairs = candidates(net, device, tile)
    times = {_label(pair): _measure(BACKENDS[pair[0]].tile_fn(net, device, tile, pair[1]), tile) for pair in pairs}
    best = min(pairs, key=lambda pair: times[_label(pair)])
    choice = {"backend": best[0], "precision": best[1], "seconds_per_tile": times}
    key = _choice_key(net, device, tile, pairs)
    with _lock:
        choices = _read_choices()
        choices[key] = choice
        file = _choices_file()
        file.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(file, json.dumps(choices, indent=2).encode())
    return choice


def choose(net: SRNet, device: torch.device, tile: int, precision: str | None = None,
           image: tuple[int, int] | None = None) -> tuple[str, str]:
    """The (backend, precision) recorded as fastest for ``net`` on ``device`` at ``tile`` (``candidates``); torch
    in the device's default (or the asked precision) when only torch is ready or nothing is recorded. For an
    ``image`` (h, w), each pair's recorded time per full tile is scaled by the pixels its tile plan computes: a
    fixed-size graph pads every tile to the full size, the torch backend's tiles shrink to what the image needs
    (``tile_multiple``).
    Cheap: nothing is measured or exported here."""
    from vtdemo.sr.tiling import overlap_for, plan

    default = ("torch", net.precision(device, precision))
    pairs = candidates(net, device, tile, precision)
    if len(pairs) <= 1:
        return default
    record = _read_choices().get(_choice_key(net, device, tile, pairs), {})
    if not isinstance(record, dict):
        return default
    pair = (record.get("backend"), record.get("precision"))
    times = record.get("seconds_per_tile")
    if image is not None and isinstance(times, dict) and all(isinstance(times.get(_label(p)), (int, float))
                                                             for p in pairs):
        def expected(p: tuple[str, str]) -> float:
            pixels = plan(*image, tile, overlap_for(tile), tile_multiple(net, tile, p[0])).pixels
            return times[_label(p)] * pixels / tile ** 2

        pair = min(pairs, key=expected)
    return pair if pair in pairs else default
