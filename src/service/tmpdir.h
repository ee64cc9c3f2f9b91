/*
 * tmpdir.h — the upload spool directory (TMPDIR): prepared and swept at start, checked
 * by /ready (prefix tmpd_).
 *
 * Spool files are "mdc-upload-XXXXXX" (upload.c), each held under an exclusive flock()
 * by the process writing it for as long as it is open.  A file whose lock can be taken
 * and whose mtime is older than this process's start was left by a process that died
 * (kill -9, a crash, an OOM kill): users' recordings that nobody will ever read, so the
 * start-up sweep deletes them.  Files locked by a live process (another instance
 * sharing TMPDIR) are left alone.
 *
 * Thread-safety: tmpd_prepare runs once before serving; tmpd_check is thread-safe.
 */
#ifndef MDC_SERVICE_TMPDIR_H
#define MDC_SERVICE_TMPDIR_H

#include <stdbool.h>
#include <stddef.h>

#define TMPD_PREFIX "mdc-upload-"
/* /ready fails below this much free space in TMPDIR (an upload could not be stored). */
#define TMPD_MIN_FREE_BYTES (1ull << 20)

/* Creates `dir` (mode 0700) if it is missing, checks that a file can be created in it,
 * logs its free space, and removes leftover spool files older than `started_wall_s`
 * (wall-clock seconds) that no live process holds.  Logs what it did.  Returns 0 when
 * uploads can be stored, -1 (logged as an ERROR naming the reason) otherwise; serving
 * goes on either way and /ready reports it. */
int tmpd_prepare(const char *dir, double started_wall_s);

/* Cheap check for /ready: `dir` is a directory this process can write into with at
 * least TMPD_MIN_FREE_BYTES free.  On false, why (len bytes) says what is wrong without
 * naming the path ("TMPDIR is missing", "TMPDIR is not writable: Permission denied" …). */
bool tmpd_check(const char *dir, char *why, size_t len);

#endif
