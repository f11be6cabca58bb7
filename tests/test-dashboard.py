#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The bus's page, /metrics and the Origin rule end to end (issue 15), on the real binaries over
loopback and headless Chromium driven by Selenium:

  page     --dispatch=one, schedulers alpha (3 slots, --evict kill) and bravo (5 slots, --evict
           suspend), sched-producer's jobs of random priority, then jobs placed one by one: every
           slot taken, two jobs suspended on bravo, five held by the bus, two killed on alpha by
           more urgent ones. The page, opened before it all began, shows what `sched-ctl status` and
           `sched-ctl jobs` answer at the same moment (both asked before and after the page is read,
           and equal): each scheduler's slots and the job and priority in each, the waiting jobs by
           priority, the held count, the bus's counters, the jobs by state; and the evictions and
           suspensions in its event log, with who evicted whom. A reload shows the same from the
           bus's listings alone. No console error, no request to any origin but the bus's own, and
           /metrics (promtool check metrics) has the same gauges. The screenshot is kept in the
           working directory (test-dashboard.png) and, when SCHED_SCREENSHOT=PATH is set, at PATH.
  origin   pages of other origins cannot open a WebSocket to the bus: a file:// page, a page of
           another loopback port (python's http.server), the bus's own page reached through a name
           that resolves to 127.0.0.1 (DNS rebinding): no onopen, an onerror and a close 1006, and
           the bus logs "Refused a WebSocket" with each origin. The same probe page is let in by
           --allow-origin, and the bus's own page by http://localhost:PORT too.
  metrics  --dispatch=broadcast, alpha (3 slots, kill) and bravo (5 slots, suspend), 500 jobs of
           random priority from sched-producer: /metrics passes promtool check metrics, and equals
           `sched-ctl status` (counters, clients, held, slots, running, waiting, jobs by state summed
           over schedulers) and `sched-ctl jobs` (runs per scheduler and state, the wait and run
           histograms' counts and sums); /healthz, a 404, a 405 and the page's CSP header.

  test-dashboard.py SCHED-BUS SCHED-SCHEDULER SCHED-PRODUCER SCHED-CTL [CASE...]

Exits 77 (skipped) only when python3-selenium cannot be imported; a missing chromium,
chromedriver or promtool fails (scripts/deps.sh installs them all).
"""
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
except ImportError as e:
    print(f"SKIP: python3-selenium is not importable ({e}); scripts/deps.sh installs it")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# BUS, SCHED, PRODUCER (argv[1:4]), DIR, PROCS, TAG and the helpers.
from live import *  # noqa: E402,F403

CTL = sys.argv[4]
CASES = sys.argv[5:] or ["page", "origin", "metrics"]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PROMTOOL = "/usr/bin/promtool"
WAITING = ("queued", "requeued", "suspended")
TERMINAL = ("done", "failed", "timeout", "evicted", "dropped", "interrupted", "cancelled")
SCREENSHOT = os.path.join(os.getcwd(), "test-dashboard.png")
DRIVERS = []


def need(path, package):
    if not os.access(path, os.X_OK):
        fail(f"{path} is missing: install {package} (scripts/deps.sh test does)")


def ctl(bus, *args):
    """`sched-ctl --json ARGS` against `bus`: its one answer."""
    r = subprocess.run([CTL, "-b", bus.url, "--json", "--no-pager", "--timeout", "10", *args],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        fail(f"sched-ctl {' '.join(args)} exited {r.returncode}: {r.stderr.strip()}")
    return json.loads(r.stdout.splitlines()[0])


def submit(bus, priority, runtime):
    r = subprocess.run([CTL, "-b", bus.url, "-q", "submit", "-p", str(priority), "-r", str(runtime)],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        fail(f"sched-ctl submit exited {r.returncode}: {r.stderr.strip()}")
    return int(r.stdout.split()[0])


def http_get(url, method="GET"):
    """(status, headers, body) of one plain request."""
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as f:
            return f.status, f.headers, f.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def promtool(text, what):
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(),
          f"{what}: promtool check metrics finds nothing to say{r.stdout}{r.stderr}")


def parse_metrics(text):
    """{(name, frozenset(labels)): value} of the text format's samples."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, value = line.rsplit(" ", 1)
        labels = {}
        if "{" in key:
            key, rest = key.split("{", 1)
            for part in rest.rstrip("}").split(","):
                k, v = part.split("=", 1)
                labels[k] = v.strip('"')
        out[(key, frozenset(labels.items()))] = float(value)
    return out


def metric(m, name, **labels):
    return m.get((name, frozenset(labels.items())))


def browser(*extra):
    """Headless Chromium with the console and the network logged, its viewport 1280x960."""
    o = webdriver.ChromeOptions()
    o.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-', dir=DIR)}", "--window-size=1280,800",
              "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-proxy-server", "--lang=en-US", *extra):
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    d = webdriver.Chrome(service=Service(CHROMEDRIVER, log_path=os.path.join(DIR, "chromedriver.out")), options=o)
    DRIVERS.append(d)
    d.set_page_load_timeout(20)
    d.set_script_timeout(20)
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                      {"width": 1280, "height": 960, "deviceScaleFactor": 1, "mobile": False})
    # What the browser loaded for itself before (its new tab page) is not the page's doing.
    d.get("about:blank")
    d.get_log("browser")
    d.get_log("performance")
    return d


