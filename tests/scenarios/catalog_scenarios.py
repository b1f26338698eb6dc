"""One catalog for the whole party (issue 13, item 1): a game added to the
catalog becomes downloadable with no restart, on SIGHUP (X70) or on the
reload command (X71); the organizer publishes a signed catalog that every
trusting peer takes within 10 s (X72); a catalog signed by another key is
refused by all, who keep theirs (X73); a peer that trusts no key ignores a
published one (X74); a forged catalog with the trusted key but a bad
signature, sent by a Python peer, is refused and logged (X75); `games`
marks local games the catalog lacks or lists at another version (X76)."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

from control_scenarios import _PartyDaemon, _stop_all
from harness import CFG, Peer, Scenario, ScenarioError, copy_game, poll

NEW_GAME = "q3"
NEW_VERSION = "20240101"


def _catalog_copy(sc: Scenario, name: str) -> Path:
    """A private copy of the fixture catalog, to edit."""
    path = sc.dir / f"{name}-game.db"
    shutil.copyfile(CFG.catalog_db, path)
    return path


def _catalog_add(db: Path, game_id: str, version: str, name: str = "Quake III Arena") -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO games (id, name, version) VALUES (?, ?, ?)", (game_id, name, version))
    conn.close()


def _catalog_remove(db: Path, game_id: str) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM games WHERE id = ?", (game_id,))
    conn.close()


def _make_game(games_dir: Path, game_id: str, version: str, size: int = 3 * 1024 * 1024) -> bytes:
    """A small game folder (one archive, version.ini last); its archive bytes."""
    root = games_dir / game_id
    root.mkdir(parents=True, exist_ok=True)
    payload = os.urandom(size)
    (root / f"{game_id}.eti").write_bytes(payload)
    (root / "version.ini").write_text(version, encoding="utf-8")
    return payload


def _remote_ids(peer: Peer) -> set[str]:
    return {g["id"] for g in peer.list_games()["remote"]}


def _download(peer: Peer, game_id: str, timeout: float = 60) -> None:
    """download (no install) and wait for its terminal event."""
    mark = peer.mark()
    peer.send({"cmd": "download", "game_id": game_id, "install": False})
    done = peer.wait_for(lambda item: item.get("type") == "event"
                         and item.get("event") in ("download-finished", "download-failed", "download-peers-gone")
                         and (item.get("data") or {}).get("game_id") == game_id,
                         timeout=timeout, description=f"end of the download of {game_id}", waiter=mark)
    if done["event"] != "download-finished":
        raise ScenarioError(f"{peer.name}: download of {game_id} ended with {done}")


def _log(peer: Peer) -> str:
    return peer.log_path.read_text(encoding="utf-8", errors="replace") if peer.log_path else ""


# --------------------------------------------------------------------------
# X70: SIGHUP reloads the catalog
# --------------------------------------------------------------------------


def x70_sighup_reloads_catalog(sc: Scenario) -> str:
    """A game that is in alpha's folder but in nobody's catalog cannot be
    downloaded; once the row is added to both catalogs and both peers get
    SIGHUP, bravo downloads it byte-exact, with no restart. After alpha
    drops the row and gets SIGHUP again, it serves the game no more."""
    cat_a = _catalog_copy(sc, "alpha")
    cat_b = _catalog_copy(sc, "bravo")
    cat_c = _catalog_copy(sc, "charlie")
    games_a = sc.games_root / "alpha"
    payload = _make_game(games_a, NEW_GAME, NEW_VERSION)
    alpha = sc.peer("alpha", games_dir=games_a, extra_args=["--catalog-db", str(cat_a)])
    bravo = sc.peer("bravo", extra_args=["--catalog-db", str(cat_b)])
    bravo.connect_to(alpha)
    poll(lambda: any(p["peer_id"] == alpha.peer_id and any(g["id"] == NEW_GAME for g in p["games"])
                     for p in bravo.list_peers()),
         timeout=10, what="bravo never saw alpha's q3 advertised")
    refused = bravo.send({"cmd": "download", "game_id": NEW_GAME}, expect_error=True)
    if "not in the local catalog" not in refused["error"]:
        raise ScenarioError(f"before the reload: expected 'not in the local catalog', got {refused}")
    _catalog_add(cat_a, NEW_GAME, NEW_VERSION)
    _catalog_add(cat_b, NEW_GAME, NEW_VERSION)
    started = time.monotonic()
    for peer in (alpha, bravo):
        os.kill(peer.process.pid, signal.SIGHUP)
    poll(lambda: NEW_GAME in _remote_ids(bravo), timeout=10,
         what="q3 never appeared on bravo's LAN list after SIGHUP")
    _download(bravo, NEW_GAME)
    took = time.monotonic() - started
    got = (bravo.host_games_dir / NEW_GAME / f"{NEW_GAME}.eti").read_bytes()
    if got != payload:
        raise ScenarioError("bravo's q3 differs from alpha's")
    for peer in (alpha, bravo):
        if f"catalog: {NEW_GAME} {NEW_VERSION} added" not in _log(peer):
            raise ScenarioError(f"{peer.name} did not log the added game")
    # Dropped from alpha's catalog: alpha still lists it but serves it no more.
    _catalog_remove(cat_a, NEW_GAME)
    os.kill(alpha.process.pid, signal.SIGHUP)
    poll(lambda: f"catalog: {NEW_GAME} removed" in _log(alpha), timeout=10,
         what="alpha did not log the removed game")
    _catalog_add(cat_c, NEW_GAME, NEW_VERSION)
    charlie = sc.peer("charlie", extra_args=["--catalog-db", str(cat_c)])
    charlie.connect_to(alpha)
    poll(lambda: NEW_GAME in _remote_ids(charlie), timeout=10, what="charlie never saw q3 on the LAN")
    mark = charlie.mark()
    charlie.send({"cmd": "download", "game_id": NEW_GAME, "install": False})
    end = charlie.wait_for(lambda item: item.get("type") == "event"
                           and item.get("event") in ("download-finished", "download-failed", "download-peers-gone"),
                           timeout=60, description="end of charlie's download", waiter=mark)
    if end["event"] == "download-finished":
        raise ScenarioError("alpha served q3 after it left its catalog")
    if (charlie.host_games_dir / NEW_GAME / "version.ini").exists():
        raise ScenarioError("charlie committed q3")
    return (f"SIGHUP: q3 added to both catalogs, downloaded byte-exact {took:.1f} s later with no restart; "
            f"dropped from alpha's, alpha refused to serve it ({end['event']})")


# --------------------------------------------------------------------------
# X71: the reload command (lanspreadctl reload) does the same
# --------------------------------------------------------------------------


def x71_reload_command(sc: Scenario) -> str:
    """Two lanspreadd: a game added to both catalogs and `lanspreadctl
    reload` on each: the reply counts one game added, the game is on the
    LAN list and downloads with no restart; a game dropped from a catalog
    leaves that daemon's LAN list and its download is refused."""
    cat_a = _catalog_copy(sc, "alpha")
    cat_b = _catalog_copy(sc, "bravo")
    daemons: list[_PartyDaemon] = []
    try:
        games_a = sc.dir / "alpha-games"
        payload = _make_game(games_a, NEW_GAME, NEW_VERSION)
        copy_game("bf1942", games_a)
        alpha = _PartyDaemon(sc, "alpha", listen="127.0.0.71:0", extra=f"catalog = {cat_a}\n", games_dir=games_a)
        daemons.append(alpha)
        bravo = _PartyDaemon(sc, "bravo", listen="127.0.0.72:0", extra=f"catalog = {cat_b}\n")
        daemons.append(bravo)
        alpha.wait_up()
        bravo.wait_up()
        addr = alpha.json("status")["data"]["addr"]
        res = bravo.ctl("connect", addr)
        if res.returncode != 0:
            raise ScenarioError(f"connect: {res.stderr}")
        poll(lambda: "bf1942" in {g["id"] for g in bravo.json("games")["data"]["remote"]},
             timeout=15, what="bravo never saw bf1942")
        res = bravo.ctl("download", NEW_GAME, "--no-install")
        if res.returncode != 1 or "not in the local catalog" not in res.stderr:
            raise ScenarioError(f"before the reload: {res.returncode} {res.stderr}")
        _catalog_add(cat_a, NEW_GAME, NEW_VERSION)
        _catalog_add(cat_b, NEW_GAME, NEW_VERSION)
        _catalog_remove(cat_b, "bf1942")
        for daemon, want in ((alpha, (1, 0)), (bravo, (1, 1))):
            data = daemon.json("reload")["data"]
            if (data["added"], data["removed"]) != want or data["catalog"] != str(cat_a if daemon is alpha else cat_b):
                raise ScenarioError(f"{daemon.name}: reload replied {data}, expected added/removed {want}")
        human = bravo.ctl("reload")
        if human.returncode != 0 or "0 added" not in human.stdout:
            raise ScenarioError(f"a second reload: {human.stdout}{human.stderr}")
        remote = {g["id"] for g in bravo.json("games")["data"]["remote"]}
        if NEW_GAME not in remote or "bf1942" in remote:
            raise ScenarioError(f"bravo's LAN list after the reload: {sorted(remote)}")
        res = bravo.ctl("download", NEW_GAME, "--no-install", timeout=120)
        if res.returncode != 0:
            raise ScenarioError(f"download after the reload: {res.stdout}{res.stderr}")
        if (bravo.games / NEW_GAME / f"{NEW_GAME}.eti").read_bytes() != payload:
            raise ScenarioError("bravo's q3 differs from alpha's")
        res = bravo.ctl("download", "bf1942", "--no-install")
        if res.returncode != 1 or "not in the local catalog" not in res.stderr:
            raise ScenarioError(f"bf1942 after it left bravo's catalog: {res.returncode} {res.stderr}")
        if "catalog: bf1942 removed" not in bravo.log_text():
            raise ScenarioError("bravo did not log the removed game")
    finally:
        _stop_all(daemons)
    return "lanspreadctl reload: q3 added (reply added=1), downloaded byte-exact with no restart; bf1942 dropped: off the LAN list, download refused"


