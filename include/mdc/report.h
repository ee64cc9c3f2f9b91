/*
 * report.h — renders a transcript as a Markdown meeting report, SRT, WebVTT, JSON,
 * OpenAI verbose_json or plain text (prefix rpt_).
 *
 * The module has its own transcript type (filled by the service from the engine's
 * result), so it needs no model to test.  All output is valid UTF-8: invalid bytes in
 * input text become U+FFFD.  Markdown output escapes transcript text and metadata so
 * they cannot inject headings, lists, links, tables or HTML.
 *
 * Thread-safety: pure functions, thread-safe.
 */
#ifndef MDC_REPORT_H
#define MDC_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One word (tokens joined as whisper.cpp joins them; see the service's transcript stage). */
typedef struct rpt_word {
    int64_t t0_cs, t1_cs;   /* centiseconds; t0 <= t1, monotonic along the transcript */
    const char *text;       /* UTF-8, with its leading space as Whisper writes it */
} rpt_word;

typedef struct rpt_segment {
    int64_t t0_cs, t1_cs;   /* centiseconds from the start of the audio */
    const char *text;       /* UTF-8 (invalid bytes tolerated) */
    /* optional, for verbose_json (NULL/0 when unknown) */
    const int32_t *tokens;  /* token ids including timestamp tokens */
    int n_tokens;
    int seek;               /* window start, 10 ms frames */
    float temperature, avg_logprob, compression_ratio, no_speech_prob;
    /* optional word times (NULL/0 when not computed) */
    const rpt_word *words;
    int n_words;
    /* optional speaker label ("0", "1", "?" for stereo channel turns; NULL = none) */
    const char *speaker;
} rpt_segment;

/* A speaker turn measured on the audio (the service's channel-activity turns of a stereo
 * recording), independent of how the text was cut into segments. */
typedef struct rpt_turn {
    int64_t t0_cs, t1_cs;   /* [t0, t1), centiseconds; turns in time order, disjoint */
    const char *speaker;    /* label, as the segments' ("0", "1") */
} rpt_turn;

/* One token's log-probability, for OpenAI's `include[]=logprobs` (json format only). */
typedef struct rpt_logprob {
    const char *bytes;      /* the token's raw bytes (a token may end inside a UTF-8
                               character); not NUL-terminated */
    size_t n_bytes;
    float logprob;          /* natural log of the token's probability when it was sampled */
} rpt_logprob;

typedef struct rpt_transcript {
    const rpt_segment *segments;
    size_t n_segments;
    /* optional: the text tokens' log-probabilities in order; emitted by JSON as
     * "logprobs" when with_logprobs is non-zero (an empty array when n_logprobs is 0) */
    const rpt_logprob *logprobs;
    size_t n_logprobs;
    int with_logprobs;
    const char *language;    /* ISO code, e.g. "pt" (NULL = unknown) */
    double language_prob;    /* 0…1, or < 0 if unknown */
    double duration_s;       /* audio duration */
    const char *task;        /* "transcribe" or "translate" (verbose_json) */
    /* verbose_json: include the top-level "words" array (timestamp_granularities[]
     * word) and/or "segments" (segment; both false = segments, OpenAI's default) */
    int want_words, want_segments;
    /* SRT/VTT: > 0 = cues of at most this many words each (from the segments' words;
     * segments without words keep one cue); 0 = one cue per segment */
    int max_words_per_cue;
    /* Voice-activity detection (filled by the service; the report knows no model):
     * vad_used = the segments come only from the speech a detector found, speech_s =
     * the seconds of audio it kept.  With vad_used and no segments the Markdown says
     * that no speech was detected (and the decoder did not run). */
    bool vad_used;
    double speech_s;
    /* Speaker turns measured on the audio (NULL/0 = none).  With turns, the Markdown
     * report and diarized_json take each speaker from the turns instead of the
     * segments' own labels: a segment with word times is split at the words where the
     * turn changes (a word belongs to the turn it overlaps most, else the nearest), one
     * without words takes the turn it overlaps most; the Markdown talk time is then the
     * sum of the turns' spans.  The other formats keep the segments' labels. */
    const rpt_turn *turns;
    size_t n_turns;
} rpt_transcript;

typedef enum rpt_locale { RPT_LOCALE_PT_BR = 0, RPT_LOCALE_EN = 1 } rpt_locale;

/* Report metadata; every string may be NULL (then omitted or defaulted). */
typedef struct rpt_meta {
    const char *title;        /* default: "Relatório da reunião" / "Meeting report" */
    const char *date;         /* as given by the user */
    const char *participants; /* comma-separated, as given */
    const char *model;        /* e.g. "ggml-base.bin" */
    const char *source_name;  /* sanitised upload name */
    const char *container;    /* e.g. "mp4" */
    const char *codec;        /* e.g. "aac" */
    double processing_s;      /* wall time to produce the transcript; < 0 = unknown */
    rpt_locale locale;
} rpt_meta;

