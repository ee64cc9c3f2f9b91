/*
 * multipart.c — streaming multipart/form-data framing (see multipart.h).
 *
 * The body is scanned once, state by state, so a part boundary, a header line or a
 * delimiter split across any number of feeds gives the same events as one feed (the
 * data may arrive in other pieces).  The delimiter is CRLF "--" boundary; the first one
 * may start the body (the parser begins as if a CRLF had just been read).  Bytes at the
 * end of a feed that may start a delimiter are held back only as a count: they are a
 * prefix of the delimiter, so on a mismatch they are replayed from the delimiter
 * itself.  No restart inside that prefix is needed because a delimiter's only CR is its
 * first byte (boundaries hold no control characters).
 */
#include "multipart.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum mp__state {
    MP__PREAMBLE,    /* before the first delimiter: discarded */
    MP__AFTER_DELIM, /* just after "--boundary": "--", padding or CRLF */
    MP__CLOSE_DASH,  /* read one '-' of the close delimiter */
    MP__PADDING,     /* LWSP after a delimiter, before its CRLF */
    MP__DELIM_LF,    /* read the CR that ends a delimiter line */
    MP__HEADERS,     /* a part's header block */
    MP__DATA,        /* a part's body */
    MP__EPILOGUE,    /* after the close delimiter: discarded */
    MP__FAILED,
};

struct mp_parser {
    mp_callbacks cb;
    void *user;
    enum mp__state state;
    int err;
    char delim[4 + MP_MAX_BOUNDARY + 1]; /* "\r\n--" boundary */
    size_t dlen;
    size_t matched; /* bytes of delim matched so far */
    size_t hlen;    /* bytes in hbuf */
    size_t line_start;
    char hbuf[MP_MAX_HEADER_BYTES + 1];
    char name[MP_MAX_HEADER_BYTES + 1], filename[MP_MAX_HEADER_BYTES + 1];
    char ctype[MP_MAX_HEADER_BYTES + 1];
};

/* ---- Content-Type ------------------------------------------------------------- */

