#!/bin/sh
# SPDX-License-Identifier: MIT
#
# Runs the benchmarks of sched-utils, one command each (see bench/README.md):
#
#   bench/run.sh bus | spawn | idle | memory | timeout | all
#
# Builds the benchmark programs first (Release, in build-bench/ unless BENCH_BUILD_DIR says
# otherwise). Each program prints its own table; the raw output is also kept in
# $BENCH_BUILD_DIR/bench/results/NAME.txt, and `all` ends with every RESULT line.
#
# Other engineers build and test on the same two cores: run when the machine is quiet, and compare
# only medians and ratios taken within one run.
#
# Environment: BENCH_RUNS (runs per benchmark, default 5), SPAWN_JOBS (jobs per case of the spawn
# benchmark, default 10000), BENCH_BUILD_DIR.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${BENCH_BUILD_DIR:-$root/build-bench}
runs=${BENCH_RUNS:-5}
spawn_jobs=${SPAWN_JOBS:-10000}
bin=$build/bench
results=$bin/results

usage() {
        echo "Usage: $0 bus|spawn|idle|memory|timeout|all" >&2
        exit 2
}

build_bench() {
        if [ ! -f "$build/CMakeCache.txt" ]; then
                cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSCHED_WERROR=ON >/dev/null
        fi
        cmake --build "$build" -j2 --target bench-bus-load bench-spawn bench-idle bench-memory bench-timeout \
                bench-timeout-job >/dev/null
        mkdir -p "$results"
}

# run NAME COMMAND...: prints the output and keeps it in results/NAME.txt.
run() {
        name=$1
        shift
        "$@" | tee "$results/$name.txt"
}

bench_bus() {
        {
                "$bin/bench-bus-load" --pin -p 1 -s 4 -n 200000 --rate 20000 --duration 5 --runs "$runs"
                "$bin/bench-bus-load" --pin -p 1 -s 1 -n 200000 --rate 0 --runs "$runs" | grep -v '^#'
                "$bin/bench-bus-load" --pin -p 4 -s 4 -n 200000 --rate 0 --runs "$runs" | grep -v '^#'
                "$bin/bench-bus-load" --pin --scale 1,2,4,8,16,32,64 -n 100000 --runs "$runs" | grep -v '^#'
        } | tee "$results/bus.txt"
}

bench_spawn() {
        run spawn "$bin/bench-spawn" -n "$spawn_jobs" -s 8 --runs "$runs"
}

bench_idle() {
        {
                "$bin/bench-idle" --seconds 10 --watchdog 2 --runs "$runs" --strace
                echo
                # One long window: timers slower than the 10 s windows show up here.
                "$bin/bench-idle" --seconds 65 --watchdog 2 --runs 1 | grep -v '^#'
        } | tee "$results/idle.txt"
}

bench_memory() {
        run memory "$bin/bench-memory" --steps 0,1000,5000 --runs "$runs"
}

bench_timeout() {
        {
                "$bin/bench-timeout" -n 200 -s 200 -t 0.5 --runtime 5 --runs "$runs"
                echo
                "$bin/bench-timeout" -n 200 -s 200 -t 0.5 --runtime 5 --rate 20 --runs "$runs"
                echo
                # A timeout shorter than the burst of spawns takes: timers against a busy loop.
                "$bin/bench-timeout" -n 200 -s 200 -t 0.1 --runtime 5 --runs "$runs"
        } | tee "$results/timeout.txt"
}

[ $# -eq 1 ] || usage
case $1 in
bus | spawn | idle | memory | timeout)
        build_bench
        "bench_$1"
        ;;
all)
        build_bench
        for b in bus memory idle timeout spawn; do
                "bench_$b"
                echo
        done
        echo "## every RESULT line"
        cat "$results"/bus.txt "$results"/memory.txt "$results"/idle.txt "$results"/timeout.txt \
                "$results"/spawn.txt | grep '^RESULT'
        ;;
*)
        usage
        ;;
esac
