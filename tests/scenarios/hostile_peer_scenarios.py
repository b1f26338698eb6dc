"""Scenarios of ours beyond the seed (ids with an X prefix)."""

from __future__ import annotations

import json
import math
import os
import random
import socket
import threading
import time
from pathlib import Path
from typing import Any

from harness import (
    CATALOG_VERSIONS,
    CHUNK_SIZE,
    LineWaiter,
    Scenario,
    ScenarioError,
    assert_no_duplicate_chunks,
    assert_no_event_since,
    chunk_events,
    chunk_sources,
    copy_game,
    create_many_small_game,
    descendants,
    diff_game_dirs,
    event_is,
    fixture_dir,
    poll,
    stage_game_drop,
    wait_no_active,
    wait_remote_game,
)
from wire import FRAME_HDR, FakePeer, T, Wire, frame, game_advert, hello_body, mp_pack, servable_files

FUZZ_LINES = 1000
FUZZ_REPLY_TIMEOUT = 60.0

# Commands whose fuzzed forms are harmless: never "shutdown".
SAFE_CMDS = [
    "list-games",
    "list-peers",
    "status",
    "download",
    "install",
    "uninstall",
    "stream-install",
    "cancel-download",
    "play",
    "connect",
    "wait-peers",
]
WRONG_VALUES: list[Any] = [
    None, True, False, 0, -1, 1.5, 2**53, -(2**63), "", "x" * 300, [], [1, 2], {}, {"a": "b"},
    ["status"], {"cmd": "status"},
]
BAD_GAME_IDS = [
    "zz-no-such-game", "../escape", "../../etc/passwd", "/abs/path", "a/b", ".", "..", "",
    " cnc4", "cnc4 ", "CNC4", "cnc4\u0000x", "game\nid", "\u00e9\u00e8", "\U0001f600",
    "local", ".lanspread", "x" * 4096, "cnc4", "bf1942",
]
# Addresses that fail fast (refused or unparsable); no DNS names.
BAD_ADDRS = [
    "", "nonsense", ":", "127.0.0.1", "127.0.0.1:1", "127.0.0.1:99999", "127.0.0.1:-5",
    "[::1]:1", "999.1.1.1:5", "127.0.0.1:0", "::::", "127.0.0.1:1:2",
]


class _Unparsable(Exception):
    pass


def _reject_constant(name: str) -> Any:
    raise _Unparsable(name)


