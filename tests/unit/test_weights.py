import argparse
import hashlib
import http.server
import os
import pickle
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from vtdemo.atomic import UMASK
import torch
from safetensors.torch import save_file

from vtdemo.zoo import downloads, weights
from vtdemo.zoo.cards import ModelCard, WeightSource, get_card

PAYLOAD = os.urandom(300_000)


def _card(*sources: WeightSource) -> ModelCard:
    return ModelCard(id="test-model", task="sr", family="Test", name="Test", paper="p", paper_url="https://x",
                     builder="spandrel", sources=sources, licence="MIT", scale=4)


class _Server:
    """A local http.server on 127.0.0.1 serving PAYLOAD at /file.bin and a connection that drops at /drop.bin."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/file.bin":
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(PAYLOAD)))
                    self.end_headers()
                    self.wfile.write(PAYLOAD)
                elif self.path == "/drop.bin":  # promise everything, send a tenth, hang up
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(PAYLOAD)))
                    self.end_headers()
                    self.wfile.write(PAYLOAD[: len(PAYLOAD) // 10])
                    self.wfile.flush()
                    self.connection.shutdown(2)
                elif self.path == "/big.bin":  # no Content-Length, more than any limit set by the tests
                    self.send_response(200)
                    self.end_headers()
                    for _ in range(40):
                        self.wfile.write(PAYLOAD[:50_000])
                elif self.path == "/drip.bin":  # one byte at a time, well within any per-read timeout
                    self.send_response(200)
                    self.send_header("Content-Length", "1000")
                    self.end_headers()
                    for _ in range(1000):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        time.sleep(0.2)
                elif self.path.startswith("/hub/"):  # a stand-in Hub: every resolve URL gives PAYLOAD
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(PAYLOAD)))
                    self.end_headers()
                    self.wfile.write(PAYLOAD)
                elif self.path.startswith("/redirect-to-"):
                    self.send_response(302)
                    where = self.path.removeprefix("/redirect-to-")
                    port = self.server.server_address[1]
                    self.send_header("Location", {"localhost": f"http://localhost:{port}/file.bin",
                                                  "file": "file:///etc/passwd"}[where])
                    self.end_headers()
                else:
                    self.send_error(404)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.close()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_verifies_and_writes_atomically(server, tmp_path):
    target = tmp_path / "dl" / "model.pth"
    seen = []
    path = weights.download_url(server.url + "/file.bin", target, sha256=hashlib.sha256(PAYLOAD).hexdigest(),
                                size=len(PAYLOAD), progress=lambda done, total: seen.append((done, total)))
    assert path == target and target.read_bytes() == PAYLOAD
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert _leftovers(target.parent) == ["model.pth"]
    assert target.stat().st_mode & 0o777 == 0o666 & ~UMASK  # the user's normal mode, not the part's 0600


def test_wrong_hash_leaves_no_file(server, tmp_path):
    target = tmp_path / "dl" / "model.pth"
    with pytest.raises(weights.WeightsError, match="sha256 mismatch"):
        weights.download_url(server.url + "/file.bin", target, sha256="0" * 64)
    assert _leftovers(target.parent) == []


def test_dropped_connection_leaves_no_file(server, tmp_path):
    target = tmp_path / "dl" / "model.pth"
    with pytest.raises(weights.WeightsError):
        weights.download_url(server.url + "/drop.bin", target)
    assert _leftovers(target.parent) == []


def test_ctrl_c_during_download_leaves_no_file(server, tmp_path):
    target = tmp_path / "dl" / "model.pth"

    def interrupt(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        weights.download_url(server.url + "/file.bin", target, progress=interrupt)
    assert _leftovers(target.parent) == []


def test_download_is_capped_in_bytes_and_time(server, tmp_path, monkeypatch):
    target = tmp_path / "dl" / "model.pth"
    monkeypatch.setenv("VTDEMO_MAX_CHECKPOINT_BYTES", "1000000")
    with pytest.raises(weights.WeightsError, match="more than 1,000,000 bytes"):
        weights.download_url(server.url + "/big.bin", target)
    with pytest.raises(weights.WeightsError, match="announces 300,000 bytes"):
        weights.download_url(server.url + "/file.bin", target, size=1000)
    monkeypatch.setenv("VTDEMO_DOWNLOAD_TIMEOUT_S", "1")
    start = time.monotonic()
    with pytest.raises(weights.WeightsError, match="VTDEMO_DOWNLOAD_TIMEOUT_S"):
        weights.download_url(server.url + "/drip.bin", target)
    assert time.monotonic() - start < 10  # cut off soon after the deadline, not after 1000 × 0.2 s
    assert _leftovers(target.parent) == []


def test_redirects_stay_on_http_and_out_of_private_networks(server, tmp_path, monkeypatch):
    target = tmp_path / "dl" / "model.pth"
    with pytest.raises(weights.WeightsError, match="(?i)redirect"):  # urllib refuses file: itself
        weights.download_url(server.url + "/redirect-to-file", target)
    # the test server is on loopback: pretend 127.0.0.1 is a public mirror whose redirect points at "localhost"
    monkeypatch.setattr(downloads, "_is_private", lambda host: host == "localhost")
    with pytest.raises(weights.WeightsError, match="private or local address"):
        weights.download_url(server.url + "/redirect-to-localhost", target)
    assert not target.exists() and _leftovers(target.parent) == []


def test_private_addresses_are_recognised():
    for host in ("127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "::1", "0.0.0.0", "localhost"):
        assert downloads._is_private(host), host
    assert not downloads._is_private("8.8.8.8") and not downloads._is_private("2606:4700:4700::1111")


def test_stale_partial_downloads_are_removed(tmp_path):
    stale, fresh = tmp_path / ".model.pth.abc.part", tmp_path / ".model.pth.def.part"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"x")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    assert weights.clean_partial_downloads(tmp_path) == 1
    assert not stale.exists() and fresh.exists()


def test_resolve_downloads_into_the_url_cache_when_online(server, weights_home, online):
    card = _card(WeightSource("url", "file.bin", url=server.url + "/file.bin",
                              sha256=hashlib.sha256(PAYLOAD).hexdigest()))
    assert weights.status(card) == "downloadable"
    path = weights.resolve(card)
    assert path == weights_home / "cache" / "file.bin" and path.read_bytes() == PAYLOAD
    assert weights.status(card) == "cached"


def test_resolve_falls_back_to_the_next_mirror(server, weights_home, online):
    card = _card(WeightSource("url", "file.bin", url=server.url + "/missing/file.bin"),
                 WeightSource("url", "file.bin", url=server.url + "/file.bin"))
    assert weights.resolve(card).read_bytes() == PAYLOAD


def test_prefilled_hub_cache_is_found_offline(weights_home, prefill_hub, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    snapshot_file = prefill_hub("acme/tiny-sr", {"w": torch.ones(2)})
    card = _card(WeightSource("hub", "model.safetensors", repo_id="acme/tiny-sr"))
    assert weights.status(card) == "cached"
    path = weights.resolve(card)
    assert path.resolve() == snapshot_file.resolve()
    assert torch.equal(weights.load_state_dict(path)["w"], torch.ones(2))


def test_weights_folder_comes_before_the_caches(weights_home):
    (weights_home / "file.bin").write_bytes(b"mine")
    card = _card(WeightSource("url", "file.bin", url="https://example.invalid/file.bin"))
    assert weights.resolve(card) == weights_home / "file.bin"


def test_offline_resolve_explains_what_to_do(weights_home, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(weights.WeightsUnavailable) as info:
        weights.resolve(get_card("hat-x4"))
    message = str(info.value)
    for needle in ("HAT_SRx4_ImageNet-pretrain.pth", "huggingface.co/Acly/hat",
                   "$VTDEMO_WEIGHTS_DIR/HAT_SRx4_ImageNet-pretrain.pth", "python -m vtdemo fetch hat-x4",
                   get_card("hat-x4").source.sha256):  # the whole hash: a user checks a manual download with it
        assert needle in message
    assert str(weights_home) not in message  # no server path in a message


def test_fetch_cli_offline_fails_cleanly():
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    run = subprocess.run([sys.executable, "-m", "vtdemo", "fetch", "hat-x4"], capture_output=True, text=True,
                         env=env, timeout=120)
    assert run.returncode != 0
    assert "Traceback" not in run.stderr + run.stdout
    assert "HAT_SRx4_ImageNet-pretrain.pth" in run.stderr and "weights" in run.stderr


# --- safe loading -----------------------------------------------------------------------------------------------

class _Evil:
    """Unpickling this would create a file: the canary."""

    def __init__(self, canary: Path):
        self.canary = str(canary)

    def __reduce__(self):
        return open, (self.canary, "w")


@pytest.mark.parametrize("fmt", ["torch-zip", "legacy-pickle"])
def test_malicious_pickle_is_refused_and_never_runs(tmp_path, fmt):
    canary = tmp_path / "canary.txt"
    path = tmp_path / "evil.pth"
    payload = {"params_ema": {"w": torch.zeros(1)}, "x": _Evil(canary)}
    if fmt == "torch-zip":
        torch.save(payload, path)
    else:
        with open(path, "wb") as f:
            pickle.dump(payload, f)
    assert not canary.exists()
    # torch's format names the foreign object; a bare protocol-4 pickle is not read far enough to see it
    expected = weights.UnsafeCheckpointError if fmt == "torch-zip" else weights.WeightsError
    with pytest.raises(expected, match="refused: it is a pickle that needs the object|a pickle but not a PyTorch"):
        weights.load_state_dict(path)
    assert not canary.exists()


def test_unwrap_prefers_ema_and_strips_module_prefix(tmp_path):
    ema, plain = torch.ones(2), torch.zeros(2)
    path = tmp_path / "ckpt.pth"
    torch.save({"params": {"w": plain}, "params_ema": {"module.w": ema}}, path)
    assert torch.equal(weights.load_state_dict(path)["w"], ema)
    torch.save({"model": {"w": plain}, "args": argparse.Namespace(lr=0.1), "epoch": 3}, path)
    assert torch.equal(weights.load_state_dict(path)["w"], plain)
    torch.save({"state_dict": {"module.a.b": ema}}, path)
    assert list(weights.load_state_dict(path)) == ["a.b"]
    # spandrel's canonicalize_state_dict rules: its other wrapper keys, a prefix stripped only when every key has it
    torch.save({"state_dict": {"w": plain}, "params_ema": {"w": ema}}, path)  # EMA first, whatever spandrel's order
    assert torch.equal(weights.load_state_dict(path)["w"], ema)
    torch.save({"net": {"netG.w": ema, "netG.b": plain}}, path)
    assert sorted(weights.load_state_dict(path)) == ["b", "w"]
    torch.save({"params-ema": {"module.w": ema, "head.b": plain}}, path)
    assert sorted(weights.load_state_dict(path)) == ["head.b", "module.w"]


def test_safetensors_load(tmp_path):
    path = tmp_path / "m.safetensors"
    save_file({"a": torch.arange(3.0)}, str(path))
    assert torch.equal(weights.load_state_dict(path)["a"], torch.arange(3.0))


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"hello, not a checkpoint", "not a checkpoint: neither safetensors nor a PyTorch file"),
    (bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)), "not a checkpoint: neither"),
    (b"PK\x03\x04" + bytes(200), "damaged or truncated zip archive"),
    (pickle.dumps({"x": 1}, protocol=4), "a pickle but not a PyTorch checkpoint"),
])
def test_garbage_checkpoints_get_clear_errors(tmp_path, content, message):
    path = tmp_path / "bad.pth"
    path.write_bytes(content)
    with pytest.raises(weights.WeightsError) as info:
        weights.load_state_dict(path, upload=True)
    text = str(info.value)
    assert re.search(message, text) and not isinstance(info.value, weights.UnsafeCheckpointError)
    assert "PyTorch 2.6" not in text and "weights_only" not in text and text.count(".") <= 3  # one sentence


def test_a_pickle_with_a_foreign_object_says_which_in_one_sentence(tmp_path):
    path = tmp_path / "obj.pth"
    torch.save({"w": torch.zeros(1), "opt": _Evil(tmp_path / "canary")}, path)
    with pytest.raises(weights.UnsafeCheckpointError) as info:
        weights.load_state_dict(path, upload=True)
    text = str(info.value)
    assert "needs the object io.open" in text and "PyTorch 2.6" not in text  # what _Evil reduces to
    assert not (tmp_path / "canary").exists()


def test_truncated_checkpoint_gets_a_clear_error(tmp_path):
    path = tmp_path / "cut.pth"
    torch.save({"params_ema": {"w": torch.randn(1000)}}, path)
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(weights.WeightsError) as info:
        weights.load_state_dict(path)
    assert not isinstance(info.value, weights.UnsafeCheckpointError)
    assert "cut.pth" in str(info.value)


def test_oversized_checkpoint_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "big.pth"
    torch.save({"w": torch.zeros(1000)}, path)
    monkeypatch.setenv("VTDEMO_MAX_CHECKPOINT_BYTES", "1000")
    with pytest.raises(weights.WeightsError, match="VTDEMO_MAX_CHECKPOINT_BYTES"):
        weights.load_state_dict(path)


def test_every_card_has_its_own_name_in_the_weights_folder(weights_home, monkeypatch):
    from vtdemo.zoo.cards import cards

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    by_card = {c.id: {s.local_basename for s in c.sources} for c in cards()}
    for card_id, own in by_card.items():  # no file name serves two models
        others = set().union(*(v for k, v in by_card.items() if k != card_id))
        assert not own & others, (card_id, own & others)
    (weights_home / "model.safetensors").write_bytes(b"x")  # one timm-named file makes no card "cached"
    assert {weights.status(get_card(i), online=False) for i in ("vit-s16", "swin-t", "pvt-v2-b2")} == \
        {"unavailable offline"}
    (weights_home / "swin-t.safetensors").write_bytes(b"x")
    assert weights.status(get_card("swin-t"), online=False) == "cached"
    assert weights.status(get_card("vit-s16"), online=False) == "unavailable offline"
    assert "$VTDEMO_WEIGHTS_DIR/vit-s16.safetensors" in weights.offline_message(get_card("vit-s16"))


def test_offline_instructions_give_a_hash_a_user_can_check():
    full = weights.offline_message(get_card("swinir-m-x4"))
    # the published digest of the DF2K_s64w8 SwinIR-M ×4 file, whole (64 hex digits), as a user can compare it
    assert re.search(r"sha256 4e78e33f[0-9a-f]{56}\.", full), full
    unhashed = weights.offline_message(get_card("hat-s-x4"))
    assert "No sha256 is published" in unhashed and "verified against" not in unhashed


def test_published_hashes_are_whole_and_the_swinir_files_are_the_df2k_ones():
    """Every published sha256 is a whole digest; SwinIR-M's are those of the DF2K_s64w8 release files the cards
    name (sizes and hashes as listed by other projects that pin them), not the DIV2K ×4 file's."""
    from vtdemo.zoo.cards import cards

    for card in cards():
        for source in card.sources:
            assert source.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", source.sha256), (card.id, source)
    x4, x2 = get_card("swinir-m-x4"), get_card("swinir-m-x2")
    assert "DF2K_s64w8" in x4.source.filename and x4.source.size == 67_869_037
    assert x4.source.sha256.startswith("4e78e33f") and x2.source.sha256.startswith("2032ebf8")
    assert x2.source.size == 67_277_475
    assert all(s.sha256 == x4.source.sha256 for s in x4.sources)  # the hub mirror holds the same bytes


