"""The seed's scenarios S1-S47, ported to local peer processes.

Every function takes the scenario context (harness.Scenario) and returns its
evidence string; a broken behaviour raises ScenarioError. Assertions and
timeouts are the seed's (docker_exec became host-path checks, unrar became
bsdtar/rarfile, `just test` became the Check unit tests).
"""

from __future__ import annotations

import shutil

from harness import (
    CATALOG_VERSIONS,
    CHUNK_SIZE,
    PERF_GAME_ID,
    PERF_GAME_SIZE,
    PERF_GAME_VERSION,
    LineWaiter,
    Scenario,
    ScenarioError,
    archive_entry_sha256,
    assert_archive_solid,
    assert_failed_stream_left_no_local,
    assert_game_state,
    assert_local_absent,
    assert_no_active,
    assert_no_duplicate_chunks,
    assert_no_event_since,
    assert_not_exists,
    assert_only_chunk_sources,
    chunk_events,
    chunk_sources,
    chunk_totals,
    connect_many,
    copy_game,
    count_events,
    create_large_sparse_game,
    create_many_small_game,
    diff_game_dirs,
    event_is,
    event_name_in,
    fixture_dir,
    format_bytes,
    inflate_archive_sparse,
    peer_advertised_version,
    run_unit_tests,
    sha256_file,
    socket_addr_sort_key,
    stage_game_drop,
    streamed_bytes,
    streamed_chunk_paths,
    unit_test_lines,
    unit_test_passed,
    wait_local_game,
    wait_no_active,
    wait_no_outbound_transfer,
    wait_peer_has_game,
    wait_remote_absent,
    wait_remote_game,
)


def s1_startup_scan(sc: Scenario) -> str:
    alpha = sc.peer("s1-alpha", games_dir=fixture_dir("fixture-alpha"), readonly_games=True)
    games = alpha.list_games()["local"]
    expected = {"alienswarm", "bf1942", "ggoo"}
    seen = {game["id"] for game in games}
    if not expected.issubset(seen):
        raise ScenarioError(f"fixture-alpha games missing: expected {expected}, saw {seen}")
    for game in games:
        if game["id"] in expected:
            assert_game_state(game, downloaded=True, installed=False, availability="Ready")
    return "fixture-alpha emitted ready local games alienswarm, bf1942, and ggoo"


def s2_direct_connect_handshake(sc: Scenario) -> str:
    alpha = sc.peer("s2-alpha", games_dir=fixture_dir("fixture-alpha"), readonly_games=True)
    bravo = sc.peer("s2-bravo", games_dir=fixture_dir("fixture-bravo"), readonly_games=True)
    connect_many(alpha, [bravo])
    wait_peer_has_game(alpha, bravo.peer_id, "bfbc2")
    peers = alpha.list_peers()
    if len(peers) != 1 or peers[0]["peer_id"] == alpha.peer_id:
        raise ScenarioError(f"bad alpha peers after connect: {peers}")
    if peers[0]["game_count"] != 4:
        raise ScenarioError(f"expected bravo game_count=4, got {peers}")
    # Bidirectional: bravo records alpha's library without its own connect.
    bravo_view = wait_peer_has_game(bravo, alpha.peer_id, "alienswarm")
    if bravo_view["game_count"] != 3:
        raise ScenarioError(f"expected alpha game_count=3 on bravo, got {bravo_view}")
    return "alpha<->bravo exchanged libraries: bravo had 4 games on alpha, alpha had 3 on bravo"


def s3_remote_aggregation(sc: Scenario) -> str:
    alpha = sc.peer("s3-alpha", games_dir=fixture_dir("fixture-alpha"), readonly_games=True)
    bravo = sc.peer("s3-bravo", games_dir=fixture_dir("fixture-bravo"), readonly_games=True)
    client = sc.peer("s3-client")
    connect_many(client, [alpha, bravo])
    expected_counts = {
        "ggoo": 2,
        "alienswarm": 1,
        "bf1942": 1,
        "bfbc2": 1,
        "cnc4": 1,
        "cnctw": 1,
    }
    for game_id, peer_count in expected_counts.items():
        wait_remote_game(client, game_id, peer_count=peer_count)
    return "empty client aggregated alpha/bravo with ggoo peer_count=2 and unique games peer_count=1"


def s4_single_source_download(sc: Scenario) -> str:
    bravo = sc.peer("s4-bravo", games_dir=fixture_dir("fixture-bravo"), readonly_games=True)
    client = sc.peer("s4-client")
    connect_many(client, [bravo])
    waiter = client.mark()
    client.send({"cmd": "download", "game_id": "bfbc2", "install": False})
    client.wait_for(event_is("got-game-files", "bfbc2"), timeout=20, description="got bfbc2", waiter=waiter)
    client.wait_for(event_is("download-begin", "bfbc2"), timeout=20, description="begin bfbc2", waiter=waiter)
    client.wait_for(event_is("download-finished", "bfbc2"), timeout=60, description="finish bfbc2", waiter=waiter)
    game = wait_local_game(client, "bfbc2", downloaded=True, installed=False)
    diff_game_dirs(fixture_dir("fixture-bravo") / "bfbc2", client.host_games_dir / "bfbc2")
    if (client.host_games_dir / "bfbc2" / "local").exists():
        raise ScenarioError("bfbc2 local/ exists after install=false")
    return f"bfbc2 downloaded with install=false, local state installed={game['installed']}, diff matched"


def s5_auto_install_download(sc: Scenario) -> str:
    bravo = sc.peer("s5-bravo", games_dir=fixture_dir("fixture-bravo"), readonly_games=True)
    client = sc.peer("s5-client")
    connect_many(client, [bravo])
    waiter = client.mark()
    client.send({"cmd": "download", "game_id": "cnctw"})
    client.wait_for(event_is("download-finished", "cnctw"), timeout=60, description="finish cnctw", waiter=waiter)
    client.wait_for(event_is("install-finished", "cnctw"), timeout=30, description="install cnctw", waiter=waiter)
    wait_local_game(client, "cnctw", downloaded=True, installed=True)
    if not (client.host_games_dir / "cnctw" / "local" / "fixture-payload.txt").is_file():
        raise ScenarioError("cnctw install payload missing")
    diff_game_dirs(fixture_dir("fixture-bravo") / "cnctw", client.host_games_dir / "cnctw")
    return "cnctw auto-installed, local fixture payload existed, root diff matched excluding local metadata"


def s6_manual_install_uninstall(sc: Scenario) -> str:
    bravo = sc.peer("s6-bravo", games_dir=fixture_dir("fixture-bravo"), readonly_games=True)
    client = sc.peer("s6-client")
    connect_many(client, [bravo])
    waiter = client.mark()
    client.send({"cmd": "download", "game_id": "bfbc2", "install": False})
    client.wait_for(event_is("download-finished", "bfbc2"), timeout=60, description="finish bfbc2", waiter=waiter)
    client.send({"cmd": "install", "game_id": "bfbc2"})
    client.wait_for(event_is("install-finished", "bfbc2"), timeout=30, description="install bfbc2", waiter=waiter)
    wait_local_game(client, "bfbc2", downloaded=True, installed=True)
    client.send({"cmd": "uninstall", "game_id": "bfbc2"})
    client.wait_for(event_is("uninstall-finished", "bfbc2"), timeout=30, description="uninstall bfbc2", waiter=waiter)
    wait_local_game(client, "bfbc2", downloaded=True, installed=False)
    if (client.host_games_dir / "bfbc2" / "local").exists():
        raise ScenarioError("bfbc2 local/ remained after uninstall")
    diff_game_dirs(fixture_dir("fixture-bravo") / "bfbc2", client.host_games_dir / "bfbc2")
    return "manual install/uninstall toggled installed state, removed local/, preserved downloaded root"


def s7_duplicate_source_download(sc: Scenario) -> str:
    alpha = sc.peer("s7-alpha", games_dir=fixture_dir("fixture-alpha"), readonly_games=True)
    bravo = sc.peer("s7-bravo", games_dir=fixture_dir("fixture-bravo"), readonly_games=True)
    client = sc.peer("s7-client")
    connect_many(client, [alpha, bravo])
    wait_remote_game(client, "ggoo", peer_count=2)
    waiter = client.mark()
    client.send({"cmd": "download", "game_id": "ggoo", "install": False})
    client.wait_for(event_is("download-finished", "ggoo"), timeout=60, description="finish ggoo", waiter=waiter)
    diff_game_dirs(fixture_dir("fixture-alpha") / "ggoo", client.host_games_dir / "ggoo")
    # Byte-identical fixtures make the diff source-agnostic: prove the
    # duplicate-source path itself.
    if count_events(client, "download-finished", "ggoo") != 1:
        raise ScenarioError("ggoo did not finish exactly once")
    assert_only_chunk_sources(client, "ggoo", {alpha.ready_addr, bravo.ready_addr})
    if chunk_sources(client, "ggoo") != {alpha.ready_addr, bravo.ready_addr}:
        raise ScenarioError(
            f"expected both validated sources to serve ggoo, got {chunk_sources(client, 'ggoo')}"
        )
    assert_no_duplicate_chunks(client, "ggoo")
    return "ggoo downloaded once, served from both validated sources with no duplicate chunks"