static const char *skip_ows(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

/* RFC 9110 §5.6.2 tchar */
static bool is_tchar(int c)
{
    return c > 0x20 && c < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", c);
}

/* Reads a token or quoted-string value at *s into out (outlen > 0); advances *s.
 * In a quoted string only \" and \\ are escapes (a Windows path keeps its
 * backslashes; browsers percent-encode quotes, RFC 7578 §4.2).  Returns 0 or -1. */
static int read_value(const char **s, char *out, size_t outlen)
{
    const char *p = *s;
    size_t o = 0;
    if (*p == '"') {
        p++;
        while (*p && *p != '"') {
            char c = *p++;
            if (c == '\\' && (*p == '"' || *p == '\\'))
                c = *p++;
            if (o + 1 >= outlen)
                return -1;
            out[o++] = c;
        }
        if (*p != '"')
            return -1;
        p++;
    } else {
        while (*p && *p != ';' && *p != ' ' && *p != '\t') {
            if (o + 1 >= outlen)
                return -1;
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    *s = p;
    return 0;
}

/* Reads one "; key=value" parameter at *s (RFC 9110 §5.6.6; whitespace around '=' is
 * tolerated), the value a token or a quoted string, into *key, *klen (not terminated)
 * and val.  Returns 1 when a parameter was read, 0 at the end of the string (a trailing
 * ';' is tolerated), -1 on a syntax error or a value longer than vlen−1. */
static int next_param(const char **s, const char **key, size_t *klen, char *val, size_t vlen)
{
    const char *p = skip_ows(*s);
    if (*p == ';')
        p = skip_ows(p + 1);
    else if (*p != '\0')
        return -1;
    if (*p == '\0') {
        *s = p;
        return 0;
    }
    *key = p;
    while (is_tchar((unsigned char)*p) && *p != '=')
        p++;
    *klen = (size_t)(p - *key);
    p = skip_ows(p);
    if (*klen == 0 || *p != '=')
        return -1;
    p = skip_ows(p + 1);
    if (read_value(&p, val, vlen) != 0)
        return -1;
    *s = p;
    return 1;
}

int mp_boundary_from_content_type(const char *ct, char *out, size_t outlen)
{
    static const char type[] = "multipart/form-data";
    if (!ct)
        return -1;
    ct = skip_ows(ct);
    if (strncasecmp(ct, type, sizeof type - 1) != 0)
        return -1;
    const char *p = skip_ows(ct + sizeof type - 1);
    if (*p != ';' && *p != '\0')
        return -1; /* "multipart/form-dataXYZ" */
    bool found = false;
    const char *key = NULL;
    size_t klen = 0;
    char val[256];
    int r;
    while ((r = next_param(&p, &key, &klen, val, sizeof val)) == 1) {
        if (klen != 8 || strncasecmp(key, "boundary", 8) != 0 || found)
            continue;
        size_t n = strlen(val);
        if (n < 1 || n > MP_MAX_BOUNDARY || n + 1 > outlen || val[n - 1] == ' ')
            return -2;
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)val[i] < 0x20 || (unsigned char)val[i] >= 0x7f)
                return -2;
        memcpy(out, val, n + 1);
        found = true;
    }
    return r == 0 && found ? 0 : -2;
}

/* ---- part headers ------------------------------------------------------------- */

/* Decodes RFC 8187 ext-value "charset'lang'pct-encoded" (UTF-8 only) in place.
 * Returns 0 or -1 (other charset, bad escape). */
static int decode_ext_value(char *v)
{
    char *q1 = strchr(v, '\'');
    char *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
    if (!q2 || (size_t)(q1 - v) != 5 || strncasecmp(v, "utf-8", 5) != 0)
        return -1;
    const char *in = q2 + 1;
    char *o = v;
    while (*in) {
        if (*in == '%') {
            if (!isxdigit((unsigned char)in[1]) || !isxdigit((unsigned char)in[2]))
                return -1;
            char hex[3] = {in[1], in[2], 0};
            unsigned long c = strtoul(hex, NULL, 16);
            if (c == 0)
                return -1;
            *o++ = (char)c;
            in += 3;
        } else {
            *o++ = *in++;
        }
    }
    *o = '\0';
    return 0;
}

/* Parses `form-data; name="…"; filename="…"` into p->name / p->filename. */
static int parse_disposition(mp_parser *p, const char *v, bool *have_filename)
{
    v = skip_ows(v);
    if (strncasecmp(v, "form-data", 9) != 0)
        return MP_ERR_NO_NAME;
    v = skip_ows(v + 9);
    bool have_name = false, have_ext = false;
    char val[MP_MAX_HEADER_BYTES + 1];
    const char *key = NULL;
    size_t klen = 0;
    int r;
    while ((r = next_param(&v, &key, &klen, val, sizeof val)) == 1) {
        if (klen == 4 && strncasecmp(key, "name", 4) == 0 && !have_name) {
            memcpy(p->name, val, strlen(val) + 1);
            have_name = true;
        } else if (klen == 8 && strncasecmp(key, "filename", 8) == 0) {
            if (!have_ext)
                memcpy(p->filename, val, strlen(val) + 1);
            *have_filename = true;
        } else if (klen == 9 && strncasecmp(key, "filename*", 9) == 0) {
            if (decode_ext_value(val) == 0) {
                memcpy(p->filename, val, strlen(val) + 1);
                have_ext = true;
            }
            *have_filename = true;
        }
    }
    if (r < 0)
        return MP_ERR_SYNTAX;
    return have_name ? 0 : MP_ERR_NO_NAME;
}

/* Parses the header block in hbuf (lines ended by LF, an optional CR before it, the
 * last one empty) and fires begin().  Obsolete line folding is unfolded. */
static int headers_done(mp_parser *p)
{
    bool have_disp = false, have_filename = false, have_ctype = false;
    char *s = p->hbuf;
    char *end = p->hbuf + p->hlen;
    /* unfold: a line starting with SP/HT continues the previous one */
    for (char *q = s; q + 1 < end; q++)
        if (*q == '\n' && (q[1] == ' ' || q[1] == '\t')) {
            *q = ' ';
            if (q > s && q[-1] == '\r')
                q[-1] = ' ';
        }
    while (s < end) {
        char *nl = memchr(s, '\n', (size_t)(end - s));
        if (!nl)
            break;
        *nl = '\0';
        if (nl > s && nl[-1] == '\r')
            nl[-1] = '\0';
        char *colon = strchr(s, ':');
        if (*s && !colon)
            return MP_ERR_SYNTAX;
        if (colon) {
            *colon = '\0';
            const char *val = skip_ows(colon + 1);
            if (strcasecmp(s, "Content-Disposition") == 0 && !have_disp) {
                int rc = parse_disposition(p, val, &have_filename);
                if (rc != 0)
                    return rc;
                have_disp = true;
            } else if (strcasecmp(s, "Content-Type") == 0 && !have_ctype) {
                memcpy(p->ctype, val, strlen(val) + 1);
                have_ctype = true;
            }
        }
        s = nl + 1;
    }
    if (!have_disp)
        return MP_ERR_NO_NAME;
    mp_part part = {
        .name = p->name,
        .filename = have_filename ? p->filename : NULL,
        .content_type = have_ctype ? p->ctype : NULL,
    };
    return p->cb.begin && p->cb.begin(p->user, &part) != 0 ? MP_ERR_STOPPED : 0;
}

/* ---- the scanner -------------------------------------------------------------- */

static int fail(mp_parser *p, int err)
{
    p->state = MP__FAILED;
    p->err = err;
    return err;
}

static int emit(mp_parser *p, const char *bytes, size_t n)
{
    if (n == 0 || !p->cb.data)
        return 0;
    return p->cb.data(p->user, bytes, n) != 0 ? MP_ERR_STOPPED : 0;
}

/* Scans d[0..n) for the delimiter (PREAMBLE, DATA) and passes the data before it on in
 * one piece per feed (not one per CR: binary data holds a CR every ~256 bytes).  A
 * candidate that fails inside the feed stays data; one cut by the end of the feed is
 * held back as p->matched.  Returns the bytes consumed, or -1 after fail(). */
static long scan_body(mp_parser *p, const char *d, size_t n)
{
    bool keep = p->state == MP__DATA;
    size_t i = 0;
    /* a delimiter prefix held back from the previous feed (or the implied leading CRLF) */
    while (p->matched > 0 && i < n) {
        if (d[i] != p->delim[p->matched]) {
            if (keep && emit(p, p->delim, p->matched) != 0) /* it was data after all */
                return fail(p, MP_ERR_STOPPED), -1;
            p->matched = 0; /* d[i] is looked at again below */
            break;
        }
        i++;
        if (++p->matched == p->dlen)
            goto found;
    }
    if (p->matched > 0)
        return (long)i; /* the whole feed extended the held prefix */
    size_t run = i;     /* start of the data not passed on yet */
    while (i < n) {
        const char *cr = memchr(d + i, '\r', n - i);
        if (!cr)
            break;
        size_t c = (size_t)(cr - d), k = 0;
        while (k < p->dlen && c + k < n && d[c + k] == p->delim[k])
            k++;
        if (k == p->dlen || c + k == n) { /* a delimiter, or one cut by the feed's end */
            if (keep && emit(p, d + run, c - run) != 0)
                return fail(p, MP_ERR_STOPPED), -1;
            p->matched = k;
            i = c + k;
            if (k == p->dlen)
                goto found;
            return (long)i;
        }
        i = c + 1; /* not a delimiter: the CR is data */
    }
    if (keep && emit(p, d + run, n - run) != 0)
        return fail(p, MP_ERR_STOPPED), -1;
    return (long)n;
found:
    p->matched = 0;
    if (keep && p->cb.end && p->cb.end(p->user) != 0)
        return fail(p, MP_ERR_STOPPED), -1;
    p->state = MP__AFTER_DELIM;
    return (long)i;
}

int mp_feed(mp_parser *p, const char *d, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (p->state == MP__FAILED)
            return p->err;
        if (p->state == MP__PREAMBLE || p->state == MP__DATA) {
            long used = scan_body(p, d + i, n - i);
            if (used < 0)
                return p->err;
            i += (size_t)used;
            continue;
        }
        if (p->state == MP__EPILOGUE)
            return 0;
        char c = d[i++];
        switch (p->state) {
        case MP__AFTER_DELIM:
        case MP__PADDING:
            if (c == '-' && p->state == MP__AFTER_DELIM)
                p->state = MP__CLOSE_DASH;
            else if (c == ' ' || c == '\t')
                p->state = MP__PADDING;
            else if (c == '\r')
                p->state = MP__DELIM_LF;
            else if (c == '\n')
                goto start_headers;
            else
                return fail(p, MP_ERR_SYNTAX);
            break;
        case MP__CLOSE_DASH:
            if (c != '-')
                return fail(p, MP_ERR_SYNTAX);
            p->state = MP__EPILOGUE;
            break;
        case MP__DELIM_LF:
            if (c != '\n')
                return fail(p, MP_ERR_SYNTAX);
        start_headers:
            p->state = MP__HEADERS;
            p->hlen = p->line_start = 0;
            break;
        case MP__HEADERS:
            if (c == '\0')
                c = '\x01'; /* keeps the header a C string; see multipart.h */
            if (p->hlen >= MP_MAX_HEADER_BYTES)
                return fail(p, MP_ERR_HEADER_LONG);
            p->hbuf[p->hlen++] = c;
            if (c != '\n')
                break;
            {
                size_t line = p->hlen - 1 - p->line_start; /* without the LF */
                bool empty = line == 0 || (line == 1 && p->hbuf[p->line_start] == '\r');
                p->line_start = p->hlen;
                if (!empty)
                    break;
            }
            p->hbuf[p->hlen] = '\0';
            {
                int rc = headers_done(p);
                if (rc != 0)
                    return fail(p, rc);
            }
            p->state = MP__DATA;
            p->matched = 0;
            break;
        default:
            return fail(p, MP_ERR_SYNTAX);
        }
    }
    return p->state == MP__FAILED ? p->err : 0;
}

