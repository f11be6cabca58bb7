#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Eviction modes end to end (issue 14), on the real binaries over loopback:

  suspend-cgroup    --evict suspend, one slot, -t 3, each job in a cgroup of its own under a cgroup
                    this test names (cgroup.freeze): a job that counts its own CPU-seconds is frozen
                    for an urgent one, uses no CPU while frozen, is thawed when the slot frees, goes
                    on where it stopped and ends done, its timeout clock stopped meanwhile; and a job
                    that needs longer than -t even so times out, -t plus its frozen time after it
                    started. Skipped (not passed) without a writable cgroup2 mount.
  suspend-fallback  the same with --cgroup off: SIGSTOP and SIGCONT to the job's process group.
  requeue           --evict requeue --max-requeue 1, one slot: jobs of equal priority requeued at
                    different moments wait again at their arrival place and start in arrival order,
                    start over and end done; a job evicted a second time ends evicted.
  random            each mode (kill, requeue, suspend) on a scheduler of 3 slots, 500 jobs of random
                    priority, runtime and arrival (seed printed; TEST_EVICT_SEED=N replays one),
                    checked against a replay of the scheduler's log: slots, one terminal state per
                    job, who evicts whom, priority and arrival order of every start, no idle slot
                    while a job waits, --max-requeue, --max-suspended, frozen_usec. Two things the
                    log cannot show are allowed, counted and printed: a start that passes a job
                    requeued less than 0.25 s before (its processes still ending, it is not back in
                    the queue yet), and a victim requeued rather than frozen within 0.1 s of its
                    start (its process not spawned yet).

  test-evict.py SCHED-BUS SCHED-SCHEDULER SCHED-PRODUCER [CASE...]
"""
import asyncio
import datetime
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# BUS, SCHED, PRODUCER, DIR, PROCS, TAG (every process this test starts carries it, and so every
# job: the cleanup finds them all by it) and the helpers.
from live import *  # noqa: E402,F403

CASES = sys.argv[4:] or ["suspend-cgroup", "suspend-fallback", "requeue", "random"]
CGROUPS = []  # cgroups named by this test: removed at the end, whoever left them
SKIPPED = []
TERMINAL = ("done", "failed", "timeout", "evicted", "cancelled", "interrupted", "dropped")

# A job that burns SCHED_JOB_RUNTIME CPU-seconds of its own, then says how much CPU and wall time
# it took. Frozen, it neither burns nor counts; killed and started over, it would start from zero. An
# urgent one (priority 0) burns CPU for RUNTIME seconds of wall time instead: on a loaded machine it
# takes no longer, so that its own timeout, which is not what these cases test, never cuts it short.
CPU_JOB = """import os, time
start = time.monotonic()
runtime = float(os.environ["SCHED_JOB_RUNTIME"])
if os.environ["SCHED_JOB_PRIORITY"] == "0":
    while time.monotonic() - start < runtime:
        pass
else:
    while time.process_time() < runtime:
        pass
print("cpu %.3f wall %.3f" % (time.process_time(), time.monotonic() - start), flush=True)
"""


async def submit_async(bus, jobs):
    """Sends (priority, runtime) jobs in order on one producer connection; their ids, in order."""
    async with websockets.connect(bus.url) as p:
        await p.send('{"cmd": "register", "type": "producer"}')
        ids = []
        for ref, (priority, runtime) in enumerate(jobs):
            await p.send(json.dumps({"cmd": "job_request", "ref": ref,
                                     "payload": {"priority": priority, "runtime": runtime}}))
            reply = json.loads(await asyncio.wait_for(p.recv(), 10))
            if reply.get("ref") != ref or "id" not in reply:
                fail(f"unexpected answer to a job_request: {reply}")
            ids.append(reply["id"])
        return ids


def submit(bus, jobs):
    return asyncio.run(submit_async(bus, jobs))


def parse_time(stamp):
    return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def events(name):
    """The scheduler's job state lines, in order: dicts of their key=value tokens (numbers as
    numbers), with the line's time as `t`."""
    out = []
    for line in read_log(name).splitlines():
        if " state=" not in line:
            continue
        e = {k: (int(v) if re.fullmatch(r"\d+", v) else v) for k, v in re.findall(r" (\w+)=(\S+)", line)}
        e["t"] = parse_time(line.split(" ", 1)[0])
        e["line"] = line
        out.append(e)
    return out


