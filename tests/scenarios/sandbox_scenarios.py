"""The workers' sandbox seen from outside (X20-X21): what /proc says of
each running worker of a peer started as root, and of a daemon that stays
root with a configured net_user. Each field is the kernel's word, not
ours: CapEff/CapPrm/CapInh/CapAmb/CapBnd all 0, NoNewPrivs 1, Seccomp 2
(filtered), and the net worker running as its own unprivileged user."""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import time
from pathlib import Path

from harness import CFG, Scenario, ScenarioError, descendants, fixture_dir, wait_procs_gone, worker_comm

WORKERS = ("net", "transfer", "install")
ZERO_CAPS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")


def _status(pid: int) -> dict[str, str]:
    fields: dict[str, str] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_bytes().decode("utf-8", "replace")
    except OSError:
        return fields
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def _workers(root_pid: int, timeout: float = 15) -> dict[str, int]:
    """The worker pids under root_pid, once each one is sandboxed."""
    deadline = time.monotonic() + timeout
    while True:
        comms = {worker_comm(role): role for role in WORKERS}
        found = {comms[p.comm]: p.pid for p in descendants(root_pid).values() if p.comm in comms}
        if len(found) == len(WORKERS) and all(_status(pid).get("Seccomp") == "2" for pid in found.values()):
            return found
        if time.monotonic() > deadline:
            states = {name: _status(pid).get("Seccomp") for name, pid in found.items()}
            raise ScenarioError(f"workers not all sandboxed after {timeout}s: {states}")
        time.sleep(0.2)


def _check_workers(sc: Scenario, root_pid: int, net_user: str) -> str:
    net_uid = pwd.getpwnam(net_user).pw_uid
    own_uid = _status(root_pid)["Uid"].split()[0]
    notes = []
    for name, pid in sorted(_workers(root_pid).items()):
        st = _status(pid)
        sc.log(f"{name} pid {pid}: " + ", ".join(f"{k} {st.get(k)}" for k in
                                                  ZERO_CAPS + ("NoNewPrivs", "Seccomp", "Uid", "Gid", "Groups")))
        for key in ZERO_CAPS:
            if int(st.get(key, "1"), 16) != 0:
                raise ScenarioError(f"{name} worker {key} = {st.get(key)}, not 0")
        if st.get("NoNewPrivs") != "1":
            raise ScenarioError(f"{name} worker NoNewPrivs = {st.get('NoNewPrivs')}")
        if st.get("Seccomp") != "2":
            raise ScenarioError(f"{name} worker Seccomp = {st.get('Seccomp')}")
        uids = st.get("Uid", "").split()
        want = str(net_uid) if name == "net" else own_uid
        if uids != [want] * 4:
            raise ScenarioError(f"{name} worker Uid = {uids}, want {want} four times")
        if name == "net" and st.get("Groups", "x") != "":
            raise ScenarioError(f"net worker kept supplementary groups {st.get('Groups')!r}")
        notes.append(f"{name} uid {uids[0]}")
    return ", ".join(notes)


def x20_peer_workers_sandboxed(sc: Scenario) -> str:
    """lanspread-peer started as root: every worker holds no capability,
    has no_new_privs and a seccomp filter; the net worker is nobody."""
    if os.geteuid() != 0:
        raise ScenarioError("X20 starts its peer as root: run the scenarios as root")
    peer = sc.peer("x20-peer", games_dir=fixture_dir("fixture-alpha"), readonly_games=True)
    assert peer.process is not None
    summary = _check_workers(sc, peer.process.pid, "nobody")
    # Still a working peer: another one links to it and sees its games.
    other = sc.peer("x20-other")
    other.connect_to(peer)
    if not other.list_peers():
        raise ScenarioError("the sandboxed peer never linked")
    return f"peer as root: {summary}; caps 0 (eff, prm, inh, amb, bnd), NoNewPrivs 1, Seccomp 2; still links"


def x21_daemon_net_user(sc: Scenario) -> str:
    """lanspreadd staying root (user =) with net_user = daemon: the net
    worker runs as daemon, the others as root with no capability; a bad
    sandbox_optional value is refused by lanspreadd -n."""
    games = sc.dir / "daemon-games"
    sock = sc.dir / "daemon.sock"
    conf = sc.dir / "lanspread.conf"
    base = (
        "name = x21-daemon\n"
        f"games_dir = {games}\n"
        f"state_dir = {sc.dir / 'daemon-state'}\n"
        f"catalog = {CFG.catalog_db}\n"
        "listen = 127.0.0.21:0\n"
        "mdns = no\n"
        f"control_socket = {sock}\n"
        "user =\n"
    )
    conf.write_text(base + "sandbox_optional = maybe\n", encoding="utf-8")
    check = subprocess.run([str(CFG.build / "lanspreadd"), "-n", "-f", str(conf)], capture_output=True, text=True)
    if check.returncode == 0 or "sandbox_optional" not in check.stderr:
        raise ScenarioError(f"sandbox_optional = maybe was accepted: {check.stdout}{check.stderr}")
    conf.write_text(base + "net_user = daemon\nsandbox_optional = no\n", encoding="utf-8")
    log = open(sc.log_dir / "daemon.log", "ab")
    daemon = subprocess.Popen([str(CFG.build / "lanspreadd"), "-d", "-f", str(conf)], stderr=log,
                              stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        summary = _check_workers(sc, daemon.pid, "daemon")
        res = subprocess.run([str(CFG.build / "lanspreadctl"), "-s", str(sock), "status"],
                             capture_output=True, text=True, timeout=30)
        if res.returncode != 0:
            raise ScenarioError(f"root could not drive the daemon: {res.stderr}")
    finally:
        procs = descendants(daemon.pid)
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=10)
        except subprocess.TimeoutExpired:
            daemon.kill()
        wait_procs_gone(procs.values(), 5)
        log.close()
    return f"lanspreadd as root, net_user = daemon: {summary}; sandbox_optional = maybe refused"


SANDBOX_SCENARIOS = [
    ("X20-peer-workers-sandboxed", x20_peer_workers_sandboxed),
    ("X21-daemon-net-user", x21_daemon_net_user),
]
