/*
 * utf8.h — UTF-8 validation and repair (prefix mdc_utf8_).
 * ref: RFC 3629 §4 (well-formed sequences: no overlongs, no surrogates, ≤ U+10FFFF);
 *      Unicode 15 §3.9 "U+FFFD Substitution of Maximal Subparts".
 *
 * Thread-safety: pure functions, thread-safe.
 */
#ifndef MDC_UTF8_H
#define MDC_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decodes one code point from s[0..n).  Returns the sequence length (1…4) and sets *cp,
 * or returns -k (k ≥ 1) when s starts with an ill-formed or truncated sequence whose
 * maximal subpart is k bytes long (replace those k bytes with one U+FFFD).  n must be ≥ 1. */
int mdc_utf8_decode(const char *s, size_t n, uint32_t *cp);

/* 1 if s[0..n) is well-formed UTF-8 (NUL bytes count as valid), else 0. */
int mdc_utf8_valid(const char *s, size_t n);

/* Length of the longest prefix of s[0..n) that is well-formed UTF-8 and ends on a
 * character boundary (stops at the first ill-formed or truncated sequence). */
size_t mdc_utf8_valid_prefix(const char *s, size_t n);

/* Length of s[0..n) without a trailing *incomplete* sequence (a valid lead byte followed
 * by fewer continuation bytes than it announces, at most 3 bytes).  For streaming: emit
 * the returned prefix now and keep the tail until more bytes arrive.  Does not validate
 * the rest. */
size_t mdc_utf8_complete_prefix(const char *s, size_t n);

/* Flags for mdc_utf8_sanitize(). */
enum { MDC_UTF8_DROP_NUL = 1 };

/* Returns a malloc'd, NUL-terminated copy of s[0..n) in which every maximal subpart of
 * an ill-formed sequence is replaced by U+FFFD (EF BF BD); with MDC_UTF8_DROP_NUL, NUL
 * bytes are removed.  *out_len (may be NULL) gets the length.  s may be NULL when n is
 * 0.  Returns NULL on OOM.  Caller frees. */
char *mdc_utf8_sanitize(const char *s, size_t n, int flags, size_t *out_len);

/* Appends the UTF-8 encoding of cp (≤ U+10FFFF, not a surrogate) to buf (≥ 4 bytes);
 * returns the number of bytes written, 0 for an invalid code point. */
int mdc_utf8_encode(uint32_t cp, char *buf);

#endif
