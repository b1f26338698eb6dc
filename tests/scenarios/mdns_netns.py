#!/usr/bin/env python3
"""mDNS discovery between two network namespaces.

Two namespaces, lsA-<tag> (10.77.0.1) and lsB-<tag> (10.77.0.2), joined by a
veth pair va<tag>/vb<tag>; <tag> is this run's pid and a random suffix, so
two runs on one machine never collide.
One build/lanspread-peer runs in each; nobody sends a connect command.

1. A and B with --mdns: each must list the other within 20 s, and B (empty
   games folder) must see A's games as remote.
2. Garbage on 224.0.0.251:5353 (random bytes, malformed DNS, announcements
   with our own id, a bad id or a bad addr): A must survive it, still answer
   and dial nobody.
3. B restarted WITHOUT --mdns: for 8 s neither may see the other, so the
   discovery above really was mDNS.
4. B restarted with --mdns, bound to 0.0.0.0 this time, long after A's own
   announcements: they must find each other again (a peer that starts late).

Python 3 standard library only; runs as root. Prints PASS or FAIL and exits
non-zero on failure. The namespaces are deleted at the end, and those left by
a run that was killed (its pid gone) at the start. --keep keeps the peers'
logs; --valgrind runs every peer process under valgrind and fails on any
error it reports.
"""

from __future__ import annotations

import json
import os
import queue
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "build"
PEER = BUILD / "lanspread-peer"
FIXTURES = BUILD / "fixtures"
# A veth name has at most 15 characters: "va" + pid (up to 7 digits) + "-"
# + 4 hex digits is 14.
TAG = f"{os.getpid()}-{os.urandom(2).hex()}"
NS_A, NS_B = f"lsA-{TAG}", f"lsB-{TAG}"
VETH_A, VETH_B = f"va{TAG}", f"vb{TAG}"
LEFTOVER = re.compile(r"ls[AB]-(\d+)-[0-9a-f]{4}")
IP_A, IP_B = "10.77.0.1", "10.77.0.2"
DISCOVER_TIMEOUT = 20.0
NEGATIVE_WINDOW = 8.0
ALPHA_GAMES = {"alienswarm", "bf1942", "ggoo"}
VALGRIND: list[str] = []        # --valgrind: every process under it
VALGRIND_ERROR = re.compile(r"== (Invalid|Conditional jump|Use of uninit|"
                            r"Syscall param|Mismatched|Source and dest)|"
                            r"ERROR SUMMARY: [1-9]")


class Failure(Exception):
    pass


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise Failure(f"{' '.join(args)}: {proc.stderr.strip()}")
    return proc


def delete_namespaces() -> None:
    # Deleting a namespace deletes the veth end in it, and so the pair.
    for ns in (NS_A, NS_B):
        sh("ip", "netns", "del", ns, check=False)


def delete_leftovers() -> None:
    """The namespaces of earlier runs that were killed before their cleanup
    (their pid is gone); those of a run still going are left alone."""
    for line in sh("ip", "netns", "list", check=False).stdout.splitlines():
        name = line.split(" ", 1)[0]
        match = LEFTOVER.fullmatch(name)
        if match and not os.path.exists(f"/proc/{match.group(1)}"):
            sh("ip", "netns", "del", name, check=False)


def create_namespaces() -> None:
    sh("ip", "netns", "add", NS_A)
    sh("ip", "netns", "add", NS_B)
    sh("ip", "link", "add", VETH_A, "netns", NS_A, "type", "veth",
       "peer", "name", VETH_B, "netns", NS_B)
    sh("ip", "-n", NS_A, "addr", "add", f"{IP_A}/24", "dev", VETH_A)
    sh("ip", "-n", NS_B, "addr", "add", f"{IP_B}/24", "dev", VETH_B)
    for ns, dev in ((NS_A, VETH_A), (NS_B, VETH_B)):
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "link", "set", dev, "up")
    # B may listen on 0.0.0.0: its advertised address comes from the
    # route it would use to reach the LAN.
    sh("ip", "-n", NS_B, "route", "add", "default", "dev", VETH_B)


