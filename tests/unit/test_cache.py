"""The one cache mechanism: least recently used goes first, hits compute nothing, concurrent use is safe, two first
requests compute once, the size follows its environment variable."""
import threading

from vtdemo.cache import Cache


def test_eviction_order_and_compute_count():
    cache = Cache(2)
    assert cache.get_or_compute("a", lambda: 1) == 1
    assert cache.get_or_compute("b", lambda: 2) == 2
    assert cache.get_or_compute("a", lambda: 99) == 1  # hit: "a" becomes the most recent
    cache.get_or_compute("c", lambda: 3)  # evicts "b", the least recently used
    assert cache.computed == 3
    assert cache.get_or_compute("a", lambda: 99) == 1
    assert cache.get_or_compute("b", lambda: 20) == 20 and cache.computed == 4


def test_concurrent_use_keeps_the_bound():
    cache = Cache(3)

    def work(k):
        for i in range(200):
            cache.get_or_compute((k, i % 5), lambda: i)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache._entries) <= 3


def test_two_first_requests_compute_once():
    cache, started, release = Cache(2), threading.Event(), threading.Event()
    calls, results = [], []

    def slow():
        calls.append(1)
        started.set()
        release.wait(5)
        return object()

    first = threading.Thread(target=lambda: results.append(cache.get_or_compute("k", slow)))
    first.start()
    started.wait(5)
    second = threading.Thread(target=lambda: results.append(cache.get_or_compute("k", slow)))
    second.start()
    release.set()
    first.join(), second.join()
    assert len(calls) == 1 and results[0] is results[1]


def test_size_follows_its_environment_variable(monkeypatch):
    cache = Cache("VTDEMO_TEST_CACHE", default=3)
    for i in range(5):
        cache.get_or_compute(i, lambda i=i: i)
    assert list(cache._entries) == [2, 3, 4]
    monkeypatch.setenv("VTDEMO_TEST_CACHE", "1")
    cache.get_or_compute(5, lambda: 5)
    assert list(cache._entries) == [5]
    monkeypatch.setenv("VTDEMO_TEST_CACHE", "many")  # not a number: the default
    for i in range(6, 10):
        cache.get_or_compute(i, lambda i=i: i)
    assert len(cache._entries) == 3
