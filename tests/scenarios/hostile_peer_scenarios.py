"""Peers that misbehave on the wire (X2, X4, X5, X10, X11): garbage and bad
hellos on a listener, hostile chunk requests, sources that stall, hostile
streams, and sources that send bytes nobody asked for. Each must be
refused or dropped, with nothing written outside the games folder, while
the real peers keep working. And what any host can make us hold is
bounded (X40-X44): hello floods in the peer db, half-sent frames in the
net worker, idle transfer links, control clients that do not read,
streams asked for and never read."""

from __future__ import annotations

import concurrent.futures
import json
import os
import random
import socket
import sqlite3
import time
import zlib
from pathlib import Path
from typing import Any

from harness import (
    CATALOG_VERSIONS,
    CHUNK_SIZE,
    TERMINAL,
    LineWaiter,
    Peer,
    Scenario,
    ScenarioError,
    assert_local_absent,
    assert_no_active,
    assert_no_duplicate_chunks,
    assert_no_event_since,
    chunk_events,
    chunk_sources,
    copy_game,
    create_many_small_game,
    descendants,
    diff_game_dirs,
    event_is,
    event_name_in,
    fixture_dir,
    game_events,
    poll,
    wait_local_game,
    wait_no_active,
    wait_remote_absent,
    wait_remote_game,
)
from wire import (
    FRAME_HDR,
    XFER_PROTO,
    FakePeer,
    Identity,
    LinkedFake,
    T,
    Wire,
    frame,
    game_advert,
    handshake,
    hello_body,
    manifest_body,
    mp_pack,
    mp_unpack,
    proof_body,
    servable_files,
)


def worker_pids(peer: Any) -> set[int]:
    if peer.process is None or peer.process.poll() is not None:
        return set()
    return set(descendants(peer.process.pid))


# --------------------------------------------------------------------------
# X2: raw TCP garbage on a listener
# --------------------------------------------------------------------------


def x2_raw_tcp_garbage(sc: Scenario) -> str:
    """Raw TCP abuse of a peer's listener; its peers still work after."""
    alpha = sc.peer("x2-alpha", games_dir=fixture_dir("fixture-alpha"), readonly_games=True)
    bravo = sc.peer("x2-bravo")
    assert alpha.ready_addr is not None and alpha.peer_id is not None
    workers = worker_pids(alpha)
    seed_text = os.environ.get("LANSPREAD_FUZZ_SEED")
    seed = int(seed_text) if seed_text else int(time.time())
    rng = random.Random(seed)
    sc.log(f"garbage seed {seed} (set LANSPREAD_FUZZ_SEED to replay)")
    fake_id = "".join(rng.choice("0123456789abcdef") for _ in range(32))
    fake_addr = "127.0.0.250:9"
    hello = T("PEER_HELLO")
    ack = T("PEER_HELLO_ACK")

    # Each case: (what, bytes, half-close after?, must close within s).
    # A listener that waits for a hello closes a silent link at its hello
    # timeout (5 s); what it can refuse at once must go at once.
    cases: list[tuple[str, bytes, bool, float]] = [
        ("random garbage", rng.randbytes(4096), False, 15.0),
        ("garbage with a small header", FRAME_HDR.pack(rng.randrange(1 << 32), 0, 64) + rng.randbytes(64), False, 15.0),
        ("truncated frame (100 announced, 10 sent, closed)", frame(hello, raw=rng.randbytes(10), length=100), True, 3.0),
        ("header announcing 4 GiB-1", frame(hello, raw=b"", length=0xFFFFFFFF), False, 3.0),
        ("hello with protocol 99", frame(hello, hello_body(None, fake_addr, proto=99)), False, 3.0),
        ("hello with protocol 0", frame(hello, hello_body(None, fake_addr, proto=0)), False, 3.0),
        ("hello without a protocol", frame(hello, {"peer_id": fake_id, "name": "x", "addr": fake_addr, "games": []}), False, 3.0),
        ("hello with an invalid MessagePack body", frame(hello, raw=b"\xc1\xc1\xc1\xc1"), False, 3.0),
        ("hello whose body is an array", frame(hello, raw=mp_pack([1, fake_id, "x", fake_addr, []])), False, 3.0),
        ("hello with a truncated body", frame(hello, raw=mp_pack(hello_body(fake_id, fake_addr))[:-3]), False, 3.0),
        ("hello with wrong field types", frame(hello, {"proto": 1, "peer_id": 5, "name": [], "addr": True, "games": "x"}), False, 3.0),
        ("hello with a bad peer id", frame(hello, hello_body("XYZ" * 11 + "Q", fake_addr)), False, 3.0),
        ("hello with a bad address", frame(hello, hello_body(fake_id, "nonsense")), False, 3.0),
        ("hello with a bad game list", frame(hello, hello_body(fake_id, fake_addr, games=[{"id": "../x", "version": 1}])), False, 3.0),
        ("hello claiming 2^32-1 games", frame(hello, raw=mp_pack(hello_body(fake_id, fake_addr))[:-1] + b"\xdd\xff\xff\xff\xff"), False, 3.0),
        ("hello nested 10000 deep", frame(hello, raw=b"\x81\xa1a" + b"\x91" * 10000 + b"\x01"), False, 3.0),
        ("hello bearing the listener's own id", frame(hello, hello_body(alpha.peer_id, fake_addr)), False, 3.0),
        ("a ping before any hello", frame(T("PEER_PING")), False, 3.0),
        ("a hello ack to a listener", frame(ack, hello_body(fake_id, fake_addr)), False, 3.0),
        ("an unknown frame type", frame(0xDEADBEEF), False, 3.0),
        ("a transfer link of protocol 99", frame(T("PEER_XFER_OPEN"), {"proto": 99, "peer_id": fake_id, "ticket": "0" * 32}), False, 3.0),
    ]
    problems = []
    opened = []
    for what, data, half_close, within in cases:
        wire = Wire(alpha.ready_addr)
        try:
            wire.send(data)
        except OSError as exc:
            sc.log(f"{what}: send stopped early ({exc}); the peer closed first")
        if half_close:
            wire.sock.shutdown(socket.SHUT_WR)
        opened.append((what, wire, within, time.monotonic()))
    # A transfer link without a ticket from a linked peer: refused.
    unbound = Wire(alpha.ready_addr)
    unbound.send_frame(T("PEER_XFER_OPEN"), {"proto": XFER_PROTO, "peer_id": fake_id, "ticket": "0" * 32})
    opened.append(("a transfer link without a linked peer's ticket", unbound, 3.0, time.monotonic()))
    # A transfer link, then garbage on it: accepted, then closed.
    linked = LinkedFake(alpha.ready_addr, "x2-linked", source="127.0.0.251")
    xfer = Wire(alpha.ready_addr)
    xfer.send_frame(T("PEER_XFER_OPEN"), linked.xfer_open())
    type_, _body = xfer.recv_frame()
    if type_ != T("PEER_XFER_ACCEPT"):
        problems.append(f"transfer open answered with frame type {type_}")
    xfer.send(rng.randbytes(2048))
    opened.append(("garbage on a transfer link", xfer, 3.0, time.monotonic()))
    xfer2 = Wire(alpha.ready_addr)
    xfer2.send_frame(T("PEER_XFER_OPEN"), linked.xfer_open())
    xfer2.recv_frame()
    linked.close()  # its transfer links are the transfer worker's now
    xfer2.send(frame(T("PEER_CHUNK_REQ"), raw=b"", length=0xFFFFFFFF))
    opened.append(("4 GiB-1 header on a transfer link", xfer2, 3.0, time.monotonic()))

    # Connections that never speak, held open while the peers work.
    silent = [Wire(alpha.ready_addr) for _ in range(200)]
    silent_since = time.monotonic()
    try:
        for what, wire, within, since in opened:
            closed, types = wire.wait_closed(max(0.1, since + within - time.monotonic()))
            if not closed:
                problems.append(f"{what}: link still open after {within:g}s")
            if ack in types or hello in types:
                problems.append(f"{what}: the listener answered with a hello (frames {types})")
            wire.close()
        if problems:
            raise ScenarioError("; ".join(problems))
        alpha.status()
        bravo.connect_to(alpha)
        for game_id in ("alienswarm", "bf1942", "ggoo"):
            wait_remote_game(bravo, game_id, peer_count=1, version=CATALOG_VERSIONS[game_id], timeout=10)
        peers = [p["peer_id"] for p in alpha.list_peers()]
        if peers != [bravo.peer_id]:
            raise ScenarioError(f"{alpha.name} lists peers {peers}; expected only {bravo.name} ({bravo.peer_id})")
        during = time.monotonic() - silent_since
        # The silent links go at the listener's hello timeout, not later.
        open_after = 0
        for wire in silent:
            closed, _types = wire.wait_closed(max(0.1, silent_since + 15.0 - time.monotonic()))
            open_after += not closed
        if open_after:
            raise ScenarioError(f"{open_after} of 200 silent connections still open 15 s after they were made")
        silent_gone = time.monotonic() - silent_since
    finally:
        for wire in silent:
            wire.close()
    if worker_pids(alpha) != workers:
        raise ScenarioError(f"{alpha.name}'s workers changed: {sorted(workers)} -> {sorted(worker_pids(alpha))}")
    alpha.status()
    if [p["peer_id"] for p in bravo.list_peers()] != [alpha.peer_id]:
        raise ScenarioError(f"{bravo.name} lost {alpha.name}: {bravo.list_peers()}")
    wait_remote_game(bravo, "alienswarm", peer_count=1, timeout=5)
    return (
        f"{len(opened)} hostile connections all closed by the listener without a hello answer "
        f"(seed {seed}); with 200 silent connections open, status answered and {bravo.name} "
        f"connected and saw alpha's 3 games ({during * 1000:.0f} ms); the silent ones were dropped by "
        f"{silent_gone:.1f}s; workers unchanged, link still up"
    )


