// SPDX-License-Identifier: MIT
// The live dashboard of sched-bus: an observer of every job event, applied to a model as frames
// come, drawn at most every RENDER_MS, and re-synced from status and jobs snapshots. Read-only.
'use strict';
(() => {
  const LOG_MAX = 200;       // rows of the event log
  const QUEUE_IDS = 5;       // ids shown per priority
  const RENDER_MS = 100;     // at most one render per interval
  const RESYNC_MS = 3000;    // status and running jobs; the waiting ones every WAIT_EVERY resyncs
  const WAIT_EVERY = 2;
  const WAIT_LIMIT = 250;
  const CHART_S = 300;       // seconds in the chart
  const RATE_S = 10;         // seconds the numbers average over
  const RB = CHART_S + RATE_S + 2;
  const WAITING = ['queued', 'requeued', 'suspended'];
  const OPEN = new Set(['sent', 'queued', 'running', 'suspended', 'requeued']);
  const EVICTIONS = new Set(['evicted', 'suspended', 'requeued']);
  const ALERTS = new Set(['evicted', 'timeout']);

  const $ = (id) => document.getElementById(id);
  const mk = (tag, cls, text) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const setText = (e, t) => { if (e._t !== t) { e._t = t; e.textContent = t; } };
  const setData = (e, k, v) => {
    const key = '_d' + k;
    if (e[key] === v) return;
    e[key] = v;
    if (v === null) delete e.dataset[k]; else e.dataset[k] = v;
  };

  // ---- the model ----
  const jobs = new Map();     // open jobs: id -> {id, p, rt, runs: Map(name -> {s, t0})}
  const waiting = new Map();  // the open jobs waiting somewhere
  const scheds = new Map();   // key (name, or "\u0001" + peer for a legacy one) -> scheduler
  const heldIds = new Set();
  let held = 0, bus = null, states = null, statusAt = 0;
  const trunc = {};           // per waiting state: how many its last listing left out
  let skew = null;            // bus clock minus ours, seconds
  let nEvents = 0;
  const unsupported = new Set();

  class Ring {
    constructor(n) { this.n = n; this.a = new Array(n); this.count = 0; }
    push(x) { this.a[this.count++ % this.n] = x; }
    get(i) { return this.a[i % this.n]; }
  }
  const logAll = new Ring(LOG_MAX), logAlerts = new Ring(LOG_MAX);

  const rJobs = new Uint32Array(RB), rEvict = new Uint32Array(RB);
  let rSec = 0, startS = 0;
  const roll = (s) => {
    if (!rSec || s - rSec >= RB) { rJobs.fill(0); rEvict.fill(0); rSec = s; return; }
    while (rSec < s) { rSec++; rJobs[rSec % RB] = 0; rEvict[rSec % RB] = 0; }
  };

  let dirtySched = true, dirtyQueue = true, dirtyBus = true, dirtyLog = true;

  const busNow = () => Date.now() / 1000 + (skew || 0);

  function sched(name, known) {
    let s = scheds.get(name);
    if (!s) {
      s = { key: name, name, peer: '', reports: true, slots: 0, cells: [], el: null, nWait: 0 };
      scheds.set(name, s);
      dirtySched = true;
      if (!known) resyncSoon();  // its slots come with the next status
    }
    return s;
  }

  function compact(s) {
    const c = s.cells;
    while (c.length > s.slots) {
      const last = c[c.length - 1];
      if (last !== null) {
        const i = c.indexOf(null);
        if (i < 0 || i >= s.slots) break;
        c[i] = last;
      }
      c.pop();
    }
    while (c.length < s.slots) c.push(null);
  }

  function cellAdd(name, id) {
    const s = sched(name);
    if (s.cells.indexOf(id) >= 0) return;
    const i = s.cells.indexOf(null);
    if (i < 0) s.cells.push(id); else s.cells[i] = id;
    dirtySched = true;
  }

  function cellDel(name, id) {
    const s = scheds.get(name);
    if (!s) return;
    const i = s.cells.indexOf(id);
    if (i < 0) return;
    s.cells[i] = null;
    compact(s);
    dirtySched = true;
  }

  function getJob(id) {
    let j = jobs.get(id);
    if (!j) { j = { id, p: null, rt: null, runs: new Map() }; jobs.set(id, j); }
    return j;
  }

  function isOpen(j) {
    for (const r of j.runs.values()) if (OPEN.has(r.s)) return true;
    return false;
  }

  function removeJob(j) {
    for (const [name, r] of j.runs) if (r.s === 'running') cellDel(name, j.id);
    if (waiting.delete(j.id)) dirtyQueue = true;
    jobs.delete(j.id);
  }

  // After a change of its runs: the job waits, or is forgotten once it is open nowhere.
  function settle(j) {
    let w = false;
    for (const r of j.runs.values()) if (WAITING.indexOf(r.s) >= 0) w = true;
    if (w !== waiting.has(j.id)) {
      if (w) waiting.set(j.id, j); else waiting.delete(j.id);
      dirtyQueue = true;
    } else if (w) dirtyQueue = true;
    if (!isOpen(j)) removeJob(j);
  }

  // The job's state on one scheduler; `started` comes from a listing, `t` is an event's time.
  function setRun(j, name, state, t, started) {
    let r = j.runs.get(name);
    if (r && !OPEN.has(r.s) && r.s) return;  // an end is the run's last word, as on the bus
    if (!r) { r = { s: '', t0: 0 }; j.runs.set(name, r); }
    const s = state === 'resumed' ? 'running' : state;
    if (s === 'running') {
      if (started) r.t0 = started;
      else if (r.s !== 'running' && (state === 'running' || !r.t0)) r.t0 = t || busNow();
      if (r.s !== 'running') cellAdd(name, j.id);
      else dirtySched = true;
    } else if (r.s === 'running') cellDel(name, j.id);
    r.s = s;
  }

  function dropRun(j, name) {
    const r = j.runs.get(name);
    if (!r) return;
    if (r.s === 'running') cellDel(name, j.id);
    j.runs.delete(name);
  }

  // ---- protocol ----
  function onJobEvent(ev, nowS) {
    if (!ev || typeof ev.id !== 'number' || typeof ev.state !== 'string') return;
    nEvents++;
    const st = ev.state, name = typeof ev.scheduler === 'string' ? ev.scheduler : null;
    const j = name ? getJob(ev.id) : jobs.get(ev.id);
    if (j) {
      if (typeof ev.priority === 'number') j.p = ev.priority;
      if (typeof ev.runtime === 'number') j.rt = ev.runtime;
      else if (j.p === null) resyncSoon();  // it began before we looked: a listing has it
    }
    if (st === 'held') {
      if (!heldIds.has(ev.id)) { heldIds.add(ev.id); held++; dirtyBus = true; }
    } else if ((name || ev.final) && heldIds.delete(ev.id)) {
      held = Math.max(0, held - 1);
      dirtyBus = true;
    }
    if (j) {
      if (name) setRun(j, name, st, ev.time);
      if (ev.final) removeJob(j); else settle(j);
    }
    const sec = Math.floor(nowS);
    roll(sec);
    if (ev.final) rJobs[sec % RB]++;
    if (EVICTIONS.has(st)) rEvict[sec % RB]++;
    const entry = { ev, p: j ? j.p : (typeof ev.priority === 'number' ? ev.priority : null) };
    logAll.push(entry);
    if (ALERTS.has(st)) logAlerts.push(entry);
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
      const key = typeof x.name === 'string' ? x.name : '\u0001' + x.peer;
      const s = sched(key, true);
      s.name = typeof x.name === 'string' ? x.name : null;
      s.reports = !!x.reports;
      if (keep.has(key)) {
        s.peer += ', ' + x.peer;
        s.slots = Math.max(s.slots, x.slots | 0);
      } else {
        s.peer = String(x.peer || '');
        s.slots = x.slots | 0;
      }
      keep.add(key);
      compact(s);
    }
    for (const [key, s] of scheds) if (!keep.has(key)) removeSched(s);
    dirtyBus = dirtySched = true;
  }

  function removeSched(s) {
    for (const j of Array.from(jobs.values())) {
      if (!j.runs.has(s.key)) continue;
      dropRun(j, s.key);
      settle(j);
    }
    if (s.el) s.el.remove();
    scheds.delete(s.key);
    dirtySched = dirtyQueue = true;
  }

  // A listing of jobs in `req.state`: every listed job as the bus has it now; the runs in that
  // state it does not list (all, or those newer than the oldest listed when cut by the limit)
  // have left it.
  function applyJobs(req, m) {
    const list = Array.isArray(m.jobs) ? m.jobs : [];
    const total = typeof m.total === 'number' ? m.total : list.length;
    const complete = req.full || total <= list.length;
    const minId = list.length ? list[0].id : Infinity;
    const seen = new Set();
    for (const e of list) {
      if (!e || typeof e.id !== 'number') continue;
      seen.add(e.id);
      const j = getJob(e.id);
      if (typeof e.priority === 'number') j.p = e.priority;
      if (typeof e.runtime === 'number') j.rt = e.runtime;
      if (e.state === 'held') heldIds.add(e.id);
      for (const r of Array.isArray(e.schedulers) ? e.schedulers : []) {
        if (typeof r.name !== 'string' || typeof r.state !== 'string') continue;
        setRun(j, r.name, r.state, 0, r.state === 'running' ? r.started : 0);
      }
      if (e.end) removeJob(j); else settle(j);
    }
    for (const j of Array.from(jobs.values())) {
      if (seen.has(j.id) || (!complete && j.id < minId)) continue;
      let changed = false;
      for (const [name, r] of Array.from(j.runs)) if (r.s === req.state) { dropRun(j, name); changed = true; }
      if (changed) settle(j);
    }
    if (req.state === 'running') {
      for (const s of scheds.values()) {
        for (let i = 0; i < s.cells.length; i++) {
          const j = s.cells[i] === null ? null : jobs.get(s.cells[i]);
          const r = j && j.runs.get(s.key);
          if (s.cells[i] !== null && !(r && r.s === 'running')) { s.cells[i] = null; dirtySched = true; }
        }
        compact(s);
      }
    } else {
      trunc[req.state] = complete ? 0 : total - list.length;
    }
    dirtySched = dirtyQueue = true;
  }

  // ---- the connection ----
  let ws = null, attempt = 0, openedAt = 0, retryAt = 0, retryTimer = 0, resyncTimer = 0;
  let pending = [], cycle = 0, lastResync = 0, soonTimer = 0, connText = '';

  function send(obj, req) {
    if (!ws || ws.readyState !== 1) return;
    ws.send(JSON.stringify(obj));
    if (req) pending.push(req);
  }

  function totalSlots() {
    let n = 0;
    for (const s of scheds.values()) n += Math.max(s.slots, s.cells.length);
    return n;
  }

  function resync(full) {
    if (!ws || ws.readyState !== 1 || pending.length > 24) return;
    lastResync = Date.now();
    send({ cmd: 'status' }, { kind: 'status' });
    const limit = Math.min(10000, Math.max(100, 2 * totalSlots() + 50));
    send({ cmd: 'jobs', state: 'running', limit }, { kind: 'jobs', state: 'running', full });
    if (full || ++cycle % WAIT_EVERY === 0) {
      for (const st of WAITING) {
        if (!unsupported.has(st)) send({ cmd: 'jobs', state: st, limit: WAIT_LIMIT }, { kind: 'jobs', state: st, full });
      }
    }
  }

  // Something is unknown (a scheduler, a job's priority): ask soon, at most once a second.
  function resyncSoon() {
    if (soonTimer || !ws || ws.readyState !== 1) return;
    const wait = Math.max(50, lastResync + 1000 - Date.now());
    soonTimer = setTimeout(() => { soonTimer = 0; cycle = WAIT_EVERY - 1; resync(false); }, wait);
  }

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
    if (Array.isArray(m.events)) {
      for (const ev of m.events) onJobEvent(ev, nowS);
    } else if (m.event === 'job') {
      onJobEvent(m, nowS);
    } else if (m.event === 'status') {
      takePending('status');
      applyStatus(m);
    } else if (m.event === 'jobs') {
      applyJobs(takePending('jobs') || { state: '', full: false }, m);
    } else if (typeof m.error === 'string') {
      const r = m.error === 'invalid_type' ? null : takePending(null);  // register has no answer
      if (r && r.kind === 'jobs' && m.error === 'invalid_filter') unsupported.add(r.state);
      else notice('The bus answered ' + m.error + ': ' + (m.message || ''));
    }
    const last = Array.isArray(m.events) ? m.events[m.events.length - 1] : m;
    if (last && typeof last.time === 'number') {
      const d = last.time - nowS;
      skew = skew === null || Math.abs(d - skew) > 2 ? d : skew + 0.05 * (d - skew);
    }
    invalidate();
  }

  function notice(text) {
    const n = $('notice');
    n.textContent = text;
    n.hidden = !text;
  }

  function connect() {
    retryTimer = 0;
    retryAt = 0;
    showConnection();
    let sock;
    try {
      sock = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/');
    } catch (e) {
      scheduleReconnect();
      return;
    }
    ws = sock;
    sock.onopen = () => {
      openedAt = Date.now();
      if (!startS) startS = openedAt / 1000;
      pending = [];
      cycle = 0;
      notice('');
      send({ cmd: 'register', type: 'observer' });
      resync(true);
      resyncTimer = setInterval(() => resync(false), RESYNC_MS);
      document.body.dataset.stale = 'false';
      showConnection();
    };
    sock.onmessage = onMessage;
    sock.onerror = () => {};
    sock.onclose = () => {
      if (ws !== sock) return;
      ws = null;
      clearInterval(resyncTimer);
      clearTimeout(soonTimer);
      soonTimer = 0;
      pending = [];
      if (openedAt && Date.now() - openedAt > 10000) attempt = 0;
      openedAt = 0;
      document.body.dataset.stale = 'true';
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    const delay = Math.min(15000, 500 * Math.pow(2, attempt++)) * (0.8 + 0.4 * Math.random());
    retryAt = Date.now() + delay;
    retryTimer = setTimeout(connect, delay);
    showConnection();
  }

  function showConnection() {
    const c = $('connection');
    const open = !!(ws && ws.readyState === 1);
    let text;
    if (open) text = 'Connected to ' + location.host;
    else if (retryAt) {
      const s = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
      text = 'Disconnected: reconnecting in ' + s + ' s (attempt ' + attempt + ')';
      setData(c, 'retry', String(s));
    } else text = 'Connecting…';
    if (open || !retryAt) setData(c, 'retry', null);
    setData(c, 'state', open ? 'open' : 'closed');
    if (text !== connText) { connText = text; c.textContent = text; }
  }

  // ---- rendering ----
  let renderPending = false, lastRender = 0, chartSec = 0;

  function invalidate() {
    if (renderPending) return;
    renderPending = true;
    const wait = lastRender + RENDER_MS - performance.now();
    if (wait > 0) setTimeout(() => requestAnimationFrame(frame), wait);
    else requestAnimationFrame(frame);
  }

  function frame() {
    renderPending = false;
    lastRender = performance.now();
    render();
  }

  const pad = (n, w) => String(n).padStart(w, '0');
  function dur(s) {
    if (s < 0) s = 0;
    if (s < 10) return s.toFixed(1) + 's';
    if (s < 60) return Math.floor(s) + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm' + pad(Math.floor(s % 60), 2) + 's';
    if (s < 86400) return Math.floor(s / 3600) + 'h' + pad(Math.floor(s % 3600 / 60), 2) + 'm';
    return Math.floor(s / 86400) + 'd' + pad(Math.floor(s % 86400 / 3600), 2) + 'h';
  }
  const rate = (v) => (v < 10 ? v.toFixed(1) : String(Math.round(v)));

  function render() {
    showConnection();
    if (dirtyBus) renderBus();
    if (dirtyQueue) renderQueue();
    renderSchedulers();
    if (dirtyLog) renderLog();
    renderRates();
    document.body.dataset.events = String(nEvents);
    document.body.dataset.updated = String(Date.now());
  }

  function renderBus() {
    dirtyBus = false;
    const h = $('held');
    setText(h, String(held));
    setData(h, 'count', String(held));
    if (!bus) return;
    setText($('hold-max'), typeof bus.hold_max === 'number' ? ' of ' + bus.hold_max : '');
    setText($('bus-version'), String(bus.version || '–'));
    setText($('bus-dispatch'), String(bus.dispatch || 'broadcast'));
    setText($('bus-submitted'), String(bus.submitted | 0));
    setText($('bus-forwarded'), String(bus.forwarded | 0));
    setText($('bus-dropped'), String(bus.dropped | 0));
    const p = $('producers-paused');
    setText(p, bus.producers_paused ? 'paused' : 'reading');
    setData(p, 'state', bus.producers_paused ? 'paused' : 'reading');
    const parts = [];
    if (states) for (const k of Object.keys(states)) if (states[k]) parts.push(k + ' ' + states[k]);
    setText($('states'), parts.length ? 'Jobs by state (per scheduler): ' + parts.join(' · ') : '');
  }

  function renderUptime() {
    if (!bus || typeof bus.uptime !== 'number') return;
    const up = bus.uptime + (ws ? (Date.now() - statusAt) / 1000 : 0);
    setText($('bus-uptime'), dur(Math.floor(up)));
  }

  function schedElement(s) {
    const sec = mk('section', 'scheduler');
    const h = mk('h3', 'sched-name', s.name === null ? '(legacy)' : s.name);
    h.id = 'sched-' + Math.random().toString(36).slice(2, 10);
    sec.setAttribute('aria-labelledby', h.id);
    sec.dataset.name = s.name === null ? '' : s.name;
    const meta = mk('p', 'sched-meta');
    s.peerEl = mk('span', 'peer');
    s.loadEl = mk('span', 'load');
    meta.append(s.peerEl, s.loadEl);
    s.grid = mk('div', 'slots');
    s.grid.setAttribute('role', 'list');
    s.grid.setAttribute('aria-label', 'Slots');
    s.cellEls = [];
    sec.append(h, meta, s.grid);
    s.el = sec;
    return sec;
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

  function renderCell(c, s, id, now) {
    const j = id === null ? null : jobs.get(id);
    const r = j && j.runs.get(s.key);
    const jid = j ? String(id) : '';
    const p = j && j.p !== null ? String(j.p) : '';
    setData(c, 'job', jid);
    setData(c, 'priority', p);
    setText(c.jobEl, j ? '#' + id : 'free');
    setText(c.prioEl, p ? 'P' + p : '');
    let t = '', frac = 0, left = null, ran = null;
    if (r && r.t0) {
      ran = Math.max(0, now - r.t0);
      if (typeof j.rt === 'number' && j.rt > 0) {
        left = j.rt - ran;
        t = left >= 0 ? dur(left) + ' left' : 'ran ' + dur(ran);
        frac = Math.min(1, ran / j.rt);
      } else t = 'ran ' + dur(ran);
    }
    setText(c.timeEl, t);
    setData(c, 'elapsed', ran === null ? null : ran.toFixed(1));
    setData(c, 'left', left === null ? null : Math.max(0, left).toFixed(1));
    const tf = 'scaleX(' + frac.toFixed(3) + ')';
    if (c._tf !== tf) { c._tf = tf; c.barEl.style.transform = tf; }
    const title = j ? 'Job ' + id + (p ? ', priority ' + p : '') + (typeof j.rt === 'number' ? ', runtime ' + dur(j.rt) : '') : 'Free slot';
    if (c._title !== title) { c._title = title; c.title = title; }
  }

  function renderSchedulers() {
    dirtySched = false;
    const box = $('schedulers');
    $('no-schedulers').hidden = scheds.size > 0;
    const now = busNow();
    let i = 1;  // after the "no scheduler" line
    for (const s of scheds.values()) {
      if (!s.el) schedElement(s);
      if (box.children[i] !== s.el) box.insertBefore(s.el, box.children[i] || null);
      i++;
      setData(s.el, 'reports', String(s.reports));
      setData(s.el, 'peer', s.peer);
      setText(s.peerEl, s.peer);
      if (!s.reports && s.name === null) {
        setData(s.el, 'slots', '');
        setText(s.loadEl, 'does not report: slots unknown');
        continue;
      }
      const n = Math.max(s.slots, s.cells.length);
      let running = 0;
      for (const id of s.cells) if (id !== null) running++;
      setData(s.el, 'slots', String(s.slots));
      setData(s.el, 'running', String(running));
      setData(s.el, 'queued', String(s.nWait));
      setText(s.loadEl, running + '/' + (s.slots || '?') + ' running · ' + s.nWait + ' queued');
      while (s.cellEls.length < n) {
        const c = cellElement(s.cellEls.length);
        s.cellEls.push(c);
        s.grid.append(c);
      }
      while (s.cellEls.length > n) s.cellEls.pop().remove();
      for (let k = 0; k < n; k++) {
        const id = k < s.cells.length ? s.cells[k] : null;
        renderCell(s.cellEls[k], s, id, now);
        setData(s.cellEls[k], 'over', k >= s.slots ? 'true' : null);
      }
    }
  }

  let queueRows = null;
  function renderQueue() {
    dirtyQueue = false;
    const q = $('queue');
    if (!queueRows) {
      queueRows = [];
      for (let p = 0; p <= 10; p++) {
        const li = mk('li', 'queue-row');
        li.dataset.priority = String(p);
        li.pEl = mk('span', 'q-prio', 'P' + p);
        li.nEl = mk('span', 'q-count', '0');
        li.idsEl = mk('span', 'q-ids');
        li.ids = [];
        for (let k = 0; k < QUEUE_IDS; k++) {
          const x = mk('span', 'q-job');
          x.hidden = true;
          li.ids.push(x);
          li.idsEl.append(x);
        }
        li.moreEl = mk('span', 'q-more');
        li.append(li.pEl, li.nEl, li.idsEl, li.moreEl);
        queueRows.push(li);
        q.append(li);
      }
    }
    // Per priority: how many, and the first few in queue order (a suspended job before the
    // others of its priority, then by arrival: ids grow with it).
    const counts = new Array(11).fill(0), firsts = [];
    for (let p = 0; p <= 10; p++) firsts.push([]);
    for (const s of scheds.values()) s.nWait = 0;
    let total = 0;
    const before = (a, b) => (a.s !== b.s ? a.s : a.id < b.id);
    for (const j of waiting.values()) {
      total++;
      let susp = false;
      for (const [name, r] of j.runs) {
        if (WAITING.indexOf(r.s) < 0) continue;
        if (r.s === 'suspended') susp = true;
        const s = scheds.get(name);
        if (s) s.nWait++;
      }
      if (j.p === null || j.p < 0 || j.p > 10) continue;
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
      for (let k = 0; k < QUEUE_IDS; k++) {
        const x = li.ids[k], e = firsts[p][k];
        if (e) {
          setData(x, 'job', String(e.id));
          setData(x, 'priority', String(p));
          setData(x, 'state', e.s ? 'suspended' : null);
          setText(x, '#' + e.id);
          x.hidden = false;
        } else if (!x.hidden) {
          setData(x, 'job', null);
          setData(x, 'priority', null);
          x.hidden = true;
        }
      }
      setText(li.moreEl, counts[p] > QUEUE_IDS ? '+' + (counts[p] - QUEUE_IDS) : '');
    }
    let cut = 0;
    for (const k of WAITING) cut += trunc[k] || 0;
    const shown = total + cut;
    setText($('queue-total'), (cut ? '≥ ' : '') + shown);
    setData($('queue-total'), 'count', String(shown));
    setData(q, 'total', String(shown));
    dirtySched = true;  // the per-scheduler queue lengths
  }

  let paused = false, alertsOnly = false, shownRing = null, shownCount = 0;
  function fmtTime(t) {
    const d = new Date(t * 1000);
    return pad(d.getHours(), 2) + ':' + pad(d.getMinutes(), 2) + ':' + pad(d.getSeconds(), 2) + '.' + pad(d.getMilliseconds(), 3);
  }

  function detail(ev) {
    const d = [];
    if (typeof ev.evicted_by === 'number') d.push('by #' + ev.evicted_by);
    if (typeof ev.exit_status === 'number') d.push('exit ' + ev.exit_status);
    if (typeof ev.signal === 'string') d.push('SIG' + ev.signal);
    if (typeof ev.runtime === 'number' && ev.state !== 'held') d.push('runtime ' + dur(ev.runtime));
    if (typeof ev.reason === 'string') d.push(ev.reason);
    if (ev.final) d.push('ended: ' + (ev.end || '?'));
    return d.join(', ');
  }

  function rowElement() {
    const li = mk('li', 'event');
    li.tEl = mk('span', 'ev-time');
    li.sEl = mk('span', 'ev-state');
    li.jEl = mk('span', 'ev-job');
    li.pEl = mk('span', 'ev-prio');
    li.nEl = mk('span', 'ev-sched');
    li.dEl = mk('span', 'ev-detail');
    li.append(li.tEl, li.sEl, li.jEl, li.pEl, li.nEl, li.dEl);
    return li;
  }

  function fillRow(li, e) {
    const ev = e.ev, p = e.p === null ? '' : String(e.p);
    setData(li, 'state', ev.state);
    setData(li, 'job', String(ev.id));
    setData(li, 'scheduler', typeof ev.scheduler === 'string' ? ev.scheduler : '');
    setData(li, 'final', ev.final ? 'true' : null);
    setData(li, 'time', typeof ev.time === 'number' ? String(ev.time) : null);
    setData(li.pEl, 'priority', p);
    setText(li.tEl, typeof ev.time === 'number' ? fmtTime(ev.time) : '');
    setText(li.sEl, ev.state);
    setText(li.jEl, '#' + ev.id);
    setText(li.pEl, p ? 'P' + p : '');
    setText(li.nEl, typeof ev.scheduler === 'string' ? ev.scheduler : '(bus)');
    setText(li.dEl, detail(ev));
  }

  function renderLog() {
    if (paused) return;
    dirtyLog = false;
    const list = $('events'), ring = alertsOnly ? logAlerts : logAll;
    if (ring !== shownRing) { shownRing = ring; shownCount = Math.max(0, ring.count - LOG_MAX); list.textContent = ''; }
    const k = Math.min(ring.count - shownCount, LOG_MAX);
    shownCount = ring.count;
    if (k <= 0) return;
    const reuse = Math.max(0, list.childElementCount + k - LOG_MAX), rows = [];
    for (let i = 0; i < reuse; i++) { const r = list.lastElementChild; r.remove(); rows.push(r); }
    const frag = document.createDocumentFragment();
    for (let i = ring.count - 1; i >= ring.count - k; i--) {
      const li = rows.length ? rows.pop() : rowElement();
      fillRow(li, ring.get(i));
      frag.append(li);
    }
    list.prepend(frag);
  }

  function renderRates() {
    renderUptime();
    const nowS = Date.now() / 1000, cur = Math.floor(nowS);
    roll(cur);
    if (startS) {
      const w = Math.ceil(Math.min(RATE_S, Math.max(1, nowS - startS)));
      let nj = 0, ne = 0;
      for (let s = cur - w + 1; s <= cur; s++) { nj += rJobs[s % RB]; ne += rEvict[s % RB]; }
      const span = Math.max(0.5, Math.min(w - 1 + (nowS - cur), nowS - startS));
      const jr = nj / span, er = ne / span;
      const a = $('jobs-per-second'), b = $('evictions-per-second');
      setText(a, rate(jr));
      setData(a, 'value', jr.toFixed(2));
      setText(b, rate(er));
      setData(b, 'value', er.toFixed(2));
    }
    if (cur !== chartSec) { chartSec = cur; drawChart(); }
  }

  function nice(v) {
    const e = Math.pow(10, Math.floor(Math.log10(v))), f = v / e;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * e;
  }

  function drawChart() {
    const cv = $('chart'), dpr = window.devicePixelRatio || 1;
    const w = cv.clientWidth, h = cv.clientHeight;
    if (!w || !h || !rSec) return;
    if (cv.width !== Math.round(w * dpr) || cv.height !== Math.round(h * dpr)) {
      cv.width = Math.round(w * dpr);
      cv.height = Math.round(h * dpr);
    }
    const g = cv.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, h);
    const cs = getComputedStyle(cv), col = (n) => cs.getPropertyValue(n).trim() || '#888';
    const first = rSec - CHART_S;  // the last CHART_S full seconds: first .. rSec - 1
    let max = 1;
    for (let s = first; s < rSec; s++) max = Math.max(max, rJobs[s % RB], rEvict[s % RB]);
    max = nice(max);
    const L = 34, T = 6, B = 16, pw = w - L - 4, ph = h - T - B;
    g.font = '11px system-ui, sans-serif';
    g.fillStyle = col('--c-text');
    g.strokeStyle = col('--c-grid');
    g.lineWidth = 1;
    g.textAlign = 'right';
    g.textBaseline = 'middle';
    for (const f of [0, 0.5, 1]) {
      const y = Math.round(T + ph * (1 - f)) + 0.5;
      g.beginPath(); g.moveTo(L, y); g.lineTo(L + pw, y); g.stroke();
      g.fillText(String(+(max * f).toFixed(1)), L - 4, y);
    }
    g.textBaseline = 'alphabetic';
    g.textAlign = 'left';
    g.fillText('−' + CHART_S / 60 + ' min', L, h - 3);
    g.textAlign = 'right';
    g.fillText('now', L + pw, h - 3);
    const line = (arr, c) => {
      g.strokeStyle = c;
      g.lineWidth = 1.5;
      g.beginPath();
      for (let s = first; s < rSec; s++) {
        const x = L + pw * (s - first) / (CHART_S - 1), y = T + ph * (1 - arr[s % RB] / max);
        if (s === first) g.moveTo(x, y); else g.lineTo(x, y);
      }
      g.stroke();
    };
    line(rJobs, col('--c-jobs'));
    line(rEvict, col('--c-evict'));
  }

  // ---- controls ----
  function init() {
    const pause = $('pause'), only = $('alerts-only');
    pause.addEventListener('click', () => {
      paused = !paused;
      pause.setAttribute('aria-pressed', String(paused));
      pause.textContent = paused ? 'Resume' : 'Pause';
      dirtyLog = true;
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
    invalidate();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
