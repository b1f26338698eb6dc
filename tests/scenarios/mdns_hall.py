#!/usr/bin/env python3
"""mDNS in a big hall: RFC 6762's manners at HALL peers, in namespaces.

HALL build/lanspread-peer --mdns, each in a namespace of its own on one
bridge (netns.py; names carry this run's pid and a random tag), all started
at once and told nothing. A capture in the hub namespace keeps every mDNS
datagram and every TCP SYN crossing the bridge, and the checks read it:

1. Every peer lists every other within LINK_TIMEOUT.
2. Continuous queries back off: each peer's browses come further and
   further apart (1, 2, 4, 8 s: each gap BACKOFF_STEP longer than the one
   before at least, the last at least BACKOFF_LAST), so a hall is not asked the
   same question every few seconds.
3. Known answers are all listed: each peer's first browse after the hall is
   linked names every other peer's instance as a known answer. The names
   are long, so they take several datagrams, every one but the last with
   the TC bit. And nobody answers such a browse.
4. Dials beyond the burst are queued: a fake responder announces FAKES
   instances at once (more than the 16 dials a second a peer allows itself);
   every peer dials every one of them within DIAL_TIMEOUT.
5. An interface that comes up: one peer's link goes down long enough for
   its links to die, then up. It announces itself afresh and browses within
   IFUP_TIMEOUT; it and every other peer dial each other without waiting for
   answers to that browse (it dials the peers it knew, they dial it on its
   announcement), and the hall is whole again within RELINK_TIMEOUT.

Runs as root (network namespaces); needs python3-dnspython. Prints PASS or
FAIL and exits non-zero on failure.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dns.flags
import dns.message
import dns.rdatatype

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import CFG, Peer, Scenario, ScenarioError  # noqa: E402
from netns import TAG, Net, remove_leftovers, sh  # noqa: E402

HALL = 28
FAKES = 24
SERVICE = "_lanspread._tcp.local."
LINK_TIMEOUT = 30.0
BACKOFF_STEP = 0.5       # s each gap grows at least
BACKOFF_LAST = 6.0       # s, the last gap before the checks
DIAL_TIMEOUT = 3.0
IFUP_TIMEOUT = 2.0
RELINK_TIMEOUT = 3.0
DIAL_SLACK = 0.5
SETTLE = 7.0
DOWN_FOR = 10.0         # NET_DEAD_AFTER 6 s, pings every 2 s
DOWN_AT = 27.0          # s after the start: up again at 37 s or later

# Every IPv4 frame that enters the bridge from a peer's port: mDNS
# datagrams whole, TCP SYNs by destination. One JSON line each.
SNIFFER = r"""
import json, socket, struct, sys, time
# ETH_P_ALL: a bridge port's frames reach only taps for every protocol.
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
# Room for the burst of a hall starting at once (SO_RCVBUFFORCE: root).
s.setsockopt(socket.SOL_SOCKET, 33, 64 << 20)
out = open(sys.argv[1], "w", buffering=1)
while True:
    f, (ifname, proto, pkttype, *_rest) = s.recvfrom(65535)
    t = time.monotonic()
    if (pkttype == socket.PACKET_OUTGOING or proto != 0x0800 or
            not ifname.startswith("h")):
        continue
    ip = f[14:]
    if len(ip) < 20 or ip[0] >> 4 != 4:
        continue
    ihl = (ip[0] & 15) * 4
    src, dst = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])
    if ip[9] == 17 and len(ip) >= ihl + 8:
        if struct.unpack("!H", ip[ihl + 2:ihl + 4])[0] == 5353:
            out.write(json.dumps({"t": t, "src": src,
                                  "mdns": ip[ihl + 8:].hex()}) + "\n")
    elif ip[9] == 6 and len(ip) >= ihl + 14 and ip[ihl + 13] & 0x12 == 0x02:
        port = struct.unpack("!H", ip[ihl + 2:ihl + 4])[0]
        out.write(json.dumps({"t": t, "src": src,
                              "syn": f"{dst}:{port}"}) + "\n")
"""

# A fake hall: announces argv[2] instances at once, eight to a datagram,
# each at a port of its own that only counts who connects; then says
# goodbye. Prints {"sent": t, "accepts": [[t, peer_ip, port], ...]}.
FAKE_HALL = r"""
import json, secrets, select, socket, sys, time
import dns.flags, dns.message, dns.rrset
ip, n, wait = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
svc = "_lanspread._tcp.local."
listeners = []
for _ in range(n):
    ls = socket.socket()
    ls.bind((ip, 0))
    ls.listen(128)
    listeners.append(ls)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