# --------------------------------------------------------------------------
# X4: hostile chunk requests over a real transfer link
# --------------------------------------------------------------------------


def _hostile_chunks(game_id: str, eti: str, eti_size: int, big_size: int) -> list[tuple[str, dict[str, Any]]]:
    def req(path: str, offset: int = 0, length: int = 16, gid: str = game_id) -> dict[str, Any]:
        return {"game_id": gid, "path": path, "offset": offset, "length": length}

    return [
        ("dot-dot out of the folder", req("../../etc/passwd")),
        ("absolute path", req("/etc/passwd")),
        ("dot-dot inside the folder", req("local/../version.ini", length=4)),
        ("the installed game", req("local/x", length=4)),
        ("install staging", req(".local.installing/x", length=4)),
        ("our metadata", req(".lanspread.json", length=2)),
        ("symlink to /etc/passwd", req("link.bin")),
        ("through a symlinked dir", req("linkdir/passwd")),
        ("a directory", req("subdir", length=0)),
        ("offset past the end", req(eti, offset=eti_size + 1, length=0)),
        ("length over the end", req(eti, offset=eti_size - 10, length=11)),
        ("offset at 2^64-1", req(eti, offset=2**64 - 1, length=1)),
        ("length over 128 MiB", req("big.bin", offset=0, length=CHUNK_SIZE + 1)),
        ("game id ../x", req("version.ini", gid="../x", length=4)),
        ("game id /etc", req("passwd", gid="/etc", length=4)),
        ("game without its sentinel", req("ggoo.eti", gid="ggoo", length=4)),
        ("game not in the catalog", req("version.ini", gid="zzunknown", length=2)),
        ("negative offset", {"game_id": game_id, "path": eti, "offset": -1, "length": 4}),
        ("missing fields", {"game_id": game_id, "path": eti}),
        ("path over 4096 bytes", req("a" * 5000, length=1)),
    ]