def s8_ambiguous_metadata_rejection(sc: Scenario) -> str:
    dir_a = sc.fixture_root / "s8-a"
    dir_b = sc.fixture_root / "s8-b"
    copy_game("ggoo", dir_a)
    copy_game("ggoo", dir_b)
    with (dir_b / "ggoo" / "ggoo.eti").open("ab") as handle:
        handle.write(b"conflict")
    peer_a = sc.peer("s8-a", games_dir=dir_a)
    peer_b = sc.peer("s8-b", games_dir=dir_b)
    client = sc.peer("s8-client")
    connect_many(client, [peer_a, peer_b])
    wait_remote_game(client, "ggoo", peer_count=2, version=CATALOG_VERSIONS["ggoo"])
    waiter = client.mark()
    client.send({"cmd": "download", "game_id": "ggoo", "install": False})
    client.wait_for(event_is("download-failed", "ggoo"), timeout=30, description="ggoo failed", waiter=waiter)
    assert_not_exists(client.host_games_dir / "ggoo" / "version.ini")
    return "conflicting catalog-version ggoo file sizes emitted download-failed and left no version.ini"


def s9_missing_game(sc: Scenario) -> str:
    client = sc.peer("s9-client")
    err = client.send({"cmd": "download", "game_id": "cod2", "install": False}, expect_error=True)
    if "no peers have game cod2" not in err["error"]:
        raise ScenarioError(f"unexpected missing game error: {err}")
    assert_not_exists(client.host_games_dir / "cod2")
    return f"missing game command errored '{err['error']}' and created no local directory"


def s10_shutdown_cleanup(sc: Scenario) -> str:
    alpha = sc.peer("s10-alpha", games_dir=fixture_dir("fixture-alpha"), readonly_games=True)
    bravo = sc.peer("s10-bravo", games_dir=fixture_dir("fixture-bravo"), readonly_games=True)
    connect_many(alpha, [bravo])
    wait_remote_game(alpha, "bfbc2", peer_count=1)
    bravo.shutdown()
    wait_remote_absent(alpha, "bfbc2")
    peers = alpha.list_peers()
    if peers:
        raise ScenarioError(f"alpha still has peers after bravo shutdown: {peers}")
    return "bravo graceful shutdown removed peer and bravo-only games from alpha"


def s11_same_identity_reconnect(sc: Scenario) -> str:
    alpha = sc.peer("s11-alpha", games_dir=fixture_dir("fixture-alpha"), readonly_games=True)
    bravo_dir = fixture_dir("fixture-bravo")
    bravo = sc.peer("s11-bravo", games_dir=bravo_dir, readonly_games=True)
    connect_many(alpha, [bravo])
    first_peers = alpha.list_peers()
    if not first_peers:
        raise ScenarioError("alpha lists no peer after connecting to bravo")
    first_peer = first_peers[0]
    first_addr = first_peer["addr"]
    first_id = first_peer["peer_id"]
    bravo.shutdown()
    wait_remote_absent(alpha, "bfbc2")
    # Same name -> same state dir -> same identity; the restart gets the
    # next loopback address.
    bravo = sc.peer("s11-bravo", games_dir=bravo_dir, readonly_games=True)
    connect_many(alpha, [bravo])
    peers = alpha.list_peers()
    # Invariant: one peer entry reusing the same identity (no duplicate). The
    # address is not asserted to change (the seed dropped that check).
    if len(peers) != 1:
        raise ScenarioError(f"expected one bravo peer after reconnect, got {peers}")
    if peers[0]["peer_id"] != first_id:
        raise ScenarioError(f"bravo peer id changed: {first_id} -> {peers[0]['peer_id']}")
    changed = "new" if peers[0]["addr"] != first_addr else "same"
    return f"bravo reused peer id {first_id} as a single entry at {changed} address {peers[0]['addr']}"


def _require_unit_tests(names: list[str], *, whole_suite_must_pass: bool, scenario: str) -> str:
    output, failed = run_unit_tests()
    if whole_suite_must_pass and failed:
        raise ScenarioError(
            f"{scenario}: unit test binaries failed: {failed}\n"
            + "\n".join(line for line in output.splitlines() if ":F:" in line or ":E:" in line)[-4000:]
        )
    missing = [name for name in names if not unit_test_passed(output, name)]
    if missing:
        details = "\n".join(f"{name}: {unit_test_lines(output, name)}" for name in missing)
        raise ScenarioError(f"{scenario} unit proof tests did not run-and-pass: {missing}\n{details}")
    return ", ".join(names)


def s12_transfer_serving_gates(sc: Scenario) -> str:
    required = [
        "local_download_available_gates_on_catalog_operation_and_sentinel",
        "get_game_response_respects_serve_gates",
        "file_transfer_dispatch_respects_serve_gates",
        "local_relative_paths_are_never_transferable",
    ]
    _require_unit_tests(required, whole_suite_must_pass=True, scenario="S12")
    return "Check unit tests passed including catalog/sentinel/active/local-path serve gate tests"


def s13_exact_transfer_equality(sc: Scenario) -> str:
    bravo = sc.peer("s13-bravo", games_dir=fixture_dir("fixture-bravo"), readonly_games=True)
    alpha = sc.peer("s13-alpha", games_dir=fixture_dir("fixture-alpha"), readonly_games=True)
    client = sc.peer("s13-client")
    connect_many(client, [bravo, alpha])
    waiter = client.mark()
    client.send({"cmd": "download", "game_id": "bfbc2", "install": False})
    client.wait_for(event_is("download-finished", "bfbc2"), timeout=60, description="bfbc2 finish", waiter=waiter)
    client.send({"cmd": "download", "game_id": "alienswarm", "install": False})
    client.wait_for(event_is("download-finished", "alienswarm"), timeout=90, description="alienswarm finish", waiter=waiter)
    diff_game_dirs(fixture_dir("fixture-bravo") / "bfbc2", client.host_games_dir / "bfbc2")
    diff_game_dirs(fixture_dir("fixture-alpha") / "alienswarm", client.host_games_dir / "alienswarm")
    return "small bfbc2 and large alienswarm transfers both diffed cleanly against sources"


def s14_large_multi_peer_chunking(sc: Scenario) -> str:
    game_id = PERF_GAME_ID
    source_dir = sc.fixture_root / "s14-alpha"
    # Four chunks: a fair two-peer split is 2+2; 3+1 exceeds one CHUNK_SIZE.
    file_size = CHUNK_SIZE * 4
    create_large_sparse_game(source_dir / game_id, size=file_size)
    alpha = sc.peer("s14-alpha", games_dir=source_dir)
    stage = sc.peer("s14-stage")
    connect_many(stage, [alpha])
    waiter = stage.mark()
    stage.send({"cmd": "download", "game_id": game_id, "install": False})
    stage.wait_for(event_is("download-finished", game_id), timeout=180, description="stage finish", waiter=waiter)
    diff_game_dirs(source_dir / game_id, stage.host_games_dir / game_id)
    client = sc.peer("s14-client")
    connect_many(client, [alpha, stage])
    wait_remote_game(client, game_id, peer_count=2, version=PERF_GAME_VERSION)
    waiter = client.mark()
    client.send({"cmd": "download", "game_id": game_id, "install": False})
    client.wait_for(event_is("download-finished", game_id), timeout=180, description="client finish", waiter=waiter)
    diff_game_dirs(source_dir / game_id, client.host_games_dir / game_id)
    totals = chunk_totals(client, game_id, f"{game_id}/{game_id}.eti")
    if len(totals) != 2:
        raise ScenarioError(f"expected .eti chunks from exactly two peers, got {totals}")
    if sum(totals.values()) != file_size:
        raise ScenarioError(f"chunk bytes {sum(totals.values())} != file size {file_size}: {totals}")
    values = list(totals.values())
    if max(values) - min(values) > CHUNK_SIZE:
        raise ScenarioError(f"chunk totals not balanced within one chunk: {totals}")
    return f"{game_id} ({file_size // (1024 * 1024)} MiB) split across two sources, balanced, diff matched: {totals}"


