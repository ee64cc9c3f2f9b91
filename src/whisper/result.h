/*
 * result.h — building wsp_result objects: segment list growth and UTF-8-safe text
 * (prefix wsp__text / wsp__result).
 *
 * A token may end inside a UTF-8 character, so text is assembled through a small
 * carry: only complete, well-formed sequences are emitted; an incomplete tail waits for
 * the next token (even across segments); ill-formed bytes become U+FFFD (maximal
 * subpart rule) and a sequence still unfinished at the very end becomes U+FFFD too.
 * NUL bytes are dropped (segment text is a C string).
 * ref: RFC 3629 §4 (well-formed UTF-8), Unicode §3.9 (U+FFFD substitution).
 *
 * Thread-safety: objects are used by one thread at a time.
 */
#ifndef MDC_WHISPER_RESULT_H
#define MDC_WHISPER_RESULT_H

#include <stddef.h>
#include <stdint.h>

#include "mdc/whisper.h"

typedef struct wsp__text {
    char *buf;          /* emitted bytes, valid UTF-8, NUL-terminated when non-NULL */
    size_t len, cap;
    uint8_t carry[4];   /* incomplete sequence waiting for more bytes */
    int n_carry;
} wsp__text;

/* Appends bytes through the carry.  Returns 0 or WSP_ENOMEM (text unchanged then). */
int wsp__text_append(wsp__text *t, const uint8_t *bytes, size_t n);
/* Ends the stream: an unfinished carried sequence becomes U+FFFD.  0 or WSP_ENOMEM. */
int wsp__text_flush(wsp__text *t);
/* Hands over the emitted bytes as a malloc'd NUL-terminated string (never NULL unless
 * out of memory) and empties the buffer; the carry stays for the next segment. */
char *wsp__text_take(wsp__text *t);
/* Frees the buffer (accepts a zeroed or partly used object). */
void wsp__text_free(wsp__text *t);

/* A new empty result (calloc'd), or NULL. */
wsp_result *wsp__result_new(void);

/* Appends a copy of *seg whose text pointer is taken over (freed by the result on
 * success; on failure the caller still owns it) and whose tokens[0..n_tokens) are
 * copied.  *cap tracks the segment array capacity.  Returns the new segment's index or
 * WSP_ENOMEM. */
int wsp__result_add_segment(wsp_result *r, int *cap, const wsp_segment *seg);

#endif
