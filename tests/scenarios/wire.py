"""The peer wire protocol spoken from Python, for scenarios that play a
peer themselves: frames are a little-endian header {type, flags, len}
(uint32 each) and a MessagePack map body; the frame type numbers are read
from common/msg.h (enum msg_type). Wire is one raw connection to a peer's
listener; FakePeer is a listener that answers like a peer and hands the
requests a scenario cares about to its hooks.

Peers prove their identity: Identity is an Ed25519 key pair (Debian's
python3-cryptography) whose peer id is derived from the public key, and
hello_body / ack_body / proof_body make the three frames of a handshake
(the dialler's hello, the listener's ack, the dialler's proof), signed as
common/identity.c signs them."""

from __future__ import annotations

import hashlib
import os
import re
import select
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Any, Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from harness import REPO, Scenario, ScenarioError, split_addr

FRAME_HDR = struct.Struct("<III")
_MSG_TYPES: dict[str, int] = {}


def msg_types() -> dict[str, int]:
    """enum msg_type of common/msg.h as {"MSG_PEER_HELLO": 500, ...}."""
    if _MSG_TYPES:
        return _MSG_TYPES
    text = (REPO / "common" / "msg.h").read_text(encoding="utf-8")
    match = re.search(r"enum\s+msg_type\s*\{(.*?)\};", text, re.S)
    if match is None:
        raise ScenarioError("enum msg_type not found in common/msg.h")
    body = re.sub(r"/\*.*?\*/", "", match.group(1), flags=re.S)
    value = -1
    for item in body.split(","):
        item = item.strip()
        if not item:
            continue
        name, _, expr = item.partition("=")
        name = name.strip()
        value = int(expr.strip(), 0) if expr.strip() else value + 1
        _MSG_TYPES[name] = value
    for needed in ("MSG_PEER_HELLO", "MSG_PEER_XFER_OPEN", "MSG_PEER_CHUNK_REQ", "MSG_PEER_ERROR"):
        if needed not in _MSG_TYPES:
            raise ScenarioError(f"{needed} missing from common/msg.h")
    return _MSG_TYPES


def T(name: str) -> int:
    return msg_types()["MSG_" + name]


def mp_pack(obj: Any) -> bytes:
    """A MessagePack encoder for what our frames hold."""
    if obj is None:
        return b"\xc0"
    if obj is True:
        return b"\xc3"
    if obj is False:
        return b"\xc2"
    if isinstance(obj, int):
        if 0 <= obj < 0x80:
            return bytes([obj])
        if -32 <= obj < 0:
            return struct.pack("b", obj)
        if obj >= 0:
            for tag, fmt, limit in ((0xCC, ">B", 1 << 8), (0xCD, ">H", 1 << 16), (0xCE, ">I", 1 << 32), (0xCF, ">Q", 1 << 64)):
                if obj < limit:
                    return bytes([tag]) + struct.pack(fmt, obj)
        for tag, fmt, limit in ((0xD0, ">b", 1 << 7), (0xD1, ">h", 1 << 15), (0xD2, ">i", 1 << 31), (0xD3, ">q", 1 << 63)):
            if -limit <= obj:
                return bytes([tag]) + struct.pack(fmt, obj)
        raise ValueError("integer out of range")
    if isinstance(obj, str):
        raw = obj.encode("utf-8")
        n = len(raw)
        if n < 32:
            return bytes([0xA0 | n]) + raw
        if n < 1 << 8:
            return b"\xd9" + struct.pack(">B", n) + raw
        if n < 1 << 16:
            return b"\xda" + struct.pack(">H", n) + raw
        return b"\xdb" + struct.pack(">I", n) + raw
    if isinstance(obj, (bytes, bytearray)):
        n = len(obj)
        if n < 1 << 8:
            return b"\xc4" + struct.pack(">B", n) + bytes(obj)
        if n < 1 << 16:
            return b"\xc5" + struct.pack(">H", n) + bytes(obj)
        return b"\xc6" + struct.pack(">I", n) + bytes(obj)
    if isinstance(obj, (list, tuple)):
        n = len(obj)
        head = bytes([0x90 | n]) if n < 16 else (b"\xdc" + struct.pack(">H", n) if n < 1 << 16 else b"\xdd" + struct.pack(">I", n))
        return head + b"".join(mp_pack(item) for item in obj)
    if isinstance(obj, dict):
        n = len(obj)
        head = bytes([0x80 | n]) if n < 16 else (b"\xde" + struct.pack(">H", n) if n < 1 << 16 else b"\xdf" + struct.pack(">I", n))
        return head + b"".join(mp_pack(k) + mp_pack(v) for k, v in obj.items())
    raise TypeError(f"cannot pack {type(obj).__name__}")