def job_events(name, job):
    return [e for e in events(name) if e["job"] == job]


def states(name, job):
    return [e["state"] for e in job_events(name, job)]


def has(name, job, state):
    return state in states(name, job)


def ended(name, job):
    return any(s in TERMINAL for s in states(name, job))


def job_output(name, job):
    """What the CPU job printed: (cpu, wall) seconds."""
    m = re.search(rf'job {job}: "cpu ([\d.]+) wall ([\d.]+)"', read_log(name))
    return (float(m.group(1)), float(m.group(2))) if m else None


def job_pids(job):
    """The processes of one of our jobs, found by their environment."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if TAG.encode() in env and f"SCHED_JOB_ID={job}".encode() in env:
            pids.append(int(pid))
    return pids


def proc_stat(pid):
    """(state letter, utime + stime in clock ticks) of a process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return fields[0], int(fields[11]) + int(fields[12])


def cgroup2_root():
    """Where this test may make a cgroup of its own: a writable cgroup2 mount, or None."""
    for d in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        fs = subprocess.run(["stat", "-f", "-c", "%T", d], capture_output=True, text=True).stdout.strip()
        if fs == "cgroup2fs" and os.access(d, os.W_OK):
            return d
    return None


def cgroup_events(path):
    try:
        with open(os.path.join(path, "cgroup.events")) as f:
            return dict(line.split() for line in f)
    except OSError:
        return {}


def job_cgroup(cgroup, job):
    """The cgroup lent to the job: the one labelled with its id."""
    for entry in os.scandir(cgroup):
        try:
            if entry.is_dir() and os.getxattr(entry.path, "user.sched_label") == str(job).encode():
                return entry.path
        except OSError:
            pass
    return None


def check_frozen_window(name, job, cgroup):
    """While the job is frozen: its processes use no CPU."""
    if cgroup:
        path = job_cgroup(cgroup, job)
        check(path, f"job {job}'s cgroup found by its label under {cgroup}")
        wait_for(2, f"{path} frozen", lambda: cgroup_events(path).get("frozen") == "1")
        print(f"ok: its cgroup {os.path.basename(path)} is frozen (cgroup.events)")
        return
    pids = job_pids(job)
    check(pids, f"job {job}'s processes found by SCHED_JOB_ID ({pids})")
    wait_for(2, f"job {job}'s processes stopped", lambda: all(proc_stat(p)[0] == "T" for p in pids))
    before = sum(proc_stat(p)[1] for p in pids)
    time.sleep(1.0)
    after = sum(proc_stat(p)[1] for p in pids)
    check(not has(name, job, "resumed") and all(proc_stat(p)[0] == "T" for p in pids),
          f"job {job}'s processes are stopped (state T) for a second")
    used = (after - before) * 1000 / os.sysconf("SC_CLK_TCK")
    check(used < 50, f"and used {used:.0f} ms of CPU meanwhile (utime + stime of /proc/PID/stat)")


