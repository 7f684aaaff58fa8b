"""The one cache mechanism: bounded, locked, single-flight least-recently-used caches for what is costly to compute
(loaded models, attention captures, uploaded checkpoints, ONNX Runtime sessions, image digests). Each cache's size
is read from its environment variable at every insertion; the defaults are in ``vtdemo.limits.LIMITS``."""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Callable, Hashable, TypeVar

V = TypeVar("V")


class _Flight:
    """One computation in progress; others asking for the same key wait for it."""

    def __init__(self):
        self.done = threading.Event()
        self.value = None
        self.error: BaseException | None = None


class Cache:
    """Keeps the most recently used values: ``size`` of them, an int or the name of an environment variable read at
    each insertion (its default from ``vtdemo.limits.LIMITS``, or ``default``, when unset or not a whole number).
    Single-flight: while one thread computes a key, others asking for the same key wait for that result instead of
    computing it again. ``computed`` counts the
    computations (tests and benchmarks read it to prove that a cached path runs nothing)."""

    def __init__(self, size: int | str, default: int | None = None):
        from vtdemo.limits import LIMITS

        self.env = size if isinstance(size, str) else None
        if default is None:
            default = LIMITS[size].default if self.env in LIMITS else 1
        self._fixed, self._default = (size if isinstance(size, int) else None), default
        self.computed = 0
        self._entries: OrderedDict[Hashable, object] = OrderedDict()
        self._flights: dict[Hashable, _Flight] = {}
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        if self._fixed is not None:
            return max(1, self._fixed)
        try:
            return max(1, int(os.environ.get(self.env, self._default)))
        except ValueError:
            return self._default

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
            flight = self._flights.get(key)
            owner = flight is None
            if owner:
                flight = self._flights[key] = _Flight()
        if not owner:
            flight.done.wait()
            if flight.error is not None:
                raise flight.error
            return flight.value
        try:
            flight.value = compute()
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                del self._flights[key]
                if flight.error is None:
                    self.computed += 1
                    self._entries[key] = flight.value
                    while len(self._entries) > self.size:
                        self._entries.popitem(last=False)
            flight.done.set()
        return flight.value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