def _plain(value: Any) -> bool:
    """Within what every sane JSON parser accepts: int64 integers, finite
    floats, no lone surrogates, bounded nesting (iterative: no recursion)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > 600:
            return False
        if isinstance(item, bool) or item is None:
            continue
        if isinstance(item, int):
            if not -(2**63) <= item < 2**63:
                return False
        elif isinstance(item, float):
            if not math.isfinite(item):
                return False
        elif isinstance(item, str):
            if any(0xD800 <= ord(ch) <= 0xDFFF for ch in item):
                return False
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, dict):
            for key, child in item.items():
                stack.append((key, depth + 1))
                stack.append((child, depth + 1))
        else:
            return False
    return True


def tracked_id(line: bytes) -> str | None:
    """The id a reply must carry: the line is a JSON object (strict UTF-8,
    strict JSON) with a string "id"."""
    body = line[:-1] if line.endswith(b"\n") else line
    try:
        text = body.decode("utf-8")
        obj = json.loads(text, parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError, _Unparsable):
        return None
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
        return None
    if not _plain(obj):
        return None
    return obj["id"]


class FuzzGen:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.counter = 0

    def new_id(self) -> str:
        self.counter += 1
        return f"fz-{self.counter}"

    def dumps(self, obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=self.rng.random() < 0.5).encode("utf-8") + b"\n"

    # --- categories -------------------------------------------------------

    def invalid_json(self) -> bytes:
        rid = self.new_id()
        choices = [
            f'{{"id":"{rid}","cmd":"status"',
            f"{{'id': '{rid}', 'cmd': 'status'}}",
            f'{{"id":"{rid}","cmd":"status",}}',
            f'{{"id" "{rid}"}}',
            f'{{"id":"{rid}","cmd":status}}',
            f'{{"id":"{rid}","cmd":"status"}} trailing',
            f'{{"id":"{rid}","cmd":"status"}}{{"id":"{rid}x"}}',
            '{"a":1}}', "[1,2", '"unterminated', "nul", "tru", "{", "}", "{{}}", "[", "]",
            '{"id":"' + rid + '","cmd":"\\x41"}',
            '{"id":"' + rid + '","cmd":"\\u12"}',
            '{"id":01,"cmd":"status"}',
            '{"id":"' + rid + '","cmd":"status","n":NaN}',
            '{"id":"' + rid + '","cmd":"status","n":Infinity}',
            '{"id":"' + rid + '"\t"cmd":"status"}',
            "/* comment */ {}",
        ]
        return self.rng.choice(choices).encode("utf-8") + b"\n"

    def binary_garbage(self) -> bytes:
        size = self.rng.choice([1, 7, 64, 512, 4096, 20000])
        data = self.rng.randbytes(size).replace(b"\n", b"\xff")
        return data + b"\n"

    def non_object(self) -> bytes:
        choices: list[Any] = [
            [], [1, 2, 3], ["status"], [{"id": "in-array", "cmd": "status"}], 0, -1, 3.25, 1e300,
            "status", "", None, True, False, [[[]]], {"x": 1},
        ]
        value = self.rng.choice(choices)
        if isinstance(value, dict):
            return b"[" + self.dumps(value)[:-1] + b"]\n"
        return self.dumps(value)

    def without_cmd(self) -> bytes:
        rid = self.new_id()
        choices = [
            {"id": rid},
            {"id": rid, "command": "status"},
            {"id": rid, "CMD": "status"},
            {"id": rid, "game_id": "cnc4"},
        ]
        return self.dumps(self.rng.choice(choices))

    def unknown_cmd(self) -> bytes:
        rid = self.new_id()
        name = self.rng.choice(
            ["frobnicate", "STATUS", "Status", "status ", " status", "list_games", "", "shut-down",
             "shutdown-now", "list-games\u0000", "status\u0000", "\u00fc\u00f1\u00ee", "x" * 5000,
             "../status", "help", "exit", "quit", "kill"]
        )
        return self.dumps({"id": rid, "cmd": name})

    def cmd_wrong_type(self) -> bytes:
        rid = self.new_id()
        value = self.rng.choice([5, 5.5, None, True, [], {}, ["status"], {"cmd": "status"}, -0.0])
        return self.dumps({"id": rid, "cmd": value})

    def fields_wrong_types(self) -> bytes:
        rid = self.new_id()
        cmd = self.rng.choice(SAFE_CMDS)
        obj: dict[str, Any] = {"id": rid, "cmd": cmd}
        wrong = self.rng.choice(WRONG_VALUES)
        if cmd in ("download", "install", "uninstall", "stream-install", "cancel-download"):
            if self.rng.random() < 0.5:
                obj["game_id"] = wrong
            else:
                obj["game_id"] = self.rng.choice(BAD_GAME_IDS)
                obj["install"] = self.rng.choice(["yes", 1, None, [], {}, "true"])
        elif cmd == "play":
            obj.update({"game_id": "css", "username": "u", "language": "english"})
            obj[self.rng.choice(["game_id", "username", "language"])] = wrong
        elif cmd == "connect":
            obj["addr"] = wrong if self.rng.random() < 0.5 else self.rng.choice(BAD_ADDRS)
        elif cmd == "wait-peers":
            obj["count"] = self.rng.choice([wrong, 0, 1, -1])
            obj["timeout_ms"] = self.rng.choice([wrong, 0, 10, 50, -1, "10"])
            if isinstance(obj["timeout_ms"], int) and obj["timeout_ms"] > 50:
                obj["timeout_ms"] = 50
            if isinstance(obj["timeout_ms"], float):
                obj["timeout_ms"] = 1.5
        else:
            obj[self.rng.choice(["game_id", "extra", "data", "type", "id2"])] = wrong
        return self.dumps(obj)

    def valid_harmless(self) -> bytes:
        rid = self.new_id()
        cmd = self.rng.choice(["list-games", "list-peers", "status", "download", "stream-install",
                               "install", "uninstall", "cancel-download", "play", "wait-peers"])
        obj: dict[str, Any] = {"id": rid, "cmd": cmd}
        if cmd in ("download", "stream-install", "install", "uninstall", "cancel-download"):
            obj["game_id"] = self.rng.choice(BAD_GAME_IDS)
        elif cmd == "play":
            obj.update({"game_id": self.rng.choice(BAD_GAME_IDS), "username": "u", "language": "l"})
        elif cmd == "wait-peers":
            obj.update({"count": self.rng.choice([0, 1, 5]), "timeout_ms": self.rng.choice([0, 10, 50])})
        return self.dumps(obj)

    def huge_id(self) -> bytes:
        rid = self.new_id() + "-" + "h" * self.rng.choice([4096, 65536, 300000])
        return self.dumps({"id": rid, "cmd": self.rng.choice(["status", "nope"])})

    def over_one_mib(self) -> bytes:
        size = 1024 * 1024 + self.rng.randrange(1, 512 * 1024)
        if self.rng.random() < 0.5:
            rid = self.new_id()
            return self.dumps({"id": rid, "cmd": "status", "pad": "p" * size})
        return b"q" * size + b"\n"

    def deeply_nested(self) -> bytes:
        if self.rng.random() < 0.5:
            depth = self.rng.choice([5000, 50000, 200000])
            opener, closer = self.rng.choice([("[", "]"), ('{"a":', "}")])
            return (opener * depth + "1" + closer * depth).encode() + b"\n"
        rid = self.new_id()
        depth = self.rng.choice([32, 128, 500])
        nested: Any = 1
        for _ in range(depth):
            nested = [nested] if self.rng.random() < 0.5 else {"n": nested}
        return self.dumps({"id": rid, "cmd": "status", "deep": nested})

    def nul_bytes(self) -> bytes:
        rid = self.new_id()
        choices = [
            f'{{"id":"{rid}","cmd":"st\x00atus"}}'.encode(),
            b"\x00" * 32,
            f'{{"id":"{rid}","cmd":"status"}}\x00'.encode(),
            b'\x00{"id":"' + rid.encode() + b'","cmd":"status"}',
        ]
        if self.rng.random() < 0.5:
            return self.rng.choice(choices) + b"\n"
        # Escaped NUL: valid JSON, so it must be answered.
        field = self.rng.choice(["cmd", "game_id", "extra"])
        obj = {"id": rid, "cmd": "download", "game_id": "cnc4"}
        obj[field] = str(obj.get(field, "v")) + "\u0000tail"
        return self.dumps(obj)

    def invalid_utf8(self) -> bytes:
        rid = self.new_id().encode()
        bad = self.rng.choice([b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80",
                               b"\xf8\x88\x80\x80\x80", b"\xc3", b"\xe2\x82", b"\x80\x80"])
        where = self.rng.choice(["cmd", "id", "extra"])
        if where == "cmd":
            return b'{"id":"' + rid + b'","cmd":"' + bad + b'"}\n'
        if where == "id":
            return b'{"id":"' + rid + bad + b'","cmd":"status"}\n'
        return b'{"id":"' + rid + b'","cmd":"status","x":"' + bad + b'"}\n'

    def odd_whitespace(self) -> bytes:
        rid = self.new_id()
        choices = [
            b"\n", b"   \n", b"\t\n", b"\r\n",
            b'{"id":"' + rid.encode() + b'","cmd":"status"}\r\n',
            b'  {"id":"' + rid.encode() + b'" , "cmd" : "list-peers" }  \n',
        ]
        return self.rng.choice(choices)

    def non_string_id(self) -> bytes:
        value = self.rng.choice([5, None, True, [], {"a": 1}, 1.5, -1])
        return self.dumps({"id": value, "cmd": "status"})

    def unicode_id(self) -> bytes:
        rid = self.new_id() + self.rng.choice(["-\u00fc\u00df", "-\U0001f600", "-\u2028\u2029", "-\"q\"", "-\\b", "-\t"])
        return self.dumps({"id": rid, "cmd": "status"})

    def categories(self) -> list:
        return [
            self.invalid_json, self.binary_garbage, self.non_object, self.without_cmd,
            self.unknown_cmd, self.cmd_wrong_type, self.fields_wrong_types, self.huge_id,
            self.over_one_mib, self.deeply_nested, self.nul_bytes, self.invalid_utf8,
            self.odd_whitespace, self.non_string_id, self.unicode_id, self.valid_harmless,
        ]

    def generate(self, count: int) -> list[bytes]:
        cats = self.categories()
        weights = {self.huge_id: 0.4, self.over_one_mib: 0.15, self.deeply_nested: 0.5}
        lines = [cat() for cat in cats]  # every category at least once
        population = cats
        w = [weights.get(cat, 1.0) for cat in cats]
        while len(lines) < count:
            lines.append(self.rng.choices(population, weights=w)[0]())
        # Guarantee one >1 MiB line that carries an id.
        lines[-1] = self.dumps({"id": self.new_id() + "-big", "cmd": "status", "pad": "p" * (1024 * 1024 + 17)})
        return lines


def x1_control_fuzz(sc: Scenario) -> str:
    seed_text = os.environ.get("LANSPREAD_FUZZ_SEED")
    seed = int(seed_text) if seed_text else int(time.time())
    rng = random.Random(seed)
    sc.log(f"fuzz seed {seed} (set LANSPREAD_FUZZ_SEED to replay)")
    peer = sc.peer("x1-fuzz")
    lines = FuzzGen(rng).generate(FUZZ_LINES)
    tracked: list[str] = []
    for line in lines:
        rid = tracked_id(line)
        if rid is not None:
            tracked.append(rid)
    if len(set(tracked)) != len(tracked):
        raise ScenarioError("fuzz generator produced duplicate ids (harness bug)")
    start = peer.output_len()
    with open(sc.log_dir / "fuzz-input.bin", "wb") as handle:
        for line in lines:
            handle.write(line)
    for line in lines:
        peer.write_raw(line)
    sent_bytes = sum(len(line) for line in lines)

    pending = set(tracked)
    deadline = time.monotonic() + FUZZ_REPLY_TIMEOUT
    scanned = start
    bad_replies: list[str] = []
    while pending:
        with peer.condition:
            items = peer.output[scanned:]
            scanned = len(peer.output)
            eof = peer.eof
        for item in items:
            rid = item.get("id")
            if isinstance(rid, str) and rid in pending:
                if item.get("type") not in ("result", "error"):
                    bad_replies.append(f"{rid[:60]}: type={item.get('type')!r}")
                elif item.get("type") == "error" and not isinstance(item.get("error"), str):
                    bad_replies.append(f"{rid[:60]}: error reply without error string")
                pending.discard(rid)
        if not pending or eof or time.monotonic() >= deadline:
            break
        with peer.condition:
            if len(peer.output) == scanned and not peer.eof:
                peer.condition.wait(0.5)
    if not peer.alive():
        raise ScenarioError(
            f"peer died during the fuzz (seed {seed}); status {peer.process.returncode if peer.process else None}\n"
            f"{peer._failure_context()}"
        )
    if pending:
        shown = sorted(rid[:60] for rid in pending)[:10]
        raise ScenarioError(
            f"{len(pending)} of {len(tracked)} id-carrying lines got no reply within "
            f"{FUZZ_REPLY_TIMEOUT:g}s (seed {seed}); e.g. {shown}"
        )
    if bad_replies:
        raise ScenarioError(f"malformed replies (seed {seed}): {bad_replies[:10]}")
    status = peer.status()
    if not isinstance(status.get("active_operations"), list):
        raise ScenarioError(f"status after the fuzz lacks active_operations: {status}")
    leftovers = sorted(os.listdir(peer.host_games_dir))
    if leftovers:
        raise ScenarioError(f"fuzzed commands created entries in the games folder: {leftovers}")
    return (
        f"{len(lines)} fuzz lines ({sent_bytes / 1048576:.1f} MiB, seed {seed}); "
        f"all {len(tracked)} id-carrying lines answered; peer alive; status answered; games folder untouched"
    )


def worker_pids(peer: Any) -> set[int]:
    if peer.process is None or peer.process.poll() is not None:
        return set()
    return set(descendants(peer.process.pid))


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


def x2_raw_tcp_garbage(sc: Scenario) -> str:
    """Raw TCP abuse of a peer's listener; its peers still work after."""
    alpha = sc.peer("x2-alpha", games_dir=fixture_dir("fixture-alpha"), readonly_games=True)
    bravo = sc.peer("x2-bravo")
    assert alpha.ready_addr is not None and alpha.peer_id is not None
    workers = worker_pids(alpha)
    seed_text = os.environ.get("LANSPREAD_FUZZ_SEED")
    seed = int(seed_text) if seed_text else int(time.time())
    rng = random.Random(seed)
    sc.log(f"garbage seed {seed} (set LANSPREAD_FUZZ_SEED to replay)")
    fake_id = "".join(rng.choice("0123456789abcdef") for _ in range(32))
    fake_addr = "127.0.0.250:9"
    hello = T("PEER_HELLO")
    ack = T("PEER_HELLO_ACK")

    # Each case: (what, bytes, half-close after?, must close within s).
    # A listener that waits for a hello closes a silent link at its hello
    # timeout (10 s); what it can refuse at once must go at once.
    cases: list[tuple[str, bytes, bool, float]] = [
        ("random garbage", rng.randbytes(4096), False, 15.0),
        ("garbage with a small header", FRAME_HDR.pack(rng.randrange(1 << 32), 0, 64) + rng.randbytes(64), False, 15.0),
        ("truncated frame (100 announced, 10 sent, closed)", frame(hello, raw=rng.randbytes(10), length=100), True, 3.0),
        ("header announcing 4 GiB-1", frame(hello, raw=b"", length=0xFFFFFFFF), False, 3.0),
        ("hello with protocol 2", frame(hello, hello_body(fake_id, fake_addr, proto=2)), False, 3.0),
        ("hello without a protocol", frame(hello, {"peer_id": fake_id, "name": "x", "addr": fake_addr, "games": []}), False, 3.0),
        ("hello with an invalid MessagePack body", frame(hello, raw=b"\xc1\xc1\xc1\xc1"), False, 3.0),
        ("hello whose body is an array", frame(hello, raw=mp_pack([1, fake_id, "x", fake_addr, []])), False, 3.0),
        ("hello with a truncated body", frame(hello, raw=mp_pack(hello_body(fake_id, fake_addr))[:-3]), False, 3.0),
        ("hello with wrong field types", frame(hello, {"proto": 1, "peer_id": 5, "name": [], "addr": True, "games": "x"}), False, 3.0),
        ("hello with a bad peer id", frame(hello, hello_body("XYZ" * 11 + "Q", fake_addr)), False, 3.0),
        ("hello with a bad address", frame(hello, hello_body(fake_id, "nonsense")), False, 3.0),
        ("hello with a bad game list", frame(hello, hello_body(fake_id, fake_addr, games=[{"id": "../x", "version": 1}])), False, 3.0),
        ("hello claiming 2^32-1 games", frame(hello, raw=mp_pack(hello_body(fake_id, fake_addr))[:-1] + b"\xdd\xff\xff\xff\xff"), False, 3.0),
        ("hello nested 10000 deep", frame(hello, raw=b"\x81\xa1a" + b"\x91" * 10000 + b"\x01"), False, 3.0),
        ("hello bearing the listener's own id", frame(hello, hello_body(alpha.peer_id, fake_addr)), False, 3.0),
        ("a ping before any hello", frame(T("PEER_PING")), False, 3.0),
        ("a hello ack to a listener", frame(ack, hello_body(fake_id, fake_addr)), False, 3.0),
        ("an unknown frame type", frame(0xDEADBEEF), False, 3.0),
        ("a transfer link of protocol 99", frame(T("PEER_XFER_OPEN"), {"proto": 99, "peer_id": fake_id}), False, 3.0),
    ]
    problems = []
    opened = []
    for what, data, half_close, within in cases:
        wire = Wire(alpha.ready_addr)
        try:
            wire.send(data)
        except OSError as exc:
            sc.log(f"{what}: send stopped early ({exc}); the peer closed first")
        if half_close:
            wire.sock.shutdown(socket.SHUT_WR)
        opened.append((what, wire, within, time.monotonic()))
    # A transfer link, then garbage on it: accepted, then closed.
    xfer = Wire(alpha.ready_addr)
    xfer.send_frame(T("PEER_XFER_OPEN"), {"proto": 1, "peer_id": fake_id})
    type_, _body = xfer.recv_frame()
    if type_ != T("PEER_XFER_ACCEPT"):
        problems.append(f"transfer open answered with frame type {type_}")
    xfer.send(rng.randbytes(2048))
    opened.append(("garbage on a transfer link", xfer, 3.0, time.monotonic()))
    xfer2 = Wire(alpha.ready_addr)
    xfer2.send_frame(T("PEER_XFER_OPEN"), {"proto": 1, "peer_id": fake_id})
    xfer2.recv_frame()
    xfer2.send(frame(T("PEER_CHUNK_REQ"), raw=b"", length=0xFFFFFFFF))
    opened.append(("4 GiB-1 header on a transfer link", xfer2, 3.0, time.monotonic()))

    # Connections that never speak, held open while the peers work.
    silent = [Wire(alpha.ready_addr) for _ in range(200)]
    silent_since = time.monotonic()
    try:
        for what, wire, within, since in opened:
            closed, types = wire.wait_closed(max(0.1, since + within - time.monotonic()))
            if not closed:
                problems.append(f"{what}: link still open after {within:g}s")
            if ack in types or hello in types:
                problems.append(f"{what}: the listener answered with a hello (frames {types})")
            wire.close()
        if problems:
            raise ScenarioError("; ".join(problems))
        alpha.status()
        bravo.connect_to(alpha)
        for game_id in ("alienswarm", "bf1942", "ggoo"):
            wait_remote_game(bravo, game_id, peer_count=1, version=CATALOG_VERSIONS[game_id], timeout=10)
        peers = [p["peer_id"] for p in alpha.list_peers()]
        if peers != [bravo.peer_id]:
            raise ScenarioError(f"{alpha.name} lists peers {peers}; expected only {bravo.name} ({bravo.peer_id})")
        during = time.monotonic() - silent_since
        # The silent links go at the listener's hello timeout, not later.
        open_after = 0
        for wire in silent:
            closed, _types = wire.wait_closed(max(0.1, silent_since + 15.0 - time.monotonic()))
            open_after += not closed
        if open_after:
            raise ScenarioError(f"{open_after} of 200 silent connections still open 15 s after they were made")
        silent_gone = time.monotonic() - silent_since
    finally:
        for wire in silent:
            wire.close()
    if worker_pids(alpha) != workers:
        raise ScenarioError(f"{alpha.name}'s workers changed: {sorted(workers)} -> {sorted(worker_pids(alpha))}")
    alpha.status()
    if [p["peer_id"] for p in bravo.list_peers()] != [alpha.peer_id]:
        raise ScenarioError(f"{bravo.name} lost {alpha.name}: {bravo.list_peers()}")
    wait_remote_game(bravo, "alienswarm", peer_count=1, timeout=5)
    return (
        f"{len(opened)} hostile connections all closed by the listener without a hello answer "
        f"(seed {seed}); with 200 silent connections open, status answered and {bravo.name} "
        f"connected and saw alpha's 3 games ({during * 1000:.0f} ms); the silent ones were dropped by "
        f"{silent_gone:.1f}s; workers unchanged, link still up"
    )


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