def s15_three_way_version_skew(sc: Scenario) -> str:
    specs = [
        ("s15-a", "20150101"),
        ("s15-b", "20160101"),
        ("s15-c", CATALOG_VERSIONS["cnc4"]),
    ]
    peers = []
    for name, version in specs:
        game_dir = sc.fixture_root / name
        copy_game("cnc4", game_dir, version=version)
        peers.append(sc.peer(name, games_dir=game_dir))
    client = sc.peer("s15-client")
    connect_many(client, peers)
    wait_remote_game(client, "cnc4", peer_count=1, version=CATALOG_VERSIONS["cnc4"])
    # The raw advertised versions (list-peers), not the catalog-synthesized
    # list-games field.
    for peer, expected_version in zip(peers, ["20150101", "20160101", CATALOG_VERSIONS["cnc4"]]):
        advertised = peer_advertised_version(client, peer.peer_id, "cnc4")
        if advertised != expected_version:
            raise ScenarioError(f"{peer.name} advertised cnc4 version {advertised}, expected {expected_version}")
    waiter = client.mark()
    client.send({"cmd": "download", "game_id": "cnc4", "install": False})
    client.wait_for(event_is("download-finished", "cnc4"), timeout=60, description="cnc4 finish", waiter=waiter)
    assert_only_chunk_sources(client, "cnc4", {peers[2].ready_addr})
    diff_game_dirs(peers[2].host_games_dir / "cnc4", client.host_games_dir / "cnc4")
    return "three-way skew exposed only the catalog-version peer and receiver diffed cleanly"


def s16_catalog_fanout_with_stale(sc: Scenario) -> str:
    specs = [
        ("s16-a", "20180101"),
        ("s16-b", CATALOG_VERSIONS["alienswarm"]),
        ("s16-c", CATALOG_VERSIONS["alienswarm"]),
    ]
    peers = []
    for name, version in specs:
        game_dir = sc.fixture_root / name
        copy_game("alienswarm", game_dir, version=version)
        # Two chunks so the .eti can fan out across both catalog-version peers.
        inflate_archive_sparse(game_dir / "alienswarm", "alienswarm", CHUNK_SIZE * 2)
        peers.append(sc.peer(name, games_dir=game_dir))
    client = sc.peer("s16-client")
    connect_many(client, peers)
    wait_remote_game(client, "alienswarm", peer_count=2, version=CATALOG_VERSIONS["alienswarm"])
    waiter = client.mark()
    client.send({"cmd": "download", "game_id": "alienswarm", "install": False})
    client.wait_for(event_is("download-finished", "alienswarm"), timeout=180, description="alienswarm finish", waiter=waiter)
    assert_only_chunk_sources(client, "alienswarm", {peers[1].ready_addr, peers[2].ready_addr})
    totals = chunk_totals(client, "alienswarm", "alienswarm/alienswarm.eti")
    if peers[0].ready_addr in totals:
        raise ScenarioError(f"stale peer contributed chunks: {totals}")
    if set(totals) != {peers[1].ready_addr, peers[2].ready_addr}:
        raise ScenarioError(f"expected .eti to fan out across both B and C, got {totals}")
    diff_game_dirs(peers[1].host_games_dir / "alienswarm", client.host_games_dir / "alienswarm")
    return f"catalog-version B/C peers split alienswarm.eti while stale A contributed zero; totals={totals}"


def s17_catalog_conflict_rejection(sc: Scenario) -> str:
    specs = [
        ("s17-a", "20150101", False),
        ("s17-b", CATALOG_VERSIONS["cnc4"], False),
        ("s17-c", CATALOG_VERSIONS["cnc4"], True),
    ]
    peers = []
    for name, version, conflict in specs:
        game_dir = sc.fixture_root / name
        copy_game("cnc4", game_dir, version=version)
        if conflict:
            with (game_dir / "cnc4" / "cnc4.eti").open("ab") as handle:
                handle.write(b"conflict")
        peers.append(sc.peer(name, games_dir=game_dir))
    client = sc.peer("s17-client")
    connect_many(client, peers)
    wait_remote_game(client, "cnc4", peer_count=2, version=CATALOG_VERSIONS["cnc4"])
    waiter = client.mark()
    client.send({"cmd": "download", "game_id": "cnc4", "install": False})
    client.wait_for(event_is("download-failed", "cnc4"), timeout=30, description="cnc4 failed", waiter=waiter)
    assert_not_exists(client.host_games_dir / "cnc4" / "version.ini")
    return "catalog-version file conflict failed download and left no committed version.ini"


def s18_redundant_source_drop(sc: Scenario) -> str:
    game_id = "bf1942"
    source_a_dir = sc.fixture_root / "s18-a"
    source_b_dir = sc.fixture_root / "s18-b"
    # Multi-chunk sparse archive so both peers get .eti chunks; the download
    # must survive a mid-download SIGKILL of one source.
    file_size = CHUNK_SIZE * 4
    create_large_sparse_game(source_a_dir / game_id, size=file_size)
    create_large_sparse_game(source_b_dir / game_id, size=file_size)
    source_a = sc.peer("s18-a", games_dir=source_a_dir)
    source_b = sc.peer("s18-b", games_dir=source_b_dir)
    client = sc.peer("s18-client")
    connect_many(client, [source_a, source_b])
    wait_remote_game(client, game_id, peer_count=2)
    start = client.output_len()
    waiter = LineWaiter(start)
    client.send({"cmd": "download", "game_id": game_id, "install": False})
    client.wait_for(event_is("download-begin", game_id), timeout=20, description="download begin", waiter=waiter)
    source_a.kill()
    client.wait_for(event_is("download-finished", game_id), timeout=180, description="download finish", waiter=waiter)
    # The whole window, not a waiter already past download-finished.
    assert_no_event_since(client, start, "download-failed", game_id)
    diff_game_dirs(source_b_dir / game_id, client.host_games_dir / game_id)
    totals = chunk_totals(client, game_id, f"{game_id}/{game_id}.eti")
    if source_b.ready_addr not in totals:
        raise ScenarioError(f"surviving source served no .eti chunks: {totals}")
    if sum(totals.values()) != file_size:
        raise ScenarioError(
            f"download did not deliver the whole archive ({sum(totals.values())} != {file_size}): {totals}"
        )
    # The exact split is not asserted (the killed source may finish a chunk
    # before the kill lands).
    survivor_bytes = totals[source_b.ready_addr]
    return (
        f"source killed after begin; all {file_size} bytes delivered "
        f"({survivor_bytes} from the survivor), no download-failed; diff matched; bytes={totals}"
    )


def s19_sole_source_drop(sc: Scenario) -> str:
    game_id = "bf1942"
    source_dir = sc.fixture_root / "s19-source"
    # Four chunks, SIGKILL right after download-begin: the full transfer
    # cannot finish, so the failure is deterministic.
    create_large_sparse_game(source_dir / game_id, size=CHUNK_SIZE * 4)
    source = sc.peer("s19-source", games_dir=source_dir)
    client = sc.peer("s19-client")
    connect_many(client, [source])
    wait_remote_game(client, game_id, peer_count=1)
    start = client.output_len()
    waiter = LineWaiter(start)
    client.send({"cmd": "download", "game_id": game_id, "install": False})
    client.wait_for(event_is("download-begin", game_id), timeout=20, description="download begin", waiter=waiter)
    source.kill()
    terminal = client.wait_for(
        event_name_in({"download-failed", "download-peers-gone"}, game_id),
        timeout=120,
        description="sole-source drop terminal failure",
        waiter=waiter,
    )
    assert_no_event_since(client, start, "download-finished", game_id)
    assert_not_exists(client.host_games_dir / game_id / "version.ini")
    assert_no_active(client, game_id)
    assert_local_absent(client, game_id)
    return f"sole-source forceful drop mid-transfer -> {terminal['event']}; version.ini absent; no ready row; no active op"


