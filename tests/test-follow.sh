#!/bin/sh
# Following jobs end to end (issue 12): the real sched-bus on a free loopback port, sched-scheduler
# instances (--cgroup off) started and stopped between cases, since the bus sends every job to every
# registered scheduler, and sched-ctl against them. A `sched-ctl watch --json` runs throughout.
#   1. submit --wait exits with the status that names each end (0 done, 3 failed, 4 timeout,
#      5 evicted, 6 cancelled, 7 interrupted, 8 dropped by a full scheduler and by the bus), and the
#      scheduler's own terminal record of that job (job=ID ... state=STATE) agrees;
#   2. jobs (text, --json, --state running) on two 1-slot schedulers with 3 long jobs each;
#   3. cancel of a queued job, then of the running one: the next job starts within 5 s;
#   4. every line of watch --json is one job event, each job's events come in order, and its one
#      final event names its end;
#   5. status --json: both schedulers, their slots in use out of their slots, their queues.
#   test-follow.sh PATH-TO-sched-bus PATH-TO-sched-scheduler PATH-TO-sched-ctl
# Conditions are strings run by eval, expanded then: single quotes on purpose (SC2016). The jobs' ids
# are assigned through eval (SC2154).
# shellcheck disable=SC2016,SC2154
set -u
bus_bin=$1
sched_bin=$2
ctl_bin=$3
dir=$(mktemp -d)
pids="" # every process started here, newest first

cleanup() {
    for p in $pids; do kill -TERM "$p" 2>/dev/null; done
    i=0
    while [ $i -lt 50 ]; do
        left=""
        for p in $pids; do alive "$p" && left="$left $p"; done
        [ -z "$left" ] && break
        sleep 0.1
        i=$((i + 1))
    done
    for p in $pids; do kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fail() {
    echo "FAIL: $*"
    for f in "$dir"/*.log "$dir"/*.out "$dir"/*.err; do
        [ -s "$f" ] || continue
        echo "--- ${f##*/}"
        cat "$f"
    done
    exit 1
}

# Takes a reaped pid off the list, so that cleanup never signals a pid that may have been reused.
forget() {
    left=""
    for p in $pids; do [ "$p" = "$1" ] || left="$left $p"; done
    pids=$left
}

# Whether the process exists and is not a zombie.
alive() {
    [ -r "/proc/$1/stat" ] || return 1
    [ "$(sed 's/.*) //' "/proc/$1/stat" | cut -c1)" != Z ]
}

# wait_for SECONDS WHAT COMMAND: runs COMMAND (eval) every 0.1 s until it succeeds.
wait_for() {
    n=$(($1 * 10))
    while [ "$n" -gt 0 ]; do
        eval "$3" && return 0
        sleep 0.1
        n=$((n - 1))
    done
    fail "not within $1 s: $2"
}

# jtrue EXPR: the first line of stdin is a JSON object d; succeeds when EXPR is true.
jtrue() {
    /usr/bin/python3 -c '
import json, sys
d = json.loads(sys.stdin.readline())
def rows(d): return sorted((j["id"], s["name"], s["state"]) for j in d["jobs"] for s in j["schedulers"])
def sched(d, n): return [s for s in d["schedulers"] if s.get("name") == n]
sys.exit(0 if eval(sys.argv[1]) else 1)' "$1"
}

ctl() { timeout 30 "$ctl_bin" --bus "$url" --timeout 10 "$@"; }

# stop PID: SIGTERM, and the exit status 0 within 10 s.
stop() {
    kill -TERM "$1"
    i=0
    while alive "$1" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    alive "$1" && { kill -KILL "$1"; fail "pid $1 did not stop within 10 s of SIGTERM"; }
    wait "$1"
    rc=$?
    forget "$1"
    [ "$rc" -eq 0 ] || fail "pid $1 exited $rc after SIGTERM, expected 0"
}