def test_preload_from_hub_pins_the_revisions_the_cards_pin():
    """The Space preloads exactly the Hub files (and commits) the cards resolve, so a preloaded file is found."""
    import yaml

    from vtdemo.zoo.cards import cards

    front = yaml.safe_load((Path(weights.REPO_ROOT) / "README.md").read_text().split("---")[1])
    hub = {(s.repo_id, s.filename): s.revision for c in cards() for s in c.sources if s.kind == "hub"}
    assert front["preload_from_hub"]
    for entry in front["preload_from_hub"]:
        repo, files, *commit = entry.split()
        for name in files.split(","):
            assert (repo, name) in hub, entry
            assert hub[(repo, name)] == (commit[0] if commit else None), entry


def _plant_hub_file(hub: Path, repo_id: str, revision: str, filename: str, data: bytes | int) -> Path:
    """A file where huggingface_hub (or a Space's preload_from_hub) keeps it: a blob and a snapshot link."""
    repo = hub / ("models--" + repo_id.replace("/", "--"))
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    (repo / "snapshots" / revision).mkdir(parents=True, exist_ok=True)
    blob = repo / "blobs" / "0123abcd"
    with open(blob, "wb") as f:
        if isinstance(data, int):
            f.truncate(data)  # sparse: the size of the real file, other bytes
        else:
            f.write(data)
    link = repo / "snapshots" / revision / filename
    link.symlink_to(os.path.relpath(blob, link.parent))
    return link


