/*
 * upload.c — the upload form on top of the multipart parser (multipart.c): text fields
 * kept in memory per part, the `file` part streamed to a private temp file (see
 * upload.h).  Fields are keyed by part (the parser's begin event), so the result does
 * not depend on how the body was split into reads.
 */
#include "upload.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "mdc/log.h"
#include "mdc/utf8.h"
#include "multipart.h"


typedef struct upl__field {
    char *name;
    char *value;
    size_t len;
} upl__field;

struct upl_form {
    mp_parser *mp;
    uint64_t max_file_bytes;
    char tmp_dir[1024];

    upl__field fields[UPL_MAX_FIELDS];
    int n_fields;

    upl__field *cur;        /* the text field being received, NULL otherwise */
    bool in_file;           /* inside the `file` part */
    bool have_file;
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
    /* a cut at outlen must not end in the middle of a UTF-8 sequence; a complete last
     * character ("café") stays */
    o = mdc_utf8_complete_prefix(out, o);
    out[o] = '\0';
    if (o == 0 || strcmp(out, ".") == 0 || strcmp(out, "..") == 0)
        snprintf(out, outlen, "upload");
}

/* Creates the temp file for the `file` part. */
static int open_spool(upl_form *f)
{
    snprintf(f->path, sizeof f->path, "%s/mdc-upload-XXXXXX", f->tmp_dir);
    f->fd = mkostemp(f->path, O_CLOEXEC); /* mode 0600, O_EXCL */
    if (f->fd < 0) {
        MDC_LOG_ERROR("cannot create a temp file in %s: %s", f->tmp_dir, strerror(errno));
        f->path[0] = '\0';
        /* the server's storage, not the client's input: 503 like /ready says */
        set_error(f, 503, "storage_unavailable",
                  "the server cannot store uploads right now (TMPDIR unusable)");
        return -1;
    }
    /* Held while the file is open: the start-up sweep (tmpdir.h) deletes only unlocked
     * leftovers, i.e. those of a dead process. */
    if (flock(f->fd, LOCK_EX | LOCK_NB) != 0)
        MDC_LOG_WARN("cannot lock temp file %s: %s", f->path, strerror(errno));
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

/* ---- multipart events ---------------------------------------------------------- */

static int on_begin(void *user, const mp_part *part)
{
    upl_form *f = user;
    f->cur = NULL;
    f->in_file = false;
    if (strcmp(part->name, "file") == 0) {
        if (f->have_file) {
            set_error(f, 400, "bad_request", "more than one `file` part");
            return -1;
        }
        f->have_file = true;
        f->in_file = true;
        const char *fn = part->filename ? part->filename : "";
        upl_sanitize_name(fn, strlen(fn), f->file_name, sizeof f->file_name);
        return open_spool(f);
    }
    if (part->filename) { /* a file, but not where the API expects it */
        set_error(f, 400, "bad_request",
                  "unexpected file in field `%.40s`: the file goes in `file`", part->name);
        return -1;
    }
    if (f->n_fields >= UPL_MAX_FIELDS) {
        set_error(f, 400, "bad_request", "too many form fields (at most %d)", UPL_MAX_FIELDS);
        return -1;
    }
    upl__field *fl = &f->fields[f->n_fields];
    fl->name = strdup(part->name);
    fl->value = calloc(1, 1);
    if (!fl->name || !fl->value) {
        free(fl->name);
        free(fl->value);
        fl->name = fl->value = NULL;
        set_error(f, 500, "internal_error", "out of memory");
        return -1;
    }
    fl->len = 0;
    f->n_fields++;
    f->cur = fl;
    return 0;
}

static int on_data(void *user, const char *data, size_t size)
{
    upl_form *f = user;
    if (f->in_file) {
        if (size > f->max_file_bytes - f->file_bytes) {
            set_error(f, 413, "file_too_large", "the upload is larger than MAX_UPLOAD_MB (%llu MB)",
                      (unsigned long long)(f->max_file_bytes / (1024 * 1024)));
            return -1;
        }
        if (write_all(f->fd, data, size) != 0) {
            MDC_LOG_ERROR("writing the upload to %s: %s", f->path, strerror(errno));
            set_error(f, 500, "internal_error", "cannot store the upload (disk full?)");
            return -1;
        }
        f->file_bytes += size;
        return 0;
    }
    upl__field *fl = f->cur;
    if (!fl)
        return 0;
    if (size > UPL_MAX_FIELD_BYTES - fl->len) {
        set_error(f, 400, "field_too_long", "form field `%.40s` is longer than %d bytes",
                  fl->name, UPL_MAX_FIELD_BYTES);
        return -1;
    }
    char *nv = realloc(fl->value, fl->len + size + 1);
    if (!nv) {
        set_error(f, 500, "internal_error", "out of memory");
        return -1;
    }
    memcpy(nv + fl->len, data, size);
    fl->len += size;
    nv[fl->len] = '\0';
    fl->value = nv;
    return 0;
}

static int on_end(void *user)
{
    upl_form *f = user;
    f->cur = NULL;
    f->in_file = false;
    return 0;
}

/* Records a parser error (unless a callback already set a more precise one). */
static void parser_error(upl_form *f, int rc)
{
    if (rc == MP_ERR_NOMEM)
        set_error(f, 500, "internal_error", "out of memory");
    else
        set_error(f, 400, "bad_request", "%s", mp_strerror(rc));
}

upl_form *upl_new(const char *content_type, uint64_t max_file_bytes, const char *tmp_dir,
                  upl_error *err)
{
    memset(err, 0, sizeof *err);
    char boundary[MP_MAX_BOUNDARY + 1];
    int brc = mp_boundary_from_content_type(content_type, boundary, sizeof boundary);
    if (brc != 0) {
        err->status = 400; /* not 415: that status means "not decodable audio" here */
        snprintf(err->code, sizeof err->code, "bad_request");
        if (brc == -1)
            snprintf(err->message, sizeof err->message,
                     "expected a multipart/form-data body with a `file` field (got %.60s)",
                     content_type ? content_type : "no Content-Type");
        else
            snprintf(err->message, sizeof err->message,
                     "multipart/form-data needs a boundary parameter of 1 to 70 characters");
        return NULL;
    }
    upl_form *f = calloc(1, sizeof *f);
    static const mp_callbacks cb = {on_begin, on_data, on_end};
    if (f)
        f->mp = mp_new(boundary, &cb, f);
    if (!f || !f->mp) {
        free(f);
        err->status = 500;
        snprintf(err->code, sizeof err->code, "internal_error");
        snprintf(err->message, sizeof err->message, "out of memory");
        return NULL;
    }
    f->fd = -1;
    f->max_file_bytes = max_file_bytes ? max_file_bytes : UINT64_MAX;
    snprintf(f->tmp_dir, sizeof f->tmp_dir, "%s", tmp_dir && *tmp_dir ? tmp_dir : "/tmp");
    return f;
}

int upl_feed(upl_form *f, const char *data, size_t size)
{
    if (f->err.status)
        return -1;
    int rc = mp_feed(f->mp, data, size);
    if (rc != 0)
        parser_error(f, rc);
    return f->err.status ? -1 : 0;
}

int upl_finish(upl_form *f)
{
    if (!f->err.status) {
        int rc = mp_finish(f->mp);
        if (rc != 0)
            parser_error(f, rc);
    }
    if (f->err.status)
        return -1;
    if (!f->have_file) {
        set_error(f, 400, "missing_file", "the form has no `file` field");
        return -1;
    }
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
    mp_free(f->mp);
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
