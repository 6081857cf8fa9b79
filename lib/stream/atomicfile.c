#include "atomicfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The descriptor a path names when it is one of the process's own (/dev/stdout, /dev/fd/3, ...), else -1. */
static int own_descriptor(const char *path)
{
    if (strcmp(path, "/dev/stdout") == 0) return 1;
    if (strcmp(path, "/dev/stderr") == 0) return 2;
    const char *n = strncmp(path, "/dev/fd/", 8) == 0 ? path + 8 : strncmp(path, "/proc/self/fd/", 14) == 0 ? path + 14 : NULL;
    if (!n || !*n) return -1;
    char *end;
    long fd = strtol(n, &end, 10);
    return *end || fd < 0 || fd > INT_MAX ? -1 : (int)fd;
}

static void clear(atomic_file *a)
{
    free(a->path);
    free(a->tmp);
    memset(a, 0, sizeof *a);
}

/* Writing through: the process's descriptor fd (duplicated, so closing it leaves fd open), or the
 * device or fifo at path. */
static int open_through(atomic_file *a, const char *path, int fd, error *e)
{
    int d = fd >= 0 ? dup(fd) : open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    a->f = d >= 0 ? fdopen(d, "wb") : NULL;
    if (!a->f) {
        int err = errno;
        if (d >= 0) close(d);
        clear(a);
        return error_set(e, "%s: %s", path, strerror(err));
    }
    return 0;
}

/* A file with no name yet in path's folder (Linux's O_TMPFILE): nothing to leave behind if the program
 * dies before its commit, whatever kills it. -1 where the file system cannot (then a named one). */
static int open_unnamed(const char *path)
{
#ifdef O_TMPFILE
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    if (!slash) strcpy(dir, ".");
    else if (slash == path) strcpy(dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    return open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
#else
    (void)path;
    return -1;
#endif
}

/* Gives the unnamed file fd its temporary name a->tmp (a fresh one: XXXXXX replaced until free), so
 * that it can be renamed over the target. */
static int name_unnamed(atomic_file *a, int fd)
{
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    size_t n = strlen(a->tmp);
    for (unsigned k = 0; k < 100; k++) {
        snprintf(a->tmp + n - 6, 7, "%06x", ((unsigned)getpid() * 2654435761u + k * 40503u) & 0xffffffu);
        if (linkat(AT_FDCWD, proc, AT_FDCWD, a->tmp, AT_SYMLINK_FOLLOW) == 0) return 0;
        if (errno != EEXIST) return -1;
    }
    return -1;
}

static mode_t current_umask(void)
{
    mode_t m = umask(0);
    umask(m);
    return m;
}

static int open_file(atomic_file *a, const char *path, int named, error *e)
{
    memset(a, 0, sizeof *a);
    a->uid = a->gid = -1;
    if (!(a->path = strdup(path))) return error_set(e, "out of memory");
    int fd = own_descriptor(path);
    if (fd >= 0) return open_through(a, path, fd, e);
    struct stat st;
    if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        char *target = realpath(path, NULL);
        if (!target) {
            int err = errno;
            clear(a);
            return error_set(e, "%s: a symbolic link to nowhere: %s", path, strerror(err));
        }
        free(a->path);
        a->path = target;
    }
    int exists = stat(a->path, &st) == 0;
    if (exists && !S_ISREG(st.st_mode)) return open_through(a, a->path, -1, e);
    a->mode = exists ? (int)(st.st_mode & 07777) : (int)(0666 & ~current_umask());
    if (exists) a->uid = (int)st.st_uid, a->gid = (int)st.st_gid;
    size_t n = strlen(a->path) + 16;
    if (!(a->tmp = malloc(n))) return clear(a), error_set(e, "out of memory");
    snprintf(a->tmp, n, "%s.tmpXXXXXX", a->path);
    int t = named ? -1 : open_unnamed(a->path);
    if (t >= 0) a->unnamed = 1;
    else t = mkostemp(a->tmp, O_CLOEXEC);
    if (t < 0 || !(a->f = fdopen(t, "wb"))) {
        int err = errno;
        if (t >= 0 && !a->unnamed) unlink(a->tmp);
        if (t >= 0) close(t);
        error_set(e, "%s: %s", path, strerror(err));
        clear(a);
        return -1;
    }
    return 0;
}

