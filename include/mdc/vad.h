/*
 * vad.h — md-converter's voice-activity detector (prefix vad_): Silero VAD v6.2 read from
 * whisper.cpp's ggml file (ggml-silero-v6.2.0.bin), whisper.cpp's speech-segment rules,
 * and the filtered-audio layout + time mapping of whisper.cpp's `whisper_full(vad = true)`.
 * ref: whisper.cpp src/whisper.cpp (whisper_vad_* functions, whisper_vad() inside
 * whisper_full, map_processed_to_original_time) at v1.9.3; snakers4/silero-vad v6;
 * ../shared/whisper-ref/README-round2.md §6 (goldens, tolerances).
 *
 * Objects
 *   vad_model   the network: the file mapped read-only and validated, its weights kept
 *               as one f32 arena (≈1.2 MB; the file's f16 values converted once).  Immutable after
 *               vad_model_load(); any number of threads may run vad_detect() on one model.
 *   probs       one float per 512-sample chunk (32 ms at 16 kHz), owned by the caller.
 *   vad_span    a speech segment in centiseconds of the input.
 *   vad_filtered  the audio whisper.cpp transcribes with --vad (speech spans, overlap, gaps
 *               of silence) and its processed→original time table; owned by the caller.
 *
 * Errors: functions return 0 or a negative VAD_E* code; the optional vad_error carries a
 * message naming the problem.  A failed call leaves no partial object behind.
 * Thread-safety: every function is thread-safe (no global state).
 */
#ifndef MDC_VAD_H
#define MDC_VAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VAD_SAMPLE_RATE 16000 /* Hz: the only rate the 16 kHz Silero model accepts */

#define VAD_ERRNO_MAP(X)                                                              \
    X(OK, 0, "success")                                                               \
    X(EINVAL, -1, "invalid argument")                                                 \
    X(ENOMEM, -2, "out of memory")                                                    \
    X(EIO, -3, "cannot open, stat or map the VAD model file")                         \
    X(EMAGIC, -4, "not a ggml VAD model file (bad magic)")                            \
    X(EHPARAMS, -5, "invalid or unsupported VAD model hyperparameters")               \
    X(ETRUNC, -6, "VAD model file is truncated")                                      \
    X(ETENSOR, -7, "invalid tensor table (missing, duplicate, unknown or misshapen)") \
    X(ETYPE, -8, "unsupported tensor type")                                           \
    X(ECANCELED, -9, "voice-activity detection cancelled")

typedef enum vad_errno {
#define VAD__ENUM(name, code, msg) VAD_##name = code,
    VAD_ERRNO_MAP(VAD__ENUM)
#undef VAD__ENUM
} vad_errno;

/* Static text for a code; never NULL. */
const char *vad_strerror(int code);
/* Symbolic name ("VAD_ETRUNC"); never NULL. */
const char *vad_err_name(int code);

typedef struct vad_error {
    int code;          /* same as the return value */
    char message[512]; /* names the field, tensor or offset at fault */
} vad_error;

/* ---- model ------------------------------------------------------------------------ */
typedef struct vad_model vad_model;

/* Maps `path` read-only and validates all of it (magic, type string, version, window
 * 512 / context 64, the four encoder layers 129→128→64→64→128 with kernel 3, LSTM
 * 128/128, final conv 128→1, and the 15 tensors: each name known and present once, shape
 * and type as whisper.cpp expects, data inside the file — every offset in 64-bit).
 * On success *out owns the model (free with vad_model_free); on failure *out is NULL and
 * err->message says why.  Cost: one mmap, one pass, 0.3 M f16→f32 conversions. */
int vad_model_load(const char *path, vad_model **out, vad_error *err);
/* Unmaps and frees.  Accepts NULL. */
void vad_model_free(vad_model *model);
uint64_t vad_model_file_bytes(const vad_model *model);
/* "silero-16k 6.2.0" style description (type and version from the file). */
const char *vad_model_description(const vad_model *model);
/* Samples per probability (512). */
int vad_model_n_window(const vad_model *model);

/* Polled between blocks of chunks (about every 2 s of audio); return true to cancel. */
typedef bool (*vad_abort_cb)(void *user_data);

