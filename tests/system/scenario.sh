#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The use cases of DESIGN.md on a real systemd, inside the container that tests/system/run.sh boots
# (as sched-systest.service). Installs sched-utils, drives it with systemctl and journalctl, and
# writes PASS or FAIL to /sched-systest/result. The log goes to the journal and /sched-systest/log,
# which run.sh prints; the whole journal of the boot to /sched-systest/journal.txt.
set -uo pipefail

R=/sched-systest
# shellcheck source=/dev/null
. "$R/config" # MODE=deb (dpkg -i the .deb in $R/pkg) or MODE=installed (cmake --install done)

exec > >(tee -a "$R/log") 2>&1
TEE=$!

fails=0
t0=$SECONDS
pass() { echo "  ok: $*"; }
fail() { echo "  FAIL: $*"; fails=$((fails + 1)); }
step() { echo "== [$((SECONDS - t0))s] $*"; }
# expect DESCRIPTION COMMAND...: passes when COMMAND succeeds.
expect() {
        local what=$1
        shift
        if "$@"; then pass "$what"; else fail "$what"; fi
}
# retry SECONDS COMMAND...: runs COMMAND every 0.2 s until it succeeds or SECONDS pass.
retry() {
        local end=$((SECONDS + $1))
        shift
        until "$@"; do
                [ $SECONDS -lt $end ] || return 1
                sleep 0.2
        done
}
# jcount UNIT MATCH...: how many journal entries of UNIT match every FIELD=VALUE.
jcount() {
        journalctl -q -u "$1" "${@:2}" -o cat 2>/dev/null | wc -l
}
jcount_ge() { [ "$(jcount "$1" "${@:3}")" -ge "$2" ]; }
is_active() { [ "$(systemctl is-active "$1")" = active ]; }
is_inactive() { [ "$(systemctl is-active "$1")" = inactive ]; }
status_text() { systemctl show -P StatusText "$1"; }
status_has() { status_text "$1" | grep -q -- "$2"; }
# The test jobs are `sleep RUNTIME` with RUNTIME printed as %.3f.
job_pids() { pgrep -x sleep -a | awk '$3 ~ /^[0-9]+\.[0-9][0-9][0-9]$/ { print $1 }'; }
no_job_left() { [ -z "$(job_pids)" ]; }
scopes() { systemctl list-units --plain --no-legend --all 'sched-job-*' | awk '{ print $1 }'; }
produce() { sched-producer --connect-timeout 5 "$@" >/dev/null 2>&1; }

finish() {
        step "summary: $fails failed check(s), $((SECONDS - t0)) s"
        if [ $fails -eq 0 ]; then echo PASS >"$R/result"; else echo FAIL >"$R/result"; fi
        journalctl -b --no-pager -o short-monotonic >"$R/journal.txt" 2>&1
        exec >/dev/null 2>&1
        wait $TEE
        exit 0
}
trap finish EXIT

step "0. install ($MODE): $(systemctl is-system-running)"
if [ "$MODE" = deb ]; then
        expect "dpkg -i $(basename "$R"/pkg/sched-utils_*.deb)" dpkg -i "$R"/pkg/sched-utils_*.deb
        dpkg -L sched-utils | sort >"$R/package-files"
        expect "installing enabled sched-bus.socket" [ "$(systemctl is-enabled sched-bus.socket)" = enabled ]
        expect "sched-producer.timer is not enabled" [ "$(systemctl is-enabled sched-producer.timer)" = disabled ]
else
        systemctl daemon-reload
