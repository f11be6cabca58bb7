#!/bin/sh
# sched-ctl's command line alone, no bus needed: --help and --version exit 0 and say what they
# should; every kind of bad usage exits 2 with a message on stderr and nothing on stdout, before
# any connection is tried.
#   test-ctl-cli.sh PATH-TO-sched-ctl
set -u
ctl=$1
out=$(mktemp)
err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
fail() { echo "FAIL: $*"; echo "--- stdout"; cat "$out"; echo "--- stderr"; cat "$err"; exit 1; }

# Should a case parse after all, it must fail fast against nothing rather than wait for a bus.
SCHED_BUS_URL=ws://127.0.0.1:1
export SCHED_BUS_URL

for args in "--help" "-h" "jobs --help" "submit -p 3 --help"; do
    # shellcheck disable=SC2086 # word splitting of $args is the point
    "$ctl" $args >"$out" 2>"$err" || fail "'$args' exited $?"
    grep -q "^Usage: sched-ctl" "$out" || fail "'$args': no usage line"
    for verb in status jobs watch submit cancel; do
        grep -q "^  $verb" "$out" || fail "'$args': the command $verb is not listed"
    done
    [ -s "$err" ] && fail "'$args' wrote to stderr"
done

"$ctl" --version >"$out" 2>"$err" || fail "--version exited $?"
grep -Eq '^sched-ctl [0-9]+\.[0-9]+\.[0-9]+$' "$out" || fail "--version: not 'sched-ctl X.Y.Z'"

long_ref=$(printf '%0129d' 0)
while IFS= read -r args; do
    [ -n "$args" ] || continue
    # shellcheck disable=SC2086
    "$ctl" $args >"$out" 2>"$err"
    rc=$?
    [ "$rc" -eq 2 ] || fail "'$args' exited $rc, expected 2"
    grep -q "sched-ctl" "$err" || fail "'$args': no message naming sched-ctl on stderr"
    [ -s "$out" ] && fail "'$args' wrote to stdout"
done <<EOF_CASES
bogus
--bogus
status extra
jobs extra
watch extra
submit extra
cancel
cancel x
cancel 1 x
cancel -- -1
cancel 9223372036854775808
submit -p 11
submit -p -1
submit -p x
submit -p
submit -r -1
submit -r 86401
submit -r nan
submit --ref $long_ref
jobs --state bogus
jobs --scheduler a|b
jobs -n 0
jobs -n 10001
jobs --limit x
status --wait
jobs -p 3
watch --state running
cancel 1 --limit 3
status --ref x
status --timeout 0
status --timeout x
status --timeout 3601
status --bus http://localhost:8101
status --bus
EOF_CASES

# A bad $SCHED_BUS_URL is bad usage too; --bus wins over it.
SCHED_BUS_URL=localhost:8101 "$ctl" status >"$out" 2>"$err"
rc=$?
[ "$rc" -eq 2 ] || fail "a bad \$SCHED_BUS_URL exited $rc, expected 2"
SCHED_BUS_URL=localhost:8101 "$ctl" --bus ws://127.0.0.1:1 --timeout 2 status >"$out" 2>"$err"
rc=$?
[ "$rc" -eq 1 ] || fail "--bus over a bad \$SCHED_BUS_URL: exited $rc, expected 1 (nothing listens on port 1)"
echo "ok"