# --------------------------------------------------------------------------
# X72-X75: signed catalogs
# --------------------------------------------------------------------------

SPREAD_WITHIN = 10.0


def _serial(peer: Peer) -> int:
    return int(peer.status()["catalog"]["serial"])


def _catalog_key(peer: Peer) -> str:
    key = peer.send({"cmd": "catalog-key"})["data"]["key"]
    if not isinstance(key, str) or len(key) != 64:
        raise ScenarioError(f"{peer.name}: catalog-key replied {key!r}")
    return key


def _organizer(sc: Scenario, name: str = "alpha", game: str = NEW_GAME) -> tuple[Peer, Path, bytes, str]:
    """A peer with its own catalog and a game in no catalog yet; its key."""
    cat = _catalog_copy(sc, name)
    games = sc.games_root / name
    payload = _make_game(games, game, NEW_VERSION)
    org = sc.peer(name, games_dir=games, extra_args=["--catalog-db", str(cat)])
    return org, cat, payload, _catalog_key(org)


def _trusting(sc: Scenario, name: str, key: str) -> Peer:
    return sc.peer(name, extra_args=["--catalog-trust", key])


def _publish(org: Peer) -> int:
    data = org.send({"cmd": "catalog-publish"})["data"]
    if not isinstance(data.get("serial"), int) or data["serial"] <= 0:
        raise ScenarioError(f"{org.name}: catalog-publish replied {data}")
    return data["serial"]


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def x72_published_catalog_spreads(sc: Scenario) -> str:
    """The organizer adds q3 to its catalog (6 MiB with an extra table) and
    publishes it: three peers that trust its key (one linked only to
    another of them) hold the new catalog within 10 s, with no restart,
    and all download q3 byte-exact;
    the key and the signed copy are 0600 files of the state dirs, and a
    restarted peer keeps the signed catalog."""
    alpha, cat_a, payload, key = _organizer(sc)
    bravo = _trusting(sc, "bravo", key)
    charlie = _trusting(sc, "charlie", key)
    delta = _trusting(sc, "delta", key)
    bravo.connect_to(alpha)
    charlie.connect_to(alpha)
    delta.connect_to(bravo)
    for peer in (bravo, charlie, delta):
        if _serial(peer) != 0:
            raise ScenarioError(f"{peer.name} holds a signed catalog before any was published")
    refused = bravo.send({"cmd": "download", "game_id": NEW_GAME}, expect_error=True)
    if "not in the local catalog" not in refused["error"]:
        raise ScenarioError(f"before the publication: {refused}")
    _catalog_add(cat_a, NEW_GAME, NEW_VERSION)
    # A big catalog (other tables are ignored): 6 MiB in one frame each hop.
    with sqlite3.connect(cat_a) as conn:
        conn.execute("CREATE TABLE notes (body BLOB)")
        conn.execute("INSERT INTO notes VALUES (randomblob(6 * 1024 * 1024))")
    conn.close()
    started = time.monotonic()
    serial = _publish(alpha)
    took = {}
    for peer in (bravo, charlie, delta):
        poll(lambda p=peer: _serial(p) == serial, timeout=max(0.1, SPREAD_WITHIN - (time.monotonic() - started)),
             what=f"{peer.name} did not take the catalog serial {serial} within {SPREAD_WITHIN:g} s of its publication")
        took[peer.name] = time.monotonic() - started
    for peer in (bravo, charlie):
        if NEW_GAME not in _remote_ids(peer):
            raise ScenarioError(f"{peer.name} holds the new catalog but does not offer q3: {peer.list_games()['remote']}")
    last = max(took.values())
    for peer in (bravo, charlie):
        _download(peer, NEW_GAME)
    poll(lambda: NEW_GAME in _remote_ids(delta), timeout=15, what="delta never saw q3 on bravo")
    _download(delta, NEW_GAME)
    for peer in (bravo, charlie, delta):
        if (peer.host_games_dir / NEW_GAME / f"{NEW_GAME}.eti").read_bytes() != payload:
            raise ScenarioError(f"{peer.name}'s q3 differs from alpha's")
    key_file = alpha.host_state_dir / "catalog.key"
    if not key_file.is_file() or _mode(key_file) != 0o600:
        raise ScenarioError(f"alpha's catalog key: {key_file} missing or not 0600")
    for peer in (alpha, bravo, charlie, delta):
        signed = peer.host_state_dir / "catalog.signed"
        if not signed.is_file() or _mode(signed) != 0o600:
            raise ScenarioError(f"{peer.name}: {signed} missing or not 0600")
    if "took the signed catalog serial" not in _log(delta):
        raise ScenarioError("delta did not log the catalog it took")
    # A restart keeps the signed catalog: q3 stays in the catalog.
    charlie.shutdown()
    charlie2 = _trusting(sc, "charlie", key)
    status = charlie2.status()["catalog"]
    if status["serial"] != serial or not status["source"].startswith("signed"):
        raise ScenarioError(f"charlie after a restart: {status}")
    return (f"published serial {serial}: bravo/charlie/delta took it in "
            + ", ".join(f"{k} {v:.1f}s" for k, v in took.items())
            + f" (max {last:.1f}s, delta via bravo); all downloaded q3 byte-exact; 0600 files; kept across a restart")


