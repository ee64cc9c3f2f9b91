/*
 * channels.c — per-channel helpers that need no FFmpeg (linked statically into the
 * binary beside errors.c, and into mdc-audio.so with the rest of src/audio/).
 */
#include <math.h>
#include <stdlib.h>

#include "mdc/audio.h"

/* Σ|L[j]| and Σ|R[j]| over [j0, j1), in double and in order (whisper-cli -di). */
static void sum_abs(const aud_pcm *pcm, size_t j0, size_t j1, double *a, double *b)
{
    double x = 0.0, y = 0.0;
    for (size_t j = j0; j < j1; j++) {
        x += fabs((double)pcm->left[j]);
        y += fabs((double)pcm->right[j]);
    }
    *a = x;
    *b = y;
}

/* whisper-cli -di's rule: 0 if E0 > 1.1·E1, 1 if E1 > 1.1·E0, else -1 ("?"). */
static int dominant(double e0, double e1) { return e0 > 1.1 * e1 ? 0 : (e1 > 1.1 * e0 ? 1 : -1); }

int aud_stereo_speaker(const aud_pcm *pcm, int64_t t0, int64_t t1, double *e0, double *e1)
{
    double a = 0.0, b = 0.0;
    if (pcm && pcm->left && pcm->right && pcm->n_samples > 0) {
        const int64_t n = (int64_t)pcm->n_samples;
        int64_t is0 = t0 * AUD_SAMPLE_RATE / 100, is1 = t1 * AUD_SAMPLE_RATE / 100;
        is0 = is0 < 0 ? 0 : (is0 > n - 1 ? n - 1 : is0);
        is1 = is1 < 0 ? 0 : (is1 > n - 1 ? n - 1 : is1);
        if (is1 > is0)
            sum_abs(pcm, (size_t)is0, (size_t)is1, &a, &b);
    }
    if (e0)
        *e0 = a;
    if (e1)
        *e1 = b;
    if (!pcm || !pcm->left)
        return -1;
    return dominant(a, b);
}

/* Frame labels for aud_stereo_turns: 0/1 speaker, -1 "?", -2 silence. */
#define TURN_UNSURE (-1)
#define TURN_SILENT (-2)

static int frame_label(const aud_pcm *pcm, size_t j0, size_t j1)
{
    double a, b;
    sum_abs(pcm, j0, j1, &a, &b);
    const double n = (double)(j1 - j0);
    if (a < AUD_TURN_SILENCE * n && b < AUD_TURN_SILENCE * n)
        return TURN_SILENT;
    return dominant(a, b);
}

int aud_stereo_turns(const aud_pcm *pcm, aud_turn **out, size_t *n_out)
{
    *out = NULL;
    *n_out = 0;
    if (!pcm || !pcm->left || !pcm->right)
        return -1;
    const size_t frame = (size_t)AUD_SAMPLE_RATE * AUD_TURN_FRAME_CS / 100;
    const size_t n_frames = (pcm->n_samples + frame - 1) / frame;
    const size_t need = AUD_TURN_MIN_CS / AUD_TURN_FRAME_CS; /* frames in a row */
    const int64_t end_cs = (int64_t)(pcm->n_samples * 100 / AUD_SAMPLE_RATE);
    aud_turn *v = NULL;
    size_t n = 0, cap = 0;
    int cur = TURN_SILENT, cand = TURN_SILENT;
    size_t cand_first = 0, cand_len = 0, turn_first = 0;
    for (size_t f = 0; f <= n_frames; f++) {
        int lab = TURN_SILENT; /* past the end: close the last turn */
        if (f < n_frames) {
            const size_t j0 = f * frame;
            const size_t j1 = j0 + frame < pcm->n_samples ? j0 + frame : pcm->n_samples;
            lab = frame_label(pcm, j0, j1);
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
