"""The control protocol and its clients: 1,000 fuzzed lines on a peer's
JSON-lines control channel (X1), and lanspreadd run from a config file and
driven only by lanspreadctl (X6)."""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from harness import (
    LineWaiter,
    event_is,
    CATALOG_VERSIONS,
    CFG,
    CHUNK_SIZE,
    Scenario,
    ScenarioError,
    connect_many,
    copy_game,
    create_large_sparse_game,
    descendants,
    fixture_dir,
    poll,
    wait_procs_gone,
    wait_remote_game,
    worker_comm,
)


# --------------------------------------------------------------------------
# X1: control-protocol fuzz
# --------------------------------------------------------------------------

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


# --------------------------------------------------------------------------
# X6: the daemon driven by lanspreadctl
# --------------------------------------------------------------------------


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
        res = _ctl(sc, sock, "limit", "upload", "10MiB", "download", "400mbit")
        if res.returncode != 0 or res.stdout != ("upload limit: 10.0 MiB/s\ndownload limit: 47.7 MiB/s\n"
                                                 "upload slots: no cap\n"
                                                 "active downloads: 3 at once, more wait in the queue\n"):
            raise ScenarioError(f"limit answered {res.returncode} {res.stdout!r} {res.stderr!r}")
        res = _ctl(sc, sock, "limit", "upload", "none", "download", "none", "active-downloads", "0")
        if res.returncode != 0 or res.stdout != ("upload limit: none\ndownload limit: none\nupload slots: no cap\n"
                                                 "active downloads: no cap, no queue\n"):
            raise ScenarioError(f"limit none answered {res.returncode} {res.stdout!r}")
        res = _ctl(sc, sock, "limit", "active-downloads", "2")
        if res.returncode != 0 or "active downloads: 2 at once" not in res.stdout:
            raise ScenarioError(f"limit active-downloads 2 answered {res.returncode} {res.stdout!r}")
        res = _ctl(sc, sock, "--json", "status")
        if json.loads(res.stdout)["data"]["limits"].get("max_active_downloads") != 2:
            raise ScenarioError(f"after limit active-downloads 2, status says {res.stdout!r}")
        for bad, rc in (("two", 2), ("1001", 1)):
            res = _ctl(sc, sock, "limit", "active-downloads", bad)
            if res.returncode != rc or "active" not in res.stderr:
                raise ScenarioError(f"limit active-downloads {bad} answered {res.returncode} {res.stderr!r}")
        res = _ctl(sc, sock, "queue")
        if res.returncode != 0 or res.stdout != "no download is queued\n":
            raise ScenarioError(f"queue answered {res.returncode} {res.stdout!r}")
        res = _ctl(sc, sock, "queue", "cnctw", "1")
        if res.returncode != 1 or "is not queued" not in res.stderr:
            raise ScenarioError(f"moving a game that is not queued answered {res.returncode} {res.stderr!r}")
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




# --------------------------------------------------------------------------
# The LAN party in practice (issue 13): lanspreadd from a config file
# --------------------------------------------------------------------------


class _PartyDaemon:
    """A lanspreadd run from a config file written here; stop() ends it
    (SIGTERM to it, or to its process group) and returns its log."""

    def __init__(self, sc: Scenario, name: str, *, listen: str, state_dir: Path | None = None,
                 sock: Path | None = None, extra: str = "", env: dict[str, str] | None = None,
                 games_dir: Path | None = None) -> None:
        self.sc = sc
        self.name = name
        self.games = games_dir or sc.dir / f"{name}-games"
        self.state = state_dir or sc.dir / f"{name}-state"
        self.sock = sock or sc.dir / f"{name}.sock"
        self.conf = sc.dir / f"{name}.conf"
        self.log_path = sc.log_dir / f"{name}.log"
        self.conf.write_text(
            f"# written by {sc.sid}\n"
            f"name = {name}\n"
            f"games_dir = {self.games}\n"
            f"state_dir = {self.state}\n"
            f"catalog = {CFG.catalog_db}\n"
            f"listen = {listen}\n"
            "mdns = no\n"
            "unrar = builtin\n"
            f"control_socket = {self.sock}\n"
            "user =\n" + extra,
            encoding="utf-8",
        )
        self.log = open(self.log_path, "ab")
        full_env = {k: v for k, v in os.environ.items() if k not in ("JOURNAL_STREAM", "INVOCATION_ID")}
        full_env.update(env or {})
        sc.log(f"start lanspreadd {name} ({self.conf})")
        self.proc = subprocess.Popen([str(CFG.build / "lanspreadd"), "-d", "-f", str(self.conf)],
                                     stderr=self.log, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                     env=full_env, start_new_session=True)

    def ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return _ctl(self.sc, self.sock, *args, timeout=timeout)

    def json(self, *args: str) -> dict[str, Any]:
        res = self.ctl("--json", *args)
        if res.returncode != 0:
            raise ScenarioError(f"{self.name}: lanspreadctl {' '.join(args)}: exit {res.returncode} {res.stderr}")
        return json.loads(res.stdout.splitlines()[-1])

    def wait_up(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while self.ctl("status").returncode != 0:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise ScenarioError(f"{self.name}: lanspreadd did not come up:\n{self.log_text()}")
            time.sleep(0.2)

    def log_text(self) -> str:
        self.log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, *, group: bool = False) -> str:
        if self.proc.poll() is None:
            procs = descendants(self.proc.pid)
            if group:
                os.killpg(self.proc.pid, signal.SIGTERM)
            else:
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise ScenarioError(f"{self.name}: lanspreadd did not stop on SIGTERM")
            left = wait_procs_gone(procs.values(), 5)
            if left:
                raise ScenarioError(f"{self.name}: workers survived SIGTERM: {[p.describe() for p in left]}")
        if not self.log.closed:
            self.log.close()
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def _stop_all(daemons: list[_PartyDaemon]) -> None:
    for daemon in reversed(daemons):
        try:
            daemon.stop()
        except ScenarioError:
            pass


def _listens(addr: tuple[str, int]) -> bool:
    import socket
    try:
        with socket.create_connection(addr, timeout=2):
            return True
    except OSError:
        return False


# --------------------------------------------------------------------------
# X60: one daemon per state dir and socket; port 7331 by default
# --------------------------------------------------------------------------


def x60_one_daemon_per_state_and_socket(sc: Scenario) -> str:
    """`listen = 127.0.0.60` (no port) listens on 7331. A second lanspreadd
    on the same state dir, or on the same control socket, exits 1 with
    "lanspreadd is already running (pid N)" and leaves the first one's
    socket working; once the first stops, the same config starts."""
    daemons: list[_PartyDaemon] = []
    try:
        first = _PartyDaemon(sc, "x60-first", listen="127.0.0.60")
        daemons.append(first)
        first.wait_up()
        if not _listens(("127.0.0.60", 7331)):
            raise ScenarioError(f"listen = 127.0.0.60 does not listen on 7331:\n{first.log_text()}")
        want = f"lanspreadd is already running (pid {first.proc.pid})"
        cases = (("same state dir", dict(state_dir=first.state)),
                 ("same control socket", dict(sock=first.sock)))
        for what, kw in cases:
            second = _PartyDaemon(sc, f"x60-second-{len(daemons)}", listen="127.0.0.61:0", **kw)
            daemons.append(second)
            try:
                rc = second.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                raise ScenarioError(f"{what}: a second lanspreadd kept running")
            text = second.stop()
            if rc != 1 or want not in text:
                raise ScenarioError(f"{what}: second daemon exit {rc}, log lacks {want!r}:\n{text}")
            if not first.sock.exists() or first.ctl("status").returncode != 0:
                raise ScenarioError(f"{what}: the first daemon's control socket no longer answers")
        first.stop()
        if first.sock.exists():
            raise ScenarioError("the first daemon left its socket behind")
        again = _PartyDaemon(sc, "x60-again", listen="127.0.0.60", state_dir=first.state, sock=first.sock)
        daemons.append(again)
        again.wait_up()
        again.stop()
    finally:
        _stop_all(daemons)
    return ("listen without a port is 7331; a second daemon on the same state dir or socket exits 1 with "
            "'lanspreadd is already running (pid N)', the first still answers; a restart takes the lock again")



