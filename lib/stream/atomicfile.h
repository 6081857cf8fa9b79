/* atomicfile: every file a program writes, replaced whole or not at all.
 *
 * A path that names a regular file (or nothing yet) is written to a temporary file in the same
 * folder (mode 0600 while written), flushed and fsynced, given its final mode, renamed over PATH,
 * and the folder is fsynced: a crash, a full disk or a signal leaves the old file or the new one,
 * never a part. Where the file system allows (Linux's O_TMPFILE: ext4, xfs, btrfs, tmpfs), the
 * temporary file has no name until the commit, so a program killed in the middle (even by SIGKILL)
 * leaves nothing behind; elsewhere it is "PATH.tmpXXXXXX" from the start. The final mode is the replaced file's (and, as root, its
 * owner), or 0666 less the umask for a new file.
 * A symbolic link is followed: the file it points to is replaced, the link stays.
 * /dev/stdout, /dev/stderr, /dev/fd/N and /proc/self/fd/N are the program's open descriptors and are
 * written through them, as are other paths that are not regular files (devices, fifos): no
 * temporary file, no rename. */
#ifndef SSL_ATOMICFILE_H
#define SSL_ATOMICFILE_H

#include <stdio.h>

#include "error.h"

typedef struct atomic_file {
    FILE *f;        /* where to write */
    char *path;     /* the file replaced (a link's target), or the path written through */
    char *tmp;      /* the temporary file's name; NULL when writing through */
    int unnamed;    /* the temporary file has no name until the commit gives it tmp (O_TMPFILE) */
    int mode;       /* the final mode */
    int uid, gid;   /* the replaced file's owner, or -1 */
} atomic_file;

/* Opens path for writing as described above; -1 with e naming path. */
int atomic_open(atomic_file *a, const char *path, error *e);
/* The same with a temporary file named from the start (PATH.tmpXXXXXX), for a record of progress
 * that a person may follow while it grows (tail -f PATH.tmp*). */
int atomic_open_named(atomic_file *a, const char *path, error *e);
/* Flushes, fsyncs and closes a->f, then (temporary file) renames it into place and fsyncs the
 * folder. Frees a. -1 with e naming the path (nothing replaced; the temporary file removed). */
int atomic_commit(atomic_file *a, error *e);
/* Closes a->f and removes the temporary file: the old file, if any, stays. Frees a. */
void atomic_abort(atomic_file *a);
/* Whether two open outputs replace the same file (the same path named twice, however spelt). */
int atomic_same_file(const atomic_file *a, const atomic_file *b);
/* Whether two output paths would replace the same file (links followed, folders resolved);
 * the program's descriptors, devices and pipes never count as the same. */
int atomic_same_path(const char *a, const char *b);

#endif