fi
for page in sched-bus.8 sched-scheduler.8 sched-producer.1 sched-process-demo.1; do
        f=/usr/share/man/man${page##*.}/$page
        expect "man page $page installed" sh -c "[ -e $f.gz ] || [ -e $f ]"
done

step "1. socket activation"
systemctl start sched-bus.socket
expect "sched-bus.socket active" is_active sched-bus.socket
expect "sched-bus.service not started before a client came" is_inactive sched-bus.service
expect "a first client (a producer, over IPv4) is served" produce -n 1 --runtime 1 --bus ws://127.0.0.1:8101
expect "sched-bus.service activated by it, READY (active/running)" \
        [ "$(systemctl show -P ActiveState,SubState sched-bus.service | tr '\n' /)" = active/running/ ]
expect "bus reports STATUS: '$(status_text sched-bus.service)'" status_has sched-bus.service 'forwarded'
expect "the job was dropped (no scheduler yet): SCHED_JOB_STATE=dropped" \
        retry 5 jcount_ge sched-bus 1 SCHED_JOB_STATE=dropped
expect "the bus also answers on [::1]:8101" produce -n 1 --runtime 1 --bus 'ws://[::1]:8101'
expect "SCHED_CLIENT/SCHED_ROLE fields on client lines" retry 5 jcount_ge sched-bus 1 SCHED_ROLE=producer

step "2. sched-scheduler@2"
expect "systemctl start sched-scheduler@2.service" systemctl start sched-scheduler@2.service
expect "active (ready through sd_notify)" is_active sched-scheduler@2.service
expect "connected to the bus" retry 10 status_has sched-scheduler@2.service 'bus connected'
echo "     StatusText: $(status_text sched-scheduler@2.service)"
expect "StatusText is the STATUS line" status_has sched-scheduler@2.service '^running 0/2, pending 0, done 0'

step "3a. six jobs by hand"
expect "sched-producer -n 6 -p 0.2 --runtime 1 --priority 5" produce -n 6 -p 0.2 --runtime 1 --priority 5
expect "journalctl -u sched-scheduler@2 SCHED_JOB_STATE=done lists 6 jobs" \
        retry 15 jcount_ge sched-scheduler@2 6 SCHED_JOB_STATE=done
journalctl -q -u sched-scheduler@2 SCHED_JOB_STATE=done -o cat | sed 's/^/     /'
expect "some waited in the queue (SCHED_JOB_STATE=queued)" jcount_ge sched-scheduler@2 1 SCHED_JOB_STATE=queued
echo "     StatusText: $(status_text sched-scheduler@2.service)"

step "3b. timeout, on a second instance with -t 1 (drop-in)"
mkdir -p /etc/systemd/system/sched-scheduler@1.service.d
printf '[Service]\nExecStart=\nExecStart=/usr/bin/sched-scheduler -s %%i -t 1\n' \
        >/etc/systemd/system/sched-scheduler@1.service.d/timeout.conf
systemctl daemon-reload
expect "sched-scheduler@1 (-t 1) started" systemctl start sched-scheduler@1.service
expect "sched-scheduler@1 connected" retry 10 status_has sched-scheduler@1.service 'bus connected'
expect "a job with runtime 4" produce -n 1 --runtime 4 --priority 5
expect "journalctl -u sched-scheduler@1 SCHED_JOB_STATE=timeout lists it" \
        retry 8 jcount_ge sched-scheduler@1 1 SCHED_JOB_STATE=timeout
journalctl -q -u sched-scheduler@1 SCHED_JOB_STATE=timeout -o cat | sed 's/^/     /'
expect "sched-scheduler@1 stopped" systemctl stop sched-scheduler@1.service
expect "sched-scheduler@2 ran the same job to the end" retry 8 jcount_ge sched-scheduler@2 7 SCHED_JOB_STATE=done

step "3c. eviction on sched-scheduler@2"
expect "two priority-5 jobs fill both slots" produce -n 2 -p 0.1 --runtime 6 --priority 5
expect "both running" retry 5 status_has sched-scheduler@2.service '^running 2/2'
expect "an urgent job (priority 0)" produce -n 1 --runtime 1 --priority 0
expect "journalctl -u sched-scheduler@2 SCHED_JOB_STATE=evicted lists one" \
        retry 5 jcount_ge sched-scheduler@2 1 SCHED_JOB_STATE=evicted
journalctl -q -u sched-scheduler@2 SCHED_JOB_STATE=evicted -o cat | sed 's/^/     /'
urgent=$(journalctl -q -u sched-scheduler@2 SCHED_JOB_PRIORITY=0 SCHED_JOB_STATE=running -o export |
        sed -n 's/^SCHED_JOB_ID=//p' | tail -n 1)
by=$(journalctl -q -u sched-scheduler@2 SCHED_JOB_STATE=evicted -o export | sed -n 's/^SCHED_JOB_EVICTED_BY=//p')
expect "SCHED_JOB_EVICTED_BY=$by is the urgent job ($urgent)" [ "${by:-none}" = "${urgent:-unknown}" ]
expect "slots free again" retry 10 status_has sched-scheduler@2.service '^running 0/2'

step "4. sched-producer.timer"
before=$(jcount sched-scheduler@2 SCHED_JOB_STATE=running)
expect "systemctl start sched-producer.timer" systemctl start sched-producer.timer
expect "jobs keep arriving (2 more within 12 s)" retry 12 jcount_ge sched-scheduler@2 $((before + 2)) SCHED_JOB_STATE=running
expect "sched-producer.service runs succeed" \
        [ "$(systemctl show -P Result sched-producer.service)" = success ]
systemctl list-timers --no-pager 'sched-*' | sed 's/^/     /'
expect "systemctl stop sched-producer.timer" systemctl stop sched-producer.timer

step "5. --scope instance (drop-in from the package's example)"
mkdir -p /etc/systemd/system/sched-scheduler@3.service.d
cp /usr/share/doc/sched-utils/examples/scope.conf /etc/systemd/system/sched-scheduler@3.service.d/
systemctl daemon-reload
expect "sched-scheduler@3 (--scope) started" systemctl start sched-scheduler@3.service
expect "sched-scheduler@3 connected" retry 10 status_has sched-scheduler@3.service 'bus connected'
expect "a job with runtime 3" produce -n 1 --runtime 3 --priority 5
expect "systemctl list-units 'sched-job-*' shows its scope" retry 5 sh -c '[ -n "$(systemctl list-units --plain --no-legend "sched-job-3-*")" ]'
systemctl list-units --no-pager 'sched-job-*' | sed 's/^/     /'
scope=$(systemctl list-units --plain --no-legend 'sched-job-3-*' | awk '{ print $1; exit }')
expect "$scope is in sched-jobs.slice" [ "$(systemctl show -P Slice "$scope")" = sched-jobs.slice ]
expect "its job is in the scope's cgroup" sh -c "[ -n \"\$(systemd-cgls --no-pager -u '$scope' 2>/dev/null | grep sleep)\" ]"
expect "the scope is gone after the job" retry 10 sh -c '[ -z "$(systemctl list-units --plain --no-legend "sched-job-*")" ]'
expect "the job is done" retry 5 jcount_ge sched-scheduler@3 1 SCHED_JOB_STATE=done
expect "a long job in a scope" produce -n 1 --runtime 60 --priority 5
expect "its scope appears" retry 5 sh -c '[ -n "$(systemctl list-units --plain --no-legend "sched-job-3-*")" ]'
scope=$(systemctl list-units --plain --no-legend 'sched-job-3-*' | awk '{ print $1; exit }')
expect "SIGKILL of the scheduler" systemctl kill -s KILL sched-scheduler@3.service
expect "sched-scheduler@3 is restarted" retry 10 status_has sched-scheduler@3.service 'bus connected'
expect "the restarted scheduler stops $scope, left by the killed one" \
        retry 10 sh -c "[ -z \"\$(systemctl list-units --plain --no-legend '$scope')\" ]"

step "6. stop everything while jobs run"
expect "long jobs running on @2 and @3" produce -n 2 -p 0.1 --runtime 60 --priority 5
retry 5 sh -c '[ -n "$(systemctl list-units --plain --no-legend "sched-job-*")" ]'
echo "     job processes: $(job_pids | wc -l), scopes: $(scopes | xargs)"
expect "systemctl stop" systemctl stop sched-producer.timer sched-producer.service 'sched-scheduler@*.service' \
        sched-bus.service sched-bus.socket
expect "no job process survives" no_job_left
expect "no scope survives" [ -z "$(scopes)" ]
expect "sched-scheduler@2 logged its orderly stop" sh -c "journalctl -q -u sched-scheduler@2 -o cat | grep -q '^Stopped:'"
for u in sched-bus.socket sched-bus.service sched-scheduler@1.service sched-scheduler@2.service \
        sched-scheduler@3.service sched-producer.service sched-producer.timer; do
        expect "$u: $(systemctl is-active "$u"), not failed" sh -c "! systemctl -q is-failed '$u'"
done
failed=$(systemctl list-units --failed --plain --no-legend | awk '{ print $1 }' | xargs)
echo "     failed units in the container: ${failed:-none}"
expect "no sched-* unit failed" sh -c "! echo '$failed' | grep -q sched-"

step "7. systemd-analyze security of the installed units"
declare -A target=([sched-bus.service]=1.5 [sched-scheduler@2.service]=3.0 [sched-scheduler@3.service]=3.0
        [sched-producer.service]=2.0)
for u in sched-bus.service sched-scheduler@2.service sched-scheduler@3.service sched-producer.service; do
        score=$(systemd-analyze security --no-pager "$u" 2>/dev/null | sed -nE 's/.*Overall exposure level for .*: ([0-9.]+).*/\1/p')
        expect "$u: exposure ${score:-?} (target <= ${target[$u]})" \
                awk -v s="${score:-99}" -v t="${target[$u]}" 'BEGIN { exit !(s <= t) }'
done

step "warnings and errors the sched-utils units logged (for the record)"
journalctl -b -q -p warning -u 'sched-*' -o short-monotonic --no-pager | tail -n 20 | sed 's/^/     /'

if [ "$MODE" = deb ]; then
        step "8. purge while everything runs"
        rm -rf /etc/systemd/system/sched-scheduler@1.service.d /etc/systemd/system/sched-scheduler@3.service.d
        systemctl daemon-reload
        systemctl start sched-bus.socket sched-scheduler@2.service sched-producer.timer
        retry 10 status_has sched-scheduler@2.service 'bus connected'
        expect "a long job running" produce -n 1 --runtime 60 --priority 5
        retry 5 sh -c '[ -n "$(pgrep -x sleep -a | grep 60.000)" ]'
        expect "dpkg --purge sched-utils" dpkg --purge sched-utils
        expect "no sched-utils process is left" sh -c '! pgrep -a -f "^/usr/bin/sched-"'
        expect "no job process is left" no_job_left
        active=$(systemctl list-units --plain --no-legend 'sched-bus*' 'sched-scheduler*' 'sched-producer*' | xargs)
        expect "no sched-utils unit is loaded${active:+: $active}" [ -z "$active" ]
        left=$(while read -r f; do [ ! -d "$f" ] && [ -e "$f" ] && echo "$f"; done <"$R/package-files" | xargs)
        expect "no file of the package is left${left:+: $left}" [ -z "$left" ]
        left=$(find /etc/systemd /var/lib/systemd -name 'sched-*' ! -name 'sched-systest*' 2>/dev/null | xargs)
        expect "no unit link or state is left${left:+: $left}" [ -z "$left" ]
        known=$(systemctl list-unit-files --no-legend 'sched-bus*' 'sched-scheduler*' 'sched-producer*' 'sched-jobs*' | xargs)
        expect "no sched-utils unit file is known${known:+: $known}" [ -z "$known" ]
fi