# The bus, on a port that was free a moment ago (another one should a race take it).
for try in 1 2 3; do
    port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    url=ws://127.0.0.1:$port
    # --hold 0: the job of case busdrop is dropped, not held (holding is test-bus's).
    "$bus_bin" --listen "127.0.0.1:$port" --hold 0 2>"$dir/bus.log" &
    bus_pid=$!
    i=0
    while alive $bus_pid && ! grep -q "Listening on 127.0.0.1:$port" "$dir/bus.log" && [ $i -lt 100 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    grep -q "Listening on 127.0.0.1:$port" "$dir/bus.log" && alive $bus_pid && break
    kill -KILL $bus_pid 2>/dev/null
    wait $bus_pid 2>/dev/null
    [ $try -eq 3 ] && fail "the bus did not listen"
done
pids="$bus_pid"

# start_sched NAME ARGS...: a scheduler, registered with the bus under NAME when this returns. Its
# pid goes to $NAME_pid (NAME with - as _), its stderr to NAME.log.
start_sched() {
    name=$1
    shift
    "$sched_bin" --bus "$url" --cgroup off --name "$name" "$@" 2>"$dir/$name.log" &
    eval "$(echo "$name" | tr - _)_pid=$!"
    pids="$! $pids"
    wait_for 10 "scheduler $name registered" \
        "ctl status --json 2>/dev/null | jtrue 'any(s[\"reports\"] and s[\"slots\"] for s in sched(d, \"$name\"))'"
}

# stop_sched NAME: stops it, and waits until the bus no longer lists it.
stop_sched() {
    eval "stop \$$(echo "$1" | tr - _)_pid"
    wait_for 10 "scheduler $1 gone from the bus" "ctl status --json 2>/dev/null | jtrue 'not sched(d, \"$1\")'"
}

# submit_bg NAME ARGS...: submit --wait in the background; the job's id goes to $NAME once the bus
# has accepted it.
submit_bg() {
    name=$1
    shift
    timeout 30 "$ctl_bin" --bus "$url" --timeout 10 submit "$@" --wait >"$dir/$name.out" 2>"$dir/$name.err" &
    eval "${name}_pid=$!"
    pids="$! $pids"
    wait_for 10 "the id of job $name" "grep -Eq '^[0-9]+\$' '$dir/$name.out' 2>/dev/null"
    eval "$name=\$(head -n 1 '$dir/$name.out')"
}

# finish NAME RC: the background submit --wait of NAME exits RC within 20 s.
finish() {
    eval "p=\$${1}_pid"
    i=0
    while alive "$p" && [ $i -lt 200 ]; do sleep 0.1; i=$((i + 1)); done
    alive "$p" && fail "submit --wait of job $1 still waits after 20 s (expected exit status $2)"
    wait "$p"
    rc=$?
    forget "$p"
    [ "$rc" -eq "$2" ] || fail "submit --wait of job $1 exited $rc, expected $2"
}

# submit_fg NAME RC ARGS...: submit --wait in the foreground, exiting RC; the id goes to $NAME.
submit_fg() {
    name=$1
    want=$2
    shift 2
    ctl submit "$@" --wait >"$dir/$name.out" 2>"$dir/$name.err"
    rc=$?
    grep -Eq '^[0-9]+$' "$dir/$name.out" || fail "submit of job $name printed no id"
    eval "$name=\$(head -n 1 '$dir/$name.out')"
    [ "$rc" -eq "$want" ] || fail "submit --wait of job $name exited $rc, expected $want"
}

# The states in the terminal records of job ID in a scheduler's log: lines "Job ID ..." with the
# tokens job=ID and state=S, S not queued nor running.
terminal_states() {
    awk -v id="$2" 'index($0, ": Job " id " ") || index($0, ": Job " id ".") {
        job = ""; state = ""
        for (i = 1; i <= NF; i++) {
            if ($i ~ /^job=/) job = substr($i, 5)
            if ($i ~ /^state=/) state = substr($i, 7)
        }
        if (job == id && state != "" && state != "queued" && state != "running") print state
    }' "$dir/$1.log"
}

# check_record SCHEDULER NAME STATE: the scheduler wrote one terminal record of job $NAME, with STATE.
check_record() {
    eval "id=\$$2"
    got=$(terminal_states "$1" "$id" | tr '\n' ' ')
    [ "$got" = "$3 " ] || fail "scheduler $1: terminal records of job $2 ($id): '$got', expected '$3'"
}

# log_line SCHEDULER NAME STATE: the number of the line of the scheduler's log where job $NAME went to
# STATE (0 if none).
log_line() {
    eval "id=\$$2"
    awk -v id="$id" -v st="$3" 'index($0, ": Job " id " ") && index($0, " job=" id " ") &&
        index($0, " state=" st) { print NR; found = 1; exit } END { if (!found) print 0 }' "$dir/$1.log"
}

# Every job event from here on.
"$ctl_bin" --bus "$url" watch --json >"$dir/watch.out" 2>"$dir/watch.err" &
watch_pid=$!
pids="$watch_pid $pids"
wait_for 10 "watch registered as an observer" "ctl status --json 2>/dev/null | jtrue 'd[\"bus\"][\"observers\"] == 1'"