def s20_receiver_write_failure(sc: Scenario) -> str:
    source_dir = sc.fixture_root / "s20-source"
    copy_game("alienswarm", source_dir)
    source = sc.peer("s20-source", games_dir=source_dir)
    client = sc.peer("s20-client", tmpfs_size="32m")
    connect_many(client, [source])
    wait_remote_game(client, "alienswarm", peer_count=1)
    waiter = client.mark()
    client.send({"cmd": "download", "game_id": "alienswarm", "install": False})
    client.wait_for(event_is("download-failed", "alienswarm"), timeout=90, description="download failed", waiter=waiter)
    # docker_exec("test", "!", "-e", "/games/alienswarm/version.ini")
    assert_not_exists(client.host_games_dir / "alienswarm" / "version.ini")
    assert_no_active(client, "alienswarm")
    return "32m tmpfs receiver emitted download-failed; /games/alienswarm/version.ini absent; active operations empty"


def s21_add_game_propagation(sc: Scenario) -> str:
    alpha = sc.peer("s21-alpha")
    bravo_dir = sc.fixture_root / "s21-bravo"
    bravo_dir.mkdir(parents=True, exist_ok=True)
    bravo = sc.peer("s21-bravo", games_dir=bravo_dir)
    connect_many(alpha, [bravo])
    peers = alpha.list_peers()
    if len(peers) != 1:
        raise ScenarioError(f"expected exactly one peer on alpha, got {peers}")
    stage_game_drop(bravo_dir, "cod5")
    game = wait_remote_game(alpha, "cod5", peer_count=1)
    return f"alpha saw {game['id']} from the existing bravo peer with peer_count={game['peer_count']}"


def s22_remove_game_propagation(sc: Scenario) -> str:
    alpha = sc.peer("s22-alpha")
    bravo_dir = sc.fixture_root / "s22-bravo"
    copy_game("cod5", bravo_dir)
    bravo = sc.peer("s22-bravo", games_dir=bravo_dir)
    connect_many(alpha, [bravo])
    wait_remote_game(alpha, "cod5", peer_count=1)
    shutil.rmtree(bravo_dir / "cod5")
    wait_remote_absent(alpha, "cod5")
    peers = alpha.list_peers()
    if len(peers) != 1:
        raise ScenarioError(f"expected bravo peer to remain, got {peers}")
    return "alpha removed cod5 while keeping one bravo peer"


def s23_version_bump_propagation(sc: Scenario) -> str:
    alpha = sc.peer("s23-alpha")
    bravo_dir = sc.fixture_root / "s23-bravo"
    copy_game("cnc4", bravo_dir, version="20160101")
    bravo = sc.peer("s23-bravo", games_dir=bravo_dir)
    connect_many(alpha, [bravo])
    wait_remote_absent(alpha, "cnc4", timeout=5)
    (bravo_dir / "cnc4" / "version.ini").write_text(CATALOG_VERSIONS["cnc4"], encoding="utf-8")
    wait_remote_game(alpha, "cnc4", peer_count=1, version=CATALOG_VERSIONS["cnc4"])
    return "alpha observed stale cnc4 become catalog-version downloadable without reconnect"


def s24_two_clients_one_source(sc: Scenario) -> str:
    source = sc.peer("s24-alpha", games_dir=fixture_dir("fixture-alpha"), readonly_games=True)
    c1 = sc.peer("s24-client-a")
    c2 = sc.peer("s24-client-b")
    connect_many(c1, [source])
    connect_many(c2, [source])
    waiter1 = c1.mark()
    waiter2 = c2.mark()
    c1.send({"cmd": "download", "game_id": "alienswarm", "install": False})
    c2.send({"cmd": "download", "game_id": "alienswarm", "install": False})
    c1.wait_for(event_is("download-finished", "alienswarm"), timeout=90, description="client-a finish", waiter=waiter1)
    c2.wait_for(event_is("download-finished", "alienswarm"), timeout=90, description="client-b finish", waiter=waiter2)
    diff_game_dirs(fixture_dir("fixture-alpha") / "alienswarm", c1.host_games_dir / "alienswarm")
    diff_game_dirs(fixture_dir("fixture-alpha") / "alienswarm", c2.host_games_dir / "alienswarm")
    wait_local_game(c1, "alienswarm", downloaded=True, installed=False)
    wait_local_game(c2, "alienswarm", downloaded=True, installed=False)
    # The source still answers and still advertises its games.
    if not any(g["id"] == "alienswarm" for g in source.list_games()["local"]):
        raise ScenarioError("source no longer advertises alienswarm after serving two clients")
    return "two concurrent clients finished alienswarm install=false; both diffs matched; source still responsive"


def s25_two_downloads_one_client(sc: Scenario) -> str:
    source = sc.peer("s25-bravo", games_dir=fixture_dir("fixture-bravo"), readonly_games=True)
    client = sc.peer("s25-client")
    connect_many(client, [source])
    # The seed's single cursor: bfbc2, requested first, must finish before
    # cnctw (downloads from one peer are served in the order they began).
    waiter = client.mark()
    client.send({"cmd": "download", "game_id": "bfbc2", "install": False})
    client.send({"cmd": "download", "game_id": "cnctw", "install": False})
    client.wait_for(event_is("download-finished", "bfbc2"), timeout=60, description="bfbc2 finish", waiter=waiter)
    client.wait_for(event_is("download-finished", "cnctw"), timeout=60, description="cnctw finish", waiter=waiter)
    diff_game_dirs(fixture_dir("fixture-bravo") / "bfbc2", client.host_games_dir / "bfbc2")
    diff_game_dirs(fixture_dir("fixture-bravo") / "cnctw", client.host_games_dir / "cnctw")
    wait_local_game(client, "bfbc2", downloaded=True, installed=False)
    wait_local_game(client, "cnctw", downloaded=True, installed=False)
    return "bfbc2 and cnctw concurrent downloads both finished install=false and diffed cleanly"


def s26_duplicate_download_rejection(sc: Scenario) -> str:
    game_id = "bf1942"
    source_dir = sc.fixture_root / "s26-source"
    # Large sparse archive: the first download is surely still active when
    # the duplicate request arrives.
    create_large_sparse_game(source_dir / game_id, size=CHUNK_SIZE * 2)
    source = sc.peer("s26-source", games_dir=source_dir)
    client = sc.peer("s26-client")
    connect_many(client, [source])
    wait_remote_game(client, game_id, peer_count=1)
    waiter = client.mark()
    client.send({"cmd": "download", "game_id": game_id, "install": False})
    active = client.wait_for(
        lambda item: item.get("type") == "event"
        and item.get("event") == "active-operations-changed"
        and any(
            op.get("game_id") == game_id
            for op in (item.get("data") or {}).get("active_operations", [])
        ),
        timeout=20,
        description="active operation",
        waiter=waiter,
    )
    op = next(o for o in active["data"]["active_operations"] if o.get("game_id") == game_id)
    if op.get("operation") != "Downloading":
        raise ScenarioError(f"expected Downloading active operation, got {op}")
    err = client.send({"cmd": "download", "game_id": game_id, "install": False}, expect_error=True)
    if "operation already in progress" not in err["error"]:
        raise ScenarioError(f"unexpected duplicate error: {err}")
    client.wait_for(event_is("download-finished", game_id), timeout=180, description="first download finish", waiter=waiter)
    diff_game_dirs(source_dir / game_id, client.host_games_dir / game_id)
    return f"duplicate rejected while Downloading active ('{err['error']}'); first download diff matched"


def s27_self_connect_rejection(sc: Scenario) -> str:
    alpha = sc.peer("s27-alpha")
    err = alpha.send({"cmd": "connect", "addr": alpha.ready_addr}, expect_error=True)
    if "cannot connect peer to itself" not in err["error"]:
        raise ScenarioError(f"unexpected self-connect error: {err}")
    peers = alpha.list_peers()
    if peers:
        raise ScenarioError(f"self-connect created peers: {peers}")
    alpha.status()
    # The protocol-level guard (the seed's header: handshake test
    # inbound_hello_from_self_is_ignored) is proven by our Check unit test.
    _require_unit_tests(["inbound_hello_from_self_is_ignored"], whole_suite_must_pass=False, scenario="S27")
    return (
        f"self-connect errored '{err['error']}'; peer list stayed empty; "
        "unit test inbound_hello_from_self_is_ignored passed"
    )


def s28_address_change_unit(sc: Scenario) -> str:
    _require_unit_tests(
        ["address_update_preserves_peer_identity_and_library"], whole_suite_must_pass=True, scenario="S28"
    )
    return "Check unit tests passed including address_update_preserves_peer_identity_and_library"


