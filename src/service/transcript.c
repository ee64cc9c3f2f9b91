/*
 * transcript.c — transcript assembly (see transcript.h).
 */
#include "transcript.h"

#include <stdlib.h>
#include <string.h>

void transcript_free(svc_transcript *t)
{
    if (!t)
        return;
    free(t->segs);
    free(t->ids);
    free(t->words);
    free(t->turns);
    memset(t, 0, sizeof *t);
}

/* Segment times are clamped to the audio: whisper.cpp ends a window's last segment at
 * seek + 30 s when no timestamp closes it (always so with timestamps off), past the end
 * of a shorter recording; OpenAI's transcribe.py ends it at the audio's end instead
 * (segment_size = min(N_FRAMES, content_frames - seek)).  The engine keeps whisper.cpp's
 * numbers (golden tests); the report shows OpenAI's. */
void transcript_segment_times(const wsp_segment *s, const vad_filtered *vad, double audio_s,
                              int64_t *t0_out, int64_t *t1_out)
{
    const int64_t end_cs = audio_s > 0 ? (int64_t)(audio_s * 100.0 + 0.5) : INT64_MAX;
    int64_t t0 = s->t0, t1 = s->t1;
    if (vad)
        vad_map_segment(vad, &t0, &t1); /* filtered → recording timeline */
    *t1_out = t1 < end_cs ? t1 : end_cs;
    *t0_out = t0 < 0 ? 0 : (t0 < *t1_out ? t0 : *t1_out);
}

/* The input's words on the recording's timeline (vad_map_time), clamped to its end,
 * monotonic (t0 >= the previous t0, t1 >= t0), attached to out's segments. */
static int map_words(const transcript_input *in, svc_transcript *out)
{
    const trw_words *w = in->words;
    const int64_t end_cs = in->audio_s > 0 ? (int64_t)(in->audio_s * 100.0 + 0.5) : INT64_MAX;
    out->words = calloc(w->n ? w->n : 1, sizeof *out->words);
    if (!out->words)
        return -1;
    int64_t last = 0;
    for (size_t i = 0; i < w->n; i++) {
        int64_t t0 = w->words[i].t0_cs, t1 = w->words[i].t1_cs;
        if (in->vad) {
            t0 = vad_map_time(in->vad, t0);
            t1 = vad_map_time(in->vad, t1);
        }
        t0 = t0 < last ? last : (t0 > end_cs ? end_cs : t0);
        t1 = t1 < t0 ? t0 : (t1 > end_cs ? end_cs : t1);
        out->words[i] = (rpt_word){.t0_cs = t0, .t1_cs = t1, .text = w->words[i].text};
        last = t0;
    }
    for (int i = 0; i < in->result->n_segments; i++) {
        out->segs[i].words = out->words + w->first[i];
        out->segs[i].n_words = w->first[i + 1] - w->first[i];
    }
    return 0;
}

static const char *const k_label[3] = {"?", "0", "1"};

/* The channels' speaker turns as report turns (labels as the segments'). */
static int map_turns(const aud_pcm *pcm, svc_transcript *out, size_t *n_out)
{
    aud_turn *t = NULL;
    size_t n = 0;
    *n_out = 0;
    if (aud_stereo_turns(pcm, &t, &n) != 0)
        return -1;
    out->turns = calloc(n ? n : 1, sizeof *out->turns);
    if (!out->turns) {
        free(t);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        out->turns[i] = (rpt_turn){.t0_cs = t[i].t0_cs, .t1_cs = t[i].t1_cs,
                                   .speaker = k_label[t[i].speaker + 1]};
    free(t);
    *n_out = n;
    return 0;
}

int transcript_build(const transcript_input *in, svc_transcript *out)
{
    memset(out, 0, sizeof *out);
    const wsp_result *r = in->result;
    const int n = r && r->n_segments > 0 ? r->n_segments : 0;
    if (n > 0) {
        size_t n_ids = 0;
        for (int i = 0; i < n; i++)
            n_ids += r->segments[i].n_tokens > 0 ? (size_t)r->segments[i].n_tokens : 0;
        out->segs = calloc((size_t)n, sizeof *out->segs);
        out->ids = n_ids ? malloc(n_ids * sizeof *out->ids) : NULL;
        if (!out->segs || (n_ids && !out->ids)) {
            transcript_free(out);
            return -1;
        }
        size_t off = 0;
        for (int i = 0; i < n; i++) {
            const wsp_segment *s = &r->segments[i];
            rpt_segment *d = &out->segs[i];
            transcript_segment_times(s, in->vad, in->audio_s, &d->t0_cs, &d->t1_cs);
            d->text = s->text ? s->text : "";
            if (s->n_tokens > 0) {
                d->tokens = out->ids + off;
                for (int k = 0; k < s->n_tokens; k++)
                    out->ids[off + (size_t)k] = s->tokens[k].id;
                d->n_tokens = s->n_tokens;
                off += (size_t)s->n_tokens;
            }
            /* seek stays on the engine's (filtered) timeline: it indexes the engine's
             * windows, not the recording */
            d->seek = s->seek;
            d->temperature = s->temperature;
            d->avg_logprob = s->avg_logprob;
            d->compression_ratio = s->compression_ratio;
            d->no_speech_prob = s->no_speech_prob;
            if (in->stereo && in->stereo->left) {
                d->speaker = k_label[aud_stereo_speaker(in->stereo, d->t0_cs, d->t1_cs, NULL,
                                                        NULL) + 1];
            }
        }
        if (in->words && map_words(in, out) != 0) {
            transcript_free(out);
            return -1;
        }
    }
    size_t n_turns = 0;
    if (in->audio_turns && in->stereo && in->stereo->left && map_turns(in->stereo, out, &n_turns)) {
        transcript_free(out);
        return -1;
    }
    out->tr = (rpt_transcript){
        .segments = out->segs,
        .n_segments = (size_t)n,
        .language = r ? (r->language[0] ? r->language : NULL) : in->language,
        .language_prob = r ? r->language_prob : (in->language ? 1.0 : -1.0),
        .duration_s = in->audio_s > 0 ? in->audio_s : (r ? r->duration_s : 0),
        .task = in->translate ? "translate" : "transcribe",
        .vad_used = in->vad_used,
        .speech_s = in->speech_s,
        .want_words = in->want_words,
        .want_segments = in->want_segments,
        .max_words_per_cue = in->max_words_per_cue,
        .turns = out->turns,
        .n_turns = n_turns,
    };
    return 0;
}
