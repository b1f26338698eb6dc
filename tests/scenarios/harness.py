"""Scenario harness for lanspread: peers as local processes.

Every peer is one `build/lanspread-peer` process in the foreground, driven
over JSON lines on stdin/stdout. Its stderr goes to a per-peer log file. Each
peer of a scenario listens on its own loopback address (127.0.0.2, .3, ... in
start order). Read-only games folders are read-only bind mounts, `tmpfs_size`
is a tmpfs mount. "kill" is a SIGKILL of the peer process; its workers must
die by themselves.

Python 3 standard library only (Debian 12, Python 3.11). Runs as root.
"""

from __future__ import annotations

import atexit
import ctypes
import errno
import hashlib
import ipaddress
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

REPO = Path(__file__).resolve().parents[2]

CHUNK_SIZE = 128 * 1024 * 1024
CATALOG_VERSIONS = {
    "alienswarm": "20190317",
    "bf1942": "20160130",
    "bfbc2": "20210416",
    "cnc4": "20170204",
    "cnctw": "20160128",
    "cod5": "20160920",
    "cod6": "20200315",
    "coh": "20200907",
    "css": "20240623",
    "ggoo": "20200721",
}
PERF_GAME_ID = "bf1942"
PERF_GAME_VERSION = CATALOG_VERSIONS[PERF_GAME_ID]
PERF_GAME_SIZE = 2 * 1024 * 1024 * 1024
# Exactly the seed's exclusions for directory comparisons.
IGNORED_DIFF_NAMES = {".lanspread", ".lanspread.json", "local"}

READY_TIMEOUT = 20.0
SEND_TIMEOUT = 20.0
SHUTDOWN_TIMEOUT = 8.0
DESCENDANT_GRACE = 5.0
LOG_TAIL_LINES = 25


class ScenarioError(RuntimeError):
    pass


# --------------------------------------------------------------------------
# Configuration (set by run.py / valgrind_peer.py)
# --------------------------------------------------------------------------


class Config:
    def __init__(self) -> None:
        self.set_build(REPO / "build")
        self.verbose = False

    def set_build(self, build: Path) -> None:
        self.build = Path(build).resolve()
        self.peer_bin = self.build / "lanspread-peer"
        self.fixtures = self.build / "fixtures"
        self.catalog_db = self.fixtures / "game.db"
        self.tests_dir = self.build / "tests"
        self.runs_root = self.build / "scenario-runs"


CFG = Config()


# --------------------------------------------------------------------------
# Process inspection (/proc)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcInfo:
    pid: int
    starttime: int
    comm: str

    def describe(self) -> str:
        return f"pid {self.pid} ({self.comm})"


@dataclass(frozen=True)
class _Stat:
    comm: str
    state: str
    ppid: int
    starttime: int


def _read_stat(pid: int) -> _Stat | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            raw = handle.read().decode("utf-8", "replace")
    except OSError:
        return None
    lpar = raw.find("(")
    rpar = raw.rfind(")")
    if lpar < 0 or rpar < 0:
        return None
    comm = raw[lpar + 1 : rpar]
    rest = raw[rpar + 2 :].split()
    try:
        return _Stat(comm=comm, state=rest[0], ppid=int(rest[1]), starttime=int(rest[19]))
    except (IndexError, ValueError):
        return None


def _children_of(pid: int, ppid_map: dict[int, list[int]] | None) -> list[int]:
    task_dir = Path(f"/proc/{pid}/task")
    kids: list[int] = []
    if ppid_map is None:
        try:
            for task in task_dir.iterdir():
                text = (task / "children").read_text()
                kids.extend(int(tok) for tok in text.split())
        except OSError:
            return []
        return kids
    return list(ppid_map.get(pid, []))


def _ppid_map() -> dict[int, list[int]]:
    result: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = _read_stat(int(entry))
        if st is not None:
            result.setdefault(st.ppid, []).append(int(entry))
    return result


def _children_files_supported() -> bool:
    return os.path.exists(f"/proc/self/task/{os.getpid()}/children")


def descendants(pid: int) -> dict[int, ProcInfo]:
    """All live descendants of pid (recursive), excluding pid itself.

    Uses /proc/<pid>/task/*/children where the kernel provides it, else a
    parent-pid map built from /proc/*/stat.
    """
    ppid_map = None if _children_files_supported() else _ppid_map()
    found: dict[int, ProcInfo] = {}
    todo = [pid]
    while todo:
        current = todo.pop()
        for child in _children_of(current, ppid_map):
            if child in found or child == pid:
                continue
            st = _read_stat(child)
            if st is None or st.state in ("Z", "X"):
                continue
            found[child] = ProcInfo(child, st.starttime, st.comm)
            todo.append(child)
    return found


def worker_comm(role: str) -> str:
    """A worker's /proc comm: its title lanspread-ROLE, cut by the kernel to 15 bytes."""
    return f"lanspread-{role}"[:15]


def proc_alive(info: ProcInfo) -> bool:
    """True while the process exists and is not a zombie.

    A zombie has released every resource (sockets included). As a child
    subreaper we reap the zombies of orphaned workers here."""
    st = _read_stat(info.pid)
    if st is None or st.starttime != info.starttime:
        return False
    if st.state in ("Z", "X"):
        try:
            os.waitpid(info.pid, os.WNOHANG)
        except ChildProcessError:
            pass
        except OSError:
            pass
        return False
    return True


def poll(check: Callable[[], Any], *, timeout: float, what: str | Callable[[], str], interval: float = 0.4) -> Any:
    """Call check() until it returns a true value, and return that value.
    Once timeout seconds have passed, raise ScenarioError with what (a
    callable is called then, so the message can show the last state seen)."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ScenarioError(f"{what() if callable(what) else what} (waited {timeout:g}s)")
        time.sleep(min(interval, remaining))


def wait_procs_gone(procs: Iterable[ProcInfo], timeout: float) -> list[ProcInfo]:
    """The processes of procs still alive after up to timeout seconds."""
    pending = list(procs)

    def gone() -> bool:
        pending[:] = [info for info in pending if proc_alive(info)]
        return not pending

    try:
        poll(gone, timeout=timeout, what="", interval=0.05)
    except ScenarioError:
        pass  # the caller decides what survivors mean
    return pending


def kill_procs(procs: Iterable[ProcInfo]) -> None:
    for info in procs:
        if proc_alive(info):
            try:
                os.kill(info.pid, signal.SIGKILL)
            except OSError:
                pass
    for info in procs:
        proc_alive(info)  # reap zombies we may own


def become_subreaper() -> None:
    """Orphaned workers of a killed peer are reparented to us (not to a PID 1
    that may never reap them), so they can be reaped and watched."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_CHILD_SUBREAPER = 36
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except Exception:
        pass


