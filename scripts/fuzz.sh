#!/usr/bin/env bash
# A libFuzzer campaign against the wire protocol parser (tests/fuzz/fuzz-protocol.c).
#   scripts/fuzz.sh [SECONDS]        default 300
# Builds with clang and -DSCHED_FUZZ=ON in its own directory ($SCHED_FUZZ_BUILD, default build-fuzz),
# starts from the checked-in seeds in tests/fuzz/corpus and grows a working corpus in
# $SCHED_FUZZ_BUILD/fuzz-corpus that later runs continue from.
# A crash, a leak or a failed round-trip check leaves the input in $SCHED_FUZZ_BUILD/fuzz-artifacts/
# and the script exits non-zero: fix the bug, then add the file to tests/fuzz/corpus so that
# `ctest -L unit` replays it from then on.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-300}
case "$seconds" in
    '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac
dir=${SCHED_FUZZ_BUILD:-build-fuzz}

if ! command -v clang >/dev/null; then
    echo "$0: clang is needed (apt-get install clang libclang-rt-14-dev)" >&2
    exit 1
fi

cmake -S . -B "$dir" -DCMAKE_C_COMPILER=clang -DSCHED_FUZZ=ON -DSCHED_BENCH=OFF >/dev/null
cmake --build "$dir" --target fuzz-protocol -j2
mkdir -p "$dir/fuzz-corpus" "$dir/fuzz-artifacts"

# Frames go up to 64 KiB; 16 KiB inputs keep the campaign fast and still cover deep nesting.
rc=0
"$dir/tests/fuzz/fuzz-protocol" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
    -use_value_profile=1 -dict=tests/fuzz/protocol.dict -print_final_stats=1 \
    -artifact_prefix="$dir/fuzz-artifacts/" \
    "$dir/fuzz-corpus" tests/fuzz/corpus || rc=$?

if [ "$rc" -ne 0 ]; then
    echo "$0: fuzzer failed (exit $rc); inputs in $dir/fuzz-artifacts/:" >&2
    ls -l "$dir/fuzz-artifacts/" >&2
    exit "$rc"
fi
echo "$0: no crash in ${seconds}s; working corpus: $(find "$dir/fuzz-corpus" -type f | wc -l) inputs in $dir/fuzz-corpus"