def suspend_case(name, cgroup):
    # A job of 1 CPU-second, frozen 0.7 s in for an urgent one of 2.3 s: it ends about 3.3 s after it
    # started, past its 3 s timeout, which stops while it is frozen. It needs a third of a CPU to end
    # within its 3 s of running time, the urgent one needs none.
    runtime, urgent = 1.0, 2.3
    bus = Bus(f"{name}-bus")
    s = scheduler(bus, name, 1, "-t", "3", "--evict", "suspend", cgroup=cgroup or "off",
                  job=["/usr/bin/python3", "-c", CPU_JOB])
    if cgroup:
        check(f"jobs in cgroup {cgroup} (--cgroup=PATH, created)" in read_log(name),
              f"the scheduler made {cgroup} for its jobs")

    (a,) = submit(bus, [(5, runtime)])
    wait_for(10, f"job {a} running", lambda: has(name, a, "running"))
    time.sleep(0.7)
    (b,) = submit(bus, [(0, urgent)])
    wait_for(5, f"job {a} suspended", lambda: has(name, a, "suspended"))
    check_frozen_window(name, a, cgroup)
    wait_for(15, f"job {a} ended", lambda: ended(name, a))

    ea = {e["state"]: e for e in job_events(name, a)}
    eb = {e["state"]: e for e in job_events(name, b)}
    check(states(name, a) == ["running", "suspended", "resumed", "done"],
          f"job {a}: running, suspended, resumed, done ({states(name, a)})")
    check(ea["suspended"].get("evicted_by") == b, f"suspended for the urgent job {b}")
    check(states(name, b) == ["running", "done"] and eb["running"]["t"] >= ea["suspended"]["t"]
          and ea["resumed"]["t"] >= eb["done"]["t"], "which ran while it was frozen, and it resumed after")
    check(job_output(name, a), f"job {a} said how much CPU and wall time it took")
    cpu, wall = job_output(name, a)
    check(abs(cpu - runtime) <= 0.1, f"it counted {cpu:.3f} CPU-seconds in all (runtime {runtime})")
    check(wall > 3.0, f"it took {wall:.2f} s, longer than -t 3, and still ended done: the timeout waited")
    busy = eb["done"]["t"] - eb["running"]["t"]
    for state in ("resumed", "done"):
        frozen = ea[state].get("frozen_usec", 0) / 1e6
        check(abs(frozen - busy) <= 0.1,
              f"frozen_usec on its {state} line: {frozen:.3f} s, the urgent job's {busy:.3f} s")
    if cgroup:
        during = ea["resumed"]["cpu_usec"] - ea["suspended"]["cpu_usec"]
        check(during < 50000, f"cpu_usec from its suspended to its resumed line: +{during / 1000:.1f} ms")
        check(ea["suspended"]["cpu_usec"] > 100000 and
              runtime - 0.05 <= ea["done"]["cpu_usec"] / 1e6 <= runtime + 0.25,
              f"{ea['suspended']['cpu_usec'] / 1e6:.3f} s of CPU before it was frozen, "
              f"{ea['done']['cpu_usec'] / 1e6:.3f} s in all: it went on, it did not start over")

    # A job of 5 CPU-seconds cannot make it within -t 3 even if frozen 1 s: it times out 3 s of
    # running plus its frozen time after it started.
    (c,) = submit(bus, [(5, 5)])
    wait_for(10, f"job {c} running", lambda: has(name, c, "running"))
    time.sleep(0.7)
    (d,) = submit(bus, [(0, 1)])
    wait_for(5, f"job {c} suspended", lambda: has(name, c, "suspended"))
    wait_for(15, f"job {c} ended", lambda: ended(name, c))
    ec = {e["state"]: e for e in job_events(name, c)}
    ed = {e["state"]: e for e in job_events(name, d)}
    check(states(name, c) == ["running", "suspended", "resumed", "timeout"],
          f"job {c}: running, suspended, resumed, timeout ({states(name, c)})")
    frozen = ec["timeout"].get("frozen_usec", 0) / 1e6
    busy = ed["done"]["t"] - ed["running"]["t"]
    took = ec["timeout"]["t"] - ec["running"]["t"]
    check(abs(frozen - busy) <= 0.1, f"frozen {frozen:.3f} s, the urgent job's {busy:.3f} s")
    check(abs(took - (3 + frozen)) <= 0.25,
          f"it timed out {took:.2f} s after it started: -t 3 plus {frozen:.2f} s frozen")
    stop(s)
    stop(bus.proc)
    if cgroup:
        check(not os.path.exists(cgroup), f"the scheduler removed {cgroup} at exit")


def case_suspend_cgroup():
    root = cgroup2_root()
    if not root:
        SKIPPED.append("suspend-cgroup")
        print("SKIP: suspend-cgroup: no writable cgroup2 mount (/sys/fs/cgroup/unified or /sys/fs/cgroup)")
        return
    path = os.path.join(root, f"test-evict-{os.getpid()}-{random.randrange(1 << 32):08x}")
    CGROUPS.append(path)
    suspend_case("sc", path)


