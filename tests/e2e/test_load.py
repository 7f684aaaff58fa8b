"""Concurrent users against the real server, with hostile clients among them (small numbers and limits; the
benchmark command reports the big ones)."""


def test_concurrent_clients_complete_while_an_attacker_is_refused(monkeypatch):
    from vtdemo.bench import load

    monkeypatch.setenv("VTDEMO_MAX_SESSIONS", "40")  # the server process inherits these: a small session store,
    monkeypatch.setenv("VTDEMO_MAX_SESSIONS_PER_CLIENT", "8")  # so that 50 fresh sessions could evict a victim's
    lines, failed, wrong = load.run_users(clients=4, requests=3, rounds=1, fresh_sessions=True, attack=True,
                                        hash_flood=20, session_flood=50, classroom=3)
    report = "\n".join(lines)
    assert failed == 0 and "completed 12, failed 0" in lines[1], report
    assert wrong == 0, report  # every answer equals a lone user's, although they share the cached models
    assert "server memory" in lines[3]
    attacker = [line for line in lines if line.startswith("  · ")]
    assert any("bomb /classify: refused" in line and "megapixels" in line for line in attacker), report
    assert all(line.endswith("refused") for line in attacker if "path /" in line), report  # nothing was read
    ran, refused = (int(w) for w in next(line for line in attacker if "heavy upscales" in line).split(": ")[-1].split()
                    if w.isdigit())
    assert refused >= 10 and ran <= 10, report  # the per-client limit, not the shared queue, stopped the flood
    assert any("session-hash flood (20 joins, 1.9 MB hashes): HTTP 422 ×20" in line for line in attacker), report
    assert any("session flood (50 of 50" in line and "(loaded) still runs" in line for line in attacker), report
    assert any("classroom (3 users" in line and "6 answered" in line and "0 failed" in line
               for line in attacker), report