# --- 1. Each end, with the schedulers it needs and no other.
# No scheduler: the bus drops the job.
submit_fg busdrop 8 -r 0.2

start_sched s-done -s 2
submit_fg good 0 -r 0.2
check_record s-done good "done"
stop_sched s-done

start_sched s-fail -s 2 --exec sh -c 'echo "job $SCHED_JOB_ID runtime $SCHED_JOB_RUNTIME"; exit 3'
submit_fg failed 3 -r 0.2
check_record s-fail failed failed
stop_sched s-fail

start_sched s-timeout -s 2 -t 0.5 --grace 1
submit_fg timeout 4 -r 5
check_record s-timeout timeout timeout
stop_sched s-timeout

start_sched s-evict -s 1 -t 0
submit_bg low -p 9 -r 30
wait_for 10 "job low running" '[ "$(log_line s-evict low running)" -gt 0 ]'
submit_fg urgent 0 -p 0 -r 0.2
finish low 5
check_record s-evict low evicted
check_record s-evict urgent "done"
stop_sched s-evict

# A scheduler whose slot and queue are full drops the next job; stopping it interrupts the running
# job and drops the queued one.
start_sched s-full -s 1 -t 0 --max-pending 1
submit_bg full1 -r 30
wait_for 10 "job full1 running" '[ "$(log_line s-full full1 running)" -gt 0 ]'
submit_bg full2 -r 30
wait_for 10 "job full2 queued" '[ "$(log_line s-full full2 queued)" -gt 0 ]'
submit_fg full3 8 -r 0.2
check_record s-full full3 dropped
stop_sched s-full
finish full1 7
finish full2 8
check_record s-full full1 interrupted
check_record s-full full2 dropped

# --- 2, 3, 5: two 1-slot schedulers, jobs A, B, C: on each, A runs, B and C wait.
start_sched two-a -s 1 -t 0
start_sched two-b -s 1 -t 0
submit_bg A -r 30
wait_for 10 "job A running on both" '[ "$(log_line two-a A running)" -gt 0 ] && [ "$(log_line two-b A running)" -gt 0 ]'
submit_bg B -r 30
submit_bg C -r 30
wait_for 10 "jobs B and C queued on both" \
    '[ "$(log_line two-a C queued)" -gt 0 ] && [ "$(log_line two-b C queued)" -gt 0 ]'
expected_rows="[($A, \"two-a\", \"running\"), ($A, \"two-b\", \"running\"), ($B, \"two-a\", \"queued\"), ($B, \"two-b\", \"queued\"), ($C, \"two-a\", \"queued\"), ($C, \"two-b\", \"queued\")]"
wait_for 10 "jobs --json: A running, B and C queued on both schedulers" \
    "ctl jobs --json >'$dir/jobs.json' 2>'$dir/jobs.err' && jtrue '[r for r in rows(d) if r[0] >= $A] == $expected_rows' <'$dir/jobs.json'"
jtrue "[(j['id'], j['state']) for j in d['jobs'] if j['id'] >= $A] == [($A, 'running'), ($B, 'queued'), ($C, 'queued')] and d['total'] == len(d['jobs'])" \
    <"$dir/jobs.json" || fail "jobs --json: the summary states of A, B, C: $(cat "$dir/jobs.json")"
# Their times: A started and not ended, B and C queued and not started.
jtrue "all(('started' in s) == (j['id'] == $A) and ('queued' in s) == (j['id'] != $A) and 'ended' not in s for j in d['jobs'] if j['id'] >= $A for s in j['schedulers'])" \
    <"$dir/jobs.json" || fail "jobs --json: the times of A, B, C: $(cat "$dir/jobs.json")"

# The table: one row per job and scheduler, ID PRIORITY STATE SCHEDULER ...
ctl jobs --no-pager -q >"$dir/jobs.out" 2>"$dir/jobs.err" || fail "jobs exited $?"
for row in "$A running two-a" "$A running two-b" "$B queued two-a" "$B queued two-b" "$C queued two-a" \
        "$C queued two-b"; do
    # shellcheck disable=SC2086 # word splitting of $row is the point
    set -- $row
    [ "$(awk -v id="$1" -v st="$2" -v s="$3" '$1 == id && $2 == 5 && $3 == st && $4 == s' "$dir/jobs.out" | wc -l)" -eq 1 ] ||
        fail "jobs: no single row '$1 5 $2 $3'"
