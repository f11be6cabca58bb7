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
# With no scheduler yet the bus holds the job, and the producer says so (exit 0, the id in its log).
produce_held() {
        sched-producer --connect-timeout 5 "$@" >>"$R/producer-held.log" 2>&1 &&
                grep -q "is held by the bus until a scheduler takes it" "$R/producer-held.log"
}

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
for page in sched-bus.8 sched-scheduler.8 sched-producer.1 sched-ctl.1 sched-process-demo.1; do
        f=/usr/share/man/man${page##*.}/$page
        expect "man page $page installed" sh -c "[ -e $f.gz ] || [ -e $f ]"
done

step "1. socket activation"
systemctl start sched-bus.socket
expect "sched-bus.socket active" is_active sched-bus.socket
expect "sched-bus.service not started before a client came" is_inactive sched-bus.service
expect "a first client (a producer, over IPv4) is served; no scheduler yet: its job is held, it is told" \
        produce_held -n 1 --runtime 1 --bus ws://127.0.0.1:8101
expect "sched-bus.service activated by it, READY (active/running)" \
        [ "$(systemctl show -P ActiveState,SubState sched-bus.service | tr '\n' /)" = active/running/ ]
expect "bus reports STATUS: '$(status_text sched-bus.service)'" status_has sched-bus.service 'forwarded'
expect "the bus says it holds it (STATUS held 1)" retry 5 status_has sched-bus.service 'held 1'
expect "the bus also answers on [::1]:8101" produce_held -n 1 --runtime 1 --bus 'ws://[::1]:8101'
expect "the held jobs are in its StateDirectory (/var/lib/sched-bus/held-jobs)" \
        retry 5 sh -c '[ "$(grep -c "^+" /var/lib/sched-bus/held-jobs)" -eq 2 ]'
expect "they survive a restart of the bus" systemctl restart sched-bus.service
expect "held 2 after the restart" retry 5 status_has sched-bus.service 'held 2'
expect "SCHED_CLIENT/SCHED_ROLE fields on client lines" retry 5 jcount_ge sched-bus 1 SCHED_ROLE=producer

step "2. sched-scheduler@2"
expect "systemctl start sched-scheduler@2.service" systemctl start sched-scheduler@2.service
expect "active (ready through sd_notify)" is_active sched-scheduler@2.service
expect "connected to the bus" retry 10 status_has sched-scheduler@2.service 'bus connected'
echo "     StatusText: $(status_text sched-scheduler@2.service)"
expect "StatusText is the STATUS line" status_has sched-scheduler@2.service '^running [0-9]/2, pending [0-9], done [0-9]'
expect "the two held jobs ran there once the scheduler registered" \
        retry 10 jcount_ge sched-scheduler@2 2 SCHED_JOB_STATE=done
expect "and the bus holds none any more" retry 5 status_has sched-bus.service 'held 0'

step "3a. six jobs by hand"
expect "sched-producer -n 6 -p 0.2 --runtime 1 --priority 5" produce -n 6 -p 0.2 --runtime 1 --priority 5
expect "journalctl -u sched-scheduler@2 SCHED_JOB_STATE=done lists 8 jobs (these 6, the 2 held)" \
        retry 15 jcount_ge sched-scheduler@2 8 SCHED_JOB_STATE=done
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
expect "sched-scheduler@2 ran the same job to the end" retry 8 jcount_ge sched-scheduler@2 9 SCHED_JOB_STATE=done

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

step "4a. following jobs: sched-ctl"
expect "sched-ctl status lists sched-scheduler@2 as $(hostname)@2 with 2 slots" \
        sh -c "sched-ctl status --no-pager | grep -F '$(hostname)@2' | grep -q '/2'"
expect "sched-ctl submit --wait: a job of 1 s ends done (exit 0)" sched-ctl submit -q -r 1 -p 5 --wait
long=$(sched-ctl submit -q -r 60 -p 5)
expect "sched-ctl submit prints the job's id ($long)" [ -n "$long" ]
expect "sched-ctl jobs shows it running on $(hostname)@2" \
        retry 5 sh -c "sched-ctl jobs --no-pager --state running | grep -E '^ *$long ' | grep -q '$(hostname)@2'"
expect "sched-ctl cancel $long" sched-ctl cancel "$long"
expect "its record on @2: SCHED_JOB_STATE=cancelled" \
        retry 5 jcount_ge sched-scheduler@2 1 SCHED_JOB_ID="$long" SCHED_JOB_STATE=cancelled
expect "the bus logged the cancel with the client's address" \
        retry 5 sh -c "journalctl -q -u sched-bus SCHED_JOB_ID=$long -o verbose | grep -q '^ *SCHED_CLIENT='"
expect "slots free again after the cancel" retry 10 status_has sched-scheduler@2.service '^running 0/2'

step "4b. a cgroup per job (Delegate=yes), job ids, the journal catalog"
expect "sched-scheduler@2 runs its jobs in cgroups of its own" \
        sh -c "journalctl -q -u sched-scheduler@2 -o cat | grep -q 'jobs in cgroup .*sched-scheduler@2.service'"
journalctl -q -u sched-scheduler@2 -o cat | grep -m1 'Scheduler ready' | sed 's/^/     /'
expect "its jobs start without waiting for their exec: clone, as RestrictNamespaces= refuses clone3" \
        sh -c "journalctl -q -u sched-scheduler@2 -o cat | grep -q 'without waiting for their exec (clone:'"
# A job that leaves a grandchild in a session of its own: setsid escapes a process group, not a cgroup.
mkdir -p /etc/systemd/system/sched-scheduler@4.service.d
printf '[Service]\nExecStart=\nExecStart=/usr/bin/sched-scheduler -s %%i --exec /bin/sh -c "setsid sleep 300 & exec sleep $$SCHED_JOB_RUNTIME"\n' \
        >/etc/systemd/system/sched-scheduler@4.service.d/setsid.conf
systemctl daemon-reload
expect "sched-scheduler@4 (jobs leave a setsid grandchild) started" systemctl start sched-scheduler@4.service
expect "sched-scheduler@4 connected" retry 10 status_has sched-scheduler@4.service 'bus connected'
expect "a job of 3 s" produce -n 1 --runtime 3 --priority 5
expect "its grandchild runs" retry 5 sh -c 'pgrep -f "^sleep 300" >/dev/null'
cg=$(systemctl show -P ControlGroup sched-scheduler@4.service)
expect "systemd-cgls shows the job's cgroup (slot-N) under the service, with the grandchild in it" \
        sh -c "systemd-cgls --no-pager -u sched-scheduler@4.service | grep -A3 -E 'slot-|job-' | grep -q 'sleep 300'"
systemd-cgls --no-pager -u sched-scheduler@4.service | sed 's/^/     /'
expect "the job's record: done, with its CPU time" retry 8 jcount_ge sched-scheduler@4 1 SCHED_JOB_STATE=done
journalctl -q -u sched-scheduler@4 SCHED_JOB_STATE=done -o verbose | grep -E 'SCHED_JOB_(ID|CPU_USEC|EXIT_STATUS)=' | sed 's/^/     /'
expect "nothing of it outlives its record: no grandchild" sh -c '! pgrep -f "^sleep 300"'
expect "its cgroup is empty, kept for the next job" \
        sh -c "! cat /sys/fs/cgroup/unified$cg/slot-*/cgroup.procs /sys/fs/cgroup$cg/slot-*/cgroup.procs 2>/dev/null | grep -q ."
expect "a long job" produce -n 1 --runtime 60 --priority 5
expect "running on @4" retry 5 status_has sched-scheduler@4.service '^running 1/'
expect "its process runs" retry 5 sh -c 'pgrep -f "^sleep 60$" >/dev/null'
expect "SIGKILL of sched-scheduler@4" systemctl kill -s KILL sched-scheduler@4.service
expect "sched-scheduler@4 is restarted" retry 10 status_has sched-scheduler@4.service 'bus connected'
expect "the job of the killed scheduler is recorded interrupted" \
        retry 10 jcount_ge sched-scheduler@4 1 SCHED_JOB_STATE=interrupted
expect "no grandchild of it is left" retry 5 sh -c '! pgrep -f "^sleep 300"'
journalctl -q -u sched-scheduler@4 -o cat | grep -E 'Scheduler ready|interrupted|ledger' | sed 's/^/     /'
expect "systemctl stop sched-scheduler@4" systemctl stop sched-scheduler@4.service
rm -rf /etc/systemd/system/sched-scheduler@4.service.d
systemctl daemon-reload

expect "the bus keeps its id counter in /var/lib/sched-bus" [ -s /var/lib/sched-bus/next-job-id ]
before=$(cat /var/lib/sched-bus/next-job-id)
ids_from() { journalctl -q -u sched-bus -o cat | sed -n 's/^Job ids from \([0-9]*\) .*/\1/p' | tail -n 1; }
n_ids_lines() { journalctl -q -u sched-bus -o cat | grep -c '^Job ids from'; }
# The bus was restarted before (held jobs, step 1): the line of this start may reach the journal a
# moment after systemctl returns, and the one before must not be taken for it.
prev=$(ids_from)
n_before=$(n_ids_lines)
expect "systemctl restart sched-bus.service" systemctl restart sched-bus.service
retry 5 sh -c '[ "$(journalctl -q -u sched-bus -o cat | grep -c "^Job ids from")" -gt "$1" ]' - "$n_before" || true
from=$(ids_from)
expect "the restarted bus gives ids from $from on: the first not reserved before it ($before; it said $prev before)" \
        [ "${from:-0}" -ge "${before:-1}" ]
expect "sched-scheduler@2 reconnects" retry 15 status_has sched-scheduler@2.service 'bus connected'
expect "a job after the restart" produce -n 1 --runtime 1 --priority 5
expect "it has the id $from" retry 5 jcount_ge sched-scheduler@2 1 SCHED_JOB_ID="$from"

[ "$MODE" = deb ] || journalctl --update-catalog
expect "journalctl -x explains a job's state from the catalog" \
        sh -c "journalctl -x -q -u sched-scheduler@2 SCHED_JOB_STATE=done --no-pager | grep -q 'Job .* is done'"
expect "every state entry carries a MESSAGE_ID" \
        sh -c "[ \$(journalctl -q -u sched-scheduler@2 SCHED_JOB_STATE=done -o export | grep -c '^MESSAGE_ID=1f6ac50471884000b5544ddb497683cc') -ge 1 ]"

step "4c. several hosts: sched-bus-tls.socket, the example drop-ins, credentials, a scheduler over wss://"
# As the README's "Several hosts" walks through it, with localhost for the bus's name.
pki=/root/sched-pki
mkdir -p "$pki"
(
        cd "$pki" && umask 077
        ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc)
        openssl req -x509 "${ec[@]}" -days 2 -subj '/CN=systest CA' -keyout ca.key -out ca.crt
        openssl req "${ec[@]}" -subj /CN=localhost -keyout bus.key -out bus.csr
        printf 'subjectAltName=DNS:localhost\n' >bus.ext
        openssl x509 -req -in bus.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile bus.ext -out bus.crt
        for role in scheduler observer; do
                openssl rand -hex 32 >$role.token
                printf '%s %s\n' $role "$(cat $role.token)" >>tokens
        done
) 2>/dev/null
install -d -m 0700 /etc/sched-utils /etc/sched-utils/tls
install -m 0600 "$pki/bus.crt" "$pki/bus.key" "$pki/ca.crt" /etc/sched-utils/tls/
install -m 0600 "$pki/tokens" /etc/sched-utils/tokens
install -m 0600 "$pki/scheduler.token" /etc/sched-utils/scheduler.token
mkdir -p /etc/systemd/system/sched-bus.service.d /etc/systemd/system/sched-scheduler@6.service.d
cp /usr/share/doc/sched-utils/examples/bus-tls.conf /etc/systemd/system/sched-bus.service.d/tls.conf
sed 's#bus\.example#localhost#' /usr/share/doc/sched-utils/examples/scheduler-remote.conf \
        >/etc/systemd/system/sched-scheduler@6.service.d/remote.conf
