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
[ "$(echo "$sent" | wc -l)" -eq 8 ] || { echo "expected 8 ids in job-log.c, found: $sent"; exit 1; }
if [ "$listed" != "$sent" ]; then
        echo "catalog ids:"; echo "$listed"; echo "ids sent by job-log.c:"; echo "$sent"
        exit 1
fi
# Each entry is shown with its fields filled in.
journalctl --root="$root" --dump-catalog | grep -q 'Subject: Job @SCHED_JOB_ID@ was evicted by job @SCHED_JOB_EVICTED_BY@'
echo "catalog: 8 entries, one per job state"
