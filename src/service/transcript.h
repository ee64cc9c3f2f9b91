/*
 * transcript.h — transcript assembly: what the engine decoded (and, with voice-activity
 * detection, where its audio came from) → the report's own transcript type.
 *
 * The one stage where segments, VAD offsets, words and speakers meet
 * (issue 13): times are mapped back from the VAD-filtered timeline to the recording's
 * (whisper.cpp's map_processed_to_original_time, segment t1 ≥ t0 + 10 cs), then clamped
 * to the recording's end (OpenAI's rule, see transcript.c).  The report module never sees
 * an engine or VAD type.
 *
 * Thread-safety: pure functions on caller-owned data.
 */
#ifndef MDC_SERVICE_TRANSCRIPT_H
#define MDC_SERVICE_TRANSCRIPT_H

#include <stdbool.h>
#include <stdint.h>

#include "mdc/audio.h"
#include "mdc/report.h"
#include "mdc/vad.h"
#include "mdc/whisper.h"
#include "words.h"

typedef struct transcript_input {
    const wsp_result *result; /* NULL when no decoder ran (the VAD found no speech) */
    const vad_filtered *vad;  /* the audio the engine saw, with its time table; NULL when
                                 the engine saw the recording itself */
    bool vad_used;            /* a VAD chose the audio (result may then be NULL) */
    double speech_s;          /* seconds of speech the VAD kept */
    double audio_s;           /* the recording's duration (0 = unknown: no clamping) */
    const char *language;     /* used when result is NULL (the requested code or NULL) */
    bool translate;
    /* words of the result (trw_words_build on the engine's timeline; NULL = none): mapped
     * back through vad like the segments, clamped to the audio, kept monotonic */
    const trw_words *words;
    /* diarize: the decoded recording with its two channels (NULL = no speakers; a mono
     * decode gives none either): each segment's speaker by channel energy over its
     * recording-timeline [t0, t1] (aud_stereo_speaker, whisper-cli -di's rule) */
    const aud_pcm *stereo;
    /* with stereo: also the speaker turns measured on the channels (aud_stereo_turns) for
     * the report (rpt_transcript.turns; labels "0"/"1" like the segments') */
    bool audio_turns;
    int want_words, want_segments, max_words_per_cue; /* copied to the rpt_transcript */
} transcript_input;

typedef struct svc_transcript {
    rpt_transcript tr;        /* what rpt_render() takes; points into segs and into the
                                 engine result, which must outlive it */
    rpt_segment *segs;        /* malloc'd */
    int32_t *ids;             /* token ids of every segment, one malloc'd block */
    rpt_word *words;          /* mapped words (texts point into the input's words) */
    rpt_turn *turns;          /* speaker turns (audio_turns), malloc'd */
} svc_transcript;

/* One engine segment's [t0, t1] on the recording's timeline, centiseconds: mapped back
 * through vad (may be NULL), then clamped to audio_s (0 = no clamping).  The live
 * segment events and transcript_build use it, so both show the same times. */
void transcript_segment_times(const wsp_segment *s, const vad_filtered *vad, double audio_s,
                              int64_t *t0, int64_t *t1);

/* Fills *out from *in.  Returns 0, or -1 on OOM (then *out is empty).  Free with
 * transcript_free() before the engine result and the input's words. */
int transcript_build(const transcript_input *in, svc_transcript *out);
/* Frees what transcript_build allocated and zeroes *t.  Accepts NULL. */
void transcript_free(svc_transcript *t);

#endif
