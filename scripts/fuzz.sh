#!/usr/bin/env bash
# A libFuzzer campaign against the wire protocol parser (tests/fuzz/fuzz-protocol.c), then against
# the job_event fast path compared with the jansson path (tests/fuzz/fuzz-job-event.c), then the
# job_request fast path and its spliced forwarding against the same (tests/fuzz/fuzz-job-request.c).
#   scripts/fuzz.sh [SECONDS]        per target, default 300
# Builds with clang and -DSCHED_FUZZ=ON in its own directory ($SCHED_FUZZ_BUILD, default build-fuzz),
# starts from the checked-in seeds in tests/fuzz/corpus (corpus-job-event) and grows working corpora
# in $SCHED_FUZZ_BUILD/fuzz-corpus-TARGET that later runs continue from.
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
cmake --build "$dir" --target fuzz-protocol fuzz-job-event fuzz-job-request -j2
rc=0
# Each target gets the time: the whole protocol, then the job_event fast path against jansson.
# Frames go up to 64 KiB; 16 KiB inputs keep the campaign fast and still cover deep nesting.
for target in protocol job-event job-request; do
    corpus=tests/fuzz/corpus dict=tests/fuzz/protocol.dict
    if [ "$target" = job-event ]; then
        corpus=tests/fuzz/corpus-job-event dict=tests/fuzz/job-event.dict
    elif [ "$target" = job-request ]; then
        corpus=tests/fuzz/corpus-job-request
    fi
    mkdir -p "$dir/fuzz-corpus-$target" "$dir/fuzz-artifacts"
    "$dir/tests/fuzz/fuzz-$target" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
        -use_value_profile=1 -dict="$dict" -print_final_stats=1 \
        -artifact_prefix="$dir/fuzz-artifacts/" \
        "$dir/fuzz-corpus-$target" "$corpus" || rc=$?
    [ "$rc" -eq 0 ] || break
done

if [ "$rc" -ne 0 ]; then
    echo "$0: fuzzer failed (exit $rc); inputs in $dir/fuzz-artifacts/:" >&2
    ls -l "$dir/fuzz-artifacts/" >&2
    exit "$rc"
fi
echo "$0: no crash in ${seconds}s per target; working corpora in $dir/fuzz-corpus-*"