def case_suspend_fallback():
    suspend_case("sf", None)


def case_requeue():
    name = "rq"
    bus = Bus("rq-bus")
    s = scheduler(bus, name, 1, "--evict", "requeue", "--max-requeue", "1")

    def running_count(job):
        return states(name, job).count("running")

    def urgent_when(job, n, after=0.0):
        """An urgent job, `after` seconds into the n-th run of `job`."""
        wait_for(10, f"job {job} running ({n})", lambda: running_count(job) >= n, step=0.01)
        time.sleep(after)
        check(running_count(job) == n and not ended(name, job), f"job {job} runs (start {n})")
        return submit(bus, [(0, 0.3)])[0]

    (long,) = submit(bus, [(5, 3)])
    wait_for(10, f"job {long} running", lambda: running_count(long) == 1)
    a, b, c, d = submit(bus, [(5, 0.4)] * 4)
    wait_for(5, "four jobs queued", lambda: all(has(name, j, "queued") for j in (a, b, c, d)))
    u1 = urgent_when(long, 1)  # requeued
    u2 = urgent_when(long, 2)  # evicted: past --max-requeue 1
    u3 = urgent_when(a, 1, 0.2)  # requeued half way, while b, c, d wait
    u4 = urgent_when(b, 1, 0.2)  # requeued half way, while c, d wait
    wait_for(15, "every job ended", lambda: all(ended(name, j) for j in (long, a, b, c, d, u1, u2, u3, u4)))

    def runs_of(job):
        return [e for e in job_events(name, job) if e["state"] != "queued"]

    el, ea, eb = runs_of(long), runs_of(a), runs_of(b)
    check([e["state"] for e in el] == ["running", "requeued", "running", "evicted"],
          f"job {long}: running, requeued, running, evicted ({states(name, long)})")
    check(el[1].get("evicted_by") == u1 and el[3].get("evicted_by") == u2,
          f"requeued for job {u1}, evicted for job {u2}")
    check("requeues" not in el[0] and [e.get("requeues") for e in el[1:]] == [1, 1, 1],
          "requeues=1 from its requeue on: the second eviction, past --max-requeue 1, killed it")
    for job, ev, by in ((a, ea, u3), (b, eb, u4)):
        check(states(name, job) == ["queued", "running", "requeued", "running", "done"],
              f"job {job}: queued, running, requeued, running, done ({states(name, job)})")
        check(ev[1].get("evicted_by") == by and "requeues" not in ev[0] and
              [e.get("requeues") for e in ev[1:]] == [1, 1, 1], f"requeued for job {by}, requeues=1 after")
        check(ev[2]["t"] - ev[1]["t"] >= 0.25 and ev[3]["t"] - ev[2]["t"] >= 0.38,
              f"ran again after the urgent job ({ev[2]['t'] - ev[1]['t']:.2f} s later), for its whole runtime "
              f"({ev[3]['t'] - ev[2]['t']:.2f} s of 0.4; {ev[1]['t'] - ev[0]['t']:.2f} s before it was requeued)")
    starts = [e["job"] for e in events(name) if e["state"] == "running" and e["priority"] == 5]
    check(starts == [long, long, a, a, b, b, c, d],
          f"priority 5 started in the order {starts}: each requeued job again before those that came after it")
    finals = [j for i, j in enumerate(starts) if j not in starts[i + 1:]]
    check(finals == [long, a, b, c, d], f"their last starts are in arrival order ({finals})")
    check(all(states(name, j) == ["running", "done"] for j in (u1, u2, u3, u4)) and
          all(states(name, j) == ["queued", "running", "done"] for j in (c, d)), "every other job ran once, done")
    stop(s)
    stop(bus.proc)


HOLDS = ("running", "resumed")
VICTIM = ("suspended", "requeued", "evicted")
# A requeued job waits again once its processes are gone, of which the log says nothing: a start may
# pass it by for that long. These are sleep jobs, gone at the SIGTERM.
TRANSIT = 0.25
# A job's process is spawned by the loop's next round after its running line: a job evicted before that
# cannot be frozen, and is requeued instead. That is the same loop round, or the next few.
UNSPAWNED = 0.1


