"""Scenarios of the swarm (issue 11): peers downloading a game tell their
linked peers, which may fetch the pieces they verified, and never count
them as having the game."""

from __future__ import annotations

import hashlib
import re
import struct
import threading
import time
from typing import Any

from harness import (
    CATALOG_VERSIONS,
    CHUNK_SIZE,
    Scenario,
    ScenarioError,
    connect_many,
    create_large_sparse_game,
    diff_game_dirs,
    poll,
    wait_remote_game,
)
from wire import PIECE_SIZE, LinkedFake, T, Wire, game_advert, servable_files


class SwarmListener(LinkedFake):
    """A linked fake peer that keeps every PEER_SWARM it is told (and
    answers pings, like LinkedFake)."""

    def __init__(self, addr: str, name: str, source: str | None = None) -> None:
        self.swarms: list[tuple[float, list[dict[str, Any]]]] = []
        self.lock = threading.Lock()
        super().__init__(addr, name, source=source)

    def on_frame(self, type_: int, body: Any) -> None:
        if type_ == T("PEER_SWARM"):
            games = body.get("games", []) if isinstance(body, dict) else None
            with self.lock:
                self.swarms.append((time.monotonic(), games))

    def told(self) -> list[list[dict[str, Any]]]:
        with self.lock:
            return [games for _at, games in self.swarms]


def _names(games: Any, game_id: str, version: str) -> bool:
    return isinstance(games, list) and any(
        isinstance(g, dict) and g.get("id") == game_id and g.get("version") == version
        and g.get("availability") == "Downloading" for g in games)


# --------------------------------------------------------------------------
# X90: a downloading peer tells its linked peers
# --------------------------------------------------------------------------


def x90_downloading_peer_tells(sc: Scenario) -> str:
    """A real peer downloads bf1942 (384 MiB sparse, source capped at
    64 MiB/s): a fake peer linked to it hears PEER_SWARM naming bf1942 at
    the catalog version while it downloads, and an empty list after it
    finished. The fake's own PEER_SWARM naming ggoo (which nobody has)
    keeps its link, and the downloader never counts it as having ggoo: no
    remote row, list-peers shows only its library, download says 'no peers
    have game ggoo'."""
    game, version = "bf1942", CATALOG_VERSIONS["bf1942"]
    games = sc.fixture_root / "x90"
    create_large_sparse_game(games / game, size=3 * CHUNK_SIZE)
    source = sc.peer("x90-source", games_dir=games, extra_args=["--upload-limit", "64MiB"])
    client = sc.peer("x90-client")
    connect_many(client, [source])
    wait_remote_game(client, game, peer_count=1, version=version, timeout=60)
    assert client.ready_addr is not None
    fake = SwarmListener(client.ready_addr, "x90-fake", source="127.0.0.250")
    try:
        # The fake's downloads, then its library: once the library shows,
        # the downloads were taken (one link, in order).
        fake.wire.send_frame(T("PEER_SWARM"), {"games": [
            {"id": "ggoo", "version": CATALOG_VERSIONS["ggoo"], "availability": "Downloading",
             "downloaded": False, "installed": False, "size": 1 << 20}]})
        fake.wire.send_frame(T("PEER_LIBRARY"), {"games": [game_advert("cnc4", CATALOG_VERSIONS["cnc4"], 4096)]})
        wait_remote_game(client, "cnc4", peer_count=1, timeout=20)
        remote = {row["id"]: row for row in client.list_games()["remote"]}
        if "ggoo" in remote:
            raise ScenarioError(f"a peer still downloading ggoo is counted as having it: {remote['ggoo']}")
        if remote.get(game, {}).get("peer_count") != 1:
            raise ScenarioError(f"{game} row changed: {remote.get(game)}")
        peers = {p["peer_id"]: p for p in client.list_peers()}
        mine = peers.get(fake.peer_id)
        if mine is None:
            raise ScenarioError(f"the fake peer is not linked any more (its PEER_SWARM dropped it?): {list(peers)}")
        if sorted(g["id"] for g in mine.get("games", [])) != ["cnc4"]:
            raise ScenarioError(f"list-peers shows the fake with {mine.get('games')}")
        refused = client.send({"cmd": "download", "game_id": "ggoo"}, expect_error=True)
        if refused.get("error") != "no peers have game ggoo":
            raise ScenarioError(f"download ggoo answered {refused}")

        mark = client.mark()
        client.send({"cmd": "download", "game_id": game, "install": False})
        poll(lambda: any(_names(g, game, version) for g in fake.told()), timeout=30,
             what=lambda: f"PEER_SWARM naming {game} while it downloads (told {fake.told()})")
        told_at = time.monotonic()
        if client.status()["active_operations"] == []:
            raise ScenarioError("the download ended before the swarm was told")
        end = client.wait_for(lambda i: i.get("event") in ("download-finished", "download-failed")
                              and (i.get("data") or {}).get("game_id") == game,
                              timeout=120, description=f"{game} download ends", waiter=mark)
        if end.get("event") != "download-finished":
            raise ScenarioError(f"the download did not finish: {end}")
        poll(lambda: (fake.told() or [None])[-1] == [], timeout=10,
             what=lambda: f"an empty PEER_SWARM after the download (told {fake.told()})")
        # The fake is still linked, still not a holder of ggoo.
        if fake.peer_id not in {p["peer_id"] for p in client.list_peers()}:
            raise ScenarioError("the fake peer lost its link")
        if any(row["id"] == "ggoo" for row in client.list_games()["remote"]):
            raise ScenarioError("ggoo showed up as a remote game")
        return (f"fake told {game}@{version} {time.monotonic() - told_at:.1f}s before the end, then an empty list "
                f"({len(fake.told())} lists); its own ggoo download never counted")
    finally:
        fake.close()


