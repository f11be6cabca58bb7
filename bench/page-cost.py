#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""What the dashboard page costs sched-bus (issue 15), with the page open in headless Chromium.

    bench/page-cost.py [--window 20] [--pairs 3] [--idle-seconds 60] [--period 0.0018] ...

Starts, on a free loopback port, sched-bus, one sched-scheduler (-s 64 --cgroup off, jobs
`--exec /bin/true`) and, for the load part, sched-producer (-p PERIOD --runtime 0: about 500 jobs/s,
each of which the scheduler reports as running and done, so about 1,000 events/s). Then:

  load   --pairs pairs of windows of --window seconds, in the order A B, B A, A B, ...: A with no
         page (the browser on about:blank), B with http://127.0.0.1:PORT/ open, each --settle
         seconds after the navigation. Per window: the bus's CPU in % of one core
         (se.sum_exec_runtime of /proc/PID/task/*/sched, exact; utime+stime of /proc/PID/stat, in
         ticks, beside it), its wakeups/s, jobs/s (sched_bus_jobs_submitted_total), events/s the
         bus handled (sched_jobs_total, all states) and events/s the page took in (its own count,
         data-events), frames/s the bus sent to the page and the page sent to the bus, the CPU of
         the scheduler, the producer, Chromium's renderers and all of Chromium, and the load
         average at the window's start. B - A of each pair is what the page costs the bus; the
         summary gives their median and mean B - mean A, and the verdict against 5 % of a core.
  idle   the producer stopped and every job ended; windows of --idle-seconds, no page then page
         (--idle-runs times), each --idle-settle seconds after the navigation: the bus's wakeups
         (voluntary context switches, all threads), the seconds of the window in which they came
         ("12x2": two in second 12), its CPU, and the frames the page sent, by command. The bus
         pings each client every 30 s and the scheduler pings the bus every 30 s: that is all an
         idle bus should wake for.
  strace one more idle window per case (--strace-seconds, 0 = none) under `strace -c -f`: the
         system calls the bus made (ptrace adds wakeups of its own, so wakeups are counted in the
         plain windows only).

The page's frames are counted by a script added to every document through the DevTools protocol
(Page.addScriptToEvaluateOnNewDocument) before the page's own: it wraps WebSocket.prototype.send
and adds a 'message' listener to each WebSocket, and changes nothing the page does. Nothing touches
the bus during a window: /metrics is read before and after, /proc meanwhile.

Every figure is printed with the UTC time of its window and the load average at its start; the
machine is shared, so compare A and B of the same run only. Needs python3-selenium, chromium and
chromedriver (Debian packages); runs as root (Chromium gets --no-sandbox).
"""

import argparse
import collections
import datetime
import hashlib
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf('SC_CLK_TCK')

# Added to every document before its own scripts: counts the page's WebSocket frames both ways.
COUNTER_JS = r"""
(() => {
  const c = window.__pageCost = { sent: 0, sentBytes: 0, recv: 0, recvBytes: 0, kinds: {} };
  const W = window.WebSocket, send = W.prototype.send;
  W.prototype.send = function (d) {
    c.sent++;
    c.sentBytes += d && d.length || 0;
    let k = '?';
    try { const m = JSON.parse(d); k = String(m.cmd) + (m.state ? ' ' + m.state : ''); } catch (e) {}
    c.kinds[k] = (c.kinds[k] || 0) + 1;
    return send.call(this, d);
  };
  window.WebSocket = new Proxy(W, {
    construct(t, args) {
      const ws = Reflect.construct(t, args);
      ws.addEventListener('message', (e) => { c.recv++; c.recvBytes += e.data && e.data.length || 0; });
      return ws;
    },
  });
})();
"""

PAGE_STATE_JS = r"""
const c = window.__pageCost || null;
return { counters: c ? { sent: c.sent, sentBytes: c.sentBytes, recv: c.recv, recvBytes: c.recvBytes,
                         kinds: Object.assign({}, c.kinds) } : null,
         events: document.body ? Number(document.body.dataset.events || 0) : 0,
         updated: document.body ? Number(document.body.dataset.updated || 0) : 0,
         stale: document.body ? (document.body.dataset.stale || '') : '',
         now: Date.now(), href: location.href };
"""


def utc(t=None):
    return datetime.datetime.fromtimestamp(time.time() if t is None else t, datetime.timezone.utc)


def hms(t):
    return utc(t).strftime('%H:%M:%S')


def loadavg():
    with open('/proc/loadavg') as f:
        return ' '.join(f.read().split()[:3])


def log(*a):
    print('#', *a, file=sys.stderr, flush=True)


# ---- /proc ----

def proc_cpu_ns(pid):
    """CPU time of every thread of pid, from se.sum_exec_runtime (ms with 6 decimals): exact."""
    total = 0.0
    try:
        tids = os.listdir(f'/proc/{pid}/task')
    except OSError:
        return None
    for tid in tids:
        try:
            with open(f'/proc/{pid}/task/{tid}/sched') as f:
                for line in f:
                    if line.startswith('se.sum_exec_runtime'):
                        total += float(line.split(':')[1])
                        break
        except OSError:
            pass
    return int(total * 1e6)


def proc_ticks(pid):
    """utime + stime of the process (all threads), in clock ticks."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(')') + 2:].split()
    return int(fields[11]) + int(fields[12])


def proc_switches(pid):
    """(voluntary, involuntary) context switches summed over every thread of pid."""
    v = n = 0
    try:
        tids = os.listdir(f'/proc/{pid}/task')
    except OSError:
        return None
    for tid in tids:
        try:
            with open(f'/proc/{pid}/task/{tid}/status') as f:
                for line in f:
                    if line.startswith('voluntary_ctxt_switches'):
                        v += int(line.split()[1])
                    elif line.startswith('nonvoluntary_ctxt_switches'):
                        n += int(line.split()[1])
        except OSError:
            pass
    return v, n


def descendants(root_pid):
    """{pid: cmdline} of every process below root_pid."""
    children = collections.defaultdict(list)
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open(f'/proc/{d}/stat') as f:
                s = f.read()
            ppid = int(s[s.rindex(')') + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children[ppid].append(int(d))
    out, todo = {}, [root_pid]
    while todo:
        p = todo.pop()
        for c in children.get(p, []):
            try:
                with open(f'/proc/{c}/cmdline', 'rb') as f:
                    out[c] = f.read().replace(b'\0', b' ').decode(errors='replace')
            except OSError:
                continue
            todo.append(c)
    return out


class Group:
    """CPU of a set of processes found anew at each sample; a process that appears in the window
    counts from its start, one that ends in it loses its last part."""

    def __init__(self, root_pid, match):
        self.root_pid, self.match = root_pid, match

    def sample(self):
        if self.root_pid is None:
            return {}
        return {p: proc_cpu_ns(p) for p, cmd in descendants(self.root_pid).items() if self.match(cmd)}

    @staticmethod
    def delta(a, b):
        return sum(v - (a.get(p) or 0) for p, v in b.items() if v is not None)


# ---- the daemons ----

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def http_get(port, path, timeout=5):
    with urllib.request.urlopen(f'http://127.0.0.1:{port}{path}', timeout=timeout) as r:
        return r.read().decode()


def metrics(port):
    m = collections.defaultdict(float)
    for line in http_get(port, '/metrics').splitlines():
        if not line or line.startswith('#'):
            continue
        name, _, value = line.rpartition(' ')
        m[name] = float(value)
        base = name.split('{')[0]
        if base == 'sched_jobs_total':
            m['events_total'] += float(value)
    return m


class Daemon:
    def __init__(self, name, argv, logdir, quiet=False):
        self.name = name
        self.log_path = os.path.join(logdir, name + '.log')
        out = subprocess.DEVNULL if quiet else open(self.log_path, 'wb')
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        self.pid = self.proc.pid

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def wait_for(what, check, timeout=15, step=0.1):
    end = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except (OSError, ValueError):
            pass
        if time.monotonic() > end:
            raise RuntimeError('timed out waiting for ' + what)
        time.sleep(step)


# ---- the browser ----

class Browser:
    def __init__(self, chromium, chromedriver, profile):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        opts = webdriver.ChromeOptions()
        if chromium:
            opts.binary_location = chromium
        for a in ('--headless=new', '--no-sandbox', '--user-data-dir=' + profile, '--window-size=1280,900',
                  '--no-first-run', '--no-default-browser-check', '--disable-extensions',
                  '--disable-background-networking', '--disable-component-update', '--disable-sync',
                  '--metrics-recording-only', '--disable-default-apps'):
            opts.add_argument(a)
        self.service = Service(chromedriver, log_path=os.devnull)
        self.driver = webdriver.Chrome(service=self.service, options=opts)
        self.driver.execute_cdp_cmd('Page.addScriptToEvaluateOnNewDocument', {'source': COUNTER_JS})
        self.driver.set_script_timeout(10)
        self.root_pid = self.service.process.pid  # chromedriver: Chromium is below it
        self.renderers = Group(self.root_pid, lambda c: '--type=renderer' in c)
        self.all = Group(self.root_pid, lambda c: 'chrom' in c and 'chromedriver' not in c)

    def blank(self):
        self.driver.get('about:blank')

    def open(self, url):
        self.driver.get(url)

    def state(self):
        return self.driver.execute_script(PAGE_STATE_JS)

    def quit(self):
        try:
            self.driver.quit()
        except Exception:
            pass


# ---- measuring ----

class Snapshot:
    def __init__(self, t, procs, browser, extra=None):
        self.t = t
        self.cpu = {k: (proc_cpu_ns(p) if p else None) for k, p in procs.items()}
        self.ticks = proc_ticks(procs['bus'])
        self.sw = proc_switches(procs['bus'])
        self.rend = browser.renderers.sample() if browser else {}
        self.chrome = browser.all.sample() if browser else {}
        self.extra = extra


def pct(ns, secs):
    return 100.0 * ns / 1e9 / secs


def window(args, port, procs, browser, page_open, label, seconds):
    """One load window: metrics and page state around it, /proc at both ends."""
    load = loadavg()
    m0 = metrics(port)
    st0 = browser.state() if page_open else None
    a = Snapshot(time.monotonic(), procs, browser)
    wall0 = time.time()
    time.sleep(seconds)
    b = Snapshot(time.monotonic(), procs, browser)
    st1 = browser.state() if page_open else None
    m1 = metrics(port)
    dt = b.t - a.t
    r = {'case': label, 'start': wall0, 'load': load, 'secs': dt}
    r['jobs_s'] = (m1['sched_bus_jobs_submitted_total'] - m0['sched_bus_jobs_submitted_total']) / dt
    r['events_s'] = (m1['events_total'] - m0['events_total']) / dt
    r['observers'] = m1['sched_bus_clients{role="observer"}']
    r['bus_pct'] = pct(b.cpu['bus'] - a.cpu['bus'], dt)
    r['bus_tick_pct'] = 100.0 * (b.ticks - a.ticks) / CLK_TCK / dt
    r['bus_wakeups_s'] = (b.sw[0] - a.sw[0]) / dt
    r['sched_pct'] = pct(b.cpu['scheduler'] - a.cpu['scheduler'], dt)
    r['prod_pct'] = pct(b.cpu['producer'] - a.cpu['producer'], dt) if a.cpu.get('producer') is not None else 0
    r['rend_pct'] = pct(Group.delta(a.rend, b.rend), dt)
    r['chrome_pct'] = pct(Group.delta(a.chrome, b.chrome), dt)
    if st0 and st1 and st0['counters'] and st1['counters']:
        r['page_ev_s'] = (st1['events'] - st0['events']) / dt
        r['page_in_s'] = (st1['counters']['recv'] - st0['counters']['recv']) / dt
        r['page_in_bytes_s'] = (st1['counters']['recvBytes'] - st0['counters']['recvBytes']) / dt
        r['page_out'] = st1['counters']['sent'] - st0['counters']['sent']
        r['page_render_lag_ms'] = st1['now'] - st1['updated']
        r['page_stale'] = st1['stale']
    return r


def print_load_row(r):
    page = (f"{r['page_ev_s']:9.0f} {r['page_in_s']:8.1f} {r['page_out'] / r['secs']:7.2f}"
            if 'page_ev_s' in r else f"{'-':>9} {'-':>8} {'-':>7}")
    print(f"{r['case']:<4} {hms(r['start'])} {r['load']:<15} {r['secs']:5.1f} {r['jobs_s']:7.0f} "
          f"{r['events_s']:8.0f} {page} {r['bus_pct']:7.2f} {r['bus_tick_pct']:6.1f} {r['bus_wakeups_s']:7.0f} "
          f"{r['bus_pct'] * 1e4 / max(r['bus_wakeups_s'], 1):7.1f} "
          f"{r['sched_pct']:6.1f} {r['prod_pct']:6.1f} {r['rend_pct']:6.1f} {r['chrome_pct']:6.1f}", flush=True)


def settle(browser, port, want_observers, seconds):
    wait_for(f'{want_observers} observer(s) on the bus',
             lambda: metrics(port)['sched_bus_clients{role="observer"}'] == want_observers, timeout=20)
    time.sleep(seconds)


def idle_window(args, procs, browser, page_open, label, seconds):
    load = loadavg()
    st0 = browser.state() if page_open else None
    per_second = [0] * (int(seconds) + 1)
    a = Snapshot(time.monotonic(), procs, browser)
    wall0 = time.time()
    last = a.sw[0]
    t0 = a.t
    while True:
        now = time.monotonic()
        if now - t0 >= seconds:
            break
        time.sleep(min(0.05, seconds - (now - t0)))
        v = proc_switches(procs['bus'])[0]
        if v != last:
            per_second[min(int(time.monotonic() - t0), len(per_second) - 1)] += v - last
            last = v
    b = Snapshot(time.monotonic(), procs, browser)
    st1 = browser.state() if page_open else None
    dt = b.t - a.t
    r = {'case': label, 'start': wall0, 'load': load, 'secs': dt,
         'wakeups': b.sw[0] - a.sw[0], 'involuntary': b.sw[1] - a.sw[1],
         'bus_ms': (b.cpu['bus'] - a.cpu['bus']) / 1e6,
         'sched_ms': (b.cpu['scheduler'] - a.cpu['scheduler']) / 1e6,
         'rend_pct': pct(Group.delta(a.rend, b.rend), dt), 'chrome_pct': pct(Group.delta(a.chrome, b.chrome), dt),
         'per_second': per_second}
    if st0 and st1 and st0['counters'] and st1['counters']:
        c0, c1 = st0['counters'], st1['counters']
        r['page_out'] = c1['sent'] - c0['sent']
        r['page_out_bytes'] = c1['sentBytes'] - c0['sentBytes']
        r['page_in'] = c1['recv'] - c0['recv']
        r['page_in_bytes'] = c1['recvBytes'] - c0['recvBytes']
        r['kinds'] = {k: c1['kinds'].get(k, 0) - c0['kinds'].get(k, 0) for k in c1['kinds']}
    return r


def timeline(per_second):
    out = []
    for i, n in enumerate(per_second):
        if n:
            out.append(f'{i}' + (f'x{n}' if n > 1 else ''))
    return ' '.join(out) or '-'


def print_idle_row(r):
    page = (f"{r['page_out']:5d} {r['page_out_bytes']:7d} {r['page_in']:5d} {r['page_in_bytes']:8d}"
            if 'page_out' in r else f"{'-':>5} {'-':>7} {'-':>5} {'-':>8}")
    print(f"{r['case']:<8} {hms(r['start'])} {r['load']:<15} {r['secs']:5.1f} {r['wakeups']:7d} "
          f"{r['wakeups'] * 60 / r['secs']:7.1f} {r['involuntary']:5d} {r['bus_ms']:8.2f} {page} "
          f"{r['rend_pct']:6.2f} {r['chrome_pct']:6.2f}   {timeline(r['per_second'])}", flush=True)
    if r.get('kinds'):
        ks = ', '.join(f'{k} {v}' for k, v in sorted(r['kinds'].items()) if v) or 'none'
        print(f"#   frames the page sent in {r['secs']:.0f} s, by command: {ks}", flush=True)


def strace_window(args, bus_pid, seconds, out):
    p = subprocess.Popen(['strace', '-c', '-f', '-o', out, '-p', str(bus_pid)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(seconds)
    p.send_signal(signal.SIGINT)
    p.wait(10)
    calls = {}
    with open(out) as f:
        for line in f:
            x = line.split()
            if len(x) >= 5 and x[-1] not in ('syscall', 'total') and x[0][0].isdigit():
                try:
                    calls[x[-1]] = int(x[3])
                except ValueError:
                    pass
    return calls


def med(xs):
    return statistics.median(xs) if xs else float('nan')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split('\n\n', 2)[2])
    ap.add_argument('--build-dir', default=os.path.join(ROOT, 'build-bench'),
                    help='Release build with the daemons (default build-bench/ of the tree)')
    ap.add_argument('--bus-binary', help='sched-bus to measure (default: of --build-dir)')
    ap.add_argument('--scheduler-binary')
    ap.add_argument('--producer-binary')
    ap.add_argument('--chromium', default=shutil.which('chromium') or '/usr/bin/chromium')
    ap.add_argument('--chromedriver', default='/usr/bin/chromedriver')
    ap.add_argument('--period', type=float, default=0.0018,
                    help='sched-producer -p: seconds between jobs (default 0.0018, ~500 jobs/s here)')
    ap.add_argument('--slots', type=int, default=64, help='sched-scheduler -s (default 64)')
    ap.add_argument('--window', type=float, default=20, help='seconds of each load window (default 20)')
    ap.add_argument('--pairs', type=int, default=3, help='A/B pairs of load windows (default 3)')
    ap.add_argument('--settle', type=float, default=4,
                    help='seconds after opening or leaving the page before a window (default 4)')
    ap.add_argument('--idle-settle', type=float, default=10,
                    help='seconds before an idle window: the bus closes the page load\'s HTTP '
                         'connections after 5 s (default 10)')
    ap.add_argument('--idle-seconds', type=float, default=60, help='seconds of each idle window (default 60)')
    ap.add_argument('--idle-runs', type=int, default=1, help='no page / page idle windows, each (default 1)')
    ap.add_argument('--strace-seconds', type=float, default=30,
                    help='idle window per case under strace -c -f, 0 = none (default 30)')
    ap.add_argument('--skip-load', action='store_true', help='no load windows')
    ap.add_argument('--skip-idle', action='store_true', help='no idle windows')
    ap.add_argument('--keep', action='store_true', help='keep the temporary directory with the logs')
    args = ap.parse_args()

    def binary(opt, sub):
        p = opt or os.path.join(args.build_dir, 'daemons', sub)
        if not os.access(p, os.X_OK):
            sys.exit(f'page-cost: no {p}: build it first: cmake -S {ROOT} -B {args.build_dir} '
                     f'-DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF && cmake --build {args.build_dir} -j2')
        return p

    bus_bin = binary(args.bus_binary, 'bus/sched-bus')
    sched_bin = binary(args.scheduler_binary, 'scheduler/sched-scheduler')
    prod_bin = binary(args.producer_binary, 'producer/sched-producer')
    build_type = '?'
    try:
        with open(os.path.join(args.build_dir, 'CMakeCache.txt')) as f:
            build_type = re.search(r'^CMAKE_BUILD_TYPE:\w+=(.*)$', f.read(), re.M).group(1) or '(none)'
    except (OSError, AttributeError):
        pass

    tmp = tempfile.mkdtemp(prefix='page-cost.')
    daemons, browser = [], None
    port = free_port()
    url = f'http://127.0.0.1:{port}/'
    try:
        with open('/proc/cpuinfo') as f:
            model = re.search(r'^model name\s*:\s*(.*)$', f.read(), re.M).group(1)
        print(f'# page-cost {utc().strftime("%Y-%m-%d %H:%M:%S")} UTC, load average {loadavg()}, '
              f'{os.cpu_count()} CPUs ({model}), kernel {os.uname().release}')
        print('# command: ' + ' '.join([sys.argv[0]] + sys.argv[1:]))
        print(f'# bus {bus_bin} (CMAKE_BUILD_TYPE {build_type}), port {port}; logs in {tmp}')

        bus = Daemon('bus', [bus_bin, '-l', f'127.0.0.1:{port}'], tmp)
        daemons.append(bus)
        wait_for('the bus', lambda: http_get(port, '/healthz').strip() == 'ok')
        js = http_get(port, '/dashboard.js')
        consts = ', '.join(f'{k} {v}' for k, v in
                           re.findall(r'\b([A-Z_]*(?:RESYNC|EVERY|RENDER)[A-Z_]*) = (\d+)', js))
        print(f'# page: dashboard.js {len(js)} B, sha256 {hashlib.sha256(js.encode()).hexdigest()[:12]}'
              + (f'; {consts}' if consts else ''))
        sched = Daemon('scheduler', [sched_bin, '-s', str(args.slots), '--cgroup', 'off', '-t', '10',
                                     '--name', 'bench', '-b', f'ws://127.0.0.1:{port}',
                                     '--exec', '/bin/true'], tmp, quiet=True)
        daemons.append(sched)
        wait_for('the scheduler', lambda: metrics(port)['sched_scheduler_slots{scheduler="bench"}'] == args.slots)

        browser = Browser(args.chromium, args.chromedriver, os.path.join(tmp, 'profile'))
        browser.blank()
        print(f'# browser: {browser.driver.capabilities.get("browserVersion")}, headless, '
              f'chromedriver {args.chromedriver}; page {url}')
        procs = {'bus': bus.pid, 'scheduler': sched.pid, 'producer': None}
        loads, idles = [], []

        if not args.skip_load:
            prod = Daemon('producer', [prod_bin, '-p', str(args.period), '--runtime', '0', '--priority', '5',
                                       '-b', f'ws://127.0.0.1:{port}'], tmp, quiet=True)
            daemons.append(prod)
            procs['producer'] = prod.pid
            wait_for('the producer', lambda: metrics(port)['sched_bus_jobs_submitted_total'] > 100)
            print(f'# load: sched-producer -p {args.period} --runtime 0 --priority 5; sched-scheduler '
                  f'-s {args.slots} --cgroup off -t 10 --exec /bin/true; windows of {args.window:g} s')
            print('# case start    load average     secs  jobs/s events/s page_ev/s pg_in/s pg_out/s '
                  'bus_cpu% tick% wakes/s us/wake sched% prod%  rend% chrom%')
            time.sleep(args.settle)
            for i in range(args.pairs):
                # A B, B A, A B, ...: a drift of the machine's load over the run cancels out.
                for page_open in ((False, True) if i % 2 == 0 else (True, False)):
                    if page_open:
                        browser.open(url)
                    else:
                        browser.blank()
                    settle(browser, port, 1 if page_open else 0, args.settle)
                    r = window(args, port, procs, browser, page_open, 'B' if page_open else 'A', args.window)
                    r['pair'] = i
                    print_load_row(r)
                    loads.append(r)
            browser.blank()
            prod.stop(signal.SIGINT)
            procs['producer'] = None

        if not args.skip_idle:
            wait_for('every job to end', lambda: (lambda m: m['sched_scheduler_running{scheduler="bench"}'] == 0
                                                  and m['sched_bus_clients{role="producer"}'] == 0)(metrics(port)),
                     timeout=30)
            print(f'# idle: no producer, no job; the scheduler connected; windows of {args.idle_seconds:g} s')
            print('# case     start    load average     secs  wakeups per_min invol  bus_ms pg_out '
                  'out_B  pg_in   in_B   rend%  chrom%   seconds with wakeups')
            for i in range(args.idle_runs):
                for page_open in (False, True):
                    if page_open:
                        browser.open(url)
                    else:
                        browser.blank()
                    settle(browser, port, 1 if page_open else 0, args.idle_settle)
                    r = idle_window(args, procs, browser, page_open, 'page' if page_open else 'no page',
                                    args.idle_seconds)
                    print_idle_row(r)
                    idles.append(r)
            if args.strace_seconds > 0 and shutil.which('strace'):
                for page_open in (False, True):
                    if page_open:
                        browser.open(url)
                    else:
                        browser.blank()
                    settle(browser, port, 1 if page_open else 0, args.idle_settle)
                    start, load = time.time(), loadavg()
                    calls = strace_window(args, bus.pid, args.strace_seconds,
                                          os.path.join(tmp, f'strace-{"page" if page_open else "nopage"}.txt'))
                    top = ', '.join(f'{k} {v}' for k, v in sorted(calls.items(), key=lambda x: -x[1]))
                    print(f'# strace -c -f, {"page" if page_open else "no page"}, {hms(start)} UTC, load {load}, '
                          f'{args.strace_seconds:g} s: {sum(calls.values())} calls: {top or "none"}', flush=True)
            browser.blank()

        # ---- summary ----
        print('#')
        print(f'# summary, {utc().strftime("%Y-%m-%d %H:%M:%S")} UTC, load average {loadavg()}')
        if loads:
            A = [r for r in loads if r['case'] == 'A']
            B = [r for r in loads if r['case'] == 'B']
            diffs = [[r for r in loads if r['pair'] == i and r['case'] == 'B'][0]['bus_pct']
                     - [r for r in loads if r['pair'] == i and r['case'] == 'A'][0]['bus_pct']
                     for i in range(args.pairs)]
            ev = med([r['events_s'] for r in B])
            jobs = med([r['jobs_s'] for r in loads])
            page_ev = med([r.get('page_ev_s', 0) for r in B])
            page_in = med([r.get('page_in_s', 0) for r in B])
            page_out = med([r.get('page_out', 0) / r['secs'] for r in B])
            rend, chrome = med([r['rend_pct'] for r in B]), med([r['chrome_pct'] for r in B])
            chrome_a = med([r['chrome_pct'] for r in A])
            cost = statistics.mean(r['bus_pct'] for r in B) - statistics.mean(r['bus_pct'] for r in A)
            per_event_us = cost / 100 * 1e6 / page_ev if page_ev else float('nan')
            per_frame_us = cost / 100 * 1e6 / page_in if page_in else float('nan')
            fa = ', '.join('%.2f' % r['bus_pct'] for r in A)
            fb = ', '.join('%.2f' % r['bus_pct'] for r in B)
            fd = ', '.join('%+.2f' % d for d in diffs)
            print(f'# load: A (no page) bus {fa} % of a core; B (page) {fb} %; B-A per pair {fd} '
                  f'(median {med(diffs):+.2f}); mean B - mean A {cost:+.2f} % of a core '
                  f'({per_event_us:.1f} us per event, {per_frame_us:.1f} us per frame to the page)')
            print(f'# load: {jobs:.0f} jobs/s, {ev:.0f} events/s at the bus, {page_ev:.0f} events/s to the page '
                  f'in {page_in:.0f} frames/s, {page_out:.2f} frames/s from it; renderers {rend:.1f} %, all of '
                  f'Chromium {chrome:.1f} % of a core (about:blank: {chrome_a:.1f} %)')
            verdict = 'met' if max(cost, med(diffs)) < 5 else 'missed'
            print(f'RESULT page_cost_load bus_a_pct={med([r["bus_pct"] for r in A]):.2f} '
                  f'bus_b_pct={med([r["bus_pct"] for r in B]):.2f} cost_pct={cost:.2f} '
                  f'median_pair_cost_pct={med(diffs):.2f} '
                  f'max_pair_cost_pct={max(diffs):.2f} events_per_s={ev:.0f} page_events_per_s={page_ev:.0f} '
                  f'jobs_per_s={jobs:.0f} renderer_pct={rend:.1f} chromium_pct={chrome:.1f} '
                  f'target_pct=5 verdict={verdict}')
        if idles:
            for case in ('no page', 'page'):
                rs = [r for r in idles if r['case'] == case]
                if not rs:
                    continue
                w = med([r['wakeups'] * 60 / r['secs'] for r in rs])
                cpu = med([r['bus_ms'] * 60 / r['secs'] for r in rs])
                extra = ''
                if case == 'page' and 'page_out' in rs[0]:
                    fpm = med([r['page_out'] * 60 / r['secs'] for r in rs])
                    bpm = med([r['page_out_bytes'] * 60 / r['secs'] for r in rs])
                    extra = f' page_frames_per_min={fpm:.1f} page_bytes_per_min={bpm:.0f}'
                key = case.replace(' ', '')
                print(f'RESULT page_cost_idle_{key} wakeups_per_min={w:.1f} bus_cpu_ms_per_min={cpu:.2f}{extra} '
                      f'seconds={args.idle_seconds:g}')
        return 0
    finally:
        if browser:
            browser.quit()
        for d in reversed(daemons):
            d.stop()
        if args.keep:
            print(f'# kept {tmp}', file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