def replay(evs, slots, mode, max_requeue, max_suspended):
    """Checks a scheduler's job state lines against the rules; returns the errors, counters, each
    job's terminal state and how often each was requeued."""
    errors = []
    prio, arrival = {}, {}
    for e in evs:
        prio.setdefault(e["job"], e["priority"])
        arrival.setdefault(e["job"], len(arrival))
    holding, start_seq, started_at = set(), {}, {}
    waiting, since = {}, {}  # job -> queued | suspended | requeued, and since when
    requeues, terminal = {}, {}
    frozen = {}  # job -> seconds frozen in its current run, from the lines' times, and the last frozen_usec
    passed = {}  # a running job a victim was chosen over: it must be on its way out
    n = {"suspended": 0, "requeued": 0, "evicted": 0, "resumed": 0, "passed requeued in transit": 0,
         "most frozen": 0, "not frozen: not spawned yet": 0, "ended while frozen": 0}
    seq = 0

    def err(i, msg):
        if len(errors) < 20:
            job, t0 = evs[i]["job"], evs[0]["t"]
            history = ", ".join(f"{f['state']}@{f['t'] - t0:.3f}" for f in evs[:i + 1] if f["job"] == job)
            errors.append(f"line {i + 1} ({evs[i]['line'].split(': ', 1)[1]}): {msg}\n"
                          f"    job {job}'s lines so far (s into the log): {history}")

    def key(job, kind):
        return (prio[job], 0 if kind == "suspended" else 1, arrival[job])

    for i, e in enumerate(evs):
        j, st = e["job"], e["state"]
        if j in terminal:
            err(i, f"a line after its terminal {terminal[j]}")
        if e["priority"] != prio[j]:
            err(i, f"priority changed from {prio[j]}")
        if j in passed:
            if st not in ("done", "failed", "timeout"):
                err(i, f"job {j} was passed by as on its way out at line {passed[j] + 1}, and is now {st}")
            del passed[j]
        if e.get("requeues", 0) != requeues.get(j, 0) + (st == "requeued"):
            err(i, f"requeues={e.get('requeues')}, counted {requeues.get(j, 0)} before")
        if st == "requeued":
            requeues[j] = requeues.get(j, 0) + 1
        # frozen_usec: the time frozen in this run, on the lines from its first resume on.
        if st == "running":
            frozen.pop(j, None)
        if st == "resumed":
            total, _ = frozen.get(j, (0.0, 0))
            total += e["t"] - since[j]
            frozen[j] = (total, e.get("frozen_usec", 0))
            if abs(e.get("frozen_usec", 0) / 1e6 - total) > 0.05:
                err(i, f"frozen_usec={e.get('frozen_usec')}, but its lines say {total:.3f} s frozen")
        elif j in frozen and waiting.get(j) != "suspended" and st != "suspended" \
                and e.get("frozen_usec") != frozen[j][1]:
            err(i, f"frozen_usec={e.get('frozen_usec')} changed from {frozen[j][1]} while it was not frozen")

        waiting_before = waiting.get(j)
        if st in HOLDS:
            if j in holding:
                err(i, "started while holding a slot")
            kind = waiting.get(j, "queued")
            if (st == "resumed") != (kind == "suspended"):
                err(i, f"{st} but it was {kind}")
            for w, wkind in waiting.items():
                if w == j or key(w, wkind) >= key(j, kind):
                    continue
                if wkind == "requeued" and e["t"] - since[w] <= TRANSIT:
                    n["passed requeued in transit"] += 1
                    continue
                err(i, f"started while job {w} (priority {prio[w]}, {wkind}, arrived #{arrival[w]}) waited, "
                       f"which goes first (this one: priority {prio[j]}, {kind}, arrived #{arrival[j]})")
            waiting.pop(j, None)
            holding.add(j)
            seq += 1
            start_seq[j], started_at[j] = seq, e["t"]
            if len(holding) > slots:
                err(i, f"{len(holding)} jobs hold a slot: {sorted(holding)}")
            n["resumed"] += st == "resumed"
        elif st == "queued":
            if j in holding or j in waiting:
                err(i, "queued twice, or while running")
            waiting[j] = "queued"
        elif st in VICTIM or st in TERMINAL:
            was_holding = j in holding
            holding.discard(j)
            waiting.pop(j, None)
            if st in VICTIM:
                n[st] += 1
                by = e.get("evicted_by")
                if not was_holding:
                    err(i, f"{st} but it held no slot")
                if by not in prio or prio[by] >= prio[j]:
                    err(i, f"evicted_by={by} (priority {prio.get(by)}) is not more urgent than {prio[j]}")
                if i + 1 >= len(evs) or evs[i + 1]["job"] != by or evs[i + 1]["state"] != "running":
                    err(i, f"the next line is not job {by} taking the slot")
                # The victim: the least urgent running job, the most recently started among equals.
                for h in holding:
                    if (prio[h], start_seq[h]) > (prio[j], start_seq.get(j, 0)):
                        passed[h] = i
                if mode == "kill" and st != "evicted":
                    err(i, f"{st} under --evict kill")
                if mode != "kill" and st == "evicted" and requeues.get(j, 0) < max_requeue:
                    err(i, f"evicted after {requeues.get(j, 0)} requeues, below --max-requeue {max_requeue}")
                if mode == "requeue" and st == "suspended":
                    err(i, "suspended under --evict requeue")
                n_frozen = sum(k == "suspended" for k in waiting.values())
                if mode == "suspend" and st != "suspended" and n_frozen < max_suspended:
                    if e["t"] - started_at.get(j, 0) <= UNSPAWNED:
                        n["not frozen: not spawned yet"] += 1
                    else:
                        err(i, f"{st} rather than suspended, with {n_frozen} jobs frozen (--max-suspended "
                               f"{max_suspended}), {e['t'] - started_at.get(j, 0):.3f} s after its start")
            if st in ("suspended", "requeued"):
                waiting[j], since[j] = st, e["t"]
                n["most frozen"] = max(n["most frozen"], sum(k == "suspended" for k in waiting.values()))
                if n["most frozen"] > max_suspended:
                    err(i, f"more than --max-suspended {max_suspended} jobs frozen")
            if st in TERMINAL:
                terminal[j] = st
                n["ended while frozen"] += waiting_before == "suspended"
                if st not in ("done", "evicted"):
                    err(i, f"ended {st}")
        else:
            err(i, f"unknown state {st}")

        # No slot idle while a job waits (a requeued one may still be on its way back).
        if len(holding) < slots and any(k != "requeued" or e["t"] - since[w] > TRANSIT
                                        for w, k in waiting.items()):
            if i + 1 >= len(evs) or evs[i + 1]["state"] not in HOLDS:
                err(i, f"{len(holding)}/{slots} slots held while {sorted(waiting)} wait, and no start follows")

    for h, i in passed.items():
        err(i, f"job {h} was passed by as on its way out, and never ended")
    return errors, n, terminal, requeues