def mp_unpack(data: bytes) -> Any:
    """Decodes exactly one MessagePack value that fills data."""
    value, end = _mp_read(data, 0)
    if end != len(data):
        raise ValueError("trailing bytes after a MessagePack value")
    return value


def _mp_read(d: bytes, p: int) -> tuple[Any, int]:
    b = d[p]
    p += 1
    if b <= 0x7F:
        return b, p
    if b >= 0xE0:
        return b - 0x100, p
    if 0x80 <= b <= 0x8F:
        return _mp_map(d, p, b & 0x0F)
    if 0x90 <= b <= 0x9F:
        return _mp_array(d, p, b & 0x0F)
    if 0xA0 <= b <= 0xBF:
        n = b & 0x1F
        return d[p : p + n].decode("utf-8"), p + n
    simple = {0xC0: None, 0xC2: False, 0xC3: True}
    if b in simple:
        return simple[b], p
    fixed = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q", 0xD0: ">b", 0xD1: ">h", 0xD2: ">i", 0xD3: ">q", 0xCA: ">f", 0xCB: ">d"}
    if b in fixed:
        size = struct.calcsize(fixed[b])
        return struct.unpack(fixed[b], d[p : p + size])[0], p + size
    lengths = {0xD9: ">B", 0xDA: ">H", 0xDB: ">I", 0xC4: ">B", 0xC5: ">H", 0xC6: ">I"}
    if b in lengths:
        size = struct.calcsize(lengths[b])
        (n,) = struct.unpack(lengths[b], d[p : p + size])
        p += size
        raw = d[p : p + n]
        if len(raw) != n:
            raise ValueError("truncated MessagePack string")
        return (raw.decode("utf-8") if b >= 0xD9 else bytes(raw)), p + n
    counts = {0xDC: (">H", _mp_array), 0xDD: (">I", _mp_array), 0xDE: (">H", _mp_map), 0xDF: (">I", _mp_map)}
    if b in counts:
        fmt, reader = counts[b]
        size = struct.calcsize(fmt)
        (n,) = struct.unpack(fmt, d[p : p + size])
        return reader(d, p + size, n)
    raise ValueError(f"unsupported MessagePack byte 0x{b:02x}")


def _mp_array(d: bytes, p: int, n: int) -> tuple[list[Any], int]:
    out = []
    for _ in range(n):
        item, p = _mp_read(d, p)
        out.append(item)
    return out, p


def _mp_map(d: bytes, p: int, n: int) -> tuple[dict[Any, Any], int]:
    out = {}
    for _ in range(n):
        key, p = _mp_read(d, p)
        val, p = _mp_read(d, p)
        out[key] = val
    return out, p


def frame(type_: int, body: Any = None, *, raw: bytes | None = None, length: int | None = None) -> bytes:
    """A frame: body packed (a dict by default), or raw bytes as they are;
    length overrides what the header announces."""
    payload = raw if raw is not None else mp_pack({} if body is None else body)
    announced = len(payload) if length is None else length
    return FRAME_HDR.pack(type_, 0, announced) + payload


