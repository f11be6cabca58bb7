// SPDX-License-Identifier: MIT
// The live dashboard of sched-bus: an observer of every job event. Events update a model as frames
// come; the page is drawn from it at most every RENDER_MS; status and jobs snapshots re-sync it.
// Read-only: it never submits nor cancels.
'use strict';
(() => {
const LOG_MAX = 200, QUEUE_IDS = 5, RENDER_MS = 100;
const RESYNC_MS = 3000, WAIT_EVERY = 2, WAIT_LIMIT = 250;  // waiting listings every 2nd resync
const CHART_S = 300, RATE_S = 10, RB = CHART_S + RATE_S + 2;
const WAITING = ['queued', 'requeued', 'suspended'];
const OPEN = new Set(['sent', 'queued', 'running', 'suspended', 'requeued']);
const EVICTIONS = new Set(['evicted', 'suspended', 'requeued']);
const ALERTS = new Set(['evicted', 'timeout']);
const num = (v) => typeof v === 'number';

const $ = (id) => document.getElementById(id);
const mk = (tag, cls, text) => {
  const e = document.createElement(tag);
  e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};
// DOM writes only when the value changes.
const setText = (e, t) => { if (e._t !== t) { e._t = t; e.textContent = t; } };
const setData = (e, k, v) => {
  if (e['_' + k] === v) return;
  e['_' + k] = v;
  if (v === null) delete e.dataset[k]; else e.dataset[k] = v;
};

// ---- the model ----
const jobs = new Map();     // open jobs: id -> {id, p, rt, runs: Map(scheduler -> {s, t0})}
const waiting = new Map();  // those waiting on some scheduler
const meta = new Map();     // id -> [priority, runtime] of recent jobs, for events that lack them
const scheds = new Map();   // name (a legacy one: "\u0001" + peer) -> scheduler
const heldIds = new Set();
const unseen = {};          // per waiting state: jobs older than its last listing, unknown here
const unsupported = new Set();
let held = 0, bus = null, states = null, statusAt = 0, skew = 0, nEvents = 0, dirtyLog = true;

const logAll = { a: [], n: 0 }, logAlerts = { a: [], n: 0 };  // rings of LOG_MAX entries
const push = (r, x) => { r.a[r.n++ % LOG_MAX] = x; };

const rJobs = new Uint32Array(RB), rEvict = new Uint32Array(RB);  // per second, a ring
let rSec = 0, startS = 0;
const roll = (s) => {
  if (!rSec || s - rSec >= RB) { rJobs.fill(0); rEvict.fill(0); rSec = s; }
  while (rSec < s) { rSec++; rJobs[rSec % RB] = rEvict[rSec % RB] = 0; }
};
const busNow = () => Date.now() / 1000 + skew;

function sched(name, known) {
  let s = scheds.get(name);
  if (!s) {
    s = { key: name, name, peer: '', reports: true, slots: 0, cells: [], el: null, nWait: 0 };
    scheds.set(name, s);
    if (!known) resyncSoon();  // its slots come with the next status
  }
  return s;
}

// Cells beyond the slots only while a start is reported before the end it follows.
function compact(s) {
  const c = s.cells;
  while (c.length > s.slots) {
    const last = c[c.length - 1], i = c.indexOf(null);
    if (last !== null) {
      if (i < 0 || i >= s.slots) break;
      c[i] = last;
    }
    c.pop();
  }
  while (c.length < s.slots) c.push(null);
}

function cellAdd(name, id) {
  const c = sched(name).cells;
  if (c.indexOf(id) >= 0) return;
  const i = c.indexOf(null);
  if (i < 0) c.push(id); else c[i] = id;
}

function cellDel(name, id) {
  const s = scheds.get(name), i = s ? s.cells.indexOf(id) : -1;
  if (i < 0) return;
  s.cells[i] = null;
  compact(s);
}

function learn(id, p, rt) {
  const m = meta.get(id) || [null, null];
  if (num(p)) m[0] = p;
  if (num(rt)) m[1] = rt;
  meta.set(id, m);
  if (meta.size > 20000) meta.delete(meta.keys().next().value);
  return m;
}

function getJob(id) {
  let j = jobs.get(id);
  if (!j) {
    const m = meta.get(id) || [null, null];
    j = { id, p: m[0], rt: m[1], runs: new Map() };
    jobs.set(id, j);
  }
  return j;
}

function removeJob(j) {
  for (const [name, r] of j.runs) if (r.s === 'running') cellDel(name, j.id);
  waiting.delete(j.id);
  jobs.delete(j.id);
}

// After a change of its runs: whether the job waits; forgotten once open nowhere.
function settle(j) {
  let w = false, open = false;
  for (const r of j.runs.values()) {
    if (WAITING.indexOf(r.s) >= 0) w = true;
    if (OPEN.has(r.s)) open = true;
  }
  if (!open) removeJob(j);
  else if (w) waiting.set(j.id, j);
  else waiting.delete(j.id);
}

// The job's state on one scheduler; `started` comes from a listing, `t` is an event's time.
function setRun(j, name, state, t, started) {
  let r = j.runs.get(name);
  if (r && !OPEN.has(r.s)) return;  // an end is the run's last word, as on the bus
  if (!r) { r = { s: 'sent', t0: 0 }; j.runs.set(name, r); }
  const s = state === 'resumed' ? 'running' : state;  // resumed: its start stays the first one
  if (s === 'running') {
    if (started) r.t0 = started;
    else if (r.s !== 'running' && (state === 'running' || !r.t0)) r.t0 = t || busNow();
    if (r.s !== 'running') cellAdd(name, j.id);
  } else if (r.s === 'running') cellDel(name, j.id);
  r.s = s;
}

function dropRun(j, name) {
  const r = j.runs.get(name);
  if (r && r.s === 'running') cellDel(name, j.id);
  j.runs.delete(name);
}

// ---- what the bus says ----
function onJobEvent(ev, nowS) {
  if (!ev || !num(ev.id) || typeof ev.state !== 'string') return;
  nEvents++;
  const st = ev.state, name = typeof ev.scheduler === 'string' ? ev.scheduler : null;
  const m = num(ev.priority) ? learn(ev.id, ev.priority, ev.runtime) : meta.get(ev.id);
  const j = name ? getJob(ev.id) : jobs.get(ev.id);
  if (j) {
    if (m) { j.p = m[0]; j.rt = m[1]; }
    if (j.p === null) resyncSoon();  // it began before we looked: a listing has it
    if (name) setRun(j, name, st, ev.time);
    if (ev.final) removeJob(j); else settle(j);
  }
  if (st === 'held') {
    if (!heldIds.has(ev.id)) { heldIds.add(ev.id); held++; }
  } else if ((name || ev.final) && heldIds.delete(ev.id)) held = Math.max(0, held - 1);
  const sec = Math.floor(nowS);
  roll(sec);
  if (ev.final) rJobs[sec % RB]++;
  if (EVICTIONS.has(st)) rEvict[sec % RB]++;
  const entry = { ev, p: m ? m[0] : null };
  push(logAll, entry);
  if (ALERTS.has(st)) push(logAlerts, entry);
  dirtyLog = true;
}

function applyStatus(m) {
  bus = m.bus || {};
  states = m.states || null;
  statusAt = Date.now();
  held = bus.held | 0;
  if (heldIds.size > 50000) heldIds.clear();
  const keep = new Set();
  for (const x of Array.isArray(m.schedulers) ? m.schedulers : []) {
    const named = typeof x.name === 'string', key = named ? x.name : '\u0001' + x.peer, s = sched(key, true);
    s.name = named ? x.name : null;
    s.reports = !!x.reports;
    // Connections of one name (a scheduler that reconnects) are one scheduler to the bus.
    s.peer = keep.has(key) ? s.peer + ', ' + x.peer : String(x.peer || '');
    s.slots = keep.has(key) ? Math.max(s.slots, x.slots | 0) : x.slots | 0;
    keep.add(key);
    compact(s);
  }
  for (const s of Array.from(scheds.values())) {
    if (keep.has(s.key)) continue;
    for (const j of Array.from(jobs.values())) if (j.runs.has(s.key)) { dropRun(j, s.key); settle(j); }
    if (s.el) s.el.remove();
    scheds.delete(s.key);
  }
}

// A listing of the jobs in `req.state`: each listed job as the bus has it now; the runs in that
// state it does not list (all; or, cut by the limit, those newer than the oldest listed) have
// left it. Replies overtake the events of the bus's same loop pass, which re-apply harmlessly.
function applyJobs(req, m) {
  const list = Array.isArray(m.jobs) ? m.jobs : [], seen = new Set();
  const total = num(m.total) ? m.total : list.length;
  const complete = req.full || total <= list.length, minId = list.length ? list[0].id : Infinity;
  for (const e of list) {
    if (!e || !num(e.id)) continue;
    seen.add(e.id);
    const mm = learn(e.id, e.priority, e.runtime), j = getJob(e.id);
    j.p = mm[0];
    j.rt = mm[1];
    for (const r of Array.isArray(e.schedulers) ? e.schedulers : []) {
      if (typeof r.name === 'string' && typeof r.state === 'string') setRun(j, r.name, r.state, 0, r.started);
    }
    if (e.end) removeJob(j); else settle(j);
  }
  let older = 0;
  for (const j of Array.from(jobs.values())) {
    if (seen.has(j.id)) continue;
    let has = false;
    for (const r of j.runs.values()) if (r.s === req.state) has = true;
    if (!has) continue;
    if (!complete && j.id < minId) { older++; continue; }
    for (const [name, r] of Array.from(j.runs)) if (r.s === req.state) dropRun(j, name);
    settle(j);
  }
  if (req.state === 'running') {
    for (const s of scheds.values()) {
      s.cells = s.cells.map((id) => {
        const r = id === null ? null : jobs.has(id) && jobs.get(id).runs.get(s.key);
        return r && r.s === 'running' ? id : null;
      });
      compact(s);
    }
  } else unseen[req.state] = Math.max(0, total - list.length - older);
}

// ---- the connection ----
let ws = null, attempt = 0, openedAt = 0, retryAt = 0, resyncTimer = 0, soonTimer = 0;
let pending = [], cycle = 0, lastResync = 0;
// Whether anything happened since the last re-sync: an idle bus is not asked anything, so that a
// page left open costs it no wakeup but its pings.
let changed = false;
const isOpen = () => !!(ws && ws.readyState === 1);

function send(obj, req) {
  if (!isOpen()) return;
  ws.send(JSON.stringify(obj));
  if (req) pending.push(req);
}

function resync(full) {
  if (!isOpen() || pending.length > 24) return;  // a bus that does not answer gets no pile
  if (!full && !changed) return;
  changed = false;
  lastResync = Date.now();
  let slots = 0;
  for (const s of scheds.values()) slots += s.cells.length;
  send({ cmd: 'status' }, { kind: 'status' });
  const limit = Math.min(10000, 2 * slots + 100);
  send({ cmd: 'jobs', state: 'running', limit }, { kind: 'jobs', state: 'running', full });
  if (full || ++cycle % WAIT_EVERY === 0) {
    for (const state of WAITING) {
      if (!unsupported.has(state)) send({ cmd: 'jobs', state, limit: WAIT_LIMIT }, { kind: 'jobs', state, full });
    }
  }
}

// Something is unknown (a scheduler, a job's priority): ask soon, at most once a second.
function resyncSoon() {
  if (soonTimer || !isOpen()) return;
  soonTimer = setTimeout(() => { soonTimer = 0; cycle = WAIT_EVERY - 1; resync(false); },
    Math.max(50, lastResync + 1000 - Date.now()));
}

// Answers come in the order of the questions.
function takePending(kind) {
  while (pending.length) {
    const r = pending.shift();
    if (!kind || r.kind === kind) return r;
  }
  return null;
}

function onMessage(msg) {
  let m;
  try { m = JSON.parse(msg.data); } catch (e) { return; }
  if (!m || typeof m !== 'object') return;
  const nowS = Date.now() / 1000;
  // {"event":"job",...} or {"event":"job","events":[...]}
  const evs = Array.isArray(m.events) ? m.events : m.event === 'job' ? [m] : null;
  if (evs) {
    changed = true;
    for (const ev of evs) onJobEvent(ev, nowS);
    const last = evs[evs.length - 1];
    if (last && num(last.time)) {
      const d = last.time - nowS;  // the bus's clock, for the times of running jobs
      skew = Math.abs(d - skew) > 2 ? d : skew + 0.05 * (d - skew);
    }
  } else if (m.event === 'scheduler') {
    // One came or went: the next status says how it is now.
    changed = true;
    resyncSoon();
  } else if (m.event === 'status') {
    takePending('status');
    applyStatus(m);
  } else if (m.event === 'jobs') {
    applyJobs(takePending('jobs') || { state: '' }, m);
  } else if (typeof m.error === 'string') {
    const r = m.error === 'invalid_type' ? null : takePending(null);  // register has no answer
    if (r && r.kind === 'jobs' && m.error === 'invalid_filter') unsupported.add(r.state);
    else notice('The bus answered ' + m.error + ': ' + (m.message || ''));
  }
  invalidate();
}

function notice(text) {
  const n = $('notice');
  n.textContent = text;
  n.hidden = !text;
}

// A bus with tokens wants one from the page too: opened as https://HOST:PORT/#token=TOKEN, the page
// passes it on in the WebSocket's URL (a browser cannot set its Authorization header). The fragment
// never leaves the browser by itself.
function tokenQuery() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  return m ? '?access_token=' + encodeURIComponent(decodeURIComponent(m[1])) : '';
}

function connect() {
  retryAt = 0;
  let sock;
  try {
    sock = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/' +
                         tokenQuery());
  } catch (e) {
    return reconnect();
  }
  ws = sock;
  sock.onopen = () => {
    openedAt = Date.now();
    startS = startS || openedAt / 1000;
    pending = [];
    cycle = 0;
    notice('');
    send({ cmd: 'register', type: 'observer' });
    resync(true);
    resyncTimer = setInterval(resync, RESYNC_MS, false);
    document.body.dataset.stale = 'false';
    invalidate();
  };
  sock.onmessage = onMessage;
  sock.onclose = () => {
    if (ws !== sock) return;
    ws = null;
    clearInterval(resyncTimer);
    clearTimeout(soonTimer);
    soonTimer = 0;
    if (openedAt && Date.now() - openedAt > 10000) attempt = 0;
    openedAt = 0;
    document.body.dataset.stale = 'true';
    reconnect();
  };
  invalidate();
}