systemctl daemon-reload
n_before=$(journalctl -q -u sched-bus -o cat | grep -c 'socket-activated listening socket' || true)
expect "systemctl enable sched-bus-tls.socket" systemctl enable sched-bus-tls.socket
expect "systemctl restart sched-bus.service (it starts the TLS socket, takes it and the credentials)" \
        systemctl restart sched-bus.service
expect "sched-bus-tls.socket is active" [ "$(systemctl is-active sched-bus-tls.socket)" = active ]
expect "the bus serves one socket with TLS and read 2 tokens" \
        retry 5 sh -c "journalctl -q -u sched-bus -o cat | grep 'socket-activated listening socket' | tail -n +$((n_before + 1)) | grep -q ', 1 with TLS' && journalctl -q -u sched-bus -o cat | grep -q 'Read 2 tokens'"
expect "sched-ctl status over wss:// with the observer token" \
        sched-ctl --bus wss://localhost:8443 --ca "$pki/ca.crt" --token-file "$pki/observer.token" status --no-pager
expect "without a token: refused, HTTP 401" \
        sh -c "! out=\$(sched-ctl --bus wss://localhost:8443 --ca '$pki/ca.crt' status 2>&1) && echo \"\$out\" | grep -q 'HTTP 401'"
expect "without the CA: refused, the certificate is not trusted" \
        sh -c "! out=\$(sched-ctl --bus wss://localhost:8443 --token-file '$pki/observer.token' status 2>&1) && echo \"\$out\" | grep -q 'not trusted'"
