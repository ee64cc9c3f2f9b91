/* utf8.c — see include/mdc/utf8.h. */
#include "mdc/utf8.h"

#include <stdlib.h>
#include <string.h>

int mdc_utf8_decode(const char *str, size_t n, uint32_t *cp)
{
    const unsigned char *s = (const unsigned char *)str;
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int len;
    uint32_t v;
    /* ref: RFC 3629 §4 table — the allowed range of the second byte depends on the lead. */
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        v = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0; /* no overlongs */
        else if (c == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = c & 0x07;
        if (c == 0xF0)
            lo = 0x90; /* no overlongs */
        else if (c == 0xF4)
            hi = 0x8F; /* ≤ U+10FFFF */
    } else {
        return -1; /* continuation byte, C0/C1 or F5…FF: never valid */
    }
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= n)
            return -i; /* truncated: the valid part so far is one maximal subpart */
        unsigned b = s[i];
        unsigned l = i == 1 ? lo : 0x80, h = i == 1 ? hi : 0xBF;
        if (b < l || b > h)
            return -i;
        v = (v << 6) | (b & 0x3F);
    }
    *cp = v;
    return len;
}

int mdc_utf8_valid(const char *s, size_t n) { return mdc_utf8_valid_prefix(s, n) == n; }

size_t mdc_utf8_valid_prefix(const char *s, size_t n)
{
    size_t i = 0;
    uint32_t cp;
    while (i < n) {
        int k = mdc_utf8_decode(s + i, n - i, &cp);
        if (k < 0)
            break;
        i += (size_t)k;
    }
    return i;
}

size_t mdc_utf8_complete_prefix(const char *s, size_t n)
{
    /* Look back at most 3 bytes for a lead byte whose sequence runs past the end. */
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        size_t at = n - back;
        uint32_t cp;
        unsigned c = (unsigned char)s[at];
        if (c < 0x80)
            return n;
        if (c >= 0xC0) {
            int k = mdc_utf8_decode(s + at, back, &cp);
            /* truncated (every present byte fits) → hold the tail back */
            if (k < 0 && (size_t)(-k) == back)
                return at;
            return n;
        }
    }
    return n;
}

int mdc_utf8_encode(uint32_t cp, char *buf)
{
    unsigned char *b = (unsigned char *)buf;
    if (cp < 0x80) {
        b[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        b[0] = (unsigned char)(0xC0 | (cp >> 6));
        b[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp >= 0xD800 && cp <= 0xDFFF)
        return 0;
    if (cp < 0x10000) {
        b[0] = (unsigned char)(0xE0 | (cp >> 12));
        b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    if (cp <= 0x10FFFF) {
        b[0] = (unsigned char)(0xF0 | (cp >> 18));
        b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (unsigned char)(0x80 | (cp & 0x3F));
        return 4;
    }
    return 0;
}

char *mdc_utf8_sanitize(const char *s, size_t n, int flags, size_t *out_len)
{
    /* Worst case: every byte becomes U+FFFD (3 bytes). */
    if (n > (((size_t)-1) - 1) / 3)
        return NULL;
    char *out = malloc(n * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0, i = 0;
    while (i < n) {
        uint32_t cp;
        int k = mdc_utf8_decode(s + i, n - i, &cp);
        if (k > 0) {
            if (!(cp == 0 && (flags & MDC_UTF8_DROP_NUL))) {
                memcpy(out + o, s + i, (size_t)k);
                o += (size_t)k;
            }
            i += (size_t)k;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += (size_t)(-k);
        }
    }
    out[o] = '\0';
    if (out_len)
        *out_len = o;
    return out;
}