def x73_catalog_of_another_key_refused(sc: Scenario) -> str:
    """Once they hold alpha's catalog, three peers that trust alpha's key
    are linked to mallory, who publishes its own catalog (another key, a
    newer serial, a game of its own): all three refuse it and log so, and
    keep alpha's (its serial, q3 in it, mallory's game not)."""
    alpha, cat_a, _payload, key = _organizer(sc)
    _catalog_add(cat_a, NEW_GAME, NEW_VERSION)
    peers = [_trusting(sc, name, key) for name in ("bravo", "charlie", "delta")]
    for peer in peers:
        peer.connect_to(alpha)
    serial = _publish(alpha)
    for peer in peers:
        poll(lambda p=peer: _serial(p) == serial, timeout=SPREAD_WITHIN,
             what=f"{peer.name} did not take alpha's catalog")
    mallory, cat_m, _mp, mkey = _organizer(sc, "mallory", game="evil")
    if mkey == key:
        raise ScenarioError("two state dirs made the same catalog key")
    _catalog_add(cat_m, "evil", NEW_VERSION, name="Evil")
    time.sleep(1.1)  # a serial from the clock: mallory's is the newer
    mserial = _publish(mallory)
    if mserial <= serial:
        raise ScenarioError(f"mallory's serial {mserial} is not newer than {serial}")
    for peer in peers:
        mallory.send({"cmd": "connect", "addr": peer.ready_addr})
    for peer in peers:
        poll(lambda p=peer: "which catalog_trust does not name: refused" in _log(p), timeout=SPREAD_WITHIN,
             what=f"{peer.name} did not log mallory's catalog as refused")
    time.sleep(1.0)
    for peer in peers:
        status = peer.status()["catalog"]
        if status["serial"] != serial or status["key"] != key:
            raise ScenarioError(f"{peer.name} changed its catalog: {status}")
        remote = _remote_ids(peer)
        if NEW_GAME not in remote or "evil" in remote:
            raise ScenarioError(f"{peer.name}'s LAN list after mallory's catalog: {sorted(remote)}")
        refused = peer.send({"cmd": "download", "game_id": "evil"}, expect_error=True)
        if "not in the local catalog" not in refused["error"]:
            raise ScenarioError(f"{peer.name}: download evil: {refused}")
    return f"mallory's catalog (serial {mserial}, another key) refused and logged by all three; they kept alpha's serial {serial}"