expect "the loopback port needs no token, as before" sched-ctl status --no-pager -q
expect "sched-scheduler@6 (scheduler-remote.conf: wss://, credentials bus-ca and bus-token) started" \
        systemctl start sched-scheduler@6.service
expect "sched-scheduler@6 connected over wss://" retry 15 status_has sched-scheduler@6.service 'bus connected'
expect "the bus knows it as $(hostname)@6" \
        retry 5 sh -c "sched-ctl status --no-pager | grep -qF '$(hostname)@6'"
expect "a job runs on it" produce -n 1 --runtime 0.5 --priority 5
expect "its record on @6: done" retry 10 jcount_ge sched-scheduler@6 1 SCHED_JOB_STATE=done
expect "its jobs do not see CREDENTIALS_DIRECTORY" \
        sh -c "! tr '\\0' '\\n' </proc/\$(systemctl show -P MainPID sched-scheduler@6.service)/environ | grep -q CREDENTIALS_DIRECTORY || true"
for t in "$pki"/*.token; do
        expect "no token in the journal ($(basename "$t"))" sh -c "! journalctl -o export | grep -qF '$(cat "$t")'"
done
expect "systemctl stop sched-scheduler@6" systemctl stop sched-scheduler@6.service
rm -rf /etc/systemd/system/sched-bus.service.d /etc/systemd/system/sched-scheduler@6.service.d
systemctl daemon-reload
expect "systemctl disable --now sched-bus-tls.socket" systemctl disable --now sched-bus-tls.socket
expect "systemctl restart sched-bus.service (plain again)" systemctl restart sched-bus.service
expect "sched-scheduler@2 reconnects" retry 15 status_has sched-scheduler@2.service 'bus connected'

step "5. --scope instance (drop-in from the package's example)"
mkdir -p /etc/systemd/system/sched-scheduler@3.service.d
cp /usr/share/doc/sched-utils/examples/scope.conf /etc/systemd/system/sched-scheduler@3.service.d/
systemctl daemon-reload
expect "sched-scheduler@3 (--scope) started" systemctl start sched-scheduler@3.service
expect "sched-scheduler@3 connected" retry 10 status_has sched-scheduler@3.service 'bus connected'
journalctl -q -u sched-scheduler@3 -o cat | grep -- '--scope' | sed 's/^/     /'
expect "it copies the service's sandbox into the scopes" \
        sh -c "journalctl -q -u sched-scheduler@3 -o cat | grep -q 'sandbox of sched-scheduler@3.service: IPAddressAllow IPAddressDeny DevicePolicy'"
expect "connected as root, it runs as sched-scheduler" \
        sh -c "[ \"\$(ps -o user= -p \$(systemctl show -P MainPID sched-scheduler@3.service))\" = sched-scheduler ]"
expect "a job with runtime 3" produce -n 1 --runtime 3 --priority 5
expect "systemctl list-units 'sched-job-*' shows its scope" retry 5 sh -c '[ -n "$(systemctl list-units --plain --no-legend "sched-job-3-*")" ]'
systemctl list-units --no-pager 'sched-job-*' | sed 's/^/     /'
scope=$(systemctl list-units --plain --no-legend 'sched-job-3-*' | awk '{ print $1; exit }')
expect "$scope is in sched-jobs.slice" [ "$(systemctl show -P Slice "$scope")" = sched-jobs.slice ]
expect "its job is in the scope's cgroup" sh -c "[ -n \"\$(systemd-cgls --no-pager -u '$scope' 2>/dev/null | grep sleep)\" ]"
echo "     $scope: IPAddressAllow=$(systemctl show -P IPAddressAllow "$scope") IPAddressDeny=$(systemctl show -P IPAddressDeny "$scope") DevicePolicy=$(systemctl show -P DevicePolicy "$scope") TimeoutStopUSec=$(systemctl show -P TimeoutStopUSec "$scope")"
expect "$scope denies addresses like the service (IPAddressDeny)" \
        [ "$(systemctl show -P IPAddressDeny "$scope")" = "$(systemctl show -P IPAddressDeny sched-scheduler@3.service)" ]
expect "$scope allows loopback only (IPAddressAllow)" \
        [ "$(systemctl show -P IPAddressAllow "$scope")" = "$(systemctl show -P IPAddressAllow sched-scheduler@3.service)" ]
expect "$scope has DevicePolicy=closed" [ "$(systemctl show -P DevicePolicy "$scope")" = closed ]
expect "the scope is gone after the job" retry 10 sh -c '[ -z "$(systemctl list-units --plain --no-legend "sched-job-*")" ]'
expect "the job is done" retry 5 jcount_ge sched-scheduler@3 1 SCHED_JOB_STATE=done

# A job that forks at once, traps SIGTERM (one line per signal) and tries /etc/shadow, on one slot.
cat >/etc/systemd/system/sched-scheduler@3.service.d/zz-job.conf <<'EOF'
[Service]
ExecStart=
ExecStart=/usr/bin/sched-scheduler -s 1 --scope --instance %i --exec sh -c '(sleep "$$SCHED_JOB_RUNTIME"; :) & trap "echo got SIGTERM" TERM; echo "uid $$(id -u)"; if cat /etc/shadow >/dev/null 2>&1; then echo "shadow: read"; else echo "shadow: denied"; fi; echo ready; sleep "$$SCHED_JOB_RUNTIME"; sleep 0.5'
EOF
systemctl daemon-reload
expect "sched-scheduler@3 restarted with a forking job on one slot" systemctl restart sched-scheduler@3.service
expect "connected" retry 10 status_has sched-scheduler@3.service 'bus connected'
expect "a forking job (priority 5, runtime 30)" produce -n 1 --runtime 30 --priority 5
expect "its scope appears" retry 5 sh -c '[ -n "$(systemctl list-units --plain --no-legend "sched-job-3-*")" ]'
scope=$(systemctl list-units --plain --no-legend 'sched-job-3-*' | awk '{ print $1; exit }')
id=${scope#sched-job-3-} id=${id%.scope}
expect "it runs (job $id)" retry 5 sh -c "journalctl -q -u sched-scheduler@3 SCHED_JOB_ID=$id -o cat | grep -q 'job $id: .*ready'"
systemd-cgls --no-pager -u "$scope" | sed 's/^/     /'
systemd-cgls --no-pager -u sched-scheduler@3.service | sed 's/^/     /'
expect "all its processes are in $scope (2 sh, 2 sleep)" \
        [ "$(systemd-cgls --no-pager -u "$scope" | grep -c -E '─[0-9]+ (sleep|sh -c) ')" -ge 4 ]
expect "none of them is in the service's cgroup" \
        sh -c "! systemd-cgls --no-pager -u sched-scheduler@3.service | grep -q -E '─[0-9]+ (sleep|sh -c) '"
journalctl -q -u sched-scheduler@3 SCHED_JOB_ID="$id" -o cat | sed 's/^/     /'
expect "no warning from sched-scheduler@3 (e.g. the ledger in its runtime directory)" \
        sh -c "! journalctl -q -u sched-scheduler@3 -p warning -o cat | grep -q ."
expect "the scheduler, now sched-scheduler, wrote to its state directory, $(stat -c '%n %A %U:%G' /var/lib/sched-scheduler/3)" \
        [ "$(stat -c %U /var/lib/sched-scheduler/3/pending-jobs 2>/dev/null)" = sched-scheduler ]
expect "the job does not run as root" sh -c "journalctl -q -u sched-scheduler@3 SCHED_JOB_ID=$id -o cat | grep -q 'uid [1-9]'"
expect "the job cannot read /etc/shadow" sh -c "journalctl -q -u sched-scheduler@3 SCHED_JOB_ID=$id -o cat | grep -q 'shadow: denied'"
expect "an urgent job evicts it" produce -n 1 --runtime 1 --priority 0
expect "it is recorded evicted" retry 8 jcount_ge sched-scheduler@3 1 SCHED_JOB_ID="$id" SCHED_JOB_STATE=evicted
expect "its scope is gone" retry 8 sh -c "[ -z \"\$(systemctl list-units --plain --no-legend '$scope')\" ]"
sleep 1
terms=$(journalctl -q -u sched-scheduler@3 SCHED_JOB_ID="$id" -o cat | grep -c 'got SIGTERM')
expect "it got exactly one SIGTERM ($terms)" [ "$terms" = 1 ]
expect "the urgent job is done" retry 8 jcount_ge sched-scheduler@3 2 SCHED_JOB_STATE=done

# polkit (polkitd installed): what systemd 252 tells it about sched-scheduler's requests.
cat >/etc/polkit-1/rules.d/00-sched-systest.rules <<'EOF'
polkit.addRule(function(action, subject) {
    if (action.id == "org.freedesktop.systemd1.manage-units" && subject.user == "sched-scheduler")
        polkit.spawn(["/usr/bin/logger", "-t", "sched-systest", "manage-units for sched-scheduler, unit=" +
                      action.lookup("unit") + " verb=" + action.lookup("verb")]);
});
EOF
as_sched() { setpriv --reuid=sched-scheduler --regid=sched-scheduler --clear-groups "$@"; }
if [ -e /usr/share/polkit-1/rules.d/50-sched-utils.rules ] && command -v pkcheck >/dev/null; then
        out=$(as_sched systemd-run --no-ask-password --scope --unit=sched-job-probe-1 true 2>&1)
        start=$?
        echo "     StartTransientUnit sched-job-probe-1.scope as sched-scheduler: status $start: $out"
        systemd-run -q --scope --unit=sched-job-probe-2 sleep 30 &
        probe=$!
        retry 5 is_active sched-job-probe-2.scope
        out=$(as_sched systemctl --no-ask-password stop sched-job-probe-2.scope 2>&1)
        stop=$?
        echo "     StopUnit sched-job-probe-2.scope as sched-scheduler: status $stop${out:+: $out}"
        out=$(as_sched systemctl --no-ask-password stop sched-bus.socket 2>&1)
        other=$?
        echo "     StopUnit sched-bus.socket as sched-scheduler: status $other${out:+: $out}"
        polkit_log() { journalctl -b -q -t sched-systest -o cat; }
        retry 5 sh -c "journalctl -b -q -t sched-systest -o cat | grep -q 'unit=sched-job-probe-2'"
        polkit_log | sed 's/^/     polkitd: /'
        if polkit_log | grep -q 'unit=undefined verb=undefined'; then
                expect "systemd $(systemctl --version | awk 'NR == 1 { print $2 }') passes no unit to polkit for StartTransientUnit: refused" [ $start -ne 0 ]
        else
                expect "StartTransientUnit of sched-job-probe-1.scope allowed by the rule" [ $start -eq 0 ]
        fi
        expect "StopUnit of a sched-job-* scope allowed by the shipped rule" [ $stop -eq 0 ]
        expect "StopUnit of any other unit refused" [ $other -ne 0 ]
        systemctl stop sched-job-probe-2.scope 2>/dev/null
        wait $probe
        rm -f /etc/polkit-1/rules.d/00-sched-systest.rules
else
        fail "polkitd (pkcheck) and the shipped rule 50-sched-utils.rules are there"
fi

# A scope that cannot be made (its name is invalid): the job fails, says why, and never runs.
sed -i 's|--instance %i|--instance bad/name|' /etc/systemd/system/sched-scheduler@3.service.d/zz-job.conf
systemctl daemon-reload
expect "sched-scheduler@3 restarted with an invalid scope name" systemctl restart sched-scheduler@3.service
expect "connected" retry 10 status_has sched-scheduler@3.service 'bus connected'
failed=$(jcount sched-scheduler@3 SCHED_JOB_STATE=failed)
expect "a job" produce -n 1 --runtime 2 --priority 5
expect "it is recorded failed" retry 8 jcount_ge sched-scheduler@3 $((failed + 1)) SCHED_JOB_STATE=failed
line=$(journalctl -q -u sched-scheduler@3 SCHED_JOB_STATE=failed -o cat | tail -n 1)
echo "     $line"
id=$(journalctl -q -u sched-scheduler@3 SCHED_JOB_STATE=failed -o export | sed -n 's/^SCHED_JOB_ID=//p' | tail -n 1)
expect "its record says why" sh -c "echo '$line' | grep -q 'scope sched-job-bad/name-$id.scope'"
expect "it never ran" sh -c "! journalctl -q -u sched-scheduler@3 SCHED_JOB_ID=$id -o cat | grep -q 'job $id: uid'"

rm /etc/systemd/system/sched-scheduler@3.service.d/zz-job.conf
systemctl daemon-reload
expect "sched-scheduler@3 restarted with the shipped drop-in" systemctl restart sched-scheduler@3.service
expect "connected" retry 10 status_has sched-scheduler@3.service 'bus connected'
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

# submit ARGS...: sched-producer's jobs, their ids on one line (its "Job N submitted." lines).
submit() {
        sched-producer --connect-timeout 5 "$@" 2>&1 | sed -n 's/.*Job \([0-9][0-9]*\) submitted\..*/\1/p' | xargs
}
# ends UNIT ID: the terminal entries of job ID in the journal of UNIT, one state a line.
ends() {
        journalctl -q -u "$1" SCHED_JOB_ID="$2" -o export | sed -n 's/^SCHED_JOB_STATE=//p' |
                grep -x -E 'done|failed|timeout|evicted|cancelled|interrupted|dropped'
}
# all_end UNIT STATE ID...: each ID has exactly one terminal entry in UNIT's journal, and it is STATE.
all_end() {
        local unit=$1 state=$2 id
        shift 2
        for id; do [ "$(ends "$unit" "$id" | xargs)" = "$state" ] || return 1; done
}
# with_state UNIT STATE ID...: how many of the IDs have an entry STATE in UNIT's journal.
with_state() {
        local unit=$1 state=$2 id n=0
        shift 2
        for id; do
                journalctl -q -u "$unit" SCHED_JOB_ID="$id" SCHED_JOB_STATE="$state" -o cat | grep -q . && n=$((n + 1))
        done
        echo $n
}
main_pid() { systemctl show -P MainPID "$1"; }
# evict_drop_in MODE: sched-scheduler@3 with --evict MODE and a timeout its jobs never reach.
evict_drop_in() {
        mkdir -p /etc/systemd/system/sched-scheduler@3.service.d
        printf '[Service]\nExecStart=\nExecStart=/usr/bin/sched-scheduler -s %%i -t 30 --evict %s\n' "$1" \
                >/etc/systemd/system/sched-scheduler@3.service.d/evict.conf
        systemctl daemon-reload
}

