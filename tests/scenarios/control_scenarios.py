"""Scenarios of ours for the daemon, its control tool and crash recovery."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness import (
    CFG,
    REPO,
    LineWaiter,
    Scenario,
    ScenarioError,
    copy_game,
    descendants,
    event_is,
    fixture_dir,
    wait_local_game,
    wait_procs_gone,
)


def _ctl(sc: Scenario, sock: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    cmd = [str(CFG.build / "lanspreadctl"), "-s", str(sock), *args]
    sc.log("run " + " ".join(cmd))
    result = subprocess.run(cmd, text=True, capture_output=True, timeout=timeout)
    sc.log(f"exit {result.returncode}\n{result.stdout}{result.stderr}")
    return result


def _bsdtar_sha(archive: Path, entry: str) -> str:
    out = subprocess.run(["bsdtar", "-xOf", str(archive), entry], capture_output=True, check=True)
    return hashlib.sha256(out.stdout).hexdigest()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def x6_daemon_driven_by_lanspreadctl(sc: Scenario) -> str:
    """lanspreadd from a config file, driven only with lanspreadctl,
    downloads and installs a game from a lanspread-peer source."""
    source = sc.peer("x6-source", games_dir=fixture_dir("fixture-bravo"), readonly_games=True)
    games = sc.dir / "daemon-games"
    sock = sc.dir / "daemon.sock"
    conf = sc.dir / "lanspread.conf"
    conf.write_text(
        "# written by X6\n"
        "name = x6-daemon\n"
        f"games_dir = {games}\n"
        f"state_dir = {sc.dir / 'daemon-state'}\n"
        f"catalog = {CFG.catalog_db}\n"
        "listen = 127.0.0.20:0\n"
        "mdns = no\n"
        "unrar = builtin\n"
        f"control_socket = {sock}\n"
        "user =\n",
        encoding="utf-8",
    )
    check = subprocess.run([str(CFG.build / "lanspreadd"), "-n", "-f", str(conf)], capture_output=True, text=True)
    if check.returncode != 0 or "configuration OK" not in check.stdout:
        raise ScenarioError(f"lanspreadd -n refused the config: {check.stdout}{check.stderr}")
    log = open(sc.log_dir / "daemon.log", "ab")
    daemon = subprocess.Popen([str(CFG.build / "lanspreadd"), "-d", "-f", str(conf)], stderr=log,
                              stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while _ctl(sc, sock, "status").returncode != 0:
            if time.monotonic() > deadline or daemon.poll() is not None:
                raise ScenarioError("lanspreadd did not come up")
            time.sleep(0.2)
        if _ctl(sc, sc.dir / "no-such.sock", "status").returncode != 3:
            raise ScenarioError("an unreachable daemon must exit 3")
        if _ctl(sc, sock, "frobnicate").returncode != 2:
            raise ScenarioError("a usage error must exit 2")
        res = _ctl(sc, sock, "connect", source.ready_addr or "")
        if res.returncode != 0:
            raise ScenarioError(f"connect failed: {res.stderr}")
        deadline = time.monotonic() + 20
        while True:
            res = _ctl(sc, sock, "games")
            if "cnctw" in res.stdout:
                break
            if time.monotonic() > deadline:
                raise ScenarioError(f"daemon never saw cnctw: {res.stdout}")
            time.sleep(0.3)
        if _ctl(sc, sock, "download", "no-such-game").returncode != 1:
            raise ScenarioError("a failed command must exit 1")
        res = _ctl(sc, sock, "download", "cnctw")
        if res.returncode != 0 or "installed" not in res.stdout:
            raise ScenarioError(f"download with install failed: {res.stdout}{res.stderr}")
        status = json.loads(_ctl(sc, sock, "--json", "status").stdout)
        if status["data"]["active_operations"]:
            raise ScenarioError(f"operations left after the install: {status}")
        games_out = json.loads(_ctl(sc, sock, "--json", "games").stdout)["data"]["local"]
        row = next((g for g in games_out if g["id"] == "cnctw"), None)
        if row is None or not row["installed"] or not row["downloaded"]:
            raise ScenarioError(f"cnctw not downloaded+installed: {games_out}")
        archive = fixture_dir("fixture-bravo") / "cnctw" / "cnctw.eti"
        for entry in ("bin/cnctw-payload.bin", "data/cnctw-assets.dat"):
            got = games / "cnctw" / "local" / entry
            if not got.is_file() or _sha(got) != _bsdtar_sha(archive, entry):
                raise ScenarioError(f"installed {entry} differs from the archive's")
        if (games / "cnctw" / "version.ini").read_text() != "20160128":
            raise ScenarioError("version.ini not committed")
    finally:
        procs = descendants(daemon.pid)
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=10)
        except subprocess.TimeoutExpired:
            daemon.kill()
            raise ScenarioError("lanspreadd did not stop on SIGTERM")
        left = wait_procs_gone(procs.values(), 5)
        log.close()
        if left:
            raise ScenarioError(f"workers survived SIGTERM: {[p.describe() for p in left]}")
    if sock.exists():
        raise ScenarioError("control socket left behind")
    return "lanspreadd from a config file, driven by lanspreadctl: connect, download+install, status, games; files match the archive; exit codes 0/1/2/3"


def _ppid(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("PPid:"):
                return int(line.split()[1])
    return -1


def _make_big_rar(path: Path, size: int) -> None:
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import rar\n"
        "size = int(sys.argv[3]); block = bytes(1 << 20)\n"
        "def data():\n"
        "    left = size\n"
        "    while left:\n"
        "        n = min(left, len(block)); left -= n; yield block[:n]\n"
        "rar.write_rar5(sys.argv[2], [('big/payload.bin', data, size), ('readme.txt', b'hi', 2)])\n"
    )
    subprocess.run([sys.executable, "-c", code, str(REPO / "fixtures"), str(path), str(size)], check=True)


def x7_install_worker_killed_mid_install(sc: Scenario) -> str:
    """SIGKILL of the install worker mid-install: no .local.installing, no
    half local/, and the game installs again afterwards."""
    games = sc.fixture_root / "x7"
    copy_game("cod5", games)
    archive = games / "cod5" / "cod5.eti"
    _make_big_rar(archive, 768 << 20)
    peer = sc.peer("x7-peer", games_dir=games, extra_args=["--unrar", "builtin"])
    wait_local_game(peer, "cod5", downloaded=True, installed=False)
    assert peer.process is not None
    start = LineWaiter(peer.output_len())
    peer.send({"cmd": "install", "game_id": "cod5"})
    staging = games / "cod5" / ".local.installing"
    deadline = time.monotonic() + 20
    while not (staging / "big").exists():
        if time.monotonic() > deadline:
            raise ScenarioError("the install never started extracting")
        time.sleep(0.002)
    workers = [p for p in descendants(peer.process.pid).values()
               if p.comm == "install" and _ppid(p.pid) == peer.process.pid]
    if len(workers) != 1:
        raise ScenarioError(f"cannot find the install worker: {descendants(peer.process.pid)}")
    os.kill(workers[0].pid, signal.SIGKILL)
    failed = peer.wait_for(
        lambda item: item.get("type") == "event" and item.get("event") in ("install-failed", "install-finished")
        and item.get("data", {}).get("game_id") == "cod5",
        timeout=30, description="install end after the kill", waiter=start)
    if failed["event"] != "install-failed":
        raise ScenarioError("the install finished before the kill landed (rerun)")
    deadline = time.monotonic() + 10
    while staging.exists() or (games / "cod5" / "local").exists():
        if time.monotonic() > deadline:
            raise ScenarioError(f"left behind: staging={staging.exists()} local={(games / 'cod5' / 'local').exists()}")
        time.sleep(0.1)
    if peer.status()["active_operations"]:
        raise ScenarioError("an operation is still active after the kill")
    mark = LineWaiter(peer.output_len())
    peer.send({"cmd": "install", "game_id": "cod5"})
    peer.wait_for(event_is("install-finished", "cod5"), timeout=120, description="reinstall", waiter=mark)
    payload = games / "cod5" / "local" / "big" / "payload.bin"
    if payload.stat().st_size != 768 << 20:
        raise ScenarioError("reinstalled payload has the wrong size")
    wait_local_game(peer, "cod5", downloaded=True, installed=True)
    return "install worker SIGKILLed mid-extraction: install-failed, staging removed by the restarted worker, reinstall succeeded"


DAEMON_SCENARIOS = [
    ("X6-daemon-ctl", x6_daemon_driven_by_lanspreadctl),
    ("X7-install-worker-killed", x7_install_worker_killed_mid_install),
]