function reconnect() {
  const delay = Math.min(15000, 500 * Math.pow(2, attempt++)) * (0.8 + 0.4 * Math.random());
  retryAt = Date.now() + delay;
  setTimeout(connect, delay);
  invalidate();
}

// ---- drawing ----
let renderPending = false, lastRender = 0, chartSec = 0, queueRows = null;
let paused = false, alertsOnly = false, shownRing = null, shownCount = 0;

function invalidate() {
  if (renderPending) return;
  renderPending = true;
  const go = () => requestAnimationFrame(() => {
    renderPending = false;
    lastRender = performance.now();
    render();
  });
  const wait = lastRender + RENDER_MS - performance.now();
  if (wait > 0) setTimeout(go, wait); else go();
}

const pad = (n, w) => String(n).padStart(w, '0');
function dur(s) {
  s = Math.max(0, s);
  if (s < 10) return s.toFixed(1) + 's';
  if (s < 60) return Math.floor(s) + 's';
  if (s < 3600) return Math.floor(s / 60) + 'm' + pad(Math.floor(s % 60), 2) + 's';
  return Math.floor(s / 3600) + 'h' + pad(Math.floor(s % 3600 / 60), 2) + 'm';
}

function render() {
  // The chart first, while the layout is clean: reading the canvas's size then costs nothing.
  const cur = Math.floor(Date.now() / 1000);
  roll(cur);
  if (cur !== chartSec) { chartSec = cur; drawChart(); }
  renderConnection();
  renderBus();
  renderQueue();
  renderSchedulers();
  if (dirtyLog && !paused) renderLog();
  renderRates();
  document.body.dataset.events = String(nEvents);
  document.body.dataset.updated = String(Date.now());
}

