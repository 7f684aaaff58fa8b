"""Concurrent users against the real server (small numbers; the benchmark command reports the big ones)."""


def test_concurrent_clients_all_complete():
    from vtdemo import loadtest

    lines, failed = loadtest.run(clients=4, requests=3, rounds=1)
    assert failed == 0 and "completed 12, failed 0" in lines[1], "\n".join(lines)
    assert "server memory" in lines[3]