# --------------------------------------------------------------------------
# X91: receivers serve each other what they verified, and nothing else
# --------------------------------------------------------------------------


def manifest_root(version: str, files: list[dict[str, Any]], piece_size: int = PIECE_SIZE) -> str:
    """common/manifest.c's root, in hex: every field with its length first."""
    h = hashlib.sha256()

    def field(data: bytes) -> None:
        h.update(struct.pack("<Q", len(data)))
        h.update(data)

    field(b"lanspread-manifest-1")
    field(version.encode())
    field(struct.pack("<Q", piece_size))
    for f in files:
        field(f["path"].encode())
        field(struct.pack("<Q", f["size"]))
        field(f["hashes"])
    return h.hexdigest()


def _served_while_downloading(peer: Any, game: str) -> int:
    text = peer.log_path.read_text(errors="replace") if peer.log_path is not None else ""
    found = re.findall(rf"{game}: served (\d+) bytes of its verified pieces to the swarm while downloading it", text)
    return sum(int(n) for n in found)


def _receivers_serve_each_other(sc: Scenario) -> str:
    """Three receivers linked to each other and to one source (loopback,
    no limit) download a 1 GiB game at once: at least one of them served
    pieces to the others while it was still downloading; all three end
    byte-exact, and no source was dropped for corrupt data."""
    game, version = "bf1942", CATALOG_VERSIONS["bf1942"]
    games = sc.fixture_root / "x91-swarm"
    create_large_sparse_game(games / game, size=8 * CHUNK_SIZE)
    source = sc.peer("x91-source", games_dir=games)
    receivers = [sc.peer(f"x91-r{i}") for i in range(3)]
    for i, peer in enumerate(receivers):
        connect_many(peer, [source] + receivers[i + 1:])
    for peer in receivers:
        wait_remote_game(peer, game, peer_count=1, version=version, timeout=60)
    marks = {peer.name: peer.mark() for peer in receivers}
    for peer in receivers:
        peer.send({"cmd": "download", "game_id": game, "install": False})
    for peer in receivers:
        peer.wait_for(lambda item: item.get("event") in ("download-finished", "download-failed", "download-peers-gone")
                      and (item.get("data") or {}).get("game_id") == game,
                      timeout=180, description=f"{peer.name} download end", waiter=marks[peer.name])
    for peer in receivers:
        ended = [item for item in peer.items(marks[peer.name].seen - 1) if item.get("event", "").startswith("download-")
                 and (item.get("data") or {}).get("game_id") == game]
        if not any(item["event"] == "download-finished" for item in ended):
            raise ScenarioError(f"{peer.name}: the download did not finish: {ended[-3:]}")
        dropped = [item for item in peer.items(0) if item.get("event") == "download-source-dropped"]
        if any("corrupt" in (item.get("data") or {}).get("reason", "") for item in dropped):
            raise ScenarioError(f"{peer.name}: a source sent corrupt data: {dropped}")
        diff_game_dirs(games / game, peer.host_games_dir / game)
    served = {peer.name: _served_while_downloading(peer, game) for peer in receivers}
    if sum(served.values()) == 0:
        raise ScenarioError(f"no receiver served the swarm while downloading: {served}")
    return f"all three byte-exact; served to the swarm while downloading: {served}"