def case_random():
    seed = int(os.environ.get("TEST_EVICT_SEED") or random.randrange(1 << 31))
    print(f"     seed {seed} (TEST_EVICT_SEED={seed} replays these jobs)")
    modes = ["kill", "requeue", "suspend"]
    count = 500
    buses, scheds, plans = {}, {}, {}
    for k, mode in enumerate(modes):
        rng = random.Random(seed * 3 + k)
        plans[mode] = [(rng.randrange(11), round(rng.uniform(0.02, 0.2), 3),
                        0 if rng.random() < 0.2 else rng.uniform(0, 0.08)) for _ in range(count)]
        buses[mode] = Bus(f"random-{mode}-bus")
        scheds[mode] = scheduler(buses[mode], f"random-{mode}", 3, "--evict", mode, "--max-requeue", "2",
                                 "--max-suspended", "2")

    async def produce(mode):
        async with websockets.connect(buses[mode].url) as p:
            await p.send('{"cmd": "register", "type": "producer"}')
            ids = []

            async def accepted():
                while len(ids) < count:
                    ids.append(json.loads(await asyncio.wait_for(p.recv(), 30))["id"])

            reader = asyncio.create_task(accepted())
            for ref, (priority, runtime, gap) in enumerate(plans[mode]):
                await p.send(json.dumps({"cmd": "job_request", "ref": ref,
                                         "payload": {"priority": priority, "runtime": runtime}}))
                await asyncio.sleep(gap)
            await reader
            return ids

    async def produce_all():
        return await asyncio.gather(*(produce(mode) for mode in modes))

    started = time.monotonic()
    ids = dict(zip(modes, asyncio.run(produce_all())))
    for mode in modes:
        wait_for(60, f"{count} jobs ended under --evict {mode}",
                 lambda: sum(e["state"] in TERMINAL for e in events(f"random-{mode}")) >= count, step=0.2)
    print(f"     {count} jobs in each mode, all ended after {time.monotonic() - started:.1f} s")
    for mode in modes:
        stop(scheds[mode])
        stop(buses[mode].proc)

    for mode in modes:
        evs = events(f"random-{mode}")
        first = list(dict.fromkeys(e["job"] for e in evs))
        check(first == sorted(first), f"--evict {mode}: the jobs came to the scheduler in the order of their ids")
        errors, n, terminal, requeues = replay(evs, 3, mode, 2, 2)
        check(not errors, f"--evict {mode}: {len(evs)} lines replayed, every rule held"
                          + ("" if not errors else ":\n  " + "\n  ".join(errors)))
        check(sorted(terminal) == sorted(ids[mode]) and len(ids[mode]) == count,
              f"--evict {mode}: each of the {count} jobs ended once")
        ends = {s: sum(v == s for v in terminal.values()) for s in set(terminal.values())}
        print(f"     {mode}: {ends}, {n}")
        if mode == "kill":
            check(n["evicted"] > 10 and not n["requeued"] and not n["suspended"],
                  f"--evict kill: {n['evicted']} jobs evicted, none requeued or suspended")
        else:
            check(all(requeues.get(j, 0) == 2 for j, s in terminal.items() if s == "evicted"),
                  f"--evict {mode}: {ends.get('evicted', 0)} evicted, each after 2 requeues (--max-requeue 2)")
        if mode == "requeue":
            check(n["requeued"] > 10 and not n["suspended"], f"--evict requeue: {n['requeued']} requeues")
        if mode == "suspend":
            # How many are frozen depends on the plan and on timing (once two low-priority jobs are
            # frozen, every later victim is requeued until one resumes: seed 1277097567 freezes 5);
            # the replay above judged each of those choices.
            check(n["suspended"] >= 3 and n["resumed"] >= 3 and n["most frozen"] == 2,
                  f"--evict suspend: {n['suspended']} suspended, {n['resumed']} resumed, up to 2 frozen at once "
                  f"(--max-suspended 2; {n['requeued']} requeued instead)")