def x74_untrusting_peer_ignores(sc: Scenario) -> str:
    """A peer with no catalog_trust, linked to an organizer that publishes,
    keeps its own catalog: no signed catalog held, q3 still 'not in the
    local catalog', and a log line says why."""
    alpha, cat_a, _payload, _key = _organizer(sc)
    echo = sc.peer("echo")
    echo.connect_to(alpha)
    _catalog_add(cat_a, NEW_GAME, NEW_VERSION)
    serial = _publish(alpha)
    poll(lambda: "no catalog_trust is set: ignored" in _log(echo), timeout=SPREAD_WITHIN,
         what="echo did not log the offer it ignores")
    time.sleep(1.0)
    status = echo.status()["catalog"]
    if status["serial"] != 0 or status["source"] != str(CFG.catalog_db):
        raise ScenarioError(f"echo took a catalog it does not trust: {status}")
    if (echo.host_state_dir / "catalog.signed").exists():
        raise ScenarioError("echo stored a catalog it does not trust")
    refused = echo.send({"cmd": "download", "game_id": NEW_GAME}, expect_error=True)
    if "not in the local catalog" not in refused["error"]:
        raise ScenarioError(f"echo: download q3: {refused}")
    return f"alpha published serial {serial}; echo (no catalog_trust) logged it as ignored and kept {status['source']}"