def s29_empty_peer_participates(sc: Scenario) -> str:
    source = sc.peer("s29-alpha", games_dir=fixture_dir("fixture-alpha"), readonly_games=True)
    empty = sc.peer("s29-empty")
    observer = sc.peer("s29-observer")
    connect_many(observer, [empty])
    peers = observer.list_peers()
    if len(peers) != 1 or peers[0]["game_count"] != 0:
        raise ScenarioError(f"expected empty peer with zero games, got {peers}")
    connect_many(empty, [source])
    wait_remote_game(empty, "alienswarm", peer_count=1)
    waiter = empty.mark()
    empty.send({"cmd": "download", "game_id": "alienswarm", "install": False})
    empty.wait_for(event_is("download-finished", "alienswarm"), timeout=90, description="empty download finish", waiter=waiter)
    diff_game_dirs(fixture_dir("fixture-alpha") / "alienswarm", empty.host_games_dir / "alienswarm")
    wait_peer_has_game(observer, empty.peer_id, "alienswarm")
    return "observer saw zero-game peer; empty downloaded alienswarm, diff matched, then observer's snapshot for that peer contained alienswarm"


def s30_mesh_aggregation(sc: Scenario) -> str:
    specs = [
        ("s30-a", [("ggoo", CATALOG_VERSIONS["ggoo"]), ("bf1942", CATALOG_VERSIONS["bf1942"])]),
        ("s30-b", [("ggoo", CATALOG_VERSIONS["ggoo"]), ("cnc4", CATALOG_VERSIONS["cnc4"])]),
        ("s30-c", [("cnc4", CATALOG_VERSIONS["cnc4"]), ("cod5", CATALOG_VERSIONS["cod5"])]),
        ("s30-d", [("cnctw", CATALOG_VERSIONS["cnctw"]), ("coh", CATALOG_VERSIONS["coh"])]),
        ("s30-e", [("cnctw", CATALOG_VERSIONS["cnctw"]), ("bf1942", CATALOG_VERSIONS["bf1942"])]),
    ]
    peers = []
    for name, games in specs:
        game_dir = sc.fixture_root / name
        for game_id, version in games:
            copy_game(game_id, game_dir, version=version)
        peers.append(sc.peer(name, games_dir=game_dir))
    client = sc.peer("s30-client")
    connect_many(client, peers)
    expected = {
        "ggoo": (2, CATALOG_VERSIONS["ggoo"]),
        "bf1942": (2, CATALOG_VERSIONS["bf1942"]),
        "cnc4": (2, CATALOG_VERSIONS["cnc4"]),
        "cod5": (1, CATALOG_VERSIONS["cod5"]),
        "cnctw": (2, CATALOG_VERSIONS["cnctw"]),
        "coh": (1, CATALOG_VERSIONS["coh"]),
    }
    for game_id, (peer_count, version) in expected.items():
        wait_remote_game(client, game_id, peer_count=peer_count, version=version)
    game_rows = client.list_games()["remote"]
    ids = [game["id"] for game in game_rows]
    if len(ids) != len(set(ids)):
        raise ScenarioError(f"duplicate game rows: {ids}")
    if any(peer["peer_id"] == client.peer_id for peer in client.list_peers()):
        raise ScenarioError("client listed itself as a peer")
    return f"client aggregated {len(expected)} IDs from 5 peers with expected peer_count/catalog versions"


def s31_bootstrapped_peer_source(sc: Scenario) -> str:
    source = sc.peer("s31-alpha", games_dir=fixture_dir("fixture-alpha"), readonly_games=True)
    bootstrap = sc.peer("s31-bootstrap")
    connect_many(bootstrap, [source])
    waiter = bootstrap.mark()
    bootstrap.send({"cmd": "download", "game_id": "alienswarm", "install": False})
    bootstrap.wait_for(event_is("download-finished", "alienswarm"), timeout=90, description="bootstrap finish", waiter=waiter)
    diff_game_dirs(fixture_dir("fixture-alpha") / "alienswarm", bootstrap.host_games_dir / "alienswarm")
    source.kill()
    third = sc.peer("s31-third")
    connect_many(third, [bootstrap])
    waiter = third.mark()
    third.send({"cmd": "download", "game_id": "alienswarm", "install": False})
    third.wait_for(event_is("download-finished", "alienswarm"), timeout=90, description="third finish", waiter=waiter)
    diff_game_dirs(fixture_dir("fixture-alpha") / "alienswarm", third.host_games_dir / "alienswarm")
    return "third peer downloaded from bootstrapped client after original source kill; diff matched original"


def s32_reinstall_after_uninstall(sc: Scenario) -> str:
    source = sc.peer("s32-bravo", games_dir=fixture_dir("fixture-bravo"), readonly_games=True)
    client = sc.peer("s32-client")
    connect_many(client, [source])
    waiter = client.mark()
    client.send({"cmd": "download", "game_id": "bfbc2", "install": False})
    client.wait_for(event_is("download-finished", "bfbc2"), timeout=60, description="download finish", waiter=waiter)
    client.send({"cmd": "install", "game_id": "bfbc2"})
    client.wait_for(event_is("install-finished", "bfbc2"), timeout=30, description="install finish", waiter=waiter)
    client.send({"cmd": "uninstall", "game_id": "bfbc2"})
    client.wait_for(event_is("uninstall-finished", "bfbc2"), timeout=30, description="uninstall finish", waiter=waiter)
    before = client.output_len()
    client.send({"cmd": "install", "game_id": "bfbc2"})
    reinstall_waiter = LineWaiter(before)
    client.wait_for(event_is("install-finished", "bfbc2"), timeout=30, description="reinstall finish", waiter=reinstall_waiter)
    recent = client.items(before)
    if any(item.get("event") == "download-chunk-finished" for item in recent):
        raise ScenarioError("reinstall produced transfer chunk events")
    wait_local_game(client, "bfbc2", downloaded=True, installed=True)
    if not (client.host_games_dir / "bfbc2" / "local").is_dir():
        raise ScenarioError("local/ was not recreated")
    return "reinstall recreated local/, local state installed=true, no transfer events during reinstall"


def s33_install_after_mutation(sc: Scenario) -> str:
    source = sc.peer("s33-bravo", games_dir=fixture_dir("fixture-bravo"), readonly_games=True)
    client = sc.peer("s33-client")
    connect_many(client, [source])
    waiter = client.mark()
    client.send({"cmd": "download", "game_id": "bfbc2", "install": False})
    client.wait_for(event_is("download-finished", "bfbc2"), timeout=60, description="download finish", waiter=waiter)
    archive = client.host_games_dir / "bfbc2" / "bfbc2.eti"
    # printf 'mutated archive bytes\n' > /games/bfbc2/bfbc2.eti
    archive.write_bytes(b"mutated archive bytes\n")
    client.send({"cmd": "install", "game_id": "bfbc2"})
    client.wait_for(event_is("install-finished", "bfbc2"), timeout=30, description="install finish", waiter=waiter)
    # cmp /games/bfbc2/bfbc2.eti /games/bfbc2/local/fixture-payload.txt
    payload = client.host_games_dir / "bfbc2" / "local" / "fixture-payload.txt"
    if not payload.is_file():
        raise ScenarioError(f"cmp: {payload} is missing")
    if archive.read_bytes() != payload.read_bytes():
        raise ScenarioError(f"cmp: {archive} and {payload} differ")
    return "fixture installer installed current mutated archive bytes exactly"


def s34_many_small_files(sc: Scenario) -> str:
    source_dir = sc.fixture_root / "s34-source"
    create_many_small_game(source_dir / "bf1942")
    source = sc.peer("s34-source", games_dir=source_dir)
    client = sc.peer("s34-client")
    connect_many(client, [source])
    wait_remote_game(client, "bf1942", peer_count=1)
    waiter = client.mark()
    client.send({"cmd": "download", "game_id": "bf1942", "install": False})
    client.wait_for(event_is("download-finished", "bf1942"), timeout=60, description="download finish", waiter=waiter)
    diff_game_dirs(source_dir / "bf1942", client.host_games_dir / "bf1942")
    chunks = chunk_events(client, "bf1942")
    # 20 small files + version.ini: exactly 21 chunk events, 21 distinct
    # paths, no duplicates.
    if len(chunks) != 21:
        raise ScenarioError(f"expected exactly 21 file chunks (20 files + version.ini), got {len(chunks)}")
    assert_no_duplicate_chunks(client, "bf1942")
    distinct_paths = {data.get("relative_path") for data in chunks}
    if len(distinct_paths) != 21:
        raise ScenarioError(f"expected 21 distinct file paths, got {len(distinct_paths)}: {sorted(map(str, distinct_paths))}")
    return f"20 small files plus version.ini each transferred as one coherent chunk; diff matched; chunk events={len(chunks)}"