/* Speech probability of every 512-sample chunk of `samples` (16 kHz mono float32), the
 * last chunk zero-padded: *n_probs = ceil(n_samples / 512).  The LSTM state starts at
 * zero (whisper_vad_detect_speech resets it) and carries from chunk to chunk.  *probs is
 * malloc'd (NULL when n_samples is 0), caller frees.  Computed as whisper.cpp's ggml graph
 * computes it, summation order included (src/vad/net.c): the reference clips' values are
 * bit-identical.  Cost: ≈0.7 M multiply-adds per chunk: ≈6.5 CPU s per audio hour with
 * AVX2 + FMA (chosen at run time), ≈20 s on the portable SSE2 path.
 * abort_cb may be NULL. */
int vad_detect(const vad_model *model, const float *samples, size_t n_samples, float **probs,
               size_t *n_probs, vad_abort_cb abort_cb, void *abort_user, vad_error *err);

/* The same computation over audio that arrives in pieces: feed any chunk sizes in order,
 * finish, and the probabilities are bit-identical to vad_detect over the concatenation
 * (the LSTM state carries across feeds; an incomplete 512-sample chunk waits for the
 * next feed, the last one is zero-padded by finish).  Memory: one chunk of samples and
 * the probabilities (4 bytes per 32 ms: 0.45 MB per audio hour).  abort_cb (may be NULL)
 * is polled every 64 chunks → VAD_ECANCELED.  A failed detector stays failed
 * (every later call returns its code); a finished one accepts no more feeds. */
typedef struct vad_detector vad_detector;
/* *out: a new detector on `model` (which must outlive it); VAD_EINVAL or VAD_ENOMEM. */
int vad_detector_new(const vad_model *model, vad_abort_cb abort_cb, void *abort_user,
                     vad_detector **out, vad_error *err);
/* Runs the network on every chunk the samples complete.  0, VAD_EINVAL, VAD_ENOMEM,
 * VAD_ECANCELED. */
int vad_detector_feed(vad_detector *d, const float *samples, size_t n, vad_error *err);
/* Runs the zero-padded last chunk and hands over the probabilities (*probs malloc'd,
 * caller frees; NULL when nothing was fed): *n_probs = ceil(samples fed / 512). */
int vad_detector_finish(vad_detector *d, float **probs, size_t *n_probs, vad_error *err);
/* Accepts NULL. */
void vad_detector_free(vad_detector *d);

/* ---- segment rules (pure) --------------------------------------------------------------- */
typedef struct vad_params {
    float threshold;             /* speech starts at p >= threshold; default 0.5 */
    int min_speech_duration_ms;  /* shorter segments dropped; default 250 */
    int min_silence_duration_ms; /* silence (p < threshold − 0.15) that ends one; 100 */
    float max_speech_duration_s; /* longer segments split; default FLT_MAX (never) */
    int speech_pad_ms;           /* padding added around each segment; default 30 */
    float samples_overlap;       /* seconds of audio kept after each span in the filtered
                                    audio (not the last); default 0.1 */
} vad_params;

/* whisper.cpp's whisper_vad_default_params(). */
vad_params vad_default_params(void);
/* Checks ranges: threshold in (0, 1], durations >= 0 and <= 1 h, max speech > 0,
 * overlap in [0, 10] s.  Returns 0 or VAD_EINVAL with err naming the field. */
int vad_params_validate(const vad_params *p, vad_error *err);

typedef struct vad_span {
    int64_t t0_cs, t1_cs; /* centiseconds of the input; t1 may pass the audio's end (the
                             rules measure the audio as n_probs·n_window samples) */
} vad_span;

/* whisper.cpp's whisper_vad_segments_from_probs(): threshold / neg_threshold hysteresis,
 * minimum silence and speech, maximum speech split at the last ≥ 98 ms silence, merging
 * of gaps < 200 ms, padding, samples → cs as (int64)(s / 16000 · 100 + 0.5).
 * *spans is malloc'd (NULL when none), caller frees.  Returns 0, VAD_EINVAL or
 * VAD_ENOMEM. */
int vad_segments_from_probs(const float *probs, size_t n_probs, int n_window,
                            const vad_params *params, vad_span **spans, size_t *n_spans);

