#!/usr/bin/env bash
# README command 2: installs what is needed, builds, runs every test with ctest.
#   scripts/test.sh [--asan] [ctest arguments...]
# --asan builds in build-asan with -fsanitize=address,undefined instead of build/.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=build
opts=()
if [ "${1:-}" = "--asan" ]; then
    shift
    dir=build-asan
    opts+=(-DSCHED_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
fi

scripts/deps.sh test
cmake -S . -B "$dir" -DSCHED_WERROR=ON "${opts[@]}" >/dev/null
cmake --build "$dir" -j"$(nproc)"
cd "$dir"
ctest --output-on-failure "$@"