u.bind((ip, 5353))
u.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(ip))
u.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
names = [f"fake-{k:02d}-{secrets.token_hex(4)}.{svc}" for k in range(n)]

def announce(ttl):
    for first in range(0, n, 8):
        m = dns.message.Message(id=0)
        m.flags = dns.flags.QR | dns.flags.AA
        for k in range(first, min(first + 8, n)):
            port = listeners[k].getsockname()[1]
            m.answer.append(dns.rrset.from_text(svc, ttl, "IN", "PTR",
                                                names[k]))
            m.answer.append(dns.rrset.from_text(
                names[k], ttl, "IN", "TXT",
                f'"id={secrets.token_hex(16)}" "addr={ip}:{port}"'))
        u.sendto(m.to_wire(), ("224.0.0.251", 5353))

sent = time.monotonic()
announce(120)
accepts = []
port_of = {ls.fileno(): ls.getsockname()[1] for ls in listeners}
while time.monotonic() < sent + wait:
    ready, _, _ = select.select(listeners, [], [], 0.05)
    for ls in ready:
        c, (peer, _) = ls.accept()
        accepts.append([time.monotonic(), peer, port_of[ls.fileno()]])
        c.close()
announce(0)
print(json.dumps({"sent": sent, "accepts": accepts}))
"""


class Failure(Exception):
    pass


def hall_name(i: int) -> str:
    """32 characters, all DNS-safe: the longest instance label we send."""
    return f"lan-party-hall-seat-{i:02d}-player"[:32].ljust(32, "x")


def instance_of(peer: Peer) -> str:
    assert peer.peer_id is not None
    return f"{peer.name}-{peer.peer_id[:8]}.{SERVICE}"


def read_capture(path: Path) -> list[dict]:
    records = []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue            # the last line, half written
        if "mdns" in rec:
            try:
                rec["msg"] = dns.message.from_wire(bytes.fromhex(rec["mdns"]))
            except Exception:   # noqa: BLE001 - not ours to judge here
                continue
        records.append(rec)
    return records


def ptr_targets(section) -> set[str]:
    return {str(rd.target).lower() for rrset in section
            if rrset.rdtype == dns.rdatatype.PTR
            and str(rrset.name).lower() == SERVICE.lower()
            for rd in rrset}


def browses(records: list[dict], ip: str) -> list[dict]:
    """ip's browses: a datagram asking for our service's PTR, and the
    datagrams of known answers that follow it with no question."""
    out: list[dict] = []
    for rec in records:
        msg = rec.get("msg")
        if rec["src"] != ip or msg is None or msg.flags & dns.flags.QR:
            continue
        asks = any(q.rdtype == dns.rdatatype.PTR and
                   str(q.name).lower() == SERVICE.lower()
                   for q in msg.question)
        if asks:
            out.append({"t": rec["t"], "parts": [msg]})
        elif not msg.question and out and rec["t"] - out[-1]["t"] < 0.5:
            out[-1]["parts"].append(msg)
    return out


def all_linked(peers: list[Peer]) -> bool:
    want = len(peers) - 1
    return all(len(p.list_peers()) >= want for p in peers)


def check_backoff(records: list[dict], peers: list[Peer], ips: dict) -> None:
    for p in peers:
        times = [b["t"] for b in browses(records, ips[p.name])]
        gaps = [b - a for a, b in zip(times, times[1:])]
        shown = ", ".join(f"{g:.1f}" for g in gaps)
        if len(gaps) < 3:
            raise Failure(f"{p.name} browsed {len(times)} times (gaps "
                          f"{shown} s), wants at least 4 (1, 2, 4 s apart)")
        # Each gap longer than the last by a margin that a busy loop
        # delaying one browse cannot make up, and the last one long.
        if any(b < a + BACKOFF_STEP for a, b in zip(gaps, gaps[1:])) or \
                gaps[-1] < BACKOFF_LAST:
            raise Failure(f"{p.name} does not back off: browses {shown} s "
                          "apart")
    print(f"  backoff: every peer's browses came further apart, e.g. "
          f"{shown} s")


def check_known_answers(records: list[dict], peers: list[Peer], ips: dict,
                        linked_at: float) -> None:
    sizes = []
    for p in peers:
        # Past the peers' own announcements (four, 2 s apart, at start).
        full = [b for b in browses(records, ips[p.name])
                if b["t"] > linked_at + SETTLE]
        if not full:
            raise Failure(f"{p.name} did not browse after the hall linked")
        b = full[0]
        parts = b["parts"]
        listed = set().union(*(ptr_targets(m.answer) for m in parts))
        want = {instance_of(o).lower() for o in peers if o is not p}
        if not want <= listed:
            raise Failure(f"{p.name}'s browse at +{b['t'] - linked_at:.1f} s "
                          f"lists {len(listed & want)} of the "
                          f"{len(want)} peers it is linked to as known "
                          "answers")
        tc = [bool(m.flags & dns.flags.TC) for m in parts]
        if len(parts) < 2 or tc != [True] * (len(parts) - 1) + [False]:
            raise Failure(f"{p.name}'s known answers took {len(parts)} "
                          f"datagrams with TC bits {tc}; want TC on all "
                          "but the last")
        # Nobody answers it: every instance asked about is known.
        for rec in records:
            msg = rec.get("msg")
            if (msg is not None and msg.flags & dns.flags.QR and
                    b["t"] <= rec["t"] < b["t"] + 1.0 and
                    ptr_targets(msg.answer) & want):
                raise Failure(f"{rec['src']} answered {p.name}'s browse "
                              f"although it was listed: "
                              f"{sorted(ptr_targets(msg.answer))}")
        sizes.append(len(parts))
    print(f"  known answers: every peer listed all {len(peers) - 1} others "
          f"in {min(sizes)}-{max(sizes)} datagrams (TC set), and nobody "
          "answered")


def check_dial_queue(fake_ns: str, fake_ip: str, peers: list[Peer],
                     ips: dict) -> None:
    out = subprocess.run(["ip", "netns", "exec", fake_ns, sys.executable,
                          "-c", FAKE_HALL, fake_ip, str(FAKES),
                          str(DIAL_TIMEOUT)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise Failure(f"fake hall: {out.stderr.strip()}")
    result = json.loads(out.stdout)
    dialled: dict[str, set] = {}
    last = 0.0
    for t, ip, port in result["accepts"]:
        dialled.setdefault(ip, set()).add(port)
        last = max(last, t - result["sent"])
    for p in peers:
        got = len(dialled.get(ips[p.name], ()))
        if got < FAKES:
            raise Failure(f"{p.name} dialled {got} of the {FAKES} instances "
                          f"announced at once, within {DIAL_TIMEOUT} s")
    print(f"  dial queue: every peer dialled all {FAKES} instances announced "
          f"at once, the last {last:.2f} s after")


def check_interface_up(net: Net, capture: Path, peers: list[Peer],
                       ips: dict, index: int) -> None:
    p = peers[index]
    ns, dev = net.names[index], Net.inner(index)
    sh("ip", "-n", ns, "link", "set", dev, "down")
    time.sleep(DOWN_FOR)
    others = [o for o in peers if o is not p]
    if p.list_peers() or any(len(o.list_peers()) >= len(peers) - 1
                             for o in others):
        raise Failure(f"links to or from {p.name} still up "
                      f"{DOWN_FOR:.0f} s after its link went down")
    up = time.monotonic()
    sh("ip", "-n", ns, "link", "set", dev, "up")
    sh("ip", "-n", ns, "route", "replace", "default", "dev", dev)
    while not all_linked(peers):
        if time.monotonic() - up > RELINK_TIMEOUT:
            raise Failure(f"{p.name} lists {len(p.list_peers())} peers "
                          f"{RELINK_TIMEOUT} s after its link came up, "
                          f"wants {len(peers) - 1}")
        time.sleep(0.05)
    relinked = time.monotonic() - up
    time.sleep(0.5)
    records = [r for r in read_capture(capture) if r["t"] >= up]
    ip = ips[p.name]
    me = instance_of(p).lower()
    announced = [r["t"] for r in records if r.get("msg") is not None and
                 r["msg"].flags & dns.flags.QR and r["src"] == ip and
                 me in ptr_targets(r["msg"].answer)]
    asked = [b["t"] for b in browses(records, ip)]
    if not announced or announced[0] - up > IFUP_TIMEOUT:
        raise Failure(f"{p.name} did not announce itself within "
                      f"{IFUP_TIMEOUT} s of its link coming up")
    if not asked or asked[0] - up > IFUP_TIMEOUT:
        raise Failure(f"{p.name} did not browse within {IFUP_TIMEOUT} s of "
                      "its link coming up")
    # Linked again at once: a dial between it and every other peer (its
    # own to the peers it knew, theirs on its announcement) within
    # DIAL_SLACK of its browse. Dialling only as the browse is answered
    # would dial 16 at once and the rest a second later (the burst).
    syns = {}
    for r in records:
        if "syn" in r:
            dst = r["syn"].split(":")[0]
            pair = dst if r["src"] == ip else r["src"] if dst == ip else None
            syns.setdefault(pair, r["t"])
    by = asked[0] + DIAL_SLACK
    late = sorted(ips[o.name] for o in others
                  if syns.get(ips[o.name], by + 1) > by)
    if late:
        raise Failure(f"{p.name} and {len(late)} peers dialled each other "
                      f"only after its browse (or never): {late[:4]}")
    print(f"  interface up: {p.name} announced after "
          f"{announced[0] - up:.2f} s and browsed after {asked[0] - up:.2f} "
          f"s, a dial with each of the {len(others)} others by then; "
          f"whole again after {relinked:.2f} s")


def run(sc: Scenario, net: Net, capture: Path) -> None:
    nets = [net.add(i, None) for i in range(HALL + 1)]
    for i, (ns, _ip) in enumerate(nets):
        # mDNS goes where the default route does.
        sh("ip", "-n", ns, "route", "add", "default", "dev", Net.inner(i))
    fake_ns, fake_ip = nets.pop()
    sniffer = subprocess.Popen(["ip", "netns", "exec", net.hub,
                                sys.executable, "-c", SNIFFER, str(capture)])
    try:
        time.sleep(0.5)         # the capture is open
        peers, ips = [], {}
        for i, (ns, ip) in enumerate(nets):
            peer = Peer(sc, hall_name(i), len(sc.peers), games_dir=None,
                        readonly_games=False, tmpfs_size=None, fixtures=[],
                        extra_args=["--mdns"],
                        command_prefix=["ip", "netns", "exec", ns],
                        listen_ip=ip)
            sc.peers.append(peer)
            peers.append(peer)
            ips[peer.name] = ip
        start = time.monotonic()
        for peer in peers:
            peer.start()
        print(f"1. {HALL} peers with --mdns, told nothing")
        while not all_linked(peers):
            if time.monotonic() - start > LINK_TIMEOUT:
                counts = [len(p.list_peers()) for p in peers]
                raise Failure(f"not all linked after {LINK_TIMEOUT} s: "
                              f"{counts}")
            time.sleep(0.2)
        linked_at = time.monotonic()
        print(f"  every peer lists the {HALL - 1} others "
              f"{linked_at - start:.1f} s after the first started")
        # Browses at about 0, 1, 3, 7, 15 and 31 s: wait for one
        # SETTLE s after the hall is linked, and the one after it.
        later = 17.0 if linked_at - start < 15.0 - SETTLE else 33.0
        time.sleep(max(0.0, start + later - time.monotonic()))
        records = read_capture(capture)
        print("2. continuous queries back off")
        check_backoff(records, peers, ips)
        print("3. known answers")
        check_known_answers(records, peers, ips, linked_at)
        print("4. dials beyond the burst")
        check_dial_queue(fake_ns, fake_ip, peers, ips)
        print("5. an interface comes back up")
        # Away from the hall's own browses (about 31 and 63 s after the
        # start): one of them would relink the peer whatever it did.
        time.sleep(max(0.0, start + DOWN_AT - time.monotonic()))
        check_interface_up(net, capture, peers, ips, HALL - 1)
    finally:
        sniffer.terminate()
        sniffer.wait()


def main() -> int:
    if os.geteuid() != 0:
        print("FAIL: must run as root (network namespaces)")
        return 1
    remove_leftovers()
    sc = Scenario("mdns-hall", CFG.runs_root / f"mdns-hall-{TAG}")
    net = Net()
    # The hub must flood the group to every port, as a plain switch does.
    sh("ip", "-n", net.hub, "link", "set", "br0", "type", "bridge",
       "mcast_snooping", "0")
    capture = sc.dir / "capture.jsonl"
    try:
        run(sc, net, capture)
    except (Failure, ScenarioError) as exc:
        print(f"FAIL: {exc} (logs in {sc.dir})")
        return 1
    finally:
        for problem in sc.teardown():
            print(f"teardown: {problem}")
        net.remove()
    print("PASS")
    return 0


def _on_signal(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    for _sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(_sig, _on_signal)
    sys.exit(main())
