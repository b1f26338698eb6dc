"""Edge scenarios of ours (X8-X11): a peer that goes silent without a FIN,
a cancelled download, a hostile stream source and a source that sends
bytes nobody asked for."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from harness import (
    CATALOG_VERSIONS,
    CHUNK_SIZE,
    LineWaiter,
    Peer,
    ProcInfo,
    Scenario,
    ScenarioError,
    assert_local_absent,
    assert_no_active,
    assert_no_duplicate_chunks,
    assert_no_event_since,
    chunk_events,
    copy_game,
    create_large_sparse_game,
    create_many_small_game,
    descendants,
    diff_game_dirs,
    event_is,
    event_name_in,
    game_events,
    poll,
    proc_alive,
    wait_no_outbound_transfer,
    wait_remote_game,
)
from wire import FakePeer, T, frame, game_advert, servable_files

TERMINAL = {"download-failed", "download-peers-gone", "download-finished", "download-cancelled", "install-finished"}


def _peer_procs(peer: Peer) -> list[ProcInfo]:
    """The peer process itself and every descendant (its workers)."""
    if peer.process is None or peer.process.poll() is not None:
        raise ScenarioError(f"{peer.name} is not running")
    pid = peer.process.pid
    with open(f"/proc/{pid}/stat", "rb") as handle:
        raw = handle.read().decode("utf-8", "replace")
    rest = raw[raw.rfind(")") + 2 :].split()
    me = ProcInfo(pid, int(rest[19]), raw[raw.find("(") + 1 : raw.rfind(")")])
    return [me] + list(descendants(pid).values())


def _signal_all(procs: list[ProcInfo], sig: int) -> None:
    for info in procs:
        if proc_alive(info):
            try:
                os.kill(info.pid, sig)
            except ProcessLookupError:
                pass


def _worker(peer: Peer, comm: str) -> ProcInfo:
    found = [p for p in _peer_procs(peer)[1:] if p.comm == comm]
    if len(found) != 1:
        raise ScenarioError(f"cannot find {peer.name}'s {comm} worker: {[p.describe() for p in _peer_procs(peer)]}")
    return found[0]


# --------------------------------------------------------------------------
# X8: a peer that stops answering (no FIN, no pings) is dropped
# --------------------------------------------------------------------------

X8_LIMIT = 10.0


def x8_silent_peer_dropped(sc: Scenario) -> str:
    """SIGSTOP of a peer and its workers keeps its sockets open, like an
    unplugged cable: no FIN, no pings answered. Within 10 s the other peer
    must forget it and its games; after SIGCONT it shuts down normally."""
    bravo_games = sc.fixture_root / "x8-bravo"
    copy_game("cnc4", bravo_games)
    alpha = sc.peer("x8-alpha")
    bravo = sc.peer("x8-bravo", games_dir=bravo_games)
    alpha.connect_to(bravo)
    wait_remote_game(alpha, "cnc4", peer_count=1, version=CATALOG_VERSIONS["cnc4"])
    if [p.get("peer_id") for p in alpha.list_peers()] != [bravo.peer_id]:
        raise ScenarioError(f"alpha should list only bravo before the stop: {alpha.list_peers()}")
    procs = _peer_procs(bravo)
    if len(procs) < 4:
        raise ScenarioError(f"expected bravo and its three workers, found {[p.describe() for p in procs]}")
    sc.log(f"SIGSTOP {[p.describe() for p in procs]}")
    stopped = time.monotonic()
    _signal_all(procs, signal.SIGSTOP)
    try:
        peers_gone = games_gone = None
        last_peers: list[Any] = []
        last_remote: list[Any] = []
        while time.monotonic() - stopped < X8_LIMIT:
            last_peers = alpha.list_peers()
            last_remote = alpha.list_games()["remote"]
            now = time.monotonic() - stopped
            if peers_gone is None and not last_peers:
                peers_gone = now
            if games_gone is None and all(row["id"] != "cnc4" for row in last_remote):
                games_gone = now
            if peers_gone is not None and games_gone is not None:
                break
            time.sleep(0.2)
        if peers_gone is None or games_gone is None:
            raise ScenarioError(
                f"{X8_LIMIT:g}s after bravo stopped answering alpha still lists "
                f"peers={[p.get('peer_id') for p in last_peers]} remote={[r['id'] for r in last_remote]}"
            )
        # A stopped process never ran again meanwhile.
        for info in procs:
            try:
                state = Path(f"/proc/{info.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                raise ScenarioError(f"{info.describe()} vanished while stopped")
            if state != "T":
                raise ScenarioError(f"{info.describe()} is in state {state}, not stopped")
    finally:
        _signal_all(list(reversed(procs)), signal.SIGCONT)
        sc.log("SIGCONT sent")
    # bravo lives on after the resume and answers; then a normal shutdown
    # (the harness checks that every worker exits).
    bravo.status()
    bravo.shutdown()
    alpha.status()
    if alpha.list_peers():
        raise ScenarioError(f"alpha lists peers after bravo shut down: {alpha.list_peers()}")
    return (
        f"bravo and its {len(procs) - 1} workers SIGSTOPped: alpha's list-peers empty after {peers_gone:.1f}s, "
        f"cnc4 gone from remote after {games_gone:.1f}s (limit {X8_LIMIT:g}s); after SIGCONT bravo answered and shut down cleanly"
    )


# --------------------------------------------------------------------------
# X9: cancel-download rolls everything back; a new download then works
# --------------------------------------------------------------------------


def _x9_markers() -> list[tuple[int, bytes]]:
    rng = random.Random(9)
    offsets = [0, CHUNK_SIZE - 2048, 2 * CHUNK_SIZE + 12345, 3 * CHUNK_SIZE - 1, 4 * CHUNK_SIZE - 4096]
    return [(off, rng.randbytes(4096 if off + 4096 <= 4 * CHUNK_SIZE else 4 * CHUNK_SIZE - off)) for off in offsets]


def x9_cancel_download_rolls_back(sc: Scenario) -> str:
    """cancel-download of a 4 x 128 MiB download after its first chunk:
    download-cancelled, nothing left (no folder, no sentinel, no staging,
    no row, no operation); the next download finishes byte-exact."""
    game_id = "bf1942"
    size = 4 * CHUNK_SIZE
    src_games = sc.fixture_root / "x9-source"
    root = src_games / game_id
    create_large_sparse_game(root, size=size)
    eti = root / f"{game_id}.eti"
    with eti.open("r+b") as handle:
        for offset, data in _x9_markers():
            handle.seek(offset)
            handle.write(data)
    source = sc.peer("x9-source", games_dir=src_games)
    client = sc.peer("x9-client")
    if os.listdir(client.host_games_dir):
        raise ScenarioError(f"the client's games folder is not empty at the start: {os.listdir(client.host_games_dir)}")
    client.connect_to(source)
    wait_remote_game(client, game_id, peer_count=1, version=CATALOG_VERSIONS[game_id])
    transfer = _worker(source, "transfer")

    start = client.output_len()
    waiter = LineWaiter(start)
    client.send({"cmd": "download", "game_id": game_id, "install": False})
    client.wait_for(event_is("download-begin", game_id), timeout=20, description="download-begin", waiter=waiter)
    # A loopback transfer of 512 MiB takes well under a second: hold the
    # source's transfer worker still from download-begin on and let it run
    # in 5 ms steps until the first chunk is in, so the cancel always lands
    # mid-download (after that first chunk).
    os.kill(transfer.pid, signal.SIGSTOP)
    held = time.monotonic()
    steps = 0
    try:
        while True:
            ended = [item for item in client.items(start) if event_name_in(TERMINAL, game_id)(item)]
            if ended:
                raise ScenarioError(f"the download ended before the cancel could be sent: {ended[0]}")
            if chunk_events(client, game_id):
                break
            if time.monotonic() - held > 20:
                raise ScenarioError("no chunk arrived in 20 s of stepping the source")
            os.kill(transfer.pid, signal.SIGCONT)
            time.sleep(0.005)
            os.kill(transfer.pid, signal.SIGSTOP)
            steps += 1
            time.sleep(0.03)
        chunks_before = len(chunk_events(client, game_id))
        reply = client.send({"cmd": "cancel-download", "game_id": game_id})
        if reply.get("type") != "result":
            raise ScenarioError(f"cancel-download answered {reply}")
        cancelled = client.wait_for(
            event_name_in(TERMINAL, game_id), timeout=10, description="download-cancelled", waiter=waiter
        )
        if cancelled.get("event") != "download-cancelled":
            raise ScenarioError(f"expected download-cancelled, got {cancelled}")
        assert_no_active(client, game_id)
        for event in ("download-failed", "download-finished", "download-peers-gone"):
            assert_no_event_since(client, start, event, game_id)
        game_dir = client.host_games_dir / game_id
        if os.path.lexists(game_dir):
            left = sorted(str(p.relative_to(game_dir)) for p in game_dir.rglob("*"))
            raise ScenarioError(f"the cancelled download left {game_dir} behind: {left[:20]}")
        if os.listdir(client.host_games_dir):
            raise ScenarioError(f"the games folder holds {os.listdir(client.host_games_dir)} after the cancel")
        assert_local_absent(client, game_id)
        # Nothing late either: no failure event after a moment.
        time.sleep(0.5)
        for event in ("download-failed", "download-finished", "download-peers-gone"):
            assert_no_event_since(client, start, event, game_id)
        count = len(game_events(client, "download-cancelled", game_id, start))
        if count != 1:
            raise ScenarioError(f"{count} download-cancelled events")
    finally:
        os.kill(transfer.pid, signal.SIGCONT)
    held_for = time.monotonic() - held
    wait_no_outbound_transfer(source, game_id, timeout=20)

    # Downloading again works and the bytes are right.
    again = client.output_len()
    waiter = LineWaiter(again)
    began = time.monotonic()
    client.send({"cmd": "download", "game_id": game_id, "install": False})
    done = client.wait_for(
        event_name_in(TERMINAL, game_id), timeout=60, description="second download", waiter=waiter
    )
    took = time.monotonic() - began
    if done.get("event") != "download-finished":
        raise ScenarioError(f"the second download ended with {done}")
    got = client.host_games_dir / game_id / f"{game_id}.eti"
    if got.stat().st_size != size:
        raise ScenarioError(f"downloaded {got.name} is {got.stat().st_size} bytes, expected {size}")
    with got.open("rb") as handle:
        for offset, data in _x9_markers():
            handle.seek(offset)
            if handle.read(len(data)) != data:
                raise ScenarioError(f"marker at offset {offset} differs")
    result = subprocess.run(["cmp", str(eti), str(got)], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise ScenarioError(f"cmp: {result.stdout}{result.stderr}")
    if (client.host_games_dir / game_id / "version.ini").read_text() != CATALOG_VERSIONS[game_id]:
        raise ScenarioError("version.ini differs")
    if os.path.lexists(client.host_games_dir / game_id / ".lanspread.staging"):
        raise ScenarioError("staging left after the second download")
    assert_no_event_since(client, again, "download-failed", game_id)
    return (
        f"cancelled after {chunks_before} chunk(s) of 5 (source stepped {steps}x5 ms, held {held_for:.1f}s): result reply, "
        f"download-cancelled, no failure/finish event, no operation, no {game_id} folder, no row; "
        f"second download finished in {took:.1f}s, 512 MiB identical (cmp)"
    )


# --------------------------------------------------------------------------
# X10: a hostile stream source is refused, nothing written outside
# --------------------------------------------------------------------------

HOSTILE_NAMES = {"evil.txt", "abs.txt", "b.txt", "x10-escape.txt"}


def _entry(path: str, data: bytes, size: int | None = None) -> bytes:
    return frame(T("PEER_ENTRY"), {"path": path, "size": len(data) if size is None else size}) + data


def _end(entries: int, nbytes: int) -> bytes:
    return frame(T("PEER_STREAM_END"), {"entries": entries, "bytes": nbytes})


def _x10_rounds() -> list[tuple[str, int, list[bytes]]]:
    """(what, advertised size, what the source sends on a stream request)."""
    good = _entry("bin/good.bin", b"good bytes\n")
    size = 3 * 1024 * 1024
    return [
        ("a: ../evil.txt after a good entry", size,
         [good, _entry("../evil.txt", b"evil\n"), _end(2, 16)]),
        ("b: absolute /abs.txt", size,
         [_entry("/abs.txt", b"abs\n"), _end(1, 4)]),
        ("c: a/../../b.txt after a good entry", size,
         [good, _entry("a/../../b.txt", b"b\n"), _end(2, 13)]),
        ("d: a 2 GiB entry for an advertised size of 1000", 1000,
         [_entry("big.bin", b"\x55" * 4096, size=2 << 30)]),
        ("e: the same entry twice", size,
         [_entry("dup.txt", b"one\n"), _entry("dup.txt", b"two\n"), _end(2, 8)]),
        ("f1: STREAM_END with one entry too many", size,
         [good, _entry("data/x.txt", b"x\n"), _end(3, 13)]),
        ("f2: STREAM_END with a byte count too high", size,
         [good, _entry("data/x.txt", b"x\n"), _end(2, 14)]),
        ("g: ../../../../x10-escape.txt (out of the games folder)", size,
         [good, _entry("../../../../x10-escape.txt", b"escape\n"), _end(2, 18)]),
    ]


def _tree(root: Path, skip: set[Path]) -> set[str]:
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if here / d not in skip]
        for name in filenames + dirnames:
            found.add(str((here / name).relative_to(root)))
    return found


def x10_hostile_stream_refused(sc: Scenario) -> str:
    """A stream source in Python sends hostile streams (path escapes, an
    absolute path, an entry far beyond the advertised size, a repeated
    entry, wrong end counts). Each: a result reply, download-failed, no
    install, no operation, no cnctw/local or .local.installing, and not a
    byte outside the games folder."""
    game_id = "cnctw"
    version = CATALOG_VERSIONS[game_id]
    for name in HOSTILE_NAMES:
        if os.path.lexists(Path("/") / name):
            raise ScenarioError(f"/{name} exists before the scenario; remove it first")
    outcomes = []
    for index, (what, adv_size, script) in enumerate(_x10_rounds()):
        tag = what.split(":", 1)[0]
        fake = FakePeer(sc, f"x10-fake-{tag}", f"127.0.0.{240 + index}", [game_advert(game_id, version, adv_size)])

        def on_stream(conn: socket.socket, body: dict[str, Any], fake: FakePeer = fake, script: list[bytes] = script) -> None:
            if body.get("game_id") != game_id:
                fake.note("stream request for another game", body)
                return
            for piece in script:
                if not fake.send(conn, piece):
                    return
            fake.note("stream sent")
            # Then silence: the client must end the link itself.

        fake.on_stream = on_stream
        try:
            client = sc.peer(f"x10-client-{tag}")
            skip = {sc.log_dir}
            before = _tree(sc.dir, skip)
            client.send({"cmd": "connect", "addr": fake.addr})
            client.send({"cmd": "wait-peers", "count": 1, "timeout_ms": 10000})
            wait_remote_game(client, game_id, peer_count=1, version=version, timeout=10)
            start = client.output_len()
            waiter = LineWaiter(start)
            began = time.monotonic()
            reply = client.send({"cmd": "stream-install", "game_id": game_id})
            if reply.get("type") != "result":
                raise ScenarioError(f"{what}: stream-install answered {reply}")
            ended = client.wait_for(event_name_in(TERMINAL, game_id), timeout=20,
                                    description=f"{what}: the end of the stream", waiter=waiter)
            took = time.monotonic() - began
            if ended.get("event") != "download-failed":
                raise ScenarioError(f"{what}: expected download-failed, got {ended}")
            if not fake.seen("stream sent") and "d:" not in what:
                sc.log(f"{what}: the client closed before the whole hostile stream was sent")
            assert_no_active(client, game_id)
            time.sleep(0.3)
            for event in ("install-finished", "download-finished", "download-peers-gone", "download-cancelled"):
                assert_no_event_since(client, start, event, game_id)
            if len(game_events(client, "download-failed", game_id, start)) != 1:
                raise ScenarioError(f"{what}: more than one download-failed")
            games = client.host_games_dir
            for rel in ("local", ".local.installing"):
                if os.path.lexists(games / game_id / rel):
                    raise ScenarioError(f"{what}: {game_id}/{rel} left behind")
            if os.listdir(games):
                left = sorted(str(p.relative_to(games)) for p in games.rglob("*"))
                raise ScenarioError(f"{what}: the games folder still holds {left[:20]}")
            assert_local_absent(client, game_id)
            # Nothing new anywhere in the scenario folder but the client's
            # own state, and none of the hostile names anywhere (nor in /).
            after = _tree(sc.dir, skip)
            state_rel = str(client.host_state_dir.relative_to(sc.dir))
            new = sorted(p for p in after - before if p != state_rel and not p.startswith(state_rel + "/"))
            if new:
                raise ScenarioError(f"{what}: new paths outside the client's state dir: {new[:20]}")
            for path in after:
                if Path(path).name in HOSTILE_NAMES or Path(path).name in ("good.bin", "dup.txt", "x.txt", "big.bin"):
                    raise ScenarioError(f"{what}: {path} exists under the scenario dir")
            for name in HOSTILE_NAMES:
                if os.path.lexists(Path("/") / name):
                    raise ScenarioError(f"{what}: /{name} was written")
            poll(lambda: fake.seen("transfer link closed"), timeout=5, interval=0.05,
                 what=f"{what}: the client kept the hostile transfer link open")
            error = (ended.get("data") or {}).get("error")
            outcomes.append(f"{tag} {took:.1f}s ({error})")
            client.shutdown()
        finally:
            fake.close()
    return f"{len(outcomes)} hostile streams each refused with download-failed, rolled back, nothing outside: " + "; ".join(outcomes)


# --------------------------------------------------------------------------
# X11: a source that sends what nobody asked for is dropped
# --------------------------------------------------------------------------


def _x11_round(sc: Scenario, mode: str, ip: str, real: Peer, root: Path, game_id: str) -> str:
    version = CATALOG_VERSIONS[game_id]
    files = servable_files(root)
    nchunks = len(files)  # one chunk each: small files
    fake = FakePeer(sc, f"x11-fake-{mode}", ip, [game_advert(game_id, version, sum(f["size"] for f in files))])
    answered: dict[str, Any] = {}

    def on_files(conn: socket.socket, body: dict[str, Any]) -> None:
        fake.send(conn, frame(T("PEER_FILES"), {"game_id": body.get("game_id"), "files": files}))

    def on_chunk(conn: socket.socket, body: dict[str, Any]) -> None:
        if answered:
            fake.note("a later request (left unanswered)", body)
            return
        path = root / body["path"]
        data = path.read_bytes()
        offset, length = body["offset"], body["length"]
        if mode == "overlong":
            answer = frame(T("PEER_CHUNK"), dict(body)) + data[offset : offset + length] + b"X" * 4096
        else:  # a header for another offset than asked, then its bytes
            wrong = dict(body)
            wrong["offset"] = offset + 1
            answer = frame(T("PEER_CHUNK"), wrong) + (data + b"\0")[offset + 1 : offset + 1 + length]
        answered.update(body)
        answered["at"] = time.monotonic()
        fake.send(conn, answer)
        fake.note("answered", mode)

    fake.on_files = on_files
    fake.on_chunk = on_chunk
    try:
        client = sc.peer(f"x11-client-{mode}")
        client.send({"cmd": "connect", "addr": fake.addr})
        client.connect_to(real)
        client.send({"cmd": "wait-peers", "count": 2, "timeout_ms": 10000})
        wait_remote_game(client, game_id, peer_count=2, version=version)
        start = client.output_len()
        waiter = LineWaiter(start)
        began = time.monotonic()
        client.send({"cmd": "download", "game_id": game_id, "install": False})
        done = client.wait_for(event_name_in(TERMINAL, game_id), timeout=25,
                               description=f"{mode}: download end", waiter=waiter)
        took = time.monotonic() - began
        if done.get("event") != "download-finished":
            raise ScenarioError(f"{mode}: the download ended with {done}")
        assert_no_event_since(client, start, "download-failed", game_id)
        assert_no_event_since(client, start, "download-peers-gone", game_id)
        if not answered:
            raise ScenarioError(f"{mode}: the client never asked the fake for a chunk (nothing was tested)")
        closed = poll(lambda: fake.seen("transfer link closed"), timeout=5, interval=0.05,
                      what=f"{mode}: the client kept the fake's transfer link open")
        dropped_after = closed[0][0] - answered["at"]
        if dropped_after > 5.0:
            raise ScenarioError(f"{mode}: the fake was dropped {dropped_after:.1f}s after its answer (a stall timeout, not the bad bytes)")
        chunks = chunk_events(client, game_id)
        if len(chunks) != nchunks:
            raise ScenarioError(f"{mode}: {len(chunks)} chunk events for {nchunks} chunks")
        assert_no_duplicate_chunks(client, game_id)
        from_fake = [c for c in chunks if c.get("peer_addr") == fake.addr]
        others = {c.get("peer_addr") for c in chunks if c.get("peer_addr") != fake.addr}
        if others - {real.ready_addr}:
            raise ScenarioError(f"{mode}: chunks from unknown sources {others}")
        first_asked = fake.seen("chunk request")[0][1]
        if mode == "overlong":
            # The chunk it answered right was complete when the extra bytes came.
            for c in from_fake:
                if (c.get("relative_path"), c.get("offset")) != (f"{game_id}/{first_asked['path']}", first_asked["offset"]):
                    raise ScenarioError(f"{mode}: a chunk from the fake beyond the first it answered: {c}")
        elif from_fake:
            raise ScenarioError(f"{mode}: a chunk was credited to the fake: {from_fake}")
        diff_game_dirs(root, client.host_games_dir / game_id)
        assert_no_active(client, game_id)
        later = len(fake.seen("a later request (left unanswered)"))
        client.shutdown()
        return (
            f"{mode}: fake dropped {dropped_after:.2f}s after its answer, {len(from_fake)} chunk(s) credited to it, "
            f"{nchunks - len(from_fake)} from the real source, {later} later request(s) to the fake; finished in {took:.1f}s, diff exact"
        )
    finally:
        fake.close()


def x11_overlong_chunk_source_dropped(sc: Scenario) -> str:
    """A Python source answers its first chunk with the right header and
    bytes and then 4096 more; another answers with a header for another
    offset. Each is dropped at once; the download finishes from the real
    source, byte-exact, without a failure."""
    game_id = "cnc4"
    real_dir = sc.fixture_root / "x11-real"
    # 20 small files and version.ini: 21 chunks, so the fake owns several.
    create_many_small_game(real_dir / game_id)
    real = sc.peer("x11-real", games_dir=real_dir)
    results = [
        _x11_round(sc, "overlong", "127.0.0.240", real, real_dir / game_id, game_id),
        _x11_round(sc, "offset", "127.0.0.241", real, real_dir / game_id, game_id),
    ]
    return "; ".join(results)


EDGE_SCENARIOS = [
    ("X8-silent-peer-dropped", x8_silent_peer_dropped),
    ("X9-cancel-download-rolls-back", x9_cancel_download_rolls_back),
    ("X10-hostile-stream-refused", x10_hostile_stream_refused),
    ("X11-overlong-chunk-source-dropped", x11_overlong_chunk_source_dropped),
]
