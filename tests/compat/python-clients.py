#!/usr/bin/python3
"""Wire compatibility with the original Python clients.

Runs the real sched-bus and talks to it the way the original sched_utils producer and test
scheduler did: the `websockets` library, no subprotocol, json.dumps() frames, a producer that never
reads its socket. Exits 0 when every check holds, 1 otherwise, 77 (skip) without the websockets
module.

    python-clients.py PATH/TO/sched-bus
"""
import asyncio
import json
import socket
import subprocess
import sys

try:
    import websockets
except ImportError:
    print("python3-websockets is not installed: skipping", file=sys.stderr)
    sys.exit(77)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_listening(port, timeout=10.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError("bus did not start listening")


async def original_scheduler(uri, n, received):
    # As the original test scheduler: register, then read priority and runtime of each job.
    async with websockets.connect(uri) as ws:
        await ws.send(json.dumps({"cmd": "register", "type": "scheduler"}))
        while len(received) < n:
            job = json.loads(await asyncio.wait_for(ws.recv(), 10))
            received.append((job["priority"], job["runtime"], job["id"], job))


async def original_producer(uri, jobs):
    # As the original producer: register, send, never read.
    async with websockets.connect(uri) as ws:
        await ws.send(json.dumps({"cmd": "register", "type": "producer"}))
        for priority, runtime in jobs:
            await ws.send(json.dumps({"cmd": "job_request",
                                      "payload": {"priority": priority, "runtime": runtime}}))
            await asyncio.sleep(0.01)


async def bad_client(uri):
    async with websockets.connect(uri) as ws:
        await ws.send(json.dumps({"cmd": "job_request", "payload": {"priority": 42, "runtime": 1}}))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
        await ws.send(json.dumps({"cmd": "register", "type": "producer"}))
        return reply, ws.subprotocol


async def main(bus):
    port = free_port()
    uri = f"ws://localhost:{port}"
    proc = subprocess.Popen([bus, "--listen", f"127.0.0.1:{port}"], stderr=subprocess.DEVNULL)
    failures = []

    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            failures.append(what)

    try:
        await wait_listening(port)
        jobs = [(3, 7), (0, 15), (10, 3), (5, 0)]
        received = []
        sched = asyncio.create_task(original_scheduler(uri, len(jobs), received))
        await asyncio.sleep(0.3)
        await original_producer(uri, jobs)
        await asyncio.wait_for(sched, 10)
        check([(p, r) for p, r, _, _ in received] == jobs, "scheduler gets every job in order")
        ids = [i for _, _, i, _ in received]
        check(all(isinstance(i, int) for i in ids) and ids == sorted(set(ids)), "ids are increasing integers")
        check(all(set(j) == {"priority", "runtime", "id"} for *_, j in received), "payload plus id, nothing else")

        reply, subprotocol = await bad_client(uri)
        check(reply.get("error") == "invalid_priority" and bool(reply.get("message")), "error frame for priority 42")
        check(subprotocol is None, "no subprotocol needed")
        check(proc.poll() is None, "bus still running")
    finally:
        proc.terminate()
        code = proc.wait(10)
    check(code == 0, "bus exits 0 on SIGTERM")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(asyncio.run(main(sys.argv[1])))
