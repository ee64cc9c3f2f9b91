/*
 * tmpdir.c — TMPDIR preparation, leftover sweep and the /ready check (see tmpdir.h).
 */
#include "tmpdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "mdc/log.h"

/* Creates and writes one byte to a file in dir, and removes it: the only test that
 * also holds for root and read-only mounts (access(2) does not).  An unnamed O_TMPFILE
 * when the filesystem has them, else a named probe file.  Returns 0 or -1 (errno). */
static int probe_write(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    char path[1100];
    path[0] = '\0';
    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
        snprintf(path, sizeof path, "%s/mdc-probe-XXXXXX", dir);
        fd = mkostemp(path, O_CLOEXEC);
    }
    if (fd < 0)
        return -1;
    int rc = write(fd, "x", 1) == 1 ? 0 : -1;
    int e = errno;
    close(fd);
    if (path[0])
        unlink(path);
    errno = e;
    return rc;
}

/* Removes dir/name when it is a regular spool file nobody holds and older than
 * started_wall_s.  Returns 1 if removed. */
static int sweep_one(int dfd, const char *name, double started_wall_s)
{
    int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return 0;
    struct stat st;
    int removed = 0;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
        (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec * 1e-9 < started_wall_s &&
        flock(fd, LOCK_EX | LOCK_NB) == 0) {
        /* unlocked: its writer is dead (the kernel drops a dead process's locks) */
        if (unlinkat(dfd, name, 0) == 0)
            removed = 1;
        else
            MDC_LOG_WARN("TMPDIR: cannot remove leftover %s: %s", name, strerror(errno));
    }
    close(fd);
    return removed;
}

int tmpd_prepare(const char *dir, double started_wall_s)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT || mkdir(dir, 0700) != 0) {
            MDC_LOG_ERROR("TMPDIR=%s is missing and cannot be created (%s): uploads cannot be "
                          "stored; /ready answers 503",
                          dir, strerror(errno));
            return -1;
        }
        MDC_LOG_INFO("TMPDIR=%s created (mode 0700)", dir);
    } else if (!S_ISDIR(st.st_mode)) {
        MDC_LOG_ERROR("TMPDIR=%s is not a directory: uploads cannot be stored; /ready answers 503",
                      dir);
        return -1;
    }
    if (probe_write(dir) != 0) {
        MDC_LOG_ERROR("TMPDIR=%s is not writable (%s): uploads cannot be stored; /ready "
                      "answers 503",
                      dir, strerror(errno));
        return -1;
    }

    int removed = 0;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (strncmp(e->d_name, TMPD_PREFIX, strlen(TMPD_PREFIX)) == 0)
                removed += sweep_one(dirfd(d), e->d_name, started_wall_s);
        closedir(d);
    }
    if (removed)
        MDC_LOG_WARN("TMPDIR: removed %d leftover upload file(s) of a process that ended "
                     "without cleaning up (crash, kill -9, OOM kill)",
                     removed);
    struct statvfs vs;
    if (statvfs(dir, &vs) == 0)
        MDC_LOG_INFO("TMPDIR=%s: writable, %.1f MiB free", dir,
                     (double)vs.f_bavail * (double)vs.f_frsize / (1024.0 * 1024.0));
    return 0;
}

bool tmpd_check(const char *dir, char *why, size_t len)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        snprintf(why, len, "TMPDIR is missing: %s", strerror(errno));
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(why, len, "TMPDIR is not a directory");
        return false;
    }
    if (probe_write(dir) != 0) {
        snprintf(why, len, "TMPDIR is not writable: %s", strerror(errno));
        return false;
    }
    struct statvfs vs;
    if (statvfs(dir, &vs) == 0 &&
        (unsigned long long)vs.f_bavail * vs.f_frsize < TMPD_MIN_FREE_BYTES) {
        snprintf(why, len, "TMPDIR has less than 1 MiB free");
        return false;
    }
    return true;
}
