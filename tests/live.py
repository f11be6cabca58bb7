# SPDX-License-Identifier: MIT
"""What the Python integration tests share: the real binaries on loopback, each with its log in a
temporary directory of the test's own.

    import live
    from live import *   # BUS, SCHED, PRODUCER (argv[1:4]), DIR, PROCS, TAG and the helpers

Every process started here carries TAG in its environment (so do its jobs), without
STATE_DIRECTORY, so that nothing is kept from or for anyone else and a test running beside another
never takes the other's jobs for its own.
"""
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import websockets

BUS, SCHED, PRODUCER = sys.argv[1:4]
DIR = tempfile.mkdtemp(prefix=os.path.basename(sys.argv[0]).removesuffix(".py") + "-")
PROCS = []
TAG = "SCHED_TEST_TAG=" + DIR

__all__ = ["BUS", "SCHED", "PRODUCER", "DIR", "PROCS", "TAG", "fail", "check", "free_port", "spawn",
           "read_log", "wait_for", "stop", "Bus", "scheduler"]


def fail(msg):
    print(f"FAIL: {msg}")
    for name in sorted(os.listdir(DIR)):
        path = os.path.join(DIR, name)
        if name.endswith(".log") and os.path.getsize(path) > 0:
            print(f"--- {name} (last 40 lines)")
            with open(path, errors="replace") as f:
                print("".join(f.readlines()[-40:]), end="")
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)
    print(f"ok: {msg}")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def spawn(name, argv):
    env = dict(os.environ)
    env.pop("STATE_DIRECTORY", None)
    key, value = TAG.split("=", 1)
    env[key] = value
    log = open(os.path.join(DIR, name + ".log"), "a")
    p = subprocess.Popen(argv, stdout=log, stderr=log, stdin=subprocess.DEVNULL, env=env)
    p.name = name
    PROCS.append(p)
    return p


def read_log(name):
    with open(os.path.join(DIR, name + ".log"), errors="replace") as f:
        return f.read()


def wait_for(seconds, what, cond, step=0.05):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(step)
    fail(f"not within {seconds} s: {what}")


def stop(p, sig=signal.SIGTERM, expect=0):
    p.send_signal(sig)
    try:
        rc = p.wait(15)
    except subprocess.TimeoutExpired:
        p.kill()
        fail(f"{p.name} did not stop within 15 s")
    PROCS.remove(p)
    if expect is not None and rc != expect:
        fail(f"{p.name} exited {rc}, expected {expect}")


class Bus:
    """A sched-bus listening on a free port (or `port`), with `--state-dir state` if given."""

    def __init__(self, name, *args, state=None, port=None):
        self.port = port or free_port()
        self.url = f"ws://127.0.0.1:{self.port}"
        self.name = name
        argv = [BUS, "--listen", f"127.0.0.1:{self.port}", *args]
        if state:
            argv += ["--state-dir", state]
        self.proc = spawn(name, argv)
        wait_for(10, f"{name} listening", lambda: f"Listening on 127.0.0.1:{self.port}" in read_log(name))

    async def ask_async(self, frame):
        async with websockets.connect(self.url, max_size=64 << 20) as ws:
            await ws.send(json.dumps(frame))
            return json.loads(await asyncio.wait_for(ws.recv(), 10))

    def ask(self, frame):
        return asyncio.run(self.ask_async(frame))

    def status(self):
        return self.ask({"cmd": "status"})


def scheduler(bus, name, slots, *extra, cgroup="off", job=None):
    """A sched-scheduler of `slots` named `name`, registered with `bus` when this returns."""
    argv = [SCHED, "--bus", bus.url, "--cgroup", cgroup, "--name", name, "-s", str(slots), *extra]
    if job:
        argv += ["--exec", *job]
    p = spawn(name, argv)
    wait_for(10, f"{name} registered", lambda: any(s.get("name") == name for s in bus.status()["schedulers"]))
    return p
