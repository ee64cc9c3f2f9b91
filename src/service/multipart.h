/*
 * multipart.h — a streaming multipart/form-data parser (prefix mp_), fed the body in
 * chunks of any size; its events do not depend on where the body is split.
 *
 * ref: RFC 7578 (multipart/form-data), RFC 2046 §5.1.1 (boundary syntax: 1–70 bchars,
 * delimiter = CRLF "--" boundary, close delimiter adds "--", transport padding LWSP
 * before the CRLF that ends a delimiter line; preamble and epilogue are ignored).
 *
 * Events, all on the thread that calls mp_feed()/mp_finish():
 *   begin(part)      once per part, after its header block; part->name is the
 *                    Content-Disposition `name`, part->filename NULL when the header
 *                    has no filename parameter (both are NUL-terminated, valid only
 *                    during the call);
 *   data(bytes, n)   zero or more times with the part's body, in order, n > 0;
 *   end()            once when the part's delimiter has been seen.
 * A NUL byte in a part's headers (a filename "a\0.wav") is passed as 0x01, a control
 * character, so the values stay C strings and nothing after the NUL is lost; display
 * names drop control characters (upload.h).
 * A callback returning non-zero stops the parser: every later feed returns
 * MP_ERR_STOPPED and no more events are fired.
 *
 * Thread-safety: one parser is used by one thread at a time; parsers are independent.
 */
#ifndef MDC_SERVICE_MULTIPART_H
#define MDC_SERVICE_MULTIPART_H

#include <stddef.h>

#define MP_MAX_BOUNDARY 70       /* ref: RFC 2046 §5.1.1 */
#define MP_MAX_HEADER_BYTES 8192 /* one part's header block, all lines */

/* Errors: 0 is success. */
enum {
    MP_ERR_SYNTAX = -1,      /* not multipart framing (bad delimiter line, bad header) */
    MP_ERR_HEADER_LONG = -2, /* a part's header block is longer than MP_MAX_HEADER_BYTES */
    MP_ERR_NO_NAME = -3,     /* a part without Content-Disposition: form-data; name=… */
    MP_ERR_TRUNCATED = -4,   /* mp_finish() before the close delimiter */
    MP_ERR_STOPPED = -5,     /* a callback stopped the parser */
    MP_ERR_NOMEM = -6,
};

typedef struct mp_part {
    const char *name;         /* never NULL */
    const char *filename;     /* NULL when absent; may be "" */
    const char *content_type; /* NULL when absent */
} mp_part;

typedef struct mp_callbacks {
    int (*begin)(void *user, const mp_part *part);
    int (*data)(void *user, const char *bytes, size_t n);
    int (*end)(void *user);
} mp_callbacks;

typedef struct mp_parser mp_parser;

/* Extracts the boundary parameter of a Content-Type value that must be exactly the
 * media type multipart/form-data (case-insensitive, then optional parameters):
 * "multipart/form-dataXYZ" is refused.  The boundary may be a token or a quoted
 * string; it must be 1–70 characters, no control characters, not ending in a space.
 * Writes it to out (NUL-terminated; outlen ≥ MP_MAX_BOUNDARY + 1).
 * Returns 0, -1 when the media type is not multipart/form-data, -2 when the boundary
 * is missing or invalid. */
int mp_boundary_from_content_type(const char *content_type, char *out, size_t outlen);

/* A parser for a body delimited by `boundary` (as returned above).  cb is copied; user
 * is passed to every callback.  Returns NULL when out of memory. */
mp_parser *mp_new(const char *boundary, const mp_callbacks *cb, void *user);

/* Feeds the next n bytes of the body (n may be 0).  Returns 0 or an MP_ERR_* code; after
 * an error every later call returns the same code without firing events. */
int mp_feed(mp_parser *p, const char *data, size_t n);

/* Ends the body.  Returns 0 when the close delimiter was seen, else MP_ERR_TRUNCATED (or
 * the earlier error). */
int mp_finish(mp_parser *p);

/* A short English description of an MP_ERR_* code (static string). */
const char *mp_strerror(int code);

/* Frees the parser.  Accepts NULL. */
void mp_free(mp_parser *p);

#endif
