#!/usr/bin/env python3
"""Run lanspread's scenarios (the seed's S1-S47 and ours, X...).

usage: run.py [--all | --expected] [S1 S9 X1 ...] [--build-dir DIR] [--keep] [-v]

Every scenario runs isolated under build/scenario-runs/<timestamp>/<id>/
(games/, state/, fixtures/, mnt/, logs/). A failing scenario does not stop
the others; its peers are stopped and its mounts removed either way. The last
line printed is "N passed, M failed". Exit status: non-zero if any scenario
that ran failed (with --expected: any scenario of expected_pass.txt).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.dont_write_bytecode = True

import harness  # noqa: E402
from catalog_scenarios import CATALOG_SCENARIOS  # noqa: E402
from control_scenarios import CONTROL_SCENARIOS  # noqa: E402
from ctl_scenarios import CTL_SCENARIOS  # noqa: E402
from download_end_scenarios import DOWNLOAD_END_SCENARIOS  # noqa: E402
from failure_scenarios import FAILURE_SCENARIOS  # noqa: E402
from harness import CFG, Scenario, ScenarioError  # noqa: E402
from hostile_peer_scenarios import HOSTILE_PEER_SCENARIOS  # noqa: E402
from integrity_scenarios import INTEGRITY_SCENARIOS  # noqa: E402
from mesh_scenarios import MESH_SCENARIOS  # noqa: E402
from sandbox_scenarios import SANDBOX_SCENARIOS  # noqa: E402
from seed_scenarios import SEED_SCENARIOS  # noqa: E402
from swarm_scenarios import SWARM_SCENARIOS  # noqa: E402
from web_scenarios import WEB_SCENARIOS  # noqa: E402

HERE = Path(__file__).resolve().parent
EXPECTED_FILE = HERE / "expected_pass.txt"
# Ours (X...) run in number order, whichever file holds them.
OURS = sorted(CATALOG_SCENARIOS + CONTROL_SCENARIOS + CTL_SCENARIOS + DOWNLOAD_END_SCENARIOS + FAILURE_SCENARIOS + HOSTILE_PEER_SCENARIOS
              + INTEGRITY_SCENARIOS + MESH_SCENARIOS + SANDBOX_SCENARIOS + SWARM_SCENARIOS + WEB_SCENARIOS,
              key=lambda item: int(item[0].split("-", 1)[0][1:]))
ALL_SCENARIOS = SEED_SCENARIOS + OURS


def short_id(sid: str) -> str:
    return sid.split("-", 1)[0].upper()


def resolve_ids(names: list[str]) -> list[str]:
    known = {short_id(sid): sid for sid, _fn in ALL_SCENARIOS}
    known.update({sid.upper(): sid for sid, _fn in ALL_SCENARIOS})
    resolved = []
    for name in names:
        key = name.strip().upper()
        if key not in known:
            key = short_id(key)
        if key not in known:
            raise SystemExit(f"error: unknown scenario {name!r}")
        resolved.append(known[key])
    return resolved


def read_expected() -> list[str]:
    names = []
    try:
        text = EXPECTED_FILE.read_text(encoding="utf-8")
    except OSError as exc:
        raise SystemExit(f"error: cannot read {EXPECTED_FILE}: {exc}")
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.append(line.split()[0])
    return resolve_ids(names)


def indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def run_one(sid: str, fn, run_dir: Path, keep: bool) -> tuple[bool, str, float]:
    started = time.monotonic()
    sc = Scenario(sid, run_dir)
    sc.log(f"== {sid} ({fn.__name__})")
    ok = False
    reason = ""
    interrupted = False
    try:
        evidence = fn(sc)
        ok = True
        reason = evidence
    except ScenarioError as exc:
        reason = str(exc)
    except KeyboardInterrupt:
        interrupted = True
        reason = "interrupted"
    except Exception as exc:  # noqa: BLE001 - a scenario bug is a failure too
        frames = traceback.extract_tb(exc.__traceback__)
        where = ""
        if frames:
            last = frames[-1]
            where = f" at {Path(last.filename).name}:{last.lineno} ({last.name})"
        reason = f"{type(exc).__name__}: {exc}{where}"
    finally:
        try:
            problems = sc.teardown(graceful=not interrupted)
        except KeyboardInterrupt:
            interrupted = True
            problems = ["teardown interrupted"]
            for peer in sc.peers:
                peer.hard_kill()
            harness.unmount_everything_under(sc.dir)
    if problems:
        if ok:
            ok = False
            reason = "teardown: " + "\n".join(problems)
        else:
            reason += "\nteardown: " + "\n".join(problems)
    sc.log(("PASS: " if ok else "FAIL: ") + reason)
    if ok and not keep:
        for sub in (sc.games_root, sc.state_root, sc.fixture_root, sc.mnt_root):
            prefix = os.path.realpath(sub) + os.sep
            if not any(p.startswith(prefix) or p == os.path.realpath(sub) for p in harness.mount_points()):
                shutil.rmtree(sub, ignore_errors=True)
    if interrupted:
        raise KeyboardInterrupt(reason)
    if not ok:
        tails = sc.log_tails(already_shown=reason)
        if tails:
            reason = reason + "\n" + tails
    return ok, reason, time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="*", help="scenario ids, e.g. S1 S9 X1")
    parser.add_argument("--all", action="store_true", help="run every scenario (S1-S47 and X...)")
    parser.add_argument("--expected", action="store_true", help="run the scenarios of expected_pass.txt")
    parser.add_argument("--build-dir", type=Path, default=harness.REPO / "build", help="default: <repo>/build")
    parser.add_argument("--keep", action="store_true", help="keep the data of passing scenarios")
    parser.add_argument("--list", action="store_true", help="list scenario ids and exit")
    parser.add_argument("-v", "--verbose", action="store_true", help="print harness actions")
    args = parser.parse_args()

    if args.list:
        expected = set(read_expected())
        for sid, fn in ALL_SCENARIOS:
            print(f"{sid:18} {'expected ' if sid in expected else '         '}{fn.__name__}")
        return 0

    selected: list[str] = []
    if args.all:
        selected.extend(sid for sid, _fn in ALL_SCENARIOS)
    if args.expected:
        selected.extend(read_expected())
    selected.extend(resolve_ids(args.scenarios))
    if not selected:
        parser.error("name scenarios, or pass --all or --expected")
    wanted = set(selected)
    plan = [(sid, fn) for sid, fn in ALL_SCENARIOS if sid in wanted]

    harness.require_root()
    harness.become_subreaper()
    harness.install_signal_handlers()
    CFG.set_build(args.build_dir)
    CFG.verbose = args.verbose
    harness.clean_old_runs(CFG.runs_root)
    run_dir = harness.make_run_dir(CFG.runs_root)
    print(f"lanspread scenarios: {len(plan)} selected; peer {CFG.peer_bin}; run dir {run_dir}", flush=True)

    results: list[tuple[str, bool, str, float]] = []
    interrupted = False
    for sid, fn in plan:
        print(f"\n== {sid} ==", flush=True)
        try:
            ok, reason, seconds = run_one(sid, fn, run_dir, args.keep)
        except KeyboardInterrupt:
            interrupted = True
            results.append((sid, False, "interrupted", 0.0))
            print(f"{sid} FAIL: interrupted", flush=True)
            break
        results.append((sid, ok, reason, seconds))
        if ok:
            print(f"{sid} PASS: {reason}", flush=True)
        else:
            first, _, rest = reason.partition("\n")
            print(f"{sid} FAIL: {first}", flush=True)
            if rest:
                print(indent(rest), flush=True)

    harness.emergency_cleanup()
    passed = sum(1 for _sid, ok, _r, _s in results if ok)
    failed = len(results) - passed
    print("\nScenario            Result  Time     Summary")
    print("------------------  ------  -------  -------")
    for sid, ok, reason, seconds in results:
        summary = reason.splitlines()[0] if reason else ""
        if len(summary) > 110:
            summary = summary[:107] + "..."
        print(f"{sid:18}  {'PASS' if ok else 'FAIL':6}  {seconds:6.1f}s  {summary}")
    if interrupted:
        print(f"(interrupted; {len(plan) - len(results)} scenario(s) not run)")
    print(f"logs: {run_dir}")
    print(f"{passed} passed, {failed} failed", flush=True)
    if interrupted:
        return 130
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