def _unverified_never_served(sc: Scenario) -> str:
    """A receiver downloading from a capped source answers a swarm peer
    with its bitfield; a piece it has not verified is refused, as are
    another root and a path outside the game; a verified one comes with
    the manifest's bytes."""
    game, version = "bf1942", CATALOG_VERSIONS["bf1942"]
    games = sc.fixture_root / "x91-capped"
    create_large_sparse_game(games / game, size=3 * CHUNK_SIZE)
    files = servable_files(games / game)
    root = manifest_root(version, files)
    source = sc.peer("x91-capped-source", games_dir=games, extra_args=["--upload-limit", "24MiB"])
    client = sc.peer("x91-client")
    connect_many(client, [source])
    wait_remote_game(client, game, peer_count=1, version=version, timeout=60)
    client.send({"cmd": "download", "game_id": game, "install": False})
    linked = LinkedFake(client.ready_addr, "x91-fake", source="127.0.0.249")
    wire = Wire(client.ready_addr, source="127.0.0.249")
    try:
        wire.send_frame(T("PEER_XFER_OPEN"), linked.xfer_open())
        type_, _ = wire.recv_frame()
        if type_ != T("PEER_XFER_ACCEPT"):
            raise ScenarioError(f"transfer open answered with frame type {type_}")

        def ask_bits(want_root: str) -> tuple[int, Any]:
            wire.send_frame(T("PEER_SWARM_REQ"), {"game_id": game, "root": want_root})
            return wire.recv_frame()

        # Until the client agreed on the manifest it has nothing to serve.
        bits: bytes | None = None
        deadline = time.monotonic() + 30
        while bits is None and time.monotonic() < deadline:
            type_, body = ask_bits(root)
            if type_ == T("PEER_SWARM_HAVE"):
                bits = body["bits"]
            else:
                time.sleep(0.05)
        if bits is None:
            raise ScenarioError("the downloading client never answered with its bitfield")
        npieces = sum(len(f["hashes"]) // 32 for f in files)
        if len(bits) != (npieces + 7) // 8:
            raise ScenarioError(f"bitfield of {len(bits)} bytes for {npieces} pieces")
        have = {i for i in range(npieces) if bits[i // 8] >> (i % 8) & 1}
        eti = next(f for f in files if f["path"].endswith(".eti"))
        missing = [i for i in range(len(eti["hashes"]) // 32) if i not in have]
        if not missing:
            raise ScenarioError("the client had every piece already: the source cap did not hold")
        refusals = []
        asks = [("an unverified piece", {"game_id": game, "path": eti["path"], "offset": missing[-1] * PIECE_SIZE, "length": PIECE_SIZE}, "not verified"),
                ("a path outside the game", {"game_id": game, "path": "../" + game + "/" + eti["path"], "offset": 0, "length": PIECE_SIZE}, "not a file"),
                ("a span off a piece", {"game_id": game, "path": eti["path"], "offset": 7, "length": PIECE_SIZE}, "piece")]
        for what, request, words in asks:
            wire.send_frame(T("PEER_PIECE_REQ"), request)
            type_, body = wire.recv_frame()
            while type_ == T("PEER_HAVE"):
                type_, body = wire.recv_frame()
            if type_ != T("PEER_ERROR") or words not in body.get("error", ""):
                raise ScenarioError(f"{what}: answered with frame type {type_} {str(body)[:200]}")
            refusals.append(f"{what}: {body['error']}")
        # Wait for a piece of the .eti to be verified (PEER_HAVE), then fetch it.
        eti_base = sum(len(f["hashes"]) // 32 for f in files if f["path"] < eti["path"])
        got_piece = None
        deadline = time.monotonic() + 60
        while got_piece is None and time.monotonic() < deadline:
            type_, body = wire.recv_frame(timeout=30)
            if type_ != T("PEER_HAVE"):
                raise ScenarioError(f"expected PEER_HAVE between answers, got {type_}")
            data = body["pieces"]
            for k in range(0, len(data), 4):
                idx = struct.unpack("<I", data[k:k + 4])[0] - eti_base
                if idx in missing:
                    got_piece = idx
        if got_piece is None:
            raise ScenarioError("no PEER_HAVE named a piece that was missing")
        request = {"game_id": game, "path": eti["path"], "offset": got_piece * PIECE_SIZE,
                   "length": min(PIECE_SIZE, eti["size"] - got_piece * PIECE_SIZE)}
        wire.send_frame(T("PEER_PIECE_REQ"), request)
        type_, body = wire.recv_frame()
        while type_ == T("PEER_HAVE"):
            type_, body = wire.recv_frame()
        if type_ != T("PEER_PIECE") or body != request:
            raise ScenarioError(f"a verified piece was answered with type {type_} {body}")
        data = wire.recv_exact(request["length"], 30)
        if hashlib.sha256(data).digest() != eti["hashes"][got_piece * 32:(got_piece + 1) * 32]:
            raise ScenarioError("the served piece does not match the manifest")
        other = ("0" if root[0] != "0" else "1") + root[1:]
        wire2 = Wire(client.ready_addr, source="127.0.0.249")
        try:
            wire2.send_frame(T("PEER_XFER_OPEN"), linked.xfer_open())
            wire2.recv_frame()
            wire2.send_frame(T("PEER_SWARM_REQ"), {"game_id": game, "root": other})
            type_, body = wire2.recv_frame()
            if type_ != T("PEER_ERROR") or "another manifest" not in body.get("error", ""):
                raise ScenarioError(f"another root was answered with type {type_} {str(body)[:200]}")
            refusals.append(f"another root: {body['error']}")
        finally:
            wire2.close()
    finally:
        wire.close()
        linked.close()
    return f"piece {got_piece} served once verified; refused: " + "; ".join(refusals)


def x91_swarm_serving(sc: Scenario) -> str:
    first = _receivers_serve_each_other(sc)
    second = _unverified_never_served(sc)
    return f"{first}. {second}"


# --------------------------------------------------------------------------
# X92: a source that appears during a download is used at once
# --------------------------------------------------------------------------


def x92_source_joins_running_download(sc: Scenario) -> str:
    """A download from one capped source (32 MiB/s, 384 MiB: 12 s alone);
    two seconds in, a second peer with the game links to the receiver: it
    joins the running download at once (no restart), serves part of it,
    and the download ends byte-exact well before the first source alone
    could have finished it."""
    game, version = "bf1942", CATALOG_VERSIONS["bf1942"]
    games = sc.fixture_root / "x92"
    create_large_sparse_game(games / game, size=3 * CHUNK_SIZE)
    slow = sc.peer("x92-slow", games_dir=games, extra_args=["--upload-limit", "32MiB"])
    late = sc.peer("x92-late", games_dir=games)
    client = sc.peer("x92-client")
    connect_many(client, [slow])
    wait_remote_game(client, game, peer_count=1, version=version, timeout=60)
    mark = client.mark()
    started = time.monotonic()
    client.send({"cmd": "download", "game_id": game, "install": False})
    time.sleep(2.0)
    connect_many(client, [late])
    client.wait_for(lambda item: item.get("event") in ("download-finished", "download-failed", "download-peers-gone")
                    and (item.get("data") or {}).get("game_id") == game,
                    timeout=60, description="download end", waiter=mark)
    took = time.monotonic() - started
    ended = [item for item in client.items(0) if (item.get("data") or {}).get("game_id") == game
             and item.get("event") in ("download-finished", "download-failed", "download-peers-gone")]
    if ended[-1]["event"] != "download-finished":
        raise ScenarioError(f"the download did not finish: {ended[-1]}")
    diff_game_dirs(games / game, client.host_games_dir / game)
    log = client.log_path.read_text(errors="replace") if client.log_path is not None else ""
    if f"source {late.ready_addr} joins the download of {game}" not in log:
        raise ScenarioError("the late source never joined the running download")
    late_id = late.status().get("peer_id")
    got = poll(lambda: next((p.get("bytes_received", 0) for p in client.list_peers()
                             if p.get("peer_id") == late_id and p.get("bytes_received", 0) > 0), None),
               timeout=5, what="bytes received from the late source")
    if took >= 11.0:
        raise ScenarioError(f"the download took {took:.1f} s: the late source did not speed it up")
    return f"the late source joined and sent {got >> 20} MiB; byte-exact in {took:.1f} s (12 s from the capped one alone)"


SWARM_SCENARIOS = [
    ("X90-swarm-told", x90_downloading_peer_tells),
    ("X91-swarm-serving", x91_swarm_serving),
    ("X92-source-joins", x92_source_joins_running_download),
]