def screenshot(d, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if not d.save_screenshot(path):
        fail(f"could not save the screenshot to {path}")
    print(f"     screenshot: {path}")


def fail_with_page(d, msg):
    screenshot(d, os.path.join(os.getcwd(), "test-dashboard-failed.png"))
    fail(msg)


# What the page shows, read in one go (the page's scripts do not run meanwhile): the DOM contract
# of daemons/bus/web (ids, classes, data- attributes).
READ_PAGE = """
const $ = (id) => document.getElementById(id), all = (el, sel) => Array.from(el.querySelectorAll(sel));
const text = (id) => $(id).textContent.trim();
return {
  now: Date.now() / 1000,
  stale: document.body.dataset.stale,
  connection: $('connection').dataset.state,
  notice: $('notice').hidden ? '' : $('notice').textContent,
  bus: {version: text('bus-version'), dispatch: text('bus-dispatch'), submitted: text('bus-submitted'),
        forwarded: text('bus-forwarded'), dropped: text('bus-dropped'),
        producers: $('producers-paused').dataset.state},
  held: $('held').dataset.count,
  states: $('states').textContent.trim(),
  schedulers: all(document, '#schedulers .scheduler').map((s) => ({
    name: s.dataset.name, slots: s.dataset.slots, running: s.dataset.running, queued: s.dataset.queued,
    cells: all(s, '.slot').map((c) => ({job: c.dataset.job, priority: c.dataset.priority,
                                         elapsed: c.dataset.elapsed, over: c.dataset.over || ''}))})),
  queueTotal: $('queue-total').dataset.count,
  queueUnlisted: $('queue-total').dataset.unlisted || '',
  queue: all(document, '#queue .queue-row').map((r) => ({
    priority: r.dataset.priority, count: r.dataset.count,
    jobs: all(r, '.q-job').filter((x) => !x.hidden).map((x) => [x.dataset.job, x.dataset.state || ''])})),
  events: all(document, '#events .event').map((li) => ({
    state: li.dataset.state, job: li.dataset.job, scheduler: li.dataset.scheduler,
    priority: li.querySelector('.ev-prio').dataset.priority || '',
    detail: li.querySelector('.ev-detail').textContent})),
};
"""


def bus_now(bus):
    """`sched-ctl status` and `jobs` as one snapshot."""
    return ctl(bus, "status"), ctl(bus, "jobs", "-n", "10000")


def same(a, b):
    def norm(s):
        st = json.loads(json.dumps(s[0]))
        st["bus"].pop("uptime", None)
        return json.dumps([st, s[1]], sort_keys=True)
    return norm(a) == norm(b)


def page_diffs(st, jb, p):
    """What the page `p` shows differently from the bus's answers."""
    diffs = []

    def eq(what, shown, want):
        if shown != want:
            diffs.append(f"{what}: the page shows {shown!r}, the bus says {want!r}")

    b = st["bus"]
    eq("connection", p["connection"], "open")
    eq("body data-stale", p["stale"], "false")
    eq("notice", p["notice"], "")
    for k in ("version", "dispatch"):
        eq(f"bus {k}", p["bus"][k], str(b[k]))
    for k in ("submitted", "forwarded", "dropped"):
        eq(f"bus {k}", p["bus"][k], str(b[k]))
    eq("producers", p["bus"]["producers"], "paused" if b["producers_paused"] else "reading")
    eq("held", p["held"], str(b["held"]))
    states = [f"{k} {v}" for k, v in st["states"].items() if v]
    eq("jobs by state", p["states"], "Jobs by state (per scheduler): " + " · ".join(states) if states else "")

    prio = {j["id"]: j["priority"] for j in jb["jobs"]}
    running = {s["name"]: {} for s in st["schedulers"]}
    waiting_on = {s["name"]: 0 for s in st["schedulers"]}
    queue = {}  # id -> suspended somewhere
    for j in jb["jobs"]:
        for r in j["schedulers"]:
            if r["state"] == "running":
                running[r["name"]][j["id"]] = r.get("started")
            elif r["state"] in WAITING:
                waiting_on[r["name"]] += 1
                queue[j["id"]] = queue.get(j["id"], False) or r["state"] == "suspended"
    shown = {s["name"]: s for s in p["schedulers"]}
    eq("schedulers", sorted(shown), sorted(running))
    for s in st["schedulers"]:
        name, ps = s["name"], shown.get(s["name"])
        if not ps:
            continue
        eq(f"{name} slots", ps["slots"], str(s["slots"]))
        eq(f"{name} running", ps["running"], str(s["running"]))
        eq(f"{name} running (jobs listing)", ps["running"], str(len(running[name])))
        eq(f"{name} waiting (queued, suspended, requeued)", ps["queued"], str(waiting_on[name]))
        eq(f"{name} slot cells", len(ps["cells"]), s["slots"])
        eq(f"{name} jobs in the slots", sorted(int(c["job"]) for c in ps["cells"] if c["job"]), sorted(running[name]))
        for c in ps["cells"]:
            eq(f"{name} cell data-over", c["over"], "")
            if not c["job"] or int(c["job"]) not in prio:
                eq(f"{name} free cell priority", c["priority"], "")
                continue
            job = int(c["job"])
            eq(f"{name} job {job} priority", c["priority"], str(prio[job]))
            started = running[name].get(job)
            if started and c["elapsed"] is not None and abs(float(c["elapsed"]) - (p["now"] - started)) > 1.5:
                diffs.append(f"{name} job {job} ran {c['elapsed']} s on the page, "
                             f"{p['now'] - started:.1f} s on the bus")
    eq("queue total", p["queueTotal"], str(len(queue)))
    eq("queue unlisted", p["queueUnlisted"], "")
    rows = {r["priority"]: r for r in p["queue"]}
    eq("queue rows", sorted(rows, key=int), [str(i) for i in range(11)])
    for pr in range(11):
        r = rows.get(str(pr))
        if not r:
            continue
        ids = sorted((i for i in queue if prio[i] == pr), key=lambda i: (not queue[i], i))
        eq(f"queue P{pr} count", r["count"], str(len(ids)))
        eq(f"queue P{pr} jobs shown", r["jobs"], [[str(i), "suspended" if queue[i] else ""] for i in ids[:5]])
    return diffs


def page_matches(d, bus, seconds=15):
    """Waits until the page shows what the bus says, both asked before and after; returns them."""
    deadline = time.monotonic() + seconds
    diffs = ["never a stable moment"]
    while time.monotonic() < deadline:
        before = bus_now(bus)
        p = d.execute_script(READ_PAGE)
        after = bus_now(bus)
        if same(before, after):
            diffs = page_diffs(*before, p)
            if not diffs:
                return before, p
        time.sleep(0.2)
    fail_with_page(d, "the page does not show what the bus says:\n  " + "\n  ".join(diffs))


def jobs_of(bus):
    return {j["id"]: j for j in bus.ask({"cmd": "jobs", "limit": 10000})["jobs"]}


def run_state(job, name):
    return next((r["state"] for r in job["schedulers"] if r["name"] == name), None)


def console_and_network(d, port, where):
    """No console error, and every request the page made went to the bus's own origin."""
    entries = d.get_log("browser")
    for e in entries:
        print(f"     console {e['level']}: {e['message']}")
    check(not [e for e in entries if e["level"] == "SEVERE"], f"{where}: no console error")
    own = {f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"}
    urls, sockets = [], []
    for e in d.get_log("performance"):
        m = json.loads(e["message"])["message"]
        if m["method"] == "Network.requestWillBeSent":
            urls.append(m["params"]["request"]["url"])
        elif m["method"] == "Network.webSocketCreated":
            sockets.append(m["params"]["url"])
    urls += d.execute_script("return performance.getEntriesByType('resource').map((e) => e.name)")
    foreign = [u for u in urls + sockets
               if not u.startswith("data:") and f"{urlsplit(u).scheme}://{urlsplit(u).netloc}" not in own]
    check(urls and not foreign, f"{where}: {len(urls)} requests, none to another origin {foreign}")
    check(sockets and set(sockets) == {f"ws://127.0.0.1:{port}/"},
          f"{where}: its WebSockets went to the bus's own ws://127.0.0.1:{port}/ ({len(sockets)})")


def port_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def case_page():
    need(CHROMIUM, "chromium")
    need(CHROMEDRIVER, "chromium-driver")
    need(PROMTOOL, "prometheus")
    # The picture for the README says 127.0.0.1:8101, the address it tells to open, when it can.
    port = 8101 if os.environ.get("SCHED_SCREENSHOT") and port_free(8101) else None
    bus = Bus("page-bus", "--dispatch", "one", port=port)
    alpha = scheduler(bus, "alpha", 3, "-t", "0")
    d = browser()
    d.get(f"http://127.0.0.1:{bus.port}/")
    wait_for(10, "the page connected", lambda: d.execute_script(
        "return document.getElementById('connection').dataset.state") == "open")

    # Some history: short jobs of random priority, on alpha alone.
    with open(os.path.join(DIR, "page-producer.log"), "a") as log:
        rc = subprocess.run([PRODUCER, "--bus", bus.url, "-n", "30", "-p", "0.05", "--runtime", "0.3",
                             "--seed", "15", "-w"], stdout=log, stderr=log, timeout=60).returncode
    check(rc in (0, 3), f"sched-producer's 30 jobs ended (exit {rc}: 3 when some were evicted)")

    # Then jobs that stay: each placed by the bus's rule (the most free slots; else where it evicts
    # the least urgent running job; else held), checked as it goes.
    def place(priority, runtime, where, state):
        job = submit(bus, priority, runtime)
        if where is None:
            wait_for(10, f"job {job} (P{priority}) held", lambda: jobs_of(bus)[job]["state"] == "held")
        else:
            wait_for(10, f"job {job} (P{priority}) {state} on {where}",
                     lambda: run_state(jobs_of(bus)[job], where) == state)
        return job

    plan_alpha = [place(p, rt, "alpha", "running") for p, rt in ((5, 240), (6, 180), (7, 150))]
    bravo = scheduler(bus, "bravo", 5, "-t", "0", "--evict", "suspend")
    plan_bravo = [place(p, rt, "bravo", "running") for p, rt in ((3, 300), (4, 210), (5, 270), (8, 120), (9, 90))]
    place(1, 200, "bravo", "running")
    place(2, 160, "bravo", "running")
    wait_for(10, "bravo's P9 and P8 jobs suspended", lambda: [run_state(jobs_of(bus)[j], "bravo")
                                                              for j in plan_bravo[3:]] == ["suspended"] * 2)
    held = [place(p, 60, None, "held") for p in (7, 8, 9, 10, 10)]
    p0 = place(0, 45, "alpha", "running")
    p4 = place(4, 100, "alpha", "running")
    killed = plan_alpha[2:0:-1]  # the P7 job, then the P6 one
    wait_for(10, "alpha's P7 and P6 jobs evicted",
             lambda: [jobs_of(bus)[j]["state"] for j in killed] == ["evicted"] * 2)

    (st, jb), p = page_matches(d, bus)
    check(True, "the live page shows what sched-ctl status and jobs say: slots, queue, held, counters")
    by_id = {j["id"]: j for j in jb["jobs"]}
    check(st["bus"]["held"] == len(held) and [by_id[j]["state"] for j in held] == ["held"] * len(held),
          f"the bus holds the {len(held)} jobs that would evict nothing")
    for job, by in zip(killed, (p0, p4)):
        run = next(r for r in by_id[job]["schedulers"] if r["name"] == "alpha")
        check(run.get("evicted_by") == by, f"sched-ctl jobs: job {job} evicted on alpha by job {by}")
        rows = [e for e in p["events"] if e["job"] == str(job) and e["state"] == "evicted"]
        check(len(rows) == 1 and rows[0]["scheduler"] == "alpha" and f"by #{by}" in rows[0]["detail"]
              and rows[0]["priority"] == str(by_id[job]["priority"]),
              f"the event log shows job {job} (P{by_id[job]['priority']}) evicted on alpha by #{by}")
    for job in plan_bravo[3:]:
        rows = [e for e in p["events"] if e["job"] == str(job) and e["state"] == "suspended"]
        check(len(rows) == 1 and rows[0]["scheduler"] == "bravo", f"and job {job} suspended on bravo")
    rows = {job: [(e["state"], e["scheduler"]) for e in p["events"] if e["job"] == str(job)] for job in held}
    check(all(r == [("held", "")] for r in rows.values()),
          f"and the {len(held)} jobs held by the bus, one row each, with no scheduler")

    # Only the alerts: the two evictions among them, nothing but evictions and timeouts.
    read_events = lambda: d.execute_script(READ_PAGE)["events"]  # noqa: E731
    d.find_element("id", "alerts-only").click()
    wait_for(5, "only evictions and timeouts listed", lambda: all(e["state"] in ("evicted", "timeout")
                                                                  for e in read_events()))
    alerts = read_events()
    check(alerts and {str(j) for j in killed} <= {e["job"] for e in alerts if e["state"] == "evicted"},
          f"'Evictions and timeouts only' shows {len(alerts)} rows, the two evictions among them")
    d.find_element("id", "alerts-only").click()
    wait_for(5, "every event listed again", lambda: len(read_events()) > len(alerts))

    # The same moment in /metrics.
    before = bus_now(bus)
    status, headers, text = http_get(f"http://127.0.0.1:{bus.port}/metrics")
    after = bus_now(bus)
    check(status == 200 and same(before, after), "/metrics read at a stable moment")
    promtool(text, "/metrics with held, suspended and evicted jobs")
    m, st = parse_metrics(text), before[0]
    waiting_on = {s["name"]: 0 for s in st["schedulers"]}
    for j in before[1]["jobs"]:
        for r in j["schedulers"]:
            if r["state"] in WAITING:
                waiting_on[r["name"]] += 1
    for s in st["schedulers"]:
        check((metric(m, "sched_scheduler_slots", scheduler=s["name"]),
               metric(m, "sched_scheduler_running", scheduler=s["name"]),
               metric(m, "sched_scheduler_waiting", scheduler=s["name"]))
              == (s["slots"], s["running"], waiting_on[s["name"]]),
              f"/metrics: {s['name']} has {s['slots']} slots, {s['running']} running, {waiting_on[s['name']]} waiting")
    check(metric(m, "sched_bus_held_jobs") == st["bus"]["held"] and
          metric(m, "sched_bus_jobs_submitted_total") == st["bus"]["submitted"] and
          metric(m, "sched_bus_clients", role="observer") == st["bus"]["observers"] == 1,
          "/metrics: held, submitted and one observer (the page), as sched-ctl status says")

    screenshot(d, SCREENSHOT)
    if os.environ.get("SCHED_SCREENSHOT"):
        screenshot(d, os.environ["SCHED_SCREENSHOT"])

    # A new page: the same from the bus's listings alone.
    d.refresh()
    wait_for(10, "the reloaded page connected", lambda: d.execute_script(
        "return document.getElementById('connection').dataset.state") == "open")
    page_matches(d, bus)
    check(True, "the reloaded page shows the same from the bus's status and listings")
    console_and_network(d, bus.port, "the page, loaded twice")
    d.quit()
    DRIVERS.remove(d)
    stop(alpha)
    stop(bravo)
    stop(bus.proc)


PROBE = """<!DOCTYPE html>
<meta charset="utf-8"><title>origin probe</title>
<script>
const r = {opened: false, error: false, code: null, answer: null};
window.probe = r;
const ws = new WebSocket('ws://' + new URLSearchParams(location.search).get('bus') + '/');
ws.onopen = () => { r.opened = true; ws.send('{"cmd": "status"}'); };
ws.onmessage = (m) => { r.answer = String(m.data).slice(0, 40); ws.close(); };
ws.onerror = () => { r.error = true; };
ws.onclose = (e) => { r.code = e.code; };
</script>
"""


def case_origin():
    need(CHROMIUM, "chromium")
    need(CHROMEDRIVER, "chromium-driver")
    bus = Bus("origin-bus")
    web = os.path.join(DIR, "web")
    os.mkdir(web)
    with open(os.path.join(web, "probe.html"), "w") as f:
        f.write(PROBE)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=web, **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    other = server.server_address[1]
    allowing = Bus("allowing-bus", "--allow-origin", f"http://127.0.0.1:{other}")
    d = browser("--host-resolver-rules=MAP rebind.test 127.0.0.1")

    def probe(url):
        d.get(url)
        wait_for(10, f"{url}: the probe's WebSocket closed",
                 lambda: d.execute_script("return window.probe && window.probe.code !== null"))
        return d.execute_script("return window.probe")

    target = f"bus=127.0.0.1:{bus.port}"
    for url, origin in ((f"file://{web}/probe.html?{target}", None),
                        (f"http://127.0.0.1:{other}/probe.html?{target}", f"http://127.0.0.1:{other}"),
                        (f"http://localhost:{other}/probe.html?{target}", f"http://localhost:{other}")):
        r = probe(url)
        check(not r["opened"] and r["error"] and r["code"] == 1006 and r["answer"] is None,
              f"{url.split('?')[0]}: no onopen, an onerror, close {r['code']}")
        if origin is None:  # what a browser calls a file page's origin: "null" or "file://"
            line = next((ln for ln in read_log("origin-bus").splitlines() if "Refused a WebSocket" in ln), "")
            origin = line.partition('origin "')[2].partition('" is neither')[0]
            check(origin in ("null", "file://"), f"the bus logs the file page's origin as {origin!r}")
        wait_for(5, f"the bus logs the refusal of {origin}",
                 lambda: "Refused a WebSocket from 127.0.0.1:" in read_log("origin-bus")
                 and f"its page's origin \"{origin}\" is neither" in read_log("origin-bus"))
        check(True, f"the bus logs 'Refused a WebSocket' for {origin}")

    # The bus's own page through a name that resolves to 127.0.0.1: its files, but no WebSocket.
    d.get(f"http://rebind.test:{bus.port}/")
    wait_for(10, "the rebound page tried twice", lambda: read_log("origin-bus").count(
        f'origin "http://rebind.test:{bus.port}" is neither') >= 2)
    state = d.execute_script("return document.getElementById('connection').dataset.state")
    check(state == "closed", f"http://rebind.test:{bus.port}/ (DNS rebinding): refused, the page says {state}")

    # Controls: the same probe let in by --allow-origin, the bus's page reached as localhost.
    r = probe(f"http://127.0.0.1:{other}/probe.html?bus=127.0.0.1:{allowing.port}")
    check(r["opened"] and (r["answer"] or "").startswith('{"event":"status"'),
          f"the probe page opens a WebSocket where --allow-origin lets it in ({r['answer']!r})")
    check("Refused" not in read_log("allowing-bus"), "and that bus refused nothing")
    d.get(f"http://localhost:{bus.port}/")
    wait_for(10, "the bus's own page, as localhost, connected", lambda: d.execute_script(
        "return document.getElementById('connection').dataset.state") == "open")
    check(True, f"http://localhost:{bus.port}/ is the bus's own page: connected")
    d.quit()
    DRIVERS.remove(d)
    server.shutdown()
    server.server_close()
    stop(allowing.proc)
    stop(bus.proc)


def case_metrics():
    need(PROMTOOL, "prometheus")
    bus = Bus("metrics-bus")
    alpha = scheduler(bus, "alpha", 3)
    bravo = scheduler(bus, "bravo", 5, "--evict", "suspend")
    start = time.monotonic()
    with open(os.path.join(DIR, "metrics-producer.log"), "a") as log:
        rc = subprocess.run([PRODUCER, "--bus", bus.url, "-n", "500", "-p", "0.002", "--runtime", "0.02",
                             "--seed", "21", "-w"], stdout=log, stderr=log, timeout=120).returncode
    check(rc in (0, 3), f"500 jobs on both schedulers ended in {time.monotonic() - start:.1f} s (producer exit {rc})")

    before = bus_now(bus)
    status, headers, text = http_get(f"http://127.0.0.1:{bus.port}/metrics")
    after = bus_now(bus)
    check(status == 200 and headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8",
          "/metrics: 200, text/plain; version=0.0.4")
    check(same(before, after), "read while nothing changed (status and jobs equal before and after)")
    promtool(text, "/metrics after 500 jobs")
    m = parse_metrics(text)
    st, jb = before
    b = st["bus"]
    check(b["submitted"] == 500 and len(jb["jobs"]) == 500, "sched-ctl: 500 submitted, 500 listed")
    for name, key in (("sched_bus_jobs_submitted_total", "submitted"),
                      ("sched_bus_jobs_forwarded_total", "forwarded"),
                      ("sched_bus_jobs_dropped_total", "dropped"),
                      ("sched_bus_jobs_redispatched_total", "redispatched"),
                      ("sched_bus_producer_pauses_total", "pauses"), ("sched_bus_held_jobs", "held")):
        check(metric(m, name) == b[key], f"{name} {metric(m, name):g} == status {key} {b[key]}")
    check(metric(m, "sched_bus_producers_paused") == int(b["producers_paused"]), "sched_bus_producers_paused")
    for role in ("producer", "scheduler", "observer"):
        check(metric(m, "sched_bus_clients", role=role) == b[role + "s"], f"sched_bus_clients{{role={role}}} == status")
    for s in st["schedulers"]:
        n = s["name"]
        check((metric(m, "sched_scheduler_slots", scheduler=n), metric(m, "sched_scheduler_running", scheduler=n),
               metric(m, "sched_scheduler_waiting", scheduler=n)) == (s["slots"], s["running"], s["queued"]) == (
              {"alpha": 3, "bravo": 5}[n], 0, 0), f"{n}: slots {s['slots']}, nothing running or waiting")

    runs = {}  # scheduler -> [run, with the job's submit time]
    for j in jb["jobs"]:
        for r in j["schedulers"]:
            runs.setdefault(r["name"], []).append(dict(r, submitted=j["submitted"]))
    states = dict(st["states"])
    check(all(states.get(s, 0) == 0 for s in ("queued", "running", "suspended", "requeued", "sent")),
          "every run ended")
    for state in TERMINAL:
        total = sum(v for (name, labels), v in m.items()
                    if name == "sched_jobs_total" and ("state", state) in labels)
        check(total == states[state], f"sum of sched_jobs_total{{state={state}}} {total:g} == status {states[state]}")
        for n, rs in runs.items():
            got = metric(m, "sched_jobs_total", scheduler=n, state=state)
            want = sum(r["state"] == state for r in rs)
            if got != want:
                fail(f"sched_jobs_total{{scheduler={n},state={state}}} is {got}, sched-ctl jobs lists {want}")
    check(states["done"] > 0 and states["evicted"] > 0, f"some runs done ({states['done']}), some evicted "
          f"({states['evicted']}): every per-scheduler count matches sched-ctl jobs")
    for n, rs in runs.items():
        started = [r for r in rs if r.get("started")]
        ended = [r for r in started if r.get("ended")]
        wait_n, run_n = (metric(m, f"sched_job_{k}_seconds_count", scheduler=n) for k in ("wait", "run"))
        check(wait_n == len(started) and run_n == len(ended) and
              metric(m, "sched_job_wait_seconds_bucket", scheduler=n, le="+Inf") == wait_n and
              metric(m, "sched_job_run_seconds_bucket", scheduler=n, le="+Inf") == run_n,
              f"{n}: {len(started)} waits and {len(ended)} runs in the histograms, as sched-ctl jobs lists")
        # Listed times are in ms. A run's start is its last one (requeued jobs start over), its
        # wait the first: the wait sum is compared where nothing was requeued.
        run_sum = sum(r["ended"] - r["started"] for r in ended)
        check(abs(metric(m, "sched_job_run_seconds_sum", scheduler=n) - run_sum) <= 0.0011 * len(ended),
              f"{n}: sched_job_run_seconds_sum {metric(m, 'sched_job_run_seconds_sum', scheduler=n):.3f} "
              f"== the listed runs' {run_sum:.3f}")
        if metric(m, "sched_jobs_total", scheduler=n, state="requeued") == 0:
            wait_sum = sum(r["started"] - r["submitted"] for r in started)
            check(abs(metric(m, "sched_job_wait_seconds_sum", scheduler=n) - wait_sum) <= 0.0011 * len(started),
                  f"{n}: sched_job_wait_seconds_sum {metric(m, 'sched_job_wait_seconds_sum', scheduler=n):.3f} "
                  f"== the listed waits' {wait_sum:.3f}")
        for k in ("wait", "run"):
            buckets = sorted(((float(dict(labels)["le"]), v) for (name, labels), v in m.items()
                              if name == f"sched_job_{k}_seconds_bucket" and ("scheduler", n) in labels))
            if any(a[1] > b[1] for a, b in zip(buckets, buckets[1:])):
                fail(f"sched_job_{k}_seconds_bucket{{scheduler={n}}} is not cumulative: {buckets}")

    # The rest of the HTTP side.
    base = f"http://127.0.0.1:{bus.port}"
    check(http_get(base + "/healthz")[::2] == (200, "ok\n"), "/healthz: 200 ok")
    check(http_get(base + "/nothing")[0] == 404, "/nothing: 404")
    check(http_get(base + "/metrics", "DELETE")[0] == 405, "DELETE /metrics: 405")
    status, headers, body = http_get(base + "/")
    csp = headers.get("Content-Security-Policy", "")
    check(status == 200 and "default-src 'none'" in csp and "connect-src 'self'" in csp and "<html" in body,
          "/: the page, with its Content-Security-Policy")
    stop(alpha)
    stop(bravo)
    stop(bus.proc)


try:
    for case in CASES:
        print(f"== {case}")
        t0 = time.monotonic()
        globals()["case_" + case]()
        print(f"   ({time.monotonic() - t0:.1f} s)")
    print("PASS")
finally:
    for d in DRIVERS:
        try:
            d.quit()
        except Exception:  # noqa: BLE001: the browser may be gone already
            pass
    for p in PROCS:
        p.kill()
        p.wait()
    shutil.rmtree(DIR, ignore_errors=True)