done
[ "$(awk -v a="$A" '$1 ~ /^[0-9]+$/ && $1 + 0 >= a + 0' "$dir/jobs.out" | wc -l)" -eq 6 ] ||
    fail "jobs: not 6 rows for A, B, C"
ctl jobs --no-pager | grep -q '^ *ID  *PRIORITY  *STATE  *SCHEDULER' || fail "jobs: no header"

# --state running: only A, only its running rows.
ctl jobs --state running --json >"$dir/running.json" 2>"$dir/jobs.err" || fail "jobs --state running --json exited $?"
jtrue "[j['id'] for j in d['jobs']] == [$A] and d['total'] == 1 and all(s['state'] == 'running' for j in d['jobs'] for s in j['schedulers'] if s['name'] in ('two-a', 'two-b')) and sorted(s['name'] for s in d['jobs'][0]['schedulers']) == ['two-a', 'two-b']" \
    <"$dir/running.json" || fail "jobs --state running --json: $(cat "$dir/running.json")"
ctl jobs --state running --no-pager -q >"$dir/jobs.out" 2>"$dir/jobs.err" || fail "jobs --state running exited $?"
[ "$(awk 'NF' "$dir/jobs.out" | wc -l)" -eq 2 ] || fail "jobs --state running: not 2 rows"
[ "$(awk -v id="$A" '$1 == id && $3 == "running" && ($4 == "two-a" || $4 == "two-b")' "$dir/jobs.out" | wc -l)" -eq 2 ] ||
    fail "jobs --state running: not the running rows of A"

# 5. status: both schedulers, 1/1 slots, 2 waiting; the table's counts.
ctl status --json >"$dir/status.json" 2>"$dir/status.err" || fail "status --json exited $?"
for s in two-a two-b; do
    jtrue "len(sched(d, '$s')) == 1 and sched(d, '$s')[0]['slots'] == 1 and sched(d, '$s')[0]['running'] == 1 and sched(d, '$s')[0]['queued'] == 2 and sched(d, '$s')[0]['reports'] is True" \
        <"$dir/status.json" || fail "status --json: scheduler $s: $(cat "$dir/status.json")"
done
jtrue "d['bus']['schedulers'] == 2 and len(d['schedulers']) == 2 and d['states']['running'] == 2 and d['states']['queued'] == 4" \
    <"$dir/status.json" || fail "status --json: counts: $(cat "$dir/status.json")"
ctl status --no-pager >"$dir/status.out" 2>"$dir/status.err" || fail "status exited $?"
for s in two-a two-b; do
    grep -Eq "^$s +127\.0\.0\.1:[0-9]+ +1/1 +2\$" "$dir/status.out" || fail "status: no line '$s ... 1/1 2'"
done

# 3. Cancel B (queued): cancelled on both, A still runs.
ctl cancel --json "$B" >"$dir/cancel.out" 2>"$dir/cancel.err" || fail "cancel B exited $?"
jtrue "d == {'event': 'cancelling', 'id': $B, 'schedulers': 2}" <"$dir/cancel.out" ||
    fail "cancel --json B: $(cat "$dir/cancel.out")"
finish B 6
check_record two-a B cancelled
check_record two-b B cancelled
ctl jobs --json >"$dir/jobs.json" 2>"$dir/jobs.err" || fail "jobs --json exited $?"
jtrue "[r for r in rows(d) if r[0] >= $A] == [($A, 'two-a', 'running'), ($A, 'two-b', 'running'), ($B, 'two-a', 'cancelled'), ($B, 'two-b', 'cancelled'), ($C, 'two-a', 'queued'), ($C, 'two-b', 'queued')]" \
    <"$dir/jobs.json" || fail "after cancelling B: $(cat "$dir/jobs.json")"
[ "$(terminal_states two-a "$A")$(terminal_states two-b "$A")" = "" ] || fail "A ended with B's cancel"

# Cancel A (running): cancelled on both, and C starts on both within 5 s.
ctl cancel "$A" >"$dir/cancel.out" 2>"$dir/cancel.err" || fail "cancel A exited $?"
grep -q "^Cancelling job $A on 2 schedulers\.\$" "$dir/cancel.out" || fail "cancel A: no line 'Cancelling job $A on 2 schedulers.'"
wait_for 5 "job C running on both after A's cancel" \
    '[ "$(log_line two-a C running)" -gt 0 ] && [ "$(log_line two-b C running)" -gt 0 ]'
