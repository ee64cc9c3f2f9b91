/*
 * upload.c — multipart/form-data via MHD_PostProcessor, the `file` part streamed to a
 * private temp file (see upload.h).  ref: libmicrohttpd doc/examples/largepost.c.
 */
#include "upload.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mdc/log.h"

#define UPL__PP_BUFFER 32768 /* bytes MHD's parser buffers; file data arrives in pieces of it */

typedef struct upl__field {
    char *name;
    char *value;
    size_t len;
} upl__field;

struct upl_form {
    struct MHD_PostProcessor *pp;
    uint64_t max_file_bytes;
    char tmp_dir[1024];

    upl__field fields[UPL_MAX_FIELDS];
    int n_fields;

    bool have_file, file_done;
    int fd;                 /* temp file, -1 when none */
    char path[1100];        /* "" when none */
    uint64_t file_bytes;
    char file_name[256];    /* sanitised display name */

    upl_error err;
};

static void set_error(upl_form *f, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void set_error(upl_form *f, unsigned status, const char *code, const char *fmt, ...)
{
    if (f->err.status)
        return; /* keep the first error */
    f->err.status = status;
    snprintf(f->err.code, sizeof f->err.code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->err.message, sizeof f->err.message, fmt, ap);
    va_end(ap);
}

void upl_sanitize_name(const char *name, size_t len, char *out, size_t outlen)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++)
        if (name[i] == '/' || name[i] == '\\')
            start = i + 1;
    size_t o = 0;
    for (size_t i = start; i < len && o + 1 < outlen; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f)
            continue;
        out[o++] = (char)c;
    }
    /* do not end in the middle of a UTF-8 sequence */
    while (o > 0 && ((unsigned char)out[o - 1] & 0xC0) == 0x80)
        o--;
    if (o > 0 && ((unsigned char)out[o - 1] & 0xC0) == 0xC0)
        o--;
    out[o] = '\0';
    if (o == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
        snprintf(out, outlen, "upload");
}

/* Creates the temp file for the `file` part. */
static int open_spool(upl_form *f)
{
    snprintf(f->path, sizeof f->path, "%s/mdc-upload-XXXXXX", f->tmp_dir);
    f->fd = mkstemp(f->path); /* mode 0600, O_EXCL */
    if (f->fd < 0) {
        MDC_LOG_ERROR("cannot create a temp file in %s: %s", f->tmp_dir, strerror(errno));
        f->path[0] = '\0';
        set_error(f, 500, "internal_error", "cannot store the upload (temp directory)");
        return -1;
    }
    return 0;
}

static int write_all(int fd, const char *data, size_t size)
{
    while (size > 0) {
        ssize_t w = write(fd, data, size);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        data += w;
        size -= (size_t)w;
    }
    return 0;
}

static upl__field *find_or_add_field(upl_form *f, const char *key, uint64_t off)
{
    /* a continuation of the last field (MHD delivers long values in pieces) */
    if (off > 0 && f->n_fields > 0 && strcmp(f->fields[f->n_fields - 1].name, key) == 0)
        return &f->fields[f->n_fields - 1];
    if (f->n_fields >= UPL_MAX_FIELDS) {
        set_error(f, 400, "bad_request", "too many form fields (at most %d)", UPL_MAX_FIELDS);
        return NULL;
    }
    upl__field *fl = &f->fields[f->n_fields];
    fl->name = strdup(key);
    fl->value = calloc(1, 1);
    if (!fl->name || !fl->value) {
        free(fl->name);
        free(fl->value);
        fl->name = fl->value = NULL;
        set_error(f, 500, "internal_error", "out of memory");
        return NULL;
    }
    fl->len = 0;
    f->n_fields++;
    return fl;
}

static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *filename, const char *content_type,
                               const char *transfer_encoding, const char *data, uint64_t off,
                               size_t size)
{
    (void)kind;
    (void)content_type; /* never trusted: the decoder probes the bytes */
    (void)transfer_encoding;
    upl_form *f = cls;
    if (f->err.status)
        return MHD_NO;
    if (!key)
        return MHD_YES;

    if (strcmp(key, "file") == 0) {
        if (off == 0 && f->have_file) {
            if (f->fd >= 0 && !f->file_done)
                f->file_done = true; /* a second file part */
            set_error(f, 400, "bad_request", "more than one `file` part");
            return MHD_NO;
        }
        if (!f->have_file) {
            f->have_file = true;
            if (filename)
                upl_sanitize_name(filename, strlen(filename), f->file_name, sizeof f->file_name);
            else
                snprintf(f->file_name, sizeof f->file_name, "upload");
            if (open_spool(f) != 0)
                return MHD_NO;
        }
        if (size == 0)
            return MHD_YES;
        if (f->file_bytes + size > f->max_file_bytes) {
            set_error(f, 413, "file_too_large", "the upload is larger than MAX_UPLOAD_MB (%llu MB)",
                      (unsigned long long)(f->max_file_bytes / (1024 * 1024)));
            return MHD_NO;
        }
        if (write_all(f->fd, data, size) != 0) {
            MDC_LOG_ERROR("writing the upload to %s: %s", f->path, strerror(errno));
            set_error(f, 500, "internal_error", "cannot store the upload (disk full?)");
            return MHD_NO;
        }
        f->file_bytes += size;
        return MHD_YES;
    }

    upl__field *fl = find_or_add_field(f, key, off);
    if (!fl)
        return MHD_NO;
    if (fl->len + size > UPL_MAX_FIELD_BYTES) {
        set_error(f, 400, "bad_request", "form field `%.40s` is longer than %d bytes", key,
                  UPL_MAX_FIELD_BYTES);
        return MHD_NO;
    }
    if (size > 0) {
        char *nv = realloc(fl->value, fl->len + size + 1);
        if (!nv) {
            set_error(f, 500, "internal_error", "out of memory");
            return MHD_NO;
        }
        memcpy(nv + fl->len, data, size);
        fl->len += size;
        nv[fl->len] = '\0';
        fl->value = nv;
    }
    return MHD_YES;
}