def test_a_cached_hub_file_with_the_right_size_but_other_bytes_is_refused_and_deleted(weights_home, tmp_path):
    """The real card: a file of HAT ×4's exact size planted where preload_from_hub puts it (the pinned commit)
    is hashed before use, refused, deleted — and refused again on the next call (nothing was trusted)."""
    card = get_card("hat-x4")
    link = _plant_hub_file(tmp_path / "hub", "Acly/hat", card.source.revision, card.source.filename,
                           card.source.size)
    blob = link.resolve()
    assert weights.status(card) == "unavailable offline"
    assert not link.exists() and not blob.exists()
    with pytest.raises(weights.WeightsUnavailable, match="sha256 mismatch.*deleted"):
        weights.resolve(card)
    link = _plant_hub_file(tmp_path / "hub", "Acly/hat", card.source.revision, card.source.filename,
                           card.source.size)
    with pytest.raises(weights.WeightsUnavailable):
        weights.resolve(card)
    assert not link.exists()


def test_a_cached_file_is_hashed_once_per_size_and_mtime(weights_home, tmp_path, monkeypatch):
    data = os.urandom(5000)
    card = _card(WeightSource("hub", "m.safetensors", repo_id="acme/m", revision="b" * 40,
                              sha256=hashlib.sha256(data).hexdigest(), size=len(data)))
    link = _plant_hub_file(tmp_path / "hub", "acme/m", "b" * 40, "m.safetensors", data)
    hashed = []
    real = weights.sha256_of
    monkeypatch.setattr(downloads, "sha256_of", lambda path, *a: hashed.append(path) or real(path, *a))
    assert weights.resolve(card) == link and weights.resolve(card) == link
    assert len(hashed) == 1
    blob = link.resolve()
    os.utime(blob, ns=(time.time_ns(), time.time_ns() + 10_000))  # changed (same size): checked again
    assert weights.resolve(card) == link and len(hashed) == 2
    before = blob.stat()
    blob.write_bytes(bytes(len(data)))  # rewritten in place, then its times set back: ctime still moved
    os.utime(blob, ns=(before.st_atime_ns, before.st_mtime_ns))
    with pytest.raises(weights.WeightsUnavailable, match="sha256 mismatch"):
        weights.resolve(card)