def x4_hostile_chunk_requests_tcp(sc: Scenario) -> str:
    """Hostile chunk requests over a real transfer link: each refused with
    PEER_ERROR and no bytes; the link still serves a good request."""
    games = sc.fixture_root / "x4-source"
    copy_game("cnc4", games)
    root = games / "cnc4"
    (root / "link.bin").symlink_to("/etc/passwd")
    (root / "linkdir").symlink_to("/etc")
    (root / "subdir").mkdir()
    (root / "local").mkdir()
    (root / "local" / "x").write_bytes(b"installed game\n")
    (root / ".local.installing").mkdir()
    (root / ".local.installing" / "x").write_bytes(b"staging\n")
    (root / ".lanspread.json").write_bytes(b"{}\n")
    with (root / "big.bin").open("wb") as handle:
        handle.truncate(CHUNK_SIZE + 4096)
    copy_game("ggoo", games)
    (games / "ggoo" / "version.ini").unlink()
    (games / "zzunknown").mkdir()
    (games / "zzunknown" / "version.ini").write_text("1\n")
    eti = "cnc4.eti"
    eti_bytes = (root / eti).read_bytes()
    source = sc.peer("x4-source", games_dir=games)
    assert source.ready_addr is not None
    workers = worker_pids(source)
    linked = LinkedFake(source.ready_addr, "x4-linked")
    wire = Wire(source.ready_addr)
    try:
        wire.send_frame(T("PEER_XFER_OPEN"), linked.xfer_open())
        type_, _ = wire.recv_frame()
        if type_ != T("PEER_XFER_ACCEPT"):
            raise ScenarioError(f"transfer open answered with frame type {type_}")
        want = manifest_body("cnc4", (root / "version.ini").read_text().strip(), servable_files(root))
        deadline = time.monotonic() + 30
        while True:  # a peer still hashing the game says so; ask again
            wire.send_frame(T("PEER_FILES_REQ"), {"game_id": "cnc4"})
            type_, body = wire.recv_frame()
            if type_ != T("PEER_FILES_WAIT") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if type_ != T("PEER_FILES") or body != want:
            raise ScenarioError(f"file list: type {type_} body {str(body)[:300]}; expected {str(want)[:300]}")
        refused = []
        for what, request in _hostile_chunks("cnc4", eti, len(eti_bytes), CHUNK_SIZE + 4096):
            wire.send_frame(T("PEER_CHUNK_REQ"), request)
            type_, body = wire.recv_frame()
            if type_ != T("PEER_ERROR") or not isinstance(body, dict) or not body.get("error"):
                raise ScenarioError(f"{what}: answered with frame type {type_} {str(body)[:200]}")
            stray = wire.quiet(0.2)
            if stray is not None:
                raise ScenarioError(f"{what}: refused, then {stray}")
            refused.append(f"{what}: {body['error']}")
        sc.log("refusals:\n  " + "\n  ".join(refused))
        checks = [(1000, 5000), (0, len(eti_bytes)), (len(eti_bytes) - 1, 1), (len(eti_bytes), 0)]
        for offset, length in checks:
            wire.send_frame(T("PEER_CHUNK_REQ"), {"game_id": "cnc4", "path": eti, "offset": offset, "length": length})
            type_, body = wire.recv_frame()
            expect = {"game_id": "cnc4", "path": eti, "offset": offset, "length": length}
            if type_ != T("PEER_CHUNK") or body != expect:
                raise ScenarioError(f"good request answered with type {type_} {body}")
            data = wire.recv_exact(length, 10.0)
            if data != eti_bytes[offset : offset + length]:
                raise ScenarioError(f"chunk {offset}+{length}: bytes differ from the file")
            stray = wire.quiet(0.2)
            if stray is not None:
                raise ScenarioError(f"chunk {offset}+{length}: then {stray}")
    finally:
        wire.close()
        linked.close()
    source.status()
    if worker_pids(source) != workers:
        raise ScenarioError(f"{source.name}'s workers changed: {sorted(workers)} -> {sorted(worker_pids(source))}")
    return (
        f"{len(refused)} hostile chunk requests each got PEER_ERROR and no bytes; the same link then "
        f"served {len(checks)} good requests byte-exact; file list had only {[f['path'] for f in want['files']]}"
    )


# --------------------------------------------------------------------------
# X5: sources that stall are dropped after the stall timeout
# --------------------------------------------------------------------------


