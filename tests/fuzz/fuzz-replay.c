/* SPDX-License-Identifier: MIT */
/*
 * A main() for fuzz targets built without libFuzzer: feeds each file named on the command line, or
 * each regular file of a named directory, to LLVMFuzzerTestOneInput() once. ctest uses it to replay
 * the checked-in corpus with the normal compiler (and under the sanitizer build).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Larger than any frame a target accepts, so that the size checks are replayed too. */
#define REPLAY_FILE_MAX (1024 * 1024)

static int replay_file(int dir_fd, const char *path) {
        _cleanup_close_ int fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC);
        _cleanup_free_ uint8_t *buf = NULL;
        size_t size = 0;
        struct stat st;

        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        if (st.st_size > REPLAY_FILE_MAX)
                return -EFBIG;

        /* One byte more than needed, so that an empty file still has a buffer. */
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        while (size < (size_t) st.st_size) {
                ssize_t n = read(fd, buf + size, (size_t) st.st_size - size);

                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                size += (size_t) n;
        }

        (void) LLVMFuzzerTestOneInput(buf, size);
        return 1;
}

static void closedirp(DIR **d) {
        if (*d)
                (void) closedir(*d);
}

static int replay_dir(const char *path) {
        _cleanup_(closedirp) DIR *d = opendir(path);
        struct dirent *de;
        int n = 0;

        if (!d)
                return -errno;

        while ((de = readdir(d))) {
                int r;

                if (de->d_name[0] == '.')
                        continue;
                r = replay_file(dirfd(d), de->d_name);
                if (r < 0) {
                        fprintf(stderr, "%s/%s: %s\n", path, de->d_name, strerror(-r));
                        return r;
                }
                n += r;
        }

        return n;
}

int main(int argc, char *argv[]) {
        int total = 0;

        for (int i = 1; i < argc; i++) {
                struct stat st;
                int r;

                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: %m\n", argv[i]);
                        return EXIT_FAILURE;
                }
                r = S_ISDIR(st.st_mode) ? replay_dir(argv[i]) : replay_file(AT_FDCWD, argv[i]);
                if (r < 0) {
                        if (!S_ISDIR(st.st_mode))
                                fprintf(stderr, "%s: %s\n", argv[i], strerror(-r));
                        return EXIT_FAILURE;
                }
                total += r;
        }

        printf("Replayed %d input(s).\n", total);
        /* An empty corpus replays nothing and proves nothing. */
        return total > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