# --------------------------------------------------------------------------
# X61: logs with levels; a clean stop; worker titles
# --------------------------------------------------------------------------

LEVEL_LINE = re.compile(r"^<([3-7])>(lanspreadd|net|transfer|install)\[\d+\]: ")
PLAIN_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} (lanspreadd|net|transfer|install)\[\d+\]: ")


def _worker_titles(pid: int) -> dict[str, str]:
    """comm -> argv[0] of each worker under pid."""
    titles = {}
    for info in descendants(pid).values():
        try:
            argv0 = Path(f"/proc/{info.pid}/cmdline").read_bytes().split(b"\0")[0].decode()
        except OSError:
            continue
        titles[info.comm] = argv0
    return titles


def x61_levels_clean_stop_titles(sc: Scenario) -> str:
    """Started as systemd would (JOURNAL_STREAM names its stderr,
    INVOCATION_ID set): every log line, the workers' too, starts with an
    sd-daemon level <3>..<7>, no time stamp. SIGTERM to the whole process
    group stops it with no worker logged as lost. Workers are titled
    lanspread-net/-transfer/-install (comm and argv[0]). Started by hand,
    lines carry a time and no level."""
    daemons: list[_PartyDaemon] = []
    try:
        log_path = sc.log_dir / "x61-journal.log"
        log_path.touch()
        st = log_path.stat()
        env = {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}", "INVOCATION_ID": "0" * 32}
        # sandbox_optional = yes: a warning at start
        journal = _PartyDaemon(sc, "x61-journal", listen="127.0.0.62:0", env=env,
                               extra="sandbox_optional = yes\n")
        daemons.append(journal)
        journal.wait_up()
        titles = {}
        deadline = time.monotonic() + 10
        want = {worker_comm(r): f"lanspread-{r}" for r in ("net", "transfer", "install")}
        while time.monotonic() < deadline:
            titles = _worker_titles(journal.proc.pid)
            if all(titles.get(c) == t for c, t in want.items()):
                break
            time.sleep(0.2)
        else:
            raise ScenarioError(f"worker titles (comm -> argv[0]) {titles}, wanted {want}")
        # a line from the net worker
        journal.ctl("connect", "127.0.0.1:1")
        text = journal.stop(group=True)
        lines = [line for line in text.splitlines() if line.strip()]
        bad = [line for line in lines if not LEVEL_LINE.match(line)]
        if bad or not lines:
            raise ScenarioError(f"lines without an sd-daemon level prefix: {bad[:5]} (of {len(lines)})")
        levels = {line[1] for line in lines}
        procs = {LEVEL_LINE.match(line).group(2) for line in lines}
        if not {"4", "5", "6"} <= levels or not procs - {"lanspreadd"}:
            raise ScenarioError(f"levels {sorted(levels)} from {sorted(procs)}: wanted warnings and info, "
                                "and worker lines")
        lost = [line for line in lines if "lost" in line or "killed by signal" in line]
        if lost:
            raise ScenarioError(f"SIGTERM to the process group logged a lost worker: {lost}")

        plain = _PartyDaemon(sc, "x61-plain", listen="127.0.0.63:0")
        daemons.append(plain)
        plain.wait_up()
        text = plain.stop(group=True)
        lines = [line for line in text.splitlines() if line.strip()]
        bad = [line for line in lines if not PLAIN_LINE.match(line)]
        if bad or not lines:
            raise ScenarioError(f"by hand, lines without a time or with a level: {bad[:5]}")
        if any("lost" in line for line in lines):
            raise ScenarioError(f"SIGTERM to the process group logged a lost worker: {lines}")
    finally:
        _stop_all(daemons)
    return (f"under systemd every line has a level ({', '.join('<' + l + '>' for l in sorted(levels))}), "
            f"workers included; by hand a time; SIGTERM to the group: no worker lost; titles {sorted(want.values())}")



# --------------------------------------------------------------------------
# X62: lanspreadd -n checks what would stop the daemon, in plain words
# --------------------------------------------------------------------------


def _check_config(sc: Scenario, name: str, body: str) -> subprocess.CompletedProcess[str]:
    conf = sc.dir / f"{name}.conf"
    conf.write_text(body, encoding="utf-8")
    res = subprocess.run([str(CFG.build / "lanspreadd"), "-n", "-f", str(conf)], capture_output=True,
                         text=True, timeout=30)
    sc.log(f"lanspreadd -n {name}: exit {res.returncode}\n{res.stdout}{res.stderr}")
    return res


