/*
 * channels.c — per-channel helpers that need no FFmpeg (linked statically into the
 * binary beside errors.c, and into mdc-audio.so with the rest of src/audio/).
 */
#include <math.h>

#include "mdc/audio.h"

int aud_stereo_speaker(const aud_pcm *pcm, int64_t t0, int64_t t1, double *e0, double *e1)
{
    double a = 0.0, b = 0.0;
    if (pcm && pcm->left && pcm->right && pcm->n_samples > 0) {
        const int64_t n = (int64_t)pcm->n_samples;
        int64_t is0 = t0 * AUD_SAMPLE_RATE / 100, is1 = t1 * AUD_SAMPLE_RATE / 100;
        is0 = is0 < 0 ? 0 : (is0 > n - 1 ? n - 1 : is0);
        is1 = is1 < 0 ? 0 : (is1 > n - 1 ? n - 1 : is1);
        for (int64_t j = is0; j < is1; j++) {
            a += fabs((double)pcm->left[j]);
            b += fabs((double)pcm->right[j]);
        }
    }
    if (e0)
        *e0 = a;
    if (e1)
        *e1 = b;
    if (!pcm || !pcm->left)
        return -1;
    return a > 1.1 * b ? 0 : (b > 1.1 * a ? 1 : -1);
}
