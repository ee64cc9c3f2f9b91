/*
 * fuzz_edits.h — the input format of fuzz_vad_model (the same as fuzz_whisper_model's,
 * which also picks one of two bases with the cut's top bit) and of test_vad_model, which
 * replays its kept inputs: edits to a valid base file.
 *   bytes 0–3   cut length (little-endian, modulo size + 1; 0 = keep everything)
 *   then records: u32 offset (modulo size), u8 n, n bytes written there.
 * Header-only (static inline) so each harness and test includes it directly.
 */
#ifndef MDC_FUZZ_EDITS_H
#define MDC_FUZZ_EDITS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Copies base (len bytes, len > 0) into work (len bytes) with the edits of data applied;
 * returns the length to keep (≤ len). */
static inline size_t fuzz_apply_edits(const uint8_t *base, size_t len, const uint8_t *data,
                                      size_t size, uint8_t *work)
{
    memcpy(work, base, len);
    size_t keep = len, p = 0;
    if (size >= 4) {
        uint32_t cut;
        memcpy(&cut, data, 4);
        cut %= (uint32_t)(len + 1);
        if (cut)
            keep = cut;
        p = 4;
    }
    while (p + 5 <= size) {
        uint32_t off;
        memcpy(&off, data + p, 4);
        size_t n = data[p + 4];
        p += 5;
        if (n > size - p)
            n = size - p;
        off %= (uint32_t)len;
        if (n > len - off)
            n = len - off;
        memcpy(work + off, data + p, n);
        p += n;
    }
    return keep;
}

#endif
