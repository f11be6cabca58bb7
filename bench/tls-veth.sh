#!/bin/sh
# SPDX-License-Identifier: MIT
#
# The bus over TLS between two network namespaces (issue 16): what wss:// with tokens costs next to
# plain ws://, and next to loopback.
#
#   bench/tls-veth.sh [ROUNDS]        (as root; rounds of the three cases, default 5)
#
# Makes two namespaces joined by a veth pair with addresses of their own (10.214.0.1 and .2;
# nothing leaves the machine), a CA, a certificate for bus.test and a token. In the bus namespace,
# one sched-bus with TLS and tokens on 10.214.0.1:8443 and one plain (--insecure) on :8101; from the
# other, bench-bus-load -p 1 -s 4 against each, and against a bus on loopback as bench/run.sh
# starts it: one run of each case per round, in turn, so that the machine's noise falls on all. Then the handshake: 500 connections one after the other (TCP, TLS, the WebSocket
# upgrade with the token, close) from a Python client, with the bus's CPU time per connection read
# from /proc before and after. Every figure line carries the load average of its moment.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BENCH_BUILD_DIR:-$root/build-bench}
runs=${1:-5}
bin=$build/bench
bus=$build/daemons/bus/sched-bus
ns_bus=schedbench-bus-$$
ns_cli=schedbench-cli-$$
dir=$(mktemp -d /tmp/sched-tls-bench.XXXXXX)
pids=""

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

cleanup() {
        for p in $pids; do kill "$p" 2>/dev/null || true; done
        ip netns del "$ns_bus" 2>/dev/null || true
        ip netns del "$ns_cli" 2>/dev/null || true
        rm -rf "/etc/netns/$ns_cli" "$dir"
}
trap cleanup EXIT INT TERM

if [ ! -f "$build/CMakeCache.txt" ]; then
        cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSCHED_WERROR=ON >/dev/null
fi
cmake --build "$build" -j2 --target bench-bus-load sched-bus >/dev/null

# The two namespaces and the veth pair.
ip netns add "$ns_bus"
ip netns add "$ns_cli"
ip link add "sb$$" type veth peer name "sc$$"
ip link set "sb$$" netns "$ns_bus"
ip link set "sc$$" netns "$ns_cli"
ip -n "$ns_bus" addr add 10.214.0.1/24 dev "sb$$"
ip -n "$ns_cli" addr add 10.214.0.2/24 dev "sc$$"
for ns in "$ns_bus" "$ns_cli"; do
        ip -n "$ns" link set lo up
done
ip -n "$ns_bus" link set "sb$$" up
ip -n "$ns_cli" link set "sc$$" up
mkdir -p "/etc/netns/$ns_cli"
printf '127.0.0.1 localhost\n10.214.0.1 bus.test\n' >"/etc/netns/$ns_cli/hosts"

# A CA, the bus's certificate (EC P-256, as the README advises) and a token with every right.
cd "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt \
        -days 2 -subj "/CN=bench CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout bus.key -out bus.csr \
        -subj "/CN=bus.test" 2>/dev/null
printf 'subjectAltName=DNS:bus.test\n' >ext
openssl x509 -req -in bus.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out bus.crt -days 2 \
        -extfile ext 2>/dev/null
token=$(openssl rand -hex 32)
printf 'admin %s\n' "$token" >tokens
printf '%s\n' "$token" >token
chmod 600 tokens token bus.key

ip netns exec "$ns_bus" "$bus" -l 10.214.0.1:8443 --tls-cert bus.crt --tls-key bus.key --tokens tokens \
        --max-queue 65536 --max-queue-bytes 64M >tls-bus.log 2>&1 &
tls_pid=$!
pids="$pids $tls_pid"
ip netns exec "$ns_bus" "$bus" -l 10.214.0.1:8101 --insecure --max-queue 65536 --max-queue-bytes 64M \
        >plain-bus.log 2>&1 &
plain_pid=$!
pids="$pids $plain_pid"
sleep 1

echo "# tls-veth $(date -u '+%Y-%m-%d %H:%M:%S') UTC, $(nproc) CPUs, $runs rounds"
echo "## 1x4 throughput (bench-bus-load -p 1 -s 4 -n 200000 --rate 0), the three cases in turn each round"
# load_one CASE ARGS...: one run of bench-bus-load; prints "CASE delivered/s per-bus-CPU-s bench-CPU load".
load_one() {
        name=$1
        shift
        "$@" -p 1 -s 4 -n 200000 --rate 0 --runs 1 --no-baseline |
                awk -v n="$name" '$1 == "1" { printf "%-9s %10s %12s %9s %6s\n", n, $5, $8, $7, $10 }'
}
printf '%-9s %10s %12s %9s %6s\n' case delivered/s per_bus_cpu_s bench_cpu load >"$dir/rounds"
for round in $(seq "$runs"); do
        load_one wss-veth ip netns exec "$ns_cli" "$bin/bench-bus-load" --url wss://bus.test:8443 --ca ca.crt \
                --token-file token --bus-pid "$tls_pid" >>"$dir/rounds"
        load_one ws-veth ip netns exec "$ns_cli" "$bin/bench-bus-load" --url ws://10.214.0.1:8101 \
                --bus-pid "$plain_pid" >>"$dir/rounds"
        load_one ws-lo "$bin/bench-bus-load" >>"$dir/rounds"
done
cat "$dir/rounds"
# Medians and ranges per case, and each case's ratio to plain loopback.
awk 'NR > 1 { v[$1] = v[$1] " " $2; c[$1] = c[$1] " " $3 }
     function median(list,   a, n, i, j, t) {
             n = split(list, a, " ")
             for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
             lo = a[1]; hi = a[n]
             return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
     }
     END {
             base = median(c["ws-lo"])
             for (k in v) {
                     m = median(v[k]); r1 = lo; r2 = hi; mc = median(c[k])
                     printf "RESULT tls_veth %s delivered_per_s=%d [%d-%d] per_bus_cpu_s=%d ratio_to_ws_lo=%.2f\n", k, m, r1, r2, mc, mc / base
             }
     }' "$dir/rounds" | sort
echo "## handshakes, one after the other, load average $(loadavg)"
for kind in wss ws; do
        if [ "$kind" = wss ]; then pid=$tls_pid; url=wss://bus.test:8443/; else pid=$plain_pid; url=ws://10.214.0.1:8101/; fi
        ip netns exec "$ns_cli" /usr/bin/python3 - "$url" "$pid" ca.crt "$token" "$(loadavg)" <<'EOF'
import base64, os, socket, ssl, sys, time

url, pid, ca, token, load = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
tls = url.startswith("wss://")
host, port = url.split("//")[1].rstrip("/").split(":")
N = 500


def bus_cpu():
    # utime + stime of the bus, in clock ticks, from the root namespace's /proc (shared here).
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


ctx = ssl.create_default_context(cafile=ca) if tls else None
request = (f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
           f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n").encode()
cpu0, t0 = bus_cpu(), time.monotonic()
for _ in range(N):
    s = socket.create_connection((host, int(port)))
    if tls:
        s = ctx.wrap_socket(s, server_hostname=host)
    s.sendall(request)
    answer = s.recv(4096)
    if not answer.startswith(b"HTTP/1.1 101"):
        sys.exit(f"handshake refused: {answer[:40]!r}")
    s.close()
wall, cpu = time.monotonic() - t0, bus_cpu() - cpu0
print(f"RESULT handshake {'wss' if tls else 'ws '} n={N} wall/conn={wall / N * 1e3:.2f} ms "
      f"bus_cpu/conn={cpu / N * 1e6:.0f} us (load average {load})")
EOF
done