int atomic_open(atomic_file *a, const char *path, error *e) { return open_file(a, path, 0, e); }

int atomic_open_named(atomic_file *a, const char *path, error *e) { return open_file(a, path, 1, e); }

/* fsync of the folder holding path, so that the rename itself is on disk. */
static int sync_folder(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    if (!slash) strcpy(dir, ".");
    else if (slash == path) strcpy(dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0) return -1;
    int rc = fsync(d);
    close(d);
    return rc;
}

int atomic_commit(atomic_file *a, error *e)
{
    int fd = fileno(a->f), bad = fflush(a->f) != 0 || ferror(a->f), err = errno;
    if (!bad && a->tmp) {
        /* the final mode and owner before the rename, so the new file never shows other ones */
        if (a->uid >= 0 && geteuid() == 0 && fchown(fd, (uid_t)a->uid, (gid_t)a->gid) != 0) bad = 1, err = errno;
        if (!bad && fchmod(fd, (mode_t)a->mode) != 0) bad = 1, err = errno;
        if (!bad && fsync(fd) != 0) bad = 1, err = errno;
    }
    int named = !a->unnamed;
    if (!bad && a->unnamed && name_unnamed(a, fd) == 0) named = 1;
    else if (!bad && a->unnamed) bad = 1, err = errno;
    if (fclose(a->f) != 0 && !bad) bad = 1, err = errno;
    a->f = NULL;
    if (!bad && a->tmp && rename(a->tmp, a->path) != 0) bad = 1, err = errno;
    if (bad) {
        if (a->tmp && named) unlink(a->tmp);
        error_set(e, "%s: write error: %s", a->path, strerror(err));
        clear(a);
        return -1;
    }
    if (a->tmp) sync_folder(a->path);   /* best effort: some file systems refuse a folder's fsync */
    clear(a);
    return 0;
}

void atomic_abort(atomic_file *a)
{
    if (a->f) fclose(a->f);
    if (a->tmp && !a->unnamed) unlink(a->tmp);
    clear(a);
}

/* The folder of path resolved (its links and dots), then path's last part; NULL when it cannot be. */
static char *canonical(const char *path)
{
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path + 1) : 1, slash ? path : ".");
    char *real = realpath(dir, NULL);
    if (!real) return NULL;
    size_t n = strlen(real) + strlen(base) + 2;
    char *out = malloc(n);
    if (out) snprintf(out, n, "%s/%s", real, base);
    free(real);
    return out;
}

/* The same file, given paths with links already followed. */
static int same_resolved(const char *a, const char *b)
{
    char *x = canonical(a), *y = canonical(b);
    int same = x && y ? strcmp(x, y) == 0 : strcmp(a, b) == 0;
    free(x);
    free(y);
    return same;
}

int atomic_same_file(const atomic_file *a, const atomic_file *b)
{
    return a->tmp && b->tmp && same_resolved(a->path, b->path);   /* descriptors and devices may be shared */
}

/* path with a final symbolic link followed, or NULL when it is written through (a descriptor, a
 * device, a pipe) or cannot be resolved. */
static char *replaced_file(const char *path)
{
    struct stat st;
    if (own_descriptor(path) >= 0) return NULL;
    char *p = lstat(path, &st) == 0 && S_ISLNK(st.st_mode) ? realpath(path, NULL) : strdup(path);
    if (p && stat(p, &st) == 0 && !S_ISREG(st.st_mode)) free(p), p = NULL;
    return p;
}

int atomic_same_path(const char *a, const char *b)
{
    char *x = replaced_file(a), *y = replaced_file(b);
    int same = x && y && same_resolved(x, y);
    free(x);
    free(y);
    return same;
}
