"""Concurrent users against the real server, with hostile clients among them (small numbers and limits; the
benchmark command reports the big ones). Read from the run's fields, not from its report's prose."""


def test_concurrent_clients_complete_while_an_attacker_is_refused(monkeypatch):
    from vtdemo.bench import load

    monkeypatch.setenv("VTDEMO_MAX_SESSIONS", "40")  # the server process inherits these: a small session store,
    monkeypatch.setenv("VTDEMO_MAX_SESSIONS_PER_CLIENT", "8")  # so that 50 fresh sessions could evict a victim's
    result = load.run_users(clients=4, requests=3, rounds=1, fresh_sessions=True, attack=True, hash_flood=20,
                            session_flood=50, classroom=3)
    report = "\n".join(result.lines())
    assert len(result.latencies) == 12 and result.failures == [], report
    assert result.wrong == [], report  # every answer equals a lone user's, although they share the cached models
    assert result.memory["peak"] >= result.memory["baseline"] > 0
    (attacks,) = result.attacks
    assert attacks["bomb /classify"].startswith("refused") and "megapixels" in attacks["bomb /classify"], report
    probes = {name: outcome for name, outcome in attacks.items() if name.startswith("path /")}
    assert len(probes) == 3 and set(probes.values()) == {"refused"}, report  # nothing was read
    flood = attacks["heavy flood"]
    assert flood["ran"] + flood["refused"] == flood["sent"] == 20, report
    assert flood["refused"] >= 10 and flood["ran"] <= 10, report  # the per-client limit, not the shared queue
    assert attacks["session-hash flood"]["statuses"] == {422: 20}, report
    evicting = attacks["session flood"]
    assert evicting["opened"] == 50 and evicting["loaded"] and evicting["victim runs"], report
    classroom = attacks["classroom"]
    assert (classroom["users"], classroom["answered"], classroom["failed"]) == (3, 6, 0), report