// The countdown is left out of the live region: it would be read every second.
function renderConnection() {
  const c = $('connection'), open = isOpen();
  const s = retryAt ? Math.max(0, Math.ceil((retryAt - Date.now()) / 1000)) : 0;
  if (!c.f) {
    c.textContent = '';
    c.f = [mk('span', 'conn-text'), mk('span', 'conn-retry')];
    c.f[1].setAttribute('aria-hidden', 'true');
    c.append(...c.f);
  }
  setData(c, 'state', open ? 'open' : 'closed');
  setData(c, 'retry', !open && retryAt ? String(s) : null);
  setText(c.f[0], open ? 'Connected to ' + location.host
    : retryAt ? 'Disconnected, reconnecting (attempt ' + attempt + ')' : 'Connecting…');
  setText(c.f[1], !open && retryAt ? ' in ' + s + ' s' : '');
}

function renderBus() {
  const h = $('held');
  setText(h, String(held));
  setData(h, 'count', String(held));
  if (!bus) return;
  setText($('hold-max'), num(bus.hold_max) ? ' (max ' + bus.hold_max + ')' : '');
  setText($('bus-version'), String(bus.version || '–'));
  setText($('bus-dispatch'), String(bus.dispatch || 'broadcast'));
  for (const k of ['submitted', 'forwarded', 'dropped']) setText($('bus-' + k), String(bus[k] | 0));
  if (num(bus.uptime)) setText($('bus-uptime'), dur(Math.floor(bus.uptime + (isOpen() ? (Date.now() - statusAt) / 1000 : 0))));
  const p = $('producers-paused'), ps = bus.producers_paused ? 'paused' : 'reading';
  setText(p, ps);
  setData(p, 'state', ps);
  const parts = [];
  if (states) for (const k of Object.keys(states)) if (states[k]) parts.push(k + ' ' + states[k]);
  setText($('states'), parts.length ? 'Jobs by state (per scheduler): ' + parts.join(' · ') : '');
}

