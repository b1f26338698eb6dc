"""Many peers at once: a 30-peer full mesh where every library reaches
every peer (X3)."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

from harness import Peer, Scenario, ScenarioError, copy_game, poll, stage_game_drop


def send_many(peer: Any, payloads: list[dict[str, Any]], timeout: float = 30.0) -> list[dict[str, Any]]:
    """Writes every request at once, then waits for every reply."""
    ids = []
    for payload in payloads:
        rid = peer.next_request_id()
        ids.append(rid)
        line = dict(payload)
        line["id"] = rid
        peer.write_raw((json.dumps(line, separators=(",", ":")) + "\n").encode())
    replies = []
    for rid, payload in zip(ids, payloads):
        reply = peer.wait_for(
            lambda item, rid=rid: item.get("id") == rid and item.get("type") in ("result", "error"),
            timeout=timeout,
            description=f"reply to {payload.get('cmd')} {rid}",
        )
        if reply["type"] == "error":
            raise ScenarioError(f"{peer.name} {payload} failed: {reply.get('error')}")
        replies.append(reply)
    return replies

MESH_GAMES = ["bf1942", "bfbc2", "cnc4", "cnctw", "cod5", "coh", "css", "ggoo"]
MESH_SIZE = 30


def x3_mesh_30(sc: Scenario) -> str:
    """30 peers in a full mesh: every library reaches every peer."""
    started = time.monotonic()
    holdings: list[list[str]] = []
    for i in range(MESH_SIZE):
        games = [MESH_GAMES[i % len(MESH_GAMES)]]
        extra = MESH_GAMES[(i * 5 + 3) % len(MESH_GAMES)]
        if i % 3 == 0 and extra not in games:
            games.append(extra)
        holdings.append(games)
    for i, games in enumerate(holdings):
        for game_id in games:
            copy_game(game_id, sc.fixture_root / f"x3-{i:02d}")
    peers = [
        sc.peer(f"x3-{i:02d}", games_dir=sc.fixture_root / f"x3-{i:02d}")
        for i in range(MESH_SIZE)
    ]
    started_all = time.monotonic() - started
    # Each peer i dials every j < i; a connect makes both sides know it.
    t0 = time.monotonic()
    dials = []
    for i, peer in enumerate(peers):
        payloads = [{"cmd": "connect", "addr": peers[j].ready_addr} for j in range(i)]
        if payloads:
            dials.append((peer, payloads))
    threads = []
    errors: list[str] = []

    def dial(peer: Any, payloads: list[dict[str, Any]]) -> None:
        try:
            send_many(peer, payloads, timeout=30)
        except ScenarioError as exc:
            errors.append(str(exc).splitlines()[0])

    for peer, payloads in dials:
        thread = threading.Thread(target=dial, args=(peer, payloads), daemon=True)
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join(60)
    if errors:
        raise ScenarioError(f"connects failed: {errors[:5]}")
    connected = time.monotonic() - t0

    holders: dict[str, set[int]] = {}
    for i, games in enumerate(holdings):
        for game_id in games:
            holders.setdefault(game_id, set()).add(i)
    expected = []
    for i in range(MESH_SIZE):
        want = {g: len(h - {i}) for g, h in holders.items() if h - {i}}
        expected.append(want)
    t1 = time.monotonic()
    deadline = t1 + 10.0
    pending = set(range(MESH_SIZE))
    last: dict[int, Any] = {}
    while pending:
        for i in sorted(pending):
            rows = peers[i].list_games()["remote"]
            seen = {row["id"]: row.get("peer_count") for row in rows}
            last[i] = seen
            if seen == expected[i]:
                pending.discard(i)
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    if pending:
        i = min(pending)
        raise ScenarioError(
            f"{len(pending)} peer(s) lack the mesh's games 10 s after the connects, e.g. "
            f"{peers[i].name}: saw {last[i]}, expected {expected[i]}"
        )
    converged = time.monotonic() - t1
    # Stable, and every peer knows the 29 others.
    for i, peer in enumerate(peers):
        seen = {row["id"]: row.get("peer_count") for row in peer.list_games()["remote"]}
        if seen != expected[i]:
            raise ScenarioError(f"{peer.name} changed its view: {seen} != {expected[i]}")
        known = {p["peer_id"] for p in peer.list_peers()}
        others = {p.peer_id for p in peers if p is not peer}
        if known != others:
            raise ScenarioError(
                f"{peer.name} knows {len(known)} peers, expected the {len(others)} others "
                f"(missing {len(others - known)}, extra {len(known - others)})"
            )
    counts = {g: len(h) for g, h in sorted(holders.items())}
    # A game dropped into one peer's folder reaches the 29 others.
    added = next(g for g in MESH_GAMES if g not in holdings[0])
    stage_game_drop(peers[0].host_games_dir, added)
    holders[added].add(0)
    t2 = time.monotonic()
    deadline = t2 + 10.0
    pending = set(range(1, MESH_SIZE))
    while pending:
        for i in sorted(pending):
            rows = peers[i].list_games()["remote"]
            if any(row["id"] == added and row.get("peer_count") == len(holders[added] - {i}) for row in rows):
                pending.discard(i)
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    if pending:
        raise ScenarioError(
            f"{len(pending)} peer(s) did not see {added} dropped into {peers[0].name} within 10 s"
        )
    spread = time.monotonic() - t2
    return (
        f"{MESH_SIZE} peers started in {started_all:.1f}s, {MESH_SIZE * (MESH_SIZE - 1) // 2} "
        f"connects in {connected:.1f}s, every remote view exact within {converged:.1f}s "
        f"(holders {counts}); each peer lists the {MESH_SIZE - 1} others; {added} dropped into "
        f"{peers[0].name} reached all {MESH_SIZE - 1} within {spread:.1f}s"
    )


def _fixed_peer(sc: Scenario, name: str, ip: str, port: int, extra: list[str]) -> Peer:
    """A peer on a fixed address, as lanspreadd's 7331 is: its peers can
    find it again at the same place after a restart."""
    peer = Peer(sc, name, len(sc.peers), games_dir=None, readonly_games=False, tmpfs_size=None,
                fixtures=[], extra_args=["--listen", f"{ip}:{port}", *extra], listen_ip=ip)
    sc.peers.append(peer)
    peer.start()
    return peer


def x67_peers_found_again(sc: Scenario) -> str:
    """Four peers with --redial link up, all stop, all start again: within
    10 s each lists the three others with no connect. A fifth, new peer
    given one of them with --peer (a static peer) is linked to it with no
    connect either."""
    port = 20000 + os.getpid() % 20000
    ips = [f"127.0.0.{150 + i}" for i in range(4)]
    names = [f"x67-{i}" for i in range(4)]
    peers = [_fixed_peer(sc, names[i], ips[i], port, ["--redial"]) for i in range(4)]
    for i, peer in enumerate(peers):
        for other in peers[:i]:
            peer.send({"cmd": "connect", "addr": other.ready_addr})
    poll(lambda: all(len(p.list_peers()) == 3 for p in peers), timeout=10, what="the first mesh")
    for peer in peers:
        peer.shutdown()
    began = time.monotonic()
    peers = [_fixed_peer(sc, names[i], ips[i], port, ["--redial"]) for i in range(4)]
    poll(lambda: all(len(p.list_peers()) == 3 for p in peers), timeout=10,
         what=lambda: f"after the restart, peers listed: {[len(p.list_peers()) for p in peers]}")
    again = time.monotonic() - began
    static = _fixed_peer(sc, "x67-static", "127.0.0.160", port, ["--peer", f"{ips[0]}:{port}"])
    poll(lambda: any(p["addr"] == f"{ips[0]}:{port}" for p in static.list_peers()), timeout=10,
         what="the static peer never linked")
    return f"4 peers restarted: all linked again {again:.1f} s after the first restart, no connect; a --peer linked"


def x78_peer_exchange(sc: Scenario) -> str:
    """Eight peers with --peer-exchange and --redial on fixed addresses,
    each told only the first one's address: within 10 s every peer lists
    the other seven. All eight restart: linked again within 10 s, with no
    connect. Peers without --peer-exchange link only to what they are
    told, as the seed's do."""
    port = 21000 + os.getpid() % 20000
    ips = [f"127.0.0.{170 + i}" for i in range(8)]
    names = [f"x78-{i}" for i in range(8)]
    flags = ["--peer-exchange", "--redial"]
    peers = [_fixed_peer(sc, names[i], ips[i], port, flags) for i in range(8)]
    began = time.monotonic()
    for peer in peers[1:]:
        peer.send({"cmd": "connect", "addr": peers[0].ready_addr})
    poll(lambda: all(len(p.list_peers()) == 7 for p in peers), timeout=10,
         what=lambda: f"peers listed: {[len(p.list_peers()) for p in peers]}")
    meshed = time.monotonic() - began
    for peer in peers:
        peer.shutdown()
    began = time.monotonic()
    peers = [_fixed_peer(sc, names[i], ips[i], port, flags) for i in range(8)]
    poll(lambda: all(len(p.list_peers()) == 7 for p in peers), timeout=10,
         what=lambda: f"after the restart, peers listed: {[len(p.list_peers()) for p in peers]}")
    again = time.monotonic() - began
    plain = [_fixed_peer(sc, f"x78-plain{i}", f"127.0.0.{180 + i}", port, []) for i in range(3)]
    for peer in plain[1:]:
        peer.send({"cmd": "connect", "addr": plain[0].ready_addr})
    time.sleep(2)
    listed = [p["addr"] for p in plain[1].list_peers()]
    if listed != [plain[0].ready_addr]:
        raise ScenarioError(f"without --peer-exchange a peer told one linked to {listed}")
    return (f"8 peers told only the first: all linked {meshed:.1f} s after the connects; "
            f"restarted: all linked again in {again:.1f} s with no connect; without exchange: the first only")


MESH_SCENARIOS = [
    ("X3-mesh-30", x3_mesh_30),
    ("X67-peers-found-again", x67_peers_found_again),
    ("X78-peer-exchange", x78_peer_exchange),
]
