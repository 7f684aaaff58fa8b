"""A small thread-safe, single-flight least-recently-used cache for things that are costly to compute (loaded
models, captures, uploaded checkpoints)."""
from __future__ import annotations

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


class LRU:
    """Keeps the ``size`` most recently used values (``size`` may be a function, read at each insertion, so an
    environment variable can set it). Single-flight: while one thread computes a key, others asking for the same
    key wait for that result instead of computing it again. ``computed`` counts the computations (tests and
    benchmarks read it to prove that a cached path runs nothing)."""

    def __init__(self, size: int | Callable[[], int]):
        self._size = size if callable(size) else (lambda: size)
        self.computed = 0
        self._entries: OrderedDict[Hashable, object] = OrderedDict()
        self._flights: dict[Hashable, _Flight] = {}
        self._lock = threading.Lock()

    @property
    def size(self) -> int:
        return max(1, self._size())

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
