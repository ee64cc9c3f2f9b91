/*
 * upload.h — the upload form of the upload routes (prefix upl_): a multipart/form-data
 * body (framing by multipart.h, fed in reads of any size) turned into text fields and
 * one spooled file.  Every part is one field, whatever the reads' boundaries.
 *
 * The `file` part is written, as it arrives, to a private temp file (mkstemp in TMPDIR,
 * mode 0600) that upl_free() closes and unlinks (the form, and so the file, may be handed
 * to a worker or a job first; whoever holds it last frees it).  Its size is checked against max_file_bytes while streaming; past it the form
 * goes into the "413" error state and the rest of the body is discarded.  Other fields
 * are small text values kept in memory, each at most UPL_MAX_FIELD_BYTES, at most
 * UPL_MAX_FIELDS of them.  The client's filename is untrusted: upl_file_name() gives a
 * display name with any path, NUL and control characters removed; it never names a
 * file on disk.
 *
 * Errors are kept as {HTTP status, JSON code, message} for the caller to answer with.
 *
 * Thread-safety: one form is used by one thread at a time (the MHD thread while
 * uploading, then a worker); distinct forms are independent.
 */
#ifndef MDC_SERVICE_UPLOAD_H
#define MDC_SERVICE_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UPL_MAX_FIELD_BYTES 8192
#define UPL_MAX_FIELDS 32

typedef struct upl_form upl_form;

typedef struct upl_error {
    unsigned status;   /* 0 = no error */
    char code[48];
    char message[256];
} upl_error;

/* Starts parsing a body whose Content-Type header is content_type (NULL when absent; it
 * must be multipart/form-data with a valid boundary).  Returns a form, or NULL with *err
 * set: 400 `bad_request` for another media type ("multipart/form-dataXYZ" too) or a
 * missing or invalid boundary, 500 on OOM.  The form owns no file until the `file` part starts.
 * Errors while feeding: 400 `bad_request` (framing, a second `file` part, a file part
 * under another field name, too many fields), 400 `field_too_long` (a text field past
 * UPL_MAX_FIELD_BYTES, naming it), 413 `file_too_large`, 500 (temp file). */
upl_form *upl_new(const char *content_type, uint64_t max_file_bytes, const char *tmp_dir,
                  upl_error *err);

/* Feeds the next piece of the body.  Returns 0, or -1 once the form is in an error
 * state (the caller keeps consuming and discarding the body; see upl_error_get()). */
int upl_feed(upl_form *form, const char *data, size_t size);

/* Ends the body: flushes the file, checks that a `file` part was present.  Returns 0
 * or -1 (error state). */
int upl_finish(upl_form *form);

/* The error state (status 0 when none). */
const upl_error *upl_error_get(const upl_form *form);

/* First value of field `name`, or NULL when absent.  Valid until upl_free(). */
const char *upl_field(const upl_form *form, const char *name);
/* Number of values of field `name` and the i-th of them (for "timestamp_granularities[]"). */
int upl_field_count(const upl_form *form, const char *name);
const char *upl_field_at(const upl_form *form, const char *name, int i);

/* The spooled file: path, size in bytes, sanitised display name ("upload" if none). */
const char *upl_file_path(const upl_form *form);
uint64_t upl_file_bytes(const upl_form *form);
const char *upl_file_name(const upl_form *form);

/* Writes a display-safe version of an untrusted file name into out: the part after the
 * last '/' or '\\', without control characters (bytes < 0x20, 0x7f), at most outlen−1
 * bytes cut on a UTF-8 boundary; "upload" when nothing is left or it is "." or "..". */
void upl_sanitize_name(const char *name, size_t len, char *out, size_t outlen);

/* Closes the file descriptor and unlinks the temp file, frees everything.  Accepts
 * NULL.  Thread-safe with respect to other forms. */
void upl_free(upl_form *form);

#endif
