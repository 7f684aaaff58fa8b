"""``python -m vtdemo bench load``: concurrent gradio_client users against a server — completed and failed requests,
latency percentiles, whether every answer equals the one a lone user gets, and the server's resident memory (after a
warm-up, at its peak, after each round).

Without ``--url`` a server is started as a separate process (``python -m vtdemo serve``) so that its memory is
measured apart from the clients'. It trusts X-Forwarded-For (as behind a Space's proxy), so each simulated user is a
client of its own address. ``--fresh-sessions`` opens a new session for every request (what many one-off API callers
do: each costs the server some memory until it is dropped). ``--attack`` adds hostile clients: decompression-bomb
and extreme-aspect images, server paths sent without Gradio's marker, a flood of heavy requests, a flood of
megabyte-long session hashes, a flood of fresh sessions while a victim's session holds an uploaded model (is it
still there afterwards?), and a classroom — several honest users behind one address; the report says how each was
answered and what the honest clients saw meanwhile (their latency, failures and wrong answers).
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vtdemo.bench import _files
from vtdemo.bench._rss import rss_mb

ATTACKER = "203.0.113.66"
HELP = ("concurrent users against a local server (latency, failures, answers equal to a lone user's, server memory); "
        "--attack adds hostile clients, --per-endpoint times each endpoint alone")


def add_arguments(parser) -> None:
    parser.add_argument("--clients", type=int, default=8, help="concurrent users (default 8)")
    parser.add_argument("--requests", type=int, default=5, help="requests per user (default 5)")
    parser.add_argument("--url", help="a running server (default: start one as a separate process)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of all clients (default 2)")
    parser.add_argument("--fresh-sessions", action="store_true",
                        help="a new session for every request (one-off API callers)")
    parser.add_argument("--attack", action="store_true",
                        help="add hostile clients (bomb images, path probes, floods of heavy requests, of long "
                             "session hashes and of fresh sessions, a classroom behind one address)")
    parser.add_argument("--per-endpoint", action="store_true",
                        help="instead: each endpoint alone under --clients-list N... clients (requests/s, p50, p95)")
    parser.add_argument("--clients-list", type=int, nargs="+", default=[1, 4], metavar="N",
                        help="--per-endpoint: client counts (default 1 4)")


def run(args) -> int:
    if args.per_endpoint:
        print("\n".join(run_per_endpoint(args.clients_list, args.requests, args.url)))
        return 0
    result = run_users(args.clients, args.requests, args.url, args.rounds, fresh_sessions=args.fresh_sessions,
                       attack=args.attack)
    print("\n".join(result.lines()))
    return 1 if result.failures or result.wrong else 0


@dataclass
class LoadResult:
    title: str
    latencies: list[float]  # seconds, honest clients' completed requests
    failures: list[str]  # honest clients' failed requests
    wrong: list[str]  # endpoints whose answer differed from a lone user's
    memory: dict | None  # the server's resident MB: baseline, peak, after each round (when started here)
    attacks: list[dict]  # per round: what each hostile client got (see _attack, _session_hash_flood, ...)

    def lines(self) -> list[str]:
        lat = np.sort(np.asarray(self.latencies)) if self.latencies else np.zeros(1)
        lines = [self.title,
                 f"  completed {len(self.latencies)}, failed {len(self.failures)}, answers different from a lone "
                 f"user's {len(self.wrong)}" + (f" ({', '.join(sorted(set(self.wrong)))})" if self.wrong else ""),
                 f"  latency p50 {np.percentile(lat, 50):.2f} s, p95 {np.percentile(lat, 95):.2f} s, "
                 f"max {lat.max():.2f} s"]
        if self.memory:
            lines.append(f"  server memory: warm baseline {self.memory['baseline']:.0f} MB, peak "
                         f"{self.memory['peak']:.0f} MB, after each round "
                         + ", ".join(f"{m:.0f}" for m in self.memory["after"]) + " MB")
        for attacks in self.attacks:
            lines += [f"  · {_describe(name, outcome)}" for name, outcome in attacks.items()]
        return lines + [f"  failure: {f}" for f in self.failures[:10]]


def _describe(name: str, outcome) -> str:
    """One line of the report for one hostile client's outcome."""
    if name == "heavy flood":
        return f"flood of {outcome['sent']} heavy upscales: {outcome['ran']} ran, {outcome['refused']} refused"
    if name == "session-hash flood":
        return (f"session-hash flood ({outcome['joins']} joins, {outcome['hash_mb']} MB hashes): HTTP "
                + ", ".join(f"{k} ×{v}" for k, v in sorted(outcome["statuses"].items())))
    if name == "session flood":
        kept = "still runs" if outcome["victim runs"] else f"is gone ({outcome['error']})"
        return (f"session flood ({outcome['opened']} of {outcome['sent']} fresh sessions from one address accepted "
                f"in {outcome['seconds']:.0f} s): the victim's uploaded model "
                f"{'(loaded) ' if outcome['loaded'] else '(never loaded) '}{kept}")
    if name == "classroom":
        failed = f": {outcome['first failure']}" if outcome["first failure"] else ""
        return (f"classroom ({outcome['users']} users behind one address, 2 upscales each): {outcome['answered']} "
                f"answered (p50 {outcome['p50']:.1f} s, p95 {outcome['p95']:.1f} s), {outcome['failed']} failed"
                + failed)
    return f"{name}: {outcome}"


