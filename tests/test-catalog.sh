#!/bin/sh
# The journal catalog: every MESSAGE_ID that common/sched/job-log.c sends has an entry that
# journalctl compiles, and there is no entry for an id the code does not send.
#   test-catalog.sh SOURCE_DIR
set -eu
src=$1
command -v journalctl >/dev/null || { echo "journalctl missing: skipped"; exit 77; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/lib/systemd/catalog"
cp "$src/packaging/catalog/sched-utils.catalog" "$root/usr/lib/systemd/catalog/"
journalctl --root="$root" --update-catalog
listed=$(journalctl --root="$root" --list-catalog | awk '{print $1}' | sort)
sent=$(grep -o '"[0-9a-f]\{32\}"' "$src/common/sched/job-log.c" | tr -d '"' | sort)
# One id per JobState: count the enum's values (the lines `JOB_...,` before _JOB_STATE_MAX), so a new
# state without an id, or an id the grep above misses, fails here.
states=$(sed -n '/^typedef enum JobState {/,/_JOB_STATE_MAX/p' "$src/common/sched/job-state.h" | grep -c '^ *JOB_[A-Z_]*,')
[ "$(echo "$sent" | wc -l)" -eq "$states" ] || { echo "expected $states ids in job-log.c, found: $sent"; exit 1; }
if [ "$listed" != "$sent" ]; then
        echo "catalog ids:"; echo "$listed"; echo "ids sent by job-log.c:"; echo "$sent"
        exit 1
fi
# Each entry is shown with its fields filled in.
journalctl --root="$root" --dump-catalog | grep -q 'Subject: Job @SCHED_JOB_ID@ was evicted by job @SCHED_JOB_EVICTED_BY@'
echo "catalog: $states entries, one per job state"
