#!/usr/bin/env python3
"""Run build/lanspread-peer under valgrind through a short control session.

usage: valgrind_peer.py BUILD_DIR

The peer serves a read-only bind mount of fixture-alpha (a copy when not
root), answers list-games, list-peers, status, survives a malformed line,
refuses a download of an unknown id, then shuts down. Fails unless valgrind
reports "ERROR SUMMARY: 0 errors" and the peer exits with status 0.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "scenarios"))
sys.dont_write_bytecode = True

import harness  # noqa: E402
from harness import CFG, Peer, Scenario, ScenarioError  # noqa: E402

READY_TIMEOUT = 180.0
REQUEST_TIMEOUT = 120.0
EXIT_TIMEOUT = 300.0


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    CFG.set_build(Path(sys.argv[1]))
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print("valgrind_peer: valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 1
    if not (CFG.fixtures / "fixture-alpha").is_dir() or not CFG.catalog_db.is_file():
        print(f"valgrind_peer: fixtures missing in {CFG.fixtures} (run make fixtures)", file=sys.stderr)
        return 1
    is_root = os.geteuid() == 0
    if is_root:
        harness.become_subreaper()
    harness.install_signal_handlers()

    runs_root = CFG.build / "valgrind-runs"
    harness.clean_old_runs(runs_root)
    run_dir = harness.make_run_dir(runs_root)
    sc = Scenario("valgrind", run_dir)
    vg_log = sc.log_dir / "valgrind.%p.log"
    prefix = [
        valgrind,
        "--leak-check=full",
        "--errors-for-leak-kinds=definite,indirect",
        "--error-exitcode=99",
        "--trace-children=no",
        f"--log-file={vg_log}",
    ]
    if is_root:
        games_dir, readonly = CFG.fixtures / "fixture-alpha", True
    else:
        games_dir, readonly = sc.fixture_root / "alpha", False
        shutil.copytree(CFG.fixtures / "fixture-alpha", games_dir)
    peer = Peer(
        sc,
        "vg-alpha",
        0,
        games_dir=games_dir,
        readonly_games=readonly,
        tmpfs_size=None,
        fixtures=[],
        extra_args=[],
        command_prefix=prefix,
    )
    sc.peers.append(peer)
    problems: list[str] = []
    try:
        peer.start(ready_timeout=READY_TIMEOUT)
        games = peer.send({"cmd": "list-games"}, timeout=REQUEST_TIMEOUT)["data"]
        local_ids = sorted(game.get("id") for game in games.get("local", []))
        peer.send({"cmd": "list-peers"}, timeout=REQUEST_TIMEOUT)
        peer.send({"cmd": "status"}, timeout=REQUEST_TIMEOUT)
        peer.write_raw(b"this is {not json\n")
        err = peer.send(
            {"cmd": "download", "game_id": "no-such-game", "install": False},
            expect_error=True,
            timeout=REQUEST_TIMEOUT,
        )
        print(f"valgrind_peer: local games {local_ids}; unknown download -> {err['error']!r}")
        procs = peer._snapshot_descendants()
        rid = peer.next_request_id()
        peer.write_raw((json.dumps({"id": rid, "cmd": "shutdown"}) + "\n").encode())
        assert peer.process is not None
        try:
            status = peer.process.wait(timeout=EXIT_TIMEOUT)
        except Exception:
            raise ScenarioError(f"peer did not exit within {EXIT_TIMEOUT:g}s of shutdown under valgrind")
        try:
            peer._check_after_exit(procs, "shutdown")
        finally:
            peer._finish()
        if status != 0:
            problems.append(f"peer exited with status {status} (99 = valgrind errors)")
    except ScenarioError as exc:
        problems.append(str(exc))
    except KeyboardInterrupt:
        problems.append("interrupted")
    finally:
        problems.extend(sc.teardown(graceful=False))

    logs = sorted(sc.log_dir.glob("valgrind.*.log"))
    main_log = None
    if peer.process is not None:
        candidate = sc.log_dir / f"valgrind.{peer.process.pid}.log"
        if candidate.exists():
            main_log = candidate
    if main_log is None:
        problems.append(f"no valgrind log for the peer in {sc.log_dir}")
    for log in logs:
        text = log.read_text(encoding="utf-8", errors="replace")
        summaries = re.findall(r"ERROR SUMMARY: (\d+) errors", text)
        if log == main_log:
            if "ERROR SUMMARY: 0 errors" not in text:
                problems.append(f"{log.name}: valgrind did not report 'ERROR SUMMARY: 0 errors'")
            keys = ("ERROR SUMMARY", "in use at exit", "All heap blocks", "definitely lost", "indirectly lost")
            lines = [line for line in text.splitlines() if any(key in line for key in keys)]
            print("\n".join(lines))
        if any(count != "0" for count in summaries):
            problems.append(f"{log.name}: {summaries}")
    if problems:
        for problem in problems:
            print(f"valgrind_peer: FAIL: {problem}", file=sys.stderr)
        if main_log is not None:
            print(f"--- {main_log} (tail) ---\n{harness.tail_file(main_log, 60)}", file=sys.stderr)
        print(f"--- peer log (tail) ---\n{harness.tail_file(peer.log_path, 30)}", file=sys.stderr)
        return 1
    print(f"valgrind_peer: PASS: ERROR SUMMARY: 0 errors, exit status 0 (logs in {sc.log_dir})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
