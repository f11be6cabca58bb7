#!/bin/sh
# Integration test of sched-process-demo: every scenario at a tenth of its durations gives its
# expected result and says so; bad usage exits 2.
#   test-process-demo.sh PATH-TO-sched-process-demo
set -u
demo=$1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
fail() { echo "FAIL: $*"; cat "$out"; exit 1; }

"$demo" all --scale 0.1 >"$out" 2>&1
rc=$?
[ "$rc" -eq 0 ] || fail "'all --scale 0.1' exited $rc"
for expect in \
        'raw: OK success (expected success)' \
        'wait: pid [0-9]* result=success exit_status=0' \
        'callback: done callback called with result=success' \
        'callback: pid [0-9]* result=success exit_status=0' \
        'timeout: pid [0-9]* result=timeout exit_status=143' \
        'terminate: pid [0-9]* result=terminated exit_status=143' \
        'wait: OK success' 'callback: OK success' 'timeout: OK timeout' 'terminate: OK terminated'; do
        grep -q "$expect" "$out" || fail "no line matching '$expect'"
done
[ "$(grep -c 'raw: pid [0-9]* result=success exit_status=0' "$out")" -eq 3 ] || fail "raw: not 3 successes"
grep -q 'callback: waiting' "$out" || fail "callback: the loop never logged 'waiting'"

"$demo" raw 2 --scale 0.02 >"$out" 2>&1 || fail "'raw 2 --scale 0.02' failed"
grep -q 'raw: 2 of 2 done, 0 running' "$out" || fail "raw: no final progress line"
for args in "" "nosuch" "wait extra" "raw 0" "raw x" "--scale 0 wait" "--scale x wait" "--bogus wait"; do
        # shellcheck disable=SC2086 # word splitting of $args is the point
        "$demo" $args >"$out" 2>&1
        rc=$?
        [ "$rc" -eq 2 ] || fail "'$args' exited $rc, expected 2"
        grep -q "sched-process-demo" "$out" || fail "'$args': no usage message"
done
"$demo" --help >"$out" 2>&1 || fail "--help failed"
grep -q "Usage: sched-process-demo" "$out" || fail "--help: no usage"
"$demo" --version >"$out" 2>&1 || fail "--version failed"
echo "ok"
