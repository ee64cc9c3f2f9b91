/*
 * result.c — wsp_result lifetime and UTF-8-safe segment text (see result.h).
 * ref: RFC 3629 §4; Unicode §3.9 "U+FFFD Substitution of Maximal Subparts".
 */
#include <stdlib.h>
#include <string.h>

#include "whisper/result.h"

/* Sequence length announced by a lead byte: 1 (ASCII), 2…4, or 0 for a byte that
 * cannot start a well-formed sequence (ref: RFC 3629 §4 table). */
static int lead_len(uint8_t c)
{
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return 2;
    if (c >= 0xE0 && c <= 0xEF)
        return 3;
    if (c >= 0xF0 && c <= 0xF4)
        return 4;
    return 0;
}

/* Whether c may be continuation byte number k (1-based) after `lead`: the second byte
 * of E0/ED/F0/F4 has a narrower range (no overlongs, surrogates, > U+10FFFF). */
static int cont_ok(uint8_t lead, int k, uint8_t c)
{
    uint8_t lo = 0x80, hi = 0xBF;
    if (k == 1) {
        if (lead == 0xE0)
            lo = 0xA0;
        else if (lead == 0xED)
            hi = 0x9F;
        else if (lead == 0xF0)
            lo = 0x90;
        else if (lead == 0xF4)
            hi = 0x8F;
    }
    return c >= lo && c <= hi;
}

/* Grows the buffer to hold `extra` more bytes plus the NUL.  0 or WSP_ENOMEM. */
static int reserve(wsp__text *t, size_t extra)
{
    if (t->len + extra + 1 <= t->cap)
        return 0;
    size_t cap = t->cap ? t->cap : 64;
    while (cap < t->len + extra + 1)
        cap *= 2;
    char *b = realloc(t->buf, cap);
    if (!b)
        return WSP_ENOMEM;
    t->buf = b;
    t->cap = cap;
    return 0;
}

/* Appends n bytes (space reserved) and keeps the buffer NUL-terminated. */
static void put(wsp__text *t, const void *p, size_t n)
{
    memcpy(t->buf + t->len, p, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static const uint8_t k_fffd[3] = {0xEF, 0xBF, 0xBD};

int wsp__text_append(wsp__text *t, const uint8_t *bytes, size_t n)
{
    /* worst case: every byte becomes U+FFFD (3 bytes), plus the carry flushed */
    if (reserve(t, 3 * (n + 4)))
        return WSP_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const uint8_t c = bytes[i];
        if (t->n_carry > 0) {
            if (cont_ok(t->carry[0], t->n_carry, c)) {
                t->carry[t->n_carry++] = c;
                if (t->n_carry == lead_len(t->carry[0])) {
                    put(t, t->carry, (size_t)t->n_carry);
                    t->n_carry = 0;
                }
                continue;
            }
            put(t, k_fffd, 3); /* maximal subpart of an ill-formed sequence */
            t->n_carry = 0;
        }
        const int l = lead_len(c);
        if (c == 0)
            continue;
        if (l == 1)
            put(t, &c, 1);
        else if (l == 0)
            put(t, k_fffd, 3);
        else
            t->carry[t->n_carry++] = c;
    }
    return 0;
}

int wsp__text_flush(wsp__text *t)
{
    if (t->n_carry == 0)
        return 0;
    if (reserve(t, 3))
        return WSP_ENOMEM;
    put(t, k_fffd, 3);
    t->n_carry = 0;
    return 0;
}

char *wsp__text_take(wsp__text *t)
{
    char *s = t->buf;
    if (!s) {
        s = malloc(1);
        if (s)
            s[0] = '\0';
    }
    t->buf = NULL;
    t->len = t->cap = 0;
    return s;
}

void wsp__text_free(wsp__text *t)
{
    if (!t)
        return;
    free(t->buf);
    t->buf = NULL;
    t->len = t->cap = 0;
    t->n_carry = 0;
}

wsp_result *wsp__result_new(void)
{
    return calloc(1, sizeof(wsp_result));
}

int wsp__result_add_segment(wsp_result *r, int *cap, const wsp_segment *seg)
{
    if (r->n_segments == *cap) {
        int ncap = *cap ? *cap * 2 : 16;
        wsp_segment *s = realloc(r->segments, sizeof *s * (size_t)ncap);
        if (!s)
            return WSP_ENOMEM;
        r->segments = s;
        *cap = ncap;
    }
    wsp_segment *dst = &r->segments[r->n_segments];
    *dst = *seg;
    dst->tokens = NULL;
    if (seg->n_tokens > 0) {
        dst->tokens = malloc(sizeof *dst->tokens * (size_t)seg->n_tokens);
        if (!dst->tokens)
            return WSP_ENOMEM;
        memcpy(dst->tokens, seg->tokens, sizeof *dst->tokens * (size_t)seg->n_tokens);
        for (int i = 0; i < seg->n_tokens; i++) { /* times are filled later, if asked */
            dst->tokens[i].t0 = dst->tokens[i].t1 = dst->tokens[i].t_dtw = -1;
            dst->tokens[i].vlen = 0.0f;
        }
    }
    return r->n_segments++;
}

/* Frees every segment's text and tokens, the array and the result.  Accepts NULL. */
void wsp_result_free(wsp_result *result)
{
    if (!result)
        return;
    for (int i = 0; i < result->n_segments; i++) {
        free(result->segments[i].text);
        free(result->segments[i].tokens);
    }
    free(result->segments);
    free(result);
}