def split_addr(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    return host, int(port)


def assert_nothing_listens(addr: str | None, what: str) -> None:
    """Connecting to a dead peer's listen address must be refused."""
    if not addr:
        return
    try:
        host, port = split_addr(addr)
    except ValueError:
        return
    last = ""

    def refused() -> bool:
        nonlocal last
        try:
            with socket.create_connection((host, port), timeout=1.0):
                last = "connection accepted"
        except ConnectionRefusedError:
            return True
        except OSError as exc:
            last = f"{type(exc).__name__}: {exc}"
        return False

    poll(refused, timeout=2.0, interval=0.1,
         what=lambda: f"{what}: something still listens on {addr} ({last}); expected connection refused")


# --------------------------------------------------------------------------
# Mounts
# --------------------------------------------------------------------------


def _unescape_mountinfo(field: str) -> str:
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def mount_points() -> list[str]:
    points: list[str] = []
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                fields = line.split()
                if len(fields) > 4:
                    points.append(_unescape_mountinfo(fields[4]))
    except OSError:
        pass
    return points


def is_mounted(path: Path) -> bool:
    target = os.path.realpath(path)
    return target in mount_points()


def _run_cmd(cmd: list[str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ScenarioError(f"command timed out after {timeout}s: {' '.join(cmd)}") from exc
    except OSError as exc:
        raise ScenarioError(f"cannot run {cmd[0]}: {exc}") from exc


_ACTIVE_MOUNTS: list[Path] = []
_MOUNT_LOCK = threading.Lock()


def unmount(path: Path) -> str | None:
    """Unmount path (and anything stacked on it). Returns an error or None."""
    for _ in range(4):
        if not is_mounted(path):
            break
        result = _run_cmd(["umount", str(path)], timeout=30)
        if result.returncode != 0:
            _run_cmd(["umount", "-l", str(path)], timeout=30)
    with _MOUNT_LOCK:
        if path in _ACTIVE_MOUNTS:
            _ACTIVE_MOUNTS.remove(path)
    if is_mounted(path):
        return f"could not unmount {path}"
    return None


def mount_bind_ro(source: Path, mountpoint: Path) -> None:
    mountpoint.mkdir(parents=True, exist_ok=True)
    result = _run_cmd(["mount", "--bind", str(source), str(mountpoint)])
    if result.returncode != 0:
        raise ScenarioError(f"bind mount of {source} failed: {result.stdout.strip()}")
    with _MOUNT_LOCK:
        _ACTIVE_MOUNTS.append(mountpoint)
    result = _run_cmd(["mount", "-o", "remount,bind,ro", str(mountpoint)])
    if result.returncode != 0:
        unmount(mountpoint)
        raise ScenarioError(f"read-only remount of {mountpoint} failed: {result.stdout.strip()}")
    probe = mountpoint / ".lanspread-harness-ro-probe"
    try:
        probe.write_bytes(b"x")
    except OSError as exc:
        if exc.errno != errno.EROFS:
            unmount(mountpoint)
            raise ScenarioError(f"{mountpoint}: unexpected write error {exc}") from exc
    else:
        probe.unlink()
        unmount(mountpoint)
        raise ScenarioError(f"{mountpoint} is writable after the read-only remount")


def mount_tmpfs(size: str, mountpoint: Path) -> None:
    _mount_memory_fs(["-t", "tmpfs", "-o", f"size={size}", "tmpfs"], mountpoint)


def mount_ramfs(mountpoint: Path) -> None:
    """A ramfs: no size limit, no fallocate, like vfat and exFAT."""
    _mount_memory_fs(["-t", "ramfs", "ramfs"], mountpoint)


def _mount_memory_fs(args: list[str], mountpoint: Path) -> None:
    mountpoint.mkdir(parents=True, exist_ok=True)
    result = _run_cmd(["mount", *args, str(mountpoint)])
    if result.returncode != 0:
        raise ScenarioError(f"{args[1]} mount on {mountpoint} failed: {result.stdout.strip()}")
    with _MOUNT_LOCK:
        _ACTIVE_MOUNTS.append(mountpoint)


def unmount_everything_under(root: Path) -> list[str]:
    errors = []
    prefix = os.path.realpath(root) + os.sep
    # Deepest first.
    for point in sorted(mount_points(), key=len, reverse=True):
        if point.startswith(prefix):
            err = unmount(Path(point))
            if err:
                errors.append(err)
    return errors


# --------------------------------------------------------------------------
# Emergency cleanup (atexit, signals)
# --------------------------------------------------------------------------

_LIVE_PEERS: set["Peer"] = set()
_LIVE_LOCK = threading.Lock()


def emergency_cleanup() -> None:
    """Kill every peer we started (and its descendants) and unmount."""
    with _LIVE_LOCK:
        peers = list(_LIVE_PEERS)
    for peer in peers:
        try:
            peer.hard_kill()
        except Exception:
            pass
    with _MOUNT_LOCK:
        mounts = list(reversed(_ACTIVE_MOUNTS))
    for mountpoint in mounts:
        try:
            unmount(mountpoint)
        except Exception:
            pass


atexit.register(emergency_cleanup)


def _raise_interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def install_signal_handlers() -> None:
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            signal.signal(sig, _raise_interrupt)
        except (ValueError, OSError):
            pass


def require_root() -> None:
    if os.geteuid() != 0:
        raise SystemExit(
            "error: the scenario harness must run as root (it creates bind and tmpfs mounts)"
        )


# --------------------------------------------------------------------------
# Run directories
# --------------------------------------------------------------------------

KEEP_RUNS = 5


def owner_alive(run_dir: Path) -> bool:
    try:
        pid = int((run_dir / ".owner-pid").read_text().strip())
    except (OSError, ValueError):
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"run.py" in cmdline or b"valgrind_peer" in cmdline


def clean_old_runs(runs_root: Path) -> None:
    """Unmount leftovers of crashed runs; keep the newest KEEP_RUNS run dirs."""
    if not runs_root.is_dir():
        return
    dirs = sorted((d for d in runs_root.iterdir() if d.is_dir()), key=lambda d: d.name)
    for run_dir in dirs:
        if not owner_alive(run_dir):
            unmount_everything_under(run_dir)
    stale = [d for d in dirs if not owner_alive(d)]
    for run_dir in stale[: max(0, len(stale) - KEEP_RUNS)]:
        prefix = os.path.realpath(run_dir) + os.sep
        if any(point.startswith(prefix) for point in mount_points()):
            continue
        shutil.rmtree(run_dir, ignore_errors=True)


def make_run_dir(runs_root: Path) -> Path:
    runs_root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = runs_root / stamp
    suffix = 1
    while True:
        try:
            run_dir.mkdir()
            break
        except FileExistsError:
            suffix += 1
            run_dir = runs_root / f"{stamp}-{suffix}"
    (run_dir / ".owner-pid").write_text(f"{os.getpid()}\n")
    return run_dir


# --------------------------------------------------------------------------
# Peers
# --------------------------------------------------------------------------


def tail_file(path: Path | None, lines: int = LOG_TAIL_LINES) -> str:
    if path is None:
        return ""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            data = handle.read()
    except OSError:
        return ""
    text = data.decode("utf-8", "replace").splitlines()[-lines:]
    return "\n".join(line[:400] for line in text)


class LineWaiter:
    """A cursor into a peer's output: wait_for scans from `seen` on and
    moves it past the matched line."""

    def __init__(self, seen: int = 0) -> None:
        self.seen = seen


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if len(text) > limit:
        return text[:limit] + f"...(+{len(text) - limit} chars)"
    return text


class Peer:
    def __init__(
        self,
        scenario: "Scenario",
        name: str,
        index: int,
        *,
        games_dir: Path | None,
        readonly_games: bool,
        tmpfs_size: str | None,
        fixtures: list[str],
        extra_args: list[str],
        command_prefix: list[str] | None = None,
        listen_ip: str | None = None,
    ) -> None:
        self.scenario = scenario
        self.name = name
        self.index = index
        # bench/swarm runs peers in namespaces, on addresses of their own.
        self.listen_ip = listen_ip or f"127.0.0.{index + 2}"
        self.source_games_dir = games_dir
        self.readonly_games = readonly_games
        self.tmpfs_size = tmpfs_size
        self.fixtures = fixtures
        self.extra_args = extra_args
        self.command_prefix = command_prefix or []
        self.games_path: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: Path | None = None
        self.stdout_path: Path | None = None
        self._log_handle: Any = None
        self._stdout_copy: Any = None
        self.output: list[dict[str, Any]] = []
        self.raw_output: list[str] = []
        self.violations: list[str] = []
        self.condition = threading.Condition()
        self.eof = False
        self.request_index = 0
        self.ready_addr: str | None = None
        self.peer_id: str | None = None
        self._write_queue: queue.Queue[bytes | None] = queue.Queue()
        self.write_error: str | None = None
        self._threads: list[threading.Thread] = []
        self._known_descendants: dict[int, ProcInfo] = {}
        self.finished = False

    # -- paths ---------------------------------------------------------------

    @property
    def host_games_dir(self) -> Path:
        if self.games_path is None:
            raise ScenarioError(f"{self.name} has no games dir yet")
        return self.games_path

    @property
    def host_state_dir(self) -> Path:
        return self.scenario.state_root / self.name

    @property
    def label(self) -> str:
        return f"{self.name}@{self.listen_ip}"

    def _prepare_games_dir(self) -> Path:
        mnt = self.scenario.mnt_root / f"{self.index:02d}-{self.name}"
        if self.tmpfs_size is not None:
            mount_tmpfs(self.tmpfs_size, mnt)
            return mnt
        source = self.source_games_dir
        if source is None:
            source = self.scenario.games_root / self.name
        if not source.exists():
            source.mkdir(parents=True, exist_ok=True)
        if self.readonly_games:
            mount_bind_ro(source, mnt)
            return mnt
        return source

    # -- lifecycle -----------------------------------------------------------

    def command(self) -> list[str]:
        assert self.games_path is not None
        cmd = [
            str(CFG.peer_bin),
            "--name",
            self.name,
            "--games-dir",
            str(self.games_path),
            "--state-dir",
            str(self.host_state_dir),
            "--catalog-db",
            str(CFG.catalog_db),
            "--listen",
            f"{self.listen_ip}:0",
        ]
        for fixture in self.fixtures:
            cmd.extend(["--fixture", fixture])
        cmd.extend(self.extra_args)
        return self.command_prefix + cmd

    def start(self, ready_timeout: float = READY_TIMEOUT) -> "Peer":
        if not CFG.peer_bin.is_file() or not os.access(CFG.peer_bin, os.X_OK):
            raise ScenarioError(f"{CFG.peer_bin} is not built (run make)")
        if not CFG.catalog_db.is_file():
            raise ScenarioError(f"{CFG.catalog_db} is missing (run make fixtures)")
        self.host_state_dir.mkdir(parents=True, exist_ok=True)
        self.games_path = self._prepare_games_dir()
        cmd = self.command()
        self.log_path = self.scenario.log_dir / f"{self.index:02d}-{self.name}.log"
        self._log_handle = open(self.log_path, "ab")
        self._log_handle.write(f"# harness: {' '.join(cmd)}\n".encode())
        self._log_handle.flush()
        self.stdout_path = self.scenario.log_dir / f"{self.index:02d}-{self.name}.stdout.jsonl"
        self._stdout_copy = open(self.stdout_path, "ab")
        self.scenario.log(f"start {self.label}: {' '.join(cmd)}")
        wrapper: list[str] = []
        setpriv = shutil.which("setpriv")
        if setpriv:
            # If the harness dies, so does the peer (workers follow it).
            wrapper = [setpriv, "--pdeathsig", "KILL", "--"]
        try:
            self.process = subprocess.Popen(
                wrapper + cmd,
                cwd=str(self.scenario.dir),
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._log_handle,
                start_new_session=True,
            )
        except OSError as exc:
            raise ScenarioError(f"cannot start {self.name}: {exc}") from exc
        with _LIVE_LOCK:
            _LIVE_PEERS.add(self)
        for target in (self._read_output, self._write_input):
            thread = threading.Thread(target=target, name=f"{self.name}-{target.__name__}", daemon=True)
            thread.start()
            self._threads.append(thread)
        self.wait_ready(ready_timeout)
        # Know the workers from the start: if the peer later dies on its own
        # its workers are still checked (and cleaned up).
        self._snapshot_descendants()
        return self

    def _read_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        stream = self.process.stdout
        try:
            for raw in iter(stream.readline, b""):
                try:
                    self._stdout_copy.write(raw if raw.endswith(b"\n") else raw + b"\n")
                    self._stdout_copy.flush()
                except (OSError, ValueError):
                    pass
                line = raw[:-1] if raw.endswith(b"\n") else raw
                try:
                    text = line.decode("utf-8")
                except UnicodeDecodeError:
                    text = line.decode("utf-8", "replace")
                    parsed: Any = None
                    problem = "invalid UTF-8"
                else:
                    problem = ""
                    try:
                        parsed = json.loads(text)
                    except ValueError:
                        parsed = None
                        problem = "not JSON"
                    if problem == "" and not isinstance(parsed, dict):
                        problem = "not a JSON object"
                with self.condition:
                    self.raw_output.append(text)
                    if problem:
                        self.violations.append(f"{problem}: {_short(text, 200)}")
                        parsed = {"type": "raw", "line": text}
                    self.output.append(parsed)
                    self.condition.notify_all()
        except (OSError, ValueError):
            pass
        finally:
            with self.condition:
                self.eof = True
                self.condition.notify_all()

    def _write_input(self) -> None:
        assert self.process is not None and self.process.stdin is not None
        stream = self.process.stdin
        fd = stream.fileno()
        while True:
            data = self._write_queue.get()
            if data is None:
                break
            # os.write on the raw fd: no buffered-object lock is held while
            # blocked, so nothing can deadlock on it at cleanup or exit.
            view = memoryview(data)
            try:
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
            except (OSError, ValueError) as exc:
                self.write_error = f"{type(exc).__name__}: {exc}"
                break
        try:
            stream.close()
        except (OSError, ValueError):
            pass

    def write_raw(self, data: bytes) -> None:
        if self.process is None:
            raise ScenarioError(f"{self.name} was never started")
        self._write_queue.put(data)

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        line = self.wait_for(
            lambda item: item.get("type") == "event" and item.get("event") == "local-peer-ready",
            timeout=timeout,
            description=f"{self.name} local-peer-ready",
        )
        with self.condition:
            first = self.output[0]
        if first is not line:
            raise ScenarioError(
                f"{self.name}: the first stdout line must be local-peer-ready, got {_short(first)}"
            )
        data = line.get("data") or {}
        addr = data.get("addr")
        peer_id = data.get("peer_id")
        if not isinstance(addr, str) or not isinstance(peer_id, str) or not peer_id:
            raise ScenarioError(f"{self.name}: malformed local-peer-ready: {_short(line)}")
        try:
            host, port = split_addr(addr)
        except ValueError as exc:
            raise ScenarioError(f"{self.name}: unparsable ready addr {addr!r}") from exc
        if host != self.listen_ip or port <= 0:
            raise ScenarioError(
                f"{self.name} reported addr {addr} but was told to listen on {self.listen_ip}:0"
            )
        self.ready_addr = addr
        self.peer_id = peer_id
        self.scenario.log(f"{self.label} ready addr={addr} peer_id={peer_id}")

    # -- output ------------------------------------------------------------

    def mark(self) -> LineWaiter:
        with self.condition:
            return LineWaiter(len(self.output))

    def items(self, start: int = 0) -> list[dict[str, Any]]:
        with self.condition:
            return list(self.output[start:])

    def output_len(self) -> int:
        with self.condition:
            return len(self.output)

    def _stdout_tail(self, lines: int = 12) -> str:
        with self.condition:
            tail = [_short(line, 300) for line in self.raw_output[-lines:]]
        return "\n".join([f"--- {self.name} stdout (last {len(tail)} lines) ---"] + tail)

    def _failure_context(self) -> str:
        with self.condition:
            stdout_tail = [_short(line, 300) for line in self.raw_output[-12:]]
        parts = []
        if self.process is not None and self.process.poll() is not None:
            parts.append(f"[{self.name} exited with status {self.process.returncode}]")
        if self.write_error:
            parts.append(f"[{self.name} stdin write failed: {self.write_error}]")
        parts.append(f"--- {self.name} stdout (last {len(stdout_tail)} lines) ---")
        parts.extend(stdout_tail)
        parts.append(f"--- {self.name} stderr log {self.log_path} (tail) ---")
        parts.append(tail_file(self.log_path))
        return "\n".join(parts)

    def wait_for(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        *,
        timeout: float,
        description: str,
        waiter: LineWaiter | None = None,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self.condition:
            start = 0 if waiter is None else waiter.seen
            while True:
                for index in range(start, len(self.output)):
                    item = self.output[index]
                    if predicate(item):
                        if waiter is not None:
                            waiter.seen = index + 1
                        return item
                start = len(self.output)
                if waiter is not None:
                    waiter.seen = start
                if self.eof:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.condition.wait(min(remaining, 1.0))
            eof = self.eof
        if eof and self.process is not None:
            try:
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
            reason = f"{self.name} closed its stdout (process gone?) while waiting for {description}"
        else:
            reason = f"timed out after {timeout:g}s waiting for {description} on {self.name}"
        raise ScenarioError(f"{reason}\n{self._failure_context()}")

    # -- requests ------------------------------------------------------------

    def next_request_id(self) -> str:
        self.request_index += 1
        return f"{self.name}-{self.request_index}"

    def send(
        self,
        payload: dict[str, Any],
        *,
        expect_error: bool = False,
        timeout: float = SEND_TIMEOUT,
    ) -> dict[str, Any]:
        request_id = self.next_request_id()
        payload = dict(payload)
        payload["id"] = request_id
        line = json.dumps(payload, separators=(",", ":")) + "\n"
        self.write_raw(line.encode("utf-8"))
        response = self.wait_for(
            lambda item: item.get("id") == request_id and item.get("type") in ("result", "error"),
            timeout=timeout,
            description=f"response to {payload.get('cmd')}",
        )
        if response["type"] == "error":
            if not isinstance(response.get("error"), str):
                raise ScenarioError(f"{self.name} error reply without an error string: {response}")
            if expect_error:
                return response
            raise ScenarioError(
                f"{self.name} command {payload.get('cmd')} failed: {_short(response)}\n"
                f"{self._stdout_tail()}"
            )
        if expect_error:
            raise ScenarioError(
                f"{self.name} command {payload.get('cmd')} unexpectedly succeeded: {_short(response)}"
            )
        if not isinstance(response.get("data"), dict):
            raise ScenarioError(f"{self.name} result without a data object: {_short(response)}")
        return response

    def list_games(self) -> dict[str, Any]:
        return self.send({"cmd": "list-games"})["data"]

    def list_peers(self) -> list[dict[str, Any]]:
        return self.send({"cmd": "list-peers"})["data"]["peers"]

    def status(self) -> dict[str, Any]:
        return self.send({"cmd": "status"})["data"]

    def connect_to(self, other: "Peer") -> None:
        if other.ready_addr is None:
            raise ScenarioError(f"{other.name} is not ready")
        self.send({"cmd": "connect", "addr": other.ready_addr})
        self.send({"cmd": "wait-peers", "count": 1, "timeout_ms": 10000})

    # -- stopping ------------------------------------------------------------

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _snapshot_descendants(self) -> dict[int, ProcInfo]:
        if self.process is None or self.process.poll() is not None:
            return dict(self._known_descendants)
        found = descendants(self.process.pid)
        self._known_descendants.update(found)
        return dict(self._known_descendants)

    def _check_after_exit(self, procs: dict[int, ProcInfo], how: str) -> None:
        survivors = wait_procs_gone(procs.values(), DESCENDANT_GRACE)
        if survivors:
            names = ", ".join(info.describe() for info in survivors)
            kill_procs(survivors)
            raise ScenarioError(
                f"{self.name}: worker process(es) survived the {how} of the peer "
                f"for {DESCENDANT_GRACE:g}s: {names}"
            )
        assert_nothing_listens(self.ready_addr, f"{self.name} after {how}")

    def _finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        self._write_queue.put(None)
        for thread in self._threads:
            thread.join(timeout=2)
        # Never close stdout under a reader blocked in readline() (a
        # surviving worker may still hold the pipe): that would deadlock.
        reader_done = all(not t.is_alive() for t in self._threads if t.name.endswith("_read_output"))
        if reader_done and self.process is not None and self.process.stdout is not None:
            try:
                self.process.stdout.close()
            except OSError:
                pass
        if self._log_handle is not None:
            try:
                self._log_handle.close()
            except OSError:
                pass
        if reader_done and self._stdout_copy is not None:
            try:
                self._stdout_copy.close()
            except OSError:
                pass
        with _LIVE_LOCK:
            _LIVE_PEERS.discard(self)

    def kill(self) -> None:
        """SIGKILL the peer process only. Its workers must die by themselves
        within DESCENDANT_GRACE, and nothing may listen on its address."""
        if self.process is None or self.finished:
            return
        if self.process.poll() is not None:
            self._finish()
            raise ScenarioError(
                f"{self.name} had already exited (status {self.process.returncode}) before the kill"
                f"\n{self._failure_context()}"
            )
        procs = self._snapshot_descendants()
        self.scenario.log(
            f"kill {self.label} pid={self.process.pid} descendants={sorted(procs)}"
        )
        try:
            os.kill(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.hard_kill()
            raise ScenarioError(f"{self.name} did not die within 5s of SIGKILL")
        try:
            self._check_after_exit(procs, "SIGKILL")
        finally:
            self._finish()

    def shutdown(self) -> None:
        """Graceful stop: `shutdown` command, up to 8 s to exit, else SIGKILL.
        After exit no descendant may remain."""
        if self.process is None or self.finished:
            return
        if self.process.poll() is not None:
            status = self.process.returncode
            procs = {pid: info for pid, info in self._known_descendants.items() if proc_alive(info)}
            kill_procs(procs.values())
            self._finish()
            if procs:
                raise ScenarioError(
                    f"{self.name} exited on its own (status {status}) and left workers: "
                    + ", ".join(info.describe() for info in procs.values())
                )
            return
        procs = self._snapshot_descendants()
        self.scenario.log(f"shutdown {self.label} descendants={sorted(procs)}")
        request_id = self.next_request_id()
        self.write_raw(
            (json.dumps({"id": request_id, "cmd": "shutdown"}, separators=(",", ":")) + "\n").encode()
        )
        try:
            self.process.wait(timeout=SHUTDOWN_TIMEOUT)
        except subprocess.TimeoutExpired:
            procs = self._snapshot_descendants()
            context = self._failure_context()
            self.hard_kill()
            raise ScenarioError(
                f"{self.name} did not exit within {SHUTDOWN_TIMEOUT:g}s of shutdown; SIGKILLed it\n{context}"
            )
        try:
            self._check_after_exit(procs, "shutdown")
        finally:
            self._finish()

    def hard_kill(self) -> None:
        """Cleanup path: SIGKILL the peer and every descendant we know of."""
        if self.process is None:
            return
        procs: dict[int, ProcInfo] = {}
        if self.process.poll() is None:
            try:
                procs = self._snapshot_descendants()
            except Exception:
                procs = dict(self._known_descendants)
            try:
                os.kill(self.process.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        else:
            procs = dict(self._known_descendants)
        kill_procs(procs.values())
        self._finish()


# --------------------------------------------------------------------------
# Scenario context
# --------------------------------------------------------------------------


class Scenario:
    """One scenario's directories, peers and mounts."""

    def __init__(self, sid: str, run_dir: Path) -> None:
        self.sid = sid
        self.dir = run_dir / sid
        self.games_root = self.dir / "games"
        self.state_root = self.dir / "state"
        self.fixture_root = self.dir / "fixtures"
        self.mnt_root = self.dir / "mnt"
        self.log_dir = self.dir / "logs"
        for path in (self.games_root, self.state_root, self.fixture_root, self.mnt_root, self.log_dir):
            path.mkdir(parents=True, exist_ok=True)
        self.peers: list[Peer] = []
        self._harness_log = open(self.log_dir / "harness.log", "a", encoding="utf-8")

    def log(self, message: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        try:
            self._harness_log.write(f"{stamp} {message}\n")
            self._harness_log.flush()
        except (OSError, ValueError):
            pass
        if CFG.verbose:
            print(f"  [{self.sid}] {message}", flush=True)

    def peer(
        self,
        name: str,
        *,
        games_dir: Path | None = None,
        readonly_games: bool = False,
        tmpfs_size: str | None = None,
        fixtures: list[str] | None = None,
        extra_args: list[str] | None = None,
        ready_timeout: float = READY_TIMEOUT,
    ) -> Peer:
        peer = Peer(
            self,
            name,
            len(self.peers),
            games_dir=games_dir,
            readonly_games=readonly_games,
            tmpfs_size=tmpfs_size,
            fixtures=fixtures or [],
            extra_args=extra_args or [],
        )
        self.peers.append(peer)
        peer.start(ready_timeout)
        return peer

    def teardown(self, graceful: bool = True) -> list[str]:
        """Stop every peer (reverse start order), then unmount. Returns the
        problems found (surviving workers, listeners, non-JSON stdout...)."""
        errors: list[str] = []
        for peer in reversed(self.peers):
            try:
                if graceful:
                    peer.shutdown()
                else:
                    peer.hard_kill()
            except ScenarioError as exc:
                errors.append(str(exc))
            except Exception as exc:  # noqa: BLE001 - teardown must go on
                errors.append(f"{peer.name}: teardown error {type(exc).__name__}: {exc}")
                peer.hard_kill()
        # As child subreaper we inherit the orphans of killed peers: anything
        # still below us once every peer is stopped was left behind.
        leftovers = descendants(os.getpid())
        if leftovers:
            kill_procs(leftovers.values())
            wait_procs_gone(leftovers.values(), 2.0)
            errors.append(
                "processes left behind after every peer stopped (killed now): "
                + ", ".join(info.describe() for info in leftovers.values())
            )
        for peer in self.peers:
            if peer.violations:
                shown = "; ".join(peer.violations[:5])
                errors.append(
                    f"{peer.name} wrote {len(peer.violations)} non-JSON-object line(s) to stdout: {shown}"
                )
        errors.extend(unmount_everything_under(self.dir))
        try:
            self._harness_log.close()
        except OSError:
            pass
        return errors

    def log_tails(self, already_shown: str = "") -> str:
        parts = []
        for peer in self.peers:
            if peer.log_path is not None and f"stderr log {peer.log_path}" in already_shown:
                continue
            parts.append(f"--- {peer.label} stderr log {peer.log_path} (tail) ---")
            parts.append(tail_file(peer.log_path) or "(empty)")
        return "\n".join(parts)


# --------------------------------------------------------------------------
# Fixture helpers (as in the seed)
# --------------------------------------------------------------------------


def find_fixture_game(game_id: str) -> Path:
    # Sorted so that cnctw (fixture-bravo, -multi, -solid) resolves to
    # fixture-bravo deterministically.
    if not CFG.fixtures.is_dir():
        raise ScenarioError(f"{CFG.fixtures} is missing (run make fixtures)")
    for fixture_dir in sorted(CFG.fixtures.iterdir()):
        candidate = fixture_dir / game_id
        if candidate.exists():
            return candidate
    raise ScenarioError(f"fixture game not found: {game_id}")


def fixture_dir(name: str) -> Path:
    path = CFG.fixtures / name
    if not path.is_dir():
        raise ScenarioError(f"fixture folder {path} is missing (run make fixtures)")
    return path


def copy_game(game_id: str, destination_games_dir: Path, *, version: str | None = None) -> None:
    source = find_fixture_game(game_id)
    destination = destination_games_dir / game_id
    if destination.exists():
        shutil.rmtree(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, destination)
    version = version if version is not None else CATALOG_VERSIONS.get(game_id)
    if version is not None:
        (destination / "version.ini").write_text(version, encoding="utf-8")


def stage_game_drop(destination_games_dir: Path, game_id: str) -> None:
    """Drop a game into a watched folder file by file, version.ini last."""
    source = find_fixture_game(game_id)
    root = destination_games_dir / game_id
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for child in source.iterdir():
        if child.name == "version.ini":
            continue
        target = root / child.name
        if child.is_dir():
            shutil.copytree(child, target)
        else:
            shutil.copy2(child, target)
    shutil.copy2(source / "version.ini", root / "version.ini")


def create_many_small_game(root: Path) -> None:
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for index in range(20):
        child = root / f"file-{index:02}.bin"
        child.write_bytes(hashlib.sha256(f"small-{index}".encode()).digest() * 8)
    (root / "version.ini").write_text(CATALOG_VERSIONS.get(root.name, "20250101"), encoding="utf-8")


def create_large_sparse_game(root: Path, *, size: int, version: str | None = None) -> None:
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    resolved = version if version is not None else CATALOG_VERSIONS.get(root.name, PERF_GAME_VERSION)
    (root / "version.ini").write_text(resolved, encoding="utf-8")
    archive = root / f"{root.name}.eti"
    with archive.open("wb") as handle:
        handle.truncate(size)


def inflate_archive_sparse(game_root: Path, game_id: str, size: int) -> None:
    archive = game_root / f"{game_id}.eti"
    with archive.open("wb") as handle:
        handle.truncate(size)


def sha256_file(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def archive_entry_sha256(peer: Peer, game_id: str, relative_path: str) -> str:
    """sha256 of one entry of GAMES/<id>/<id>.eti, read with bsdtar -xOf."""
    archive = peer.host_games_dir / game_id / f"{game_id}.eti"
    if shutil.which("bsdtar") is None:
        raise ScenarioError("bsdtar is not installed (apt-get install libarchive-tools)")
    try:
        proc = subprocess.Popen(
            ["bsdtar", "-xOf", str(archive), relative_path],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError as exc:
        raise ScenarioError(f"cannot run bsdtar: {exc}") from exc
    hasher = hashlib.sha256()
    total = 0
    assert proc.stdout is not None
    for chunk in iter(lambda: proc.stdout.read(1024 * 1024), b""):
        hasher.update(chunk)
        total += len(chunk)
    try:
        _out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise ScenarioError(f"bsdtar timed out reading {archive}:{relative_path}")
    if proc.returncode != 0:
        raise ScenarioError(
            f"bsdtar -xOf {archive} {relative_path} failed ({proc.returncode}): "
            f"{err.decode('utf-8', 'replace').strip()}"
        )
    if total == 0 and b"Not found" in err:
        raise ScenarioError(f"{relative_path} not found in {archive}")
    return hasher.hexdigest()


def _rar_header_is_solid(path: Path) -> bool | None:
    """Read the solid flag of a RAR archive's main header ourselves.
    RAR5: main header (type 1) archive flags bit 0x0004. RAR4: archive
    header (0x73) flags bit 0x0008."""
    data = path.read_bytes()[:4096]
    if data.startswith(b"Rar!\x1a\x07\x01\x00"):
        pos = 8

        def vint(p: int) -> tuple[int, int]:
            value = 0
            shift = 0
            while True:
                byte = data[p]
                value |= (byte & 0x7F) << shift
                p += 1
                if not byte & 0x80:
                    return value, p
                shift += 7

        pos += 4  # header CRC32
        _size, pos = vint(pos)
        htype, pos = vint(pos)
        hflags, pos = vint(pos)
        if htype != 1:
            return None
        if hflags & 0x0001:
            _extra, pos = vint(pos)
        if hflags & 0x0002:
            _datasize, pos = vint(pos)
        archive_flags, pos = vint(pos)
        return bool(archive_flags & 0x0004)
    if data.startswith(b"Rar!\x1a\x07\x00"):
        pos = 7
        htype = data[pos + 2]
        flags = int.from_bytes(data[pos + 3 : pos + 5], "little")
        if htype != 0x73:
            return None
        return bool(flags & 0x0008)
    return None


def assert_archive_solid(peer: Peer, game_id: str) -> str:
    """The source's GAMES/<id>/<id>.eti must be a solid RAR archive: checked
    with Debian's python3-rarfile, and with our own header reader."""
    archive = peer.host_games_dir / game_id / f"{game_id}.eti"
    if not archive.is_file():
        raise ScenarioError(f"archive missing: {archive}")
    ours = _rar_header_is_solid(archive)
    if ours is None:
        raise ScenarioError(f"RAR archive details were not reported: {game_id} ({archive})")
    if not ours:
        raise ScenarioError(f"RAR archive is not solid: {game_id}")
    code = (
        "import sys\n"
        "try:\n import rarfile\n"
        "except ImportError:\n sys.exit(42)\n"
        "f = rarfile.RarFile(sys.argv[1])\n"
        "if hasattr(f, 'is_solid'):\n solid = f.is_solid()\n"
        "else:  # rarfile < 4.0 (Debian 12: 3.1)\n"
        " solid = bool(f._file_parser._main.flags & rarfile.RAR_MAIN_SOLID)\n"
        "sys.exit(0 if solid else 3)\n"
    )
    try:
        result = subprocess.run(
            ["/usr/bin/python3", "-c", code, str(archive)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"header solid flag set (rarfile check unavailable: {exc})"
    if result.returncode == 42:
        return "header solid flag set (python3-rarfile not installed)"
    if result.returncode == 3:
        raise ScenarioError(f"RAR archive is not solid (rarfile): {game_id}")
    if result.returncode != 0:
        raise ScenarioError(f"rarfile could not read {archive}: {result.stdout.strip()}")
    return "solid per header flag and rarfile"


def socket_addr_sort_key(addr: str | None) -> tuple[int, int]:
    if addr is None:
        raise ScenarioError("cannot sort missing peer address")
    host, port = split_addr(addr)
    return (int(ipaddress.ip_address(host)), port)


def format_bytes(size: int) -> str:
    return f"{size / 1024 / 1024 / 1024:.2f} GiB"


# --------------------------------------------------------------------------
# Unit tests (S12, S27, S28)
# --------------------------------------------------------------------------

_UNIT_CACHE: dict[str, tuple[str, list[str]]] = {}


def run_unit_tests() -> tuple[str, list[str]]:
    """Run every build/tests/check_* (once per process). Returns the combined
    output and the list of binaries that exited non-zero."""
    key = str(CFG.tests_dir)
    if key in _UNIT_CACHE:
        return _UNIT_CACHE[key]
    binaries = sorted(
        path
        for path in CFG.tests_dir.glob("check_*")
        if path.is_file() and os.access(path, os.X_OK)
    ) if CFG.tests_dir.is_dir() else []
    if not binaries:
        raise ScenarioError(f"no Check unit test binaries in {CFG.tests_dir} (run make)")
    env = dict(os.environ)
    # CK_VERBOSE=1 as asked; Check itself reads CK_VERBOSITY (srunner_run_all
    # with CK_ENV), so set that too or passing tests are not printed.
    env.update(
        {
            "CK_VERBOSE": "1",
            "CK_VERBOSITY": "verbose",
            "CK_FORK": "yes",
            "LANSPREAD_FIXTURES": str(CFG.fixtures),
        }
    )
    env.pop("CK_RUN_SUITE", None)
    env.pop("CK_RUN_CASE", None)
    outputs = []
    failed = []
    for binary in binaries:
        try:
            result = subprocess.run(
                [str(binary)],
                cwd=str(REPO),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                timeout=900,
                check=False,
            )
            text = result.stdout.decode("utf-8", "replace")
            rc = result.returncode
        except subprocess.TimeoutExpired as exc:
            text = (exc.stdout or b"").decode("utf-8", "replace") + "\n[timed out]"
            rc = -1
        outputs.append(f"== {binary.name} (exit {rc})\n{text}")
        if rc != 0:
            failed.append(f"{binary.name} (exit {rc})")
    combined = "\n".join(outputs)
    _UNIT_CACHE[key] = (combined, failed)
    return combined, failed


def unit_test_passed(output: str, name: str) -> bool:
    pattern = re.compile(r":P:[^\n]*:" + re.escape(name) + r":\d+: Passed\s*$", re.MULTILINE)
    return pattern.search(output) is not None


def unit_test_lines(output: str, name: str) -> str:
    lines = [line for line in output.splitlines() if f":{name}:" in line]
    return "\n".join(lines[:5]) or "(no line mentions it)"


# --------------------------------------------------------------------------
# wait_* / assert_* helpers (the seed's, same semantics)
# --------------------------------------------------------------------------


def connect_many(client: Peer, peers: list[Peer]) -> None:
    for peer in peers:
        client.connect_to(peer)
    client.send({"cmd": "wait-peers", "count": len(peers), "timeout_ms": 15000})


def wait_remote_game(
    peer: Peer,
    game_id: str,
    *,
    peer_count: int | None = None,
    version: str | None = None,
    timeout: float = 20,
) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []

    def found() -> dict[str, Any] | None:
        rows[:] = peer.list_games()["remote"]
        for row in rows:
            if row["id"] != game_id:
                continue
            if peer_count is not None and row.get("peer_count") != peer_count:
                continue
            if version is not None and row.get("eti_game_version") != version:
                continue
            return row
        return None

    return poll(found, timeout=timeout, what=lambda: (
        f"{peer.name} never saw remote {game_id} peer_count={peer_count} version={version}; rows={_short(rows, 2000)}"
    ))


def wait_remote_absent(peer: Peer, game_id: str, timeout: float = 20) -> None:
    rows: list[dict[str, Any]] = []

    def absent() -> bool:
        rows[:] = peer.list_games()["remote"]
        return all(row["id"] != game_id for row in rows)

    poll(absent, timeout=timeout, what=lambda: f"{peer.name} still lists remote {game_id}; rows={_short(rows, 2000)}")


def wait_local_game(
    peer: Peer,
    game_id: str,
    *,
    downloaded: bool | None = None,
    installed: bool | None = None,
    timeout: float = 20,
) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []

    def found() -> dict[str, Any] | None:
        rows[:] = peer.list_games()["local"]
        for row in rows:
            if row["id"] != game_id:
                continue
            if downloaded is not None and row.get("downloaded") != downloaded:
                continue
            if installed is not None and row.get("installed") != installed:
                continue
            return row
        return None

    return poll(found, timeout=timeout, what=lambda: (
        f"{peer.name} never reached local {game_id} downloaded={downloaded} installed={installed}; rows={_short(rows, 2000)}"
    ))


def wait_no_active(peer: Peer, game_id: str, timeout: float = 20) -> None:
    active: list[dict[str, Any]] = []

    def idle() -> bool:
        active[:] = peer.status()["active_operations"]
        return all(item["game_id"] != game_id for item in active)

    poll(idle, timeout=timeout, what=lambda: f"{peer.name} still has active operation for {game_id}: {active}")


def wait_no_outbound_transfer(peer: Peer, game_id: str, timeout: float = 20) -> None:
    active: dict[str, int] = {}

    def idle() -> bool:
        active.clear()
        active.update(peer.status()["active_outbound_transfers"])
        return active.get(game_id, 0) == 0

    poll(idle, timeout=timeout, what=lambda: f"{peer.name} still has outbound transfer for {game_id}: {active}")


def assert_game_state(game: dict[str, Any], *, downloaded: bool, installed: bool, availability: str) -> None:
    if (
        game.get("downloaded") != downloaded
        or game.get("installed") != installed
        or game.get("availability") != availability
    ):
        raise ScenarioError(
            f"unexpected game state for {game.get('id')}: "
            f"downloaded={game.get('downloaded')} installed={game.get('installed')} "
            f"availability={game.get('availability')}"
        )


def wait_peer_has_game(observer: Peer, peer_id: str | None, game_id: str, timeout: float = 20) -> dict[str, Any]:
    if peer_id is None:
        raise ScenarioError("cannot wait for a peer without peer_id")
    peers: list[dict[str, Any]] = []

    def found() -> dict[str, Any] | None:
        peers[:] = observer.list_peers()
        return _advert(peers, peer_id, game_id)[0]

    return poll(found, timeout=timeout,
                what=lambda: f"{observer.name} never saw peer {peer_id} advertise {game_id}; peers={_short(peers, 2000)}")


def peer_advertised_version(observer: Peer, peer_id: str | None, game_id: str, timeout: float = 20) -> str | None:
    """The raw eti_version a peer advertises (list-peers), not synthesized
    from the catalog."""
    if peer_id is None:
        raise ScenarioError("cannot read advertised version without peer_id")
    game = poll(lambda: _advert(observer.list_peers(), peer_id, game_id)[1], timeout=timeout,
                what=f"{observer.name} does not see {game_id} advertised by {peer_id}")
    return game.get("eti_version")


def _advert(peers: list[dict[str, Any]], peer_id: str, game_id: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(the peer row, its game row) of list-peers rows where peer_id advertises game_id."""
    for peer in peers:
        if peer.get("peer_id") != peer_id:
            continue
        for game in peer.get("games", []):
            if game.get("id") == game_id:
                return peer, game
    return None, None


def assert_local_absent(peer: Peer, game_id: str) -> None:
    rows = peer.list_games()["local"]
    if any(row["id"] == game_id and (row.get("downloaded") or row.get("installed")) for row in rows):
        raise ScenarioError(f"{peer.name} advertises failed local {game_id}: {rows}")


def assert_no_active(peer: Peer, game_id: str) -> None:
    active = peer.status()["active_operations"]
    if any(item["game_id"] == game_id for item in active):
        raise ScenarioError(f"{peer.name} still has active operation for {game_id}: {active}")


def assert_not_exists(path: Path) -> None:
    if os.path.lexists(path):
        raise ScenarioError(f"expected path to be absent: {path}")


def assert_failed_stream_left_no_local(peer: Peer, game_id: str) -> None:
    game_root = peer.host_games_dir / game_id
    assert_local_absent(peer, game_id)
    assert_not_exists(game_root / "local")
    assert_not_exists(game_root / ".local.installing")
    assert_not_exists(game_root / "version.ini")
    assert_not_exists(game_root / f"{game_id}.eti")


def event_is(event: str, game_id: str | None = None) -> Callable[[dict[str, Any]], bool]:
    def predicate(item: dict[str, Any]) -> bool:
        if item.get("type") != "event" or item.get("event") != event:
            return False
        if game_id is None:
            return True
        return (item.get("data") or {}).get("game_id") == game_id

    return predicate


# The events that end a download or a stream-install.
TERMINAL = {"download-failed", "download-peers-gone", "download-finished", "download-cancelled", "install-finished"}


def event_name_in(events: set[str], game_id: str | None = None) -> Callable[[dict[str, Any]], bool]:
    def predicate(item: dict[str, Any]) -> bool:
        if item.get("type") != "event" or item.get("event") not in events:
            return False
        if game_id is None:
            return True
        return (item.get("data") or {}).get("game_id") == game_id

    return predicate


def game_events(peer: Peer, event: str, game_id: str, start: int = 0) -> list[dict[str, Any]]:
    return [
        item
        for item in peer.items(start)
        if item.get("type") == "event"
        and item.get("event") == event
        and (item.get("data") or {}).get("game_id") == game_id
    ]


def assert_no_event_since(peer: Peer, start: int, event: str, game_id: str) -> None:
    for item in game_events(peer, event, game_id, start):
        raise ScenarioError(f"unexpected {event} for {game_id}: {_short(item)}")


def chunk_events(peer: Peer, game_id: str) -> list[dict[str, Any]]:
    return [item["data"] for item in game_events(peer, "download-chunk-finished", game_id)]


def assert_only_chunk_sources(peer: Peer, game_id: str, allowed_sources: set[str | None]) -> None:
    allowed = {source for source in allowed_sources if source is not None}
    if not allowed:
        raise ScenarioError("no allowed chunk sources supplied")
    seen: set[str] = set()
    for data in chunk_events(peer, game_id):
        source = data.get("peer_addr")
        seen.add(source)
        if source not in allowed:
            raise ScenarioError(f"unexpected chunk source for {game_id}: {data}")
    if not seen:
        raise ScenarioError(f"no chunk events recorded for {game_id}")


def streamed_chunk_paths(peer: Peer, game_id: str) -> list[str]:
    return [data["relative_path"] for data in chunk_events(peer, game_id)]


def streamed_bytes(peer: Peer, game_id: str) -> int:
    return sum(int(data.get("length", 0)) for data in chunk_events(peer, game_id))


def chunk_totals(peer: Peer, game_id: str, relative_path: str) -> dict[str, int]:
    totals: dict[str, int] = {}
    for data in chunk_events(peer, game_id):
        if data.get("relative_path") != relative_path:
            continue
        totals[data["peer_addr"]] = totals.get(data["peer_addr"], 0) + int(data["length"])
    return totals


def chunk_sources(peer: Peer, game_id: str) -> set[str]:
    return {data["peer_addr"] for data in chunk_events(peer, game_id)}


def assert_no_duplicate_chunks(peer: Peer, game_id: str) -> None:
    seen: set[tuple[str | None, int]] = set()
    for data in chunk_events(peer, game_id):
        key = (data.get("relative_path"), int(data.get("offset", 0)))
        if key in seen:
            raise ScenarioError(f"{peer.name} downloaded a duplicate chunk for {game_id}: {key}")
        seen.add(key)


def count_events(peer: Peer, event: str, game_id: str) -> int:
    return len(game_events(peer, event, game_id))


def diff_game_dirs(source: Path, destination: Path) -> None:
    source_manifest = manifest(source)
    destination_manifest = manifest(destination)
    if source_manifest != destination_manifest:
        diff = run_diff(source, destination)
        raise ScenarioError(f"manifest mismatch between {source} and {destination}\n{diff}")
    diff = run_diff(source, destination)
    if diff:
        raise ScenarioError(f"diff mismatch between {source} and {destination}\n{diff}")


def manifest(root: Path) -> dict[str, str]:
    if not root.exists():
        raise ScenarioError(f"missing manifest root: {root}")
    entries: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(root)
        if any(part in IGNORED_DIFF_NAMES for part in rel.parts):
            continue
        entries[str(rel)] = sha256_file(path)
    return entries


def run_diff(source: Path, destination: Path) -> str:
    command = [
        "diff", "-r",
        "-x", ".lanspread",
        "-x", ".lanspread.json",
        "-x", "local",
        str(source), str(destination),
    ]
    result = _run_cmd(command, timeout=900)
    if result.returncode == 0:
        return ""
    return result.stdout or f"diff exited {result.returncode}"
