/* file.c - reads a whole file into memory, up to one byte past a caller's limit. */
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

int hl_read_file(const char *path, size_t limit, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        close(fd);
        return EISDIR;
    }
    char *buf = NULL;
    size_t cap = 0, used = 0;
    int e = 0;
    for (;;) {
        if (used + 1 >= cap) { /* room for the NUL too */
            size_t grown_cap = cap ? cap * 2 : 4096;
            char *grown = realloc(buf, grown_cap);
            if (!grown) {
                e = ENOMEM;
                break;
            }
            buf = grown;
            cap = grown_cap;
        }
        size_t want = cap - 1 - used;
        if (want > limit + 1 - used)
            want = limit + 1 - used;
        ssize_t n = read(fd, buf + used, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            e = errno;
            break;
        }
        used += (size_t)n;
        if (n == 0 || used > limit)
            break;
    }
    close(fd);
    if (e) {
        free(buf);
        return e;
    }
    buf[used] = '\0';
    *out = buf;
    *len = used;
    return 0;
}