class Peer:
    """One lanspread-peer in a namespace, driven over JSON lines."""

    def __init__(self, name: str, ns: str, games: Path, state: Path,
                 listen: str, mdns: bool, logdir: Path) -> None:
        self.name = name
        self.log_path = logdir / f"{name}.log"
        argv = ["ip", "netns", "exec", ns, *VALGRIND, str(PEER),
                "--name", name,
                "--games-dir", str(games), "--state-dir", str(state),
                "--catalog-db", str(FIXTURES / "game.db"),
                "--listen", listen, "-v"]
        if mdns:
            argv.append("--mdns")
        self.log = open(self.log_path, "ab")
        self.log.write(f"=== {' '.join(argv)}\n".encode())
        self.log.flush()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=self.log)
        self.lines: queue.Queue = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()
        ready = self._next(60.0 if VALGRIND else 20.0, "local-peer-ready")
        if ready.get("event") != "local-peer-ready":
            raise Failure(f"{name}: first line is not local-peer-ready: "
                          f"{ready}")
        self.addr = ready["data"]["addr"]
        self.peer_id = ready["data"]["peer_id"]

    def _read(self) -> None:
        for raw in self.proc.stdout:
            try:
                self.lines.put(json.loads(raw))
            except ValueError:
                self.lines.put({"type": "garbage", "line": raw})
        self.lines.put(None)

    def _next(self, timeout: float, what: str) -> dict:
        try:
            item = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise Failure(f"{self.name}: no {what} within {timeout} s")
        if item is None:
            raise Failure(f"{self.name}: exited while waiting for {what}")
        if item.get("type") == "garbage":
            raise Failure(f"{self.name}: not JSON on stdout: {item}")
        return item

    def request(self, cmd: str, **args) -> dict:
        self.next_id += 1
        rid = f"{self.name}-{self.next_id}"
        self.proc.stdin.write((json.dumps({"id": rid, "cmd": cmd, **args})
                               + "\n").encode())
        self.proc.stdin.flush()
        deadline = time.monotonic() + 10.0
        while True:
            item = self._next(max(0.1, deadline - time.monotonic()),
                              f"reply to {cmd}")
            if item.get("id") != rid:
                continue        # an event
            if item.get("type") != "result":
                raise Failure(f"{self.name}: {cmd} failed: {item}")
            return item["data"]

    def peers(self) -> list:
        return self.request("list-peers")["peers"]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def shutdown(self) -> None:
        if self.alive():
            try:
                self.proc.stdin.write(b'{"id":"bye","cmd":"shutdown"}\n')
                self.proc.stdin.flush()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=8.0)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def wait_until_linked(a: Peer, b: Peer, timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        seen_a = {p["peer_id"]: p["addr"] for p in a.peers()}
        seen_b = {p["peer_id"]: p["addr"] for p in b.peers()}
        if b.peer_id in seen_a and a.peer_id in seen_b:
            if seen_a[b.peer_id] != b.addr or seen_b[a.peer_id] != a.addr:
                raise Failure(f"wrong addresses: A sees {seen_a}, B sees "
                              f"{seen_b}; A is {a.addr}, B is {b.addr}")
            return time.monotonic() - start
        time.sleep(0.25)
    raise Failure(f"{a.name} and {b.name} did not find each other within "
                  f"{timeout} s: {a.name} sees {a.peers()}, {b.name} sees "
                  f"{b.peers()}")


def expect_apart(a: Peer, b: Peer, window: float) -> None:
    end = time.monotonic() + window
    while time.monotonic() < end:
        if a.peers() or b.peers():
            raise Failure(f"without mDNS on {b.name}, still linked: "
                          f"{a.name} sees {a.peers()}, {b.name} sees "
                          f"{b.peers()}")
        time.sleep(0.25)


GARBAGE_SENDER = r'''
import os, random, socket, struct, sys
own_id, seed = sys.argv[1], int(sys.argv[2])
rnd = random.Random(seed)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("10.77.0.2", 5353))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,
             socket.inet_aton("10.77.0.2"))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
dst = ("224.0.0.251", 5353)

def name(text):
    out = b""
    for label in text.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"

def rr(owner, rtype, rdata, ttl=120):
    return owner + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata

def txt(*strings):
    return b"".join(bytes([len(x)]) + x for x in strings)

def response(*records):
    return struct.pack(">HHHHHH", 0, 0x8400, 0, len(records), 0, 0) + \
        b"".join(records)

svc = "_lanspread._tcp.local."
inst = "evil-1234._lanspread._tcp.local."
bad = [
    # our own id: must not dial ourselves
    response(rr(name(svc), 12, name(inst)),
             rr(name(inst), 16, txt(b"id=" + own_id.encode(),
                                    b"addr=10.77.0.1:1"))),
    # bad ids
    response(rr(name(inst), 16, txt(b"id=XYZ", b"addr=10.77.0.2:1"))),
    response(rr(name(inst), 16, txt(b"id=" + b"A" * 32,
                                    b"addr=10.77.0.2:1"))),
    # valid id, bad addr
    response(rr(name(inst), 16, txt(b"id=" + b"b" * 32, b"addr=nonsense"))),
    response(rr(name(inst), 16, txt(b"id=" + b"b" * 32,
                                    b"addr=224.0.0.251:5353"))),
    response(rr(name(inst), 16, txt(b"id=" + b"b" * 32, b"addr=0.0.0.0:9"))),
    response(rr(name(inst), 16, txt(b"id=" + b"b" * 32,
                                    b"addr=127.0.0.1:22"))),
    # TXT strings running past their record, keys without =
    response(rr(name(inst), 16, b"\xffid=" + b"b" * 10)),
    response(rr(name(inst), 16, b"\x04flag\x00\x03id=")),
    # compression loop, forward pointer, pointer out of the packet
    struct.pack(">HHHHHH", 0, 0x8400, 0, 1, 0, 0) + b"\xc0\x0c" +
    struct.pack(">HHIH", 12, 1, 120, 2) + b"\xc0\x0c",
    struct.pack(">HHHHHH", 0, 0x8400, 0, 1, 0, 0) + b"\xc0\x20" +
    b"\0" * 40,
    struct.pack(">HHHHHH", 0, 0x8400, 0, 1, 0, 0) + b"\xff\xff",
    # counts far beyond the data, truncated records
    struct.pack(">HHHHHH", 0, 0x8400, 0xffff, 0xffff, 0xffff, 0xffff),
    response(rr(name(inst), 33, b"\0\0")),
    response(rr(name("x.local."), 1, b"\1\2")),
    # a query with a huge label and one with a bad label type
    struct.pack(">HHHHHH", 0, 0, 1, 0, 0, 0) + b"\x3f" + b"a" * 10,
    struct.pack(">HHHHHH", 0, 0, 1, 0, 0, 0) + b"\x80abc\0\0\x0c\0\1",
]
for pkt in bad:
    s.sendto(pkt, dst)
for _ in range(400):
    size = rnd.randrange(0, 600)
    pkt = bytearray(rnd.getrandbits(8) for _ in range(size))
    if size >= 12 and rnd.random() < 0.7:
        struct.pack_into(">HHHH", pkt, 4, rnd.randrange(3), rnd.randrange(5),
                         rnd.randrange(3), rnd.randrange(3))
        if rnd.random() < 0.5:
            pkt[2] |= 0x80
    s.sendto(bytes(pkt), dst)
print("sent", len(bad) + 400)
'''


def send_garbage(own_id: str) -> None:
    out = sh("ip", "netns", "exec", NS_B, sys.executable, "-c",
             GARBAGE_SENDER, own_id, str(random.randrange(1 << 30)))
    print(f"  garbage: {out.stdout.strip()}")


def run(tmp: Path) -> None:
    logdir = tmp / "logs"
    logdir.mkdir()
    empty = tmp / "games-b"
    empty.mkdir()
    state_a, state_b = tmp / "state-a", tmp / "state-b"
    peers: list[Peer] = []

    def start(*args, **kw) -> Peer:
        p = Peer(*args, logdir=logdir, **kw)
        peers.append(p)
        return p

    try:
        print("1. A and B with --mdns, no connect command")
        a = start("a", NS_A, FIXTURES / "fixture-alpha", state_a,
                  f"{IP_A}:0", True)
        b = start("b", NS_B, empty, state_b, f"{IP_B}:0", True)
        took = wait_until_linked(a, b, DISCOVER_TIMEOUT)
        print(f"  linked after {took:.1f} s: A {a.addr}, B {b.addr}")
        deadline = time.monotonic() + 10.0
        while True:
            remote = {g["id"] for g in b.request("list-games")["remote"]}
            if ALPHA_GAMES <= remote:
                break
            if time.monotonic() > deadline:
                raise Failure(f"B sees remote games {sorted(remote)}, "
                              f"wants {sorted(ALPHA_GAMES)}")
            time.sleep(0.25)
        print(f"  B sees A's games: {sorted(remote)}")

        print("2. garbage on 224.0.0.251:5353")
        send_garbage(a.peer_id)
        time.sleep(1.5)
        if not a.alive() or not b.alive():
            raise Failure("a peer died of the garbage")
        seen = {p["peer_id"] for p in a.peers()}
        if seen != {b.peer_id}:
            raise Failure(f"after the garbage A sees {seen}, wants only B")
        print("  A and B still up, A linked to B only")

        print("3. B restarted without --mdns")
        b.shutdown()
        deadline = time.monotonic() + 10.0
        while a.peers():
            if time.monotonic() > deadline:
                raise Failure(f"A still lists B after its shutdown: "
                              f"{a.peers()}")
            time.sleep(0.25)
        b = start("b", NS_B, empty, state_b, f"{IP_B}:0", False)
        expect_apart(a, b, NEGATIVE_WINDOW)
        print(f"  not discovered in {NEGATIVE_WINDOW:.0f} s")

        print("4. B restarted with --mdns on 0.0.0.0, long after A began")
        b.shutdown()
        b = start("b", NS_B, empty, state_b, "0.0.0.0:0", True)
        if not b.addr.startswith(IP_B + ":"):
            raise Failure(f"B on 0.0.0.0 advertises {b.addr}")
        took = wait_until_linked(a, b, DISCOVER_TIMEOUT)
        print(f"  linked after {took:.1f} s: A {a.addr}, B {b.addr}")
        if not a.alive():
            raise Failure("A died")
    except Failure:
        for p in peers:
            p.shutdown()
        for log in sorted(logdir.iterdir()):
            lines = log.read_text(errors="replace").splitlines()
            print(f"--- {log.name} (last 30 lines)")
            print("\n".join(lines[-30:]))
        raise
    finally:
        for p in peers:
            p.shutdown()
    # The net worker has no summary: the supervisor exits once it sees the
    # worker close its socket, and PDEATHSIG ends valgrind's exit. Errors
    # are logged when they happen, so look for them.
    for log in sorted(logdir.glob("valgrind.*.log")):
        text = log.read_text(errors="replace")
        if VALGRIND_ERROR.search(text):
            print(text[-4000:])
            raise Failure(f"valgrind found errors, see {log.name}")


def main() -> int:
    if os.geteuid() != 0:
        print("FAIL: must run as root (network namespaces)")
        return 1
    if not PEER.exists() or not (FIXTURES / "game.db").exists():
        print("FAIL: build first: make all fixtures")
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="lanspread-mdns-"))
    if "--valgrind" in sys.argv:
        VALGRIND.extend(["valgrind", "--trace-children=yes",
                         "--leak-check=full",
                         "--errors-for-leak-kinds=definite,indirect",
                         f"--log-file={tmp}/logs/valgrind.%p.log"])
    try:
        delete_leftovers()
        create_namespaces()
        run(tmp)
    except Failure as e:
        print(f"FAIL: {e}")
        return 1
    finally:
        delete_namespaces()
        if "--keep" in sys.argv:
            print(f"logs kept in {tmp / 'logs'}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