class Wire:
    """One raw TCP connection to a peer's listener."""

    def __init__(self, addr: str, timeout: float = 5.0, source: str | None = None) -> None:
        """source: the local IP to leave from (any 127.x.y.z on loopback),
        so a scenario can be several hosts."""
        host, port = split_addr(addr)
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_frame(self, type_: int, body: Any = None) -> None:
        self.send(frame(type_, body))

    def recv_exact(self, n: int, timeout: float) -> bytes:
        """Exactly n bytes; ScenarioError on EOF or timeout."""
        deadline = time.monotonic() + timeout
        parts: list[bytes] = []
        got = 0
        while got < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ScenarioError(f"timed out after {timeout:g}s with {got} of {n} bytes")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(min(n - got, 1 << 20))
            except socket.timeout:
                continue
            if not data:
                raise ScenarioError(f"connection closed after {got} of {n} bytes")
            parts.append(data)
            got += len(data)
        return b"".join(parts)

    def recv_frame(self, timeout: float = 5.0) -> tuple[int, Any]:
        type_, flags, length = FRAME_HDR.unpack(self.recv_exact(FRAME_HDR.size, timeout))
        if flags != 0 or length > 16 * 1024 * 1024:
            raise ScenarioError(f"odd frame header type={type_} flags={flags} len={length}")
        body = mp_unpack(self.recv_exact(length, timeout)) if length else None
        return type_, body

    def quiet(self, seconds: float = 0.2) -> str | None:
        """None when nothing arrives for a while; else what did."""
        ready, _, _ = select.select([self.sock], [], [], seconds)
        if not ready:
            return None
        try:
            data = self.sock.recv(4096, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return None
        except OSError as exc:
            return f"error {exc}"
        return f"{len(data)} stray byte(s)" if data else "the connection closed"

    def wait_closed(self, timeout: float) -> tuple[bool, list[int]]:
        """Reads (and decodes nothing) until EOF. (closed?, frame types
        seen at the start of what came)."""
        deadline = time.monotonic() + timeout
        data = b""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False, _frame_types(data)
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                return True, _frame_types(data)
            except OSError:
                return True, _frame_types(data)
            if not chunk:
                return True, _frame_types(data)
            data += chunk


class LinkedFake:
    """A peer played from Python, linked to a real one over a proven hello
    and kept alive (pings answered), so that transfer links it opens are
    bound to it: xfer_open() is the body of their PEER_XFER_OPEN."""

    def __init__(self, addr: str, name: str = "linkedfake", source: str | None = None,
                 games: list[dict[str, Any]] | None = None) -> None:
        msg_types()
        self.ident = Identity()
        self.peer_id = self.ident.peer_id
        self.wire = Wire(addr, source=source)
        self.ack = handshake(self.wire, self.ident, "127.0.0.1:9", games, name=name)
        self.ticket = str(self.ack["ticket"])
        self.stop = False
        threading.Thread(target=self._answer_pings, name=f"{name}-pings", daemon=True).start()

    def xfer_open(self, proto: int | None = None) -> dict[str, Any]:
        return {"proto": XFER_PROTO if proto is None else proto, "peer_id": self.peer_id, "ticket": self.ticket}

    def _answer_pings(self) -> None:
        while not self.stop:
            try:
                type_, body = self.wire.recv_frame(timeout=1.0)
            except ScenarioError as exc:
                if "timed out" in str(exc):
                    continue
                return
            except OSError:
                return
            if type_ == T("PEER_PING"):
                try:
                    self.wire.send_frame(T("PEER_PONG"))
                except OSError:
                    return
            else:
                self.on_frame(type_, body)

    def on_frame(self, type_: int, body: Any) -> None:
        """Any other frame on the peer link: a subclass may keep it."""

    def close(self) -> None:
        """Ends the peer link (its pinger may be inside recv: shut it down
        so the FIN goes now)."""
        self.stop = True
        try:
            self.wire.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.wire.close()


def _frame_types(data: bytes) -> list[int]:
    types = []
    while len(data) >= FRAME_HDR.size:
        type_, _flags, length = FRAME_HDR.unpack(data[: FRAME_HDR.size])
        types.append(type_)
        data = data[FRAME_HDR.size + length :]
    return types


XFER_PROTO = 5  # transfer links: manifests, checked stream entries, tickets, swarm pieces
PEER_PROTO = 4  # hellos: the peer proves its key (2), signed catalogs (3), swarm (4)
PIECE_SIZE = 1 << 20  # what our peers hash a piece of
HELLO_CONTEXT = b"lanspread peer hello v2\0"


def derive_peer_id(public_key: bytes) -> str:
    """The peer id of a public key: the first 16 bytes of its SHA-256."""
    return hashlib.sha256(public_key).digest()[:16].hex()


class Identity:
    """An Ed25519 key pair and the peer id derived from it."""

    def __init__(self, seed: bytes | None = None) -> None:
        self.key = Ed25519PrivateKey.from_private_bytes(seed if seed is not None else os.urandom(32))
        self.public_key = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.peer_id = derive_peer_id(self.public_key)

    @classmethod
    def named(cls, name: str) -> "Identity":
        """The same identity for the same name, run after run."""
        return cls(hashlib.sha256(b"lanspread test identity " + name.encode()).digest())

    def prove(self, role: bytes, challenge_hex: str, verifier_id: str) -> str:
        """The proof of a hello: role b"L" (a listener's ack) or b"D" (a
        dialler's proof), over the verifier's challenge and both ids."""
        return self.key.sign(transcript(role, challenge_hex, self.peer_id, verifier_id)).hex()


def transcript(role: bytes, challenge_hex: str, signer_id: str, verifier_id: str) -> bytes:
    return HELLO_CONTEXT + role + bytes.fromhex(challenge_hex) + signer_id.encode() + verifier_id.encode()


def proof_verifies(public_key_hex: str, role: bytes, challenge_hex: str, signer_id: str, verifier_id: str, proof_hex: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex)).verify(
            bytes.fromhex(proof_hex), transcript(role, challenge_hex, signer_id, verifier_id))
        return True
    except Exception:  # noqa: BLE001 - any failure is "does not verify"
        return False


