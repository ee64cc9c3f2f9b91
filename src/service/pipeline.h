/*
 * pipeline.h — one meeting recording → transcript → rendered output.  Used by the HTTP
 * handlers (on worker threads) and by `md-converter transcribe`.
 *
 * Steps: aud_measure_file() (an over-long file refused before any work) →
 * aud_stream_open() → [voice-activity detection, pass 1: the decoded stream through
 * vad_detector → vad_segments_from_probs() → vad_filter_plan()] → holder_acquire() →
 * wsp_session_begin() → the decoded stream (pass 2 through a vad_cutter with VAD) fed
 * chunk by chunk → wsp_session_end() → holder_release() → transcript_build() (times
 * mapped back to the recording) → rpt_render().  The recording is never held in memory:
 * the file is its only full copy.  Errors come back as an HTTP
 * status + JSON error code + message (DESIGN §3), so the CLI and the server agree.
 */
#ifndef MDC_SERVICE_PIPELINE_H
#define MDC_SERVICE_PIPELINE_H

#include <stdbool.h>

#include "holder.h"
#include "mdc/audio.h"
#include "mdc/report.h"
#include "mdc/vad.h"
#include "mdc/whisper.h"

/* HTTP status for a cancelled request (client gone): nginx's "client closed request".
 * Nobody reads the answer; logs and metrics show the failure was not ours. */
#define PIPELINE_STATUS_CLIENT_CLOSED 499
/* Most beams a request may ask for: the engine state holds 8 decoder caches and beam
 * search keeps one spare (wsp_state_new; a larger beam_size would silently shrink). */
#define PIPELINE_MAX_BEAMS 7

/* One new segment, as the engine produces it (pipeline_request.segment_cb). */
typedef struct pipeline_segment {
    int index;                    /* 0-based, in production order */
    const char *text;             /* the engine's text (valid UTF-8, Whisper's leading space) */
    double t0_s, t1_s;            /* seconds on the recording's timeline (mapped back when
                                     the VAD chose the audio), clamped like the report's */
    const rpt_logprob *logprobs;  /* its text tokens' log-probabilities when the request
                                     asked for them (logprobs); NULL when there are none */
    size_t n_logprobs;
} pipeline_segment;

/* Where the Markdown report and diarized_json take a stereo recording's speakers from
 * (pipeline_request.speaker_turns; form field speaker_turns, CLI --speaker-turns). */
typedef enum pipeline_turns {
    PIPELINE_TURNS_AUTO = 0, /* AUDIO for the Markdown report, SEGMENT for diarized_json */
    PIPELINE_TURNS_SEGMENT,  /* whisper.cpp -di: one speaker per engine segment, by channel
                                energy over its span; talk time = the segments' spans */
    PIPELINE_TURNS_AUDIO,    /* turns measured on the channels (aud_stereo_turns); text split
                                at the words where the turn changes (word times are computed
                                for it); talk time = the turns' spans */
} pipeline_turns;

/* Parses "auto|segment|audio" into *out; returns 0 or -1. */
int pipeline_turns_parse(const char *s, pipeline_turns *out);
/* Checks an explicit speaker_turns choice against the request: 0 when it applies (or is
 * AUTO), PIPELINE_TURNS_NEED_DIARIZE without diarize, PIPELINE_TURNS_NEED_FORMAT with a
 * format other than the Markdown report and diarized_json. */
enum { PIPELINE_TURNS_NEED_DIARIZE = 1, PIPELINE_TURNS_NEED_FORMAT = 2 };
int pipeline_turns_check(pipeline_turns t, bool diarize, rpt_format fmt);

/* Word times from cross-attention DTW (pipeline_request.dtw; setting WHISPER_DTW, form
 * field dtw, CLI --dtw): PIPELINE_DTW_OFF = the timestamp-token heuristic,
 * PIPELINE_DTW_AUTO = the alignment heads of the loaded model's size
 * (wsp_aheads_preset_for_model), or a wsp_aheads_preset (> 0). */
#define PIPELINE_DTW_OFF 0
#define PIPELINE_DTW_AUTO (-1)
/* Parses "off|auto|<preset>" (presets as wsp_aheads_preset_parse: tiny, base.en, …,
 * large-v3-turbo; "none" = off) into *out; returns 0 or -1. */
