"""The shared LRU: least recently used goes first, hits compute nothing, concurrent use is safe."""
import threading

from vtdemo.lru import LRU


def test_eviction_order_and_compute_count():
    cache = LRU(2)
    assert cache.get_or_compute("a", lambda: 1) == 1
    assert cache.get_or_compute("b", lambda: 2) == 2
    assert cache.get_or_compute("a", lambda: 99) == 1  # hit: "a" becomes the most recent
    cache.get_or_compute("c", lambda: 3)  # evicts "b", the least recently used
    assert cache.computed == 3
    assert cache.get_or_compute("a", lambda: 99) == 1
    assert cache.get_or_compute("b", lambda: 20) == 20 and cache.computed == 4


def test_concurrent_use_keeps_the_bound():
    cache = LRU(3)

    def work(k):
        for i in range(200):
            cache.get_or_compute((k, i % 5), lambda: i)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache._entries) <= 3