def _hostile_chunks(game_id: str, eti: str, eti_size: int, big_size: int) -> list[tuple[str, dict[str, Any]]]:
    def req(path: str, offset: int = 0, length: int = 16, gid: str = game_id) -> dict[str, Any]:
        return {"game_id": gid, "path": path, "offset": offset, "length": length}

    return [
        ("dot-dot out of the folder", req("../../etc/passwd")),
        ("absolute path", req("/etc/passwd")),
        ("dot-dot inside the folder", req("local/../version.ini", length=4)),
        ("the installed game", req("local/x", length=4)),
        ("install staging", req(".local.installing/x", length=4)),
        ("our metadata", req(".lanspread.json", length=2)),
        ("symlink to /etc/passwd", req("link.bin")),
        ("through a symlinked dir", req("linkdir/passwd")),
        ("a directory", req("subdir", length=0)),
        ("offset past the end", req(eti, offset=eti_size + 1, length=0)),
        ("length over the end", req(eti, offset=eti_size - 10, length=11)),
        ("offset at 2^64-1", req(eti, offset=2**64 - 1, length=1)),
        ("length over 128 MiB", req("big.bin", offset=0, length=CHUNK_SIZE + 1)),
        ("game id ../x", req("version.ini", gid="../x", length=4)),
        ("game id /etc", req("passwd", gid="/etc", length=4)),
        ("game without its sentinel", req("ggoo.eti", gid="ggoo", length=4)),
        ("game not in the catalog", req("version.ini", gid="zzunknown", length=2)),
        ("negative offset", {"game_id": game_id, "path": eti, "offset": -1, "length": 4}),
        ("missing fields", {"game_id": game_id, "path": eti}),
        ("path over 4096 bytes", req("a" * 5000, length=1)),
    ]


