/* SPDX-License-Identifier: MIT */
/*
 * Logging for every program of the project. When stderr is connected to the journal
 * (JOURNAL_STREAM names stderr's device:inode) each event goes out through sd_journal_send() with
 * structured fields (SCHED_JOB_ID=, SCHED_JOB_STATE=, ...); otherwise it is one timestamped line on
 * stderr that carries the same facts as `key=value` tokens (SCHED_CLIENT= becomes client=). What a
 * job's log line carries is the sched layer's business (job-log.h); this file knows no job.
 *
 * A function either logs or returns an error, never both: log_*_errno(r, ...) returns -abs(r) so a
 * failure can be logged where it is handled with `return log_error_errno(r, "...: %m");`.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

#include <stdarg.h>

#include "macro.h"
#include "ratelimit.h"

/* Picks the output (journal or plain stderr) and the identifier shown in each line. */
void log_setup(const char *ident);
void log_set_max_level(int level);
int log_get_max_level(void);
/* Forces plain stderr output or the journal; for tests. */
void log_force_journal(bool journal);

/* `fields` is NULL or a NULL-terminated array of "KEY=value" strings. Returns -abs(error). */
int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *const *fields, const char *format, ...) _printf_(7, 8);
int log_internalv(int level, int error, const char *file, int line, const char *func,
                  const char *const *fields, const char *format, va_list ap) _printf_(7, 0);

#define log_full_errno(level, error, ...) \
        log_internal((level), (error), __FILE__, __LINE__, __func__, NULL, __VA_ARGS__)
#define log_fields(level, error, fields, ...) \
        log_internal((level), (error), __FILE__, __LINE__, __func__, (fields), __VA_ARGS__)
#define LOG_FIELDS(...) ((const char *const[]){ __VA_ARGS__, NULL })

#define log_debug(...)   log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...)    log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...)  log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...)   log_full_errno(LOG_ERR, 0, __VA_ARGS__)

#define log_debug_errno(error, ...)   log_full_errno(LOG_DEBUG, (error), __VA_ARGS__)
#define log_info_errno(error, ...)    log_full_errno(LOG_INFO, (error), __VA_ARGS__)
#define log_notice_errno(error, ...)  log_full_errno(LOG_NOTICE, (error), __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, (error), __VA_ARGS__)
#define log_error_errno(error, ...)   log_full_errno(LOG_ERR, (error), __VA_ARGS__)

#define log_oom() log_error_errno(-ENOMEM, "Out of memory.")

/* Whether a line of a kind that outside events can trigger (a client's bad frame, a peer's error)
 * may be logged now under `rl`. The first line let through after some were held back is preceded
 * by one notice: "N log lines about WHAT suppressed by the rate limit." */
bool log_ratelimit_allowed(RateLimit *rl, const char *what);

/* Text from outside (a client's frame, a job's output line) for a log message: as it is when
 * logging to the journal, where the message is a field of its own; quoted with escape_quoted() on
 * plain stderr, so that it can never forge one of our `key=value` tokens or a line. Returns buf. */
const char *log_outside(const char *s, size_t n, char *buf, size_t size);

/* The plain-mode token for a journal field name: SCHED_JOB_ID -> "job", SCHED_JOB_STATE -> "state",
 * SCHED_CLIENT -> "client". Writes at most `size` bytes including the NUL. Exposed for tests. */
void log_field_token(const char *key, size_t key_len, char *buf, size_t size);
