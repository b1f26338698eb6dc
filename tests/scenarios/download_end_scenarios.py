"""Downloads always end (issue 12, item 4): X50-X53. A source that
trickles bytes, a file list 600 folders deep, a game of more files than
the receiver may open at once, and sources that never finish their file
list: each must not keep a download from ending, nor leave a game that
cannot be downloaded again. The hostile sources are Python FakePeers."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

from harness import (
    CATALOG_VERSIONS,
    TERMINAL,
    LineWaiter,
    Peer,
    Scenario,
    ScenarioError,
    assert_no_active,
    assert_no_duplicate_chunks,
    assert_no_event_since,
    CHUNK_SIZE,
    chunk_sources,
    connect_many,
    create_large_sparse_game,
    create_many_small_game,
    diff_game_dirs,
    event_name_in,
    game_events,
    mount_ramfs,
    poll,
    wait_no_active,
    wait_remote_game,
)
from wire import FRAME_HDR, FakePeer, T, frame, game_advert, manifest_body, mp_pack, servable_files

# What the receiver may keep open, as `ulimit -n 1024` sets it (soft and hard).
NOFILE = 1024


def limited_peer(sc: Scenario, name: str, nofile: int = NOFILE) -> Peer:
    """A peer started under `prlimit --nofile=N:N`: it cannot raise its
    own limit past N (the hard limit), as under `ulimit -n N`."""
    peer = Peer(sc, name, len(sc.peers), games_dir=None, readonly_games=False, tmpfs_size=None,
                fixtures=[], extra_args=[], command_prefix=["prlimit", f"--nofile={nofile}:{nofile}", "--"])
    sc.peers.append(peer)
    peer.start()
    return peer


def fake_source(sc: Scenario, name: str, ip: str, game_id: str, files: list[dict[str, Any]]) -> FakePeer:
    version = CATALOG_VERSIONS[game_id]
    return FakePeer(sc, name, ip, [game_advert(game_id, version, sum(item["size"] for item in files))])


def drops_of(peer: Peer, game_id: str, addr: str, start: int) -> list[dict[str, Any]]:
    return [e["data"] for e in game_events(peer, "download-source-dropped", game_id, start)
            if (e.get("data") or {}).get("peer_addr") == addr]


def download(client: Peer, game_id: str, timeout: float, what: str) -> tuple[dict[str, Any], float, int]:
    """Starts a download (no install) and waits for its end: (terminal
    event, seconds from the request, output mark before it)."""
    start = client.output_len()
    waiter = LineWaiter(start)
    began = time.monotonic()
    reply = client.send({"cmd": "download", "game_id": game_id, "install": False})
    if reply.get("type") != "result":
        raise ScenarioError(f"{what}: download answered {reply}")
    ended = client.wait_for(event_name_in(TERMINAL, game_id), timeout=timeout, description=what, waiter=waiter)
    return ended, time.monotonic() - began, start


# --------------------------------------------------------------------------
# X50: a trickling source is dropped by the progress floor
# --------------------------------------------------------------------------


def _trickler(sc: Scenario, name: str, ip: str, root: Path, game_id: str) -> tuple[FakePeer, dict[str, Any]]:
    """A Python source that lists the game like a real peer, then answers
    its first chunk with the header and one byte every 3 s: never silent,
    so the stall timer never fires."""
    files = servable_files(root)
    version = CATALOG_VERSIONS[game_id]
    trickler = fake_source(sc, name, ip, game_id, files)
    trickled: dict[str, Any] = {"bytes": 0, "first": 0.0}

    def on_files(conn: socket.socket, body: dict[str, Any]) -> None:
        trickler.send(conn, frame(T("PEER_FILES"), manifest_body(body.get("game_id"), version, files)))

    def on_chunk(conn: socket.socket, body: dict[str, Any]) -> None:
        if trickled["first"]:
            trickler.note("a request while trickling")  # the client must not send one
            return
        trickled["first"] = time.monotonic()
        data = (root / body["path"]).read_bytes()[body["offset"]: body["offset"] + body["length"]]

        def trickle() -> None:
            if not trickler.send(conn, frame(T("PEER_CHUNK"), dict(body))):
                return
            for byte in data[:-1]:  # never the last one
                if not trickler.send(conn, bytes([byte])):
                    return
                trickled["bytes"] += 1
                time.sleep(3.0)

        threading.Thread(target=trickle, name=f"{name}-trickle", daemon=True).start()

    trickler.on_files = on_files
    trickler.on_chunk = on_chunk
    return trickler, trickled


def x50_trickling_source_dropped(sc: Scenario) -> str:
    """A source trickling one byte every 3 s. Beside a real source, what
    it owes is asked again of the real one (the endgame) and the download
    finishes at once, byte-exact, every chunk from the real source, the
    trickler never asked twice. Alone, the progress floor drops it
    (download-source-dropped, "too slow") and the download ends."""
    game_id = "coh"
    real_dir = sc.fixture_root / "x50-real"
    create_many_small_game(real_dir / game_id)
    root = real_dir / game_id
    version = CATALOG_VERSIONS[game_id]
    trickler, trickled = _trickler(sc, "x50-trickler", "127.0.0.250", root, game_id)
    lone_trickler, lone_trickled = _trickler(sc, "x50-lone-trickler", "127.0.1.250", root, game_id)
    try:
        real = sc.peer("x50-real", games_dir=real_dir)
        client = sc.peer("x50-client")
        client.send({"cmd": "connect", "addr": trickler.addr})
        client.connect_to(real)
        client.send({"cmd": "wait-peers", "count": 2, "timeout_ms": 10000})
        wait_remote_game(client, game_id, peer_count=2, version=version)
        ended, took, start = download(client, game_id, 60, "the download's end (within 60 s)")
        if ended.get("event") != "download-finished":
            raise ScenarioError(f"the download ended with {ended}")
        if not trickled["first"]:
            raise ScenarioError("the client never asked the trickler for a chunk (nothing was tested)")
        if took >= 9.0:
            raise ScenarioError(f"the download took {took:.1f}s: it waited for the trickler")
        if trickler.seen("a request while trickling"):
            raise ScenarioError("the client asked the trickler for more while its chunk was owed")
        sources = chunk_sources(client, game_id)
        if sources != {real.ready_addr}:
            raise ScenarioError(f"chunks came from {sources}; expected only {real.ready_addr}")
        assert_no_duplicate_chunks(client, game_id)
        assert_no_event_since(client, start, "download-failed", game_id)
        diff_game_dirs(root, client.host_games_dir / game_id)
        wait_no_active(client, game_id)
        # Alone, nobody else has what it owes: the floor must drop it.
        lone = sc.peer("x50-lone")
        lone.send({"cmd": "connect", "addr": lone_trickler.addr})
        lone.send({"cmd": "wait-peers", "count": 1, "timeout_ms": 10000})
        wait_remote_game(lone, game_id, peer_count=1, version=version)
        ended, lone_took, start = download(lone, game_id, 60, "the trickled download's end (within 60 s)")
        if ended.get("event") == "download-finished":
            raise ScenarioError("a download from a trickler alone finished")
        drops = drops_of(lone, game_id, lone_trickler.addr, start)
        if len(drops) != 1 or "too slow" not in drops[0].get("reason", ""):
            raise ScenarioError(f"the trickler was not dropped once as too slow: {drops}")
        closed = poll(lambda: lone_trickler.seen("transfer link closed"), timeout=5, interval=0.1,
                      what="the client kept the trickler's transfer link open")
        dropped_after = closed[0][0] - lone_trickled["first"]
        if not 9.0 <= dropped_after <= 25.0:
            raise ScenarioError(f"the trickler was dropped {dropped_after:.1f}s after its request; expected 10-20 s")
        if lone_trickler.seen("a request while trickling"):
            raise ScenarioError("the client asked the lone trickler for more while its chunk was owed")
        return (
            f"beside a real source: finished in {took:.1f}s, every chunk from it, diff exact; alone: the trickler "
            f"({lone_trickled['bytes']} bytes, one per 3 s) dropped {dropped_after:.1f}s after its request "
            f"({drops[0]['reason']}), then {ended['event']}"
        )
    finally:
        trickler.close()
        lone_trickler.close()


# --------------------------------------------------------------------------
# X51: a file list 600 folders deep leaves the game downloadable
# --------------------------------------------------------------------------

DEPTH = 600


def deep_rel(depth: int, name: str = "f.bin") -> str:
    return "d/" * depth + name


def plant_deep_staging(game_dir: Path, depth: int) -> None:
    """A .lanspread.staging as older code left one after a 600-deep list:
    a folder per level, a file at the bottom, no kept manifest."""
    bottom = game_dir / ".lanspread.staging" / ("d/" * depth)
    os.makedirs(bottom, exist_ok=True)
    (bottom / "f.bin").write_bytes(b"deep\n")


def x51_deep_file_list_refused(sc: Scenario) -> str:
    """A Python source, the only one, lists cnc4 with a file 32 folders
    deep (the limit) and answers chunk requests by hanging up: the
    staging goes with the failed download. It then lists a file 600
    folders deep: the receiver, which may open 1024 files, refuses the
    list, saying the path is too deep, and stages nothing; cnc4 then
    downloads from a real peer. A
    600-deep staging left on disk (as older code left one) is removed at
    the next start, and that game downloads too."""
    game_id, other_id = "cnc4", "coh"
    real_dir = sc.fixture_root / "x51-real"
    create_many_small_game(real_dir / game_id)
    create_many_small_game(real_dir / other_id)
    version = CATALOG_VERSIONS[game_id]
    deep_bytes = b"far down\n"
    version_bytes = version.encode()

    def listing(depth: int) -> list[dict[str, Any]]:
        return sorted([
            {"path": deep_rel(depth), "size": len(deep_bytes), "hashes": hashlib.sha256(deep_bytes).digest()},
            {"path": "version.ini", "size": len(version_bytes), "hashes": hashlib.sha256(version_bytes).digest()},
        ], key=lambda item: item["path"].encode())

    files = listing(DEPTH)
    fake = fake_source(sc, "x51-deep", "127.0.0.250", game_id, files)

    def on_files(conn: socket.socket, body: dict[str, Any]) -> None:
        fake.send(conn, frame(T("PEER_FILES"), manifest_body(body.get("game_id"), version, files)))

    def on_chunk(conn: socket.socket, body: dict[str, Any]) -> None:
        conn.shutdown(socket.SHUT_RDWR)

    fake.on_files = on_files
    fake.on_chunk = on_chunk
    client = limited_peer(sc, "x51-client")
    games = client.host_games_dir
    try:
        client.send({"cmd": "connect", "addr": fake.addr})
        client.send({"cmd": "wait-peers", "count": 1, "timeout_ms": 10000})
        wait_remote_game(client, game_id, peer_count=1, version=version)
        # At the limit (32 folders) the list is staged; when the source
        # hangs up, the sandboxed worker removes that staging.
        files = listing(32)
        ended, _took, _start = download(client, game_id, 30, "the 32-deep list's download end")
        if ended.get("event") not in ("download-failed", "download-peers-gone"):
            raise ScenarioError(f"a download from a source that hangs up ended with {ended}")
        if not fake.seen("chunk request"):
            raise ScenarioError("the 32-deep list was not staged (no chunk was asked for)")
        if os.path.lexists(games / game_id):
            raise ScenarioError(f"{game_id}/ left behind after the 32-deep download failed")
        files = listing(DEPTH)
        ended, took, start = download(client, game_id, 30, "the deep list's download end")
        if ended.get("event") not in ("download-failed", "download-peers-gone"):
            raise ScenarioError(f"a download from the deep list alone ended with {ended}")
        error = (ended.get("data") or {}).get("error", "")
        drops = drops_of(client, game_id, fake.addr, start)
        reason = drops[0].get("reason", "") if drops else ""
        if "600 folders deep" not in reason:
            raise ScenarioError(f"the deep source was not dropped for its path: drops {drops}, end {ended}")
        assert_no_active(client, game_id)
        if os.path.lexists(games / game_id):
            left = sorted(str(p.relative_to(games)) for p in list((games / game_id).rglob("*"))[:5])
            raise ScenarioError(f"{game_id}/ left behind after the refused list: {left}")
    finally:
        fake.close()

    real = sc.peer("x51-real", games_dir=real_dir)
    client.connect_to(real)
    wait_remote_game(client, game_id, peer_count=1, version=version)
    ended, took_real, _ = download(client, game_id, 60, f"{game_id} from the real peer")
    if ended.get("event") != "download-finished":
        raise ScenarioError(f"{game_id} from the real peer ended with {ended}")
    diff_game_dirs(real_dir / game_id, games / game_id)
    wait_no_active(client, game_id)

    # A 600-deep staging left by older code: the next start removes it.
    client.shutdown()
    plant_deep_staging(games / other_id, DEPTH)
    client = limited_peer(sc, "x51-client")  # same name: same games and state
    poll(lambda: not os.path.lexists(games / other_id), timeout=10, interval=0.2,
         what=f"the {DEPTH}-deep {other_id}/.lanspread.staging is still there 10 s after the restart")
    client.connect_to(real)
    wait_remote_game(client, other_id, peer_count=1, version=CATALOG_VERSIONS[other_id])
    ended, took_other, _ = download(client, other_id, 60, f"{other_id} after the restart")
    if ended.get("event") != "download-finished":
        raise ScenarioError(f"{other_id} after the restart ended with {ended}")
    diff_game_dirs(real_dir / other_id, games / other_id)
    if os.path.lexists(games / other_id / ".lanspread.staging"):
        raise ScenarioError(f"{other_id}/.lanspread.staging left after its download")
    return (
        f"a {DEPTH}-deep list refused in {took:.1f}s ({reason}; {error}), nothing staged; {game_id} then "
        f"downloaded from the real peer in {took_real:.1f}s; a {DEPTH}-deep staging was gone after a restart "
        f"under nofile {NOFILE} and {other_id} downloaded in {took_other:.1f}s; diffs exact"
    )


# --------------------------------------------------------------------------
# X52: a game of 1100 files downloads under `ulimit -n 1024`
# --------------------------------------------------------------------------

NFILES = 1100


def create_game_of_many_files(root: Path, game_id: str, count: int) -> None:
    root.mkdir(parents=True)
    for index in range(count):
        sub = root / f"data{index % 10}"
        sub.mkdir(exist_ok=True)
        seed = hashlib.sha256(f"{game_id}-{index}".encode()).digest()
        (sub / f"file-{index:04}.bin").write_bytes(seed * (1 + index % 64))
    (root / "version.ini").write_text(CATALOG_VERSIONS[game_id], encoding="utf-8")


def x52_many_files_under_nofile_limit(sc: Scenario) -> str:
    """A game of 1100 files (and version.ini) downloads, byte-exact, into
    a receiver that may open 1024 files (soft and hard limit); the
    transfer worker keeps a few open at a time, not one per file."""
    game_id = "coh"
    real_dir = sc.fixture_root / "x52-real"
    create_game_of_many_files(real_dir / game_id, game_id, NFILES)
    real = sc.peer("x52-real", games_dir=real_dir)
    client = limited_peer(sc, "x52-client")
    client.connect_to(real)
    wait_remote_game(client, game_id, peer_count=1, version=CATALOG_VERSIONS[game_id], timeout=60)
    ended, took, start = download(client, game_id, 240, f"the {NFILES}-file download")
    if ended.get("event") != "download-finished":
        raise ScenarioError(f"the {NFILES}-file download ended with {ended}")
    chunks = [e for e in game_events(client, "download-chunk-finished", game_id, start)]
    if len(chunks) != NFILES + 1:
        raise ScenarioError(f"{len(chunks)} chunk events for {NFILES + 1} files")
    diff_game_dirs(real_dir / game_id, client.host_games_dir / game_id)
    wait_no_active(client, game_id)
    return f"{NFILES + 1} files downloaded in {took:.1f}s under nofile {NOFILE}:{NOFILE}, {len(chunks)} chunks, diff exact"


# --------------------------------------------------------------------------
# X53: sources that never finish their file list are dropped
# --------------------------------------------------------------------------


def x53_unfinished_file_list_dropped(sc: Scenario) -> str:
    """Two Python sources never finish listing the game: one sends a
    file-list frame header and then a byte every 2 s (never silent), the
    other says it is still hashing the game, every time it is asked. At
    the listing deadline (20 s, before the real source's
    link idles out at 30 s) both are dropped and the download goes
    ahead from the real source, which had listed at once and waited with
    a timer of its own; byte-exact."""
    game_id = "coh"
    real_dir = sc.fixture_root / "x53-real"
    create_many_small_game(real_dir / game_id)
    root = real_dir / game_id
    files = servable_files(root)
    version = CATALOG_VERSIONS[game_id]
    body = mp_pack(manifest_body(game_id, version, files))
    slow = fake_source(sc, "x53-slow-list", "127.0.0.250", game_id, files)
    hashing = fake_source(sc, "x53-hashing", "127.0.0.251", game_id, files)

    def slow_files(conn: socket.socket, _body: dict[str, Any]) -> None:
        def trickle() -> None:
            if not slow.send(conn, FRAME_HDR.pack(T("PEER_FILES"), 0, len(body))):
                return
            for byte in body[:-1]:
                if not slow.send(conn, bytes([byte])):
                    return
                time.sleep(2.0)

        threading.Thread(target=trickle, name="x53-trickle", daemon=True).start()

    def hashing_files(conn: socket.socket, req: dict[str, Any]) -> None:
        hashing.send(conn, frame(T("PEER_FILES_WAIT"), {"game_id": req.get("game_id"), "percent": 1}))

    slow.on_files = slow_files
    hashing.on_files = hashing_files
    try:
        real = sc.peer("x53-real", games_dir=real_dir)
        client = sc.peer("x53-client")
        for fake in (slow, hashing):
            client.send({"cmd": "connect", "addr": fake.addr})
        client.connect_to(real)
        client.send({"cmd": "wait-peers", "count": 3, "timeout_ms": 10000})
        wait_remote_game(client, game_id, peer_count=3, version=version)
        ended, took, start = download(client, game_id, 60, "the download's end (listing deadline 20 s)")
        if ended.get("event") != "download-finished":
            raise ScenarioError(f"the download ended with {ended}")
        reasons = {}
        for fake in (slow, hashing):
            if not fake.seen("file list request"):
                raise ScenarioError(f"the client never asked {fake.name} for its file list")
            drops = drops_of(client, game_id, fake.addr, start)
            if len(drops) != 1 or "no file list" not in drops[0].get("reason", ""):
                raise ScenarioError(f"{fake.name} was not dropped once for its list: {drops}")
            reasons[fake.name] = drops[0]["reason"]
        if not 18.0 <= took <= 40.0:
            raise ScenarioError(f"the download took {took:.1f}s; the listing deadline is 20 s")
        begin = game_events(client, "download-begin", game_id, start)
        sources = chunk_sources(client, game_id)
        if sources != {real.ready_addr}:
            raise ScenarioError(f"chunks came from {sources}; expected only {real.ready_addr}")
        diff_game_dirs(root, client.host_games_dir / game_id)
        wait_no_active(client, game_id)
        asked = len(hashing.seen("file list request"))
        return (
            f"slow list and forever-hashing sources dropped at the deadline ({'; '.join(f'{k}: {v}' for k, v in reasons.items())}); "
            f"the hashing one was asked {asked} times; download began {len(begin)}x and finished in {took:.1f}s "
            f"from the real source, diff exact"
        )
    finally:
        slow.close()
        hashing.close()


# --------------------------------------------------------------------------
# X54: a source whose idle link was closed is dialled again for more work
# --------------------------------------------------------------------------


def x54_idle_source_dialled_again(sc: Scenario) -> str:
    """Two downloads from one source, capped at 10 MiB/s: a 384 MiB game,
    then a small one. Downloads from one peer go in the order they began,
    so the small one lists its files and waits; its link idles past the
    source's 30 s timeout and closes. When the big one is done, the small
    one's source is dialled again and it finishes, byte-exact, after it."""
    big, small = "bf1942", "coh"
    games = sc.fixture_root / "x54-real"
    create_large_sparse_game(games / big, size=3 * CHUNK_SIZE)
    create_many_small_game(games / small)
    real = sc.peer("x54-real", games_dir=games, extra_args=["--upload-limit", "10MiB"])
    client = sc.peer("x54-client")
    client.connect_to(real)
    for game in (big, small):
        wait_remote_game(client, game, peer_count=1, version=CATALOG_VERSIONS[game], timeout=60)
    waiter = client.mark()
    began = time.monotonic()
    client.send({"cmd": "download", "game_id": big, "install": False})
    client.send({"cmd": "download", "game_id": small, "install": False})
    first = client.wait_for(event_name_in(TERMINAL, big), timeout=120, description="the big download's end", waiter=waiter)
    second = client.wait_for(event_name_in(TERMINAL, small), timeout=60, description="the small download's end", waiter=waiter)
    took = time.monotonic() - began
    for ended in (first, second):
        if ended.get("event") != "download-finished":
            raise ScenarioError(f"a download ended with {ended}")
    if took < 31.0:
        raise ScenarioError(f"both finished in {took:.1f}s, before the idle link could close (nothing was tested)")
    assert client.log_path is not None
    log = client.log_path.read_text(errors="replace")
    for words in (f"source {real.ready_addr} for {small}: its idle link closed",
                  f"source {real.ready_addr} for {small}: dialled again"):
        if words not in log:
            raise ScenarioError(f"the client's log lacks {words!r} (nothing was tested)")
    if drops_of(client, small, real.ready_addr, waiter.seen - 1):
        raise ScenarioError("the idle source was dropped rather than dialled again")
    for game in (big, small):
        diff_game_dirs(games / game, client.host_games_dir / game)
    wait_no_active(client, small)
    return (f"{small} waited behind {big}; its idle link closed and its source was dialled again; "
            f"both byte-exact, in order, in {took:.1f}s")


