/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>

#include "cgroup.h"
#include "macro.h"
#include "process-reap.h"

static int on_reaped(sd_event_source *s, const siginfo_t *si, void *userdata) {
        /* The loop reaps it after this returns. The source was the loop's: giving up the loop's
         * reference frees it. */
        (void) sd_event_source_set_floating(s, false);
        return 0;
}

int process_reap_later(sd_event *e, pid_t pid) {
        sd_event_source *s = NULL;
        int r;

        assert(e);
        assert(pid > 0);

        r = sd_event_add_child(e, &s, pid, WEXITED, on_reaped, NULL);
        if (r < 0)
                return r;
        (void) sd_event_source_set_description(s, "process-reap-later");
        r = sd_event_source_set_floating(s, true);
        sd_event_source_unref(s);
        return r;
}

static int on_cgroup_events(sd_event_source *s, const struct inotify_event *event, void *userdata) {
        const char *path = ASSERT_PTR(userdata);

        if (cgroup_remove(path) == -EBUSY)
                return 0;
        (void) sd_event_source_set_floating(s, false);
        return 0;
}

int process_remove_cgroup_later(sd_event *e, char *path) {
        sd_event_source *s = NULL;
        int r;

        assert(e);
        assert(path);

        r = cgroup_remove(path);
        if (r != -EBUSY) {
                free(path);
                return r;
        }
        r = cgroup_watch_events(e, &s, path, on_cgroup_events, path);
        if (r < 0) {
                free(path);
                return r;
        }
        (void) sd_event_source_set_destroy_callback(s, free);
        r = sd_event_source_set_floating(s, true);
        sd_event_source_unref(s);
        /* Emptied between the rmdir and the watch: no event is coming. */
        if (r >= 0)
                (void) cgroup_remove(path);
        return r;
}