function schedElement(s) {
  const sec = mk('section', 'scheduler'), h = mk('h3', 'sched-name', s.name === null ? '(legacy)' : s.name);
  const meta = mk('p', 'sched-meta');
  h.id = 'sched-' + Math.random().toString(36).slice(2, 10);
  sec.setAttribute('aria-labelledby', h.id);
  sec.dataset.name = s.name === null ? '' : s.name;
  s.peerEl = mk('span', 'peer');
  s.loadEl = mk('span', 'load');
  meta.append(s.peerEl, s.loadEl);
  s.grid = mk('div', 'slots');
  s.grid.setAttribute('role', 'list');
  s.grid.setAttribute('aria-label', 'Slots');
  s.cellEls = [];
  sec.append(h, meta, s.grid);
  s.el = sec;
}

function cellElement(i) {
  const c = mk('div', 'slot');
  c.setAttribute('role', 'listitem');
  c.dataset.slot = String(i);
  c.jobEl = mk('span', 'slot-job');
  c.prioEl = mk('span', 'slot-prio');
  c.timeEl = mk('span', 'slot-time');
  c.barEl = mk('span', 'slot-bar');
  c.append(c.jobEl, c.prioEl, c.timeEl, c.barEl);
  return c;
}

// The time left when the job's runtime is known (the bus does not know the timeout), else the
// time it has run.
function renderCell(c, s, id, now) {
  const j = id === null ? null : jobs.get(id), r = j && j.runs.get(s.key);
  const p = j && j.p !== null ? String(j.p) : '';
  setData(c, 'job', j ? String(id) : '');
  setData(c, 'priority', p);
  setText(c.jobEl, j ? '#' + id : 'free');
  setText(c.prioEl, p ? 'P' + p : '');
  let t = '', frac = 0, left = null, ran = null;
  if (r && r.t0) {
    ran = Math.max(0, now - r.t0);
    t = 'ran ' + dur(ran);
    if (num(j.rt) && j.rt > 0) {
      left = Math.max(0, j.rt - ran);
      if (ran <= j.rt) t = dur(left) + ' left';
      frac = Math.min(1, ran / j.rt);
    }
  }
  setText(c.timeEl, t);
  setData(c, 'elapsed', ran === null ? null : ran.toFixed(1));
  setData(c, 'left', left === null ? null : left.toFixed(1));
  const tf = 'scaleX(' + frac.toFixed(3) + ')';
  if (c._tf !== tf) { c._tf = tf; c.barEl.style.transform = tf; }  // CSSOM: allowed by the CSP
  const title = j ? 'Job ' + id + (p ? ', priority ' + p : '') + (num(j.rt) ? ', runtime ' + dur(j.rt) : '') : 'Free slot';
  if (c.title !== title) c.title = title;
}

