"""lanspreadctl for people (issue 13): usage, version and the nearest
command (X13); hints when the daemon is not running or the socket is not
ours to open (X14); progress bars under tmux at 80 columns, read from the
pane (X15); Ctrl-C while waiting, and watch in plain lines (X16)."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from harness import (
    CFG,
    REPO,
    Scenario,
    ScenarioError,
    copy_game,
    descendants,
    wait_local_game,
    wait_procs_gone,
)

GAME = "cod5"
# Big enough for the bars to be seen for a while, sparse on the source.
GAME_SIZE = 768 << 20
PANE_COLUMNS = 80


def _ctl(sc: Scenario, *args: str, prefix: list[str] | None = None,
         timeout: float = 120) -> subprocess.CompletedProcess[str]:
    cmd = [*(prefix or []), str(CFG.build / "lanspreadctl"), *args]
    sc.log("run " + " ".join(cmd))
    result = subprocess.run(cmd, text=True, capture_output=True, timeout=timeout,
                            stdin=subprocess.DEVNULL)
    sc.log(f"exit {result.returncode}\nstdout:\n{result.stdout}stderr:\n{result.stderr}")
    return result


def _expect(result: subprocess.CompletedProcess[str], rc: int, what: str) -> None:
    if result.returncode != rc:
        raise ScenarioError(f"{what}: exit {result.returncode}, wanted {rc}\n"
                            f"stdout: {result.stdout!r}\nstderr: {result.stderr!r}")


def _makefile_version() -> str:
    for line in (REPO / "Makefile").read_text(encoding="utf-8").splitlines():
        match = re.match(r"VERSION\s*:?=\s*(\S+)\s*$", line)
        if match:
            return match.group(1)
    raise ScenarioError("no VERSION in the Makefile")


def _complete(script: Path, words: list[str]) -> list[str]:
    """What bash completion of script offers for words (the last is the
    word being completed)."""
    code = (
        'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); '
        '_lanspreadctl; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    res = subprocess.run(["bash", "-c", code, "complete", str(script), *words], text=True,
                         capture_output=True, timeout=30)
    if res.returncode != 0:
        raise ScenarioError(f"completion of {words} failed: {res.stderr}")
    return [w for w in res.stdout.split("\n") if w]


# --------------------------------------------------------------------------
# X13: --help, --version, unknown commands
# --------------------------------------------------------------------------


def x13_help_version_unknown(sc: Scenario) -> str:
    """Help on stdout with exit 0, the Makefile's version, and an unknown
    command named with the nearest known one on stderr, exit 2. None of
    these needs a daemon: the socket given does not exist."""
    nosock = str(sc.dir / "no-daemon.sock")
    commands = ["games", "peers", "status", "connect", "download", "install", "uninstall",
                "stream-install", "cancel", "play", "watch"]
    for args in (["--help"], ["-h"], ["help"], ["-s", nosock, "help"]):
        res = _ctl(sc, *args)
        _expect(res, 0, " ".join(args))
        if res.stderr or not res.stdout.startswith("usage: lanspreadctl"):
            raise ScenarioError(f"{' '.join(args)}: usage not on stdout alone: {res.stdout!r} {res.stderr!r}")
        missing = [c for c in commands if not re.search(rf"^  {re.escape(c)}\b", res.stdout, re.M)]
        if missing:
            raise ScenarioError(f"{' '.join(args)}: commands missing from the usage: {missing}")
    version = _makefile_version()
    for flag in ("--version", "-V"):
        res = _ctl(sc, flag)
        _expect(res, 0, flag)
        if res.stdout != f"lanspreadctl {version}\n" or res.stderr:
            raise ScenarioError(f"{flag}: {res.stdout!r} {res.stderr!r}, wanted 'lanspreadctl {version}'")
    for word, near in (("dowload", "download"), ("stauts", "status"), ("instal", "install"),
                       ("stream", "stream-install"), ("wacth", "watch")):
        res = _ctl(sc, "-s", nosock, word, "x")
        _expect(res, 2, word)
        want = f'lanspreadctl: unknown command "{word}"; did you mean "{near}"?\n'
        if res.stderr != want or res.stdout:
            raise ScenarioError(f"{word}: stderr {res.stderr!r}, wanted {want!r}; stdout {res.stdout!r}")
    res = _ctl(sc, "-s", nosock, "frobnicate")
    _expect(res, 2, "frobnicate")
    if 'unknown command "frobnicate"' not in res.stderr or "did you mean" in res.stderr:
        raise ScenarioError(f"frobnicate: {res.stderr!r}")
    for args, what in ((["-s", nosock], "no command"), (["-s", nosock, "download"], "download without GAME"),
                       (["-s", nosock, "download", "x", "--bogus"], "unknown flag"),
                       (["--bogus-option"], "unknown option")):
        res = _ctl(sc, *args)
        _expect(res, 2, what)
        if res.stdout or not res.stderr:
            raise ScenarioError(f"{what}: a usage error belongs on stderr: {res.stdout!r} {res.stderr!r}")
    # make install puts the bash completion where bash-completion looks.
    dest = sc.dir / "destdir"
    res = subprocess.run(["make", "-s", "-C", str(REPO), f"B={CFG.build}", f"DESTDIR={dest}", "PREFIX=/usr",
                          "install"], text=True, capture_output=True, timeout=300)
    if res.returncode != 0:
        raise ScenarioError(f"make install failed: {res.stdout}{res.stderr}")
    script = dest / "usr/share/bash-completion/completions/lanspreadctl"
    if not script.is_file():
        raise ScenarioError(f"make install did not install {script}")
    for words, want in ((["lanspreadctl", "dow"], ["download"]),
                        (["lanspreadctl", "-s", nosock, "st"], ["status", "stream-install"]),
                        (["lanspreadctl", "--v"], ["--version"]),
                        (["lanspreadctl", "download", "x", "--no"], ["--no-install"]),
                        (["lanspreadctl", "play", "x", "--"], ["--user", "--language", "--force"])):
        got = _complete(script, words)
        if got != want:
            raise ScenarioError(f"completion of {words}: {got}, wanted {want}")
    return (f"--help/-h/help on stdout exit 0 listing {len(commands)} commands; --version "
            f"'lanspreadctl {version}' exit 0; 5 typos named with the nearest command, exit 2; "
            "usage errors on stderr, exit 2; make install's bash completion completes commands and flags")


# --------------------------------------------------------------------------
# X14: hints for a daemon that is not running and for permission denied
# --------------------------------------------------------------------------


def x14_unreachable_hints(sc: Scenario) -> str:
    """No socket, and a stale one (nobody listening): "lanspreadd is not
    running" with the path and how to start it. A root-owned 0660 socket
    opened as nobody: permission denied, with the group to join."""
    not_running = "lanspreadd is not running (no daemon at {})"
    missing = sc.dir / "missing.sock"
    stale = sc.dir / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(stale))  # closed without listen or unlink: refused
    for path, why in ((missing, "ENOENT"), (stale, "ECONNREFUSED")):
        res = _ctl(sc, "-s", str(path), "status")
        _expect(res, 3, f"status on {why}")
        if (not_running.format(path) not in res.stderr or "systemctl start lanspreadd" not in res.stderr
                or res.stdout):
            raise ScenarioError(f"{why}: no not-running hint: {res.stderr!r}")
    # Through $LANSPREAD_SOCKET too, and for a command that would wait.
    env_res = subprocess.run([str(CFG.build / "lanspreadctl"), "download", "x"], text=True,
                             capture_output=True, timeout=30,
                             env={**os.environ, "LANSPREAD_SOCKET": str(missing)})
    if env_res.returncode != 3 or not_running.format(missing) not in env_res.stderr:
        raise ScenarioError(f"LANSPREAD_SOCKET: {env_res.returncode} {env_res.stderr!r}")

    # A folder anyone may enter, holding a socket only root and its group may open.
    folder = Path(tempfile.mkdtemp(prefix="lanspread-x14-", dir="/tmp"))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        os.chmod(folder, 0o755)
        path = folder / "control.sock"
        listener.bind(str(path))
        listener.listen(4)
        os.chown(path, 0, 0)
        os.chmod(path, 0o660)
        as_nobody = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        res = _ctl(sc, "-s", str(path), "status", prefix=as_nobody, timeout=30)
        _expect(res, 3, "status as nobody on a 0660 root socket")
        for want in (f"permission denied on {path}", "lanspread group", "usermod -aG lanspread $USER"):
            if want not in res.stderr:
                raise ScenarioError(f"permission hint lacks {want!r}: {res.stderr!r}")
        if "not running" in res.stderr:
            raise ScenarioError(f"permission denied taken for a daemon not running: {res.stderr!r}")
        # The same socket opens for root: the hint was about permission.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.connect(str(path))
    finally:
        listener.close()
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()
    return ("missing and stale socket: 'lanspreadd is not running (no daemon at PATH)' + systemctl hint, exit 3 "
            "(also via LANSPREAD_SOCKET); as nobody on a 0660 root socket: permission denied + "
            "'usermod -aG lanspread $USER', exit 3")


# --------------------------------------------------------------------------
# A lanspreadd from a config file, and a lanspread-peer that has a big game
# --------------------------------------------------------------------------


def _make_big_sparse_rar(path: Path, size: int) -> None:
    """A stored RAR 5 of zeros (fixtures/rar.py), its zeros made holes."""
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import rar\n"
        "size = int(sys.argv[3]); block = bytes(1 << 20)\n"
        "def data():\n"
        "    left = size\n"
        "    while left:\n"
        "        n = min(left, len(block)); left -= n; yield block[:n]\n"
        "rar.write_rar5(sys.argv[2], [('big/zeros.bin', data, size), ('readme.txt', b'hi', 2)])\n"
    )
    subprocess.run([sys.executable, "-c", code, str(REPO / "fixtures"), str(path), str(size)], check=True)
    subprocess.run(["fallocate", "--dig-holes", str(path)], check=True)


class _Daemon:
    def __init__(self, sc: Scenario, name: str, listen_ip: str) -> None:
        self.sc = sc
        self.games = sc.dir / f"{name}-games"
        self.sock = sc.dir / f"{name}.sock"
        self.conf = sc.dir / f"{name}.conf"
        self.conf.write_text(
            f"# written by {sc.sid}\n"
            f"name = {name}\n"
            f"games_dir = {self.games}\n"
            f"state_dir = {sc.dir / (name + '-state')}\n"
            f"catalog = {CFG.catalog_db}\n"
            f"listen = {listen_ip}:0\n"
            "mdns = no\n"
            "unrar = builtin\n"
            f"control_socket = {self.sock}\n"
            "user =\n",
            encoding="utf-8",
        )
        self.log = open(sc.log_dir / f"{name}.log", "ab")
        self.proc = subprocess.Popen([str(CFG.build / "lanspreadd"), "-d", "-f", str(self.conf)],
                                     stderr=self.log, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)

    def ctl(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return _ctl(self.sc, "-s", str(self.sock), *args, timeout=timeout)

    def ctl_argv(self, *args: str) -> list[str]:
        return [str(CFG.build / "lanspreadctl"), "-s", str(self.sock), *args]

    def wait_up(self) -> None:
        deadline = time.monotonic() + 20
        while self.ctl("status").returncode != 0:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise ScenarioError("lanspreadd did not come up")
            time.sleep(0.2)

    def wait_remote(self, game_id: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            res = self.ctl("--json", "games")
            if res.returncode == 0:
                remote = json.loads(res.stdout)["data"]["remote"]
                if any(g.get("id") == game_id for g in remote):
                    return
            if time.monotonic() > deadline:
                raise ScenarioError(f"the daemon never saw {game_id} on the LAN: {res.stdout}")
            time.sleep(0.3)

    def stop(self) -> None:
        procs = descendants(self.proc.pid)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise ScenarioError("lanspreadd did not stop on SIGTERM")
        finally:
            self.log.close()
        left = wait_procs_gone(procs.values(), 5)
        if left:
            raise ScenarioError(f"workers survived SIGTERM: {[p.describe() for p in left]}")


def _daemon_and_source(sc: Scenario, tag: str, listen_ip: str) -> _Daemon:
    """A lanspread-peer with GAME (GAME_SIZE), and a lanspreadd linked to
    it that sees GAME on the LAN."""
    games = sc.fixture_root / tag
    copy_game(GAME, games)
    _make_big_sparse_rar(games / GAME / f"{GAME}.eti", GAME_SIZE)
    source = sc.peer(f"{tag}-source", games_dir=games, extra_args=["--unrar", "builtin"])
    wait_local_game(source, GAME, downloaded=True, timeout=60)
    daemon = _Daemon(sc, f"{tag}-daemon", listen_ip)
    try:
        daemon.wait_up()
        res = daemon.ctl("connect", source.ready_addr or "")
        if res.returncode != 0:
            raise ScenarioError(f"connect failed: {res.stderr}")
        daemon.wait_remote(GAME)
    except BaseException:
        daemon.stop()
        raise
    return daemon


# --------------------------------------------------------------------------
# X15: progress bars under tmux at 80 columns
# --------------------------------------------------------------------------


class _Tmux:
    """A tmux server of our own (-L, a per-run name), killed at the end."""

    def __init__(self, sc: Scenario) -> None:
        self.sc = sc
        self.name = f"lanspread-{sc.sid.split('-', 1)[0].lower()}-{os.getpid()}-{time.monotonic_ns()}"

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["tmux", "-L", self.name, "-f", "/dev/null", *args], text=True,
                              capture_output=True, timeout=20, check=check, stdin=subprocess.DEVNULL)

    def start(self, columns: int, rows: int, command: str, session: str = "main") -> None:
        self.sc.log(f"tmux {self.name} {session} {columns}x{rows}: {command}")
        self.run("new-session", "-d", "-s", session, "-x", str(columns), "-y", str(rows), command)

    def capture(self, session: str = "main") -> str:
        # -J joins wrapped lines, so a line that wrapped shows too long.
        return self.run("capture-pane", "-p", "-J", "-t", session).stdout

    def kill(self) -> None:
        procs = [p for p in descendants(os.getpid()).values() if p.comm.startswith("tmux")]
        self.run("kill-server", check=False)
        wait_procs_gone(procs, 5)


BAR = re.compile(rf"^(download|install) +{GAME} ")
RESULT = re.compile(rf"^{GAME}: (downloaded \S+ \S+ in [0-9.]+ s \([0-9]+ MiB/s\)|installed)$")
EXIT_LINE = re.compile(r"^\[exit (\d+)\]$")
# [bar] percentage bytes/total rate time-left, as drawn at 80 columns.
BAR_FIGURES = re.compile(r" \[[#.]{10,}\] +\d+% \S+ \S+/\S+ \S+ \S+ \S+/s ETA ((\d+:)?\d+:\d\d|--:--)$")


def _check_pane(text: str, where: str) -> list[str]:
    """The pane's lines; raises when one is too long, is not a bar, a
    result or our exit line, or when more than one bar is shown."""
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    long = [line for line in lines if len(line) > PANE_COLUMNS]
    if long:
        raise ScenarioError(f"{where}: line longer than {PANE_COLUMNS} columns: {long[0]!r}")
    bars = [line for line in lines if BAR.match(line)]
    strays = [line for line in lines if line and not (BAR.match(line) or RESULT.match(line)
                                                        or EXIT_LINE.match(line))]
    if strays:
        raise ScenarioError(f"{where}: leftover or wrapped line {strays[0]!r} in pane:\n{text}")
    if len(bars) > 1:
        raise ScenarioError(f"{where}: {len(bars)} bar lines at once:\n{text}")
    if bars and lines.index(bars[0]) != len(lines) - 1:
        raise ScenarioError(f"{where}: the bar is not the last line:\n{text}")
    if bars and bars[0].startswith("install") and not any(l.startswith(f"{GAME}: downloaded") for l in lines):
        raise ScenarioError(f"{where}: install bar without the download's result line:\n{text}")
    if bars and bars[0].startswith("download") and any(RESULT.match(l) for l in lines):
        raise ScenarioError(f"{where}: download bar after a result line:\n{text}")
    return lines


def x15_progress_under_tmux(sc: Scenario) -> str:
    """lanspreadctl download in an 80x24 tmux pane: the pane, read many
    times while it runs, never has a line over 80 columns, a wrapped or
    leftover line, or two bars; the bars say download then install with
    a percentage, a rate and the time left; the end shows only the two
    result lines. Then Ctrl-C on an install bar erases it, ^C included."""
    daemon = _daemon_and_source(sc, "x15", "127.0.0.21")
    tmux = _Tmux(sc)
    captures = 0
    labels: dict[str, str] = {}
    interrupted = ""
    try:
        command = " ".join(shlex.quote(a) for a in daemon.ctl_argv("download", GAME))
        tmux.start(PANE_COLUMNS, 24, f'{command}; echo "[exit $?]"; sleep 600')
        deadline = time.monotonic() + 300
        final = ""
        while time.monotonic() < deadline:
            text = tmux.capture()
            captures += 1
            lines = _check_pane(text, f"capture {captures}")
            for line in lines:
                match = BAR.match(line)
                if match:
                    labels[match.group(1)] = line  # the latest, for the report
                    if not BAR_FIGURES.search(line):
                        raise ScenarioError(f"capture {captures}: bar lacks bar/percentage/rate/ETA: {line!r}")
            if any(EXIT_LINE.match(line) for line in lines):
                final = text
                break
            time.sleep(0.05)
        if not final:
            raise ScenarioError(f"lanspreadctl download did not end within 300 s; pane:\n{tmux.capture()}")
        (sc.log_dir / "final-pane.txt").write_text(final, encoding="utf-8")
        lines = [line for line in _check_pane(final, "final pane") if line]
        if len(lines) != 3 or not lines[0].startswith(f"{GAME}: downloaded ") \
                or lines[1] != f"{GAME}: installed" or lines[2] != "[exit 0]":
            raise ScenarioError(f"final pane is not downloaded/installed/[exit 0]:\n{final}")
        interrupted = _ctrl_c_on_install_bar(daemon, tmux)
    finally:
        tmux.kill()
        daemon.stop()
    for label in ("download", "install"):
        if label not in labels:
            raise ScenarioError(f"no {label} bar seen in {captures} captures (seen: {labels})")
    return (f"{captures} pane captures at 80x24: no line over 80 columns, no stray or second bar; "
            f"last bars: {labels['download']!r} / {labels['install']!r}; final pane: downloaded, installed, "
            f"exit 0; Ctrl-C on the install bar: {interrupted}")


def _ctrl_c_on_install_bar(daemon: _Daemon, tmux: _Tmux) -> str:
    """Ctrl-C typed in the pane while the install bar shows: the bar and
    the echoed ^C are erased, the message says the install goes on, exit
    130, and the install does finish."""
    _expect(daemon.ctl("uninstall", GAME), 0, "uninstall")
    command = " ".join(shlex.quote(a) for a in daemon.ctl_argv("install", GAME))
    tmux.start(PANE_COLUMNS, 24, f'{command}; echo "[exit $?]"; sleep 600', session="second")
    deadline = time.monotonic() + 60
    while not any(BAR.match(line) for line in tmux.capture("second").splitlines()):
        if time.monotonic() > deadline:
            raise ScenarioError(f"no install bar within 60 s:\n{tmux.capture('second')}")
        time.sleep(0.02)
    tmux.run("send-keys", "-t", "second", "C-c")
    deadline = time.monotonic() + 20
    while True:
        text = tmux.capture("second")
        lines = [line.rstrip() for line in text.splitlines() if line.strip()]
        if any(EXIT_LINE.match(line) for line in lines):
            break
        if time.monotonic() > deadline:
            raise ScenarioError(f"install did not end on Ctrl-C:\n{text}")
        time.sleep(0.05)
    if lines[-1] == f"[exit 0]" and f"{GAME}: installed" in lines:
        raise ScenarioError("the install ended before Ctrl-C landed (rerun)")
    if lines[-1] != "[exit 130]" or not lines[0].startswith(
            f"lanspreadctl: interrupted; the install of {GAME} goes on in lanspreadd"):
        raise ScenarioError(f"Ctrl-C on the install bar left:\n{text}")
    if any(BAR.match(line) or "^C" in line or "[#" in line or "[." in line for line in lines):
        raise ScenarioError(f"bar or ^C left after Ctrl-C:\n{text}")
    deadline = time.monotonic() + 120
    while f"busy      {GAME}:" in daemon.ctl("status").stdout:
        if time.monotonic() > deadline:
            raise ScenarioError("the install never ended after Ctrl-C")
        time.sleep(0.3)
    games = json.loads(daemon.ctl("--json", "games").stdout)["data"]["local"]
    if not any(g.get("id") == GAME and g.get("installed") for g in games):
        raise ScenarioError(f"the install did not go on after Ctrl-C: {games}")
    return "bar and ^C erased, 'goes on' message, exit 130, install finished in the daemon"


# --------------------------------------------------------------------------
# X16: Ctrl-C while waiting; watch for people
# --------------------------------------------------------------------------


WATCH_LINE = re.compile(r"^\d\d:\d\d:\d\d [a-z][a-z-]*( .*)?$")
WATCH_PROGRESS = re.compile(rf"^\d\d:\d\d:\d\d download-progress {GAME} \d+% \S+ \S+/\S+ \S+ \S+ \S+/s$")


def x16_interrupt_and_watch(sc: Scenario) -> str:
    """SIGINT to a waiting download: exit 130, says the download goes on
    and the exact cancel command; the daemon is still downloading; the
    suggested command cancels it. watch prints one plain line per event."""
    daemon = _daemon_and_source(sc, "x16", "127.0.0.22")
    watch = None
    lines: list[str] = []
    piped: list[str] = []
    try:
        watch = subprocess.Popen(daemon.ctl_argv("watch"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 stdin=subprocess.DEVNULL, text=True)
        cond = threading.Condition()

        def reader() -> None:
            assert watch is not None and watch.stdout is not None
            for line in watch.stdout:
                with cond:
                    lines.append(line.rstrip("\n"))
                    cond.notify_all()

        threading.Thread(target=reader, daemon=True).start()

        def wait_line(pattern: re.Pattern[str], what: str, timeout: float = 60) -> str:
            deadline = time.monotonic() + timeout
            with cond:
                while True:
                    for line in lines:
                        if pattern.search(line):
                            return line
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise ScenarioError(f"watch never printed {what}; lines: {lines[-10:]}")
                    cond.wait(left)

        # Game ids complete from the daemon's list.
        script = REPO / "packaging" / "lanspreadctl.bash-completion"
        got = _complete(script, [str(CFG.build / "lanspreadctl"), "-s", str(daemon.sock), "download", "co"])
        if got != [GAME]:
            raise ScenarioError(f"completion of a game id: {got}, wanted [{GAME!r}]")
        time.sleep(0.5)  # watch subscribed before the download starts
        download = subprocess.Popen(daemon.ctl_argv("download", GAME), stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        wait_line(re.compile(rf" download-begin {GAME} "), "download-begin")
        download.send_signal(signal.SIGINT)
        try:
            out, err = download.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            download.kill()
            download.communicate()
            raise ScenarioError("lanspreadctl download did not end on SIGINT")
        sc.log(f"download after SIGINT: exit {download.returncode}\nstdout:\n{out}stderr:\n{err}")
        if download.returncode == 0:
            raise ScenarioError("the download ended before SIGINT landed (rerun)")
        if download.returncode != 130:
            raise ScenarioError(f"SIGINT: exit {download.returncode}, wanted 130; stderr {err!r}")
        cancel_cmd = f"lanspreadctl -s {daemon.sock} cancel {GAME}"
        for want in (f"the download of {GAME} goes on in lanspreadd", cancel_cmd):
            if want not in err:
                raise ScenarioError(f"SIGINT message lacks {want!r}: {err!r}")
        if "\r" in out:
            raise ScenarioError(f"carriage returns on a stdout that is not a terminal: {out!r}")
        status = daemon.ctl("status")
        if f"busy      {GAME}: " not in status.stdout:
            raise ScenarioError(f"the daemon stopped downloading after the interrupt: {status.stdout}")
        wait_line(WATCH_PROGRESS, "a readable download-progress line")
        res = daemon.ctl(*shlex.split(cancel_cmd)[3:])
        _expect(res, 0, "the suggested cancel")
        wait_line(re.compile(rf" download-cancelled {GAME}$"), "download-cancelled")
        # Not a terminal: no redraws, one line at the end of each phase.
        res = daemon.ctl("download", GAME, timeout=300)
        _expect(res, 0, "download to a pipe")
        piped = res.stdout.splitlines()
        if "\r" in res.stdout or "\033" in res.stdout or len(piped) != 2 \
                or not RESULT.match(piped[0]) or not piped[0].startswith(f"{GAME}: downloaded ") \
                or piped[1] != f"{GAME}: installed":
            raise ScenarioError(f"download to a pipe: {res.stdout!r}, wanted the two result lines alone")
    finally:
        if watch is not None:
            watch.terminate()
            try:
                watch.wait(timeout=5)
            except subprocess.TimeoutExpired:
                watch.kill()
                watch.wait()
        daemon.stop()
    bad = [line for line in lines if not WATCH_LINE.match(line) or "{" in line]
    if bad:
        raise ScenarioError(f"watch printed lines that are not plain events: {bad[:5]}")
    progress = next(line for line in lines if WATCH_PROGRESS.match(line))
    return (f"game id completed from the daemon; SIGINT during download: exit 130, 'goes on' + '{cancel_cmd}', daemon still busy, "
            f"that command cancelled it; to a pipe: {piped}; watch: {len(lines)} plain lines, e.g. {progress!r}")



# --------------------------------------------------------------------------
# X63: status and games show the progress of active operations; streams
# have a total; a stream-installed game has a size
# --------------------------------------------------------------------------

BUSY_LINE = re.compile(rf"^busy +{GAME}: (Downloading|StreamInstalling|Installing), \d+% \S+ \S+/\S+ \S+ \S+ \S+/s "
                       r"ETA ((\d+:)?\d+:\d\d|--:--)$", re.M)
ACTIVE_LINE = re.compile(r"^  (Downloading|StreamInstalling|Installing), \d+% \S+ \S+/\S+ \S+ \S+ \S+/s "
                         r"ETA ((\d+:)?\d+:\d\d|--:--)$", re.M)


def _sample_progress(daemon: _Daemon, proc: subprocess.Popen[str], kinds: set[str]) -> dict[str, Any]:
    """Polls status and games while proc runs, until both show an active
    operation of GAME with its figures; returns what was seen."""
    seen: dict[str, Any] = {}
    while proc.poll() is None and len(seen) < 4:
        res = daemon.ctl("--json", "status", timeout=30)
        if res.returncode == 0:
            ops = json.loads(res.stdout.splitlines()[-1])["data"]["active_operations"]
            op = next((o for o in ops if o.get("game_id") == GAME and o.get("operation") in kinds), None)
            if op and op.get("total_bytes", 0) > 0 and 0 < op.get("bytes", 0) < op["total_bytes"] \
                    and "percent" in op and "eta_s" in op and "bytes_per_s" in op:
                seen.setdefault("status", op)
        res = daemon.ctl("--json", "games", timeout=30)
        if res.returncode == 0:
            data = json.loads(res.stdout.splitlines()[-1])["data"]
            rows = [g for g in data["local"] + data["remote"] if g.get("id") == GAME and "active" in g]
            act = rows[0]["active"] if rows else None
            if act and act.get("operation") in kinds and act.get("total_bytes", 0) > 0 and "percent" in act:
                seen.setdefault("games", act)
        if "status" in seen and "status-text" not in seen:
            text = daemon.ctl("status", timeout=30).stdout
            if BUSY_LINE.search(text):
                seen["status-text"] = BUSY_LINE.search(text).group(0)
        if "games" in seen and "games-text" not in seen:
            text = daemon.ctl("games", timeout=30).stdout
            if ACTIVE_LINE.search(text):
                seen["games-text"] = ACTIVE_LINE.search(text).group(0)
        time.sleep(0.05)
    return seen


def x63_progress_in_status_and_games(sc: Scenario) -> str:
    """While a stream-install and then a download run, `status` and
    `games` (JSON and for people) carry bytes, total_bytes, bytes_per_s,
    percent and eta_s of the active operation; the stream's events carry a
    total; afterwards the stream-installed game's size is not 0 B."""
    daemon = _daemon_and_source(sc, "x63", "127.0.0.65")
    try:
        stream = subprocess.Popen(daemon.ctl_argv("--json", "stream-install", GAME), text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        seen = _sample_progress(daemon, stream, {"StreamInstalling"})
        out, err = stream.communicate(timeout=300)
        sc.log(f"stream-install: exit {stream.returncode}\n{out[-2000:]}{err}")
        if stream.returncode != 0:
            raise ScenarioError(f"stream-install failed: {err}")
        missing = {"status", "games", "status-text", "games-text"} - set(seen)
        if missing:
            raise ScenarioError(f"during stream-install, never saw progress in {sorted(missing)}: {seen}")
        events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        totals = [e["data"].get("total_bytes", 0) for e in events
                  if e.get("event") in ("download-begin", "download-progress")]
        if not totals or min(totals) <= 0:
            raise ScenarioError(f"stream progress without a total: {totals[:10]}")
        games = daemon.ctl("--json", "games")
        row = next(g for g in json.loads(games.stdout)["data"]["local"] if g["id"] == GAME)
        if not row["installed"] or row["downloaded"] or row.get("size", 0) < GAME_SIZE:
            raise ScenarioError(f"after the stream, {GAME}'s row: {row}")
        text = daemon.ctl("games").stdout
        line = next(l for l in text.splitlines() if l.startswith(GAME + " "))
        if " 0 B " in line or "installed" not in line:
            raise ScenarioError(f"games shows {line!r}")
        stream_seen = seen

        res = daemon.ctl("uninstall", GAME)
        if res.returncode != 0:
            raise ScenarioError(f"uninstall: {res.stderr}")
        download = subprocess.Popen(daemon.ctl_argv("download", GAME), text=True, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        seen = _sample_progress(daemon, download, {"Downloading", "Installing"})
        out, err = download.communicate(timeout=300)
        if download.returncode != 0:
            raise ScenarioError(f"download failed: {err}")
        missing = {"status", "games", "status-text", "games-text"} - set(seen)
        if missing:
            raise ScenarioError(f"during download, never saw progress in {sorted(missing)}: {seen}")
    finally:
        daemon.stop()
    return (f"stream: status {stream_seen['status-text']!r}, games {stream_seen['games-text']!r}, totals from "
            f"the first event; installed size {row['size']} B; download: {seen['status-text']!r}")


CTL_SCENARIOS = [
    ("X13-ctl-help", x13_help_version_unknown),
    ("X14-ctl-hints", x14_unreachable_hints),
    ("X15-ctl-tmux-bars", x15_progress_under_tmux),
    ("X16-ctl-interrupt", x16_interrupt_and_watch),
    ("X63-ctl-progress", x63_progress_in_status_and_games),
]