upl_form *upl_new(struct MHD_Connection *conn, uint64_t max_file_bytes, const char *tmp_dir,
                  upl_error *err)
{
    memset(err, 0, sizeof *err);
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!ct || strncasecmp(ct, "multipart/form-data", 19) != 0) {
        err->status = 400;
        snprintf(err->code, sizeof err->code, "bad_request");
        snprintf(err->message, sizeof err->message,
                 "expected a multipart/form-data body with a `file` field (got %.60s)",
                 ct ? ct : "no Content-Type");
        return NULL;
    }
    upl_form *f = calloc(1, sizeof *f);
    if (!f) {
        err->status = 500;
        snprintf(err->code, sizeof err->code, "internal_error");
        snprintf(err->message, sizeof err->message, "out of memory");
        return NULL;
    }
    f->fd = -1;
    f->max_file_bytes = max_file_bytes ? max_file_bytes : UINT64_MAX;
    snprintf(f->tmp_dir, sizeof f->tmp_dir, "%s", tmp_dir && *tmp_dir ? tmp_dir : "/tmp");
    f->pp = MHD_create_post_processor(conn, UPL__PP_BUFFER, on_part, f);
    if (!f->pp) {
        free(f);
        err->status = 400;
        snprintf(err->code, sizeof err->code, "bad_request");
        snprintf(err->message, sizeof err->message,
                 "malformed multipart/form-data header (missing boundary?)");
        return NULL;
    }
    return f;
}

int upl_feed(upl_form *f, const char *data, size_t size)
{
    if (f->err.status)
        return -1;
    if (MHD_post_process(f->pp, data, size) != MHD_YES) {
        set_error(f, 400, "bad_request", "malformed multipart/form-data body");
        return -1;
    }
    return f->err.status ? -1 : 0;
}

int upl_finish(upl_form *f)
{
    if (f->pp) {
        enum MHD_Result r = MHD_destroy_post_processor(f->pp);
        f->pp = NULL;
        if (r != MHD_YES && !f->err.status)
            set_error(f, 400, "bad_request", "malformed or truncated multipart/form-data body");
    }
    if (f->err.status)
        return -1;
    if (!f->have_file) {
        set_error(f, 400, "missing_file", "the form has no `file` field");
        return -1;
    }
    f->file_done = true;
    if (f->fd >= 0) { /* the decoder opens the path itself */
        close(f->fd);
        f->fd = -1;
    }
    return 0;
}

const upl_error *upl_error_get(const upl_form *f)
{
    return &f->err;
}

const char *upl_field(const upl_form *f, const char *name)
{
    return upl_field_at(f, name, 0);
}

int upl_field_count(const upl_form *f, const char *name)
{
    int n = 0;
    for (int i = 0; i < f->n_fields; i++)
        n += strcmp(f->fields[i].name, name) == 0;
    return n;
}

const char *upl_field_at(const upl_form *f, const char *name, int k)
{
    for (int i = 0; i < f->n_fields; i++)
        if (strcmp(f->fields[i].name, name) == 0 && k-- == 0)
            return f->fields[i].value;
    return NULL;
}

const char *upl_file_path(const upl_form *f)
{
    return f->path[0] ? f->path : NULL;
}

uint64_t upl_file_bytes(const upl_form *f)
{
    return f->file_bytes;
}

const char *upl_file_name(const upl_form *f)
{
    return f->file_name[0] ? f->file_name : "upload";
}

void upl_free(upl_form *f)
{
    if (!f)
        return;
    if (f->pp)
        MHD_destroy_post_processor(f->pp);
    if (f->fd >= 0)
        close(f->fd);
    if (f->path[0] && unlink(f->path) != 0 && errno != ENOENT)
        MDC_LOG_WARN("cannot remove temp file %s: %s", f->path, strerror(errno));
    for (int i = 0; i < f->n_fields; i++) {
        free(f->fields[i].name);
        free(f->fields[i].value);
    }
    free(f);
}