function renderSchedulers() {
  const box = $('schedulers'), now = busNow();
  $('no-schedulers').hidden = scheds.size > 0;
  let i = 1;  // after the "no scheduler" line
  for (const s of scheds.values()) {
    if (!s.el) schedElement(s);
    if (box.children[i] !== s.el) box.insertBefore(s.el, box.children[i] || null);
    i++;
    setData(s.el, 'reports', String(s.reports));
    setData(s.el, 'peer', s.peer);
    setText(s.peerEl, s.peer);
    if (!s.reports && s.name === null) {
      setText(s.loadEl, 'does not report: slots unknown');
      continue;
    }
    const n = s.cells.length;
    let running = 0;
    for (const id of s.cells) if (id !== null) running++;
    setData(s.el, 'slots', String(s.slots));
    setData(s.el, 'running', String(running));
    setData(s.el, 'queued', String(s.nWait));
    setText(s.loadEl, running + '/' + (s.slots || '?') + ' running · ' + s.nWait + ' waiting');
    while (s.cellEls.length < n) s.grid.append(s.cellEls[s.cellEls.push(cellElement(s.cellEls.length)) - 1]);
    while (s.cellEls.length > n) s.cellEls.pop().remove();
    for (let k = 0; k < n; k++) {
      renderCell(s.cellEls[k], s, s.cells[k], now);
      setData(s.cellEls[k], 'over', k >= s.slots ? 'true' : null);
    }
  }
}

