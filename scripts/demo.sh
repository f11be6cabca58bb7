#!/usr/bin/env bash
# README command 1: installs what is needed, builds, and runs the whole system in the foreground on
# loopback. Ctrl-C stops everything and leaves no process behind.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh build
cmake -S . -B build -DBUILD_TESTING=OFF -DSCHED_BENCH=OFF >/dev/null
cmake --build build -j"$(nproc)"

exec build/daemons/process-demo/sched-process-demo "$@" all
