"""A small thread-safe least-recently-used cache for things that are costly to compute (captures, loaded models)."""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, Hashable, TypeVar

V = TypeVar("V")


class LRU:
    """Keeps the ``size`` most recently used values. ``computed`` counts the calls that had to compute (tests and
    benchmarks read it to prove that a cached path runs nothing). Computing happens outside the lock, so two
    requests for the same new key may both compute; the second result simply replaces the first."""

    def __init__(self, size: int):
        self.size, self.computed = size, 0
        self._entries: OrderedDict[Hashable, object] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], V]) -> V:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        value = compute()
        with self._lock:
            self.computed += 1
            self._entries[key] = value
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
