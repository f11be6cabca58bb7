#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Several hosts (issue 16), on the real binaries: the bus in one network namespace, a scheduler,
producers and sched-ctl in another, joined by a veth pair of their own, over wss:// with a CA,
certificates and tokens this test makes with the openssl command. Nothing leaves the machine.

  jobs      a scheduler and a producer reach wss://bus.test:8443 with their tokens: the jobs run;
  refusals  a wrong token and no token (401), a producer's token registering a scheduler
            (forbidden), ws:// on the TLS port (400, wss://), a certificate for another name (does
            not match), an unknown CA (not trusted), an expired certificate (expired), cancel with a
            producer's or an observer's token (forbidden) and with the admin's (accepted); a raw
            upgrade over TLS with a wrong token and with none (HTTP/1.1 401);
  mtls      --tls-client-ca: a client without a certificate is refused, one with it works;
  loopback  a bus on 127.0.0.1 without tokens takes a producer without one; beyond loopback without
            TLS it refuses to start unless --insecure;
  secrets   no token and no line of any private key in any log the test produced.

Every refusal is checked, then the test fails if any of them did not say what it should.

  test-tls.py SCHED-BUS SCHED-SCHEDULER SCHED-PRODUCER SCHED-CTL

Needs root (network namespaces), iproute2 and openssl; exits 77 (skipped) without them.
"""
import atexit
import base64
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time


def raw_upgrade(host, port, cafile, token_file):
    """Prints the status line the bus answers to a WebSocket upgrade over TLS, with the bearer token
    of token_file ("-": no Authorization header). Run in the client's namespace as
    `test-tls.py raw-upgrade HOST PORT CAFILE TOKEN-FILE`."""
    lines = ["GET / HTTP/1.1", f"Host: {host}:{port}", "Upgrade: websocket", "Connection: Upgrade",
             "Sec-WebSocket-Key: " + base64.b64encode(os.urandom(16)).decode(), "Sec-WebSocket-Version: 13"]
    if token_file != "-":
        with open(token_file) as f:
            lines.append("Authorization: Bearer " + f.read().strip())
    context = ssl.create_default_context(cafile=cafile)
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=host) as s:
            s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            head = b""
            while b"\r\n" not in head:
                chunk = s.recv(4096)
                if not chunk:
                    break
                head += chunk
    print(head.split(b"\r\n")[0].decode(errors="replace") or "(connection closed without an answer)")


def hold_connections(host, port, n):
    """Opens n TCP connections at once and says how many the bus closed within a second without a
    word (refused at accept: over a limit). Run in the client's namespace as
    `test-tls.py hold HOST PORT N`."""
    socks = [socket.create_connection((host, int(port)), timeout=5) for _ in range(int(n))]
    time.sleep(1)
    closed = 0
    for s in socks:
        s.setblocking(False)
        try:
            closed += s.recv(1) == b""
        except BlockingIOError:
            pass
        except ConnectionResetError:
            closed += 1
    print(f"closed {closed} of {len(socks)}")
    for s in socks:
        s.close()


if len(sys.argv) > 1 and sys.argv[1] == "raw-upgrade":
    raw_upgrade(*sys.argv[2:6])
    sys.exit(0)
if len(sys.argv) > 1 and sys.argv[1] == "hold":
    hold_connections(*sys.argv[2:5])
    sys.exit(0)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from live import *  # noqa: E402,F403 (BUS, SCHED, PRODUCER, DIR, PROCS, TAG and the helpers)

CTL = sys.argv[4]
PID = os.getpid()
NS_BUS, NS_CLI = f"schedtls-bus-{PID}", f"schedtls-cli-{PID}"
NET = f"10.213.{PID % 250 + 1}"      # a /24 of the test's own, only inside its two namespaces
BUS_IP, CLI_IP = NET + ".1", NET + ".2"
PORT = 8443
URL = f"wss://bus.test:{PORT}"
ROLES = ("producer", "scheduler", "observer", "admin")
TOKENS = {role: secrets.token_hex(16) for role in ROLES}
TOKENS["wrong"] = secrets.token_hex(16)  # in a token file, never in the bus's tokens file
MISSED = []  # refusals that did not say what they should: the test fails with all of them at the end
NAMESPACES = []


def path(name):
    return os.path.join(DIR, name)


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def cleanup():
    """Processes, namespaces, /etc/netns entries and the temporary directory: at any exit."""
    for p in PROCS:
        p.kill()
        p.wait()
    for ns in NAMESPACES:
        subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        shutil.rmtree(f"/etc/netns/{ns}", ignore_errors=True)
    try:
        os.rmdir("/etc/netns")  # only when no one else has an entry there
    except OSError:
        pass
    shutil.rmtree(DIR, ignore_errors=True)


atexit.register(cleanup)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # ctest's timeout: clean up too


def ip(*args):
    r = subprocess.run(["ip", *args], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"ip {' '.join(args)}: {r.stderr.strip()}")


def make_namespaces():
    """Two namespaces joined by a veth pair, lo up in both; bus.test is the bus's address in the
    client's (ip netns exec binds /etc/netns/NS/hosts over /etc/hosts)."""
    for ns in (NS_BUS, NS_CLI):
        r = subprocess.run(["ip", "netns", "add", ns], capture_output=True, text=True)
        if r.returncode != 0:
            if "permission" in r.stderr.lower() or "not permitted" in r.stderr.lower():
                skip(f"cannot make a network namespace (needs root): {r.stderr.strip()}")
            fail(f"ip netns add {ns}: {r.stderr.strip()}")
        NAMESPACES.append(ns)
    # Made inside the bus's namespace with its peer in the client's: nothing in the host's.
    ip("-n", NS_BUS, "link", "add", "veth-bus", "type", "veth", "peer", "name", "veth-cli", "netns", NS_CLI)
    ip("-n", NS_BUS, "addr", "add", BUS_IP + "/24", "dev", "veth-bus")
    ip("-n", NS_CLI, "addr", "add", CLI_IP + "/24", "dev", "veth-cli")
    for ns, dev in ((NS_BUS, "veth-bus"), (NS_CLI, "veth-cli")):
        ip("-n", ns, "link", "set", "lo", "up")
        ip("-n", ns, "link", "set", dev, "up")
    os.makedirs(f"/etc/netns/{NS_CLI}")
    with open(f"/etc/netns/{NS_CLI}/hosts", "w") as f:
        f.write(f"127.0.0.1 localhost\n::1 localhost\n{BUS_IP} bus.test other.test\n")
    print(f"ok: namespaces {NS_BUS} ({BUS_IP}) and {NS_CLI} ({CLI_IP}) joined by a veth pair")