def s35_unknown_game_filtered(sc: Scenario) -> str:
    source = sc.peer("s35-source", fixtures=["mystery-game"])
    client = sc.peer("s35-client")
    connect_many(client, [source])
    # Premise: the source really advertises mystery-game, so "absent" means
    # "filtered", not "never sent".
    wait_peer_has_game(client, source.peer_id, "mystery-game")
    wait_remote_absent(client, "mystery-game")
    err = client.send({"cmd": "download", "game_id": "mystery-game", "install": False}, expect_error=True)
    if "not in the local catalog" not in err["error"]:
        raise ScenarioError(f"unexpected unknown game error: {err}")
    assert_not_exists(client.host_games_dir / "mystery-game")
    return f"unknown game absent from list-games; download errored '{err['error']}'; no local files"


def s36_catalog_singleton(sc: Scenario) -> str:
    peers = []
    for index in range(5):
        game_dir = sc.fixture_root / f"s36-{index}"
        version = CATALOG_VERSIONS["cnc4"] if index == 0 else "20160101"
        copy_game("cnc4", game_dir, version=version)
        peers.append(sc.peer(f"s36-{index}", games_dir=game_dir))
    client = sc.peer("s36-client")
    connect_many(client, peers)
    wait_remote_game(client, "cnc4", peer_count=1, version=CATALOG_VERSIONS["cnc4"])
    waiter = client.mark()
    client.send({"cmd": "download", "game_id": "cnc4", "install": False})
    got = client.wait_for(event_is("got-game-files", "cnc4"), timeout=20, description="got game files", waiter=waiter)
    client.wait_for(event_is("download-finished", "cnc4"), timeout=60, description="download finish", waiter=waiter)
    catalog_addr = peers[0].ready_addr
    if catalog_addr is None:
        raise ScenarioError("catalog-version peer had no ready addr")
    for data in chunk_events(client, "cnc4"):
        if data.get("peer_addr") != catalog_addr:
            raise ScenarioError(f"stale peer contributed chunk: {data}")
    diff_game_dirs(peers[0].host_games_dir / "cnc4", client.host_games_dir / "cnc4")
    descs = got["data"]["file_descriptions"]
    if not descs:
        raise ScenarioError("got-game-files had no descriptors")
    return "client reported singleton catalog-version peer; stale peers stayed hidden and sent no chunks; diff matched"


def s37_single_source_download_throughput(sc: Scenario) -> str:
    source_dir = sc.fixture_root / "s37-source"
    create_large_sparse_game(source_dir / PERF_GAME_ID, size=PERF_GAME_SIZE)
    source = sc.peer("s37-source", games_dir=source_dir)
    client = sc.peer("s37-client")
    connect_many(client, [source])
    wait_remote_game(client, PERF_GAME_ID, peer_count=1, version=PERF_GAME_VERSION)
    waiter = client.mark()
    client.send({"cmd": "download", "game_id": PERF_GAME_ID, "install": False})
    finished = client.wait_for(
        event_is("download-finished", PERF_GAME_ID),
        timeout=300,
        description=f"{PERF_GAME_ID} throughput download",
        waiter=waiter,
    )
    destination_archive = client.host_games_dir / PERF_GAME_ID / f"{PERF_GAME_ID}.eti"
    if destination_archive.stat().st_size != PERF_GAME_SIZE:
        raise ScenarioError(
            f"downloaded archive size mismatch: {destination_archive.stat().st_size} != {PERF_GAME_SIZE}"
        )
    throughput = (finished.get("data") or {}).get("throughput")
    if not throughput:
        raise ScenarioError(f"download-finished did not include throughput: {finished}")
    expected_bytes = PERF_GAME_SIZE + len(PERF_GAME_VERSION)
    if int(throughput["bytes"]) != expected_bytes:
        raise ScenarioError(f"throughput byte count mismatch: {throughput['bytes']} != {expected_bytes}")
    # Rate fields positive and mutually consistent.
    if throughput["duration_ms"] <= 0:
        raise ScenarioError(f"throughput duration_ms not positive: {throughput}")
    if throughput["mib_per_s"] <= 0 or throughput["mbit_per_s"] <= 0:
        raise ScenarioError(f"throughput rates not positive: {throughput}")
    derived_mib = (int(throughput["bytes"]) / 1_048_576) / (throughput["duration_ms"] / 1000.0)
    if abs(derived_mib - throughput["mib_per_s"]) > max(1.0, derived_mib * 0.02):
        raise ScenarioError(f"mib_per_s {throughput['mib_per_s']} disagrees with bytes/duration {derived_mib}")
    ratio = throughput["mbit_per_s"] / throughput["mib_per_s"]
    expected_ratio = 1_048_576 * 8 / 1_000_000  # 8.388608
    if abs(ratio - expected_ratio) > 0.01:
        raise ScenarioError(f"mbit/mib ratio {ratio} != expected {expected_ratio}: {throughput}")
    return (
        f"{PERF_GAME_ID} {format_bytes(PERF_GAME_SIZE)} single-source download: "
        f"{throughput['mib_per_s']:.2f} MiB/s, "
        f"{throughput['mbit_per_s']:.2f} Mbit/s, "
        f"{throughput['duration_ms'] / 1000.0:.3f}s, "
        f"{throughput['chunks']} chunks"
    )


def s38_first_play_launch_settings(sc: Scenario) -> str:
    client_dir = sc.fixture_root / "s38-client"
    copy_game("css", client_dir)
    # The seed used --unrar /usr/local/bin/unrar; we extract with libarchive.
    client = sc.peer("s38-client", games_dir=client_dir, extra_args=["--unrar", "builtin"])
    waiter = client.mark()
    client.send({"cmd": "install", "game_id": "css"})
    client.wait_for(event_is("install-finished", "css"), timeout=30, description="css install", waiter=waiter)
    wait_local_game(client, "css", downloaded=True, installed=True)
    marker = client.host_state_dir / "games" / "css" / "launch_settings_applied"
    if marker.exists():
        raise ScenarioError("launch settings marker existed before first play")
    local_root = client.host_games_dir / "css" / "local"
    account_file = local_root / "profiles" / "local" / "account_name.txt"
    language_file = local_root / "profiles" / "local" / "language.txt"
    ini_file = local_root / "engine" / "bin" / "win64" / "steam_settings" / "SmartSteamEmu.ini"
    for path in [account_file, language_file, ini_file]:
        if not path.is_file():
            raise ScenarioError(f"expected installed launch settings file: {path}")
    if b"PersonaName = stubplayer\r\n" not in ini_file.read_bytes():
        raise ScenarioError("installed SmartSteamEmu.ini did not preserve CRLF stub PersonaName")
    first = client.send(
        {"cmd": "play", "game_id": "css", "username": "Lan Hero", "language": "german"}
    )["data"]["outcome"]
    expected_first = {
        "already_applied": False,
        "account_name_written": True,
        "language_written": True,
        "persona_name_written": True,
    }
    if first != expected_first:
        raise ScenarioError(f"unexpected first play outcome: {first}")
    if not marker.is_file():
        raise ScenarioError("launch settings marker was not written after first play")
    if account_file.read_text(encoding="utf-8") != "Lan Hero":
        raise ScenarioError("account_name.txt was not stamped with username")
    if language_file.read_text(encoding="utf-8") != "german":
        raise ScenarioError("language.txt was not stamped with language")
    stamped_ini = ini_file.read_bytes()
    if b"PersonaName = Lan Hero\r\n" not in stamped_ini:
        raise ScenarioError("PersonaName was not stamped with CRLF preserved")
    if b"AppId = 240\r\n" not in stamped_ini or b"Language = english\r\n" not in stamped_ini:
        raise ScenarioError("SmartSteamEmu.ini sibling lines were not preserved")
    # The seed's docker_exec printf resets, as host writes.
    account_file.write_bytes(b"resetaccount")
    language_file.write_bytes(b"resetlang")
    ini_file.write_bytes(
        b"[Settings]\r\nAppId = 240\r\nPersonaName = resetplayer\r\nLanguage = english\r\n"
    )
    second = client.send(
        {"cmd": "play", "game_id": "css", "username": "Second User", "language": "french"}
    )["data"]["outcome"]
    expected_second = {
        "already_applied": True,
        "account_name_written": False,
        "language_written": False,
        "persona_name_written": False,
    }
    if second != expected_second:
        raise ScenarioError(f"unexpected second play outcome: {second}")
    if account_file.read_text(encoding="utf-8") != "resetaccount":
        raise ScenarioError("second play rewrote account_name.txt despite marker")
    if language_file.read_text(encoding="utf-8") != "resetlang":
        raise ScenarioError("second play rewrote language.txt despite marker")
    if b"PersonaName = resetplayer\r\n" not in ini_file.read_bytes():
        raise ScenarioError("second play rewrote PersonaName despite marker")
    return "css first play stamped launch settings once; second play respected the marker"


