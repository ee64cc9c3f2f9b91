/*
 * melstream.c — samples → per-window log-mel in bounded memory (see melstream.h).
 *
 * ref: OpenAI whisper/audio.py log_mel_spectrogram (clamp max − 8, (x+4)/4);
 * whisper.cpp log_mel_spectrogram (whole-input mel, frames read by whisper_encode at
 * mel_offset = seek).  Frame t needs samples [160t − 200, 160t + 200): the sample
 * buffer keeps everything from 160·f_end − 200 on (from 0 while f_end < 2: frames 0 and
 * 1 reflect samples 1 … 200).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "whisper/melstream.h"

#define PAD_FRONT (WSP_N_FFT / 2)

/* First sample still needed: that of frame f_end. */
static uint64_t need_from(const wsp__melstream *ms)
{
    return ms->f_end >= 2 ? (uint64_t)(ms->f_end * WSP_HOP_LENGTH - PAD_FRONT) : 0;
}

/* Drops ring frames below keep, folding their maxima into max_before. */
static void drop_frames(wsp__melstream *ms)
{
    int64_t to = ms->keep < ms->f_end ? ms->keep : ms->f_end;
    if (to <= ms->f_base)
        return;
    const int d = (int)(to - ms->f_base), left = (int)(ms->f_end - to);
    for (int i = 0; i < d; i++)
        if (ms->fmax[i] > ms->max_before)
            ms->max_before = ms->fmax[i];
    if (left > 0) {
        for (int m = 0; m < ms->n_mels; m++) {
            float *r = ms->raw + (size_t)m * (size_t)ms->f_cap;
            memmove(r, r + d, sizeof(float) * (size_t)left);
        }
        memmove(ms->fmax, ms->fmax + d, sizeof(float) * (size_t)left);
    }
    ms->f_base = to;
    if (ms->f_end < ms->keep) /* everything was below keep: the ring restarts at f_end */
        ms->f_base = ms->f_end;
}

/* Drops samples below the first one frame f_end needs. */
static void compact_samples(wsp__melstream *ms)
{
    const uint64_t from = need_from(ms);
    if (from <= ms->x_base)
        return;
    size_t d = (size_t)(from - ms->x_base);
    if (d > ms->x_len)
        d = ms->x_len;
    memmove(ms->x, ms->x + d, sizeof(float) * (ms->x_len - d));
    ms->x_len -= d;
    ms->x_base += d;
}

/* Frames computable now: [0, this).  Frame t reads samples up to 160t + 200, and frames
 * 0/1 reflect up to sample 200, so 160t + 201 samples suffice until the stream ends. */
static int64_t frames_avail(const wsp__melstream *ms)
{
    if (ms->ended)
        return INT64_MAX;
    if (ms->n_in < (uint64_t)(PAD_FRONT + 1))
        return 0;
    return (int64_t)((ms->n_in - PAD_FRONT - 1) / WSP_HOP_LENGTH) + 1;
}

bool wsp__ms_has_frames(const wsp__melstream *ms, int64_t t) { return frames_avail(ms) >= t; }

/* Computes frames [f_end, min(upto, ring room)); returns the number computed (0 when
 * the ring is full or nothing is computable) or a negative error. */
static int compute_frames(wsp__melstream *ms, int64_t upto, wsp__pool *pool)
{
    drop_frames(ms);
    const int64_t avail = frames_avail(ms);
    if (upto > avail)
        upto = avail;
    int64_t room = ms->f_base + ms->f_cap - ms->f_end;
    int64_t n = upto - ms->f_end;
    if (n > room)
        n = room;
    if (n <= 0)
        return 0;
    const int col = (int)(ms->f_end - ms->f_base);
    float max;
    int rc = wsp__mel_frames(ms->model, ms->x, ms->x_base, ms->x_len,
                             ms->ended ? ms->n_in : UINT64_MAX, ms->f_end, (int)n, pool,
                             ms->raw + col, (size_t)ms->f_cap, ms->fmax + col, &max);
    if (rc)
        return rc;
    ms->f_end += n;
    drop_frames(ms);
    compact_samples(ms);
    return (int)n;
}

