#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Delivery end to end (issue 13), on the real binaries over loopback:

  one       --dispatch=one, schedulers of 2 and 5 slots, 200 short jobs: each job runs exactly once
            (the schedulers' own log lines), and no slot sits idle for more than 50 ms while a job
            waits anywhere (the bus's job table: submit, start and end times of every job);
  evict     --dispatch=one with every slot taken: an urgent job evicts on the scheduler where that
            costs least (its least urgent running job is the least urgent of all), nowhere else;
  turns     --dispatch=one with two schedulers of version 1 (they report nothing): they take turns;
  held      jobs submitted with no scheduler, across a SIGTERM and a kill -9 of the bus, all run
            once on the scheduler that registers after;
  redispatch  a reporting scheduler that leaves with jobs it had not started: they go to another
            one, and run there once;
  full      --dispatch=one, one busy slot, --hold 5, a producer sending 40 jobs at once: the bus
            stops reading it instead of dropping anything, and every job runs;
  burst     30,000 jobs of 1 KiB (30 MB) from one producer to a fast and a slow reader and one that
            never reads: both readers get every job, the silent one is closed after --stall-timeout,
            nothing else is closed, no job is dropped.
  events    a scheduler of 8 slots running 3,000 zero-length jobs sent at once: the bus hears of
            the jobs' ends while the burst runs (its job table's `ended` times spread over most of
            the scheduler's own), not all at once after it.

  test-dispatch.py SCHED-BUS SCHED-SCHEDULER SCHED-PRODUCER [CASE...]
"""
import asyncio
import base64
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
from live import *  # noqa: E402,F403 (BUS, SCHED, PRODUCER, DIR, PROCS and the helpers)

CASES = sys.argv[4:] or ["one", "evict", "turns", "held", "redispatch", "full", "burst", "events"]


def produce(bus, name, *args, expect=0):
    with open(os.path.join(DIR, name + ".log"), "a") as log:
        rc = subprocess.run([PRODUCER, "--bus", bus.url, *args], stdout=log, stderr=log, timeout=120).returncode
    if rc != expect:
        fail(f"producer {name} exited {rc}, expected {expect}")
    return [int(i) for i in re.findall(r"Job (\d+) submitted", read_log(name))]


def runs(name, state="running"):
    """Job ids with a `state=STATE` line in a scheduler's log, one entry per line."""
    return [int(m) for m in re.findall(rf" job=(\d+) [^\n]*state={state}\b", read_log(name))]


def case_one():
    bus = Bus("one-bus", "--dispatch", "one")
    s2 = scheduler(bus, "s2", 2)
    s5 = scheduler(bus, "s5", 5)
    # Runtimes from 50 to 400 ms: with equal ones, any split in proportion to the slots would do.
    rng = random.Random(13)

    async def submit():
        async with websockets.connect(bus.url) as p:
            await p.send('{"cmd": "register", "type": "producer"}')
            for i in range(200):
                await p.send(json.dumps({"cmd": "job_request", "ref": i,
                                         "payload": {"priority": 5, "runtime": round(rng.uniform(0.05, 0.4), 3)}}))
                await asyncio.sleep(0.005)
            return sorted([json.loads(await asyncio.wait_for(p.recv(), 10))["id"] for _ in range(200)])

    ids = asyncio.run(submit())
    check(ids == list(range(1, 201)), "200 jobs accepted, ids 1 to 200")
    wait_for(60, "200 jobs ended", lambda: len(runs("s2", "done") + runs("s5", "done")) >= 200)
    started = runs("s2") + runs("s5")
    check(sorted(started) == ids, f"each ran exactly once: {len(runs('s2'))} on s2, {len(runs('s5'))} on s5")
    check(runs("s2", "done") + runs("s5", "done") and len(runs("s2", "done") + runs("s5", "done")) == 200,
          "and each ended done")

    # The bus's table: when each job was submitted, started and ended, and where.
    table = bus.ask({"cmd": "jobs", "limit": 1000})
    check(len(table["jobs"]) == 200, "the bus's table holds the 200 jobs")
    slots = {"s2": 2, "s5": 5}
    points = []  # (time, kind, scheduler)
    for j in table["jobs"]:
        check(len(j["schedulers"]) == 1, f"job {j['id']} went to one scheduler") if j["id"] == 1 else None
        if len(j["schedulers"]) != 1:
            fail(f"job {j['id']} went to {len(j['schedulers'])} schedulers")
        r = j["schedulers"][0]
        points += [(j["submitted"], 0, None), (r["started"], 1, r["name"]), (r["ended"], 2, r["name"])]
    # Sweep: while some job waits (submitted, not started) and some scheduler has a free slot, the
    # clock of an idle slot runs; it must never run 50 ms in one go.
    waiting, running = 0, {n: 0 for n in slots}
    idle_since, worst = None, 0.0
    for t, kind, name in sorted(points, key=lambda p: (p[0], p[1])):
        if kind == 0:
            waiting += 1
        elif kind == 1:
            waiting -= 1
            running[name] += 1
        else:
            running[name] -= 1
        idle = waiting > 0 and any(running[n] < slots[n] for n in slots)
        if idle and idle_since is None:
            idle_since = t
        elif not idle and idle_since is not None:
            worst = max(worst, t - idle_since)
            idle_since = None
    check(max(running.values()) == 0 and waiting == 0, "the sweep ends with nothing running or waiting")
    check(worst <= 0.050, f"no slot idle while a job waited for more than 50 ms (longest: {worst * 1000:.1f} ms)")
    check("Job 1 goes to" not in read_log("one-bus"), "choices are logged at debug level only")
    stop(s2)
    stop(s5)
    stop(bus.proc)


def case_evict():
    bus = Bus("evict-bus", "--dispatch", "one", "-v")
    e2 = scheduler(bus, "e2", 2)
    produce(bus, "evict-p8", "-n", "2", "-p", "0.01", "--runtime", "30", "--priority", "8")
    wait_for(10, "e2 runs two priority-8 jobs", lambda: len(runs("e2")) == 2)
    e5 = scheduler(bus, "e5", 5)
    produce(bus, "evict-p3", "-n", "5", "-p", "0.01", "--runtime", "30", "--priority", "3")
    wait_for(10, "e5 runs five priority-3 jobs", lambda: len(runs("e5")) == 5)
    urgent = produce(bus, "evict-p0", "-n", "1", "--runtime", "0.5", "--priority", "0")[0]
    wait_for(10, "the urgent job ran on e2", lambda: urgent in runs("e2", "done"))
    check(len(runs("e2", "evicted")) == 1 and runs("e2", "evicted")[0] in (1, 2),
          "it evicted one priority-8 job on e2, the cheapest eviction")
    check(not runs("e5", "evicted") and urgent not in runs("e5"), "and nothing on e5")
    check(f"Job {urgent} goes to e2" in read_log("evict-bus"), "the choice is in the bus's debug log")
    stop(e2)
    stop(e5)
    stop(bus.proc)


def case_turns():
    bus = Bus("turns-bus", "--dispatch", "one")

    async def go():
        got = {"a": [], "b": []}

        async def legacy(name, ready):
            async with websockets.connect(bus.url) as ws:
                await ws.send(json.dumps({"cmd": "register", "type": "scheduler"}))
                ready.set()
                try:
                    while True:
                        got[name].append(json.loads(await asyncio.wait_for(ws.recv(), 2))["id"])
                except asyncio.TimeoutError:
                    pass

        ready = [asyncio.Event(), asyncio.Event()]
        tasks = [asyncio.create_task(legacy("a", ready[0])), asyncio.create_task(legacy("b", ready[1]))]
        for r in ready:
            await r.wait()
        while (await bus.ask_async({"cmd": "status"}))["bus"]["schedulers"] != 2:
            await asyncio.sleep(0.05)
        async with websockets.connect(bus.url) as p:
            for _ in range(10):
                await p.send('{"cmd": "job_request", "payload": {"priority": 3, "runtime": 1}}')
            await asyncio.gather(*tasks)
        return got

    got = asyncio.run(go())
    check(sorted(got["a"] + got["b"]) == list(range(1, 11)), "each job went to one of them")
    check(len(got["a"]) == 5 and len(got["b"]) == 5, f"five each, in turns ({got})")
    stop(bus.proc)


def case_held():
    state = os.path.join(DIR, "held-state")
    os.mkdir(state)
    bus = Bus("held-bus", state=state)
    ids = produce(bus, "held-p1", "-n", "4", "-p", "0.01", "--runtime", "0.1")
    check("is held by the bus" in read_log("held-p1"), "the producer is told its jobs are held")
    check(bus.status()["bus"]["held"] == 4, "the bus holds 4 jobs")
    stop(bus.proc)  # SIGTERM
    bus = Bus("held-bus2", state=state, port=bus.port)
    check(bus.status()["bus"]["held"] == 4, "4 held after a restart (SIGTERM)")
    ids += produce(bus, "held-p2", "-n", "3", "-p", "0.01", "--runtime", "0.1")
    stop(bus.proc, signal.SIGKILL, expect=None)
    bus = Bus("held-bus3", state=state, port=bus.port)
    check(bus.status()["bus"]["held"] == 7, "7 held after a kill -9")
    check(len(set(ids)) == 7, f"ids never repeat across the restarts: {ids}")
    h = scheduler(bus, "h5", 5)
    wait_for(20, "all 7 ran", lambda: len(runs("h5", "done")) >= 7)
    time.sleep(0.5)
    check(sorted(runs("h5")) == sorted(ids), "every held job ran exactly once on the scheduler that came")
    check(bus.status()["bus"]["held"] == 0, "and the bus holds none")
    stop(h)
    stop(bus.proc)
    check(os.path.getsize(os.path.join(state, "held-jobs")) == 0, "its held-jobs file is empty")


def case_redispatch():
    bus = Bus("re-bus", "--dispatch", "one")

    async def fake_then_real():
        # A reporting scheduler that queues what it gets and leaves without starting any of it.
        async with websockets.connect(bus.url) as fake:
            await fake.send(json.dumps({"cmd": "register", "type": "scheduler", "name": "fake", "slots": 2,
                                        "load": {"running": 0, "waiting": 0, "received": 0}}))
            while not any(s.get("name") == "fake" for s in (await bus.ask_async({"cmd": "status"}))["schedulers"]):
                await asyncio.sleep(0.05)
            async with websockets.connect(bus.url) as p:
                for _ in range(2):
                    await p.send('{"cmd": "job_request", "payload": {"priority": 4, "runtime": 0.2}}')
                got = [json.loads(await asyncio.wait_for(fake.recv(), 10)) for _ in range(2)]
            ids = [g["payload"]["id"] for g in got]
            await fake.send(json.dumps({"cmd": "job_event", "events": [{"id": i, "state": "queued"} for i in ids],
                                        "load": {"running": 0, "waiting": 2, "received": 2}}))
            await asyncio.sleep(0.2)
        return ids

    ids = asyncio.run(fake_then_real())
    wait_for(5, "both jobs held again", lambda: bus.status()["bus"]["held"] == 2)
    check(bus.status()["bus"]["redispatched"] == 2, "the bus took back the 2 jobs the fake scheduler had queued")
    check("left with 2 jobs it had not started" in read_log("re-bus"), "and said so")
    r = scheduler(bus, "r2", 2)
    wait_for(10, "they ran on r2", lambda: sorted(runs("r2", "done")) == sorted(ids))
    table = bus.ask({"cmd": "jobs"})
    names = {j["id"]: [s["name"] for s in j["schedulers"]] for j in table["jobs"]}
    check(all(names[i] == ["r2"] for i in ids), f"each job's only run is on r2 ({names})")
    stop(r)
    stop(bus.proc)


def case_full():
    bus = Bus("full-bus", "--dispatch", "one", "--hold", "5")
    f1 = scheduler(bus, "f1", 1)

    async def burst():
        async with websockets.connect(bus.url) as p:
            await p.send('{"cmd": "register", "type": "producer"}')
            for i in range(40):
                await p.send(json.dumps({"cmd": "job_request", "payload": {"priority": 5, "runtime": 0.05}}))
            most = 0
            while len(runs("f1", "done")) < 40:
                st = (await bus.ask_async({"cmd": "status"}))["bus"]
                most = max(most, st["held"])
                await asyncio.sleep(0.02)
            return most, st

    most, st = asyncio.run(burst())
    st = bus.status()["bus"]
    check(st["dropped"] == 0 and st["forwarded"] == 40, f"nothing dropped ({st['forwarded']} forwarded)")
    check(st["pauses"] >= 1, f"the bus stopped reading the producer ({st['pauses']} pauses)")
    check(most <= 5 + 2, f"and held at most about --hold jobs meanwhile ({most})")
    check(sorted(runs("f1")) == list(range(1, 41)), "every job ran once")
    stop(f1)
    stop(bus.proc)


def raw_silent_scheduler(port):
    """A scheduler that registers and then never reads a byte."""
    s = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert b" 101 " in head.split(b"\r\n")[0], head
    payload = b'{"cmd": "register", "type": "scheduler"}'
    mask = os.urandom(4)
    s.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    return s


def case_burst():
    n, stall = 30000, 3
    bus = Bus("burst-bus", "--stall-timeout", str(stall))
    silent = raw_silent_scheduler(bus.port)
    pad = "x" * 1000

    async def go():
        got = {"fast": [], "slow": []}
        closed = {}

        async def reader(name, delay):
            async with websockets.connect(bus.url, max_size=1 << 20, ping_interval=None) as ws:
                await ws.send('{"cmd": "register", "type": "scheduler"}')
                ready[name].set()
                try:
                    while len(got[name]) < n:
                        msg = json.loads(await asyncio.wait_for(ws.recv(), 60))
                        got[name].append(msg["id"])
                        if delay and len(got[name]) % 50 == 0:
                            await asyncio.sleep(delay)
                except websockets.ConnectionClosed as e:
                    closed[name] = e.code

        ready = {"fast": asyncio.Event(), "slow": asyncio.Event()}
        tasks = [asyncio.create_task(reader("fast", 0)), asyncio.create_task(reader("slow", 0.015))]
        await ready["fast"].wait()
        await ready["slow"].wait()
        while (await bus.ask_async({"cmd": "status"}))["bus"]["schedulers"] != 3:
            await asyncio.sleep(0.05)
        start = time.monotonic()
        async with websockets.connect(bus.url, ping_interval=None) as p:
            await p.send('{"cmd": "register", "type": "producer"}')
            for i in range(n):
                await p.send(json.dumps({"cmd": "job_request", "payload": {"priority": i % 11, "runtime": 1,
                                                                              "pad": pad}}))
            sent = time.monotonic() - start
            await asyncio.wait_for(asyncio.gather(*tasks), 120)
            producer_open = p.open
        return got, closed, sent, time.monotonic() - start, producer_open

    got, closed, sent, total, producer_open = asyncio.run(go())
    log = read_log("burst-bus")
    print(f"     {n} jobs sent in {sent:.1f} s, all received in {total:.1f} s")
    check(not closed, f"neither live reader was closed ({closed})")
    for name in ("fast", "slow"):
        check(sorted(got[name]) == list(range(1, n + 1)), f"the {name} reader got each of the {n} jobs once")
    check(log.count("took nothing of its") == 1, "the silent scheduler was closed for its stall")
    st = bus.status()["bus"]
    check(st["pauses"] >= 1, f"the producer was held back ({st['pauses']} pauses), not refused")
    check(log.count("Closing client") == 1 and "send queue is full" not in log, "nobody else was closed")
    check(producer_open, "the producer's connection stayed open")
    check(st["dropped"] == 0 and st["forwarded"] == n, f"no job dropped ({st['forwarded']} forwarded)")
    silent.close()
    stop(bus.proc)


def log_stamps(name, state):
    """The time of day, in seconds, of each `state=STATE` line of a log (to the millisecond)."""
    out = []
    for m in re.finditer(rf"^\d{{4}}-\d\d-\d\dT(\d\d):(\d\d):(\d\d\.\d{{3}})\S* [^\n]* state={state}\b",
                         read_log(name), re.M):
        out.append(int(m[1]) * 3600 + int(m[2]) * 60 + float(m[3]))
    return out


def case_events():
    n = 3000
    bus = Bus("events-bus", "--history", str(2 * n))
    ev = scheduler(bus, "ev", 8, job=["/bin/true"])

    async def burst():
        async with websockets.connect(bus.url, ping_interval=None) as p:
            await p.send('{"cmd": "register", "type": "producer"}')
            for i in range(n):
                await p.send('{"cmd": "job_request", "payload": {"priority": 5, "runtime": 0}}')
            deadline = time.monotonic() + 120
            while len(runs("ev", "done")) < n and time.monotonic() < deadline:
                await asyncio.sleep(0.2)

    asyncio.run(burst())
    done = sorted(log_stamps("ev", "done"))
    check(len(done) == n, f"the scheduler logged {n} ends ({len(done)})")
    ran = done[-1] - done[0]
    ended = sorted(r["ended"] for j in bus.ask({"cmd": "jobs", "limit": n})["jobs"] for r in j["schedulers"]
                   if r.get("ended"))
    check(len(ended) == n, f"the bus heard of {n} ends ({len(ended)})")
    heard = ended[-1] - ended[0]
    print(f"     the scheduler's ends spread over {ran:.2f} s, the bus heard of them over {heard:.2f} s")
    check(ran > 0.5 and heard >= 0.5 * ran, "the bus heard of the ends as they came, not after the burst")
    stop(ev)
    stop(bus.proc)


try:
    for case in CASES:
        print(f"== {case}")
        globals()["case_" + case]()
    print("PASS")
finally:
    for p in PROCS:
        p.kill()
        p.wait()
    shutil.rmtree(DIR, ignore_errors=True)