finish A 6
check_record two-a A cancelled
check_record two-b A cancelled
for s in two-a two-b; do
    [ "$(log_line $s A cancelled)" -lt "$(log_line $s C running)" ] || fail "$s: C started before A was cancelled"
done
wait_for 5 "jobs --json: C running on both" \
    "ctl jobs --json --state running 2>/dev/null | jtrue 'rows(d) == [($C, \"two-a\", \"running\"), ($C, \"two-b\", \"running\")]'"

# Cancel C (running) while its submit --wait waits.
ctl cancel -q "$C" >"$dir/cancel.out" 2>"$dir/cancel.err" || fail "cancel C exited $?"
finish C 6
check_record two-a C cancelled
check_record two-b C cancelled
# Cancelling what has ended everywhere is refused.
ctl cancel "$C" >"$dir/cancel.out" 2>"$dir/cancel.err"
rc=$?
[ "$rc" -eq 1 ] || fail "a second cancel of C exited $rc, expected 1"
grep -q "not_cancellable" "$dir/cancel.err" || fail "a second cancel of C: no not_cancellable on stderr"
stop_sched two-a
stop_sched two-b

# --- 4. The watch: SIGTERM ends it with 0; each line one job event; each job's events in order.
stop "$watch_pid"
/usr/bin/python3 - "$dir/watch.out" <<EOF || fail "watch --json"
import json, sys
expected = {  # job: (its end, {scheduler: its states there, in order})
    $busdrop: ("dropped", {None: ["dropped"]}),
    $good: ("done", {"s-done": ["running", "done"]}),
    $failed: ("failed", {"s-fail": ["running", "failed"]}),
    $timeout: ("timeout", {"s-timeout": ["running", "timeout"]}),
    $low: ("evicted", {"s-evict": ["running", "evicted"]}),
    $urgent: ("done", {"s-evict": ["running", "done"]}),
    $full1: ("interrupted", {"s-full": ["running", "interrupted"]}),
    $full2: ("dropped", {"s-full": ["queued", "dropped"]}),
    $full3: ("dropped", {"s-full": ["dropped"]}),
    $A: ("cancelled", {"two-a": ["running", "cancelled"], "two-b": ["running", "cancelled"]}),
    $B: ("cancelled", {"two-a": ["queued", "cancelled"], "two-b": ["queued", "cancelled"]}),
    $C: ("cancelled", {"two-a": ["queued", "running", "cancelled"], "two-b": ["queued", "running", "cancelled"]}),
}
events = {}
bad = []
for n, line in enumerate(open(sys.argv[1]), 1):
    try:
        e = json.loads(line)
    except ValueError as x:
        bad.append("line %d is not JSON (%s): %r" % (n, x, line))
        continue
    if not (isinstance(e, dict) and e.get("event") == "job" and isinstance(e.get("id"), int)
            and isinstance(e.get("state"), str) and isinstance(e.get("time"), (int, float))):
        bad.append("line %d is not one job event: %r" % (n, line))
        continue
    events.setdefault(e["id"], []).append(e)
for id, (end, per_sched) in expected.items():
    evs = events.get(id, [])
    got = {}
    for e in evs:
        got.setdefault(e.get("scheduler"), []).append(e["state"])
    if got != per_sched:
        bad.append("job %d: states %r, expected %r" % (id, got, per_sched))
    finals = [i for i, e in enumerate(evs) if e.get("final")]
    if finals != [len(evs) - 1] or evs[-1].get("end") != end:
        bad.append("job %d: final events at %r of %d, end %r, expected one, the last, end %r"
                   % (id, finals, len(evs), evs[-1].get("end") if evs else None, end))
    if [e["time"] for e in evs] != sorted(e["time"] for e in evs):
        bad.append("job %d: times out of order" % id)
for e in events.get($failed, []):
    if e["state"] == "failed" and e.get("exit_status") != 3:
        bad.append("the failed job's event has no exit_status 3: %r" % e)
for e in events.get($low, []):
    if e["state"] == "evicted" and e.get("evicted_by") != $urgent:
        bad.append("the evicted job's event has no evicted_by %d: %r" % ($urgent, e))
for e in events.get($busdrop, []):
    if not e.get("reason"):
        bad.append("the bus's drop has no reason: %r" % e)
unknown = set(events) - set(expected)
if unknown:
    bad.append("events of jobs not submitted here: %r" % sorted(unknown))
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
EOF

stop "$bus_pid"
echo "ok"