def test_a_wrong_file_the_user_placed_is_reported_not_deleted(weights_home):
    card = get_card("swinir-m-x4")
    mine = weights_home / card.source.local_basename
    mine.write_bytes(b"not swinir")
    assert weights.status(card) == "wrong file in weights/"
    with pytest.raises(weights.WeightsError, match="expected 67,869,037 bytes"):
        weights.resolve(card)
    assert mine.exists()


def test_an_unreadable_record_of_first_downloads_is_an_error_not_a_reset(server, weights_home, online):
    card = _card(WeightSource("url", "file.bin", url=server.url + "/file.bin"))
    weights.resolve(card)
    record = weights.recorded_path(card.source)
    assert oct(record.stat().st_mode & 0o777) == "0o644"
    record.write_text("{truncated")
    downloads._VERDICTS.clear()
    with pytest.raises(weights.WeightsError, match="cannot be read"):
        weights.resolve(card)
    assert record.read_text() == "{truncated"  # left for the operator, not rewritten with one entry


def test_stop_during_a_download_is_not_taken_for_a_failed_mirror(server, weights_home, online):
    from vtdemo.runtime import Cancelled

    card = _card(WeightSource("url", "file.bin", url=server.url + "/file.bin"),
                 WeightSource("url", "file.bin", url=server.url + "/file.bin"))
    calls = []

    def stop(done, total):
        calls.append(done)
        raise Cancelled("stopped")

    with pytest.raises(Cancelled):
        weights.resolve(card, progress=stop)
    assert len(calls) == 1 and not (weights_home / "cache" / "file.bin").exists()  # the second mirror not tried