def kill_leftovers():
    """Every process that carries our tag (jobs that outlived a scheduler killed on a failure)."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if TAG.encode() in f.read().split(b"\0"):
                    os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass


def remove_cgroup(path):
    if not os.path.isdir(path):
        return
    for child in os.listdir(path):
        sub = os.path.join(path, child)
        if os.path.isdir(sub):
            try:
                with open(os.path.join(sub, "cgroup.kill"), "w") as f:
                    f.write("1")
            except OSError:
                pass
            for _ in range(50):
                try:
                    os.rmdir(sub)
                    break
                except OSError:
                    time.sleep(0.05)
    try:
        os.rmdir(path)
    except OSError as e:
        print(f"warning: cannot remove {path}: {e}")


try:
    for case in CASES:
        print(f"== {case}")
        started = time.monotonic()
        globals()["case_" + case.replace("-", "_")]()
        print(f"     {case}: {time.monotonic() - started:.1f} s")
    print("PASS" + (f" (skipped: {', '.join(SKIPPED)})" if SKIPPED else ""))
finally:
    for p in PROCS:
        p.terminate()
    for p in PROCS:
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    kill_leftovers()
    for path in CGROUPS:
        remove_cgroup(path)
    shutil.rmtree(DIR, ignore_errors=True)