def _requests(image: str):
    """The mix each user sends, in turn: an upscale, a HAT attention click, a LAM with few steps, a classification
    and a classifier attention click with embedded demo models, the zoo."""
    from gradio_client import handle_file

    return [
        ("/upscale", (handle_file(image), "hat-demo-x4", 4)),
        ("/hat_attention", (handle_file(image), "hat-demo-x4", 10, 12, 0, 1, "mean")),
        ("/lam", (handle_file(image), "bicubic", 10, 12, 5)),
        ("/classify", (handle_file(image), "pvt-demo", 3)),
        ("/attention", (handle_file(image), "pvt-demo", 20, 16, -1, "mean", "")),
        ("/models", ()),
    ]


def _answer(result):
    """A comparable form of an endpoint's answer: image files by their pixels, anything else as it is."""
    from PIL import Image

    if isinstance(result, (list, tuple)):
        return tuple(_answer(r) for r in result)
    if isinstance(result, str) and os.path.isfile(result):
        with Image.open(result) as img:
            return ("image", img.size, np.asarray(img).tobytes())
    if isinstance(result, dict) and "data" in result:  # the zoo table: its status may not change under load
        return ("table", len(result["data"]))
    return result


def _start_server() -> tuple[subprocess.Popen, str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False", VTDEMO_TRUSTED_PROXY="1")
    proc = subprocess.Popen([sys.executable, "-m", "vtdemo", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc, url
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("the server exited while starting")
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the server did not start within 120 s")


def _attack(url: str, files: dict[str, str], attacks: dict) -> None:
    """One hostile client: hostile images, path probes without Gradio's marker, then a flood of heavy upscales."""
    import httpx
    from gradio_client import Client, handle_file

    headers = {"X-Forwarded-For": ATTACKER}
    client = Client(url, verbose=False, headers=headers)
    for name, endpoint, args in (("bomb", "/classify", ("pvt-demo", 3)), ("line", "/classify", ("pvt-demo", 3)),
                                 ("line", "/attention", ("pvt-demo", 0, 30000, -1, "mean", ""))):
        try:
            client.predict(handle_file(files[name]), *args, api_name=endpoint)
            attacks[f"{name} {endpoint}"] = "answered"
        except Exception as exc:  # noqa: BLE001 - the message is the outcome
            attacks[f"{name} {endpoint}"] = f"refused ({str(exc)[:70]})"
    for path in ("/etc/passwd", "/etc/shadow", "/nonexistent.png"):
        r = httpx.post(f"{url.rstrip('/')}/gradio_api/call/upscale", json={"data": [{"path": path}, "bicubic", 2]},
                       headers=headers, timeout=30)
        event = "?"
        if r.status_code == 200:
            with httpx.stream("GET", f"{url.rstrip('/')}/gradio_api/call/upscale/{r.json()['event_id']}",
                              headers=headers, timeout=60) as stream:
                text = "".join(stream.iter_text())
            event = "read!" if "event: complete" in text else "refused"
        attacks[f"path {path}"] = event
    jobs = []
    for _ in range(20):
        try:
            jobs.append(client.submit(handle_file(files["noise-256"]), "hat-demo-x4", 4, api_name="/upscale"))
        except Exception:  # noqa: BLE001
            jobs.append(None)
    done = refused = 0
    for job in jobs:
        try:
            job.result()
            done += 1
        except Exception:  # noqa: BLE001 - refused by the per-client limit (or failed)
            refused += 1
    attacks["heavy flood"] = {"sent": len(jobs), "ran": done, "refused": refused}


CLASSROOM = "198.51.100.200"  # one address, several honest users


def _raw(url: str):
    """(join(fn, data, session, headers) -> status, result(session) -> process_completed message) over raw HTTP,
    and the app's config."""
    import json

    import httpx

    base = url.rstrip("/")
    config = httpx.get(f"{base}/config", timeout=30).json()

    def join(fn: int, data: list, session: str, headers: dict) -> int:
        return httpx.post(f"{base}/gradio_api/queue/join", headers=headers, timeout=60,
                          json={"data": data, "fn_index": fn, "session_hash": session, "event_data": None,
                                "trigger_id": None}).status_code

    def result(session: str) -> dict:
        with httpx.stream("GET", f"{base}/gradio_api/queue/data", params={"session_hash": session},
                          timeout=300) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:") and '"process_completed"' in line:
                    return json.loads(line[5:])
        return {"success": False, "output": {"error": "the stream ended"}}

    return join, result, config


def _fn(config: dict, trigger_elem: str, event: str) -> int:
    """The fn index of the page's ``event`` on the component ``trigger_elem`` (its server function, not a page-only
    script on the same event)."""
    elem = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
    return next(d["id"] for d in config["dependencies"] if d.get("backend_fn", True)
                and any(elem.get(t[0]) == trigger_elem and t[1] == event for t in d.get("targets", [])))


def _session_hash_flood(url: str, attacks: dict, count: int = 300) -> None:
    """Joins whose session hash is 1.9 MB (under the body limit): Gradio keeps a hash in several tables."""
    join, _, config = _raw(url)
    fn = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "models")
    statuses: dict[int, int] = {}
    for i in range(count):
        status = join(fn, [], f"{i:06d}" + "S" * 1_900_000, {"X-Forwarded-For": ATTACKER})
        statuses[status] = statuses.get(status, 0) + 1
    attacks["session-hash flood"] = {"joins": count, "hash_mb": 1.9, "statuses": statuses}


def _session_eviction(url: str, folder: Path, image: str, attacks: dict, count: int = 700) -> None:
    """A victim uploads a checkpoint into its session; one client then opens ``count`` fresh sessions (four at a
    time); does the victim's comparison with its uploaded model still run?"""
    import httpx

    join, result, config = _raw(url)
    base, victim = url.rstrip("/"), {"X-Forwarded-For": "192.0.2.99"}

    def uploaded(path: str, headers: dict) -> dict:
        with open(path, "rb") as f:
            r = httpx.post(f"{base}/gradio_api/upload", files={"files": (Path(path).name, f.read())},
                           headers=headers, timeout=60)
        return {"path": r.json()[0], "meta": {"_type": "gradio.FileData"}}

    checkpoint = uploaded(str(_files.make(folder, ["tiny-checkpoint"])["tiny-checkpoint"]), victim)
    join(_fn(config, "sr-checkpoint", "upload"), [checkpoint, 4, None, ["bicubic"]], "victim000001", victim)
    loaded = result("victim000001")["success"]
    fn = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "models")
    start = time.perf_counter()

    opened = []

    def flood(part: int) -> None:
        for i in range(part, count, 4):
            if join(fn, [], f"evict{i:06d}", {"X-Forwarded-For": ATTACKER}) == 200:
                opened.append(i)
                result(f"evict{i:06d}")

    threads = [threading.Thread(target=flood, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    picture = uploaded(image, victim)
    join(_fn(config, "sr-run", "click"), [picture, ["upload:1"], "lr", 4, None, None, 0, 50, 50, 4], "victim000001", victim)
    answer = result("victim000001")
    attacks["session flood"] = {"opened": len(opened), "sent": count, "seconds": seconds, "loaded": loaded,
                                "victim runs": bool(answer.get("success")),
                                "error": None if answer.get("success") else str(answer["output"].get("error"))[:60]}


def _classroom(url: str, image: str, expected: dict, users: int, attacks: dict) -> None:
    """``users`` honest users behind one address, each its own session, two upscales each, all at once."""
    from gradio_client import Client, handle_file

    latencies, failures, lock = [], [], threading.Lock()

    def student() -> None:
        client = Client(url, verbose=False, headers={"X-Forwarded-For": CLASSROOM})
        for _ in range(2):
            start = time.perf_counter()
            try:
                answer = _answer(client.predict(handle_file(image), "hat-demo-x4", 4, api_name="/upscale"))
                with lock:
                    latencies.append(time.perf_counter() - start)
                    if answer != expected["/upscale"]:
                        failures.append("a different answer")
            except Exception as exc:  # noqa: BLE001 - the outcome
                with lock:
                    failures.append(str(exc)[:80])

    threads = [threading.Thread(target=student) for _ in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lat = np.sort(np.asarray(latencies)) if latencies else np.zeros(1)
    attacks["classroom"] = {"users": users, "answered": len(latencies), "failed": len(failures),
                            "p50": float(np.percentile(lat, 50)), "p95": float(np.percentile(lat, 95)),
                            "first failure": sorted(set(failures))[0] if failures else None}


def run_users(clients: int, requests: int, url: str | None = None, rounds: int = 2, fresh_sessions: bool = False,
              attack: bool = False, hash_flood: int = 300, session_flood: int = 700, classroom: int = 8
              ) -> LoadResult:
    """What ``clients`` honest users saw, each sending ``requests`` requests per round. With ``attack``: the hostile
    client, ``hash_flood`` long session hashes, ``session_flood`` fresh sessions against a victim's, and
    ``classroom`` users behind one address, alongside the honest clients (``LoadResult.attacks``: one dict per
    round)."""
    from gradio_client import Client
    from PIL import Image

    proc = None
    if url is None:
        proc, url = _start_server()
    pid = proc.pid if proc else None
    folder = Path(tempfile.mkdtemp())
    try:
        image = str(folder / "load.png")
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(image)
        warm = Client(url, verbose=False, headers={"X-Forwarded-For": "198.51.100.254"})
        expected = {endpoint: _answer(warm.predict(*args, api_name=endpoint))  # what a lone user gets
                    for endpoint, args in _requests(image)}
        baseline = peak = rss_mb(pid) if pid else 0.0
        stop = threading.Event()

        def sample():
            nonlocal peak
            while pid and not stop.wait(0.05):
                peak = max(peak, rss_mb(pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        latencies, failures, wrong, after, rounds_attacks, lock = [], [], [], [], [], threading.Lock()

        def user(k: int) -> None:
            headers = {"X-Forwarded-For": f"198.51.100.{k % 250}"}
            client = None if fresh_sessions else Client(url, verbose=False, headers=headers)
            mix = _requests(image)
            for i in range(requests):
                endpoint, args = mix[(k + i) % len(mix)]
                start = time.perf_counter()
                try:
                    session = client or Client(url, verbose=False, headers=headers)
                    answer = _answer(session.predict(*args, api_name=endpoint))
                    with lock:
                        latencies.append(time.perf_counter() - start)
                        if answer != expected[endpoint]:
                            wrong.append(endpoint)
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    with lock:
                        failures.append(f"{endpoint}: {type(exc).__name__}: {str(exc)[:120]}")

        start = time.perf_counter()
        sent = _files.make(folder, ["bomb", "line", "noise-256"]) if attack else {}
        hostile = {name: str(path) for name, path in sent.items()}
        for _ in range(rounds):
            threads = [threading.Thread(target=user, args=(k,)) for k in range(clients)]
            attacked: dict = {}
            if attack:
                rounds_attacks.append(attacked)
                threads += [threading.Thread(target=_attack, args=(url, hostile, attacked)),
                            threading.Thread(target=_session_hash_flood, args=(url, attacked, hash_flood)),
                            threading.Thread(target=_session_eviction,
                                             args=(url, folder, image, attacked, session_flood)),
                            threading.Thread(target=_classroom, args=(url, image, expected, classroom, attacked))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            time.sleep(1.0)
            after.append(rss_mb(pid) if pid else 0.0)
        wall = time.perf_counter() - start
        stop.set()
        sampler.join()
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    sessions = "a new session per request" if fresh_sessions else "one session per client"
    return LoadResult(f"{rounds} rounds × {clients} clients × {requests} requests ({sessions}) against {url} in "
                      f"{wall:.1f} s", latencies, failures, wrong,
                      {"baseline": baseline, "peak": peak, "after": after} if pid else None, rounds_attacks)


def run_per_endpoint(clients: list[int], requests: int, url: str | None = None) -> list[str]:
    """Each endpoint alone under N concurrent clients (one session each, own addresses): completed requests per
    second and latency p50/p95, and the server's resident memory — the numbers docs/scaling.md decides with."""
    from gradio_client import Client
    from PIL import Image

    proc = None
    if url is None:
        proc, url = _start_server()
    pid = proc.pid if proc else None
    folder = Path(tempfile.mkdtemp())
    lines = [f"Each endpoint alone, N clients × {requests} requests, against {url} (48×40 image):", "",
             "| endpoint | clients | requests/s | p50 s | p95 s | failed |", "|---|---|---|---|---|---|"]
    try:
        image = str(folder / "load.png")
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(image)
        warm = Client(url, verbose=False, headers={"X-Forwarded-For": "198.51.100.254"})
        for endpoint, args in _requests(image):
            warm.predict(*args, api_name=endpoint)  # models loaded and throughput probes run before timing
        baseline = rss_mb(pid) if pid else 0.0
        for endpoint, args in _requests(image):
            for n in clients:
                latencies, failed, lock = [], [], threading.Lock()
                sessions = [Client(url, verbose=False, headers={"X-Forwarded-For": f"198.51.100.{k}"})
                            for k in range(n)]

                def user(session) -> None:
                    for _ in range(requests):
                        start = time.perf_counter()
                        try:
                            session.predict(*args, api_name=endpoint)
                            with lock:
                                latencies.append(time.perf_counter() - start)
                        except Exception as exc:  # noqa: BLE001 - counted and reported
                            with lock:
                                failed.append(f"{type(exc).__name__}: {str(exc)[:80]}")

                threads = [threading.Thread(target=user, args=(s,)) for s in sessions]
                start = time.perf_counter()
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                wall = time.perf_counter() - start
                lat = np.asarray(latencies) if latencies else np.zeros(1)
                lines.append(f"| {endpoint} | {n} | {len(latencies) / wall:.2f} | {np.percentile(lat, 50):.2f} | "
                             f"{np.percentile(lat, 95):.2f} | {len(failed)} |")
        if pid:
            lines += ["", f"Server memory: {baseline:.0f} MB with every demo model loaded and warm, "
                          f"{rss_mb(pid):.0f} MB at the end."]
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    return lines
