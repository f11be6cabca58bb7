/* SPDX-License-Identifier: MIT */
#include <stdlib.h>

#include "job.h"

int job_new(Job **ret, uint64_t id, int priority, double runtime) {
        Job *j;

        assert(ret);

        j = calloc(1, sizeof(Job));
        if (!j)
                return -ENOMEM;

        j->id = id;
        j->priority = priority;
        j->runtime = runtime;
        j->state = _JOB_STATE_INVALID;
        *ret = j;
        return 0;
}

Job *job_free(Job *j) {
        if (!j)
                return NULL;
        if (j->data_free)
                j->data_free(j->data);
        return mfree(j);
}
