"""Verified pieces (X30-X35): every piece a receiver gets is checked
against the game's manifest, a source that sends a bad one is dropped, an
interrupted download keeps what it verified and the next one fetches only
the rest, a holder's piece hashes survive its restart, and verify and
repair find and mend a game that went bad on disk."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

from harness import (
    CATALOG_VERSIONS,
    CHUNK_SIZE,
    LineWaiter,
    Peer,
    Scenario,
    ScenarioError,
    assert_not_exists,
    connect_many,
    copy_game,
    create_large_sparse_game,
    event_is,
    game_events,
    poll,
    sha256_file,
    wait_local_game,
    wait_remote_game,
)
from wire import PIECE_SIZE

GAME = "bf1942"
VERSION = CATALOG_VERSIONS[GAME]


def _wait_hashed(peer: Peer, game_id: str, timeout: float = 60) -> None:
    """Until the peer serves game_id: its manifest is ready."""

    def ready() -> bool:
        hashing = peer.status().get("hashing", [])
        rows = [r for r in peer.list_games()["local"] if r["id"] == game_id]
        return bool(rows) and rows[0].get("downloaded") and "hashing" not in rows[0] \
            and not any(h["game_id"] == game_id for h in hashing)

    poll(ready, timeout=timeout, what=f"{peer.name} never finished hashing {game_id}")


def _rot(path: Path, offsets: list[int]) -> None:
    """Flips a byte at each offset and puts the mtime back: to the holder's
    cache the file is unchanged, like a disk that went bad under it."""
    st = path.stat()
    with path.open("r+b") as handle:
        for offset in offsets:
            handle.seek(offset)
            byte = handle.read(1)
            handle.seek(offset)
            handle.write(bytes([byte[0] ^ 0x5A]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def _sparse_source(sc: Scenario, name: str, chunks: int) -> tuple[Peer, Path]:
    games = sc.fixture_root / name
    create_large_sparse_game(games / GAME, size=chunks * CHUNK_SIZE)
    return sc.peer(name, games_dir=games), games / GAME


def _download_end(client: Peer, waiter: LineWaiter, what: str, *, timeout: float = 180,
                  game_id: str = GAME) -> dict[str, Any]:
    """How the download (or repair) of game_id ends, after waiter."""
    return client.wait_for(
        lambda item: item.get("type") == "event"
        and item.get("event") in ("download-finished", "download-failed", "download-peers-gone")
        and (item.get("data") or {}).get("game_id") == game_id,
        timeout=timeout, description=what, waiter=waiter)


def _download(client: Peer, waiter: LineWaiter, *, timeout: float = 180) -> dict[str, Any]:
    """Starts a download and waits for how it ends."""
    client.send({"cmd": "download", "game_id": GAME, "install": False})
    return _download_end(client, waiter, f"{GAME} download end", timeout=timeout)


def _first_chunk_in(sc: Scenario, prefix: str) -> tuple[Peer, Path, Peer, LineWaiter]:
    """A 3-chunk source and a client whose download of it has its first
    chunk in: (source, its game folder, client, the download's cursor)."""
    source, source_root = _sparse_source(sc, f"{prefix}-source", 3)
    _wait_hashed(source, GAME)
    client = sc.peer(f"{prefix}-client")
    connect_many(client, [source])
    wait_remote_game(client, GAME, peer_count=1, version=VERSION)
    start = client.mark()
    client.send({"cmd": "download", "game_id": GAME, "install": False})
    client.wait_for(event_is("download-chunk-finished", GAME), timeout=60,
                    description="first chunk", waiter=start)
    return source, source_root, client, start


def x30_corrupt_source_dropped(sc: Scenario) -> str:
    """Two sources of a 3-chunk game; one has a flipped byte in its second
    chunk (and in its third, so that whichever chunks the planner gives it,
    it is asked for a bad piece). The download finishes byte-exact and the
    bad source is dropped, never asked again."""
    good, good_root = _sparse_source(sc, "x30-good", 3)
    bad, bad_root = _sparse_source(sc, "x30-bad", 3)
    _wait_hashed(good, GAME)
    _wait_hashed(bad, GAME)
    _rot(bad_root / f"{GAME}.eti", [CHUNK_SIZE + 5 * PIECE_SIZE + 7, 2 * CHUNK_SIZE + 9 * PIECE_SIZE + 3])
    client = sc.peer("x30-client")
    connect_many(client, [good, bad])
    wait_remote_game(client, GAME, peer_count=2, version=VERSION)
    begin = client.output_len()
    ended = _download(client, LineWaiter(begin))
    if ended["event"] != "download-finished":
        raise ScenarioError(f"download did not finish: {ended}")
    dropped = game_events(client, "download-source-dropped", GAME, begin)
    bad_drops = [d for d in dropped if d["data"]["peer_addr"] == bad.ready_addr]
    if len(bad_drops) != 1 or "corrupt" not in bad_drops[0]["data"]["reason"]:
        raise ScenarioError(f"the bad source was not dropped once for corrupt data: {dropped}")
    if any(d["data"]["peer_addr"] == good.ready_addr for d in dropped):
        raise ScenarioError(f"the good source was dropped: {dropped}")
    root = client.host_games_dir / GAME
    if sha256_file(root / f"{GAME}.eti") != sha256_file(good_root / f"{GAME}.eti"):
        raise ScenarioError("the downloaded archive differs from the good copy")
    if (root / "version.ini").read_text().strip() != VERSION:
        raise ScenarioError("version.ini not committed")
    late, after_drop = [], False
    for item in client.items(begin):
        data = item.get("data") or {}
        if item.get("event") == "download-source-dropped" and data.get("peer_addr") == bad.ready_addr:
            after_drop = True
        elif after_drop and item.get("event") == "download-chunk-finished" \
                and data.get("peer_addr") == bad.ready_addr:
            late.append(item)
    if late:
        raise ScenarioError(f"chunks came from the bad source after it was dropped: {late}")
    return (f"bad source dropped ({bad_drops[0]['data']['reason']}); {GAME} byte-exact from the good one, "
            f"{ended['data']['throughput']['bytes']} bytes fetched")


def x31_only_corrupt_source_fails(sc: Scenario) -> str:
    """With only a source whose data went bad: download-failed saying the
    data was corrupt, and nothing committed."""
    bad, bad_root = _sparse_source(sc, "x31-bad", 3)
    _wait_hashed(bad, GAME)
    _rot(bad_root / f"{GAME}.eti", [CHUNK_SIZE + 5 * PIECE_SIZE + 7])
    client = sc.peer("x31-client")
    connect_many(client, [bad])
    wait_remote_game(client, GAME, peer_count=1, version=VERSION)
    ended = _download(client, client.mark())
    if ended["event"] != "download-failed" or "corrupt" not in ended["data"].get("error", ""):
        raise ScenarioError(f"expected download-failed for corrupt data, got {ended}")
    assert_not_exists(client.host_games_dir / GAME / "version.ini")
    if client.status()["active_operations"]:
        raise ScenarioError("an operation is left after the failure")
    return f"only a corrupt source: download-failed ({ended['data']['error']}), no version.ini"


def _resume_and_check(client: Peer, source: Peer, source_root: Path, what: str) -> str:
    """After an interruption: the partial row, then a download that fetches
    only what is missing (one piece of slack), byte-exact."""
    row = wait_local_game(client, GAME, downloaded=False, installed=False)
    partial = row.get("partial")
    if not partial or partial["bytes"] <= 0 or partial["total_bytes"] != 3 * CHUNK_SIZE + len(VERSION):
        raise ScenarioError(f"no kept partial download after {what}: {row}")
    connect_many(client, [source])
    wait_remote_game(client, GAME, peer_count=1, version=VERSION)
    ended = _download(client, client.mark())
    if ended["event"] != "download-finished":
        raise ScenarioError(f"resumed download did not finish: {ended}")
    fetched = ended["data"]["throughput"]["bytes"]
    missing = partial["total_bytes"] - partial["bytes"]
    if fetched > missing + PIECE_SIZE:
        raise ScenarioError(f"resume fetched {fetched} bytes, but only {missing} were missing")
    root = client.host_games_dir / GAME
    if sha256_file(root / f"{GAME}.eti") != sha256_file(source_root / f"{GAME}.eti"):
        raise ScenarioError("the resumed download differs from the source")
    if any(r["id"] == GAME and r.get("partial") for r in client.list_games()["local"]):
        raise ScenarioError("a partial row is left after the download finished")
    return f"{partial['bytes']} of {partial['total_bytes']} bytes kept after {what}; the retry fetched {fetched}"


def x32_resume_after_receiver_killed(sc: Scenario) -> str:
    """SIGKILL of the receiver after its first chunk; restarted, it lists
    the partial download, and downloading again fetches only what is
    missing."""
    source, source_root, client, _start = _first_chunk_in(sc, "x32")
    client.kill()
    client = sc.peer("x32-client")  # same name: same games and state folders
    return _resume_and_check(client, source, source_root, "the receiver was killed")


def x33_resume_after_source_came_back(sc: Scenario) -> str:
    """The only source goes away half way (peers-gone) and comes back:
    downloading again fetches only what is missing."""
    source, source_root, client, start = _first_chunk_in(sc, "x33")
    source.kill()
    ended = _download_end(client, start, "download end after the source left", timeout=60)
    if ended["event"] == "download-finished":
        raise ScenarioError("the download finished before the source left (rerun)")
    source = sc.peer("x33-source", games_dir=source_root.parent)
    _wait_hashed(source, GAME)
    return _resume_and_check(client, source, source_root, f"{ended['event']}")


def x34_hash_cache_survives_restart(sc: Scenario) -> str:
    """200 games: hashed once, with the progress visible in status; after a
    restart nothing is hashed again and list-games answers in under 1 s."""
    games = sc.fixture_root / "x34-games"
    for i in range(200):
        root = games / f"many{i:03d}"
        (root / "data").mkdir(parents=True)
        (root / "version.ini").write_text("1\n")
        (root / "data" / "blob.bin").write_bytes(hashlib.sha256(str(i).encode()).digest() * 1000)
    peer = sc.peer("x34-holder", games_dir=games)
    if not isinstance(peer.status().get("hashing"), list):
        raise ScenarioError("status has no hashing list")
    poll(lambda: not peer.status()["hashing"], timeout=120, what="hashing never ended")
    if any("hashing" in row for row in peer.list_games()["local"]):
        raise ScenarioError("list-games still shows hashing after it ended")
    peer.shutdown()
    began = time.monotonic()
    peer = sc.peer("x34-holder", games_dir=games)
    rows = peer.list_games()["local"]
    elapsed = time.monotonic() - began
    if len(rows) != 200:
        raise ScenarioError(f"list-games lists {len(rows)} games, not 200")
    if elapsed >= 1.0:
        raise ScenarioError(f"restart to list-games took {elapsed:.2f}s")
    hashed_again = [line for line in peer.log_path.read_text().splitlines()
                    if "hashing" in line and ": hashing " in line]
    if hashed_again or peer.status()["hashing"]:
        raise ScenarioError(f"the restart hashed again: {hashed_again[:3]}")
    return f"200 games hashed once; restart to list-games {elapsed:.2f}s with nothing hashed again"


def _downloaded(sc: Scenario, prefix: str) -> tuple[Path, Peer]:
    """A hashed 3-chunk source and a client that downloaded it: (the
    source's game folder, the client)."""
    source, source_root = _sparse_source(sc, f"{prefix}-source", 3)
    _wait_hashed(source, GAME)
    client = sc.peer(f"{prefix}-client")
    connect_many(client, [source])
    wait_remote_game(client, GAME, peer_count=1, version=VERSION)
    ended = _download(client, client.mark())
    if ended["event"] != "download-finished":
        raise ScenarioError(f"download did not finish: {ended}")
    return source_root, client


def x35_verify_and_repair(sc: Scenario) -> str:
    """A byte flipped in a downloaded game: verify names the one bad piece
    (against the manifest the source serves), repair fetches at most
    16 MiB and leaves the game byte-exact; verify is clean afterwards."""
    source_root, client = _downloaded(sc, "x35")
    eti = client.host_games_dir / GAME / f"{GAME}.eti"
    offset = 2 * CHUNK_SIZE + 3 * PIECE_SIZE + 12345
    _rot(eti, [offset])
    result = client.send({"cmd": "verify", "game_id": GAME}, timeout=120)["data"]
    bad = result["bad_pieces"]
    want = [{"relative_path": f"{GAME}/{GAME}.eti", "offset": offset // PIECE_SIZE * PIECE_SIZE,
             "length": PIECE_SIZE}]
    if bad != want or result["pieces"] != 3 * CHUNK_SIZE // PIECE_SIZE + 1:
        raise ScenarioError(f"verify said {result}; expected bad {want}")
    start = client.mark()
    client.send({"cmd": "repair", "game_id": GAME})
    done = _download_end(client, start, "repair end", timeout=120)
    if done["event"] != "download-finished":
        raise ScenarioError(f"repair failed: {done}")
    fetched = done["data"]["throughput"]["bytes"]
    if fetched > 16 << 20:
        raise ScenarioError(f"repair fetched {fetched} bytes for one bad byte")
    if sha256_file(eti) != sha256_file(source_root / f"{GAME}.eti"):
        raise ScenarioError("the repaired game differs from the source")
    again = client.send({"cmd": "verify", "game_id": GAME}, timeout=120)["data"]
    if again["bad_pieces"]:
        raise ScenarioError(f"verify after the repair: {again}")
    if client.status()["active_operations"]:
        raise ScenarioError("an operation is left after the repair")
    return f"verify found {bad[0]}; repair fetched {fetched} bytes; byte-exact and clean after"


def x37_download_of_a_ready_game(sc: Scenario) -> str:
    """download of a Ready game at the catalog's version: "already up to
    date" while it is intact (nothing fetched, no operation left); with a
    byte flipped, the same download is accepted and fetches only the bad
    piece (at most 16 MiB), byte-exact afterwards."""
    source_root, client = _downloaded(sc, "x37")
    mark = client.mark()
    again = client.send({"cmd": "download", "game_id": GAME, "install": False}, expect_error=True, timeout=120)
    if again["type"] != "error" or again["error"] != "already up to date":
        raise ScenarioError(f"a download of the intact Ready game answered {again}")
    time.sleep(0.5)
    if game_events(client, "download-begin", GAME, mark.seen) or client.status()["active_operations"]:
        raise ScenarioError("a download of an up-to-date game started something")
    eti = client.host_games_dir / GAME / f"{GAME}.eti"
    _rot(eti, [CHUNK_SIZE + 7 * PIECE_SIZE + 99])
    mark = client.mark()
    reply = client.send({"cmd": "download", "game_id": GAME, "install": False}, timeout=120)
    if reply["type"] != "result":
        raise ScenarioError(f"the download of a damaged Ready game answered {reply}")
    done = _download_end(client, mark, "the repairing download's end")
    if done["event"] != "download-finished":
        raise ScenarioError(f"the repairing download ended with {done}")
    fetched = done["data"]["throughput"]["bytes"]
    if fetched > 16 << 20:
        raise ScenarioError(f"the download fetched {fetched} bytes for one bad byte")
    if sha256_file(eti) != sha256_file(source_root / f"{GAME}.eti"):
        raise ScenarioError("the game differs from the source after the download")
    return f"intact: 'already up to date'; one flipped byte: fetched {fetched} bytes, byte-exact"


def _install_end(peer: Peer, game_id: str, mark: LineWaiter) -> dict[str, Any]:
    return peer.wait_for(
        lambda item: item.get("type") == "event" and item.get("event") in ("install-failed", "install-finished")
        and item.get("data", {}).get("game_id") == game_id,
        timeout=60, description=f"{game_id}: the install's end", waiter=mark)


def x36_corrupt_stored_entry_refused(sc: Scenario) -> str:
    """A flipped byte inside a stored entry of a fixture archive, RAR 4
    (bfbc2) and RAR 5 (cnctw), whose stored entries libarchive never
    checks: install-failed naming the entry and its CRC32, no local/ and no
    staging left; and a stream-install from that archive fails the same
    way on the receiver, with nothing committed."""
    games = sc.fixture_root / "x36"
    corrupt = {"bfbc2": "bin/bfbc2.bin", "cnctw": "bin/cnctw-payload.bin"}
    for game_id in corrupt:
        copy_game(game_id, games)
        eti = games / game_id / f"{game_id}.eti"
        with eti.open("r+b") as handle:
            handle.seek(eti.stat().st_size // 2)
            byte = handle.read(1)
            handle.seek(-1, os.SEEK_CUR)
            handle.write(bytes([byte[0] ^ 0x01]))
    holder = sc.peer("x36-holder", games_dir=games, extra_args=["--unrar", "builtin"])
    said = []
    for game_id, entry in corrupt.items():
        wait_local_game(holder, game_id, downloaded=True, installed=False)
        mark = LineWaiter(holder.output_len())
        holder.send({"cmd": "install", "game_id": game_id})
        ended = _install_end(holder, game_id, mark)
        error = ended["data"].get("error", "")
        if ended["event"] != "install-failed" or f"{entry} is corrupt (CRC32" not in error:
            raise ScenarioError(f"{game_id}: expected install-failed naming {entry}, got {ended}")
        for rel in ("local", ".local.installing"):
            assert_not_exists(games / game_id / rel)
        said.append(error)
    client = sc.peer("x36-client")
    connect_many(client, [holder])
    wait_remote_game(client, "cnctw", peer_count=1, version=CATALOG_VERSIONS["cnctw"])
    mark = client.mark()
    client.send({"cmd": "stream-install", "game_id": "cnctw"})
    ended = _download_end(client, mark, "the stream's end", game_id="cnctw")
    if ended["event"] != "download-failed" or "is corrupt (CRC32" not in ended["data"].get("error", ""):
        raise ScenarioError(f"a stream of a corrupt archive ended with {ended}")
    for rel in ("local", ".local.installing"):
        assert_not_exists(client.host_games_dir / "cnctw" / rel)
    if client.status()["active_operations"] or holder.status()["active_operations"]:
        raise ScenarioError("an operation is left after the failures")
    return f"install-failed: {said[0]!r}; stream-install: download-failed ({ended['data'].get('error')})"


INTEGRITY_SCENARIOS = [
    ("X30-corrupt-source-dropped", x30_corrupt_source_dropped),
    ("X31-only-corrupt-source-fails", x31_only_corrupt_source_fails),
    ("X32-resume-after-receiver-killed", x32_resume_after_receiver_killed),
    ("X33-resume-after-source-came-back", x33_resume_after_source_came_back),
    ("X34-hash-cache-survives-restart", x34_hash_cache_survives_restart),
    ("X35-verify-and-repair", x35_verify_and_repair),
    ("X36-corrupt-stored-entry-refused", x36_corrupt_stored_entry_refused),
    ("X37-download-of-a-ready-game", x37_download_of_a_ready_game),
]
