/*
 * segments.c — speech segments from per-chunk probabilities, whisper.cpp's rules
 * (ref: whisper.cpp whisper_vad_segments_from_probs, itself after silero-vad's
 * get_speech_timestamps in utils_vad.py).  Pure: no model, no allocation but the result.
 */
#include "mdc/vad.h"

#include <float.h>
#include <stdbool.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

vad_params vad_default_params(void)
{
    /* ref: whisper.cpp whisper_vad_default_params() */
    return (vad_params){
        .threshold = 0.5f,
        .min_speech_duration_ms = 250,
        .min_silence_duration_ms = 100,
        .max_speech_duration_s = FLT_MAX,
        .speech_pad_ms = 30,
        .samples_overlap = 0.1f,
    };
}

int vad_params_validate(const vad_params *p, vad_error *err)
{
    const char *bad = NULL;
    if (!p)
        bad = "parameters missing";
    else if (!(p->threshold > 0.0f && p->threshold <= 1.0f))
        bad = "threshold must be in (0, 1]";
    else if (p->min_speech_duration_ms < 0 || p->min_speech_duration_ms > 3600000)
        bad = "min_speech_duration_ms must be 0..3600000";
    else if (p->min_silence_duration_ms < 0 || p->min_silence_duration_ms > 3600000)
        bad = "min_silence_duration_ms must be 0..3600000";
    else if (p->speech_pad_ms < 0 || p->speech_pad_ms > 3600000)
        bad = "speech_pad_ms must be 0..3600000";
    else if (!(p->max_speech_duration_s > 0.0f)) /* NaN fails too */
        bad = "max_speech_duration_s must be > 0";
    else if (!(p->samples_overlap >= 0.0f && p->samples_overlap <= 10.0f))
        bad = "samples_overlap must be 0..10 s";
    if (!bad)
        return 0;
    if (err) {
        err->code = VAD_EINVAL;
        snprintf(err->message, sizeof err->message, "%s", bad);
    }
    return VAD_EINVAL;
}

typedef struct seg {
    int start, end; /* samples */
} seg;

typedef struct seg_list {
    seg *v;
    size_t n, cap;
} seg_list;

static int push(seg_list *l, int start, int end)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        seg *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return -1;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (seg){start, end};
    return 0;
}

static void erase(seg_list *l, size_t i)
{
    for (size_t j = i + 1; j < l->n; j++)
        l->v[j - 1] = l->v[j];
    l->n--;
}

/* (int64)(samples / 16000 · 100 + 0.5), ref: whisper.cpp samples_to_cs */
static int64_t samples_to_cs(int samples)
{
    return (int64_t)((samples / (double)VAD_SAMPLE_RATE) * 100.0 + 0.5);
}

