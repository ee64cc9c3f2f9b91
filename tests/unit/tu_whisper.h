/* tu_whisper.h — helpers of the Whisper engine tests over the internal contract. */
#ifndef MDC_TU_WHISPER_H
#define MDC_TU_WHISPER_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#include "whisper/engine.h"

/* Decodes tokens[0..n) as one batch of decoder `seq` at positions n_past…, logits of the
 * last position into logits[n_vocab] (the old one-sequence call, over wsp__decode_batch). */
static inline int tu_decode_seq(wsp_state *st, int seq, const int32_t *tokens, int n,
                                int n_past, int n_threads, float *logits)
{
    wsp__row *rows = malloc(sizeof *rows * (size_t)(n > 0 ? n : 1));
    if (!rows)
        return WSP_ENOMEM;
    for (int i = 0; i < n; i++)
        rows[i] = (wsp__row){.token = tokens[i], .pos = n_past + i, .seq = seq,
                             .logits = i == n - 1 ? logits : NULL};
    int rc = wsp__decode_batch(st, rows, n, n_threads);
    free(rows);
    return rc;
}

/* IEEE half → float, written independently of the engine's conversion. */
static inline float tu_f16_to_f32_ref(uint16_t h)
{
    const int e = (h >> 10) & 31, m = h & 1023;
    const float v = e == 0 ? ldexpf((float)m, -24) : e == 31 ? (m ? NAN : INFINITY)
                                                            : ldexpf((float)(1024 + m), e - 25);
    return (h & 0x8000) ? -v : v;
}

/* Writes an all-f32 copy of the f16 model at `src` (ftype 0, every f16 tensor widened):
 * the same numbers, so the f32 code paths must reproduce the f16 model's outputs. */
static inline int tu_write_f32_copy(const char *src, const char *dst)
{
    size_t len;
    uint8_t *b = tu_read_file(src, &len);
    FILE *f = fopen(dst, "wb");
    if (!b || !f) {
        free(b);
        if (f)
            fclose(f);
        return -1;
    }
    const int32_t v = 0; /* ftype f32 */
    size_t p = tu_ggml_first_tensor(b);
    fwrite(b, 1, 44, f);
    fwrite(&v, 4, 1, f);
    fwrite(b + 48, 1, p - 48, f);
    while (p < len) {
        int32_t n_dims, name_len, ttype, ne[4] = {1, 1, 1, 1};
        memcpy(&n_dims, b + p, 4);
        memcpy(&name_len, b + p + 4, 4);
        memcpy(&ttype, b + p + 8, 4);
        memcpy(ne, b + p + 12, 4 * (size_t)n_dims);
        const size_t hdr = 12 + 4 * (size_t)n_dims + (size_t)name_len;
        const size_t nel = (size_t)ne[0] * ne[1] * ne[2] * ne[3];
        const int32_t f32 = 0;
        fwrite(b + p, 1, 8, f);
        fwrite(&f32, 4, 1, f);
        fwrite(b + p + 12, 1, hdr - 12, f);
        p += hdr;
        for (size_t i = 0; i < nel; i++) {
            float x;
            if (ttype == 1) {
                uint16_t h;
                memcpy(&h, b + p + 2 * i, 2);
                x = tu_f16_to_f32_ref(h);
            } else {
                memcpy(&x, b + p + 4 * i, 4);
            }
            fwrite(&x, 4, 1, f);
        }
        p += nel * (ttype == 1 ? 2 : 4);
    }
    free(b);
    return fclose(f);
}

#endif
