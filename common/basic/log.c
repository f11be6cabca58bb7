/* SPDX-License-Identifier: MIT */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <ctype.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

#include "escape.h"
#include "log.h"

#define LOG_LINE_MAX 4096

static const char *log_ident = "sched";
static int log_max_level = LOG_INFO;
static bool log_journal;

static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return false;
        if (fstat(STDERR_FILENO, &st) < 0)
                return false;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void log_setup(const char *ident) {
        if (ident) {
                const char *slash = strrchr(ident, '/');
                log_ident = slash ? slash + 1 : ident;
        }
        log_journal = stderr_is_journal();
}

void log_set_max_level(int level) {
        log_max_level = CLAMP(level, LOG_EMERG, LOG_DEBUG);
}

int log_get_max_level(void) {
        return log_max_level;
}

void log_force_journal(bool journal) {
        log_journal = journal;
}

void log_field_token(const char *key, size_t key_len, char *buf, size_t size) {
        static const struct {
                const char *prefix;
                const char *replacement;
        } map[] = {
                { "SCHED_JOB_ID", "job" },
                { "SCHED_JOB_", "" },
                { "SCHED_", "" },
        };
        size_t n = 0;

        assert(key);
        assert(buf);

        if (size == 0)
                return;

        for (size_t i = 0; i < ELEMENTSOF(map); i++) {
                size_t l = strlen(map[i].prefix);

                if (key_len >= l && strncmp(key, map[i].prefix, l) == 0 &&
                    (l == key_len || map[i].prefix[l - 1] == '_')) {
                        n = (size_t) snprintf(buf, size, "%s", map[i].replacement);
                        n = MIN(n, size - 1);
                        key += l;
                        key_len -= l;
                        break;
                }
        }

        for (size_t i = 0; i < key_len && n + 1 < size; i++)
                buf[n++] = (char) tolower((unsigned char) key[i]);
        buf[n] = 0;
}

/* Our pid, for plain lines: a system call saved on every line, forgotten in a forked child. */
static pid_t log_pid;

static void log_forget_pid(void) {
        log_pid = 0;
}

static pid_t log_get_pid(void) {
        static bool registered;

        if (log_pid != 0)
                return log_pid;
        if (!registered)
                registered = pthread_atfork(NULL, NULL, log_forget_pid) == 0;
        /* Without the fork handler, no cache. */
        return registered ? (log_pid = getpid()) : getpid();
}

static void log_plain(int level, const char *message, const char *const *fields) {
        char line[LOG_LINE_MAX + 512], stamp[64] = "", zone[8] = "";
        struct timespec ts;
        struct tm tm;
        size_t n;
        int k;

        (void) clock_gettime(CLOCK_REALTIME, &ts);
        if (localtime_r(&ts.tv_sec, &tm)) {
                (void) strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
                (void) strftime(zone, sizeof zone, "%z", &tm);
        }

        /* Microseconds, as journalctl -o short-iso-precise shows them: a job's records (started,
         * timed out, ended) are timings, often less than a millisecond apart. */
        k = snprintf(line, sizeof line, "%s.%06ld%s %s[%d]: %s%s", stamp, ts.tv_nsec / 1000L, zone,
                     log_ident, (int) log_get_pid(),
                     level <= LOG_ERR       ? "error: "
                     : level == LOG_WARNING ? "warning: "
                                            : "",
                     message);
        n = k < 0 ? 0 : MIN((size_t) k, sizeof line - 2);

        for (const char *const *f = fields; f && *f; f++) {
                const char *eq = strchr(*f, '=');
                char token[64];

                /* A catalog key means something to the journal only. */
                if (!eq || strncmp(*f, "MESSAGE_ID=", 11) == 0)
                        continue;
                log_field_token(*f, (size_t) (eq - *f), token, sizeof token);
                k = snprintf(line + n, sizeof line - 1 - n, " %s=%s", token, eq + 1);
                if (k < 0)
                        break;
                n = MIN(n + (size_t) k, sizeof line - 2);
        }

        line[n++] = '\n';
        (void) !write(STDERR_FILENO, line, n);
}

static void log_send_journal(int level, int error, const char *file, int line, const char *func,
                             const char *message, const char *const *fields) {
        char prio[16], ident[64], loc_file[256], loc_line[32], loc_func[128], err[32];
        struct iovec iov[64];
        char *message_field;
        size_t n = 0;

        if (asprintf(&message_field, "MESSAGE=%s", message) < 0)
                return;

        (void) snprintf(prio, sizeof prio, "PRIORITY=%i", level);
        (void) snprintf(ident, sizeof ident, "SYSLOG_IDENTIFIER=%s", log_ident);
        (void) snprintf(loc_file, sizeof loc_file, "CODE_FILE=%s", file);
        (void) snprintf(loc_line, sizeof loc_line, "CODE_LINE=%i", line);
        (void) snprintf(loc_func, sizeof loc_func, "CODE_FUNC=%s", func);

        iov[n++] = (struct iovec){ message_field, strlen(message_field) };
        iov[n++] = (struct iovec){ prio, strlen(prio) };
        iov[n++] = (struct iovec){ ident, strlen(ident) };
        iov[n++] = (struct iovec){ loc_file, strlen(loc_file) };
        iov[n++] = (struct iovec){ loc_line, strlen(loc_line) };
        iov[n++] = (struct iovec){ loc_func, strlen(loc_func) };
        if (error != 0) {
                (void) snprintf(err, sizeof err, "ERRNO=%i", abs(error));
                iov[n++] = (struct iovec){ err, strlen(err) };
        }
        for (const char *const *f = fields; f && *f && n < ELEMENTSOF(iov); f++)
                iov[n++] = (struct iovec){ (char *) *f, strlen(*f) };

        (void) sd_journal_sendv(iov, (int) n);
        free(message_field);
}

_printf_(7, 0) static int log_dispatch(int level, int error, const char *file, int line, const char *func,
                                       const char *const *fields, const char *format, va_list ap) {
        char message[LOG_LINE_MAX];

        if (error != 0)
                errno = abs(error); /* for %m */
        (void) vsnprintf(message, sizeof message, format, ap);

        if (log_journal)
                log_send_journal(level, error, file, line, func, message, fields);
        else
                log_plain(level, message, fields);

        return -abs(error);
}

int log_internalv(int level, int error, const char *file, int line, const char *func,
                  const char *const *fields, const char *format, va_list ap) {
        if (level > log_max_level)
                return -abs(error);
        return log_dispatch(level, error, file, line, func, fields, format, ap);
}

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *const *fields, const char *format, ...) {
        va_list ap;
        int r;

        va_start(ap, format);
        r = log_internalv(level, error, file, line, func, fields, format, ap);
        va_end(ap);
        return r;
}

bool log_ratelimit_allowed(RateLimit *rl, const char *what) {
        unsigned suppressed;

        assert(rl);
        assert(what);

        if (!ratelimit_below(rl, 0))
                return false;
        suppressed = ratelimit_take_suppressed(rl);
        if (suppressed > 0)
                log_notice("%u log lines about %s suppressed by the rate limit.", suppressed, what);
        return true;
}

const char *log_outside(const char *s, size_t n, char *buf, size_t size) {
        assert(s || n == 0);
        assert(buf);
        assert(size >= 8);

        if (!log_journal)
                return escape_quoted(s, n, buf, size);
        n = MIN(n, size - 1);
        memcpy(buf, s, n);
        buf[n] = 0;
        return buf;
}