int pipeline_dtw_parse(const char *s, int *out);
typedef struct pipeline_request {
    const char *audio_path;       /* spooled upload or CLI file */
    const char *source_name;      /* sanitised display name (may be NULL) */
    const char *language;         /* NULL/"auto" = detect */
    bool translate;
    const char *prompt;           /* initial prompt, may be NULL */
    float temperature;            /* < 0 = engine default (0 with fallback steps) */
    int beam_size;                /* 0 = greedy; 1 … PIPELINE_MAX_BEAMS = beam search with
                                     that many beams */
    bool no_fallback;
    wsp_mel_clamp mel_clamp;      /* WHISPER_MEL_CLAMP: GLOBAL (0, whisper.cpp's) costs one
                                     more decoding pass of the file; RUNNING skips it */
    uint32_t seed;                /* sampling seed at T > 0 (wsp_params.seed); default 0 */
    bool no_timestamps;
    int n_threads;                /* <= 0 = engine default (available cores) */
    bool vad;                     /* transcribe only the speech the VAD finds (needs
                                     vad_holder); false = the whole recording, as before */
    model_holder *vad_holder;     /* holder_kind_vad holder; may be NULL when !vad */
    vad_params vad_params;        /* segment rules (validated by the caller) */
    aud_limits limits;            /* keep_stereo is set by the pipeline from diarize */
    bool word_timestamps;         /* words (token_timestamps): verbose_json words[], words
                                     in the segments JSON; also on for max_words_per_cue */
    bool want_segments;           /* verbose_json with words: also the segments array */
    int max_words_per_cue;        /* SRT/VTT: word-level cues (0 = one cue per segment) */
    int dtw;                      /* word times by DTW: PIPELINE_DTW_* or a preset; used
                                     only when words are computed (pipeline_needs_words).
                                     A preset whose heads the model lacks, or auto on a
                                     size without one preset → 400 (param "dtw") */
    bool diarize;                 /* stereo speaker turns by channel energy (whisper.cpp
                                     -di: the sum L+R is transcribed); mono → no labels */
    pipeline_turns speaker_turns; /* with diarize: see pipeline_turns */
    rpt_format format;
    bool logprobs;                /* JSON: add every text token's log-probability
                                     (OpenAI include[]=logprobs) */
    rpt_meta meta;                /* title, date, participants, locale; model, container,
                                     codec, processing_s filled in by the pipeline */
    /* progress 0…100, never decreasing, called on the pipeline's thread: the decoder's
     * position in the file (bytes, so it moves whatever the container declares) scaled
     * to 0…99 (the log-mel-maximum pass 0…10, the transcription 10…99; with VAD: the
     * VAD pass 0…10, the mel pass 10…20, the transcription 20…99), 100 once rendered; cancel
     * polled throughout (decode and engine) */
    void (*progress_cb)(int percent, void *user);
    bool (*abort_cb)(void *user);
    /* called on the pipeline's thread once per new segment while the engine runs (the
     * engine's segment callback: window by window, not after the fact, before the final
     * 100 %); everything it points to is valid during the call only.  May be NULL. */
    void (*segment_cb)(const pipeline_segment *segment, void *user);
    void *user;
} pipeline_request;

/* True when the request computes word times (words asked for, word-level cues, or
 * speaker turns split at words): the only results dtw changes. */
bool pipeline_needs_words(const pipeline_request *req);

typedef struct pipeline_result {
    int http_status;              /* 200 on success; 400 bad language, 413, 415, 422 audio,
                                     499 cancelled, 503 model_unavailable (Whisper or VAD
                                     model), 500 our fault */
    char error_code[48];          /* "" on success, else "bad_request", "payload_too_large",
                                     "unsupported_media", "unprocessable_audio",
                                     "model_unavailable", "client_closed", "internal_error" */
    char error_message[640];
    char error_param[24];         /* the form field at fault for a 400 ("language", "dtw");
                                     "" = none / the file */
    char *body;                   /* rendered output (malloc'd) on success */
    size_t body_len;
    char *segments_json;          /* on success: JSON array [{"start":s,"end":s,"text":…,
                                     "speaker"?, "words"?: [{word, start, end}]}], seconds
                                     (malloc'd) — for {"markdown":…,"segments":…} */
    double audio_seconds;
    double processing_seconds;
    char language[8];
    int encoder_windows;          /* engine work: 30 s windows encoded (0: decoder not run) */
    int decoder_steps;            /* decoder forward calls */
    bool vad_used;                /* the VAD ran; speech_seconds = what it kept */
    double speech_seconds;
} pipeline_result;

/* Runs the pipeline on the calling thread (blocks for the whole transcription; the
 * first call may load the model).  Always fills *res (free with pipeline_result_free):
 * on failure body and segments_json are NULL and error_message says what went wrong
 * (for a model failure it names the path and the reason).  Thread-safe: any number of
 * calls may run at once on one holder. */
void pipeline_run(model_holder *holder, const pipeline_request *req, pipeline_result *res);
/* Frees body and segments_json.  Accepts NULL; safe to call twice. */
void pipeline_result_free(pipeline_result *res);

/* JSON array [{"start":1.23,"end":4.5,"text":"…","speaker"?,"words"?}] of report
 * segments (times in seconds, text made valid UTF-8; "words" only with with_words and
 * when the segment has them).  malloc'd, caller frees; NULL on OOM. */
char *pipeline_segments_json(const rpt_segment *segs, size_t n, bool with_words);

/* Normalises a client's language: "" / "auto" → "" (detect); an ISO 639-1 code in any
 * case, or a BCP-47 tag / locale whose primary subtag is one ("pt-BR", "PT", "pt_br",
 * "en-US", "zh-Hant" → its primary subtag); Whisper's English names in any case
 * ("portuguese", "Haitian Creole") and OpenAI whisper's aliases ("castilian", "flemish",
 * "mandarin" …; ref: openai/whisper tokenizer.py TO_LANGUAGE_CODE).  Writes the code
 * ("pt") into code (at least 8 bytes).  Returns 0, or -1 when the language is unknown
 * (code then ""). */
int pipeline_language_parse(const char *in, char *code, size_t codelen);

/* Maps engine/audio error codes to {HTTP status, JSON code} (one table each); unknown
 * codes → 500 "internal_error".  json_code may be NULL. */
int pipeline_http_status_for_audio(int aud_code, const char **json_code);
int pipeline_http_status_for_whisper(int wsp_code, const char **json_code);

#endif