def x4_hostile_chunk_requests_tcp(sc: Scenario) -> str:
    """Hostile chunk requests over a real transfer link: each refused with
    PEER_ERROR and no bytes; the link still serves a good request."""
    games = sc.fixture_root / "x4-source"
    copy_game("cnc4", games)
    root = games / "cnc4"
    (root / "link.bin").symlink_to("/etc/passwd")
    (root / "linkdir").symlink_to("/etc")
    (root / "subdir").mkdir()
    (root / "local").mkdir()
    (root / "local" / "x").write_bytes(b"installed game\n")
    (root / ".local.installing").mkdir()
    (root / ".local.installing" / "x").write_bytes(b"staging\n")
    (root / ".lanspread.json").write_bytes(b"{}\n")
    with (root / "big.bin").open("wb") as handle:
        handle.truncate(CHUNK_SIZE + 4096)
    copy_game("ggoo", games)
    (games / "ggoo" / "version.ini").unlink()
    (games / "zzunknown").mkdir()
    (games / "zzunknown" / "version.ini").write_text("1\n")
    eti = "cnc4.eti"
    eti_bytes = (root / eti).read_bytes()
    source = sc.peer("x4-source", games_dir=games)
    assert source.ready_addr is not None
    workers = worker_pids(source)
    wire = Wire(source.ready_addr)
    try:
        wire.send_frame(T("PEER_XFER_OPEN"), {"proto": 1, "peer_id": "0123456789abcdef0123456789abcdef"})
        type_, _ = wire.recv_frame()
        if type_ != T("PEER_XFER_ACCEPT"):
            raise ScenarioError(f"transfer open answered with frame type {type_}")
        wire.send_frame(T("PEER_FILES_REQ"), {"game_id": "cnc4"})
        type_, body = wire.recv_frame()
        want = servable_files(root)
        if type_ != T("PEER_FILES") or body.get("game_id") != "cnc4" or body.get("files") != want:
            raise ScenarioError(f"file list: type {type_} body {body}; expected {want}")
        refused = []
        for what, request in _hostile_chunks("cnc4", eti, len(eti_bytes), CHUNK_SIZE + 4096):
            wire.send_frame(T("PEER_CHUNK_REQ"), request)
            type_, body = wire.recv_frame()
            if type_ != T("PEER_ERROR") or not isinstance(body, dict) or not body.get("error"):
                raise ScenarioError(f"{what}: answered with frame type {type_} {str(body)[:200]}")
            stray = wire.quiet(0.2)
            if stray is not None:
                raise ScenarioError(f"{what}: refused, then {stray}")
            refused.append(f"{what}: {body['error']}")
        sc.log("refusals:\n  " + "\n  ".join(refused))
        checks = [(1000, 5000), (0, len(eti_bytes)), (len(eti_bytes) - 1, 1), (len(eti_bytes), 0)]
        for offset, length in checks:
            wire.send_frame(T("PEER_CHUNK_REQ"), {"game_id": "cnc4", "path": eti, "offset": offset, "length": length})
            type_, body = wire.recv_frame()
            expect = {"game_id": "cnc4", "path": eti, "offset": offset, "length": length}
            if type_ != T("PEER_CHUNK") or body != expect:
                raise ScenarioError(f"good request answered with type {type_} {body}")
            data = wire.recv_exact(length, 10.0)
            if data != eti_bytes[offset : offset + length]:
                raise ScenarioError(f"chunk {offset}+{length}: bytes differ from the file")
            stray = wire.quiet(0.2)
            if stray is not None:
                raise ScenarioError(f"chunk {offset}+{length}: then {stray}")
    finally:
        wire.close()
    source.status()
    if worker_pids(source) != workers:
        raise ScenarioError(f"{source.name}'s workers changed: {sorted(workers)} -> {sorted(worker_pids(source))}")
    return (
        f"{len(refused)} hostile chunk requests each got PEER_ERROR and no bytes; the same link then "
        f"served {len(checks)} good requests byte-exact; file list had only {[f['path'] for f in want]}"
    )