def x75_forged_catalog_refused(sc: Scenario) -> str:
    """A Python peer speaking protocol 2 announces a newer catalog under
    the trusted key and, asked for it, sends alpha's signed catalog with
    the serial raised and a game added, unsigned again: bravo refuses it
    (bad signature, logged) and keeps alpha's; so for one that is not a
    signed catalog at all. A catalog nobody asked for closes the link."""
    from wire import PEER_PROTO, Identity, T, Wire, handshake

    alpha, cat_a, _payload, key = _organizer(sc)
    bravo = _trusting(sc, "bravo", key)
    bravo.connect_to(alpha)
    _catalog_add(cat_a, NEW_GAME, NEW_VERSION)
    serial = _publish(alpha)
    poll(lambda: _serial(bravo) == serial, timeout=SPREAD_WITHIN, what="bravo did not take alpha's catalog")
    genuine = (alpha.host_state_dir / "catalog.signed").read_bytes()
    forged = bytearray(genuine)
    forged[40:48] = (serial + 1000).to_bytes(8, "big")  # the serial, past format and key
    bad_sig = bytes(forged)
    not_signed = CFG.catalog_db.read_bytes()
    cases = [("a raised serial under the old signature", bad_sig, "signature does not match"),
             ("a bare SQLite file", not_signed, "not a signed catalog")]
    for n, (what, blob, why) in enumerate(cases):
        wire = Wire(bravo.ready_addr)
        ident = Identity()
        fake_id = ident.peer_id
        try:
            ack = handshake(wire, ident, f"127.0.0.{90 + n}:7331")
            if ack.get("proto") != PEER_PROTO:
                raise ScenarioError(f"a hello of protocol {PEER_PROTO} answered with {ack}")
            wire.send_frame(T("PEER_CATALOG_HAVE"), {"key": key, "serial": serial + 1000 + n})
            deadline = time.monotonic() + 10
            while True:
                type_, body = wire.recv_frame(max(0.1, deadline - time.monotonic()))
                if type_ == T("PEER_CATALOG_REQ"):
                    break
                if type_ == T("PEER_PING"):
                    wire.send_frame(T("PEER_PONG"))
            wire.send_frame(T("PEER_CATALOG"), {"catalog": blob})
            poll(lambda: why in _log(bravo) and f"refused the catalog from peer {fake_id}" in _log(bravo),
                 timeout=10, what=f"bravo did not log {what} as refused ({why})")
        finally:
            wire.close()
        status = bravo.status()["catalog"]
        if status["serial"] != serial:
            raise ScenarioError(f"bravo took {what}: {status}")
    if (bravo.host_state_dir / "catalog.signed").read_bytes() != genuine:
        raise ScenarioError("bravo's stored catalog changed")
    # Unasked: the link goes.
    wire = Wire(bravo.ready_addr)
    try:
        handshake(wire, Identity(), "127.0.0.99:7331")
        wire.send_frame(T("PEER_CATALOG"), {"catalog": genuine})
        closed, _types = wire.wait_closed(10)
        if not closed:
            raise ScenarioError("a catalog nobody asked for did not close the link")
    finally:
        wire.close()
    if NEW_GAME not in _remote_ids(bravo):
        raise ScenarioError("bravo lost q3")
    return "forged serial (bad signature) and a bare SQLite file refused and logged; bravo kept alpha's catalog; an unasked catalog closed the link"


