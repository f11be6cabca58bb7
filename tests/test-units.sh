#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Static check of the systemd units, without a running systemd:
#  - `systemd-analyze verify` has nothing at all to say about any unit, the scope drop-in and the
#    examples for several hosts (units/examples: a TLS bus, a remote scheduler and producer) included.
#    It checks that ExecStart= binaries exist and that Documentation= man pages exist, so it runs on
#    copies of the units whose /usr/bin/ points at the binaries just built, with MANPATH on the man
#    pages just built: the real files are checked, nothing is filtered out of its output.
#  - each service's exposure (`systemd-analyze security --offline=true`) is within its target.
#
#   test-units.sh UNITS_DIR MAN_DIR SCHED_BUS SCHED_SCHEDULER SCHED_PRODUCER
# Exit 77 (skip) without systemd-analyze.
set -euo pipefail

if [ $# -ne 5 ]; then
        echo "usage: $0 UNITS_DIR MAN_DIR SCHED_BUS SCHED_SCHEDULER SCHED_PRODUCER" >&2
        exit 2
fi
units=$(realpath "$1") man=$(realpath "$2")
shift 2
if ! command -v systemd-analyze >/dev/null; then
        echo "SKIP: systemd-analyze not found (apt-get install systemd)"
        exit 77
fi

# The most exposure each service may have (0 best, 10 worst). The scope variant runs as root to
# reach the system manager, but must stay within the scheduler's target too.
declare -A target=(
        [sched-bus.service]=1.5
        [sched-scheduler@5.service]=3.0
        [sched-scheduler@7.service]=3.0
        [sched-scheduler@6.service]=3.0
        [sched-producer.service]=2.0
        [sched-producer-remote.service]=2.0
)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin" "$tmp/units" "$tmp/units/sched-scheduler@7.service.d" "$tmp/units/sched-scheduler@6.service.d" \
        "$tmp/units/sched-bus.service.d" "$tmp/units/sched-producer-remote.service.d"
for b in "$@"; do
        [ -x "$b" ] || { echo "FAIL: $b is not an executable (not built?)"; exit 1; }
        ln -s "$(realpath "$b")" "$tmp/bin/$(basename "$b")"
done
for f in "$units"/*.service "$units"/*.socket "$units"/*.timer "$units"/*.slice; do
        sed "s#/usr/bin/#$tmp/bin/#g" "$f" >"$tmp/units/$(basename "$f")"
done
# Instance 7 runs with the --scope drop-in the package ships as an example.
sed "s#/usr/bin/#$tmp/bin/#g" "$units/sched-scheduler-scope.conf" >"$tmp/units/sched-scheduler@7.service.d/scope.conf"
# Several hosts: the bus with its TLS socket, instance 6 and a second producer with a remote bus.
sed "s#/usr/bin/#$tmp/bin/#g" "$units/examples/bus-tls.conf" >"$tmp/units/sched-bus.service.d/tls.conf"
sed "s#/usr/bin/#$tmp/bin/#g" "$units/examples/scheduler-remote.conf" >"$tmp/units/sched-scheduler@6.service.d/remote.conf"
cp "$tmp/units/sched-producer.service" "$tmp/units/sched-producer-remote.service"
sed "s#/usr/bin/#$tmp/bin/#g" "$units/examples/producer-remote.conf" \
        >"$tmp/units/sched-producer-remote.service.d/remote.conf"

fail=0
cd "$tmp/units"
check=(sched-bus.socket sched-bus-tls.socket sched-bus.service sched-scheduler@5.service
       sched-scheduler@6.service sched-scheduler@7.service sched-producer.service
       sched-producer-remote.service sched-producer.timer sched-jobs.slice)
# verify looks Documentation= man pages up with man(1); without man-db, look for the files here.
man_opt=()
if ! command -v man >/dev/null; then
        man_opt=(--man=no)
        for ref in $(sed -n 's/^Documentation=//p' ./*.service ./*.socket ./*.timer ./*.slice | tr ' ' '\n' | sed -n 's/^man:\(.*\)(\([0-9]\))$/\1.\2/p' | sort -u); do
                [ -e "$man/man${ref##*.}/$ref" ] || { echo "FAIL: Documentation= names man:$ref, not built"; fail=1; }
        done
fi
verify=0
out=$(MANPATH="$man" systemd-analyze verify "${man_opt[@]}" "${check[@]/#/./}" 2>&1) || verify=$?
if [ -n "$out" ] || [ $verify -ne 0 ]; then
        echo "FAIL: systemd-analyze verify:"
        echo "$out"
        fail=1
else
        echo "ok: systemd-analyze verify: ${check[*]}"
fi

for unit in "${!target[@]}"; do
        line=$(systemd-analyze security --offline=true "./$unit" 2>&1 | grep 'Overall exposure level') || {
                echo "FAIL: systemd-analyze security gave no score for $unit"
                fail=1
                continue
        }
        score=$(echo "$line" | sed -E 's/.*: ([0-9]+\.[0-9]+).*/\1/')
        if awk -v s="$score" -v t="${target[$unit]}" 'BEGIN { exit !(s <= t) }'; then
                echo "ok: $unit exposure $score (target <= ${target[$unit]})"
        else
                echo "FAIL: $unit exposure $score, target <= ${target[$unit]}:"
                systemd-analyze security --offline=true "./$unit" | grep -v '✓' || true
                fail=1
        fi
done
exit $fail