def stream_install_cnctw(sc: Scenario, prefix: str):
    source_dir = sc.fixture_root / f"{prefix}-bravo"
    copy_game("cnctw", source_dir, version="20160128")
    source = sc.peer(f"{prefix}-bravo", games_dir=source_dir)
    client = sc.peer(f"{prefix}-client")
    connect_many(client, [source])
    wait_remote_game(client, "cnctw", peer_count=1)
    waiter = client.mark()
    client.send({"cmd": "stream-install", "game_id": "cnctw"})
    client.wait_for(event_is("download-begin", "cnctw"), timeout=20, description="stream begin cnctw", waiter=waiter)
    client.wait_for(event_is("download-finished", "cnctw"), timeout=60, description="stream finish cnctw", waiter=waiter)
    client.wait_for(event_is("install-finished", "cnctw"), timeout=30, description="stream install cnctw", waiter=waiter)
    return source, client


def s39_streamed_install_local_only(sc: Scenario) -> str:
    source, client = stream_install_cnctw(sc, "s39")
    game = wait_local_game(client, "cnctw", downloaded=False, installed=True)
    assert_game_state(game, downloaded=False, installed=True, availability="LocalOnly")
    game_root = client.host_games_dir / "cnctw"
    assert_not_exists(game_root / "version.ini")
    assert_not_exists(game_root / "cnctw.eti")
    expected = {
        "bin/cnctw-payload.bin": archive_entry_sha256(source, "cnctw", "bin/cnctw-payload.bin"),
        "data/cnctw-assets.dat": archive_entry_sha256(source, "cnctw", "data/cnctw-assets.dat"),
    }
    actual = {rel: sha256_file(game_root / "local" / rel) for rel in expected}
    if actual != expected:
        raise ScenarioError(f"streamed local payload hashes mismatched: {actual} != {expected}")
    total = streamed_bytes(client, "cnctw")
    expected_bytes = 3 * 1024 * 1024
    if total != expected_bytes:
        raise ScenarioError(f"streamed byte count mismatch: {total} != {expected_bytes}")
    wait_no_outbound_transfer(source, "cnctw")
    return (
        "cnctw streamed into local/ only; root archive and version.ini absent; "
        f"payload hashes={actual}; source outbound transfer drained"
    )


def s40_streamed_receiver_not_source(sc: Scenario) -> str:
    _source, receiver = stream_install_cnctw(sc, "s40")
    observer = sc.peer("s40-observer")
    connect_many(observer, [receiver])
    receiver_snapshot = wait_peer_has_game(observer, receiver.peer_id, "cnctw")
    summary = next(game for game in receiver_snapshot.get("games", []) if game.get("id") == "cnctw")
    if summary.get("availability") != "LocalOnly" or summary.get("downloaded"):
        raise ScenarioError(f"receiver did not advertise cnctw as local-only: {summary}")
    wait_remote_absent(observer, "cnctw", timeout=5)
    err = observer.send({"cmd": "download", "game_id": "cnctw", "install": False}, expect_error=True)
    if "no peers have game cnctw" not in err["error"]:
        raise ScenarioError(f"unexpected local-only download error: {err}")
    assert_not_exists(observer.host_games_dir / "cnctw")
    return (
        "observer saw receiver's local-only cnctw snapshot, but remote aggregation hid it "
        f"and download errored '{err['error']}'"
    )


def s41_solid_archive_streamed_install(sc: Scenario) -> str:
    source_dir = sc.fixture_root / "s41-solid-source"
    source_game = source_dir / "cnctw"
    shutil.copytree(fixture_dir("fixture-solid") / "cnctw", source_game)
    source = sc.peer("s41-solid-source", games_dir=source_dir)
    solidity = assert_archive_solid(source, "cnctw")
    client = sc.peer("s41-solid-client")
    connect_many(client, [source])
    wait_remote_game(client, "cnctw", peer_count=1, version="20160128")
    waiter = client.mark()
    client.send({"cmd": "stream-install", "game_id": "cnctw"})
    client.wait_for(event_is("download-finished", "cnctw"), timeout=60, description="solid stream finish cnctw", waiter=waiter)
    client.wait_for(event_is("install-finished", "cnctw"), timeout=30, description="solid stream install cnctw", waiter=waiter)
    game = wait_local_game(client, "cnctw", downloaded=False, installed=True)
    assert_game_state(game, downloaded=False, installed=True, availability="LocalOnly")
    game_root = client.host_games_dir / "cnctw"
    assert_not_exists(game_root / "version.ini")
    assert_not_exists(game_root / "cnctw.eti")
    expected = {
        "bin/cnctw-solid-payload.bin": archive_entry_sha256(source, "cnctw", "bin/cnctw-solid-payload.bin"),
        "data/cnctw-solid-assets.dat": archive_entry_sha256(source, "cnctw", "data/cnctw-solid-assets.dat"),
    }
    actual = {rel: sha256_file(game_root / "local" / rel) for rel in expected}
    if actual != expected:
        raise ScenarioError(f"solid streamed payload hashes mismatched: {actual} != {expected}")
    total = streamed_bytes(client, "cnctw")
    expected_bytes = sum((game_root / "local" / rel).stat().st_size for rel in expected)
    if total != expected_bytes:
        raise ScenarioError(f"solid streamed byte count mismatch: {total} != {expected_bytes}")
    return (
        f"solid cnctw archive ({solidity}) streamed through one local-only install; "
        f"payload hashes={actual}, bytes={total}"
    )


def s42_streamed_install_retries_next_source(sc: Scenario) -> str:
    bad_dir = sc.fixture_root / "s42-bad-source"
    good_dir = sc.fixture_root / "s42-good-source"
    copy_game("cnctw", bad_dir, version="20160128")
    copy_game("cnctw", good_dir, version="20160128")
    bad = sc.peer("s42-bad-source", games_dir=bad_dir, extra_args=["--unrar", "/missing-unrar"])
    good = sc.peer("s42-good-source", games_dir=good_dir)
    if socket_addr_sort_key(bad.ready_addr) > socket_addr_sort_key(good.ready_addr):
        raise ScenarioError(
            "S42 requires the broken source to sort before the good source; "
            f"bad={bad.ready_addr}, good={good.ready_addr}"
        )
    client = sc.peer("s42-client")
    connect_many(client, [bad, good])
    wait_remote_game(client, "cnctw", peer_count=2, version="20160128")
    waiter = client.mark()
    client.send({"cmd": "stream-install", "game_id": "cnctw"})
    client.wait_for(event_is("download-finished", "cnctw"), timeout=60, description="retry stream finish cnctw", waiter=waiter)
    client.wait_for(event_is("install-finished", "cnctw"), timeout=30, description="retry stream install cnctw", waiter=waiter)
    game = wait_local_game(client, "cnctw", downloaded=False, installed=True)
    assert_game_state(game, downloaded=False, installed=True, availability="LocalOnly")
    game_root = client.host_games_dir / "cnctw"
    assert_not_exists(game_root / ".local.installing")
    assert_not_exists(game_root / "version.ini")
    assert_not_exists(game_root / "cnctw.eti")
    assert_only_chunk_sources(client, "cnctw", {good.ready_addr})
    expected = {
        "bin/cnctw-payload.bin": archive_entry_sha256(good, "cnctw", "bin/cnctw-payload.bin"),
        "data/cnctw-assets.dat": archive_entry_sha256(good, "cnctw", "data/cnctw-assets.dat"),
    }
    actual = {rel: sha256_file(game_root / "local" / rel) for rel in expected}
    if actual != expected:
        raise ScenarioError(f"retry streamed payload hashes mismatched: {actual} != {expected}")
    total = streamed_bytes(client, "cnctw")
    expected_bytes = 3 * 1024 * 1024
    if total != expected_bytes:
        raise ScenarioError(f"retry streamed byte count mismatch: {total} != {expected_bytes}")
    return (
        "broken first source failed without chunks, next source completed whole stream; "
        f"good={good.ready_addr}, bad={bad.ready_addr}, bytes={total}"
    )


