"""Scenarios of the swarm (issue 11): peers downloading a game tell their
linked peers, which may fetch the pieces they verified, and never count
them as having the game."""

from __future__ import annotations

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
    poll,
    wait_remote_game,
)
from wire import LinkedFake, T, game_advert


class SwarmListener(LinkedFake):
    """A linked fake peer that keeps every PEER_SWARM it is told (and
    answers pings, like LinkedFake)."""

    def __init__(self, addr: str, name: str, source: str | None = None) -> None:
        self.swarms: list[tuple[float, list[dict[str, Any]]]] = []
        self.lock = threading.Lock()
        super().__init__(addr, name, source=source)

    def _answer_pings(self) -> None:
        while not self.stop:
            try:
                type_, body = self.wire.recv_frame(timeout=1.0)
            except ScenarioError as exc:
                if "timed out" in str(exc):
                    continue
                return
            except OSError:
                return
            if type_ == T("PEER_SWARM"):
                games = body.get("games", []) if isinstance(body, dict) else None
                with self.lock:
                    self.swarms.append((time.monotonic(), games))
            elif type_ == T("PEER_PING"):
                try:
                    self.wire.send_frame(T("PEER_PONG"))
                except OSError:
                    return

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
# X91: two linked peers download the same game at once
# --------------------------------------------------------------------------


def x91_two_downloaders_linked(sc: Scenario) -> str:
    """Two peers linked to each other download bf1942 (384 MiB sparse)
    from one rate-capped source at the same time: each is told of the
    other as a partial source (MSG_XFER_SOURCES), and both finish with the
    source's bytes, no download-failed."""
    game, version = "bf1942", CATALOG_VERSIONS["bf1942"]
    games = sc.fixture_root / "x91"
    create_large_sparse_game(games / game, size=3 * CHUNK_SIZE)
    source = sc.peer("x91-source", games_dir=games, extra_args=["--upload-limit", "96MiB"])
    a = sc.peer("x91-a")
    b = sc.peer("x91-b")
    connect_many(a, [source, b])
    connect_many(b, [source])
    for peer in (a, b):
        wait_remote_game(peer, game, peer_count=1, version=version, timeout=60)
    marks = {peer.name: peer.mark() for peer in (a, b)}
    for peer in (a, b):
        peer.send({"cmd": "download", "game_id": game, "install": False})
    ends: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 120
    while len(ends) < 2 and time.monotonic() < deadline:
        for peer in (a, b):
            if peer.name in ends:
                continue
            for item in peer.items(marks[peer.name].seen):
                if item.get("event") in ("download-finished", "download-failed", "download-peers-gone") \
                        and (item.get("data") or {}).get("game_id") == game:
                    ends[peer.name] = item
        time.sleep(0.3)
    if len(ends) < 2:
        raise ScenarioError(f"downloads did not end in 120 s: {ends}")
    bad = {name: item for name, item in ends.items() if item["event"] != "download-finished"}
    if bad:
        raise ScenarioError(f"a download did not finish: {bad}")
    size = (games / game / f"{game}.eti").stat().st_size
    for peer in (a, b):
        got = peer.host_games_dir / game / f"{game}.eti"
        if got.stat().st_size != size or (peer.host_games_dir / game / "version.ini").read_text().strip() != version:
            raise ScenarioError(f"{peer.name}: {game} differs from the source's")
    # The transfer worker's words, only reported: its rewrite may change them.
    joins = sum(1 for peer in (a, b) if peer.log_path is not None
                and "(still downloading it)" in peer.log_path.read_text(errors="replace"))
    return f"both downloads of {game} finished ({size >> 20} MiB each); {joins} of 2 logged the other joining as a partial source"


SWARM_SCENARIOS = [
    ("X90-swarm-told", x90_downloading_peer_tells),
    ("X91-two-downloaders-linked", x91_two_downloaders_linked),
]