# --------------------------------------------------------------------------
# X76: games shows what the catalog lacks, or lists at another version
# --------------------------------------------------------------------------


def x76_games_marks_stale_and_unlisted(sc: Scenario) -> str:
    """A daemon with bf1942 at the catalog's version, cnc4 at an older one
    and a game the catalog lacks: `games --json` gives each local row its
    catalog_state (current, stale, not-in-catalog) and `games` says so
    under the rows; after the catalog moves bf1942 to a new version and
    lists the unknown game, a reload turns them stale and current."""
    cat = _catalog_copy(sc, "alpha")
    games = sc.dir / "alpha-games"
    copy_game("bf1942", games)
    copy_game("cnc4", games, version="20100101")
    _make_game(games, "mystery", NEW_VERSION, size=4096)
    daemons: list[_PartyDaemon] = []
    try:
        alpha = _PartyDaemon(sc, "alpha", listen="127.0.0.76:0", extra=f"catalog = {cat}\n", games_dir=games)
        daemons.append(alpha)
        alpha.wait_up()

        def states() -> dict[str, str]:
            return {g["id"]: g.get("catalog_state") for g in alpha.json("games")["data"]["local"]}

        want = {"bf1942": "current", "cnc4": "stale", "mystery": "not-in-catalog"}
        got = poll(lambda: states() if states() == want else None, timeout=10,
                   what=lambda: f"catalog_state of the local games: {states()}, expected {want}")
        human = alpha.ctl("games").stdout
        lines = human.splitlines()

        def under(game_id: str) -> str:
            for i, line in enumerate(lines):
                if line.startswith(game_id + " ") and i + 1 < len(lines):
                    return lines[i + 1]
            return ""

        if "stale: the catalog has version 20170204" not in under("cnc4"):
            raise ScenarioError(f"games does not mark cnc4 stale:\n{human}")
        if "not in the catalog" not in under("mystery"):
            raise ScenarioError(f"games does not mark mystery as not in the catalog:\n{human}")
        if under("bf1942").startswith("  "):
            raise ScenarioError(f"games marks the current bf1942:\n{human}")
        with sqlite3.connect(cat) as conn:
            conn.execute("UPDATE games SET version = '20990101' WHERE id = 'bf1942'")
        conn.close()
        _catalog_add(cat, "mystery", NEW_VERSION, name="Mystery")
        data = alpha.json("reload")["data"]
        if (data["added"], data["changed"]) != (1, 1):
            raise ScenarioError(f"reload replied {data}")
        after = states()
        if after != {"bf1942": "stale", "cnc4": "stale", "mystery": "current"}:
            raise ScenarioError(f"after the reload: {after}")
    finally:
        _stop_all(daemons)
    return f"catalog_state {got}; games marks cnc4 stale and mystery unlisted; after a reload bf1942 stale, mystery current"