int mp_finish(mp_parser *p)
{
    if (p->state == MP__FAILED)
        return p->err;
    if (p->state != MP__EPILOGUE)
        return fail(p, MP_ERR_TRUNCATED);
    return 0;
}

mp_parser *mp_new(const char *boundary, const mp_callbacks *cb, void *user)
{
    size_t blen = boundary ? strlen(boundary) : 0;
    if (blen < 1 || blen > MP_MAX_BOUNDARY)
        return NULL;
    mp_parser *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->cb = *cb;
    p->user = user;
    memcpy(p->delim, "\r\n--", 4);
    memcpy(p->delim + 4, boundary, blen + 1);
    p->dlen = 4 + blen;
    p->state = MP__PREAMBLE;
    p->matched = 2; /* the body may start with "--boundary" */
    return p;
}

const char *mp_strerror(int code)
{
    switch (code) {
    case 0: return "ok";
    case MP_ERR_SYNTAX: return "malformed multipart/form-data body";
    case MP_ERR_HEADER_LONG: return "a form part's headers are too long";
    case MP_ERR_NO_NAME: return "a form part has no Content-Disposition: form-data; name=…";
    case MP_ERR_TRUNCATED: return "truncated multipart/form-data body (no closing boundary)";
    case MP_ERR_STOPPED: return "stopped";
    case MP_ERR_NOMEM: return "out of memory";
    default: return "unknown multipart error";
    }
}

void mp_free(mp_parser *p)
{
    free(p);
}