def x62_config_check(sc: Scenario) -> str:
    """lanspreadd -n says "configuration OK" only for a config that
    starts. A missing user or group, a catalog that is missing,
    unreadable, not SQLite, empty or of the wrong schema, a games folder
    that is a file, and a listen address not on this machine are each
    named, with what to do, never in SQLite's words; exit 1."""
    import sqlite3
    games = sc.dir / "games-ok"
    games.mkdir()
    good = {
        "name": "x62", "games_dir": str(games), "state_dir": str(sc.dir / "state-ok"),
        "catalog": str(CFG.catalog_db), "listen": "127.0.0.64", "mdns": "no",
        "control_socket": str(sc.dir / "x62.sock"), "user": "", "group": "",
    }

    def body(**over: str) -> str:
        return "".join(f"{k} = {v}\n" for k, v in {**good, **over}.items())

    res = _check_config(sc, "good", body())
    if res.returncode != 0 or "configuration OK" not in res.stdout:
        raise ScenarioError(f"a good config was refused: {res.stdout}{res.stderr}")
    not_sqlite = sc.dir / "not-sqlite.db"
    not_sqlite.write_text("id,name,version\nq3,Quake 3,1\n", encoding="utf-8")
    empty = sc.dir / "empty.db"
    empty.write_bytes(b"")
    unreadable = sc.dir / "unreadable.db"
    unreadable.write_bytes(Path(CFG.catalog_db).read_bytes())
    unreadable.chmod(0)
    wrong = sc.dir / "wrong-schema.db"
    with sqlite3.connect(wrong) as db:
        db.execute("CREATE TABLE game (id TEXT, version TEXT)")
    a_file = sc.dir / "a-file"
    a_file.write_text("x", encoding="utf-8")
    cases = [
        ("bad user", dict(user="no-such-user-x62"), ["user no-such-user-x62 does not exist", "useradd"]),
        ("bad group", dict(user="nobody", group="no-such-group-x62"), ["group no-such-group-x62 does not exist", "groupadd"]),
        ("missing catalog", dict(catalog=str(sc.dir / "missing.db")), ["does not exist", "sqlite3"]),
        ("not sqlite", dict(catalog=str(not_sqlite)), ["is not an SQLite database", "sqlite3"]),
        ("empty catalog", dict(catalog=str(empty)), ["is not an SQLite database (it is empty)"]),
        ("wrong schema", dict(catalog=str(wrong)), ["wrong schema", "games", "id, name and version"]),
        ("games folder a file", dict(games_dir=str(a_file)), ["is not a folder"]),
        ("foreign address", dict(listen="192.0.2.77:7331"), ["is not an address of this machine"]),
    ]
    # root reads anything: the unreadable catalog is tried as nobody
    if os.geteuid() != 0:
        cases.append(("unreadable catalog", dict(catalog=str(unreadable)), ["cannot be read", "chmod"]))
    sqlite_words = ("unable to open database file", "disk I/O error", "file is not a database",
                    "no such table")
    for what, over, wants in cases:
        res = _check_config(sc, what.replace(" ", "-"), body(**over))
        if res.returncode != 1 or "configuration OK" in res.stdout:
            raise ScenarioError(f"{what}: exit {res.returncode} {res.stdout!r}, wanted a refusal")
        missing = [w for w in wants if w not in res.stderr]
        if missing or any(w in res.stderr for w in sqlite_words):
            raise ScenarioError(f"{what}: message {res.stderr!r} lacks {missing} or speaks SQLite's words")
    if os.geteuid() == 0:
        conf = sc.dir / "unreadable.conf"
        conf.write_text(body(catalog=str(unreadable)), encoding="utf-8")
        conf.chmod(0o644)
        sc.dir.chmod(0o755)
        res = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                              str(CFG.build / "lanspreadd"), "-n", "-f", str(conf)],
                             capture_output=True, text=True, timeout=30)
        sc.log(f"as nobody: exit {res.returncode}\n{res.stdout}{res.stderr}")
        if res.returncode != 1 or "cannot be read" not in res.stderr or "chmod" not in res.stderr:
            raise ScenarioError(f"unreadable catalog as nobody: {res.returncode} {res.stderr!r}")
    # The daemon itself says the same at start.
    daemon = _PartyDaemon(sc, "x62-daemon", listen="127.0.0.64:0", extra=f"catalog = {not_sqlite}\n")
    try:
        rc = daemon.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        daemon.stop()
        raise ScenarioError("lanspreadd started with a catalog that is not SQLite")
    text = daemon.stop()
    if rc != 1 or "is not an SQLite database" not in text:
        raise ScenarioError(f"lanspreadd with a CSV catalog: exit {rc}, log {text!r}")
    return (f"-n: OK for a good config; {len(cases) + (os.geteuid() == 0)} bad ones each named with the fix "
            "(user, group, catalog missing/unreadable/not SQLite/empty/wrong schema, games folder, address), "
            "exit 1; the daemon says the same at start")



# --------------------------------------------------------------------------
# X64: connect succeeds when both sides dial each other at once
# --------------------------------------------------------------------------


def _raw_request(peer: Any, payload: dict[str, Any]) -> str:
    rid = peer.next_request_id()
    line = json.dumps({**payload, "id": rid}, separators=(",", ":")) + "\n"
    peer.write_raw(line.encode("utf-8"))
    return rid


def _reply(peer: Any, rid: str, timeout: float = 30) -> dict[str, Any]:
    return peer.wait_for(lambda item: item.get("id") == rid and item.get("type") in ("result", "error"),
                         timeout=timeout, description=f"reply {rid}")