def _stalling_source(sc: Scenario, name: str, ip: str, root: Path, game_id: str, version: str, mode: str) -> FakePeer:
    """A FakePeer that lists root's files like a real peer, then stalls on
    the first chunk it is asked for: mode "header" never answers it, mode
    "data" sends the chunk header and the first half of the bytes, then
    nothing more."""
    files = servable_files(root)
    fake = FakePeer(sc, name, ip, [game_advert(game_id, version, sum(item["size"] for item in files))])
    stalled = False

    def on_files(conn: socket.socket, body: dict[str, Any]) -> None:
        fake.send(conn, frame(T("PEER_FILES"), manifest_body(body.get("game_id"), version, files)))

    def on_chunk(conn: socket.socket, body: dict[str, Any]) -> None:
        nonlocal stalled
        if stalled:
            fake.note("a request after the stall")  # the client must not send one
            return
        stalled = True
        if mode == "header":
            return
        with (root / body["path"]).open("rb") as handle:
            handle.seek(body["offset"])
            data = handle.read(body["length"])
        fake.send(conn, frame(T("PEER_CHUNK"), dict(body)) + data[: max(1, len(data) // 2)])

    fake.on_files = on_files
    fake.on_chunk = on_chunk
    return fake


def _stalled_fakes(sc: Scenario, tag: str, root: Path, game_id: str, version: str) -> list[FakePeer]:
    return [
        _stalling_source(sc, f"x5-{tag}-header", f"127.0.{tag == 'alone' and 1 or 0}.250", root, game_id, version, "header"),
        _stalling_source(sc, f"x5-{tag}-data", f"127.0.{tag == 'alone' and 1 or 0}.251", root, game_id, version, "data"),
    ]


def _check_stalled(fake: FakePeer, lo: float | None, hi: float) -> float:
    """The client asked fake for its list and one chunk, never for more
    while it was owed, and closed the link between lo and hi seconds after
    the request (lo None: any time up to hi). Returns that delay."""
    requests = fake.seen("chunk request")
    if not fake.seen("file list request"):
        raise ScenarioError(f"the client never asked {fake.name} for its file list")
    if not requests:
        raise ScenarioError(f"the client never asked {fake.name} for a chunk (no stall was tested)")
    if fake.seen("a request after the stall"):
        raise ScenarioError(f"the client sent {fake.name} a request before its chunk was done")
    closed = poll(lambda: fake.seen("transfer link closed"), timeout=hi + 5, interval=0.1,
                  what=f"the client kept {fake.name}'s stalled transfer link open")
    stalled_for = closed[0][0] - requests[0][0]
    if (lo is not None and stalled_for < lo) or stalled_for > hi:
        raise ScenarioError(f"{fake.name}'s link closed {stalled_for:.1f}s after its chunk request; "
                            f"expected {lo if lo is not None else 0}-{hi} s")
    return stalled_for


def x5_stalled_source(sc: Scenario) -> str:
    """Two sources in Python stall on their first chunk, one before the
    chunk header, one halfway through the bytes. Beside a real source
    their pieces are asked again of it (the endgame) and the download
    finishes at once, every byte from the real source. Alone, they are
    dropped at the end of the progress floor's first window (10 s; the
    stall timeout, 15 s, comes later) and the download ends."""
    game_id = "coh"
    version = CATALOG_VERSIONS[game_id]
    real_dir = sc.fixture_root / "x5-real"
    # 20 small files and version.ini: 21 chunks, spread over 3 sources.
    create_many_small_game(real_dir / game_id)
    root = real_dir / game_id
    nfiles = len(servable_files(root))
    fakes = _stalled_fakes(sc, "with", root, game_id, version)
    alone = _stalled_fakes(sc, "alone", root, game_id, version)
    try:
        real = sc.peer("x5-real", games_dir=real_dir)
        client = sc.peer("x5-client")
        for fake in fakes:
            client.send({"cmd": "connect", "addr": fake.addr})
        client.connect_to(real)
        client.send({"cmd": "wait-peers", "count": 3, "timeout_ms": 10000})
        wait_remote_game(client, game_id, peer_count=3, version=version)
        start = client.output_len()
        waiter = LineWaiter(start)
        client.send({"cmd": "download", "game_id": game_id, "install": False})
        client.wait_for(event_is("download-begin", game_id), timeout=20, description="download begin", waiter=waiter)
        begun = time.monotonic()
        client.wait_for(event_is("download-finished", game_id), timeout=60, description="download finish", waiter=waiter)
        took = time.monotonic() - begun
        assert_no_event_since(client, start, "download-failed", game_id)
        assert_no_event_since(client, start, "download-peers-gone", game_id)
        if took >= 9.0:
            raise ScenarioError(f"the download took {took:.1f}s: it waited for the stalled sources")
        for fake in fakes:
            _check_stalled(fake, None, 10.0)
        sources = chunk_sources(client, game_id)
        if sources != {real.ready_addr}:
            raise ScenarioError(f"chunks came from {sources}; expected only {real.ready_addr}")
        chunks = chunk_events(client, game_id)
        if len(chunks) != nfiles:
            raise ScenarioError(f"{len(chunks)} chunk events for {nfiles} one-chunk files")
        assert_no_duplicate_chunks(client, game_id)
        diff_game_dirs(root, client.host_games_dir / game_id)
        wait_no_active(client, game_id)
        # Alone, nobody else has their pieces: the floor must drop them.
        lone = sc.peer("x5-lone")
        for fake in alone:
            lone.send({"cmd": "connect", "addr": fake.addr})
        lone.send({"cmd": "wait-peers", "count": 2, "timeout_ms": 10000})
        wait_remote_game(lone, game_id, peer_count=2, version=version)
        mark = lone.mark()
        lone.send({"cmd": "download", "game_id": game_id, "install": False})
        ended = lone.wait_for(lambda item: item.get("event") in ("download-finished", "download-failed", "download-peers-gone")
                              and (item.get("data") or {}).get("game_id") == game_id,
                              timeout=60, description="the stalled download's end", waiter=mark)
        if ended["event"] == "download-finished":
            raise ScenarioError("a download from two stalled sources finished")
        stalls = [f"{fake.name} dropped after {_check_stalled(fake, 9.0, 30.0):.1f}s" for fake in alone]
        if (lone.host_games_dir / game_id / "version.ini").exists():
            raise ScenarioError("a version.ini was written from stalled sources")
        return (
            f"beside a real source the stalled ones were bypassed: all {nfiles} chunks from it in {took:.1f}s, "
            f"diff matched; alone: {'; '.join(stalls)}, then {ended['event']}"
        )
    finally:
        for fake in fakes + alone:
            fake.close()


# --------------------------------------------------------------------------
# X10: a hostile stream source is refused, nothing written outside
# --------------------------------------------------------------------------

HOSTILE_NAMES = {"evil.txt", "abs.txt", "b.txt", "x10-escape.txt"}


def _entry(path: str, data: bytes, size: int | None = None, crc: int | None = None) -> bytes:
    """An entry frame, its bytes and (when they are all there) the CRC32
    the sender vouches for: data's own unless crc says otherwise."""
    out = frame(T("PEER_ENTRY"), {"path": path, "size": len(data) if size is None else size}) + data
    if size is None or size == len(data):
        out += frame(T("PEER_ENTRY_SUM"), {"crc32": zlib.crc32(data) if crc is None else crc})
    return out


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
        ("h: an entry whose bytes do not match its CRC32", size,
         [_entry("bin/good.bin", b"good bytes\n", crc=zlib.crc32(b"good bytes\n") ^ 1), _end(1, 11)]),
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
            if tag == "h" and "corrupt" not in ended["data"].get("error", ""):
                raise ScenarioError(f"{what}: the failure does not say the entry was corrupt: {ended}")
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
        fake.send(conn, frame(T("PEER_FILES"), manifest_body(body.get("game_id"), version, files)))

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


# --------------------------------------------------------------------------
# X40-X43: what any host on the LAN can make us hold is bounded
# --------------------------------------------------------------------------

MIB = 1024 * 1024


def _worker_by_exe(peer: Peer, exe_name: str) -> int:
    """The pid of a peer's worker whose program is exe_name."""
    assert peer.process is not None
    found = []
    for pid in descendants(peer.process.pid):
        try:
            if os.readlink(f"/proc/{pid}/exe").endswith("/" + exe_name):
                found.append(pid)
        except OSError:
            continue
    if len(found) != 1:
        raise ScenarioError(f"cannot find {peer.name}'s {exe_name}: {found}")
    return found[0]


def _rss(pid: int) -> int:
    """Resident bytes of a process (VmRSS)."""
    with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise ScenarioError(f"pid {pid} has no VmRSS")


def _db_bytes(state_dir: Path) -> dict[str, int]:
    sizes = {}
    for name in ("peers.db", "peers.db-wal", "peers.db-shm"):
        path = state_dir / name
        sizes[name] = path.stat().st_size if path.exists() else 0
    return sizes


def _still_works(sc: Scenario, alpha: Peer, name: str) -> Peer:
    """A real peer links to alpha and sees its games; alpha lists only it."""
    bravo = sc.peer(name)
    bravo.connect_to(alpha)
    wait_remote_game(bravo, "bf1942", peer_count=1, version=CATALOG_VERSIONS["bf1942"], timeout=15)
    peers = poll(lambda: [p["peer_id"] for p in alpha.list_peers()] == [bravo.peer_id] or None, timeout=15,
                 what=lambda: f"{alpha.name} should list only {bravo.name}: {alpha.list_peers()}")
    assert peers
    return bravo


def x40_hello_flood_leaves_peer_db_small(sc: Scenario) -> str:
    """10,000 handshakes from one host, each proving a new key (so a new
    peer id) with a 32-game library, each link closed once up: peers.db (with its
    WAL) stays under 10 MiB, at most 1024 peer rows remain and no library
    of a gone peer; a real peer still links and sees alpha's games."""
    alpha = sc.peer("x40-alpha", games_dir=fixture_dir("fixture-alpha"), readonly_games=True)
    assert alpha.ready_addr is not None
    workers = worker_pids(alpha)
    state = alpha.host_state_dir
    seed = int(os.environ.get("LANSPREAD_FUZZ_SEED") or time.time())
    rng = random.Random(seed)
    library = [game_advert(f"x40game{i:02d}", "1", 1000 + i) for i in range(32)]
    total, limit = 10_000, 10 * MIB
    # Each fake proves a key of its own: ids are derived from keys.
    hellos = [Identity(rng.randbytes(32)) for _ in range(total)]

    def say_hello(ident: Identity) -> bool:
        try:
            wire = Wire(alpha.ready_addr or "", timeout=5)
        except OSError:
            return False
        try:
            handshake(wire, ident, "127.0.0.1:9", library)
            return True
        except (OSError, ScenarioError):
            return False
        finally:
            wire.close()

    acked = refused = 0
    biggest = 0
    began = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        for start in range(0, total, 500):
            for ok in pool.map(say_hello, hellos[start : start + 500]):
                acked += ok
                refused += not ok
            size = sum(_db_bytes(state).values())
            biggest = max(biggest, size)
            if size >= limit:
                raise ScenarioError(f"peers.db and its WAL hold {size / MIB:.1f} MiB after {start + 500} hellos "
                                    f"({_db_bytes(state)})")
    took = time.monotonic() - began
    sc.log(f"{acked} handshakes completed, {refused} refused, in {took:.1f}s (seed {seed})")
    if acked < total * 0.95:
        raise ScenarioError(f"only {acked} of {total} handshakes completed (nothing much was tested)")
    # Every fake peer has gone: alpha lists nobody, and its db is settled.
    poll(lambda: alpha.list_peers() == [] or None, timeout=30, what=lambda: f"{alpha.name} still lists peers")
    sizes = _db_bytes(state)
    size = sum(sizes.values())
    biggest = max(biggest, size)
    if size >= limit:
        raise ScenarioError(f"peers.db and its WAL hold {size / MIB:.1f} MiB ({sizes})")
    def counts() -> tuple[int, int]:
        with sqlite3.connect(f"file:{state / 'peers.db'}?mode=ro", uri=True) as db:
            return (db.execute("SELECT COUNT(*) FROM peers").fetchone()[0],
                    db.execute("SELECT COUNT(*) FROM peer_games").fetchone()[0])

    # The last links' goodbyes may still be on their way (alpha may list
    # nobody for a moment while the last few are still queued): settled,
    # rows and libraries both, in 5 s.
    deadline = time.monotonic() + 5
    while ((rows_games := counts())[0] > 1024 or rows_games[1] != 0) and time.monotonic() < deadline:
        time.sleep(0.2)
    rows, games = rows_games
    if rows > 1024:
        raise ScenarioError(f"{rows} peer rows after the flood; at most 1024 should stay")
    if games != 0:
        raise ScenarioError(f"{games} library rows of peers that are gone")
    bravo = _still_works(sc, alpha, "x40-bravo")
    if worker_pids(alpha) != workers:
        raise ScenarioError(f"{alpha.name}'s workers changed: {sorted(workers)} -> {sorted(worker_pids(alpha))}")
    bravo.shutdown()
    return (f"{acked} of {total} peers with new keys (so new ids) and 32 games linked in {took:.1f}s ({refused} refused); "
            f"peers.db + WAL {size / MIB:.2f} MiB after (at most {biggest / MIB:.2f} MiB seen, limit 10 MiB), "
            f"{rows} peer rows, {games} library rows; a real peer linked after")


def _dial(addr: str, source: str) -> socket.socket:
    host, port = addr.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=2, source_address=(source, 0))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _half_frames(sc: Scenario, alpha: Peer, net_pid: int, what: str, first: Any, body: int,
                 hosts: int = 25, per_host: int = 8, limit: int = 32 * MIB) -> str:
    """hosts x per_host links, each sending first(sock) (a header, or a
    hello then a header) and then body bytes of the frame it announced,
    and keeping it open. The net worker's RSS is watched all along; the
    flood stops as soon as it passes limit."""
    assert alpha.ready_addr is not None
    socks: list[socket.socket] = []
    closed = 0
    peak = _rss(net_pid)
    chunk = b"\0" * (256 * 1024)
    try:
        for i in range(hosts * per_host):
            source = f"127.0.1.{i // per_host + 1}"
            try:
                sock = _dial(alpha.ready_addr, source)
            except OSError:
                closed += 1
                continue
            socks.append(sock)
            try:
                first(sock)
                left = body
                while left > 0:
                    n = min(left, len(chunk))
                    sock.sendall(chunk[:n])
                    left -= n
            except (OSError, ScenarioError):
                closed += 1
            peak = max(peak, _rss(net_pid))
            if peak > limit:
                raise ScenarioError(f"{what}: the net worker holds {peak / MIB:.1f} MiB after {i + 1} links")
        time.sleep(0.5)
        peak = max(peak, _rss(net_pid))
        if peak > limit:
            raise ScenarioError(f"{what}: the net worker holds {peak / MIB:.1f} MiB")
    finally:
        for sock in socks:
            sock.close()
    sc.log(f"{what}: {closed} of {hosts * per_host} links refused or closed; net worker peak {peak / MIB:.1f} MiB")
    return f"{what}: peak {peak / MIB:.1f} MiB ({closed} of {hosts * per_host} links closed by alpha while they sent)"


def x41_half_sent_frames_keep_net_worker_small(sc: Scenario) -> str:
    """200 links from 25 hosts each announce a 16 MiB frame and send half
    of it; then 200 announce the largest hello (1 MiB) and send half; then
    200 say a good hello and send half of a 1 MiB library. The net
    worker's RSS stays under 32 MiB all along, and alpha still links."""
    alpha = sc.peer("x41-alpha", games_dir=fixture_dir("fixture-alpha"), readonly_games=True)
    workers = worker_pids(alpha)
    net_pid = _worker_by_exe(alpha, "lanspread-net")
    base = _rss(net_pid)
    hello, library = T("PEER_HELLO"), T("PEER_LIBRARY")
    rng = random.Random(41)

    def header(type_: int, length: int) -> Any:
        return lambda sock: sock.sendall(FRAME_HDR.pack(type_, 0, length))

    def hello_then_library(sock: socket.socket) -> None:
        ident = Identity(rng.randbytes(32))
        sent = hello_body(None, "127.0.0.1:9", ident=ident)
        sock.sendall(frame(hello, sent))
        sock.settimeout(5)
        head = b""
        while len(head) < FRAME_HDR.size:
            data = sock.recv(FRAME_HDR.size - len(head))
            if not data:
                raise ScenarioError("closed before the ack")
            head += data
        type_, _flags, length = FRAME_HDR.unpack(head)
        rest, body = length, b""
        while rest:
            data = sock.recv(rest)
            if not data:
                raise ScenarioError("closed in the ack")
            rest -= len(data)
            body += data
        sock.settimeout(2)
        # Proven, the link is up: now a library frame may be large.
        sock.sendall(frame(T("PEER_HELLO_PROOF"), proof_body(ident, mp_unpack(body))))
        sock.sendall(FRAME_HDR.pack(library, 0, MIB))

    results = [
        _half_frames(sc, alpha, net_pid, "half-sent 16 MiB frames", header(hello, 16 * MIB), 8 * MIB),
        _half_frames(sc, alpha, net_pid, "half-sent 1 MiB hellos", header(hello, MIB), MIB // 2),
        _half_frames(sc, alpha, net_pid, "half-sent 1 MiB libraries after a hello", hello_then_library, MIB // 2),
    ]
    if _worker_by_exe(alpha, "lanspread-net") != net_pid:
        raise ScenarioError("the net worker was restarted")
    bravo = _still_works(sc, alpha, "x41-bravo")
    if worker_pids(alpha) != workers:
        raise ScenarioError(f"{alpha.name}'s workers changed: {sorted(workers)} -> {sorted(worker_pids(alpha))}")
    bravo.shutdown()
    return f"net worker RSS {base / MIB:.1f} MiB at start; " + "; ".join(results) + "; limit 32 MiB; a real peer linked after"


def x42_idle_transfer_links_from_one_host(sc: Scenario) -> str:
    """One host, linked as a peer, opens 256 transfer links one after
    another and leaves them idle; another peer's download from the same
    source still finishes, byte-exact."""
    game_id = "bf1942"
    alpha = sc.peer("x42-alpha", games_dir=fixture_dir("fixture-alpha"), readonly_games=True)
    bravo = sc.peer("x42-bravo")
    assert alpha.ready_addr is not None
    bravo.connect_to(alpha)
    wait_remote_game(bravo, game_id, peer_count=1, version=CATALOG_VERSIONS[game_id], timeout=15)
    # The fake is a linked peer (from another address of the same host
    # machine), so its transfer links are bound to it.
    linked = LinkedFake(alpha.ready_addr, "x42-linked", source="127.0.2.2")
    wires: list[Wire] = []
    accepted = closed = 0
    began = time.monotonic()
    try:
        for _ in range(256):
            try:
                wire = Wire(alpha.ready_addr, timeout=3, source="127.0.2.1")
            except OSError:
                closed += 1
                continue
            wires.append(wire)
            try:
                wire.send_frame(T("PEER_XFER_OPEN"), linked.xfer_open())
                type_, _body = wire.recv_frame(timeout=3)
                if type_ != T("PEER_XFER_ACCEPT"):
                    raise ScenarioError(f"answered with frame type {type_}")
                accepted += 1
            except (OSError, ScenarioError):
                closed += 1
        opened_in = time.monotonic() - began
        sc.log(f"{accepted} transfer links accepted, {closed} closed, in {opened_in:.1f}s")
        start = bravo.output_len()
        waiter = LineWaiter(start)
        t0 = time.monotonic()
        reply = bravo.send({"cmd": "download", "game_id": game_id, "install": False})
        if reply.get("type") != "result":
            raise ScenarioError(f"download answered {reply}")
        done = bravo.wait_for(event_name_in(TERMINAL, game_id), timeout=25,
                              description="the end of the download", waiter=waiter)
        took = time.monotonic() - t0
        if done.get("event") != "download-finished":
            raise ScenarioError(f"with {accepted} idle transfer links from one host open, the download ended with {done}")
        still_open = sum(1 for wire in wires if wire.quiet(0.01) is None)
    finally:
        for wire in wires:
            wire.close()
        linked.close()
    diff_game_dirs(fixture_dir("fixture-alpha") / game_id, bravo.host_games_dir / game_id)
    assert_no_event_since(bravo, start, "download-peers-gone", game_id)
    bravo.shutdown()
    return (f"256 transfer links from 127.0.2.1: {accepted} accepted (still open: {still_open}), {closed} closed at once; "
            f"bravo's download of {game_id} finished in {took:.1f}s, byte-exact")


def _ctl_request(rid: str) -> bytes:
    return (json.dumps({"id": rid, "cmd": "status"}) + "\n").encode()


def _ctl_rid(tag: str, n: int, pad: int) -> str:
    return f"{tag}-{n:08d}-" + "p" * pad


def _reply_len(sock_path: Path, pad: int) -> int:
    """The length of the reply to one request of _flood_control's."""
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(5)
    client.connect(str(sock_path))
    try:
        client.sendall(_ctl_request(_ctl_rid("measure", 0, pad)))
        data = b""
        while not data.endswith(b"\n"):
            chunk = client.recv(65536)
            if not chunk:
                raise ScenarioError("the daemon closed a control connection before its reply")
            data += chunk
        return len(data)
    finally:
        client.close()


def _flood_control(sock_path: Path, tag: str, budget: int, pad: int, reply: int) -> tuple[int, bool]:
    """Requests (each answered with reply bytes) on one control
    connection, never reading a reply, until the daemon drops it or budget
    bytes of replies are owed. Returns (bytes of replies owed when it
    ended, dropped?)."""
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(5)
    client.connect(str(sock_path))
    owed = 0
    n = 0
    try:
        while owed < budget:
            request = _ctl_request(_ctl_rid(tag, n, pad))
            try:
                client.sendall(request)
            except (BrokenPipeError, ConnectionResetError):
                return owed, True
            n += 1
            owed += reply
        # Owed enough: one more try, after the daemon caught up.
        time.sleep(0.3)
        try:
            client.sendall(_ctl_request(f"{tag}-last"))
            time.sleep(0.3)
            client.sendall(_ctl_request(f"{tag}-last2"))
        except (BrokenPipeError, ConnectionResetError):
            return owed, True
        return owed, False
    finally:
        client.close()


def x43_slow_control_client_dropped(sc: Scenario) -> str:
    """A control client that sends requests and never reads the replies
    is dropped once about 4 MiB wait for it, with a log line, and the
    daemon answers others at once; twelve clients that each stay under
    that are cut back when together they pass 32 MiB."""
    from ctl_scenarios import _Daemon

    daemon = _Daemon(sc, "x43-daemon", "127.0.0.2")
    try:
        daemon.wait_up()
        pid = daemon.proc.pid
        base = _rss(pid)
        reply = _reply_len(daemon.sock, 4000)
        owed, dropped = _flood_control(daemon.sock, "slow", 24 * MIB, 4000, reply)
        if not dropped:
            raise ScenarioError(f"a client owed {owed / MIB:.1f} MiB of replies it never read and is still connected")
        if owed > 8 * MIB:
            raise ScenarioError(f"the client was dropped only after {owed / MIB:.1f} MiB of unread replies")
        t0 = time.monotonic()
        res = daemon.ctl("status")
        answered = time.monotonic() - t0
        if res.returncode != 0 or answered > 2.0:
            raise ScenarioError(f"status after the drop: exit {res.returncode} in {answered:.1f}s: {res.stderr}")
        log = (sc.log_dir / "x43-daemon.log").read_text(errors="replace")
        if "is not reading" not in log:
            raise ScenarioError("no log line says the client was dropped for not reading")
        after_one = _rss(pid)
        # Many clients, each under its own limit, together over theirs.
        with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
            outcomes = list(pool.map(lambda i: _flood_control(daemon.sock, f"many{i:02d}", 3 * MIB, 4000, reply),
                                     range(12)))
        cut = sum(1 for _owed, was_dropped in outcomes if was_dropped)
        kept = sum(o for o, was_dropped in outcomes if not was_dropped)
        if cut == 0:
            raise ScenarioError(f"12 clients owed {sum(o for o, _ in outcomes) / MIB:.1f} MiB together, none was dropped")
        crowd = _rss(pid)
        res = daemon.ctl("status")
        if res.returncode != 0:
            raise ScenarioError(f"status after the crowd: {res.stderr}")
    finally:
        daemon.stop()
    return (f"a client that never reads was dropped owing {owed / MIB:.1f} MiB of replies (limit 4 MiB), "
            f"status answered in {answered * 1000:.0f} ms after; 12 clients owing 3 MiB each: {cut} dropped, "
            f"{kept / MIB:.1f} MiB owed to the rest (in the daemon and the socket buffers); daemon RSS {base / MIB:.1f} MiB at start, "
            f"{after_one / MIB:.1f} after the first drop, {crowd / MIB:.1f} right after the crowd")


def x44_streams_per_host_bounded(sc: Scenario) -> str:
    """One host opens 40 transfer links, asks each for a stream of a
    256 MiB game and reads nothing: the source runs at most 2 extraction
    processes for it (the other requests get PEER_ERROR or their link is
    refused), and another peer's stream install of the game finishes."""
    from ctl_scenarios import GAME, _make_big_sparse_rar

    games = sc.fixture_root / "x44-alpha"
    copy_game(GAME, games)
    _make_big_sparse_rar(games / GAME / f"{GAME}.eti", 256 << 20)
    alpha = sc.peer("x44-alpha", games_dir=games, extra_args=["--unrar", "builtin"])
    assert alpha.ready_addr is not None
    wait_local_game(alpha, GAME, downloaded=True, timeout=60)
    install_pid = _worker_by_exe(alpha, "lanspread-install")
    linked = LinkedFake(alpha.ready_addr, "x44-linked", source="127.0.3.2")
    wires: list[Wire] = []
    started = errors = refused = 0
    most = 0
    try:
        for _ in range(40):
            try:
                wire = Wire(alpha.ready_addr, timeout=3, source="127.0.3.1")
            except OSError:
                refused += 1
                continue
            wires.append(wire)
            try:
                wire.send_frame(T("PEER_XFER_OPEN"), linked.xfer_open())
                type_, _body = wire.recv_frame(timeout=3)
                if type_ != T("PEER_XFER_ACCEPT"):
                    raise ScenarioError(f"open answered with frame type {type_}")
                wire.send_frame(T("PEER_STREAM_REQ"), {"game_id": GAME})
                type_, body = wire.recv_frame(timeout=5)
            except (OSError, ScenarioError):
                refused += 1
                continue
            if type_ == T("PEER_ENTRY"):
                started += 1
            elif type_ == T("PEER_ERROR"):
                errors += 1
                sc.log(f"stream refused: {body}")
            else:
                raise ScenarioError(f"a stream request answered with frame type {type_}")
            most = max(most, len(descendants(install_pid)))
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            most = max(most, len(descendants(install_pid)))
            time.sleep(0.1)
        if most > 2:
            raise ScenarioError(f"one host that reads nothing made alpha run {most} extraction processes "
                                f"({started} streams started, {errors} refused, {refused} links refused)")
        if started == 0:
            raise ScenarioError("no stream started at all (nothing was tested)")
        bravo = sc.peer("x44-bravo", extra_args=["--unrar", "builtin"])
        bravo.connect_to(alpha)
        wait_remote_game(bravo, GAME, peer_count=1, timeout=15)
        waiter = bravo.mark()
        t0 = time.monotonic()
        bravo.send({"cmd": "stream-install", "game_id": GAME})
        bravo.wait_for(event_is("download-finished", GAME), timeout=120,
                       description="bravo's stream", waiter=waiter)
        bravo.wait_for(event_is("install-finished", GAME), timeout=60,
                       description="bravo's streamed install", waiter=waiter)
        took = time.monotonic() - t0
    finally:
        for wire in wires:
            wire.close()
        linked.close()
    bravo.shutdown()
    return (f"40 stream requests from 127.0.3.1 reading nothing: {started} streams started, {errors} answered "
            f"PEER_ERROR, {refused} links refused; at most {most} extraction processes at once; "
            f"bravo's stream install of {GAME} (256 MiB) finished in {took:.1f}s")


# --------------------------------------------------------------------------
# X45, X46: identities that cannot be taken over
# --------------------------------------------------------------------------


def _public_key_of(peer: Peer) -> str:
    """peer's public key, as any host can learn it: from the ack to a hello."""
    assert peer.ready_addr is not None
    wire = Wire(peer.ready_addr)
    try:
        wire.send_frame(T("PEER_HELLO"), hello_body(None, "127.0.0.1:9"))
        type_, ack = wire.recv_frame()
        if type_ != T("PEER_HELLO_ACK") or not isinstance(ack, dict) or ack.get("peer_id") != peer.peer_id:
            raise ScenarioError(f"{peer.name} answered a hello with {type_} {str(ack)[:200]}")
        return str(ack["public_key"])
    finally:
        wire.close()


def _impersonate(sc: Scenario, target: Peer, victim_id: str, victim_key: str | None, poison: list[dict[str, Any]],
                 source: str) -> str:
    """A host at source dials target claiming victim_id: with a key of its
    own (victim_key None), or showing the victim's public key and signing
    its proof with a key of its own. What happened, for the summary; a
    ScenarioError when the link comes up."""
    assert target.ready_addr is not None
    fake = Identity()
    wire = Wire(target.ready_addr, source=source)
    try:
        hello = hello_body(victim_id, "127.0.0.66:7331", ident=fake, name="impostor")
        if victim_key is not None:
            hello["public_key"] = victim_key
        wire.send_frame(T("PEER_HELLO"), hello)
        try:
            type_, ack = wire.recv_frame(timeout=5)
        except ScenarioError as exc:
            return f"no ack ({exc})"
        if type_ != T("PEER_HELLO_ACK") or not isinstance(ack, dict):
            raise ScenarioError(f"the impostor's hello was answered with frame type {type_}")
        # A proof of the challenge, made with the only key it holds.
        wire.send_frame(T("PEER_HELLO_PROOF"), {"proof": fake.prove(b"D", ack["challenge"], ack["peer_id"]),
                                                "ticket": "1" * 32, "games": poison})
        closed, types = wire.wait_closed(5)
        if not closed:
            raise ScenarioError(f"{target.name} kept the impostor's link open after its proof (frames {types})")
        return "acked, then closed at its proof"
    finally:
        wire.close()


def _refusals(peer: Peer) -> list[str]:
    assert peer.log_path is not None
    text = peer.log_path.read_text(errors="replace")
    return [line for line in text.splitlines() if "refused" in line and ("key" in line or "linked" in line)]


def x45_impersonation_refused(sc: Scenario) -> str:
    """A host claims the id of a linked peer, with a key of its own, with
    the peer's public key but a proof it cannot make, and twice over a
    second link while the real one is up: each is refused, and the real
    peer stays linked with its real library, both ways."""
    alpha = sc.peer("x45-alpha")  # no games: it downloads one at the end
    bravo = sc.peer("x45-bravo", games_dir=fixture_dir("fixture-bravo"), readonly_games=True)
    carol = sc.peer("x45-carol", games_dir=fixture_dir("fixture-extra"), readonly_games=True)
    assert bravo.peer_id is not None and carol.peer_id is not None
    bravo_games = {"bfbc2", "cnc4", "cnctw", "ggoo"}
    carol_games = {"cod5", "coh", "css"}
    # alpha dials bravo (an impostor of bravo gets as far as the proof);
    # carol dials alpha (an impostor of carol is refused at its hello).
    alpha.connect_to(bravo)
    carol.connect_to(alpha)
    poll(lambda: len(alpha.list_peers()) == 2 or None, timeout=15, what=lambda: f"alpha lists {alpha.list_peers()}")
    wait_remote_game(alpha, "bfbc2", peer_count=1, timeout=15)
    bravo_key, carol_key = _public_key_of(bravo), _public_key_of(carol)
    poison = [game_advert("cod6", CATALOG_VERSIONS["cod6"], 1234), game_advert("bfbc2", "19990101", 666)]
    outcomes = []
    for victim, key in ((bravo, None), (bravo, bravo_key), (carol, None), (carol, carol_key)):
        assert victim.peer_id is not None
        what = f"{victim.name}'s id with {'its public key' if key else 'a key of its own'}"
        outcomes.append(f"{what}: {_impersonate(sc, alpha, victim.peer_id, key, poison, '127.0.0.66')}")
    time.sleep(0.5)
    peers = {p["peer_id"]: p for p in alpha.list_peers()}
    if set(peers) != {bravo.peer_id, carol.peer_id}:
        raise ScenarioError(f"after the impostors, alpha lists {sorted(peers)}")
    for real, games in ((bravo, bravo_games), (carol, carol_games)):
        row = peers[str(real.peer_id)]
        have = {g["id"] for g in row.get("games", [])}
        if row["addr"] != real.ready_addr or have != games:
            raise ScenarioError(f"alpha sees {real.name} at {row['addr']} with {sorted(have)}; expected "
                                f"{real.ready_addr} with {sorted(games)}")
    if any(r["id"] == "cod6" for r in alpha.list_games()["remote"]):
        raise ScenarioError("the impostor's poisoned library reached alpha's remote games")
    for real in (bravo, carol):
        if [p["peer_id"] for p in real.list_peers()] != [alpha.peer_id]:
            raise ScenarioError(f"{real.name} lost alpha: {real.list_peers()}")
    refusals = _refusals(alpha)
    if len(refusals) < 4:
        raise ScenarioError(f"alpha logged {len(refusals)} refusals of impostors: {refusals}")
    # The real link still works: a download from bravo (its transfer
    # links shown the ticket of alpha's proven link) finishes.
    waiter = alpha.mark()
    alpha.send({"cmd": "download", "game_id": "cnc4", "install": False})
    alpha.wait_for(event_is("download-finished", "cnc4"), timeout=60, description="alpha's download from bravo", waiter=waiter)
    return "; ".join(outcomes) + f"; alpha still lists bravo and carol with their real libraries, logged {len(refusals)} refusals, and downloaded cnc4 from bravo"


def x46_remembered_id_with_another_key_refused(sc: Scenario) -> str:
    """bravo links to alpha and leaves; alpha remembers its id and key. A
    host then claims bravo's id with a key of its own, and with bravo's
    public key but no proof: both refused and logged, nobody listed. The
    real bravo, restarted on the same state dir, comes back with the same
    id and key and is linked."""
    alpha = sc.peer("x46-alpha", games_dir=fixture_dir("fixture-alpha"), readonly_games=True)
    bravo_dir = fixture_dir("fixture-bravo")
    bravo = sc.peer("x46-bravo", games_dir=bravo_dir, readonly_games=True)
    assert bravo.peer_id is not None
    bravo_id = bravo.peer_id
    bravo_key = _public_key_of(bravo)
    alpha.connect_to(bravo)
    wait_remote_game(alpha, "bfbc2", peer_count=1, timeout=15)
    bravo.shutdown()
    wait_remote_absent(alpha, "bfbc2")
    with sqlite3.connect(f"file:{alpha.host_state_dir / 'peers.db'}?mode=ro", uri=True) as db:
        row = db.execute("SELECT public_key FROM peer_keys WHERE peer_id = ?", (bravo_id,)).fetchone()
    if row is None or row[0] != bravo_key:
        raise ScenarioError(f"alpha does not remember bravo's key: {row} (bravo shows {bravo_key})")
    before = len(_refusals(alpha))
    poison = [game_advert("cod6", CATALOG_VERSIONS["cod6"], 1234)]
    outcomes = [_impersonate(sc, alpha, bravo_id, None, poison, "127.0.0.67"),
                _impersonate(sc, alpha, bravo_id, bravo_key, poison, "127.0.0.67")]
    time.sleep(0.5)
    if alpha.list_peers():
        raise ScenarioError(f"alpha lists {alpha.list_peers()} after the impostors of a remembered id")
    refusals = _refusals(alpha)[before:]
    if len(refusals) < 2:
        raise ScenarioError(f"alpha logged {len(refusals)} refusals: {refusals}")
    bravo = sc.peer("x46-bravo", games_dir=bravo_dir, readonly_games=True)
    if bravo.peer_id != bravo_id or _public_key_of(bravo) != bravo_key:
        raise ScenarioError(f"bravo came back as {bravo.peer_id}, not {bravo_id} with the same key")
    bravo.connect_to(alpha)
    poll(lambda: [p["peer_id"] for p in alpha.list_peers()] == [bravo_id] or None, timeout=15,
         what=lambda: f"alpha lists {alpha.list_peers()}")
    wait_remote_game(alpha, "bfbc2", peer_count=1, timeout=15)
    return (f"impostors of remembered {bravo_id}: " + "; ".join(outcomes) +
            f"; {len(refusals)} refusals logged ({refusals[0].split(': ', 1)[-1][:80]}...); "
            "the real bravo came back with the same id and key and was linked")


HOSTILE_PEER_SCENARIOS = [
    ("X2-raw-tcp-garbage", x2_raw_tcp_garbage),
    ("X4-hostile-chunk-requests-tcp", x4_hostile_chunk_requests_tcp),
    ("X5-stalled-source", x5_stalled_source),
    ("X10-hostile-stream-refused", x10_hostile_stream_refused),
    ("X11-overlong-chunk-source-dropped", x11_overlong_chunk_source_dropped),
    ("X40-hello-flood-leaves-peer-db-small", x40_hello_flood_leaves_peer_db_small),
    ("X41-half-sent-frames-keep-net-worker-small", x41_half_sent_frames_keep_net_worker_small),
    ("X42-idle-transfer-links-from-one-host", x42_idle_transfer_links_from_one_host),
    ("X43-slow-control-client-dropped", x43_slow_control_client_dropped),
    ("X44-streams-per-host-bounded", x44_streams_per_host_bounded),
    ("X45-impersonation-refused", x45_impersonation_refused),
    ("X46-remembered-id-with-another-key-refused", x46_remembered_id_with_another_key_refused),
]
