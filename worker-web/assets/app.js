// lanspread's page: the control protocol over /api/command, its events
// over /api/events. Every string a peer can choose (names, versions,
// errors) reaches the page as text nodes only: never as HTML.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const HISTORY = 300;          // graph samples, one a second: five minutes
  const DONE_SHOWN_MS = 15000;  // a finished bar stays this long at 100 %
  // The operation words of status and active-operations-changed.
  const DOWNLOAD_OPS = new Set(['Downloading', 'StreamInstalling', 'Repairing']);
  const OP_LABELS = {
    Downloading: 'downloading', Installing: 'installing',
    StreamInstalling: 'streaming in', Uninstalling: 'uninstalling',
    Verifying: 'verifying', Repairing: 'repairing',
  };

  const state = {
    status: null, local: [], remote: [], peers: [],
    ops: new Map(),      // game id -> the operation, as status and events say
    done: new Map(),     // game id -> a finished operation, shown a while
    history: [],         // {down, inst} bytes per second
    received: new Map(), // peer address -> bytes it sent us, counted by the page
  };

  // A DOM element; strings become text nodes, never markup.
  function el(tag, props, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, String(v));
    }
    for (const kid of kids) {
      if (kid === undefined || kid === null || kid === false) continue;
      e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
    }
    return e;
  }

  function bytes(n) {
    if (!Number.isFinite(n)) return '';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n.toFixed(0) : n.toFixed(n < 10 ? 1 : 0)) + ' ' + units[i];
  }
  const rate = (n) => bytes(n || 0) + '/s';
  function duration(s) {
    if (!Number.isFinite(s) || s < 0) return '';
    s = Math.round(s);
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
    return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
  }

  // ---- talking to the daemon -------------------------------------------

  let seq = 0;
  async function command(cmd, fields) {
    const body = JSON.stringify(Object.assign({ id: 'web-' + (++seq), cmd }, fields || {}));
    const resp = await fetch('/api/command', {
      method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' }, body,
    });
    let reply;
    try { reply = await resp.json(); } catch (e) { throw new Error('HTTP ' + resp.status); }
    if (reply.type === 'error') throw new Error(reply.error);
    return reply.data || {};
  }

  function message(text, kind) {
    const box = $('messages');
    const m = el('p', { class: 'msg ' + (kind || ''), role: kind === 'error' ? 'alert' : null }, text);
    box.prepend(m);
    while (box.children.length > 5) box.lastChild.remove();
    setTimeout(() => m.remove(), kind === 'error' ? 20000 : 8000);
  }

  // ---- operations and their progress -----------------------------------

  function setOps(list) {
    const next = new Map();
    for (const op of list || []) {
      const old = state.ops.get(op.game_id);
      const merged = Object.assign({}, old && old.operation === op.operation ? old : {}, op);
      next.set(op.game_id, merged);
    }
    for (const [id, op] of state.ops) {
      // An operation that ended: its bar stays, full, for a while.
      if (!next.has(id) && !state.done.has(id) && !op.failed)
        state.done.set(id, Object.assign({}, op, { percent: 100, bytes_per_s: 0, eta_s: 0,
          bytes: op.total_bytes || op.bytes, until: Date.now() + DONE_SHOWN_MS }));
    }
    state.ops = next;
  }

  function progress(data, operation) {
    const op = state.ops.get(data.game_id) || { game_id: data.game_id, operation };
    op.bytes = data.bytes;
    op.total_bytes = data.total_bytes;
    op.bytes_per_s = data.bytes_per_s;
    if (data.total_bytes > 0) {
      op.percent = Math.min(100, Math.floor(100 * data.bytes / data.total_bytes));
      op.eta_s = data.bytes_per_s > 0 ?
        Math.ceil((data.total_bytes - data.bytes) / data.bytes_per_s) : undefined;
    }
    state.ops.set(data.game_id, op);
    renderActivity();
  }

  function finished(id, what) {
    const op = state.ops.get(id) || { game_id: id, operation: what };
    state.done.set(id, Object.assign({}, op, { operation: what, percent: 100, bytes_per_s: 0,
      eta_s: 0, bytes: op.total_bytes || op.bytes, until: Date.now() + DONE_SHOWN_MS }));
  }

  function renderActivity() {
    const list = $('activity');
    const now = Date.now();
    for (const [id, d] of state.done) if (d.until < now || state.ops.has(id)) state.done.delete(id);
    const rows = [];
    const entries = [...state.ops.values()].map((op) => [op, false])
      .concat([...state.done.values()].map((op) => [op, true]));
    for (const [op, done] of entries) {
      const pct = Number.isFinite(op.percent) ? op.percent : null;
      const bar = el('div', {
        class: 'bar' + (done ? ' done' : '') + (op.operation === 'Installing' ? ' installing' : ''),
        role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100,
        'aria-valuenow': pct === null ? null : pct, 'aria-label': op.game_id,
      }, el('span'));
      bar.firstChild.style.width = (pct === null ? 0 : pct) + '%';
      const figures = [];
      if (op.total_bytes) figures.push(bytes(op.bytes || 0) + ' of ' + bytes(op.total_bytes));
      if (!done) figures.push(rate(op.bytes_per_s));
      if (!done && op.eta_s > 0) figures.push(duration(op.eta_s) + ' left');
      rows.push(el('li', { 'data-game': op.game_id, 'data-operation': op.operation, 'data-done': done ? 'yes' : 'no' },
        el('div', { class: 'op-head' },
          el('strong', {}, gameName(op.game_id)),
          el('span', { class: 'op-percent' }, done ? 'done, 100 %' :
            (OP_LABELS[op.operation] || op.operation) + (pct === null ? '' : ', ' + pct + ' %'))),
        bar, el('div', { class: 'op-figures' }, figures.join(' · '))));
    }
    const out = state.status && state.status.active_outbound_transfers;
    for (const [id, n] of Object.entries(out || {}))
      rows.push(el('li', { class: 'muted' }, 'Serving ' + gameName(id) + ' to ' + n +
        (n === 1 ? ' peer link' : ' peer links')));
    list.replaceChildren(...rows);
    $('activity-empty').hidden = rows.length > 0;
  }

  // ---- the throughput graph --------------------------------------------

  function sample() {
    let down = 0, inst = 0;
    for (const op of state.ops.values()) {
      if (DOWNLOAD_OPS.has(op.operation)) down += op.bytes_per_s || 0;
      else if (op.operation === 'Installing') inst += op.bytes_per_s || 0;
    }
    const traffic = (state.status && state.status.traffic) || {};
    const up = traffic.upload_bytes_per_s || 0;
    state.history.push({ down, inst, up });
    if (state.history.length > HISTORY) state.history.shift();
    renderGraph();
  }

  function renderGraph() {
    const svg = $('graph');
    const ns = 'http://www.w3.org/2000/svg';
    const h = state.history;
    const peak = Math.max(1, ...h.map((s) => Math.max(s.down, s.inst, s.up || 0)));
    const line = (key, cls) => {
      const p = document.createElementNS(ns, 'polyline');
      const pts = h.map((s, i) => ((HISTORY - h.length + i) * 300 / (HISTORY - 1)).toFixed(1) + ',' +
        (78 - 74 * (s[key] || 0) / peak).toFixed(1));
      p.setAttribute('points', pts.join(' '));
      p.setAttribute('class', cls);
      return p;
    };
    svg.replaceChildren(line('down', 'down'), line('up', 'up'), line('inst', 'inst'));
    $('graph-peak').textContent = peak > 1 ? ' peak ' + rate(peak) + ', last 5 min' : ' last 5 min';
  }

  // ---- games, peers, play ----------------------------------------------

  function gameName(id) {
    const g = state.local.find((x) => x.id === id) || state.remote.find((x) => x.id === id);
    return g && g.name ? g.name : id;
  }

  function mergedGames() {
    const rows = new Map();
    const row = (id) => {
      if (!rows.has(id)) rows.set(id, { id, name: id, advertised: [] });
      return rows.get(id);
    };
    for (const g of state.local) Object.assign(row(g.id), { name: g.name || g.id, local: g });
    for (const g of state.remote) Object.assign(row(g.id), { name: g.name || g.id, remote: g });
    for (const p of state.peers)
      for (const g of p.games || []) row(g.id).advertised.push({ peer: p, game: g });
    return [...rows.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  function gameState(r) {
    const op = state.ops.get(r.id);
    if (op) return { key: 'busy', text: OP_LABELS[op.operation] || op.operation };
    const l = r.local;
    if (l && l.in_catalog === false) return { key: 'catalog', text: 'not in catalog' };
    if (l && l.installed) return { key: 'installed', text: 'installed' };
    if (l && l.downloaded) {
      if (l.catalog_version && l.eti_version && l.catalog_version !== l.eti_version)
        return { key: 'stale', text: 'stale version' };
      return { key: 'here', text: 'here' };
    }
    if (l && l.partial) return { key: 'partial', text: 'partly downloaded' };
    if (r.remote) return { key: 'lan', text: 'on the LAN' };
    return { key: 'unavailable', text: 'not in catalog or other version' };
  }

  function act(button, cmd, fields, done) {
    button.disabled = true;
    command(cmd, fields).then((data) => {
      if (done) done(data);
      refreshSoon();
    }).catch((e) => message(cmd + ' ' + (fields.game_id || '') + ': ' + e.message, 'error'))
      .finally(() => { button.disabled = false; });
  }

  function actions(r) {
    const out = [];
    const op = state.ops.get(r.id);
    const btn = (label, action, cls, onclick) =>
      el('button', { type: 'button', class: cls, 'data-action': action, onclick }, label);
    if (op) {
      if (op.operation === 'Downloading' || op.operation === 'StreamInstalling')
        out.push(btn('Cancel', 'cancel', 'danger', (e) => act(e.target, 'cancel-download', { game_id: r.id },
          () => { op.failed = true; message('Cancelled ' + r.name); })));
      return out;
    }
    const l = r.local;
    if (r.remote && !(l && (l.downloaded || l.installed)))
      out.push(btn('Download', 'download', '', (e) => act(e.target, 'download', { game_id: r.id, install: true },
        () => message('Downloading ' + r.name + ' from ' + r.remote.peer_count + ' peer(s)', 'ok'))));
    if (l && l.downloaded && !l.installed && l.in_catalog !== false)
      out.push(btn('Install', 'install', '', (e) => act(e.target, 'install', { game_id: r.id })));
    if (l && l.installed) {
      out.push(btn('Play', 'play', '', () => choosePlay(r.id)));
      out.push(btn('Uninstall', 'uninstall', 'secondary', (e) => {
        if (window.confirm('Uninstall ' + r.name + '? Its installed files are removed.'))
          act(e.target, 'uninstall', { game_id: r.id });
      }));
    }
    return out;
  }

  function renderGames() {
    const rows = mergedGames().map((r) => {
      const st = gameState(r);
      const l = r.local, rem = r.remote;
      const versions = l && (l.eti_version || l.catalog_version) ||
        rem && rem.eti_game_version ||
        [...new Set(r.advertised.map((a) => a.game.eti_version))].join(', ');
      const size = l && l.size || rem && rem.size || (r.advertised[0] && r.advertised[0].game.size);
      const peers = rem ? rem.peer_count : r.advertised.length;
      return el('tr', { 'data-game': r.id, 'data-state': st.key },
        el('td', { 'data-label': null }, el('span', { class: 'gname' }, r.name),
          r.name !== r.id ? el('span', { class: 'gid' }, r.id) : null),
        el('td', { 'data-label': 'Version', class: 'version' }, versions || ''),
        el('td', { 'data-label': 'Size', class: 'num' }, size ? bytes(size) : ''),
        el('td', { 'data-label': 'Peers', class: 'num' }, String(peers)),
        el('td', { 'data-label': 'State' }, el('span', { class: 'state ' + st.key }, st.text)),
        el('td', { class: 'actions' }, ...actions(r)));
    });
    $('games').tBodies[0].replaceChildren(...rows);
    $('games-empty').hidden = rows.length > 0;
    renderPlayChoices();
  }

  // Who seeded the most: the peers that sent us most come first.
  function renderPeers() {
    const sentUs = (p) => Math.max(p.bytes_received || 0, state.received.get(p.addr) || 0);
    const peers = [...state.peers].sort((a, b) => sentUs(b) - sentUs(a));
    const rows = peers.map((p) => el('tr', { 'data-peer': p.peer_id },
      el('td', { class: 'peer-name' }, p.name || p.peer_id),
      el('td', { 'data-label': 'Address' }, p.addr),
      el('td', { 'data-label': 'Games', class: 'num' }, String(p.game_count)),
      el('td', { 'data-label': 'Sent us', class: 'num' }, bytes(sentUs(p))),
      el('td', { 'data-label': 'We sent', class: 'num' }, bytes(p.bytes_sent || 0)),
      el('td', { class: 'havelist' }, (p.games || []).map((g) => g.id + ' ' + g.eti_version +
        (g.availability === 'Ready' ? '' : ' (' + g.availability + ')')).join(', '))));
    $('peers').tBodies[0].replaceChildren(...rows);
    $('peers-empty').hidden = rows.length > 0;
  }

  function renderPlayChoices() {
    const sel = $('play-game');
    const keep = sel.value;
    const installed = state.local.filter((g) => g.installed);
    sel.replaceChildren(...installed.map((g) => el('option', { value: g.id }, g.name || g.id)));
    if (installed.some((g) => g.id === keep)) sel.value = keep;
    sel.disabled = installed.length === 0;
  }

  function choosePlay(id) {
    renderPlayChoices();
    $('play-game').value = id;
    $('play-panel').scrollIntoView({ behavior: 'smooth', block: 'nearest' });
    $('play-user').focus();
  }

  function submitPlay(ev) {
    ev.preventDefault();
    const game = $('play-game').value;
    const username = $('play-user').value.trim();
    const language = $('play-language').value;
    const result = $('play-result');
    if (!game) { result.textContent = 'Install a game first.'; return; }
    try { localStorage.setItem('lanspread-player', username); } catch (e) { /* private mode */ }
    const button = ev.target.querySelector('button');
    button.disabled = true;
    command('play', { game_id: game, username, language, force: $('play-force').checked })
      .then((data) => {
        const o = data.outcome || {};
        const written = [o.account_name_written && 'player name', o.language_written && 'language',
          o.persona_name_written && 'in-game name'].filter(Boolean);
        result.dataset.outcome = o.already_applied ? 'already-applied' : 'applied';
        result.textContent = o.already_applied ?
          gameName(game) + ' was set up before: nothing changed. Have fun!' :
          gameName(game) + ' is ready for ' + username + ' (' + (written.join(', ') || 'nothing') +
          ' written). Have fun!';
      })
      .catch((e) => { result.dataset.outcome = 'error'; result.textContent = 'Play: ' + e.message; })
      .finally(() => { button.disabled = false; });
  }

  function renderSelf() {
    const s = state.status;
    if (!s) return;
    const limit = s.limits && s.limits.upload_bytes_per_s ? ' · upload limit ' + s.limits.upload : '';
    $('self').textContent = s.name + ' at ' + s.addr + ' · ' + s.peer_count +
      (s.peer_count === 1 ? ' peer' : ' peers') + limit;
  }

  // ---- refreshing --------------------------------------------------------

  let refreshing = null, again = false, timer = null;
  async function refresh() {
    if (refreshing) { again = true; return refreshing; }
    refreshing = (async () => {
      try {
        const [games, peers, status] = await Promise.all([
          command('list-games'), command('list-peers'), command('status')]);
        state.local = games.local || [];
        state.remote = games.remote || [];
        state.peers = peers.peers || [];
        state.status = status;
        setOps(status.active_operations);
        renderSelf();
        renderGames();
        renderPeers();
        renderActivity();
      } catch (e) {
        message('Cannot reach the daemon: ' + e.message, 'error');
      }
    })();
    await refreshing;
    refreshing = null;
    if (again) { again = false; refresh(); }
  }
  function refreshSoon() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 150);
  }

  async function pollStatus() {
    try {
      const status = await command('status');
      state.status = status;
      setOps(status.active_operations);
      renderSelf();
      renderActivity();
    } catch (e) { /* the next refresh says so */ }
  }

  function onEvent(ev) {
    let msg;
    try { msg = JSON.parse(ev.data); } catch (e) { return; }
    const d = msg.data || {};
    switch (msg.event) {
      case 'download-progress': progress(d, 'Downloading'); return;
      case 'install-progress': progress(d, 'Installing'); return;
      case 'download-chunk-finished':
        state.received.set(d.peer_addr, (state.received.get(d.peer_addr) || 0) + (d.length || 0));
        renderPeers();
        return;
      case 'download-begin':
        progress({ game_id: d.game_id, bytes: 0, total_bytes: d.total_bytes, bytes_per_s: 0 }, 'Downloading');
        return;
      case 'download-finished': finished(d.game_id, 'Downloading'); break;
      case 'install-finished': finished(d.game_id, 'Installing'); break;
      case 'active-operations-changed': setOps(d.active_operations); renderActivity(); break;
      case 'download-failed': case 'download-peers-gone': case 'install-failed':
      case 'uninstall-failed': case 'verify-failed': {
        const op = state.ops.get(d.game_id);
        if (op) op.failed = true;
        message(gameName(d.game_id) + ': ' + msg.event.replace(/-/g, ' ') +
          (d.error ? ': ' + d.error : ''), 'error');
        break;
      }
      case 'download-source-dropped':
        message(gameName(d.game_id) + ': ' + d.peer_addr + ' dropped (' + d.reason + ')');
        break;
      default: break;
    }
    refreshSoon();
  }

  function connectEvents() {
    const badge = $('live');
    const es = new EventSource('/api/events');
    es.onopen = () => {
      badge.textContent = 'live';
      badge.className = 'badge on';
      refreshSoon();
    };
    es.onerror = () => {
      badge.textContent = 'offline';
      badge.className = 'badge off';
    };
    es.onmessage = onEvent;
  }

  function start() {
    try { $('play-user').value = localStorage.getItem('lanspread-player') || ''; } catch (e) { /* none */ }
    $('play-form').addEventListener('submit', submitPlay);
    connectEvents();
    refresh();
    let tick = 0;
    setInterval(() => {
      tick++;
      sample();
      // Every second: the upload graph needs the rate even when idle.
      pollStatus();
      if (state.ops.size === 0 && state.done.size > 0) renderActivity();
      if (tick % 5 === 0) refresh();
    }, 1000);
  }

  document.addEventListener('DOMContentLoaded', start);
})();