def test_a_source_without_a_published_hash_is_trusted_on_first_download_only(server, weights_home, online):
    card = _card(WeightSource("url", "file.bin", url=server.url + "/file.bin"))
    assert weights.verification(card) == "unverified"
    path = weights.resolve(card)
    recorded = weights.recorded_hashes(card.source)[weights.source_key(card.source)]
    assert recorded == {"sha256": hashlib.sha256(PAYLOAD).hexdigest(), "size": len(PAYLOAD)}
    assert weights.resolve(card) == path  # the same bytes pass
    path.write_bytes(bytes(len(PAYLOAD)))  # replaced in the cache by other bytes of the same size
    assert weights.find_local(card.source) is None and not path.exists()  # refused and deleted
    assert "differs from the" in weights.REJECTED[weights.source_key(card.source)]
    assert weights.resolve(card).read_bytes() == PAYLOAD  # downloaded again: the same bytes as recorded


def test_the_size_message_names_the_limit_that_applied(server, tmp_path, monkeypatch):
    with pytest.raises(weights.WeightsError, match="the size its card publishes"):
        weights.download_url(server.url + "/file.bin", tmp_path / "a.bin", size=1000)
    monkeypatch.setenv("VTDEMO_MAX_CHECKPOINT_BYTES", "1000")
    with pytest.raises(weights.WeightsError, match="VTDEMO_MAX_CHECKPOINT_BYTES"):
        weights.download_url(server.url + "/file.bin", tmp_path / "b.bin")