step "8a. restart with 3 jobs running and 5 waiting: sched-scheduler@3 --evict=requeue keeps them all"
# @3 as shipped (under its dynamic user, no more --scope), with the drop-in.
rm -rf /etc/systemd/system/sched-scheduler@3.service.d
evict_drop_in requeue
systemctl start sched-bus.socket
expect "sched-scheduler@3 (--evict requeue) started" systemctl start sched-scheduler@3.service
expect "connected" retry 10 status_has sched-scheduler@3.service 'bus connected'
pid=$(main_pid sched-scheduler@3.service)
state=/var/lib/private/sched-scheduler/3
echo "     $(stat -c %N /var/lib/sched-scheduler/3); $(stat -c '%n: %A %u:%g (%U:%G)' $state)"
expect "its StateDirectory=: /var/lib/sched-scheduler/3 links to $state" \
        [ "$(readlink -f /var/lib/sched-scheduler/3)" = $state ]
# DynamicUser=yes takes the user named after the template, sched-scheduler: the package's own (for
# --scope) where it exists, a dynamic UID otherwise.
expect "$state belongs to the user it runs as ($(ps -o user= -p "$pid" | xargs), $(ps -o uid= -p "$pid" | xargs))" \
        [ "$(stat -c %u $state)" = "$(ps -o uid= -p "$pid" | xargs)" ]
