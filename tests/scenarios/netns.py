"""Network namespaces for bench/swarm, bench/mdns and mdns_hall.py: a hub
namespace with a bridge, and a namespace per peer joined to it by a veth
pair, optionally limited both ways with tc. Names carry the pid and a
random tag, so runs never collide; remove_leftovers() deletes those of
runs that died."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from harness import ScenarioError

SUBNET = "10.78"
TAG = f"{os.getpid()}-{os.urandom(2).hex()}"
LEFTOVER = re.compile(r"lsw(?:hub|\d+)-(\d+)-[0-9a-f]{4}")


def sh(*cmd: str) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise ScenarioError(f"{' '.join(cmd)}: {result.stderr.strip()}")


class Net:
    """The hub and one namespace per peer, each link limited both ways."""

    def __init__(self) -> None:
        self.hub = f"lswhub-{TAG}"
        self.names: list[str] = []
        sh("ip", "netns", "add", self.hub)
        sh("ip", "-n", self.hub, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.hub, "link", "set", "br0", "up")

    @staticmethod
    def inner(i: int) -> str:
        """Peer i's end of its veth pair, in its namespace."""
        return f"e{i}-{TAG[-4:]}"

    def add(self, i: int, mbit: int | None) -> tuple[str, str]:
        """Peer i's namespace and address; mbit None: no limit."""
        ns = f"lsw{i}-{TAG}"
        self.names.append(ns)
        inner, outer = self.inner(i), f"h{i}-{TAG[-4:]}"
        ip = f"{SUBNET}.{i // 250}.{i % 250 + 1}"
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", inner, "netns", ns, "type", "veth", "peer", "name", outer, "netns", self.hub)
        sh("ip", "-n", self.hub, "link", "set", outer, "master", "br0", "up")
        sh("ip", "-n", ns, "addr", "add", f"{ip}/16", "dev", inner)
        sh("ip", "-n", ns, "link", "set", inner, "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        if mbit is not None:
            for where, dev in ((ns, inner), (self.hub, outer)):
                sh("ip", "netns", "exec", where, "tc", "qdisc", "add", "dev", dev, "root", "tbf",
                   "rate", f"{mbit}mbit", "burst", "256kb", "latency", "50ms")
        return ns, ip

    def tx_bytes(self, ns: str) -> int:
        out = subprocess.run(["ip", "netns", "exec", ns, "cat", "/proc/net/dev"],
                             capture_output=True, text=True).stdout
        for line in out.splitlines():
            name, _, rest = line.partition(":")
            if name.strip().startswith("e"):
                return int(rest.split()[8])
        return 0

    def remove(self) -> None:
        for ns in self.names + [self.hub]:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.names = []


def remove_leftovers(ours: bool = False) -> None:
    """Namespaces of runs whose pid is gone (and ours, at exit)."""
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        name = line.split()[0] if line.split() else ""
        m = LEFTOVER.fullmatch(name)
        if m and (not Path(f"/proc/{m.group(1)}").exists() or (ours and name.endswith(TAG))):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


