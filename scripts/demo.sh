#!/usr/bin/env bash
# README command 1: installs what is needed, builds, and runs the whole system in the foreground on
# loopback — sched-bus, sched-scheduler with 5 slots, and sched-producer submitting a job every
# 0.7 s — so that within half a minute jobs are queued, run, evicted and time out.
# Ctrl-C (or --duration) stops everything and leaves no process behind.
#
#   scripts/demo.sh [--port PORT] [--duration SEC] [--period SEC]
set -euo pipefail
cd "$(dirname "$0")/.."

port=8101
duration=0
period=0.7
while [ $# -gt 0 ]; do
    case "$1" in
        --port) port=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --period) period=$2; shift 2 ;;
        -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "demo.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
    esac
done

scripts/deps.sh build
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)" --target sched-bus sched-scheduler sched-producer

bin=build/daemons
pids=()
stop() {
    trap - INT TERM EXIT
    echo "demo: stopping" >&2
    # Producer first, then the scheduler (it terminates its jobs), then the bus.
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
        kill -TERM "${pids[i]}" 2>/dev/null || true
        wait "${pids[i]}" 2>/dev/null || true
    done
}
trap stop INT TERM EXIT

echo "demo: bus on 127.0.0.1:$port, scheduler with 5 slots and a 10 s timeout, a job every $period s" >&2
"$bin/bus/sched-bus" --listen "127.0.0.1:$port" &
pids+=($!)
"$bin/scheduler/sched-scheduler" -s 5 -t 10 --bus "ws://127.0.0.1:$port" &
pids+=($!)
"$bin/producer/sched-producer" -p "$period" --bus "ws://127.0.0.1:$port" &
pids+=($!)

if [ "$duration" != 0 ]; then
    sleep "$duration"
else
    wait "${pids[2]}" || true
fi