ids=$(submit -n 8 -p 0.05 --runtime 4 --priority 5)
expect "8 jobs of 4 s: $ids" [ "$(echo "$ids" | wc -w)" -eq 8 ]
expect "3 run, 5 wait" retry 5 status_has sched-scheduler@3.service '^running 3/3, pending 5'
expect "the 5 waiting ones are in $state/pending-jobs" \
        retry 5 sh -c "[ \$(grep -c '^[0-9]' $state/pending-jobs 2>/dev/null) -eq 5 ]"
expect "systemctl restart sched-scheduler@3" systemctl restart sched-scheduler@3.service
expect "a new process (MainPID $pid -> $(main_pid sched-scheduler@3.service))" \
        [ "$(main_pid sched-scheduler@3.service)" != "$pid" ]
expect "the 3 running ones were recorded requeued" [ "$(with_state sched-scheduler@3 requeued $ids)" -eq 3 ]
journalctl -q -u sched-scheduler@3 -o cat | grep -E 'requeued:|kept for the next start|back in the queue' |
        sed 's/^/     /'
expect "the 5 waiting ones were kept" \
        [ "$(journalctl -q -u sched-scheduler@3 -o cat | grep -c 'kept for the next start')" -eq 5 ]
expect "all 8 are back after the restart: 3 run, 5 wait" \
        retry 5 status_has sched-scheduler@3.service '^running 3/3, pending 5'