# --------------------------------------------------------------------------
# X55: a games folder whose filesystem has no fallocate
# --------------------------------------------------------------------------


def x55_staging_without_fallocate(sc: Scenario) -> str:
    """The receiver's games folder is a ramfs, which like vfat and exFAT
    has no fallocate: glibc's posix_fallocate would write every block of
    the staging file before the first byte came (a 50 GiB game on an
    exFAT drive: minutes of zeros). The staging file must get its full
    size with next to nothing allocated, the download (192 MiB of random
    bytes from a source capped at 40 MiB/s) must finish byte-exact, and
    the staging folder must be gone."""
    game = "bf1942"
    games = sc.fixture_root / "x55"
    (games / game).mkdir(parents=True)
    (games / game / "version.ini").write_text(CATALOG_VERSIONS[game], encoding="utf-8")
    size = 192 << 20
    with (games / game / f"{game}.eti").open("wb") as out:
        for _ in range(size >> 20):
            out.write(os.urandom(1 << 20))
    ram = sc.mnt_root / "x55-ramfs"
    mount_ramfs(ram)
    source = sc.peer("x55-source", games_dir=games, extra_args=["--upload-limit", "40MiB"])
    client = sc.peer("x55-client", games_dir=ram)
    connect_many(client, [source])
    wait_remote_game(client, game, peer_count=1, version=CATALOG_VERSIONS[game], timeout=60)
    mark = client.mark()
    client.send({"cmd": "download", "game_id": game, "install": False})
    staging = ram / game / ".lanspread.staging" / f"{game}.eti"

    def sized() -> os.stat_result | None:
        try:
            st = staging.stat()
        except FileNotFoundError:
            return None
        return st if st.st_size == size else None

    st = poll(sized, timeout=20, interval=0.02, what=f"{staging} at its full size")
    held = st.st_blocks * 512
    if held > size // 2:
        raise ScenarioError(f"the staging file held {held >> 20} MiB of its {size >> 20} MiB as soon as it had "
                            "its size: it was written out before the download")
    ended = client.wait_for(lambda item: item.get("event") in TERMINAL and (item.get("data") or {}).get("game_id") == game,
                            timeout=60, description="download end", waiter=mark)
    if ended.get("event") != "download-finished":
        raise ScenarioError(f"the download did not finish: {ended}")
    diff_game_dirs(games / game, ram / game)
    if (ram / game / ".lanspread.staging").exists():
        raise ScenarioError("the staging folder outlived the download")
    return (f"on ramfs (no fallocate) the staging file had its full {size >> 20} MiB size with "
            f"{held >> 20} MiB allocated; the download finished byte-exact")


DOWNLOAD_END_SCENARIOS = [
    ("X50-trickling-source-dropped", x50_trickling_source_dropped),
    ("X51-deep-file-list-refused", x51_deep_file_list_refused),
    ("X52-many-files-under-nofile-limit", x52_many_files_under_nofile_limit),
    ("X53-unfinished-file-list-dropped", x53_unfinished_file_list_dropped),
    ("X54-idle-source-dialled-again", x54_idle_source_dialled_again),
    ("X55-staging-without-fallocate", x55_staging_without_fallocate),
]
