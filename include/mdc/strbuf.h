/*
 * strbuf.h — a growable, NUL-terminated byte buffer for renderers (report, metrics).
 *
 * Appends never fail loudly: after an allocation failure every append is a no-op and
 * `oom` stays set, so a renderer checks once at the end.  The bytes belong to the
 * caller: take b.p (malloc'd, NUL-terminated, b.len bytes before the NUL) or free(b.p).
 * A zero-initialised mdc_buf is empty and valid.
 *
 * Thread-safety: a buffer is used by one thread at a time.
 */
#ifndef MDC_STRBUF_H
#define MDC_STRBUF_H

#include <stddef.h>

typedef struct mdc_buf {
    char *p;          /* NULL until the first append */
    size_t len, cap;  /* bytes used (without the NUL), bytes allocated */
    int oom;          /* set on the first failed allocation or size overflow */
} mdc_buf;

/* Appends n bytes of s (which may contain NUL bytes). */
void mdc_buf_put(mdc_buf *b, const char *s, size_t n);
/* Appends the C string s. */
void mdc_buf_puts(mdc_buf *b, const char *s);
/* Appends printf-formatted text of any length. */
void mdc_buf_printf(mdc_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
