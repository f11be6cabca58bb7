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


async def recv_or_none(ws, timeout):
    try:
        return json.loads(await asyncio.wait_for(ws.recv(), timeout))
    except asyncio.TimeoutError:
        return None


async def mixed_with_version_2(uri, check):
    # The original clients next to the new ones (a reporting scheduler, an observer, a cancel): they
    # see exactly what they saw before.
    async with websockets.connect(uri) as old_sched, websockets.connect(uri) as new_sched, \
            websockets.connect(uri) as observer, websockets.connect(uri) as old_prod:
        await old_sched.send(json.dumps({"cmd": "register", "type": "scheduler"}))
        await new_sched.send(json.dumps({"cmd": "register", "type": "scheduler", "name": "py@2", "slots": 2}))
        await observer.send(json.dumps({"cmd": "register", "type": "observer"}))
        await old_prod.send(json.dumps({"cmd": "register", "type": "producer"}))
        await asyncio.sleep(0.2)
        await old_prod.send(json.dumps({"cmd": "job_request", "payload": {"priority": 4, "runtime": 9}}))
        old_job = await recv_or_none(old_sched, 5)
        new_job = await recv_or_none(new_sched, 5)
        check(old_job is not None and set(old_job) == {"priority", "runtime", "id"},
              "original scheduler next to a reporting one: the bare payload")
        check(new_job is not None and new_job.get("cmd") == "job" and new_job["payload"].get("id") == old_job["id"],
              "the reporting scheduler gets the same job, wrapped")
        job_id = old_job["id"]
        await new_sched.send(json.dumps({"cmd": "job_event", "id": job_id, "state": "running"}))
        event = await recv_or_none(observer, 5)
        check(event is not None and event.get("event") == "job" and event.get("state") == "running"
              and event.get("scheduler") == "py@2", "the observer sees the reporting scheduler's event")
        await observer.send(json.dumps({"cmd": "cancel", "id": job_id}))
        reply = await recv_or_none(observer, 5)
        check(reply == {"event": "cancelling", "id": job_id, "schedulers": 1}, "cancel goes to the one that can")
        cancel = await recv_or_none(new_sched, 5)
        check(cancel == {"cmd": "cancel", "id": job_id}, "the reporting scheduler gets the cancel")
        check(await recv_or_none(old_sched, 0.5) is None, "the original scheduler gets no cancel")
        check(await recv_or_none(old_prod, 0.5) is None, "an original producer gets nothing back")
        await observer.send(json.dumps({"cmd": "status"}))
        status = await recv_or_none(observer, 5)
        kinds = sorted((s["name"] or "", s["reports"]) for s in status["schedulers"]) if status else []
        check(kinds == [("", False), ("py@2", True)], "status lists both schedulers, the original one as not reporting")


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
        await mixed_with_version_2(uri, check)
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
