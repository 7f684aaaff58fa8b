"""Concurrent users against the real server, with a hostile client among them (small numbers; the benchmark command
reports the big ones)."""


def test_concurrent_clients_complete_while_an_attacker_is_refused():
    from vtdemo import loadtest

    lines, failed, wrong = loadtest.run(clients=4, requests=3, rounds=1, fresh_sessions=True, attack=True)
    report = "\n".join(lines)
    assert failed == 0 and "completed 12, failed 0" in lines[1], report
    assert wrong == 0, report  # every answer equals a lone user's, although they share the cached models
    assert "server memory" in lines[3]
    attacker = [line for line in lines if "attacker:" in line]
    assert any("bomb /classify: refused" in line and "megapixels" in line for line in attacker), report
    assert all(line.endswith("refused") for line in attacker if "path /" in line), report  # nothing was read
    ran, refused = (int(w) for w in next(line for line in attacker if "flood" in line).split(": ")[-1].split()
                    if w.isdigit())
    assert refused >= 10 and ran <= 10, report  # the per-client limit, not the shared queue, stopped the flood
