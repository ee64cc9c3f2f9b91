/*
 * channels.c — per-channel energies of a stereo decode and whisper-cli's -di speaker
 * rule on them (no FFmpeg: linked statically into the binary beside errors.c, and into
 * mdc-audio.so with the rest of src/audio/, whose stream accumulates the energies).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audio_internal.h"

void aud_energy_free(aud_energy *e)
{
    if (!e)
        return;
    free(e->sums);
    memset(e, 0, sizeof *e);
}

int aud__energy_add(aud_energy *e, const float *lr, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const size_t k = e->n_samples / AUD_ENERGY_BLOCK;
        if (e->n_samples % AUD_ENERGY_BLOCK == 0) { /* a new block */
            if (k == e->cap) {
                size_t cap = e->cap ? e->cap * 2 : 4096; /* 4096 blocks = 41 s */
                double *nb = realloc(e->sums, cap * 2 * sizeof *nb);
                if (!nb)
                    return AUD_ENOMEM;
                e->sums = nb;
                e->cap = cap;
            }
            e->sums[2 * k] = e->sums[2 * k + 1] = 0.0;
            e->n_blocks = k + 1;
        }
        e->last_excl[0] = e->sums[2 * k];
        e->last_excl[1] = e->sums[2 * k + 1];
        e->sums[2 * k] += fabs((double)lr[2 * i]);
        e->sums[2 * k + 1] += fabs((double)lr[2 * i + 1]);
        e->n_samples++;
    }
    return 0;
}

/* Σ over samples [is0, is1) of one channel, where is0 is a block boundary (or >= is1)
 * and is1 is a block boundary or n − 1 (see aud_stereo_speaker). */
static double span_sum(const aud_energy *e, int64_t is0, int64_t is1, int ch)
{
    if (is1 <= is0)
        return 0.0;
    const int64_t n = (int64_t)e->n_samples;
    const int64_t b0 = is0 / AUD_ENERGY_BLOCK;
    double s = 0.0;
    if (is1 == n - 1 && is1 % AUD_ENERGY_BLOCK != 0) { /* ends inside the last block */
        const int64_t last = (n - 1) / AUD_ENERGY_BLOCK;
        for (int64_t b = b0; b < last; b++)
            s += e->sums[2 * b + ch];
        return s + e->last_excl[ch];
    }
    for (int64_t b = b0; b < is1 / AUD_ENERGY_BLOCK; b++)
        s += e->sums[2 * b + ch];
    return s;
}

int aud_stereo_speaker(const aud_energy *e, int64_t t0, int64_t t1, double *e0, double *e1)
{
    double a = 0.0, b = 0.0;
    const bool have = e && e->n_samples > 0 && e->sums;
    if (have) {
        const int64_t n = (int64_t)e->n_samples;
        int64_t is0 = t0 * AUD_SAMPLE_RATE / 100, is1 = t1 * AUD_SAMPLE_RATE / 100;
        is0 = is0 < 0 ? 0 : (is0 > n - 1 ? n - 1 : is0);
        is1 = is1 < 0 ? 0 : (is1 > n - 1 ? n - 1 : is1);
        a = span_sum(e, is0, is1, 0);
        b = span_sum(e, is0, is1, 1);
    }
    if (e0)
        *e0 = a;
    if (e1)
        *e1 = b;
    if (!have)
        return -1;
    return a > 1.1 * b ? 0 : (b > 1.1 * a ? 1 : -1);
}