int vad_segments_from_probs(const float *probs, size_t n_probs, int n_window,
                            const vad_params *params, vad_span **spans, size_t *n_spans)
{
    if (spans)
        *spans = NULL;
    if (n_spans)
        *n_spans = 0;
    if (!spans || !n_spans || (!probs && n_probs) || n_window <= 0 ||
        vad_params_validate(params, NULL) != 0 || n_probs > (size_t)(INT_MAX / 2) / (size_t)n_window)
        return VAD_EINVAL;
    const int sr = VAD_SAMPLE_RATE;
    const float threshold = params->threshold;
    const int min_silence_samples = (int)((int64_t)sr * params->min_silence_duration_ms / 1000);
    const int audio_length_samples = (int)n_probs * n_window;
    const int min_speech_samples = (int)((int64_t)sr * params->min_speech_duration_ms / 1000);
    const int speech_pad_samples = (int)((int64_t)sr * params->speech_pad_ms / 1000);
    int max_speech_samples;
    if (params->max_speech_duration_s > 100000.0f) {
        max_speech_samples = INT_MAX / 2;
    } else {
        const int64_t temp = (int64_t)sr * (int64_t)params->max_speech_duration_s - n_window -
                             2 * (int64_t)speech_pad_samples;
        max_speech_samples = temp > INT_MAX ? INT_MAX / 2 : (int)temp;
        if (max_speech_samples < 0)
            max_speech_samples = INT_MAX / 2;
    }
    /* a silence this long marks a split point for max_speech (silero-vad's 98 ms) */
    const int min_silence_samples_at_max_speech = sr * 98 / 1000;
    float neg_threshold = threshold - 0.15f;
    if (neg_threshold < 0.01f)
        neg_threshold = 0.01f;

    seg_list sp = {0};
    bool in_speech = false, has_curr = false;
    int temp_end = 0, prev_end = 0, next_start = 0, curr_start = 0;
    int oom = 0;
    for (size_t i = 0; i < n_probs && !oom; i++) {
        const float p = probs[i];
        const int cur = n_window * (int)i;
        if (p >= threshold && temp_end) {
            temp_end = 0;
            if (next_start < prev_end)
                next_start = cur;
        }
        if (p >= threshold && !in_speech) {
            in_speech = true;
            curr_start = cur;
            has_curr = true;
            continue;
        }
        if (in_speech && cur - curr_start > max_speech_samples) {
            if (prev_end) {
                oom |= push(&sp, curr_start, prev_end);
                has_curr = true;
                if (next_start < prev_end) {
                    in_speech = false;
                    has_curr = false;
                } else {
                    curr_start = next_start;
                }
                prev_end = next_start = temp_end = 0;
            } else {
                oom |= push(&sp, curr_start, cur);
                prev_end = next_start = temp_end = 0;
                in_speech = false;
                has_curr = false;
                continue;
            }
        }
        if (p < neg_threshold && in_speech) {
            if (!temp_end)
                temp_end = cur;
            if (cur - temp_end > min_silence_samples_at_max_speech)
                prev_end = temp_end;
            if (cur - temp_end < min_silence_samples)
                continue;
            if (temp_end - curr_start > min_speech_samples)
                oom |= push(&sp, curr_start, temp_end);
            prev_end = next_start = temp_end = 0;
            in_speech = false;
            has_curr = false;
            continue;
        }
    }
    if (!oom && has_curr && audio_length_samples - curr_start > min_speech_samples)
        oom |= push(&sp, curr_start, audio_length_samples);
    if (oom) {
        free(sp.v);
        return VAD_ENOMEM;
    }
    /* merge gaps shorter than 200 ms */
    const int max_merge_gap = sr * 200 / 1000;
    for (size_t i = 0; sp.n > 1 && i + 1 < sp.n;) {
        if (sp.v[i + 1].start - sp.v[i].end < max_merge_gap) {
            sp.v[i].end = sp.v[i + 1].end;
            erase(&sp, i + 1);
        } else {
            i++;
        }
    }
    /* minimum duration again, after merging */
    for (size_t i = 0; i < sp.n;) {
        if (sp.v[i].end - sp.v[i].start < min_speech_samples)
            erase(&sp, i);
        else
            i++;
    }
    if (sp.n == 0) {
        free(sp.v);
        return 0;
    }
    vad_span *out = malloc(sp.n * sizeof *out);
    if (!out) {
        free(sp.v);
        return VAD_ENOMEM;
    }
    /* padding; a gap shorter than two pads is split in half */
    for (size_t i = 0; i < sp.n; i++) {
        if (i == 0)
            sp.v[i].start = sp.v[i].start > speech_pad_samples ? sp.v[i].start - speech_pad_samples : 0;
        if (i + 1 < sp.n) {
            const int silence = sp.v[i + 1].start - sp.v[i].end;
            if (silence < 2 * speech_pad_samples) {
                sp.v[i].end += silence / 2;
                sp.v[i + 1].start = sp.v[i + 1].start > silence / 2 ? sp.v[i + 1].start - silence / 2 : 0;
            } else {
                sp.v[i].end = sp.v[i].end + speech_pad_samples < audio_length_samples
                                  ? sp.v[i].end + speech_pad_samples
                                  : audio_length_samples;
                sp.v[i + 1].start = sp.v[i + 1].start > speech_pad_samples
                                        ? sp.v[i + 1].start - speech_pad_samples
                                        : 0;
            }
        } else {
            sp.v[i].end = sp.v[i].end + speech_pad_samples < audio_length_samples
                              ? sp.v[i].end + speech_pad_samples
                              : audio_length_samples;
        }
        out[i].t0_cs = samples_to_cs(sp.v[i].start);
        out[i].t1_cs = samples_to_cs(sp.v[i].end);
    }
    *spans = out;
    *n_spans = sp.n;
    free(sp.v);
    return 0;
}
