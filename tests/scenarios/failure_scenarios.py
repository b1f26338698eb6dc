"""Things that break in the middle of an operation (X7-X9): the install
worker SIGKILLed mid-install, a peer that goes silent without a FIN, a
download cancelled after its first chunk. Each must be noticed and rolled
back, and the next attempt must work."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from harness import (
    CATALOG_VERSIONS,
    CFG,
    CHUNK_SIZE,
    REPO,
    TERMINAL,
    LineWaiter,
    Peer,
    ProcInfo,
    Scenario,
    ScenarioError,
    assert_failed_stream_left_no_local,
    assert_local_absent,
    assert_no_active,
    assert_no_event_since,
    chunk_events,
    connect_many,
    copy_game,
    create_large_sparse_game,
    descendants,
    event_is,
    event_name_in,
    game_events,
    poll,
    proc_alive,
    wait_local_game,
    wait_no_outbound_transfer,
    wait_remote_game,
    worker_comm,
)


def _peer_procs(peer: Peer) -> list[ProcInfo]:
    """The peer process itself and every descendant (its workers)."""
    if peer.process is None or peer.process.poll() is not None:
        raise ScenarioError(f"{peer.name} is not running")
    pid = peer.process.pid
    with open(f"/proc/{pid}/stat", "rb") as handle:
        raw = handle.read().decode("utf-8", "replace")
    rest = raw[raw.rfind(")") + 2 :].split()
    me = ProcInfo(pid, int(rest[19]), raw[raw.find("(") + 1 : raw.rfind(")")])
    return [me] + list(descendants(pid).values())


def _signal_all(procs: list[ProcInfo], sig: int) -> None:
    for info in procs:
        if proc_alive(info):
            try:
                os.kill(info.pid, sig)
            except ProcessLookupError:
                pass


def _worker(peer: Peer, role: str) -> ProcInfo:
    comm = worker_comm(role)
    found = [p for p in _peer_procs(peer)[1:] if p.comm == comm]
    if len(found) != 1:
        raise ScenarioError(f"cannot find {peer.name}'s {comm} worker: {[p.describe() for p in _peer_procs(peer)]}")
    return found[0]


# --------------------------------------------------------------------------
# X7: the install worker killed mid-install rolls back
# --------------------------------------------------------------------------


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
               if p.comm == worker_comm("install") and _ppid(p.pid) == peer.process.pid]
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


# --------------------------------------------------------------------------
# X8: a peer that stops answering (no FIN, no pings) is dropped
# --------------------------------------------------------------------------

X8_LIMIT = 10.0


def x8_silent_peer_dropped(sc: Scenario) -> str:
    """SIGSTOP of a peer and its workers keeps its sockets open, like an
    unplugged cable: no FIN, no pings answered. Within 10 s the other peer
    must forget it and its games; after SIGCONT it shuts down normally."""
    bravo_games = sc.fixture_root / "x8-bravo"
    copy_game("cnc4", bravo_games)
    alpha = sc.peer("x8-alpha")
    bravo = sc.peer("x8-bravo", games_dir=bravo_games)
    alpha.connect_to(bravo)
    wait_remote_game(alpha, "cnc4", peer_count=1, version=CATALOG_VERSIONS["cnc4"])
    if [p.get("peer_id") for p in alpha.list_peers()] != [bravo.peer_id]:
        raise ScenarioError(f"alpha should list only bravo before the stop: {alpha.list_peers()}")
    procs = _peer_procs(bravo)
    if len(procs) < 4:
        raise ScenarioError(f"expected bravo and its three workers, found {[p.describe() for p in procs]}")
    sc.log(f"SIGSTOP {[p.describe() for p in procs]}")
    stopped = time.monotonic()
    _signal_all(procs, signal.SIGSTOP)
    try:
        peers_gone = games_gone = None
        last_peers: list[Any] = []
        last_remote: list[Any] = []
        while time.monotonic() - stopped < X8_LIMIT:
            last_peers = alpha.list_peers()
            last_remote = alpha.list_games()["remote"]
            now = time.monotonic() - stopped
            if peers_gone is None and not last_peers:
                peers_gone = now
            if games_gone is None and all(row["id"] != "cnc4" for row in last_remote):
                games_gone = now
            if peers_gone is not None and games_gone is not None:
                break
            time.sleep(0.2)
        if peers_gone is None or games_gone is None:
            raise ScenarioError(
                f"{X8_LIMIT:g}s after bravo stopped answering alpha still lists "
                f"peers={[p.get('peer_id') for p in last_peers]} remote={[r['id'] for r in last_remote]}"
            )
        # A stopped process never ran again meanwhile.
        for info in procs:
            try:
                state = Path(f"/proc/{info.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                raise ScenarioError(f"{info.describe()} vanished while stopped")
            if state != "T":
                raise ScenarioError(f"{info.describe()} is in state {state}, not stopped")
    finally:
        _signal_all(list(reversed(procs)), signal.SIGCONT)
        sc.log("SIGCONT sent")
    # bravo lives on after the resume and answers; then a normal shutdown
    # (the harness checks that every worker exits).
    bravo.status()
    bravo.shutdown()
    alpha.status()
    if alpha.list_peers():
        raise ScenarioError(f"alpha lists peers after bravo shut down: {alpha.list_peers()}")
    return (
        f"bravo and its {len(procs) - 1} workers SIGSTOPped: alpha's list-peers empty after {peers_gone:.1f}s, "
        f"cnc4 gone from remote after {games_gone:.1f}s (limit {X8_LIMIT:g}s); after SIGCONT bravo answered and shut down cleanly"
    )


# --------------------------------------------------------------------------
# X9: cancel-download rolls everything back; a new download then works
# --------------------------------------------------------------------------


def _x9_markers() -> list[tuple[int, bytes]]:
    rng = random.Random(9)
    offsets = [0, CHUNK_SIZE - 2048, 2 * CHUNK_SIZE + 12345, 3 * CHUNK_SIZE - 1, 4 * CHUNK_SIZE - 4096]
    return [(off, rng.randbytes(4096 if off + 4096 <= 4 * CHUNK_SIZE else 4 * CHUNK_SIZE - off)) for off in offsets]


def x9_cancel_download_rolls_back(sc: Scenario) -> str:
    """cancel-download of a 4 x 128 MiB download after its first chunk:
    download-cancelled, nothing left (no folder, no sentinel, no staging,
    no row, no operation); the next download finishes byte-exact."""
    game_id = "bf1942"
    size = 4 * CHUNK_SIZE
    src_games = sc.fixture_root / "x9-source"
    root = src_games / game_id
    create_large_sparse_game(root, size=size)
    eti = root / f"{game_id}.eti"
    with eti.open("r+b") as handle:
        for offset, data in _x9_markers():
            handle.seek(offset)
            handle.write(data)
    source = sc.peer("x9-source", games_dir=src_games)
    client = sc.peer("x9-client")
    if os.listdir(client.host_games_dir):
        raise ScenarioError(f"the client's games folder is not empty at the start: {os.listdir(client.host_games_dir)}")
    client.connect_to(source)
    wait_remote_game(client, game_id, peer_count=1, version=CATALOG_VERSIONS[game_id])
    transfer = _worker(source, "transfer")

    start = client.output_len()
    waiter = LineWaiter(start)
    client.send({"cmd": "download", "game_id": game_id, "install": False})
    client.wait_for(event_is("download-begin", game_id), timeout=20, description="download-begin", waiter=waiter)
    # A loopback transfer of 512 MiB takes well under a second: hold the
    # source's transfer worker still from download-begin on and let it run
    # in 5 ms steps until the first chunk is in, so the cancel always lands
    # mid-download (after that first chunk).
    os.kill(transfer.pid, signal.SIGSTOP)
    held = time.monotonic()
    steps = 0
    try:
        while True:
            ended = [item for item in client.items(start) if event_name_in(TERMINAL, game_id)(item)]
            if ended:
                raise ScenarioError(f"the download ended before the cancel could be sent: {ended[0]}")
            if chunk_events(client, game_id):
                break
            if time.monotonic() - held > 20:
                raise ScenarioError("no chunk arrived in 20 s of stepping the source")
            os.kill(transfer.pid, signal.SIGCONT)
            time.sleep(0.005)
            os.kill(transfer.pid, signal.SIGSTOP)
            steps += 1
            time.sleep(0.03)
        chunks_before = len(chunk_events(client, game_id))
        reply = client.send({"cmd": "cancel-download", "game_id": game_id})
        if reply.get("type") != "result":
            raise ScenarioError(f"cancel-download answered {reply}")
        cancelled = client.wait_for(
            event_name_in(TERMINAL, game_id), timeout=10, description="download-cancelled", waiter=waiter
        )
        if cancelled.get("event") != "download-cancelled":
            raise ScenarioError(f"expected download-cancelled, got {cancelled}")
        assert_no_active(client, game_id)
        for event in ("download-failed", "download-finished", "download-peers-gone"):
            assert_no_event_since(client, start, event, game_id)
        game_dir = client.host_games_dir / game_id
        if os.path.lexists(game_dir):
            left = sorted(str(p.relative_to(game_dir)) for p in game_dir.rglob("*"))
            raise ScenarioError(f"the cancelled download left {game_dir} behind: {left[:20]}")
        if os.listdir(client.host_games_dir):
            raise ScenarioError(f"the games folder holds {os.listdir(client.host_games_dir)} after the cancel")
        assert_local_absent(client, game_id)
        # Nothing late either: no failure event after a moment.
        time.sleep(0.5)
        for event in ("download-failed", "download-finished", "download-peers-gone"):
            assert_no_event_since(client, start, event, game_id)
        count = len(game_events(client, "download-cancelled", game_id, start))
        if count != 1:
            raise ScenarioError(f"{count} download-cancelled events")
    finally:
        os.kill(transfer.pid, signal.SIGCONT)
    held_for = time.monotonic() - held
    wait_no_outbound_transfer(source, game_id, timeout=20)

    # Downloading again works and the bytes are right.
    again = client.output_len()
    waiter = LineWaiter(again)
    began = time.monotonic()
    client.send({"cmd": "download", "game_id": game_id, "install": False})
    done = client.wait_for(
        event_name_in(TERMINAL, game_id), timeout=60, description="second download", waiter=waiter
    )
    took = time.monotonic() - began
    if done.get("event") != "download-finished":
        raise ScenarioError(f"the second download ended with {done}")
    got = client.host_games_dir / game_id / f"{game_id}.eti"
    if got.stat().st_size != size:
        raise ScenarioError(f"downloaded {got.name} is {got.stat().st_size} bytes, expected {size}")
    with got.open("rb") as handle:
        for offset, data in _x9_markers():
            handle.seek(offset)
            if handle.read(len(data)) != data:
                raise ScenarioError(f"marker at offset {offset} differs")
    result = subprocess.run(["cmp", str(eti), str(got)], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise ScenarioError(f"cmp: {result.stdout}{result.stderr}")
    if (client.host_games_dir / game_id / "version.ini").read_text() != CATALOG_VERSIONS[game_id]:
        raise ScenarioError("version.ini differs")
    if os.path.lexists(client.host_games_dir / game_id / ".lanspread.staging"):
        raise ScenarioError("staging left after the second download")
    assert_no_event_since(client, again, "download-failed", game_id)
    return (
        f"cancelled after {chunks_before} chunk(s) of 5 (source stepped {steps}x5 ms, held {held_for:.1f}s): result reply, "
        f"download-cancelled, no failure/finish event, no operation, no {game_id} folder, no row; "
        f"second download finished in {took:.1f}s, 512 MiB identical (cmp)"
    )


# --------------------------------------------------------------------------
# X12: the transfer worker killed mid stream-install rolls back
# --------------------------------------------------------------------------


def _zeros_sha(size: int) -> str:
    digest = hashlib.sha256()
    block = bytes(1 << 20)
    for _ in range(size >> 20):
        digest.update(block)
    return digest.hexdigest()


def x12_transfer_worker_killed_mid_stream(sc: Scenario) -> str:
    """SIGKILL of the receiver's transfer worker mid stream-install: the
    operation fails with download-failed, its staging is rolled back, and
    a second stream-install succeeds."""
    size = 512 << 20
    source_games = sc.fixture_root / "x12-source"
    copy_game("cod5", source_games)
    _make_big_rar(source_games / "cod5" / "cod5.eti", size)
    source = sc.peer("x12-source", games_dir=source_games)
    client = sc.peer("x12-client")
    connect_many(client, [source])
    wait_remote_game(client, "cod5", peer_count=1, version="20160920")
    start = LineWaiter(client.output_len())
    client.send({"cmd": "stream-install", "game_id": "cod5"})
    root = client.host_games_dir / "cod5"
    payload = root / ".local.installing" / "big" / "payload.bin"
    poll(payload.exists, timeout=20, what="the stream never started writing", interval=0.002)
    os.kill(_worker(client, "transfer").pid, signal.SIGKILL)
    ended = client.wait_for(
        lambda item: item.get("type") == "event"
        and item.get("event") in ("download-failed", "install-finished")
        and item.get("data", {}).get("game_id") == "cod5",
        timeout=30, description="stream end after the kill", waiter=start)
    if ended["event"] != "download-failed":
        raise ScenarioError("the stream finished before the kill landed (rerun)")
    if client.status()["active_operations"]:
        raise ScenarioError("an operation is still active after the kill")
    # The install worker removes the staging: give it a moment.
    poll(lambda: not (root / ".local.installing").exists(), timeout=10,
         what="the stream's staging was left behind", interval=0.1)
    assert_failed_stream_left_no_local(client, "cod5")
    mark = LineWaiter(client.output_len())
    client.send({"cmd": "stream-install", "game_id": "cod5"})
    client.wait_for(event_is("install-finished", "cod5"), timeout=180,
                    description="stream-install retry", waiter=mark)
    wait_local_game(client, "cod5", downloaded=False, installed=True)
    if hashlib.sha256((root / "local" / "big" / "payload.bin").read_bytes()).hexdigest() != _zeros_sha(size):
        raise ScenarioError("the retried stream wrote the wrong payload")
    if (root / "local" / "readme.txt").read_bytes() != b"hi":
        raise ScenarioError("the retried stream wrote the wrong readme.txt")
    return (f"transfer worker SIGKILLed mid-stream: {ended['data'].get('error')!r}, "
            "no operation, no staging, retry streamed the exact payload")


# --------------------------------------------------------------------------
# X17: a play request the install link cannot carry is refused up front
# --------------------------------------------------------------------------


def x17_overlong_play_fields_refused(sc: Scenario) -> str:
    """play with a 200-byte username (or language) gets an error reply and
    the install worker lives: the same process then applies a good play."""
    client_dir = sc.fixture_root / "x17-client"
    copy_game("css", client_dir)
    client = sc.peer("x17-client", games_dir=client_dir, extra_args=["--unrar", "builtin"])
    waiter = client.mark()
    client.send({"cmd": "install", "game_id": "css"})
    client.wait_for(event_is("install-finished", "css"), timeout=30, description="css install", waiter=waiter)
    before = _worker(client, "install").pid
    for field in ("username", "language"):
        request = {"cmd": "play", "game_id": "css", "username": "Lan Hero", "language": "german"}
        request[field] = "x" * 200
        err = client.send(request, expect_error=True)
        if field not in err["error"]:
            raise ScenarioError(f"over-long {field}: the error does not name it: {err}")
    if _worker(client, "install").pid != before:
        raise ScenarioError("the install worker was restarted by an over-long play")
    outcome = client.send({"cmd": "play", "game_id": "css", "username": "Lan Hero",
                           "language": "german"})["data"]["outcome"]
    if not outcome.get("account_name_written"):
        raise ScenarioError(f"a good play after the refusals: {outcome}")
    return f"200-byte username and language refused ({err['error']}); install worker {before} lived and played"

def x22_dying_worker_backs_off(sc: Scenario) -> str:
    """The games folder vanishes and the transfer worker is killed: each
    restart dies at once. The restarts back off (a handful in 3 s, not
    hundreds), and after ten quick deaths in a row the peer gives up with
    an error exit and a log line that says so."""
    games = sc.fixture_root / "x22"
    copy_game("ggoo", games)
    peer = sc.peer("x22-peer", games_dir=games)
    wait_local_game(peer, "ggoo", downloaded=True, installed=False)
    assert peer.process is not None and peer.log_path is not None
    subprocess.run(["rm", "-rf", str(games)], check=True)
    os.kill(_worker(peer, "transfer").pid, signal.SIGKILL)
    time.sleep(3)
    lost = peer.log_path.read_text(errors="replace").count("lost transfer worker")
    if lost > 8:
        raise ScenarioError(f"{lost} transfer worker deaths in 3 s: no backoff")
    try:
        code = peer.process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        raise ScenarioError("the peer still runs a minute after its worker kept dying") from None
    log = peer.log_path.read_text(errors="replace")
    if code == 0 or "giving up" not in log:
        raise ScenarioError(f"the peer exited {code} without saying it gave up")
    return f"{lost} deaths in the first 3 s; gave up after {log.count('lost transfer worker')} (exit {code})"


def x23_shim_stops_with_stdout_unread(sc: Scenario) -> str:
    """lanspread-peer whose stdout nobody reads (its pipe full of replies)
    still shuts down within 2 s of SIGTERM, and of its stdin closing."""
    took = []
    for how in ("SIGTERM", "stdin closed"):
        state = sc.dir / f"x23-{len(took)}"
        games = state / "games"
        games.mkdir(parents=True)
        log = open(sc.log_dir / f"x23-{len(took)}.log", "wb")
        proc = subprocess.Popen(
            [str(CFG.peer_bin), "--name", "x23", "--games-dir", str(games), "--state-dir", str(state / "state"),
             "--catalog-db", str(CFG.catalog_db), "--listen", "127.0.0.2:0"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
        try:
            assert proc.stdin is not None
            # Far more replies than a pipe holds; nobody reads them.
            request = b'{"cmd":"list-games","id":"x"}\n' * 4000
            proc.stdin.write(request)
            proc.stdin.flush()
            time.sleep(1.5)
            if proc.poll() is not None:
                raise ScenarioError(f"the peer exited early ({proc.returncode})")
            began = time.monotonic()
            if how == "SIGTERM":
                proc.send_signal(signal.SIGTERM)
            else:
                proc.stdin.close()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                raise ScenarioError(f"the peer still runs 5 s after {how} with its stdout unread") from None
            took.append(time.monotonic() - began)
            if took[-1] > 2.0:
                raise ScenarioError(f"the peer took {took[-1]:.1f} s to stop after {how}")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            log.close()
    return f"stopped {took[0]:.2f} s after SIGTERM and {took[1]:.2f} s after stdin closed, stdout unread"


FAILURE_SCENARIOS = [
    ("X7-install-worker-killed", x7_install_worker_killed_mid_install),
    ("X8-silent-peer-dropped", x8_silent_peer_dropped),
    ("X9-cancel-download-rolls-back", x9_cancel_download_rolls_back),
    ("X12-transfer-worker-killed-mid-stream", x12_transfer_worker_killed_mid_stream),
    ("X17-overlong-play-fields-refused", x17_overlong_play_fields_refused),
    ("X22-dying-worker-backs-off", x22_dying_worker_backs_off),
    ("X23-shim-stops-with-stdout-unread", x23_shim_stops_with_stdout_unread),
]