function renderQueue() {
  const q = $('queue');
  if (!queueRows) {
    queueRows = [];
    for (let p = 0; p <= 10; p++) {
      const li = mk('li', 'queue-row');
      li.dataset.priority = String(p);
      li.nEl = mk('span', 'q-count', '0');
      li.idsEl = mk('span', 'q-ids');
      li.moreEl = mk('span', 'q-more');
      li.ids = [];
      for (let k = 0; k < QUEUE_IDS; k++) {
        const x = mk('span', 'q-job');
        x.hidden = true;
        li.ids.push(x);
        li.idsEl.append(x);
      }
      li.append(mk('span', 'q-prio', 'P' + p), li.nEl, li.idsEl, li.moreEl);
      queueRows.push(li);
      q.append(li);
    }
  }
  // Per priority: how many, and the first few in queue order: a suspended job before the
  // others of its priority, then by arrival (ids grow with it; a requeued job keeps its place).
  const counts = new Array(11).fill(0), firsts = queueRows.map(() => []);
  const before = (a, b) => (a.s !== b.s ? a.s : a.id < b.id);
  for (const s of scheds.values()) s.nWait = 0;
  for (const j of waiting.values()) {
    let susp = false;
    for (const [name, r] of j.runs) {
      if (WAITING.indexOf(r.s) < 0) continue;
      if (r.s === 'suspended') susp = true;
      if (scheds.has(name)) scheds.get(name).nWait++;
    }
    if (j.p === null || !(j.p >= 0 && j.p <= 10)) continue;
    counts[j.p]++;
    const f = firsts[j.p], x = { id: j.id, s: susp };
    if (f.length === QUEUE_IDS && !before(x, f[QUEUE_IDS - 1])) continue;
    let k = f.length;
    while (k > 0 && before(x, f[k - 1])) k--;
    f.splice(k, 0, x);
    if (f.length > QUEUE_IDS) f.pop();
  }
  for (let p = 0; p <= 10; p++) {
    const li = queueRows[p];
    setData(li, 'count', String(counts[p]));
    setText(li.nEl, String(counts[p]));
    setText(li.moreEl, counts[p] > QUEUE_IDS ? '+' + (counts[p] - QUEUE_IDS) : '');
    for (let k = 0; k < QUEUE_IDS; k++) {
      const x = li.ids[k], e = firsts[p][k];
      setData(x, 'job', e ? String(e.id) : null);
      setData(x, 'priority', e ? String(p) : null);
      setData(x, 'state', e && e.s ? 'suspended' : null);
      setText(x, e ? '#' + e.id : '');
      if (x.hidden !== !e) x.hidden = !e;
      if (x.title !== (e && e.s ? 'suspended' : '')) x.title = e && e.s ? 'suspended' : '';
    }
  }
  let cut = 0;
  for (const k of WAITING) cut += unseen[k] || 0;
  const shown = waiting.size + cut, qt = $('queue-total');
  setText(qt, String(shown));
  setData(qt, 'count', String(shown));
  setData(qt, 'unlisted', cut ? String(cut) : null);
  setText($('queue-note'), cut ? cut + ' older ones not yet by priority' : '');
  setData(q, 'total', String(shown));
}