echo "     StatusText: $(status_text sched-scheduler@3.service)"
expect "journalctl -u sched-scheduler@3 SCHED_JOB_STATE=done: all 8, each with one terminal entry" \
        retry 20 all_end sched-scheduler@3 done $ids
expect "the pending file is empty again" retry 5 sh -c "! grep -q '^[0-9]' $state/pending-jobs"

step "8b. the same restart under --evict=kill (the default): interrupted and dropped"
rm -rf /etc/systemd/system/sched-scheduler@3.service.d
systemctl daemon-reload
expect "sched-scheduler@3 restarted as shipped" systemctl restart sched-scheduler@3.service
expect "connected" retry 10 status_has sched-scheduler@3.service 'bus connected'
ids=$(submit -n 8 -p 0.05 --runtime 4 --priority 5)
expect "8 jobs of 4 s: $ids" [ "$(echo "$ids" | wc -w)" -eq 8 ]
expect "3 run, 5 wait" retry 5 status_has sched-scheduler@3.service '^running 3/3, pending 5'
expect "systemctl restart sched-scheduler@3" systemctl restart sched-scheduler@3.service
expect "3 were recorded interrupted" [ "$(with_state sched-scheduler@3 interrupted $ids)" -eq 3 ]
expect "5 were recorded dropped" [ "$(with_state sched-scheduler@3 dropped $ids)" -eq 5 ]
expect "each of the 8 has exactly one terminal entry" \
        sh -c "for id in $ids; do [ \$(journalctl -q -u sched-scheduler@3 SCHED_JOB_ID=\$id -o export | grep -c -x -E 'SCHED_JOB_STATE=(done|failed|timeout|evicted|cancelled|interrupted|dropped)') -eq 1 ] || exit 1; done"