def _wait_linked(peers: list[Any], want: int, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while True:
        counts = [len(p.list_peers()) for p in peers]
        if all(c == want for c in counts):
            return
        if time.monotonic() > deadline:
            raise ScenarioError(f"peers see {counts} peers, wanted {want} each")
        time.sleep(0.1)


def x64_connect_both_ways_at_once(sc: Scenario) -> str:
    """Four peers dial every other one, both ways at the same moment,
    over several rounds (disconnecting all between them): every connect
    that ends with the peers linked replies with a result, never an
    error, and every peer lists the other three."""
    peers = [sc.peer(f"x64-{n}") for n in range(4)]
    rounds, connects, errors = 6, 0, []
    for rnd in range(rounds):
        pending = []
        for a in range(len(peers)):
            for b in range(a + 1, len(peers)):
                pa, pb = peers[a], peers[b]
                pending.append((pa, _raw_request(pa, {"cmd": "connect", "addr": pb.ready_addr})))
                pending.append((pb, _raw_request(pb, {"cmd": "connect", "addr": pa.ready_addr})))
        for peer, rid in pending:
            reply = _reply(peer, rid)
            connects += 1
            if reply["type"] != "result":
                errors.append(f"round {rnd} {peer.name}: {reply.get('error')}")
        _wait_linked(peers, len(peers) - 1)
        if errors:
            raise ScenarioError(f"{len(errors)} of {connects} connects replied an error although the peers "
                                f"linked: {errors[:6]}")
        for a in range(len(peers)):
            for b in range(a + 1, len(peers)):
                peers[a].send({"cmd": "disconnect", "peer": peers[b].ready_addr})
        _wait_linked(peers, 0)
    return f"{connects} connects over {rounds} rounds, each pair dialled both ways at once: all results, all linked"



# --------------------------------------------------------------------------
# X65: lanspreadctl disconnect PEER
# --------------------------------------------------------------------------


def x65_disconnect(sc: Scenario) -> str:
    """lanspreadctl disconnect drops one peer, named by address, id or
    name: both sides forget the link (the peer got a goodbye) and its games
    leave `games`; an unknown peer is an error, exit 1."""
    source = sc.peer("x65-source", games_dir=fixture_dir("fixture-bravo"), readonly_games=True)
    other = sc.peer("x65-other", games_dir=fixture_dir("fixture-alpha"), readonly_games=True)
    daemon = _PartyDaemon(sc, "x65-daemon", listen="127.0.0.66:0")
    try:
        daemon.wait_up()
        how = []
        for key in ("addr", "peer_id", "name"):
            for peer in (source, other):
                res = daemon.ctl("connect", peer.ready_addr or "")
                if res.returncode != 0:
                    raise ScenarioError(f"connect {peer.name}: {res.stderr}")
            deadline = time.monotonic() + 15
            while len(daemon.json("peers")["data"]["peers"]) != 2:
                if time.monotonic() > deadline:
                    raise ScenarioError("the daemon never listed both peers")
                time.sleep(0.1)
            row = next(p for p in daemon.json("peers")["data"]["peers"] if p["addr"] == source.ready_addr)
            res = daemon.ctl("disconnect", row[key])
            if res.returncode != 0 or f"disconnected x65-source ({row['peer_id']})" not in res.stdout:
                raise ScenarioError(f"disconnect by {key}: exit {res.returncode} {res.stdout!r} {res.stderr!r}")
            peers = daemon.json("peers")["data"]["peers"]
            if [p["name"] for p in peers] != ["x65-other"]:
                raise ScenarioError(f"after disconnect by {key} the daemon lists {peers}")
            remote = {g["id"] for g in daemon.json("games")["data"]["remote"]}
            if "cnc4" in remote or "bf1942" not in remote:
                raise ScenarioError(f"after disconnect by {key} games shows {sorted(remote)}")
            deadline = time.monotonic() + 10
            while source.list_peers():
                if time.monotonic() > deadline:
                    raise ScenarioError(f"the source still lists the daemon: {source.list_peers()}")
                time.sleep(0.1)
            if not other.list_peers():
                raise ScenarioError("the other peer lost its link too")
            how.append(key)
            res = daemon.ctl("disconnect", other.ready_addr or "")
            if res.returncode != 0:
                raise ScenarioError(f"disconnect other: {res.stderr}")
        res = daemon.ctl("disconnect", "127.0.0.1:9")
        if res.returncode != 1 or "no connected peer 127.0.0.1:9" not in res.stderr:
            raise ScenarioError(f"disconnect of an unknown peer: exit {res.returncode} {res.stderr!r}")
        log = daemon.stop()
        if "lost" in log:
            raise ScenarioError("a worker was lost")
    finally:
        _stop_all([daemon])
    return (f"disconnect by {', '.join(how)}: that peer alone is gone on both sides with its games; "
            "an unknown peer: exit 1 'no connected peer'")


# --------------------------------------------------------------------------
# X66: play --force applies first-play settings again
# --------------------------------------------------------------------------


def x66_play_force(sc: Scenario) -> str:
    """After a first play with a typo, a second play says it was applied
    already (and how to force it); play --force writes the new name and
    language, and the PersonaName line keeps its CRLF and the rest of the
    ini its bytes."""
    games = sc.dir / "x66-games"
    copy_game("css", games)
    daemon = _PartyDaemon(sc, "x66-daemon", listen="127.0.0.67:0", games_dir=games)
    try:
        daemon.wait_up()
        res = daemon.ctl("install", "css")
        if res.returncode != 0:
            raise ScenarioError(f"install css: {res.stdout}{res.stderr}")
        local = games / "css" / "local"
        ini = local / "engine/bin/win64/steam_settings/SmartSteamEmu.ini"
        res = daemon.ctl("play", "css", "--user", "Lan Hreo", "--language", "englsh")
        if res.returncode != 0 or "launch settings applied" not in res.stdout:
            raise ScenarioError(f"first play: {res.stdout}{res.stderr}")
        res = daemon.ctl("play", "css", "--user", "Lan Hero", "--language", "english")
        if res.returncode != 0 or "earlier play" not in res.stdout or "--force" not in res.stdout:
            raise ScenarioError(f"second play: {res.stdout!r}")
        if (local / "profiles/local/account_name.txt").read_text() != "Lan Hreo":
            raise ScenarioError("a second play without --force changed the account name")
        res = daemon.ctl("--json", "play", "css", "--user", "Lan Hero", "--language", "english", "--force")
        outcome = json.loads(res.stdout.splitlines()[-1])["data"]["outcome"] if res.returncode == 0 else {}
        if outcome != {"already_applied": False, "account_name_written": True, "language_written": True,
                       "persona_name_written": True}:
            raise ScenarioError(f"play --force: {res.stdout}{res.stderr}")
        account = (local / "profiles/local/account_name.txt").read_text()
        language = (local / "profiles/local/language.txt").read_text()
        want_ini = b"[Settings]\r\nAppId = 240\r\nPersonaName = Lan Hero\r\nLanguage = english\r\n"
        if account != "Lan Hero" or language != "english" or ini.read_bytes() != want_ini:
            raise ScenarioError(f"after --force: {account!r} {language!r} {ini.read_bytes()!r}")
        res = daemon.ctl("play", "css", "--user", "Other", "--language", "german")
        if "earlier play" not in res.stdout:
            raise ScenarioError(f"a play after --force: {res.stdout!r}")
    finally:
        _stop_all([daemon])
    return "typo at first play; second play 'applied at an earlier play; --force ...'; --force rewrote name, language and PersonaName (CRLF kept)"


# --------------------------------------------------------------------------
# X68: the upload limit holds, and changes live
# --------------------------------------------------------------------------

MIB = 1 << 20


def _limited_download(sc: Scenario, tag: str, change_at: float | None = None,
                      limit: str = "upload") -> list[tuple[float, int]]:
    """A source limited to 50 MiB/s, a client downloading its 1.5 GiB game;
    change_at seconds after the first progress event the source's limit
    becomes 100MiB. Returns (seconds since the request, bytes) for each
    progress event, and (when, -1) for the change."""
    games = sc.fixture_root / f"x68-{tag}"
    create_large_sparse_game(games / "bf1942", size=12 * CHUNK_SIZE)
    flag = ["--" + limit + "-limit", "50MiB"]
    source = sc.peer(f"x68-{tag}-source", games_dir=games, extra_args=flag if limit == "upload" else [])
    client = sc.peer(f"x68-{tag}-client", extra_args=flag if limit == "download" else [])
    limited = source if limit == "upload" else client
    connect_many(client, [source])
    wait_remote_game(client, "bf1942", peer_count=1, version=CATALOG_VERSIONS["bf1942"], timeout=60)
    # Served once hashed: the clock starts with bytes, not with hashing.
    poll(lambda: not source.status().get("hashing"), timeout=60, what="the source never finished hashing")
    mark = client.mark()
    began = time.monotonic()
    client.send({"cmd": "download", "game_id": "bf1942", "install": False})
    samples = []
    changed = change_at is None
    while True:
        item = client.wait_for(
            lambda i: i.get("type") == "event" and i.get("event") in
            ("download-progress", "download-finished", "download-failed")
            and (i.get("data") or {}).get("game_id") == "bf1942",
            timeout=120, description="download progress", waiter=mark)
        now = time.monotonic() - began
        if item["event"] == "download-failed":
            raise ScenarioError(f"{tag}: {item}")
        if item["event"] == "download-finished":
            samples.append((now, 12 * CHUNK_SIZE))
            return samples
        samples.append((now, item["data"]["bytes"]))
        if not changed and now >= samples[0][0] + change_at:
            reply = limited.send({"cmd": "limit", limit: "100MiB"})
            if reply["data"][f"{limit}_bytes_per_s"] != 100 * MIB:
                raise ScenarioError(f"limit answered {reply}")
            samples.append((time.monotonic() - began, -1))  # the change
            changed = True


def _rate(samples: list[tuple[float, int]], t0: float, t1: float) -> float:
    """MiB/s between the first sample after t0 and the last before t1."""
    inside = [(t, b) for t, b in samples if t0 <= t <= t1 and b >= 0]
    if len(inside) < 4:
        raise ScenarioError(f"too few progress events between {t0:.1f} s and {t1:.1f} s: {inside}")
    (ta, ba), (tb, bb) = inside[0], inside[-1]
    return (bb - ba) / MIB / (tb - ta)


def x68_upload_limit(sc: Scenario) -> str:
    """upload_limit = 50MiB (lanspread-peer --upload-limit) holds within
    10 % over a 1.5 GiB loopback download; set to 100MiB live half way
    (the limit command), the rest goes at 100 MiB/s within 10 %. The
    same for the receiver's download limit."""
    steady = _limited_download(sc, "steady")
    rate = _rate(steady, steady[0][0] + 1.0, steady[-1][0] - 0.5)
    if not 45 <= rate <= 55:
        raise ScenarioError(f"a 50 MiB/s upload limit gave {rate:.1f} MiB/s")
    live = _limited_download(sc, "live", change_at=9.0)
    switch = next(t for t, b in live if b < 0)
    before = _rate(live, live[0][0] + 1.0, switch)
    after = _rate(live, switch + 1.5, live[-1][0] - 0.5)
    if not 45 <= before <= 55 or not 90 <= after <= 110:
        raise ScenarioError(f"live change: {before:.1f} MiB/s before, {after:.1f} MiB/s after (want 50, 100)")
    down = _limited_download(sc, "down", change_at=9.0, limit="download")
    switch_down = next(t for t, b in down if b < 0)
    down_before = _rate(down, down[0][0] + 1.0, switch_down)
    down_after = _rate(down, switch_down + 1.5, down[-1][0] - 0.5)
    if not 45 <= down_before <= 55 or not 90 <= down_after <= 110:
        raise ScenarioError(f"download limit: {down_before:.1f} MiB/s before, {down_after:.1f} MiB/s after "
                            "(want 50, 100)")
    return (f"50MiB upload limit: {rate:.1f} MiB/s over 1.5 GiB; changed live at {switch:.1f} s: "
            f"{before:.1f} MiB/s, then {after:.1f} MiB/s; download limit 50MiB then 100MiB live: "
            f"{down_before:.1f}, then {down_after:.1f} MiB/s")


# --------------------------------------------------------------------------
# X86: upload_slots, how many peers a source uploads to at once (X87: that
# it serves them one at a time, once the transfer worker enforces it)
# --------------------------------------------------------------------------


def x86_upload_slots(sc: Scenario) -> str:
    """lanspread-peer --upload-slots 3 shows upload_slots 3 in
    status.limits, and the limit command changes it live; a bad value
    (--upload-slots 1025 or abc, a limit field of -1, 1025, "2" or 1.5)
    is refused naming it and changes nothing. lanspreadd with
    upload_slots = 2 in its config shows 2; lanspreadctl limit
    upload-slots 5 sets 5 live; upload_slots = 2000 stops the daemon with
    an error naming the key."""
    res = subprocess.run([str(CFG.build / "lanspread-peer"), "--upload-slots", "1025"], capture_output=True,
                         text=True, timeout=30)
    if res.returncode != 2 or "--upload-slots must be 0 (no cap) to 1024" not in res.stderr:
        raise ScenarioError(f"--upload-slots 1025: exit {res.returncode} {res.stderr!r}")
    res = subprocess.run([str(CFG.build / "lanspread-peer"), "--upload-slots", "abc"], capture_output=True,
                         text=True, timeout=30)
    if res.returncode != 2 or "--upload-slots" not in res.stderr:
        raise ScenarioError(f"--upload-slots abc: exit {res.returncode} {res.stderr!r}")

    peer = sc.peer("x86-peer", extra_args=["--upload-slots", "3"])
    if peer.status()["limits"].get("upload_slots") != 3:
        raise ScenarioError(f"--upload-slots 3: status.limits is {peer.status()['limits']}")
    reply = peer.send({"cmd": "limit", "upload_slots": 1})["data"]
    if reply.get("upload_slots") != 1 or peer.status()["limits"]["upload_slots"] != 1:
        raise ScenarioError(f"limit upload_slots 1 answered {reply}, status {peer.status()['limits']}")
    for bad in (-1, 1025, "2", 1.5, None):
        err = peer.send({"cmd": "limit", "upload_slots": bad}, expect_error=True)["error"]
        if "upload_slots" not in err:
            raise ScenarioError(f"limit upload_slots {bad!r}: the error {err!r} does not name the field")
    # Another limit leaves the slots as they are.
    reply = peer.send({"cmd": "limit", "upload": "20MiB"})["data"]
    if reply.get("upload_slots") != 1 or peer.status()["limits"]["upload_slots"] != 1:
        raise ScenarioError(f"after bad values and an upload limit: {reply}")
    reply = peer.send({"cmd": "limit", "upload_slots": 0})["data"]
    if reply.get("upload_slots") != 0:
        raise ScenarioError(f"limit upload_slots 0 answered {reply}")

    daemons: list[_PartyDaemon] = []
    try:
        bad = _PartyDaemon(sc, "x86-bad", listen="127.0.0.86:0", extra="upload_slots = 2000\nweb_listen = no\n")
        daemons.append(bad)
        try:
            rc = bad.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            raise ScenarioError("lanspreadd started with upload_slots = 2000")
        text = bad.stop()
        if rc != 1 or "upload_slots: upload_slots must be 0 (no cap) to 1024" not in text:
            raise ScenarioError(f"upload_slots = 2000: exit {rc}, log {text!r}")
        daemon = _PartyDaemon(sc, "x86-daemon", listen="127.0.0.86:0", extra="upload_slots = 2\nweb_listen = no\n")
        daemons.append(daemon)
        daemon.wait_up()
        limits = daemon.json("status")["data"]["limits"]
        if limits.get("upload_slots") != 2:
            raise ScenarioError(f"upload_slots = 2: status.limits is {limits}")
        res = daemon.ctl("limit", "upload-slots", "5")
        if res.returncode != 0 or "upload slots: 5 peers at once" not in res.stdout:
            raise ScenarioError(f"lanspreadctl limit upload-slots 5: exit {res.returncode} {res.stdout!r} {res.stderr!r}")
        limits = daemon.json("status")["data"]["limits"]
        if limits.get("upload_slots") != 5:
            raise ScenarioError(f"after limit upload-slots 5, status.limits is {limits}")
        res = daemon.ctl("limit", "upload-slots", "1025")
        if res.returncode != 1 or "upload_slots" not in res.stderr:
            raise ScenarioError(f"limit upload-slots 1025: exit {res.returncode} {res.stderr!r}")
        res = daemon.ctl("limit")
        if res.returncode != 0 or "upload slots: 5 peers at once" not in res.stdout:
            raise ScenarioError(f"lanspreadctl limit: exit {res.returncode} {res.stdout!r}")
    finally:
        _stop_all(daemons)
    return ("--upload-slots 3 and upload_slots = 2 shown in status.limits; limit set 1, 0 and 5 live; "
            "1025, abc, -1, \"2\", 1.5, null and 2000 refused naming upload_slots")


# --------------------------------------------------------------------------
# X88: a reload applies the limits in the config file
# --------------------------------------------------------------------------


def x88_reload_applies_limits(sc: Scenario) -> str:
    """lanspreadd with upload_limit = 50MiB and upload_slots = 2: a file
    with upload_slots = 2000 reloaded (SIGHUP) changes nothing and logs
    why. The file changed to 100MiB, 4 slots and another listen, SIGHUP:
    status.limits shows 100 MiB/s and 4, the log says "reload:
    upload_limit 50.0 MiB/s -> 100.0 MiB/s" and that listen takes effect
    at the next restart; a download limit set live stays, as its key did
    not change. max_active_downloads = 1 and lanspreadctl reload: 1, and
    the listen change is not logged again."""
    base = "web_listen = no\n"
    daemon = _PartyDaemon(sc, "x88", listen="127.0.0.88:0", extra=base + "upload_limit = 50MiB\nupload_slots = 2\n")
    conf = daemon.conf.read_text(encoding="utf-8")
    try:
        daemon.wait_up()

        def limits() -> dict[str, Any]:
            return daemon.json("status")["data"]["limits"]

        start = limits()
        if start.get("upload_bytes_per_s") != 50 * MIB or start.get("upload_slots") != 2:
            raise ScenarioError(f"at start, status.limits is {start}")
        reply = daemon.json("limit", "download", "20MiB")["data"]
        if reply.get("download_bytes_per_s") != 20 * MIB:
            raise ScenarioError(f"limit download 20MiB answered {reply}")

        daemon.conf.write_text(conf.replace("upload_limit = 50MiB", "upload_limit = 100MiB")
                               .replace("upload_slots = 2", "upload_slots = 2000"), encoding="utf-8")
        daemon.proc.send_signal(signal.SIGHUP)
        why = "upload_slots: upload_slots must be 0 (no cap) to 1024"
        poll(lambda: why in daemon.log_text(), timeout=15, what=lambda: f"a bad reload logged no {why!r}")
        if limits() != {**start, "download": reply["download"], "download_bytes_per_s": 20 * MIB}:
            raise ScenarioError(f"a bad reload changed the limits: {start} -> {limits()}")

        daemon.conf.write_text(conf.replace("upload_limit = 50MiB", "upload_limit = 100MiB")
                               .replace("upload_slots = 2", "upload_slots = 4")
                               .replace("listen = 127.0.0.88:0", "listen = 127.0.0.89:0"), encoding="utf-8")
        daemon.proc.send_signal(signal.SIGHUP)
        now = poll(lambda: (lambda lim: lim if lim.get("upload_slots") == 4 else None)(limits()), timeout=15,
                   what=lambda: f"after SIGHUP, status.limits is {limits()}")
        if now.get("upload_bytes_per_s") != 100 * MIB or now.get("download_bytes_per_s") != 20 * MIB:
            raise ScenarioError(f"after SIGHUP, status.limits is {now}")
        text = daemon.log_text()
        want = ["reload: upload_limit 50.0 MiB/s -> 100.0 MiB/s", "reload: upload_slots 2 -> 4",
                "listen changed; it takes effect at the next restart"]
        missing = [w for w in want if w not in text]
        if missing:
            raise ScenarioError(f"the log lacks {missing}:\n{text}")
        if "download_limit" in text:
            raise ScenarioError(f"download_limit did not change in the file, but the log names it:\n{text}")

        with open(daemon.conf, "a", encoding="utf-8") as f:
            f.write("max_active_downloads = 1\n")
        res = daemon.ctl("reload")
        if res.returncode != 0:
            raise ScenarioError(f"lanspreadctl reload: exit {res.returncode} {res.stdout}{res.stderr}")
        if limits().get("max_active_downloads") != 1:
            raise ScenarioError(f"after max_active_downloads = 1 and reload, status.limits is {limits()}")
        text = daemon.log_text()
        if "reload: max_active_downloads 3 -> 1" not in text:
            raise ScenarioError(f"the log lacks the max_active_downloads change:\n{text}")
        if text.count("listen changed") != 1:
            raise ScenarioError(f"the listen change is not logged once:\n{text}")
    finally:
        _stop_all([daemon])
    return ("a bad file changed nothing and was logged; SIGHUP applied upload_limit 100MiB and upload_slots 4 "
            "(status.limits, log), listen needs a restart, the live download limit stayed; lanspreadctl reload "
            "applied max_active_downloads 1")


def x87_upload_slots_one_at_a_time(sc: Scenario) -> str:
    """NOT YET in expected_pass.txt: the transfer worker's side lands
    separately. Two linked fake peers, A and B, on transfer links of a
    source: A's first link holds an answer of 128 MiB it does not read.
    With upload_slots 0, A's second link waits for it (one answer a peer
    at a time) while B is answered at once; with upload_slots 1 (set
    live), B waits too; once A's first link closes, A's second and then B
    are answered, first come first served."""
    from wire import LinkedFake, T, Wire

    games = sc.fixture_root / "x87"
    create_large_sparse_game(games / "bf1942", size=2 * CHUNK_SIZE)
    source = sc.peer("x87-source", games_dir=games)
    addr = source.ready_addr or ""
    fakes = {"a": LinkedFake(addr, "x87-a", source="127.0.3.87"), "b": LinkedFake(addr, "x87-b", source="127.0.4.87")}
    wires: list[Wire] = []
    small = {"game_id": "bf1942", "path": "bf1942.eti", "offset": 0, "length": 4096}

    def link(who: str) -> Wire:
        wire = Wire(addr, source="127.0.3.87" if who == "a" else "127.0.4.87")
        wires.append(wire)
        wire.send_frame(T("PEER_XFER_OPEN"), fakes[who].xfer_open())
        type_, _ = wire.recv_frame()
        if type_ != T("PEER_XFER_ACCEPT"):
            raise ScenarioError(f"{who}: transfer open answered with frame type {type_}")
        return wire

    def answered(wire: Wire, who: str) -> None:
        type_, body = wire.recv_frame(timeout=5)
        if type_ != T("PEER_CHUNK") or body != small:
            raise ScenarioError(f"{who}: answered with frame type {type_} {body}")
        wire.recv_exact(4096, 5.0)

    def waits(wire: Wire, who: str) -> None:
        stray = wire.quiet(1.5)
        if stray is not None:
            raise ScenarioError(f"{who} was answered ({stray}) while it should wait its turn")

    try:
        a1 = link("a")
        deadline = time.monotonic() + 60
        while True:  # a source still hashing says so; ask again
            a1.send_frame(T("PEER_FILES_REQ"), {"game_id": "bf1942"})
            type_, _ = a1.recv_frame()
            if type_ != T("PEER_FILES_WAIT") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        if type_ != T("PEER_FILES"):
            raise ScenarioError(f"file list answered with frame type {type_}")
        a1.send_frame(T("PEER_CHUNK_REQ"), {**small, "length": CHUNK_SIZE})
        type_, _ = a1.recv_frame()
        if type_ != T("PEER_CHUNK"):
            raise ScenarioError(f"a's big request answered with frame type {type_}")
        a2 = link("a")
        a2.send_frame(T("PEER_CHUNK_REQ"), small)
        waits(a2, "a's second link, with no cap")
        b1 = link("b")
        b1.send_frame(T("PEER_CHUNK_REQ"), small)
        answered(b1, "b, with no cap")
        source.send({"cmd": "limit", "upload_slots": 1})
        b1.send_frame(T("PEER_CHUNK_REQ"), small)
        waits(b1, "b, with 1 slot taken by a")
        a1.close()
        answered(a2, "a's second link once its first closed")
        answered(b1, "b after a's turn")
    finally:
        for wire in wires:
            wire.close()
        for fake in fakes.values():
            fake.close()
    return ("a peer's second link waits for its first answer; with 1 upload slot another peer waits too; "
            "both answered in turn once the first answer ends")


# --------------------------------------------------------------------------
# X69: done_script runs as downloads and installs end
# --------------------------------------------------------------------------


def x69_done_script(sc: Scenario) -> str:
    """lanspread-peer --done-script: a download with install runs it for
    download-finished and install-finished, a cancelled download for
    download-cancelled, each with LANSPREAD_EVENT, LANSPREAD_STATE and
    LANSPREAD_GAME_ID, as the daemon's user and with no descriptor of
    ours but stdout and stderr; a script that fails changes nothing."""
    record = sc.dir / "x69-done.txt"
    script = sc.dir / "x69-done.sh"
    script.write_text("#!/bin/sh\n"
                      f"echo \"$1 $2 $LANSPREAD_EVENT $LANSPREAD_STATE $LANSPREAD_GAME_ID $(id -u) "
                      f"$(ls /proc/$$/fd | wc -l)\" >> {record}\n"
                      "exit 3\n")
    script.chmod(0o755)
    games = sc.fixture_root / "x69"
    copy_game("bf1942", games)
    create_large_sparse_game(games / "cnctw", size=4 * CHUNK_SIZE)
    source = sc.peer("x69-source", games_dir=games, extra_args=["--upload-limit", "20MiB"])
    client = sc.peer("x69-client", extra_args=["--done-script", str(script), "--unrar", "builtin"])
    connect_many(client, [source])
    wait_remote_game(client, "bf1942", peer_count=1, version=CATALOG_VERSIONS["bf1942"], timeout=60)
    wait_remote_game(client, "cnctw", peer_count=1, version=CATALOG_VERSIONS["cnctw"], timeout=60)
    mark = client.mark()
    client.send({"cmd": "download", "game_id": "bf1942", "install": True})
    client.wait_for(lambda i: i.get("event") in ("install-finished", "install-failed", "download-failed")
                    and (i.get("data") or {}).get("game_id") == "bf1942",
                    timeout=60, description="bf1942 installed", waiter=mark)
    mark = client.mark()
    client.send({"cmd": "download", "game_id": "cnctw", "install": False})
    client.wait_for(lambda i: i.get("event") == "download-chunk-finished"
                    and (i.get("data") or {}).get("game_id") == "cnctw",
                    timeout=60, description="a first cnctw chunk", waiter=mark)
    client.send({"cmd": "cancel-download", "game_id": "cnctw"})
    want = [("download-finished", "finished", "bf1942"), ("install-finished", "finished", "bf1942"),
            ("download-cancelled", "cancelled", "cnctw")]
    uid = str(os.getuid())

    def lines() -> list[list[str]]:
        return [line.split() for line in record.read_text().splitlines()] if record.exists() else []

    poll(lambda: len(lines()) >= 3, timeout=10, what=lambda: f"done_script ran {len(lines())} times: {lines()}")
    got = lines()
    for (event, state, game), fields in zip(want, got):
        if fields[:6] != [event, game, event, state, game, uid]:
            raise ScenarioError(f"done_script saw {fields}, wanted {event} {state} {game} as uid {uid}")
        # ls's own, the shell's three and at most one more (the listing).
        if int(fields[6]) > 5:
            raise ScenarioError(f"done_script inherited descriptors: {fields}")
    if len(got) != 3:
        raise ScenarioError(f"done_script ran for {got}")
    if client.status()["active_operations"]:
        raise ScenarioError("an operation is left")
    return f"done_script ran for {', '.join(w[0] for w in want)} with game, state and uid {uid}; its exit 3 changed nothing"


# --------------------------------------------------------------------------
# X79: a download queue
# --------------------------------------------------------------------------


def x79_download_queue(sc: Scenario) -> str:
    """--max-active-downloads 1: of three downloads asked for at once, the
    first runs and two wait as Queued; queue lists them and moves the last
    first; cancel-download of a queued one cancels it with nothing begun;
    when the running one finishes the moved one starts, and finishes."""
    games = sc.fixture_root / "x79"
    for game in ("bf1942", "cnctw", "cod5"):
        create_large_sparse_game(games / game, size=2 * CHUNK_SIZE)
    source = sc.peer("x79-source", games_dir=games, extra_args=["--upload-limit", "64MiB"])
    client = sc.peer("x79-client", extra_args=["--max-active-downloads", "1"])
    connect_many(client, [source])
    for game in ("bf1942", "cnctw", "cod5"):
        wait_remote_game(client, game, peer_count=1, version=CATALOG_VERSIONS[game], timeout=60)
    poll(lambda: not source.status().get("hashing"), timeout=60, what="the source never finished hashing")
    mark = client.mark()
    replies = [client.send({"cmd": "download", "game_id": g, "install": False})["data"]
               for g in ("bf1942", "cnctw", "cod5")]
    if [bool(r.get("queued")) for r in replies] != [False, True, True]:
        raise ScenarioError(f"download replies {replies}: only the first should run")
    ops = {o["game_id"]: o["operation"] for o in client.status()["active_operations"]}
    if ops != {"bf1942": "Downloading", "cnctw": "Queued", "cod5": "Queued"}:
        raise ScenarioError(f"status shows {ops}")
    order = [e["game_id"] for e in client.send({"cmd": "queue"})["data"]["queue"]]
    if order != ["cnctw", "cod5"]:
        raise ScenarioError(f"the queue is {order}")
    order = [e["game_id"] for e in client.send({"cmd": "queue", "game_id": "cod5", "position": 1})["data"]["queue"]]
    if order != ["cod5", "cnctw"]:
        raise ScenarioError(f"after moving cod5 first the queue is {order}")
    client.send({"cmd": "cancel-download", "game_id": "cnctw"})
    client.wait_for(event_is("download-cancelled", "cnctw"), timeout=10, description="cnctw cancelled",
                    waiter=LineWaiter(mark.seen))
    ends = []
    for _ in range(2):
        ended = client.wait_for(lambda i: i.get("type") == "event" and i.get("event") in
                                ("download-finished", "download-failed", "download-peers-gone"),
                                timeout=120, description="a download's end", waiter=mark)
        ends.append((ended["event"], ended["data"]["game_id"]))
    if ends != [("download-finished", "bf1942"), ("download-finished", "cod5")]:
        raise ScenarioError(f"downloads ended {ends}; wanted bf1942 then cod5")
    begun = [i["data"]["game_id"] for i in client.items(0) if i.get("event") == "download-begin"]
    if begun != ["bf1942", "cod5"]:
        raise ScenarioError(f"downloads begun {begun}: a cancelled queued one must not begin")
    if client.status()["active_operations"] or client.send({"cmd": "queue"})["data"]["queue"]:
        raise ScenarioError("operations or a queue left")
    return "3 downloads at max 1: bf1942 ran, cnctw and cod5 Queued; cod5 moved first, cnctw cancelled unbegun; bf1942 then cod5 finished"


# --------------------------------------------------------------------------
# X85: games_group: players can write their installed games
# --------------------------------------------------------------------------


def _tree_modes(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder beneath root (root too): (mode, gid)."""
    out = {".": (root.lstat().st_mode, root.lstat().st_gid)}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        out[str(path.relative_to(root))] = (st.st_mode, st.st_gid)
    return out


def _not_shared(tree: dict[str, tuple[int, int]], gid: int) -> list[str]:
    """The entries of a _tree_modes() that are not the players': gid,
    folders 2775, files 664 (775 executable), none world-writable."""
    import stat
    wrong = []
    for rel, (mode, fgid) in tree.items():
        perm = stat.S_IMODE(mode)
        want = 0o2775 if stat.S_ISDIR(mode) else (0o775 if perm & 0o111 else 0o664)
        if fgid != gid or perm != want or perm & 0o002:
            wrong.append(f"{rel} {perm:o} gid {fgid}")
    return wrong


def x85_games_group(sc: Scenario) -> str:
    """games_group names a group created here: an installed game's local/
    and the settings play writes have that gid and group-write, folders
    2775 (setgid), files 664, nothing world-writable; the archives and
    version.ini keep their mode and group. A game stream-installed from
    another peer gets the same, applied by the install worker once the
    stream is in. Without games_group an install is as before.
    lanspreadd -n, and a start, with a missing group say games_group
    "NAME": no such group."""
    import grp
    import stat
    group = f"lsx85-{os.getpid()}"
    missing = f"lsx85-none-{os.getpid()}"
    subprocess.run(["groupadd", group], check=True, capture_output=True)
    daemons: list[_PartyDaemon] = []
    try:
        gid = grp.getgrnam(group).gr_gid
        base = {
            "name": "x85", "games_dir": str(sc.dir / "x85-check-games"),
            "state_dir": str(sc.dir / "x85-check-state"), "catalog": str(CFG.catalog_db),
            "listen": "127.0.0.85", "mdns": "no", "control_socket": str(sc.dir / "x85-check.sock"),
            "user": "", "group": "",
        }
        res = _check_config(sc, "x85-good", "".join(f"{k} = {v}\n" for k, v in
                                                   {**base, "games_group": group}.items()))
        if res.returncode != 0 or "configuration OK" not in res.stdout:
            raise ScenarioError(f"-n with games_group {group}: {res.stdout}{res.stderr}")
        want_msg = f'games_group "{missing}": no such group'
        res = _check_config(sc, "x85-missing", "".join(f"{k} = {v}\n" for k, v in
                                                      {**base, "games_group": missing}.items()))
        if res.returncode != 1 or want_msg not in res.stderr:
            raise ScenarioError(f"-n with a missing group: exit {res.returncode} {res.stderr!r}")
        bad = _PartyDaemon(sc, "x85-bad", listen="127.0.0.85:0", extra=f"games_group = {missing}\n")
        try:
            rc = bad.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            bad.stop()
            raise ScenarioError("lanspreadd started with a missing games_group")
        text = bad.stop()
        if rc != 1 or want_msg not in text:
            raise ScenarioError(f"lanspreadd with a missing games_group: exit {rc}, log {text!r}")

        shared_games = sc.dir / "x85-shared"
        plain_games = sc.dir / "x85-plain"
        copy_game("css", shared_games)
        copy_game("css", plain_games)
        beside = {p.name: (p.stat().st_mode, p.stat().st_gid) for p in (shared_games / "css").iterdir()}
        shared = _PartyDaemon(sc, "x85-shared", listen="127.0.0.85:0", games_dir=shared_games,
                              extra=f"games_group = {group}\nweb_listen = no\n")
        daemons.append(shared)
        plain = _PartyDaemon(sc, "x85-plain", listen="127.0.0.92:0", games_dir=plain_games,
                             extra="web_listen = no\n")
        daemons.append(plain)
        for daemon in (shared, plain):
            daemon.wait_up()
            res = daemon.ctl("install", "css")
            if res.returncode != 0:
                raise ScenarioError(f"{daemon.name}: install css: {res.stdout}{res.stderr}")
            # play makes the folders of its settings again
            shutil.rmtree(daemon.games / "css" / "local" / "profiles")
            res = daemon.ctl("play", "css", "--user", "Lan Hero", "--language", "german", "--force")
            if res.returncode != 0:
                raise ScenarioError(f"{daemon.name}: play css: {res.stdout}{res.stderr}")
        local = shared_games / "css" / "local"
        tree = _tree_modes(local)
        wrong = _not_shared(tree, gid)
        if wrong or len(tree) < 8:
            raise ScenarioError(f"with games_group {group} (gid {gid}), local/ has {wrong or tree}")
        after = {p.name: (p.stat().st_mode, p.stat().st_gid) for p in (shared_games / "css").iterdir()
                 if p.name != "local"}
        if after != beside:
            raise ScenarioError(f"archives or version.ini changed: {beside} -> {after}")
        plain_tree = _tree_modes(plain_games / "css" / "local")
        wrong = [f"{rel} {stat.S_IMODE(mode):o} gid {fgid}" for rel, (mode, fgid) in plain_tree.items()
                 if fgid == gid or stat.S_IMODE(mode) not in ((0o755,) if stat.S_ISDIR(mode) else (0o644,))]
        if wrong or set(plain_tree) != set(tree):
            raise ScenarioError(f"without games_group, local/ has {wrong or plain_tree}")

        # A streamed install: the transfer worker writes local/, the
        # install worker gives it the group once the stream is in.
        source_games = sc.fixture_root / "x85-source"
        copy_game("cnctw", source_games, version="20160128")
        source = sc.peer("x85-source", games_dir=source_games)
        res = shared.ctl("connect", source.ready_addr or "")
        if res.returncode != 0:
            raise ScenarioError(f"connect to the source: {res.stdout}{res.stderr}")
        poll(lambda: "cnctw" in shared.ctl("games").stdout, timeout=20, what="the shared daemon never saw cnctw")
        res = shared.ctl("stream-install", "cnctw")
        if res.returncode != 0:
            raise ScenarioError(f"stream-install cnctw: {res.stdout}{res.stderr}")
        streamed = shared_games / "cnctw" / "local"
        stream_tree = poll(lambda: (lambda t: t if len(t) >= 3 and not _not_shared(t, gid) else None)(
            _tree_modes(streamed)), timeout=20,
            what=lambda: f"stream-installed local/ is not the group's: {_not_shared(_tree_modes(streamed), gid)}")
        if (shared_games / "cnctw" / "version.ini").exists():
            raise ScenarioError("a streamed install wrote version.ini")
    finally:
        _stop_all(daemons)
        subprocess.run(["groupdel", group], capture_output=True)
    return (f"games_group {group}: {len(tree)} entries of local/ (play's settings too) gid {gid}, folders 2775, "
            f"files 664, none world-writable; archives and version.ini as they were; stream-installed cnctw: "
            f"{len(stream_tree)} entries the same; without it 755/644 as before; -n and a start with a missing "
            f"group: {want_msg}")


CONTROL_SCENARIOS = [
    ("X1-control-fuzz", x1_control_fuzz),
    ("X6-daemon-ctl", x6_daemon_driven_by_lanspreadctl),
    ("X60-one-daemon", x60_one_daemon_per_state_and_socket),
    ("X68-upload-limit", x68_upload_limit),
    ("X86-upload-slots", x86_upload_slots),
    ("X87-upload-slots-serve", x87_upload_slots_one_at_a_time),
    ("X88-reload-limits", x88_reload_applies_limits),
    ("X69-done-script", x69_done_script),
    ("X79-download-queue", x79_download_queue),
    ("X61-log-levels", x61_levels_clean_stop_titles),
    ("X62-config-check", x62_config_check),
    ("X64-connect-race", x64_connect_both_ways_at_once),
    ("X65-disconnect", x65_disconnect),
    ("X66-play-force", x66_play_force),
    ("X85-games-group", x85_games_group),
]