const fmtTime = (t) => {
  const d = new Date(t * 1000);
  return pad(d.getHours(), 2) + ':' + pad(d.getMinutes(), 2) + ':' + pad(d.getSeconds(), 2) + '.' + pad(d.getMilliseconds(), 3);
};

function detail(ev) {
  const d = [];
  if (num(ev.evicted_by)) d.push('by #' + ev.evicted_by);
  if (num(ev.exit_status)) d.push('exit ' + ev.exit_status);
  if (typeof ev.signal === 'string') d.push('SIG' + ev.signal);
  if (num(ev.runtime) && ev.state !== 'held') d.push('runtime ' + dur(ev.runtime));
  if (typeof ev.reason === 'string') d.push(ev.reason);
  if (ev.final) d.push('ended: ' + (ev.end || '?'));
  return d.join(', ');
}

function rowElement() {
  const li = mk('li', 'event');
  li.f = ['ev-time', 'ev-state', 'ev-job', 'ev-prio', 'ev-sched', 'ev-detail'].map((c) => mk('span', c));
  li.append(...li.f);
  return li;
}

function fillRow(li, e) {
  const ev = e.ev, p = e.p === null ? '' : String(e.p), name = typeof ev.scheduler === 'string' ? ev.scheduler : '';
  setData(li, 'state', ev.state);
  setData(li, 'job', String(ev.id));
  setData(li, 'scheduler', name);
  setData(li, 'final', ev.final ? 'true' : null);
  setData(li, 'time', num(ev.time) ? String(ev.time) : null);
  setData(li.f[3], 'priority', p);
  const t = [num(ev.time) ? fmtTime(ev.time) : '', ev.state, '#' + ev.id, p ? 'P' + p : '', name || '(bus)', detail(ev)];
  for (let k = 0; k < 6; k++) setText(li.f[k], t[k]);
}