# --------------------------------------------------------------------------
# X77: lanspreadctl catalog key/publish, and catalog_trust set by a reload
# --------------------------------------------------------------------------


def x77_ctl_publish_and_trust_by_reload(sc: Scenario) -> str:
    """Two lanspreadd: `lanspreadctl catalog key` prints the organizer's
    key and the catalog_trust line; the other daemon, without
    catalog_trust, ignores the catalog `lanspreadctl catalog publish`
    publishes; once catalog_trust is added to its file and `lanspreadctl
    reload` run, it takes the catalog it was offered within 10 s, with no
    restart, and `status` says so."""
    cat_a = _catalog_copy(sc, "org")
    games_a = sc.dir / "org-games"
    _make_game(games_a, NEW_GAME, NEW_VERSION, size=1 << 20)
    daemons: list[_PartyDaemon] = []
    try:
        org = _PartyDaemon(sc, "org", listen="127.0.0.77:0", extra=f"catalog = {cat_a}\n", games_dir=games_a)
        daemons.append(org)
        peer = _PartyDaemon(sc, "peer", listen="127.0.0.78:0")
        daemons.append(peer)
        org.wait_up()
        peer.wait_up()
        res = org.ctl("catalog", "key")
        key = next((w for w in res.stdout.split() if len(w) == 64), "")
        if res.returncode != 0 or f"catalog_trust = {key}" not in res.stdout or not key:
            raise ScenarioError(f"catalog key: {res.returncode} {res.stdout}{res.stderr}")
        if org.ctl("catalog", "sign").returncode != 2:
            raise ScenarioError("catalog with an unknown word must be a usage error")
        if peer.ctl("connect", org.json("status")["data"]["addr"]).returncode != 0:
            raise ScenarioError("connect failed")
        _catalog_add(cat_a, NEW_GAME, NEW_VERSION)
        res = org.ctl("catalog", "publish")
        if res.returncode != 0 or "as serial" not in res.stdout:
            raise ScenarioError(f"catalog publish: {res.stdout}{res.stderr}")
        serial = org.json("status")["data"]["catalog"]["serial"]
        poll(lambda: "no catalog_trust is set: ignored" in peer.log_text(), timeout=10,
             what="the peer without catalog_trust did not log the offer")
        if peer.json("status")["data"]["catalog"]["serial"] != 0:
            raise ScenarioError("the peer took a catalog it does not trust")
        with open(peer.conf, "a", encoding="utf-8") as handle:
            handle.write(f"catalog_trust = {key}\n")
        started = time.monotonic()
        if peer.ctl("reload").returncode != 0:
            raise ScenarioError(f"reload: {peer.log_text()[-2000:]}")
        poll(lambda: peer.json("status")["data"]["catalog"]["serial"] == serial, timeout=SPREAD_WITHIN,
             what="the peer did not take the catalog after catalog_trust was set by a reload")
        took = time.monotonic() - started
        if "shares a signed one" not in peer.ctl("status").stdout:
            raise ScenarioError(f"status does not say the peer holds a signed catalog: {peer.ctl('status').stdout}")
        res = peer.ctl("download", NEW_GAME, "--no-install", timeout=120)
        if res.returncode != 0:
            raise ScenarioError(f"download of q3: {res.stdout}{res.stderr}")
    finally:
        _stop_all(daemons)
    return f"catalog key/publish by lanspreadctl; the peer ignored it untrusted, took serial {serial} {took:.1f} s after catalog_trust + reload, downloaded q3"


CATALOG_SCENARIOS: list[tuple[str, Any]] = [
    ("X70-sighup-reload", x70_sighup_reloads_catalog),
    ("X71-reload-command", x71_reload_command),
    ("X72-catalog-spreads", x72_published_catalog_spreads),
    ("X73-other-key-refused", x73_catalog_of_another_key_refused),
    ("X74-untrusting-ignores", x74_untrusting_peer_ignores),
    ("X75-forged-catalog", x75_forged_catalog_refused),
    ("X76-games-stale", x76_games_marks_stale_and_unlisted),
    ("X77-ctl-publish-trust-reload", x77_ctl_publish_and_trust_by_reload),
]