def _stalling_source(sc: Scenario, name: str, ip: str, root: Path, game_id: str, version: str, mode: str) -> FakePeer:
    """A FakePeer that lists root's files like a real peer, then stalls on
    the first chunk it is asked for: mode "header" never answers it, mode
    "data" sends the chunk header and the first half of the bytes, then
    nothing more."""
    files = servable_files(root)
    fake = FakePeer(sc, name, ip, [game_advert(game_id, version, sum(item["size"] for item in files))])
    stalled = False

    def on_files(conn: socket.socket, body: dict[str, Any]) -> None:
        fake.send(conn, frame(T("PEER_FILES"), {"game_id": body.get("game_id"), "files": files}))

    def on_chunk(conn: socket.socket, body: dict[str, Any]) -> None:
        nonlocal stalled
        if stalled:
            fake.note("a request after the stall")  # the client must not send one
            return
        stalled = True
        if mode == "header":
            return
        with (root / body["path"]).open("rb") as handle:
            handle.seek(body["offset"])
            data = handle.read(body["length"])
        fake.send(conn, frame(T("PEER_CHUNK"), dict(body)) + data[: max(1, len(data) // 2)])

    fake.on_files = on_files
    fake.on_chunk = on_chunk
    return fake


def x5_stalled_source(sc: Scenario) -> str:
    """Two sources in Python stall on their first chunk, one before the
    chunk header, one halfway through the bytes; after the stall timeout
    (15 s) their chunks go to the real source and the download finishes
    with every byte right."""
    game_id = "coh"
    version = CATALOG_VERSIONS[game_id]
    real_dir = sc.fixture_root / "x5-real"
    # 20 small files and version.ini: 21 chunks, spread over 3 sources.
    create_many_small_game(real_dir / game_id)
    root = real_dir / game_id
    nfiles = len(servable_files(root))
    fakes = [
        _stalling_source(sc, "x5-fake-header", "127.0.0.250", root, game_id, version, "header"),
        _stalling_source(sc, "x5-fake-data", "127.0.0.251", root, game_id, version, "data"),
    ]
    try:
        real = sc.peer("x5-real", games_dir=real_dir)
        client = sc.peer("x5-client")
        for fake in fakes:
            client.send({"cmd": "connect", "addr": fake.addr})
        client.connect_to(real)
        client.send({"cmd": "wait-peers", "count": 3, "timeout_ms": 10000})
        wait_remote_game(client, game_id, peer_count=3, version=version)
        start = client.output_len()
        waiter = LineWaiter(start)
        client.send({"cmd": "download", "game_id": game_id, "install": False})
        client.wait_for(event_is("download-begin", game_id), timeout=20, description="download begin", waiter=waiter)
        begun = time.monotonic()
        client.wait_for(event_is("download-finished", game_id), timeout=60, description="download finish", waiter=waiter)
        took = time.monotonic() - begun
        assert_no_event_since(client, start, "download-failed", game_id)
        assert_no_event_since(client, start, "download-peers-gone", game_id)
        stalls = []
        for fake in fakes:
            requests = fake.seen("chunk request")
            if not fake.seen("file list request"):
                raise ScenarioError(f"the client never asked {fake.name} for its file list")
            if not requests:
                raise ScenarioError(f"the client never asked {fake.name} for a chunk (no stall was tested)")
            if fake.seen("a request after the stall"):
                raise ScenarioError(f"the client sent {fake.name} a request before its chunk was done")
            closed = poll(lambda: fake.seen("transfer link closed"), timeout=5, interval=0.1,
                          what=f"the client kept {fake.name}'s stalled transfer link open")
            stalled_for = closed[0][0] - requests[0][0]
            if not 13.0 <= stalled_for <= 30.0:
                raise ScenarioError(
                    f"{fake.name} was dropped {stalled_for:.1f}s after its chunk request; expected ~15 s"
                )
            stalls.append(f"{fake.name} dropped after {stalled_for:.1f}s")
        sources = chunk_sources(client, game_id)
        if sources != {real.ready_addr}:
            raise ScenarioError(f"chunks came from {sources}; expected only {real.ready_addr}")
        chunks = chunk_events(client, game_id)
        if len(chunks) != nfiles:
            raise ScenarioError(f"{len(chunks)} chunk events for {nfiles} one-chunk files")
        assert_no_duplicate_chunks(client, game_id)
        diff_game_dirs(root, client.host_games_dir / game_id)
        wait_no_active(client, game_id)
        return (
            f"{'; '.join(stalls)}; all {nfiles} chunks then came from the real source; download "
            f"finished in {took:.1f}s; diff matched; no failure event"
        )
    finally:
        for fake in fakes:
            fake.close()


EXTRA_SCENARIOS = [
    ("X1-control-fuzz", x1_control_fuzz),
    ("X2-raw-tcp-garbage", x2_raw_tcp_garbage),
    ("X3-mesh-30", x3_mesh_30),
    ("X4-hostile-chunk-requests-tcp", x4_hostile_chunk_requests_tcp),
    ("X5-stalled-source", x5_stalled_source),
]