def openssl(*args):
    r = subprocess.run(["openssl", *args], cwd=DIR, capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"openssl {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def make_ca(name, cn):
    """A self-signed CA: NAME.key (EC P-256) and NAME.crt."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", name + ".key", "-out", name + ".crt", "-days", "2", "-subj", f"/CN={cn}",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")


def make_request(name, cn):
    """NAME.key (EC P-256) and its certificate request NAME.csr."""
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", name + ".key", "-out", name + ".csr", "-subj", f"/CN={cn}")


def make_cert(name, cn, ca, extensions):
    """NAME.key and NAME.crt for CN, signed by the CA `ca` for two days, with these extensions."""
    make_request(name, cn)
    with open(path(name + ".ext"), "w") as f:
        f.write("\n".join(extensions) + "\n")
    openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
            "-set_serial", str(secrets.randbits(62)), "-days", "2", "-extfile", name + ".ext", "-out", name + ".crt")


def make_expired_cert(name, cn, ca):
    """A server certificate for bus.test valid only in January 2020: `openssl x509 -days` cannot go
    back in time, `openssl ca` takes any start and end date."""
    make_request(name, cn)
    os.makedirs(path("ca-db"))
    open(path("ca-db/index.txt"), "w").close()
    with open(path("ca-db/serial"), "w") as f:
        f.write("1000\n")
    with open(path("ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca = test_ca\n"
                "[test_ca]\ndatabase = ca-db/index.txt\nnew_certs_dir = ca-db\nserial = ca-db/serial\n"
                "default_md = sha256\npolicy = any\nunique_subject = no\n"
                "[any]\ncommonName = supplied\n"
                "[server]\nsubjectAltName = DNS:bus.test\nextendedKeyUsage = serverAuth\n")
    openssl("ca", "-batch", "-config", "ca.cnf", "-cert", ca + ".crt", "-keyfile", ca + ".key",
            "-in", name + ".csr", "-out", name + ".crt", "-startdate", "20200101000000Z",
            "-enddate", "20200201000000Z", "-extensions", "server", "-notext")


def make_pki():
    server = ["subjectAltName = DNS:bus.test", "extendedKeyUsage = serverAuth"]
    make_ca("ca", "sched-utils test CA")
    make_cert("bus", "bus.test", "ca", server)
    make_cert("other", "other.test", "ca", ["subjectAltName = DNS:other.test", "extendedKeyUsage = serverAuth"])
    make_expired_cert("expired", "bus.test", "ca")
    make_ca("rogue-ca", "some other CA")
    make_cert("rogue-bus", "bus.test", "rogue-ca", server)
    make_cert("client", "scheduler", "ca", ["extendedKeyUsage = clientAuth"])
    for name in os.listdir(DIR):
        if name.endswith(".key"):
            os.chmod(path(name), 0o600)
    out = subprocess.run(["openssl", "verify", "-CAfile", "ca.crt", "-verify_hostname", "bus.test", "bus.crt",
                          "expired.crt", "rogue-bus.crt"], cwd=DIR, capture_output=True, text=True)
    said = out.stdout + out.stderr
    check("bus.crt: OK" in said and "has expired" in said and "rogue-bus.crt: OK" not in said,
          "openssl: a CA, bus.test's certificate, other.test's, an expired one, another CA's, a client's")


def write_secret(name, text):
    fd = os.open(path(name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def make_tokens():
    """The bus's tokens file (`role token` lines, a comment, a blank line) and one token file per
    client role, all 0600."""
    lines = ["# sched-bus tokens of test-tls: role token"]
    for role in ROLES:
        lines.append(f"{role} {TOKENS[role]}")
        if role == "scheduler":
            lines.append("")
    write_secret("tokens", "\n".join(lines) + "\n")
    for role, token in TOKENS.items():
        write_secret(role + ".token", token + "\n")
    print("ok: tokens for producer, scheduler, observer and admin, and a wrong one")


def env():
    e = dict(os.environ)
    for k in ("STATE_DIRECTORY", "SCHED_BUS_URL", "CREDENTIALS_DIRECTORY"):
        e.pop(k, None)
    key, value = TAG.split("=", 1)
    e[key] = value
    return e


def client(name, argv, ns=NS_CLI, timeout=20):
    """Runs a command that should exit by itself in namespace `ns`, its stdout and stderr appended
    to NAME.log. Returns its exit status, what it printed this time and how long it took."""
    with open(path(name + ".log"), "a") as log:
        start_at = log.tell()
        start = time.monotonic()
        try:
            rc = subprocess.run(["ip", "netns", "exec", ns, *argv], stdin=subprocess.DEVNULL, stdout=log,
                                stderr=log, env=env(), timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            fail(f"{name} ({os.path.basename(argv[0])}) did not exit within {timeout} s")
    with open(path(name + ".log"), errors="replace") as f:
        f.seek(start_at)
        out = f.read()
    return rc, out, time.monotonic() - start


def start_bus(name, *args, ns=NS_BUS, listen=f"{BUS_IP}:{PORT}"):
    """A sched-bus in `ns`, listening when this returns."""
    p = spawn(name, ["ip", "netns", "exec", ns, BUS, "--listen", listen, *args])

    def listening():
        if p.poll() is not None:
            fail(f"{name} exited {p.returncode} instead of listening on {listen}")
        return f"Listening on {listen}" in read_log(name)

    wait_for(10, f"{name} listening on {listen}", listening)
    return p


def tls_bus(name, cert="bus", *args):
    return start_bus(name, "--tls-cert", path(cert + ".crt"), "--tls-key", path(cert + ".key"),
                     "--tokens", path("tokens"), *args)


def auth(role, ca="ca"):
    """A client's --ca and --token-file (none for role None)."""
    argv = ["--ca", path(ca + ".crt")]
    if role:
        argv += ["--token-file", path(role + ".token")]
    return argv


def producer_argv(*args, url=URL, count=1):
    return [PRODUCER, "--bus", url, "--connect-timeout", "5", "-n", str(count), "--priority", "5",
            "--runtime", "0.2", *args]


def ctl_argv(*args, url=URL):
    return [CTL, "--bus", url, "--timeout", "5", "--no-pager", *args]


def ctl_json(name, command, role="observer", *args):
    """The JSON lines sched-ctl --json COMMAND answers, with `role`'s token."""
    rc, out, _ = client(name, ctl_argv("--json", *auth(role), command, *args))
    if rc != 0:
        fail(f"sched-ctl {command} with the {role} token exited {rc}: {out.strip()}")
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def jobs_by_id(name):
    return {j["id"]: j for frame in ctl_json(name, "jobs") if frame.get("event") == "jobs" for j in frame["jobs"]}


def last_line(text):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(nothing)"


def refused(what, name, argv, *texts, ns=NS_CLI):
    """A one-shot client that must fail and say each of `texts` (any case). A miss is printed and
    kept for the end, with what the client said."""
    rc, out, took = client(name, argv, ns)
    missing = [t for t in texts if t.lower() not in out.lower()]
    if rc != 0 and not missing:
        print(f"ok: {what}: refused, exit {rc} in {took:.1f} s: {last_line(out)}")
        return
    said = " | ".join(out.strip().splitlines()[-6:]) or "(nothing)"
    miss = f"{what}: exit {rc}, missing {missing}; it said: {said}"
    print(f"FAIL: {miss}")
    MISSED.append(miss)


def expect(cond, what, said):
    """A soft check: kept for the end with `said` when it does not hold."""
    if cond:
        print(f"ok: {what}")
    else:
        print(f"FAIL: {what}; {said}")
        MISSED.append(f"{what}; {said}")


def case_jobs():
    """The main bus with the remote scheduler, which stays for the refusals."""
    bus = tls_bus("bus")
    sched = spawn("remote", ["ip", "netns", "exec", NS_CLI, SCHED, "--bus", URL, *auth("scheduler"),
                             "--cgroup", "off", "--name", "remote", "-s", "2"])
    wait_for(10, "the remote scheduler registered over wss://",
             lambda: "registered as scheduler remote" in read_log("bus") or sched.poll() is not None)
    if sched.poll() is not None:
        fail(f"the remote scheduler exited {sched.returncode}")
    print("ok: the scheduler in the other namespace registered over wss://bus.test:8443")
    rc, out, took = client("producer", producer_argv(*auth("producer"), "-p", "0.05", "--wait", count=3))
    ids = [int(i) for i in re.findall(r"Job (\d+) submitted", out)]
    check(rc == 0 and len(ids) == 3, f"the producer submitted 3 jobs over wss:// and saw them end done ({took:.1f} s)")
    done = [int(i) for i in re.findall(r" job=(\d+) [^\n]*state=done\b", read_log("remote"))]
    check(sorted(done) == sorted(ids), f"the scheduler's log has jobs {ids} done")
    table = jobs_by_id("ctl-jobs")
    check(all(table.get(i, {}).get("state") == "done" for i in ids), "sched-ctl jobs (observer token) lists them done")
    return bus, sched


def case_tokens():
    refused("producer with a wrong token", "wrong-producer", producer_argv(*auth("wrong")), "401")
    refused("sched-ctl with a wrong token", "wrong-ctl", ctl_argv(*auth("wrong"), "status"), "401")
    refused("producer without a token", "no-token-producer", producer_argv(*auth(None)), "401")
    refused("sched-ctl without a token", "no-token-ctl", ctl_argv(*auth(None), "status"), "401")

    # A producer's token registering a scheduler: an error frame "forbidden", then close 1008.
    intruder = spawn("intruder", ["ip", "netns", "exec", NS_CLI, SCHED, "--bus", URL, *auth("producer"),
                                  "--cgroup", "off", "--name", "intruder", "-s", "1"])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "forbidden" not in read_log("intruder").lower():
        time.sleep(0.05)
    said = "its log: " + " | ".join(read_log("intruder").strip().splitlines()[-6:])
    expect("forbidden" in read_log("intruder").lower(), "a scheduler with a producer's token is told forbidden", said)
    expect(re.search(r"Cannot use the bus at \S+ \(.*forbidden.*check --token-file.*trying again in [0-9.]+ s",
                     read_log("intruder")),
           "and says the bus refused it, what to check, and when it tries again", said)
    expect("1008" in read_log("intruder"), "and the bus closed its connection with 1008", said)
    names = [s.get("name") for frame in ctl_json("ctl-status", "status") if frame.get("event") == "status"
             for s in frame["schedulers"]]
    check("intruder" not in names and "remote" in names, f"the bus lists it not as a scheduler ({names})")
    check("registered as scheduler intruder" not in read_log("bus"), "and never logged it as one")
    stop(intruder, expect=None)

    refused("producer over ws:// to the TLS port", "plain-producer",
            producer_argv("--token-file", path("producer.token"), url=f"ws://bus.test:{PORT}"), "400", "wss://")
    refused("sched-ctl over ws:// to the TLS port", "plain-ctl",
            ctl_argv("--token-file", path("observer.token"), "status", url=f"ws://bus.test:{PORT}"), "400", "wss://")
    refused("producer trusting another CA", "rogue-ca-producer", producer_argv(*auth("producer", ca="rogue-ca")),
            "not trusted")

    # Raw upgrades over TLS: the status line itself.
    for label, token in (("a wrong token", "wrong"), ("no token", None), ("the producer's token", "producer")):
        rc, out, _ = client("raw-upgrade", ["/usr/bin/python3", os.path.abspath(__file__), "raw-upgrade", "bus.test",
                                            str(PORT), path("ca.crt"), path(token + ".token") if token else "-"])
        want = "HTTP/1.1 101" if token == "producer" else "HTTP/1.1 401"
        expect(rc == 0 and last_line(out).startswith(want), f"a raw upgrade over TLS with {label} gets {want}",
               f"exit {rc}: {last_line(out)}")


def case_cancel():
    rc, out, _ = client("ctl-submit", ctl_argv(*auth("producer"), "submit", "-r", "30", "-p", "5"))
    ids = re.findall(r"^(\d+)$", out, re.M)
    check(rc == 0 and ids, f"sched-ctl submit with the producer's token: job {ids[-1] if ids else '?'}")
    job = ids[-1]
    wait_for(10, f"job {job} running", lambda: re.search(rf" job={job} [^\n]*state=running", read_log("remote")))
    refused("cancel with the producer's token", "cancel-producer", ctl_argv(*auth("producer"), "cancel", job),
            "forbidden")
    refused("cancel with the observer's token", "cancel-observer", ctl_argv(*auth("observer"), "cancel", job),
            "forbidden")
    check(jobs_by_id("ctl-jobs")[int(job)]["state"] == "running", f"job {job} still runs")
    rc, out, _ = client("cancel-admin", ctl_argv(*auth("admin"), "cancel", job))
    check(rc == 0 and "forbidden" not in out.lower(), f"cancel with the admin's token is accepted: {last_line(out)}")
    wait_for(10, f"job {job} cancelled", lambda: jobs_by_id("ctl-jobs")[int(job)]["state"] == "cancelled")
    print(f"ok: job {job} ended cancelled")


def case_certificates():
    """The bus serving certificates a client must refuse, each in turn."""
    for cert, text, what in (("other", "does not match", "a certificate for other.test only"),
                             ("rogue-bus", "not trusted", "a certificate of another CA"),
                             ("expired", "expired", "an expired certificate")):
        bus = tls_bus(f"bus-{cert}", cert)
        refused(f"producer to a bus with {what}", f"{cert}-producer", producer_argv(*auth("producer")), text)
        refused(f"sched-ctl to a bus with {what}", f"{cert}-ctl", ctl_argv(*auth("observer"), "status"), text)
        stop(bus)
        failed = re.findall(r"TLS handshake with \S+ failed: (.*)\.", read_log(f"bus-{cert}"))
        check(len(failed) == 2, f"the bus with {what} logged both failed handshakes: {failed}")


def case_mtls():
    bus = tls_bus("bus-mtls", "bus", "--tls-client-ca", path("ca.crt"))
    rc, out, took = client("mtls-none", ctl_argv(*auth("observer"), "status"))
    check(rc != 0, f"mutual TLS: sched-ctl without a certificate is refused (exit {rc} in {took:.1f} s): "
                   f"{last_line(out)}")
    rc, out, took = client("mtls-none-producer", producer_argv(*auth("producer")))
    check(rc != 0, f"mutual TLS: a producer without a certificate is refused (exit {rc} in {took:.1f} s): "
                   f"{last_line(out)}")
    wait_for(5, "the bus logged why", lambda: 'we sent the alert "certificate required"' in read_log("bus-mtls"))
    print("ok: mutual TLS: the bus says a client sent no certificate")
    mine = ["--cert", path("client.crt"), "--key", path("client.key")]
    rc, out, _ = client("mtls-ctl", ctl_argv(*auth("observer"), *mine, "status"))
    check(rc == 0, f"mutual TLS: sched-ctl with the client certificate gets the status (exit {rc})")
    sched = spawn("mtls-sched", ["ip", "netns", "exec", NS_CLI, SCHED, "--bus", URL, *auth("scheduler"), *mine,
                                 "--cgroup", "off", "--name", "mtls", "-s", "2"])
    wait_for(10, "the scheduler with a client certificate registered",
             lambda: "registered as scheduler mtls" in read_log("bus-mtls"))
    rc, out, _ = client("mtls-producer", producer_argv(*auth("producer"), *mine, "-p", "0.05", "--wait", count=2))
    check(rc == 0 and len(re.findall(r"Job \d+ submitted", out)) == 2,
          "mutual TLS: a scheduler and a producer with the client certificate: 2 jobs done")
    stop(sched)
    stop(bus)


def case_loopback():
    bus = start_bus("bus-loopback", listen="127.0.0.1:8101")
    rc, out, _ = client("loopback-producer", producer_argv(url="ws://127.0.0.1:8101"), ns=NS_BUS)
    check(rc == 0 and "Job 1 submitted" in out, "loopback without tokens: a producer without a token is accepted")
    stop(bus)
    # Beyond loopback in clear text and without tokens: it must exit at once, not listen.
    plain = spawn("bus-plain", ["ip", "netns", "exec", NS_BUS, BUS, "--listen", f"{BUS_IP}:8101"])
    try:
        rc = plain.wait(10)
    except subprocess.TimeoutExpired:
        rc = None
    if rc is None:
        stop(plain, expect=None)
    else:
        PROCS.remove(plain)
    out = read_log("bus-plain")
    expect(rc not in (None, 0) and "--insecure" in out,
           f"a bus on {BUS_IP}:8101 without TLS or tokens refuses to start, naming --insecure",
           f"exit {rc}: {last_line(out)}")
    bus = start_bus("bus-insecure", "--insecure", listen=f"{BUS_IP}:8101")
    print(f"ok: with --insecure it starts on {BUS_IP}:8101")
    rc, out, _ = client("insecure-producer", producer_argv(url="ws://bus.test:8101"))
    check(rc == 0 and "Job 1 submitted" in out, "and a producer across the veth pair reaches it without a token")
    stop(bus)


def case_per_host():
    """One host beyond loopback gets --max-clients-per-host connections, not every slot; the bus says
    why it closes the others."""
    bus = tls_bus("bus-per-host", "bus", "--max-clients-per-host", "3")
    rc, out, _ = client("hold", ["/usr/bin/python3", os.path.abspath(__file__), "hold", "bus.test", str(PORT), "5"])
    check(rc == 0 and "closed 2 of 5" in out, f"--max-clients-per-host 3: 2 of 5 connections from one host closed ({out.strip()})")
    wait_for(5, "the bus's line", lambda: "connections from one host is the limit" in read_log("bus-per-host"))
    print("ok: the bus logged: " + [line for line in read_log("bus-per-host").splitlines()
                                    if "from one host" in line][0].split(": ", 1)[1])
    rc, out, _ = client("per-host-after", ctl_argv("status", *auth("observer")))
    check(rc == 0, "once they are gone, the host connects again")
    stop(bus)


def case_secrets():
    """No token and no private key line in any log (a 40-character chunk of each line of each key)."""
    logs = {name: read_log(name.removesuffix(".log")) for name in sorted(os.listdir(DIR)) if name.endswith(".log")}
    for role, token in TOKENS.items():
        found = [name for name, text in logs.items() if token in text]
        check(not found, f"the {role} token is in none of the {len(logs)} logs{f' (in {found})' if found else ''}")
    for key in sorted(n for n in os.listdir(DIR) if n.endswith(".key")):
        with open(path(key)) as f:
            body = [line.strip() for line in f if line.strip() and not line.startswith("-----")]
        chunks = {line[i:i + 40] for line in body for i in (0, max(len(line) - 40, 0))}
        found = sorted({name for name, text in logs.items() for c in chunks if c in text})
        check(not found, f"no line of {key} in any log{f' (in {found})' if found else ''}")


def main():
    for tool in ("ip", "openssl"):
        if not shutil.which(tool):
            skip(f"{tool} is not installed (iproute2, openssl)")
    if os.geteuid() != 0:
        skip("network namespaces need root")
    start = time.monotonic()
    make_namespaces()
    make_pki()
    make_tokens()
    print("== jobs")
    bus, sched = case_jobs()
    print("== refusals")
    case_tokens()
    case_cancel()
    stop(sched)
    stop(bus)
    case_certificates()
    print("== mtls")
    case_mtls()
    print("== loopback")
    case_loopback()
    print("== one host, many connections")
    case_per_host()
    print("== secrets")
    case_secrets()
    if MISSED:
        fail(f"{len(MISSED)} checks did not hold:\n  " + "\n  ".join(MISSED))
    print(f"PASS ({time.monotonic() - start:.1f} s)")


main()