typedef enum rpt_format {
    RPT_FORMAT_MARKDOWN = 0,
    RPT_FORMAT_TEXT,
    RPT_FORMAT_SRT,
    RPT_FORMAT_VTT,
    RPT_FORMAT_JSON,          /* {"text": …} (OpenAI "json") */
    RPT_FORMAT_VERBOSE_JSON,  /* OpenAI verbose_json */
    RPT_FORMAT_DIARIZED_JSON, /* OpenAI diarized_json (segments with speaker) */
} rpt_format;

/* Parses "md|markdown|txt|text|srt|vtt|json|verbose_json|diarized_json"; returns 0 or -1. */
int rpt_format_parse(const char *s, rpt_format *out);
/* Parses "pt-BR|pt|en" (case-insensitive); returns 0 or -1. */
int rpt_locale_parse(const char *s, rpt_locale *out);
/* Canonical tag of a locale ("pt-BR", "en"), or NULL when out of range.  Static string. */
const char *rpt_locale_name(rpt_locale loc);
/* MIME type for a format ("text/markdown; charset=utf-8", …). */
const char *rpt_format_mime(rpt_format fmt);

/* Renders into a new malloc'd NUL-terminated string *out (length *out_len, may be NULL).
 * meta may be NULL (pt-BR defaults; only Markdown uses it).  Returns 0, or -1 with errno
 * ENOMEM/EINVAL and *out = NULL.  Caller frees *out with free().
 *
 * Every format: segment text is repaired (invalid UTF-8 → U+FFFD, NUL dropped); segments
 * whose text is blank are skipped (verbose_json keeps them).  Times are centiseconds,
 * truncated to milliseconds/seconds for display.
 *   MARKDOWN      DESIGN §6.  Header list (date, duration, language name + code +
 *                 probability, model, processing time, source file (container, codec)),
 *                 "Participantes" list split at commas, "Sumário"/"Contents" (every ~5 min)
 *                 when the audio is longer than 10 min, then "Transcrição"/"Transcript":
 *                 paragraphs "**[HH:MM:SS]** text" — a new one at a change of speaker
 *                 ("**Speaker 0:**" after the time), after a pause ≥ 2 s or once a
 *                 paragraph spans 60 s; "Talk time" per speaker in the header when
 *                 there are speakers (see turns above); an italic "no speech detected"
 *                 note when empty.
 *                 All text is one line per field and escaped (see src/report/markdown.c).
 *   TEXT          the segment texts joined by single spaces, plus "\n" ("" when empty).
 *   SRT / VTT     one cue per segment (SRT 1-based numbers, "HH:MM:SS,mmm"; "WEBVTT",
 *                 "HH:MM:SS.mmm", & < > escaped); newlines in text become spaces.
 *   JSON          {"text": …, "usage": {"type": "duration", "seconds": S}} plus
 *                 "logprobs": [{token, bytes, logprob}] when tr->with_logprobs (token: the
 *                 bytes repaired to UTF-8; bytes: the raw bytes as integers 0…255).
 *   VERBOSE_JSON  {task, language (Whisper's lower-case English name, the code if not in
 *                 the table, null if unknown), duration, text, segments: [{id, seek, start,
 *                 end (seconds = cs / 100), text (as given, repaired), tokens, temperature,
 *                 avg_logprob, compression_ratio, no_speech_prob, and "words" / "speaker"
 *                 when the segment has them}], usage}; with want_words a top-level "words":
 *                 [{word, start, end}] (OpenAI's TranscriptionWord, seconds), segments
 *                 then only with want_segments.
 *   usage.seconds is the duration rounded up to whole seconds, as OpenAI bills and shows
 *   it (its verbose_json example: duration 8.47 → seconds 9); see rpt_usage_seconds().
 *   DIARIZED_JSON {task: "transcribe", duration, text, segments: [{type:
 *                 "transcript.text.segment", id: "seg_N", start, end, text, speaker}],
 *                 usage} (OpenAI's TranscriptionDiarized): one segment per non-blank
 *                 segment, or per run of words in one turn when tr->turns is set.
 *                 speaker: OpenAI labels speakers with capital letters, so a label that
 *                 is a number n (the service's channel: "0" left, "1" right) becomes
 *                 the letter 'A' + n ("A", "B"), "?" (no channel dominates) and a
 *                 missing label become "unknown", any other label is kept. */
int rpt_render(rpt_format fmt, const rpt_transcript *tr, const rpt_meta *meta, char **out,
               size_t *out_len);

/* Seconds OpenAI's `usage` reports for an audio duration: ceil(duration_s), 0 for a
 * non-positive or non-finite duration. */
long rpt_usage_seconds(double duration_s);

/* One segment's text as the text and json formats show it: a malloc'd single line of
 * valid UTF-8 (invalid bytes → U+FFFD, NUL dropped, controls and line breaks → space,
 * spaces collapsed, trimmed; NULL → "").  The json "text" is the non-empty lines joined
 * by one space, so a stream of deltas built the same way adds up to it.  NULL on OOM;
 * caller frees. */
char *rpt_clean_line(const char *text);

/* Display name of an ISO 639-1 code in the given locale ("pt" → "Português" / "Portuguese";
 * a region suffix is ignored: "pt-BR" → pt), or NULL when the code is not in the table.
 * Static string; never free. */
const char *rpt_language_name(const char *code, rpt_locale loc);

#endif