def test_reachability_is_per_host(server, weights_home, online, monkeypatch):
    """The Hub down (here: an address nothing listens on) does not make a GitHub-style URL source offline."""
    import socket

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed.getsockname()[1]}")
    closed.close()
    card = _card(WeightSource("hub", "file.bin", repo_id="acme/x"),
                 WeightSource("url", "file.bin", url=server.url + "/file.bin"))
    assert not weights.is_online()
    assert weights.status(card) == "downloadable"
    assert weights.resolve(card).read_bytes() == PAYLOAD
    alone = _card(WeightSource("hub", "file.bin", repo_id="acme/x"))
    assert weights.status(alone) == "unavailable offline"


def test_fetch_check_compares_every_source_with_its_card(server, online, monkeypatch, capsys):
    """`fetch --check` against a local stand-in of the Hub (HF_ENDPOINT) serving PAYLOAD for every file: each
    real hub card's published size and hash mismatch; a source without them is reported as such."""
    from vtdemo import cli

    rows = weights.check_sources([
        _card(WeightSource("url", "file.bin", url=server.url + "/file.bin", size=len(PAYLOAD),
                           sha256=hashlib.sha256(PAYLOAD).hexdigest())),
        _card(WeightSource("url", "file.bin", url=server.url + "/file.bin", sha256="0" * 64)),
        _card(WeightSource("url", "file.bin", url=server.url + "/file.bin")),
        _card(WeightSource("url", "file.bin", url=server.url + "/missing.bin")),
    ])
    assert [r["verdict"][:5] for r in rows] == ["ok", "MISMA", "no pu", "error"]
    assert rows[1]["actual_sha256"] == hashlib.sha256(PAYLOAD).hexdigest()
    monkeypatch.setenv("HF_ENDPOINT", server.url + "/hub")
    assert cli.main(["fetch", "--check", "hat-x4"]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH" in out and "85,137,601" in out and f"{len(PAYLOAD):,}" in out
    monkeypatch.setenv("HF_ENDPOINT", server.url + "/nothing-here")
    assert cli.main(["fetch", "--check", "hat-x4"]) == 1  # a check that could not run is not a pass
    assert "error" in capsys.readouterr().out
    assert cli.main(["fetch", "--check", "no-such-model"]) == 2