// Newest first; only the events since the last render, in rows taken from the bottom.
function renderLog() {
  dirtyLog = false;
  const list = $('events'), ring = alertsOnly ? logAlerts : logAll;
  if (ring !== shownRing) { shownRing = ring; shownCount = 0; list.textContent = ''; }
  const k = Math.min(ring.n - shownCount, LOG_MAX);
  shownCount = ring.n;
  if (k <= 0) return;
  const rows = [], frag = document.createDocumentFragment();
  for (let i = list.childElementCount + k - LOG_MAX; i > 0; i--) rows.push(list.removeChild(list.lastElementChild));
  for (let i = ring.n - 1; i >= ring.n - k; i--) {
    const li = rows.pop() || rowElement();
    fillRow(li, ring.a[i % LOG_MAX]);
    frag.append(li);
  }
  list.prepend(frag);
}

function renderRates() {
  if (!startS) return;
  const nowS = Date.now() / 1000, cur = Math.floor(nowS);
  const w = Math.ceil(Math.min(RATE_S, Math.max(1, nowS - startS)));
  let nj = 0, ne = 0;
  for (let s = cur - w + 1; s <= cur; s++) { nj += rJobs[s % RB]; ne += rEvict[s % RB]; }
  const span = Math.max(0.5, Math.min(w - 1 + (nowS - cur), nowS - startS));
  for (const [id, v] of [['jobs-per-second', nj / span], ['evictions-per-second', ne / span]]) {
    setText($(id), v < 10 ? v.toFixed(1) : String(Math.round(v)));
    setData($(id), 'value', v.toFixed(2));
  }
}

function drawChart() {
  const cv = $('chart'), dpr = window.devicePixelRatio || 1, w = cv.clientWidth, h = cv.clientHeight;
  if (!w || !h) return;
  if (cv.width !== Math.round(w * dpr) || cv.height !== Math.round(h * dpr)) {
    cv.width = Math.round(w * dpr);
    cv.height = Math.round(h * dpr);
  }
  const g = cv.getContext('2d'), cs = getComputedStyle(cv), col = (n) => cs.getPropertyValue(n).trim() || '#888';
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  const first = rSec - CHART_S;  // the last CHART_S full seconds
  let max = 1;
  for (let s = first; s < rSec; s++) max = Math.max(max, rJobs[s % RB], rEvict[s % RB]);
  const e = Math.pow(10, Math.floor(Math.log10(max))), f = max / e;
  max = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * e;
  const L = 34, T = 6, pw = w - L - 4, ph = h - T - 16;
  g.font = '11px system-ui, sans-serif';
  g.fillStyle = col('--c-text');
  g.strokeStyle = col('--c-grid');
  g.lineWidth = 1;
  g.textAlign = 'right';
  g.textBaseline = 'middle';
  for (const v of [0, 0.5, 1]) {
    const y = Math.round(T + ph * (1 - v)) + 0.5;
    g.beginPath(); g.moveTo(L, y); g.lineTo(L + pw, y); g.stroke();
    g.fillText(String(+(max * v).toFixed(1)), L - 4, y);
  }
  g.textBaseline = 'alphabetic';
  g.fillText('now', L + pw, h - 3);
  g.textAlign = 'left';
  g.fillText('−' + CHART_S / 60 + ' min', L, h - 3);
  g.lineWidth = 1.5;
  for (const [arr, c] of [[rJobs, '--c-jobs'], [rEvict, '--c-evict']]) {
    g.strokeStyle = col(c);
    g.beginPath();
    for (let s = first; s < rSec; s++) g.lineTo(L + pw * (s - first) / (CHART_S - 1), T + ph * (1 - arr[s % RB] / max));
    g.stroke();
  }
}

function init() {
  const pause = $('pause'), only = $('alerts-only');
  pause.addEventListener('click', () => {
    paused = !paused;
    pause.setAttribute('aria-pressed', String(paused));
    pause.textContent = paused ? 'Resume' : 'Pause';
    invalidate();
  });
  only.addEventListener('change', () => {
    alertsOnly = only.checked;
    dirtyLog = true;
    invalidate();
  });
  window.addEventListener('resize', () => { chartSec = 0; invalidate(); });
  setInterval(invalidate, 250);  // running times, countdowns, rates
  connect();
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
else init();
})();
