/*
 * melstream.h — the streaming session's signal front end (internal, prefix wsp__ms_):
 * samples in, one window's normalised log-mel out, in memory bounded by a window.
 *
 * It keeps the samples whose mel frames are not computed yet (a linear buffer of one
 * window and its look-ahead, about 31 s, compacted as frames are computed) and the raw log10 frames [f_base, f_end) the seek can
 * still reach (a ring of W + 64 frames per band, W = frames one window reads, compacted
 * as the seek advances), plus each frame's maximum over the bands, so the clamp of the
 * window at seek can use the maximum over frames [0, seek + W) exactly, however the
 * audio was cut into feeds.  Frames are computed with wsp__mel_frames, bit-identical to
 * the whole-buffer mel.
 * Thread-safety: one thread at a time (the session's).
 */
#ifndef MDC_WHISPER_MELSTREAM_H
#define MDC_WHISPER_MELSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "whisper/engine.h"

#define WSP__MS_SLACK_FRAMES 64 /* ring frames beyond one window (640 ms) */

typedef struct wsp__melstream {
    const wsp_model *model;
    int n_mels;
    int width;            /* W: frames one window reads (3000, 2·n_audio_ctx if more) */
    float *x;             /* [x_cap] stream samples [x_base, x_base + x_len) */
    size_t x_cap, x_len;
    uint64_t x_base;
    uint64_t n_in;        /* samples pushed so far */
    bool ended;           /* wsp__ms_end called: n_in is the stream's length */
    float *raw;           /* [n_mels][f_cap] raw log10 frames [f_base, f_end) at columns
                             [0, f_end − f_base) */
    float *fmax;          /* [f_cap] max over bands of each ring frame */
    int f_cap;
    int64_t f_base, f_end;
    int64_t keep;         /* frames below it are dropped (folded into max_before) */
    float max_before;     /* max over the dropped frames (-inf: none) */
    size_t bytes;         /* heap bytes held */
} wsp__melstream;

/* A stream for `model` whose first window starts at frame keep_from (frames below are
 * computed for the running maximum only).  extra_samples: more sample buffer for callers
 * whose windows wait for more look-ahead than one window (token timestamps).
 * 0 or WSP_ENOMEM (*out NULL). */
int wsp__ms_new(const wsp_model *model, int64_t keep_from, size_t extra_samples,
                wsp__melstream **out);
void wsp__ms_free(wsp__melstream *ms);

/* Takes up to n samples (copied), computing frames to make room as needed; returns how
 * many it took.  It takes fewer than n only when its ring is full up to the next window's
 * look-ahead (the caller then runs that window and pushes the rest).  *rc: 0 or a
 * wsp__mel_frames error. */
size_t wsp__ms_push(wsp__melstream *ms, const float *x, size_t n, wsp__pool *pool, int *rc);

/* Marks the end of the stream (frames past it read zeros, the 30 s tail pad). */
void wsp__ms_end(wsp__melstream *ms);

/* Frames [0, t) computable now: every sample they read is pushed (or the stream ended). */
bool wsp__ms_has_frames(const wsp__melstream *ms, int64_t t);

/* Normalised mel of the window at seek into dst [n_mels][width]: frames [seek, seek + W)
 * (computed now if missing), clamped at (max over frames [0, seek + W)) − 8, or at
 * *fixed_max − 8 when fixed_max is not NULL, then (x + 4)/4.  Drops the frames below
 * seek (the seek never goes back).  Requires wsp__ms_has_frames(ms, seek + W).
 * 0, WSP_EINVAL (seek behind the ring, frames not there) or a wsp__mel_frames error. */
int wsp__ms_window(wsp__melstream *ms, int64_t seek, const float *fixed_max, wsp__pool *pool,
                   float *dst);

/* Ends the stream and computes every frame the whole-buffer mel has ((n + 480000)/160,
 * the zero tail included), dropping them; *max_out = their maximum (wsp_mel_peak).
 * 0 or a wsp__mel_frames error. */
int wsp__ms_max_all(wsp__melstream *ms, wsp__pool *pool, float *max_out);

/* The next window starts at `seek` or later: frames below it may be dropped. */
void wsp__ms_release(wsp__melstream *ms, int64_t seek);

#endif
