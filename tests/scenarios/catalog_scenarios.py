"""One catalog for the whole party (issue 13, item 1): a game added to the
catalog becomes downloadable with no restart, on SIGHUP (X70) or on the
reload command (X71); the organizer publishes a signed catalog that every
trusting peer takes within 10 s (X72); a catalog signed by another key is
refused by all, who keep theirs (X73); a peer that trusts no key ignores a
published one (X74); a forged catalog with the trusted key but a bad
signature, sent by a Python peer, is refused and logged (X75)."""

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


CATALOG_SCENARIOS: list[tuple[str, Any]] = [
    ("X70-sighup-reload", x70_sighup_reloads_catalog),
    ("X71-reload-command", x71_reload_command),
]
