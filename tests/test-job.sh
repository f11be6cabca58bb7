#!/bin/sh
# The job command of the scheduler integration tests (sched-scheduler --exec tests/test-job.sh DIR).
# Priority 9 fails with exit 3. Any other job starts a grandchild (its pid goes to
# DIR/grandchild-ID), says hello on stdout and sleeps its runtime.
dir=$1
echo "hello from job $SCHED_JOB_ID priority $SCHED_JOB_PRIORITY runtime $SCHED_JOB_RUNTIME"
[ "$SCHED_JOB_PRIORITY" = 9 ] && exit 3
sleep 300 &
echo $! > "$dir/grandchild-$SCHED_JOB_ID"
exec sleep "$SCHED_JOB_RUNTIME"