def new_challenge() -> str:
    return os.urandom(32).hex()


def hello_body(peer_id: str | None, addr: str, games: list[dict[str, Any]] | None = None, proto: int = PEER_PROTO,
               name: str = "rawtest", ident: Identity | None = None, challenge: str | None = None) -> dict[str, Any]:
    """A dialler's hello. ident's key is shown (a new one when None); peer_id
    None claims the id derived from it, anything else claims that id with
    this key. games (not part of a hello) is added only when given."""
    ident = ident or Identity()
    body: dict[str, Any] = {"proto": proto, "peer_id": ident.peer_id if peer_id is None else peer_id, "name": name,
                            "addr": addr, "public_key": ident.public_key.hex(), "challenge": challenge or new_challenge()}
    if games is not None:
        body["games"] = games
    return body


def ack_body(ident: Identity, hello: dict[str, Any], addr: str, games: list[dict[str, Any]], name: str,
             challenge: str) -> dict[str, Any]:
    """A listener's ack to hello: our key, a challenge, the proof over the
    hello's challenge, our library."""
    return {"proto": PEER_PROTO, "peer_id": ident.peer_id, "name": name, "addr": addr,
            "public_key": ident.public_key.hex(), "challenge": challenge,
            "proof": ident.prove(b"L", str(hello.get("challenge", "")), str(hello.get("peer_id", ""))),
            "ticket": os.urandom(16).hex(), "games": games}


def proof_body(ident: Identity, ack: dict[str, Any], games: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A dialler's proof, answering the ack's challenge, with its library."""
    return {"proof": ident.prove(b"D", str(ack["challenge"]), str(ack["peer_id"])), "ticket": os.urandom(16).hex(),
            "games": games or []}


def handshake(wire: "Wire", ident: Identity, addr: str, games: list[dict[str, Any]] | None = None,
              name: str = "rawtest", timeout: float = 5.0) -> dict[str, Any]:
    """Dials as ident over wire: hello, the listener's ack (its proof
    checked), our proof with games. Returns the ack; its "ticket" opens
    transfer links to that listener while this link is up."""
    hello = hello_body(None, addr, ident=ident, name=name)
    wire.send_frame(T("PEER_HELLO"), hello)
    type_, ack = wire.recv_frame(timeout=timeout)
    if type_ != T("PEER_HELLO_ACK") or not isinstance(ack, dict):
        raise ScenarioError(f"hello answered with frame type {type_}")
    if not proof_verifies(ack["public_key"], b"L", hello["challenge"], ack["peer_id"], ident.peer_id, ack["proof"]) \
            or derive_peer_id(bytes.fromhex(ack["public_key"])) != ack["peer_id"]:
        raise ScenarioError(f"the ack of {ack.get('peer_id')} does not prove its key")
    wire.send_frame(T("PEER_HELLO_PROOF"), proof_body(ident, ack, games))
    return ack


def game_advert(game_id: str, version: str, size: int) -> dict[str, Any]:
    return {"id": game_id, "version": version, "availability": "Ready", "downloaded": True, "installed": False, "size": size}


def piece_hashes(path: Path, piece_size: int = PIECE_SIZE) -> bytes:
    """The SHA-256 of every piece of a file, one after the other."""
    out = b""
    with path.open("rb") as handle:
        while True:
            piece = handle.read(piece_size)
            if not piece:
                return out
            out += hashlib.sha256(piece).digest()


def manifest_body(game_id: str, version: str, files: list[dict[str, Any]]) -> dict[str, Any]:
    """A PEER_FILES answer: the game's manifest."""
    return {"game_id": game_id, "version": version, "piece_size": PIECE_SIZE, "files": files}


def servable_files(game_root: Path) -> list[dict[str, Any]]:
    """What a peer lists for a game folder, with each file's piece hashes:
    regular files (no symlinks, not under local/ or .local.installing/, no
    .lanspread* component), sorted by path bytes."""
    files = []
    for dirpath, dirnames, filenames in os.walk(game_root):
        rel_dir = Path(dirpath).relative_to(game_root)
        for name in filenames:
            path = Path(dirpath) / name
            rel = (rel_dir / name).as_posix()
            parts = rel.split("/")
            if parts[0] in ("local", ".local.installing") or any(part.startswith(".lanspread") for part in parts):
                continue
            if path.is_symlink() or not path.is_file():
                continue
            files.append({"path": rel, "size": path.stat().st_size, "hashes": piece_hashes(path)})
        dirnames[:] = [d for d in dirnames if not (Path(dirpath) / d).is_symlink()]
    files.sort(key=lambda item: item["path"].encode())
    return files