def s43_streamed_install_rejects_installed_game(sc: Scenario) -> str:
    _source, client = stream_install_cnctw(sc, "s43")
    start = client.output_len()
    waiter = LineWaiter(start)
    client.send({"cmd": "stream-install", "game_id": "cnctw"})
    client.wait_for(event_is("download-failed", "cnctw"), timeout=20, description="already-installed stream rejection", waiter=waiter)
    assert_no_event_since(client, start, "install-finished", "cnctw")
    assert_no_event_since(client, start, "download-finished", "cnctw")
    wait_no_active(client, "cnctw")
    game = wait_local_game(client, "cnctw", downloaded=False, installed=True)
    assert_game_state(game, downloaded=False, installed=True, availability="LocalOnly")
    return "already-installed cnctw rejected a second streamed install without state drift"


def s44_corrupt_stream_rolls_back(sc: Scenario) -> str:
    source_dir = sc.fixture_root / "s44-corrupt-source"
    copy_game("cnctw", source_dir, version="20160128")
    (source_dir / "cnctw" / "cnctw.eti").write_bytes(b"not a rar archive")
    source = sc.peer("s44-corrupt-source", games_dir=source_dir)
    client = sc.peer("s44-client")
    connect_many(client, [source])
    wait_remote_game(client, "cnctw", peer_count=1, version="20160128")
    start = client.output_len()
    waiter = LineWaiter(start)
    client.send({"cmd": "stream-install", "game_id": "cnctw"})
    client.wait_for(event_is("download-failed", "cnctw"), timeout=30, description="corrupt stream failed", waiter=waiter)
    assert_no_event_since(client, start, "download-finished", "cnctw")
    assert_no_event_since(client, start, "install-finished", "cnctw")
    wait_no_active(client, "cnctw")
    assert_failed_stream_left_no_local(client, "cnctw")
    return "corrupt cnctw archive emitted download-failed and left no local install"


def s45_sender_disconnect_mid_stream(sc: Scenario) -> str:
    source_dir = sc.fixture_root / "s45-source"
    copy_game("alienswarm", source_dir, version="20190317")
    source = sc.peer("s45-source", games_dir=source_dir)
    client = sc.peer("s45-client")
    connect_many(client, [source])
    wait_remote_game(client, "alienswarm", peer_count=1, version="20190317")
    start = client.output_len()
    waiter = LineWaiter(start)
    client.send({"cmd": "stream-install", "game_id": "alienswarm"})
    client.wait_for(
        event_is("download-chunk-finished", "alienswarm"),
        timeout=30,
        description="first alienswarm stream chunk before source drop",
        waiter=waiter,
    )
    source.kill()
    terminal = client.wait_for(
        event_name_in({"download-failed", "download-peers-gone"}, "alienswarm"),
        timeout=60,
        description="sender disconnect terminal event",
        waiter=waiter,
    )
    assert_no_event_since(client, start, "download-finished", "alienswarm")
    assert_no_event_since(client, start, "install-finished", "alienswarm")
    wait_no_active(client, "alienswarm")
    assert_failed_stream_left_no_local(client, "alienswarm")
    return f"sender disconnect after first alienswarm chunk rolled back stream; terminal={terminal['event']}"


def s46_receiver_cancel_mid_stream(sc: Scenario) -> str:
    source_dir = sc.fixture_root / "s46-source"
    copy_game("alienswarm", source_dir, version="20190317")
    source = sc.peer("s46-source", games_dir=source_dir)
    client = sc.peer("s46-client")
    connect_many(client, [source])
    wait_remote_game(client, "alienswarm", peer_count=1, version="20190317")
    start = client.output_len()
    waiter = LineWaiter(start)
    client.send({"cmd": "stream-install", "game_id": "alienswarm"})
    client.wait_for(
        event_is("download-chunk-finished", "alienswarm"),
        timeout=30,
        description="first alienswarm stream chunk before receiver cancel",
        waiter=waiter,
    )
    client.send({"cmd": "cancel-download", "game_id": "alienswarm"})
    wait_no_active(client, "alienswarm", timeout=60)
    assert_no_event_since(client, start, "download-finished", "alienswarm")
    assert_no_event_since(client, start, "download-failed", "alienswarm")
    assert_no_event_since(client, start, "install-finished", "alienswarm")
    assert_failed_stream_left_no_local(client, "alienswarm")
    return "receiver cancel after first alienswarm chunk rolled back without failed event"


def s47_multi_archive_streams_in_sorted_order(sc: Scenario) -> str:
    source_dir = sc.fixture_root / "s47-source"
    source_game = source_dir / "cnctw"
    shutil.copytree(fixture_dir("fixture-multi") / "cnctw", source_game)
    source = sc.peer("s47-source", games_dir=source_dir)
    client = sc.peer("s47-client")
    connect_many(client, [source])
    wait_remote_game(client, "cnctw", peer_count=1, version="20160128")
    waiter = client.mark()
    client.send({"cmd": "stream-install", "game_id": "cnctw"})
    client.wait_for(event_is("download-finished", "cnctw"), timeout=30, description="multi-archive stream finish", waiter=waiter)
    client.wait_for(event_is("install-finished", "cnctw"), timeout=30, description="multi-archive stream install", waiter=waiter)
    game = wait_local_game(client, "cnctw", downloaded=False, installed=True)
    assert_game_state(game, downloaded=False, installed=True, availability="LocalOnly")
    game_root = client.host_games_dir / "cnctw"
    assert_not_exists(game_root / "version.ini")
    assert_not_exists(game_root / "a-first.eti")
    assert_not_exists(game_root / "z-second.eti")
    chunk_paths = streamed_chunk_paths(client, "cnctw")
    expected_paths = [
        "cnctw/.local.installing/order/first.txt",
        "cnctw/.local.installing/order/second.txt",
    ]
    if chunk_paths != expected_paths:
        raise ScenarioError(f"multi-archive stream order mismatch: {chunk_paths}")
    first = (game_root / "local" / "order" / "first.txt").read_text(encoding="utf-8")
    second = (game_root / "local" / "order" / "second.txt").read_text(encoding="utf-8")
    if first != "first archive payload\n" or second != "second archive payload\n":
        raise ScenarioError(f"multi-archive payload mismatch: {first!r}, {second!r}")
    return f"multi-archive cnctw streamed in sorted order: {chunk_paths}"


SEED_SCENARIOS = [
    ("S1", s1_startup_scan),
    ("S2", s2_direct_connect_handshake),
    ("S3", s3_remote_aggregation),
    ("S4", s4_single_source_download),
    ("S5", s5_auto_install_download),
    ("S6", s6_manual_install_uninstall),
    ("S7", s7_duplicate_source_download),
    ("S8", s8_ambiguous_metadata_rejection),
    ("S9", s9_missing_game),
    ("S10", s10_shutdown_cleanup),
    ("S11", s11_same_identity_reconnect),
    ("S12", s12_transfer_serving_gates),
    ("S13", s13_exact_transfer_equality),
    ("S14", s14_large_multi_peer_chunking),
    ("S15", s15_three_way_version_skew),
    ("S16", s16_catalog_fanout_with_stale),
    ("S17", s17_catalog_conflict_rejection),
    ("S18", s18_redundant_source_drop),
    ("S19", s19_sole_source_drop),
    ("S20", s20_receiver_write_failure),
    ("S21", s21_add_game_propagation),
    ("S22", s22_remove_game_propagation),
    ("S23", s23_version_bump_propagation),
    ("S24", s24_two_clients_one_source),
    ("S25", s25_two_downloads_one_client),
    ("S26", s26_duplicate_download_rejection),
    ("S27", s27_self_connect_rejection),
    ("S28", s28_address_change_unit),
    ("S29", s29_empty_peer_participates),
    ("S30", s30_mesh_aggregation),
    ("S31", s31_bootstrapped_peer_source),
    ("S32", s32_reinstall_after_uninstall),
    ("S33", s33_install_after_mutation),
    ("S34", s34_many_small_files),
    ("S35", s35_unknown_game_filtered),
    ("S36", s36_catalog_singleton),
    ("S37", s37_single_source_download_throughput),
    ("S38", s38_first_play_launch_settings),
    ("S39", s39_streamed_install_local_only),
    ("S40", s40_streamed_receiver_not_source),
    ("S41", s41_solid_archive_streamed_install),
    ("S42", s42_streamed_install_retries_next_source),
    ("S43", s43_streamed_install_rejects_installed_game),
    ("S44", s44_corrupt_stream_rolls_back),
    ("S45", s45_sender_disconnect_mid_stream),
    ("S46", s46_receiver_cancel_mid_stream),
    ("S47", s47_multi_archive_streams_in_sorted_order),
]
