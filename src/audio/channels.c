/*
 * channels.c — per-channel energies of a stereo decode and the speaker rules on them
 * (no FFmpeg: linked statically into the binary beside errors.c, and into mdc-audio.so
 * with the rest of src/audio/, whose stream accumulates the energies).
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
 * and is1 is a block boundary, n (the end) or n − 1 (see aud_stereo_speaker). */
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
    const int64_t b1 = (is1 + AUD_ENERGY_BLOCK - 1) / AUD_ENERGY_BLOCK; /* n: its partial block */
    for (int64_t b = b0; b < b1; b++)
        s += e->sums[2 * b + ch];
    return s;
}

/* whisper-cli -di's rule: 0 if E0 > 1.1·E1, 1 if E1 > 1.1·E0, else -1 ("?"). */
static int dominant(double e0, double e1) { return e0 > 1.1 * e1 ? 0 : (e1 > 1.1 * e0 ? 1 : -1); }

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
    return dominant(a, b);
}

/* Frame labels for aud_stereo_turns: 0/1 speaker, -1 "?", -2 silence. */
#define TURN_UNSURE (-1)
#define TURN_SILENT (-2)

/* [j0, j1): a 100 ms frame (10 whole blocks) or the recording's last, shorter one. */
static int frame_label(const aud_energy *e, size_t j0, size_t j1)
{
    const double a = span_sum(e, (int64_t)j0, (int64_t)j1, 0);
    const double b = span_sum(e, (int64_t)j0, (int64_t)j1, 1);
    const double n = (double)(j1 - j0);
    if (a < AUD_TURN_SILENCE * n && b < AUD_TURN_SILENCE * n)
        return TURN_SILENT;
    return dominant(a, b);
}

int aud_stereo_turns(const aud_energy *e, aud_turn **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (!e || e->n_samples == 0 || !e->sums)
        return -1;
    const size_t frame = (size_t)AUD_SAMPLE_RATE * AUD_TURN_FRAME_CS / 100;
    const size_t n_frames = (e->n_samples + frame - 1) / frame;
    const size_t need = AUD_TURN_MIN_CS / AUD_TURN_FRAME_CS; /* frames in a row */
    const int64_t end_cs = (int64_t)(e->n_samples * 100 / AUD_SAMPLE_RATE);
    aud_turn *v = NULL;
    size_t n = 0, cap = 0;
    int cur = TURN_SILENT, cand = TURN_SILENT;
    size_t cand_first = 0, cand_len = 0, turn_first = 0;
    for (size_t f = 0; f <= n_frames; f++) {
        int lab = TURN_SILENT; /* past the end: close the last turn */
        if (f < n_frames) {
            const size_t j0 = f * frame;
            const size_t j1 = j0 + frame < e->n_samples ? j0 + frame : e->n_samples;
            lab = frame_label(e, j0, j1);
            if (lab == TURN_UNSURE)
                continue;
            if (lab == cur) {
                cand_len = 0;
                continue;
            }
            if (lab != cand || cand_len == 0) {
                cand = lab;
                cand_first = f;
                cand_len = 0;
            }
            if (++cand_len < need)
                continue;
        } else {
            cand_first = f;
        }
        /* the state changes at cand_first */
        if (cur >= 0) {
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                aud_turn *nv = realloc(v, cap * sizeof *nv);
                if (!nv) {
                    free(v);
                    return -1;
                }
                v = nv;
            }
            int64_t t0 = (int64_t)turn_first * AUD_TURN_FRAME_CS;
            int64_t t1 = (int64_t)cand_first * AUD_TURN_FRAME_CS;
            v[n++] = (aud_turn){.t0_cs = t0, .t1_cs = t1 < end_cs ? t1 : end_cs,
                                .speaker = cur};
        }
        cur = f < n_frames ? cand : TURN_SILENT;
        turn_first = cand_first;
        cand_len = 0;
    }
    *out = v;
    *n_out = n;
    return 0;
}
