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

typedef struct vad_filtered {
    float *samples;     /* speech spans, each but the last followed by samples_overlap s
                           of the input and 0.1 s of zeros; malloc'd */
    size_t n_samples;
    vad_map_point *map; /* sorted by processed_cs, no duplicate processed_cs; malloc'd */
    size_t n_map;
} vad_filtered;

/* Builds what whisper_full(vad = true) builds: span i copies input samples
 * [cs_to_samples(t0), cs_to_samples(t1) + overlap) (ends capped at n_samples − 1, no
 * overlap after the last span), then 0.1 s of silence; table entries at every span start
 * and end and every silence start and end.  Returns 0 (out->n_samples may be 0 when every
 * span is empty), VAD_EINVAL or VAD_ENOMEM; on failure *out is zeroed. */
int vad_filter_audio(const float *samples, size_t n_samples, const vad_span *spans,
                     size_t n_spans, float samples_overlap, vad_filtered *out);
/* Frees and zeroes.  Accepts NULL. */
void vad_filtered_free(vad_filtered *f);

/* One processed-timeline time → original timeline: linear interpolation between table
 * entries with C integer division (whisper.cpp map_processed_to_original_time); clamps
 * to the first/last entry; identity when the table is empty. */
int64_t vad_map_time(const vad_filtered *f, int64_t processed_cs);
/* A segment's [t0, t1] mapped back, t1 raised to t0 + 10 cs when shorter
 * (whisper_full_get_segment_t1 with VAD). */
void vad_map_segment(const vad_filtered *f, int64_t *t0_cs, int64_t *t1_cs);

#endif