Hook = Callable[[socket.socket, dict[str, Any]], None]


class FakePeer:
    """A peer in Python listening on ip: answers a hello with its library
    (games) and pings with pongs, accepts a transfer link, and hands
    file-list, chunk and stream requests to the hooks on_files, on_chunk
    and on_stream (set them before a client connects). Everything it sees
    goes to a log that seen() reads."""

    def __init__(self, sc: Scenario, name: str, ip: str, games: list[dict[str, Any]]) -> None:
        msg_types()
        self.sc = sc
        self.name = name
        self.games = games
        self.on_files: Hook | None = None
        self.on_chunk: Hook | None = None
        self.on_stream: Hook | None = None
        self.ident = Identity.named(name)
        self.peer_id = self.ident.peer_id
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((ip, 0))
        self.listener.listen(16)
        self.addr = f"{ip}:{self.listener.getsockname()[1]}"
        self.lock = threading.Lock()
        self.events: list[tuple[float, str, Any]] = []
        self.conns: list[socket.socket] = []
        self.stop = False
        threading.Thread(target=self._accept, name=f"{name}-accept", daemon=True).start()

    def note(self, what: str, data: Any = None) -> None:
        with self.lock:
            self.events.append((time.monotonic(), what, data))
        self.sc.log(f"{self.name}: {what} {str(data)[:300] if data is not None else ''}")

    def seen(self, what: str) -> list[tuple[float, Any]]:
        """(when, data) of every note named what, oldest first."""
        with self.lock:
            return [(t, d) for t, w, d in self.events if w == what]

    def send(self, conn: socket.socket, data: bytes) -> bool:
        try:
            conn.sendall(data)
            return True
        except OSError as exc:
            self.note("send failed", str(exc))
            return False

    def close(self) -> None:
        self.stop = True
        try:
            self.listener.close()
        except OSError:
            pass
        with self.lock:
            conns = list(self.conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                conn.close()
            except OSError:
                pass

    def _accept(self) -> None:
        while not self.stop:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), name=f"{self.name}-link", daemon=True).start()

    @staticmethod
    def _recv_exact(conn: socket.socket, n: int) -> bytes | None:
        data = b""
        while len(data) < n:
            try:
                chunk = conn.recv(n - len(data))
            except OSError:
                return None
            if not chunk:
                return None
            data += chunk
        return data

    def _serve(self, conn: socket.socket) -> None:
        kind = "?"
        while True:
            head = self._recv_exact(conn, FRAME_HDR.size)
            if head is None:
                break
            type_, _flags, length = FRAME_HDR.unpack(head)
            raw = self._recv_exact(conn, length) if length else b""
            if raw is None:
                break
            try:
                body = mp_unpack(raw) if raw else {}
            except (ValueError, IndexError, UnicodeDecodeError):
                self.note("malformed frame", type_)
                break
            if type_ == T("PEER_HELLO"):
                kind = "peer link"
                self.note("hello", body.get("peer_id"))
                challenge = new_challenge()
                self.send(conn, frame(T("PEER_HELLO_ACK"), ack_body(self.ident, body, self.addr, self.games, self.name, challenge)))
            elif type_ == T("PEER_HELLO_PROOF"):
                self.note("hello proof", body.get("proof"))
            elif type_ == T("PEER_PING"):
                self.send(conn, frame(T("PEER_PONG")))
            elif type_ == T("PEER_XFER_OPEN"):
                kind = "transfer link"
                self.note("transfer link", body.get("peer_id"))
                self.send(conn, frame(T("PEER_XFER_ACCEPT")))
            elif type_ == T("PEER_FILES_REQ") and self.on_files is not None:
                self.note("file list request", body.get("game_id"))
                self.on_files(conn, body)
            elif type_ == T("PEER_CHUNK_REQ") and self.on_chunk is not None:
                self.note("chunk request", body)
                self.on_chunk(conn, body)
            elif type_ == T("PEER_STREAM_REQ") and self.on_stream is not None:
                self.note("stream request", body.get("game_id"))
                self.on_stream(conn, body)
            else:
                self.note("unexpected frame", type_)
        self.note(f"{kind} closed")