/* ---- the audio whisper.cpp transcribes with --vad, and its time table ------------------ */
typedef struct vad_map_point {
    int64_t processed_cs; /* time in the filtered audio */
    int64_t original_cs;  /* the same instant in the input */
} vad_map_point;

/* One piece of the filtered audio: input samples [a, b), then `silence` zeros. */
typedef struct vad_piece {
    int64_t a, b;       /* input sample indices, 0 <= a < b <= the input's length */
    int64_t silence;    /* zeros after the piece: 0.1 s (1600) between spans, 0 at the end */
} vad_piece;

typedef struct vad_filtered {
    float *samples;     /* speech spans, each but the last followed by samples_overlap s
                           of the input and 0.1 s of zeros; malloc'd.  NULL for a plan
                           (vad_filter_plan): the pieces say what it would hold */
    size_t n_samples;
    vad_map_point *map; /* sorted by processed_cs, no duplicate processed_cs; malloc'd */
    size_t n_map;
    vad_piece *pieces;  /* [n_pieces] in output order; malloc'd */
    size_t n_pieces;
} vad_filtered;

/* Builds what whisper_full(vad = true) builds: span i copies input samples
 * [cs_to_samples(t0), cs_to_samples(t1) + overlap) (ends capped at n_samples − 1, no
 * overlap after the last span), then 0.1 s of silence; table entries at every span start
 * and end and every silence start and end.  Returns 0 (out->n_samples may be 0 when every
 * span is empty), VAD_EINVAL or VAD_ENOMEM; on failure *out is zeroed. */
int vad_filter_audio(const float *samples, size_t n_samples, const vad_span *spans,
                     size_t n_spans, float samples_overlap, vad_filtered *out);
/* The same layout without the samples: map, pieces and n_samples (the filtered length)
 * for an input of n_samples samples, from the spans alone — so the audio can be cut
 * while it streams (vad_cutter) instead of being held whole.  out->samples stays NULL.
 * Returns 0, VAD_EINVAL or VAD_ENOMEM; on failure *out is zeroed. */
int vad_filter_plan(size_t n_samples, const vad_span *spans, size_t n_spans,
                    float samples_overlap, vad_filtered *out);
/* Frees and zeroes.  Accepts NULL. */
void vad_filtered_free(vad_filtered *f);

/* Cuts the filtered audio of a plan out of the input as it streams: feed the input in
 * order from its first sample, in any chunk sizes, and emit() receives the filtered
 * samples in order, in pieces (a concatenation equal to vad_filter_audio's samples).
 * Memory: the input samples a later piece can still need once they have passed (the
 * overlap of consecutive pieces: samples_overlap plus a centisecond's rounding for
 * vad_segments_from_probs' spans), allocated by vad_cutter_new. */
typedef struct vad_cutter vad_cutter;
/* Called with consecutive runs of filtered samples (valid during the call only);
 * return 0 to go on, anything else to stop: the feed returns that value. */
typedef int (*vad_emit_cb)(const float *samples, size_t n, void *user);
/* *out: a cutter for `plan` (borrowed: must outlive the cutter).  VAD_EINVAL, VAD_ENOMEM. */
int vad_cutter_new(const vad_filtered *plan, vad_cutter **out);
/* The next n input samples.  Returns 0, emit()'s non-zero value, or VAD_EINVAL. */
int vad_cutter_feed(vad_cutter *c, const float *samples, size_t n, vad_emit_cb emit,
                    void *user);
/* End of input: 0 when every piece was emitted, VAD_EINVAL when the input ended before
 * the plan's last sample (an input shorter than the plan's n_samples). */
int vad_cutter_finish(const vad_cutter *c);
/* Accepts NULL. */
void vad_cutter_free(vad_cutter *c);

/* One processed-timeline time → original timeline: linear interpolation between table
 * entries with C integer division (whisper.cpp map_processed_to_original_time); clamps
 * to the first/last entry; identity when the table is empty. */
int64_t vad_map_time(const vad_filtered *f, int64_t processed_cs);
/* A segment's [t0, t1] mapped back, t1 raised to t0 + 10 cs when shorter
 * (whisper_full_get_segment_t1 with VAD). */
void vad_map_segment(const vad_filtered *f, int64_t *t0_cs, int64_t *t1_cs);

#endif