int wsp__ms_new(const wsp_model *model, int64_t keep_from, size_t extra_samples,
                wsp__melstream **out)
{
    *out = NULL;
    wsp__melstream *ms = calloc(1, sizeof *ms);
    if (!ms)
        return WSP_ENOMEM;
    const wsp_hparams *hp = wsp_model_hparams(model);
    ms->model = model;
    ms->n_mels = hp->n_mels;
    ms->width = 2 * hp->n_audio_ctx > WSP_N_FRAMES_CHUNK ? 2 * hp->n_audio_ctx
                                                          : WSP_N_FRAMES_CHUNK;
    ms->f_cap = ms->width + WSP__MS_SLACK_FRAMES;
    /* a window's samples plus its look-ahead: the frames of a window are then computed
     * in one batch by wsp__ms_window (on the pool's threads) rather than a few at a time
     * to make room while pushing; and with a full ring and a full buffer the look-ahead
     * of the next window is always there (melstream.h) */
    ms->x_cap = (size_t)ms->f_cap * WSP_HOP_LENGTH + 2 * WSP_N_FFT + extra_samples;
    ms->x = malloc(sizeof(float) * ms->x_cap);
    ms->raw = malloc(sizeof(float) * (size_t)ms->n_mels * (size_t)ms->f_cap);
    ms->fmax = malloc(sizeof(float) * (size_t)ms->f_cap);
    ms->keep = keep_from > 0 ? keep_from : 0;
    ms->max_before = -INFINITY;
    ms->bytes = sizeof *ms + sizeof(float) * (ms->x_cap + (size_t)ms->f_cap * (size_t)(ms->n_mels + 1));
    if (!ms->x || !ms->raw || !ms->fmax) {
        wsp__ms_free(ms);
        return WSP_ENOMEM;
    }
    *out = ms;
    return 0;
}

void wsp__ms_free(wsp__melstream *ms)
{
    if (!ms)
        return;
    free(ms->x);
    free(ms->raw);
    free(ms->fmax);
    free(ms);
}

size_t wsp__ms_push(wsp__melstream *ms, const float *x, size_t n, wsp__pool *pool, int *rc)
{
    *rc = 0;
    size_t taken = 0;
    while (taken < n) {
        compact_samples(ms);
        if (ms->x_len == ms->x_cap) {
            const int k = compute_frames(ms, INT64_MAX, pool);
            if (k < 0) {
                *rc = k;
                break;
            }
            if (k == 0)
                break; /* ring full: the next window is ready */
            continue;
        }
        size_t c = ms->x_cap - ms->x_len;
        if (c > n - taken)
            c = n - taken;
        memcpy(ms->x + ms->x_len, x + taken, sizeof(float) * c);
        ms->x_len += c;
        ms->n_in += c;
        taken += c;
    }
    return taken;
}

void wsp__ms_end(wsp__melstream *ms) { ms->ended = true; }

int wsp__ms_max_all(wsp__melstream *ms, wsp__pool *pool, float *max_out)
{
    wsp__ms_end(ms);
    ms->keep = INT64_MAX;
    const int64_t total = (int64_t)((ms->n_in + WSP_N_SAMPLES_CHUNK) / WSP_HOP_LENGTH);
    while (ms->f_end < total) {
        const int k = compute_frames(ms, total, pool);
        if (k < 0)
            return k;
        if (k == 0)
            return WSP_EINTERNAL;
    }
    drop_frames(ms);
    *max_out = ms->max_before;
    return 0;
}

void wsp__ms_release(wsp__melstream *ms, int64_t seek)
{
    if (seek > ms->keep)
        ms->keep = seek;
    drop_frames(ms);
}

int wsp__ms_window(wsp__melstream *ms, int64_t seek, const float *fixed_max, wsp__pool *pool,
                   float *dst)
{
    wsp__ms_release(ms, seek);
    const int64_t end = seek + ms->width;
    if (seek < ms->f_base || !wsp__ms_has_frames(ms, end))
        return WSP_EINVAL;
    while (ms->f_end < end) {
        const int k = compute_frames(ms, end, pool);
        if (k < 0)
            return k;
        if (k == 0)
            return WSP_EINVAL; /* cannot happen: the ring holds a window past the seek */
    }
    float max = ms->max_before;
    const int n = (int)(end - ms->f_base);
    for (int i = 0; i < n; i++)
        if (ms->fmax[i] > max)
            max = ms->fmax[i];
    const int col = (int)(seek - ms->f_base);
    wsp__mel_normalize(dst, ms->raw + col, ms->n_mels, ms->width, (size_t)ms->width,
                       (size_t)ms->f_cap, fixed_max ? *fixed_max : max);
    return 0;
}
