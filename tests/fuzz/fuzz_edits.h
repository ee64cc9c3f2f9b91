/*
 * fuzz_edits.h — the input format of fuzz_vad_model and fuzz_whisper_model (which also
 * picks one of two bases with the cut's top bit) and of test_vad_model, which replays its
 * kept inputs: edits to a valid base file.
 *   bytes 0–3   cut length (little-endian, modulo size + 1; 0 = keep everything)
 *   then records: u32 offset (modulo size), u8 n, n bytes written there.
 * Header-only (static inline) so each harness and test includes it directly.
 */
#ifndef MDC_FUZZ_EDITS_H
#define MDC_FUZZ_EDITS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The first 4 bytes of data as a u32 (0 when shorter): the cut word. */
static inline uint32_t fuzz_cut_word(const uint8_t *data, size_t size)
{
    uint32_t cut = 0;
    if (size >= 4)
        memcpy(&cut, data, 4);
    return cut;
}

/* Copies base (len bytes, len > 0) into work (len bytes) with the edits of data applied;
 * the cut length is (cut word & cut_mask) modulo len + 1 (fuzz_whisper_model keeps bit 31
 * for its choice of base: cut_mask 0x7fffffff).  Returns the length to keep (≤ len). */
static inline size_t fuzz_apply_edits_masked(const uint8_t *base, size_t len,
                                             const uint8_t *data, size_t size, uint8_t *work,
                                             uint32_t cut_mask)
{
    memcpy(work, base, len);
    size_t keep = len, p = 0;
    if (size >= 4) {
        uint32_t cut = fuzz_cut_word(data, size) & cut_mask;
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

/* fuzz_apply_edits_masked with the whole cut word. */
static inline size_t fuzz_apply_edits(const uint8_t *base, size_t len, const uint8_t *data,
                                      size_t size, uint8_t *work)
{
    return fuzz_apply_edits_masked(base, len, data, size, work, 0xffffffffu);
}

#endif