expect "none came back" retry 5 status_has sched-scheduler@3.service '^running 0/3, pending 0'
expect "systemctl stop sched-scheduler@3" systemctl stop sched-scheduler@3.service

if [ "$MODE" = deb ]; then
        step "9. package upgrade while sched-scheduler@3 (--evict=requeue) runs jobs"
        evict_drop_in requeue
        expect "sched-scheduler@3 started with --evict requeue" systemctl start sched-scheduler@3.service
        expect "connected" retry 10 status_has sched-scheduler@3.service 'bus connected'
        ids=$(submit -n 4 -p 0.05 --runtime 4 --priority 5)
        expect "4 jobs of 4 s: $ids" [ "$(echo "$ids" | wc -w)" -eq 4 ]
        expect "3 run, 1 waits" retry 5 status_has sched-scheduler@3.service '^running 3/3, pending 1'
        pid=$(main_pid sched-scheduler@3.service)
        new=$(ls "$R"/upgrade/sched-utils_*.deb)
        # dpkg -i in its two halves, to see the running binary replaced between them.
        expect "dpkg --unpack $(basename "$new")" dpkg --unpack "$new"
        expect "the unpack leaves MainPID $pid running, on the old binary: $(readlink /proc/"$pid"/exe)" \
                sh -c "[ $(main_pid sched-scheduler@3.service) = $pid ] && readlink /proc/$pid/exe | grep -q ' (deleted)\$'"
        expect "dpkg --configure sched-utils" dpkg --configure sched-utils
        expect "sched-utils is at $(dpkg-query -W -f '${Version}' sched-utils)" \
                [ "$(dpkg-query -W -f '${Version}' sched-utils)" = "$(dpkg-deb -f "$new" Version)" ]
        now=$(main_pid sched-scheduler@3.service)
        expect "sched-scheduler@3 was restarted: MainPID $pid -> $now" sh -c "[ $now != $pid ] && [ $now != 0 ]"
        expect "it is active" is_active sched-scheduler@3.service
        expect "it runs the new binary: /proc/$now/exe -> $(readlink /proc/"$now"/exe)" \
                sh -c "readlink /proc/$now/exe | grep -q -v ' (deleted)\$' && [ \$(stat -L -c %i /proc/$now/exe) = \$(stat -c %i /usr/bin/sched-scheduler) ]"
        expect "connected" retry 10 status_has sched-scheduler@3.service 'bus connected'
        n=$(with_state sched-scheduler@3 requeued $ids)
        expect "its running jobs were recorded requeued ($n)" [ "$n" -ge 1 ]
        expect "all 4 jobs are done, each with one terminal entry" retry 15 all_end sched-scheduler@3 done $ids
        journalctl -q -u sched-scheduler@3 -o cat | grep -E 'back in the queue|Scheduler ready' | tail -n 2 |
                sed 's/^/     /'
        expect "systemctl stop sched-scheduler@3" systemctl stop sched-scheduler@3.service
fi

step "warnings and errors the sched-utils units logged (for the record)"
journalctl -b -q -p warning -u 'sched-*' -o short-monotonic --no-pager | tail -n 20 | sed 's/^/     /'

if [ "$MODE" = deb ]; then
        step "10. purge while everything runs"
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
        left=$(find /var/lib /var/lib/private -maxdepth 1 -name 'sched-*' | xargs)
        expect "no state directory of the bus or a scheduler is left${left:+: $left}" [ -z "$left" ]
        known=$(systemctl list-unit-files --no-legend 'sched-bus*' 'sched-scheduler*' 'sched-producer*' 'sched-jobs*' | xargs)
        expect "no sched-utils unit file is known${known:+: $known}" [ -z "$known" ]
fi
