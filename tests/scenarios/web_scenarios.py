"""The players' web page (X80), in a real headless Chromium: a peer
started with --web shows the LAN's games, downloads one a second peer has
when Download is clicked (its bar reaches 100 % and it turns installed),
and sets up first play from the Play form. A hostile peer's HTML shows as
text; a foreign Host or Origin is refused; a page off loopback needs its
token. Screenshots of each step go to build/web-test/."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from harness import (CFG, Scenario, ScenarioError, assert_nothing_listens, descendants, fixture_dir, poll,
                     wait_remote_game, worker_comm)
from webdriver import Browser
from wire import FakePeer, game_advert

WEB_PORT = 7380
HOSTILE_NAME = '<img src=x onerror="window.__pwned=1">evil'
HOSTILE_VERSION = '<b id="pwned">20200315</b><script>window.__pwned=2</script>'
PLAYER = "Lan <Hero> & Co"
TOKEN = "x80-web-token-0123456789"


def http_request(addr: str, method: str, path: str, headers: dict[str, str] | None = None,
                 body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
    host, port = addr.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for key, value in (headers or {}).items():
            conn.putheader(key, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def expect_status(what: str, got: int, want: int) -> None:
    if got != want:
        raise ScenarioError(f"{what}: HTTP {got}, expected {want}")


def check_guards(addr: str) -> list[str]:
    """Foreign Host and Origin, a form-like POST, a huge body: refused."""
    status_cmd = json.dumps({"id": "g", "cmd": "status"}).encode()
    json_type = {"Content-Type": "application/json"}
    code, headers, _b = http_request(addr, "GET", "/", {"Host": addr})
    expect_status("GET / with our Host", code, 200)
    csp = headers.get("content-security-policy", "")
    if "script-src 'self'" not in csp or "default-src 'none'" not in csp:
        raise ScenarioError(f"the page's Content-Security-Policy: {csp!r}")
    code, _h, body = http_request(addr, "GET", "/", {"Host": f"evil.example:{WEB_PORT}"})
    expect_status("GET / with a foreign Host", code, 403)
    code, _h, _b = http_request(addr, "POST", "/api/command",
                                {"Host": f"rebind.example:{WEB_PORT}", **json_type}, status_cmd)
    expect_status("POST with a rebound Host", code, 403)
    code, _h, _b = http_request(addr, "POST", "/api/command",
                                {"Host": addr, "Origin": "http://evil.example", **json_type}, status_cmd)
    expect_status("POST with a foreign Origin", code, 403)
    code, _h, _b = http_request(addr, "GET", "/api/events", {"Host": addr, "Origin": "http://evil.example"})
    expect_status("event stream for a foreign Origin", code, 403)
    code, _h, _b = http_request(addr, "POST", "/api/command",
                                {"Host": addr, "Content-Type": "application/x-www-form-urlencoded"},
                                b"cmd=shutdown")
    expect_status("a form's POST", code, 415)
    code, _h, _b = http_request(addr, "POST", "/api/command", {"Host": addr, **json_type},
                                b"{" + b" " * (70 * 1024) + b"}")
    expect_status("a 70 KiB command", code, 413)
    code, _h, body = http_request(addr, "POST", "/api/command",
                                  {"Host": addr, "Origin": f"http://{addr}", **json_type}, status_cmd)
    expect_status("POST from our own page", code, 200)
    reply = json.loads(body)
    if reply.get("id") != "g" or reply.get("type") != "result":
        raise ScenarioError(f"status over HTTP: {reply}")
    return ["foreign Host 403", "foreign Origin 403", "form POST 415", "big body 413"]


def web_worker_pid(peer: Any) -> int | None:
    for pid, info in descendants(peer.process.pid).items():
        if info.comm == worker_comm("web"):
            return pid
    return None


def page_answers(web: str) -> bool:
    try:
        return http_request(web, "GET", "/", {"Host": web})[0] == 200
    except OSError:
        return False


def check_restart_and_kill(alice: Any, web: str) -> str:
    """A killed web worker comes back with the same page; a killed
    peer leaves nothing listening on it."""
    first = web_worker_pid(alice)
    if first is None:
        raise ScenarioError("no lanspread-web worker under the peer")
    os.kill(first, signal.SIGKILL)
    poll(lambda: web_worker_pid(alice) not in (None, first) and page_answers(web), timeout=15,
         what="the web worker restarted and serving")
    alice.kill()
    assert_nothing_listens(web, "the web page of a SIGKILLed peer")
    return "web worker restarted after SIGKILL; nothing listens after the peer's SIGKILL"


def check_token(sc: Scenario) -> str:
    """Off loopback, no token is a refusal to start; with one, the page
    answers 401 until ?token= sets its cookie."""
    args = [str(CFG.peer_bin), "--name", "x80-open", "--games-dir", str(sc.games_root / "open"),
            "--state-dir", str(sc.state_root / "open"), "--catalog-db", str(CFG.catalog_db),
            "--listen", "127.0.0.9:0", "--web", "0.0.0.0:7389"]
    (sc.games_root / "open").mkdir(parents=True, exist_ok=True)
    done = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    if done.returncode == 0 or b"web_token" not in done.stderr:
        raise ScenarioError(f"--web 0.0.0.0 without a token started: {done.returncode} {done.stderr[-300:]!r}")
    peer = sc.peer("x80-tok", extra_args=["--web", "0.0.0.0:7389", "--web-token", TOKEN])
    addr = f"{peer.listen_ip}:7389"
    peer.wait_for(lambda item: item.get("event") == "web-ready", timeout=15, description="web-ready")
    code, _h, _b = http_request(addr, "GET", "/", {"Host": addr})
    expect_status("the page without its token", code, 401)
    code, _h, _b = http_request(addr, "GET", "/?token=wrong-token-0123456789", {"Host": addr})
    expect_status("a wrong token", code, 401)
    code, headers, _b = http_request(addr, "GET", f"/?token={TOKEN}", {"Host": addr})
    expect_status("the page with ?token=", code, 303)
    cookie = headers.get("set-cookie", "")
    if "HttpOnly" not in cookie or "SameSite=Strict" not in cookie or headers.get("location") != "/":
        raise ScenarioError(f"login answer: {headers}")
    code, _h, _b = http_request(addr, "GET", "/", {"Host": addr, "Cookie": cookie.split(";")[0]})
    expect_status("the page with its cookie", code, 200)
    code, _h, _b = http_request(addr, "POST", "/api/command",
                                {"Host": addr, "Content-Type": "application/json",
                                 "Authorization": f"Bearer {TOKEN}"}, b'{"cmd":"status"}')
    expect_status("a script with a Bearer token", code, 200)
    return "off loopback: no token no start, 401 without it, cookie after ?token="


def x80_web_page_in_a_browser(sc: Scenario) -> str:
    """Load the page, see the games, Download, watch 100 % and installed, Play."""
    shots = CFG.build / "web-test"
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("*.png"):
        old.unlink()
    web_ip = f"127.0.0.{len(sc.peers) + 2}"
    web = f"{web_ip}:{WEB_PORT}"
    alice = sc.peer("x80-alice", extra_args=["--web", web, "--unrar", "builtin", "--upload-limit", "200MiB"])
    ready = alice.wait_for(lambda item: item.get("event") == "web-ready", timeout=15, description="web-ready")
    if ready["data"].get("url") != f"http://{web}/":
        raise ScenarioError(f"web-ready: {ready}")
    bob = sc.peer("x80-bob", games_dir=fixture_dir("fixture-extra"), readonly_games=True)
    hostile = FakePeer(sc, HOSTILE_NAME, f"127.0.0.{len(sc.peers) + 2}", [game_advert("cod6", HOSTILE_VERSION, 4096)])
    try:
        alice.connect_to(bob)
        alice.send({"cmd": "connect", "addr": hostile.addr})
        wait_remote_game(alice, "css", peer_count=1)
        poll(lambda: any(p.get("name") == HOSTILE_NAME for p in alice.list_peers()), timeout=15,
             what="the hostile peer in list-peers")
        guards = check_guards(web)
        evidence = browse(sc, alice, bob, web, shots)
    finally:
        hostile.close()
    lifecycle = check_restart_and_kill(alice, web)
    token = check_token(sc)
    return f"{evidence}; {', '.join(guards)}; {lifecycle}; {token}; screenshots in {shots}"


def browse(sc: Scenario, alice: Any, bob: Any, web: str, shots: Path) -> str:
    browser = Browser(sc.log_dir / "chromedriver.log")
    try:
        browser.get(f"http://{web}/")
        browser.wait("return document.querySelector('tr[data-game=css][data-state=lan] button[data-action=download]') "
                     "!== null", "css on the LAN with a Download button")
        browser.wait("return document.getElementById('live').textContent === 'live'", "the event stream is live")
        browser.wait("return document.getElementById('self').textContent.includes('upload limit 200.0 MiB/s')",
                     "the upload limit in the header")
        text = browser.script("return document.body.innerText")
        for game in ("cod5", "coh", "css"):
            if game not in text:
                raise ScenarioError(f"{game} is not on the page")
        rows = browser.script("return [...document.querySelectorAll('#games tbody tr')].map(r => r.dataset.game)")
        for game in ("cod5", "coh", "css", "cod6"):
            if game not in rows:
                raise ScenarioError(f"no row for {game}: {rows}")
        browser.screenshot(shots / "1-games.png")
        foreign = browser.script("return performance.getEntriesByType('resource').map(e => e.name)"
                                 ".filter(n => !n.startsWith(location.origin + '/'))")
        if foreign:
            raise ScenarioError(f"the page loaded from elsewhere: {foreign}")

        # The hostile peer's name and version are text, not markup.
        hostile = browser.script(
            "const peer = [...document.querySelectorAll('#peers .peer-name')].map(e => e.textContent);"
            "const version = document.querySelector('tr[data-game=cod6] .version').textContent;"
            "return {peer, version, imgs: document.querySelectorAll('img').length,"
            " scripts: document.querySelectorAll('script').length,"
            " pwned: window.__pwned || null, bold: document.getElementById('pwned') !== null}")
        if HOSTILE_NAME not in hostile["peer"] or hostile["version"] != HOSTILE_VERSION:
            raise ScenarioError(f"hostile strings not shown as text: {hostile}")
        if hostile["imgs"] or hostile["pwned"] or hostile["bold"] or hostile["scripts"] != 1:
            raise ScenarioError(f"hostile HTML became markup: {hostile}")

        # Download: the bar reaches 100 % and the game turns installed.
        browser.click("tr[data-game=css] button[data-action=download]")
        browser.wait("return document.querySelector('#activity li[data-game=css]') !== null",
                     "css in Now running", timeout=20, interval=0.05)
        browser.screenshot(shots / "2-downloading.png")
        full = browser.wait(
            "const bar = document.querySelector('#activity li[data-game=css] [role=progressbar]');"
            "return bar && bar.getAttribute('aria-valuenow') === '100' ?"
            " bar.closest('li').innerText : null", "css's bar at 100 %", timeout=60, interval=0.05)
        browser.wait("return document.querySelector('tr[data-game=css]').dataset.state === 'installed'",
                     "css installed", timeout=60)
        browser.screenshot(shots / "3-installed.png")
        if "100 %" not in full:
            raise ScenarioError(f"the finished bar says {full!r}")
        sent = browser.script("const row = [...document.querySelectorAll('#peers tbody tr')]"
                              ".find(r => r.children[1].textContent === arguments[0]);"
                              "return row ? row.children[3].textContent : null", bob.ready_addr)
        if sent in (None, "", "0 B"):
            raise ScenarioError(f"the peers table says bob sent us {sent!r}")
        # The daemons count it too (reported each second): bob sent alice
        # what alice received.
        alice_id = alice.status()["peer_id"]

        def counted() -> bool:
            to_alice = [p for p in bob.list_peers() if p["peer_id"] == alice_id]
            from_bob = [p for p in alice.list_peers() if p["addr"] == bob.ready_addr]
            return bool(to_alice and from_bob and to_alice[0]["bytes_sent"] > 0
                        and from_bob[0]["bytes_received"] >= to_alice[0]["bytes_sent"] // 2)

        poll(counted, timeout=5, what=lambda: f"traffic: bob's peers {bob.list_peers()}, alice's {alice.list_peers()}")

        # Play: the form stamps first-play settings.
        browser.click("tr[data-game=css] button[data-action=play]")
        browser.wait("return document.getElementById('play-game').value === 'css'", "css chosen in Play")
        browser.type("#play-user", PLAYER)
        browser.script("document.getElementById('play-language').value = 'german'")
        browser.click("#play-form button[type=submit]")
        outcome = browser.wait("const r = document.getElementById('play-result');"
                               "return r.dataset.outcome ? [r.dataset.outcome, r.textContent] : null",
                               "the Play form's answer", timeout=30)
        browser.screenshot(shots / "4-played.png")
        if outcome[0] != "applied" or PLAYER not in outcome[1]:
            raise ScenarioError(f"play answered {outcome}")
        profile = alice.host_games_dir / "css" / "local" / "profiles" / "local"
        written = ((profile / "account_name.txt").read_text(), (profile / "language.txt").read_text())
        if written != (PLAYER, "german"):
            raise ScenarioError(f"first-play files hold {written}")

        # A phone's width: one column, nothing wider than the screen.
        browser.resize(390, 844)
        overflow = browser.wait("return document.documentElement.scrollWidth <= window.innerWidth + 1 ?"
                                " 'fits' : null", "the page fits a phone's width", timeout=10)
        browser.script("window.scrollTo(0, 0)")
        browser.screenshot(shots / "5-phone.png")
        return f"page showed the games, css downloaded to 100 % and installed, play applied; phone width {overflow}"
    finally:
        browser.close()


WEB_SCENARIOS = [
    ("X80-web-page-in-a-browser", x80_web_page_in_a_browser),
]
