/* tu_whisper.h — helpers of the Whisper engine tests over the internal contract. */
#ifndef MDC_TU_WHISPER_H
#define MDC_TU_WHISPER_H

#include <stdlib.h>

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

#endif
