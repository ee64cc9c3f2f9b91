/*
 * whisper.h — md-converter's Whisper inference engine (prefix wsp_).
 *
 * Reads the ggml Whisper model files of whisper.cpp (ggml-tiny.bin … ggml-large-v3.bin,
 * .en variants; f32 and f16 weights) and transcribes 16 kHz mono float32 PCM.
 * ref: whisper.cpp include/whisper.h (API shape), OpenAI whisper decoding.py/transcribe.py
 * (decoding semantics), ../shared/whisper-ref/README.md (file format, decoding rules).
 *
 * Objects
 *   wsp_model   the weights: the model file mapped read-only (mmap, never copied) plus
 *               the validated tensor table, vocabulary and mel filterbank.  Immutable
 *               after wsp_model_load(); any number of threads may use one model at once.
 *   wsp_state   one transcription's working memory (mel, encoder output, KV caches,
 *               scratch), allocated up front by wsp_state_new() so the hot path does not
 *               call malloc.  Used by one thread at a time; reusable for many calls.
 *   wsp_result  what wsp_transcribe() returns; owned by the caller, freed with
 *               wsp_result_free().
 *   wsp_session one transcription of audio that arrives in pieces (begin → feed → end),
 *               in memory that does not grow with the recording; wsp_transcribe() is
 *               one such session fed the whole buffer at once.
 *
 * Errors: functions return 0 on success or a negative WSP_E* code; the optional
 * wsp_error out-parameter then carries a message naming the problem (tensor name,
 * expected vs found, offset …).  A failed call leaves no partial object behind.
 *
 * Thread-safety: everything here is thread-safe on distinct wsp_state objects.
 */
#ifndef MDC_WHISPER_H
#define MDC_WHISPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- domain constants (ref: OpenAI whisper/audio.py) ---------------------- */
#define WSP_SAMPLE_RATE 16000   /* Hz */
#define WSP_N_FFT 400           /* samples: 25 ms window */
#define WSP_HOP_LENGTH 160      /* samples: 10 ms hop = one mel frame */
#define WSP_CHUNK_SECONDS 30    /* one encoder window */
#define WSP_N_SAMPLES_CHUNK (WSP_SAMPLE_RATE * WSP_CHUNK_SECONDS) /* 480 000 */
#define WSP_N_FRAMES_CHUNK (WSP_N_SAMPLES_CHUNK / WSP_HOP_LENGTH) /* 3000 mel frames */

/* ---- errors (X-macro: enum, wsp_strerror, wsp_err_name from one table) ----- */
#define WSP_ERRNO_MAP(X)                                                            \
    X(OK, 0, "success")                                                             \
    X(EINVAL, -1, "invalid argument")                                               \
    X(ENOMEM, -2, "out of memory")                                                  \
    X(EIO, -3, "cannot open, stat or map the model file")                           \
    X(EMAGIC, -4, "not a ggml Whisper model file (bad magic)")                      \
    X(EHPARAMS, -5, "invalid model hyperparameters")                                \
    X(ETRUNC, -6, "model file is truncated")                                        \
    X(ETENSOR, -7, "invalid tensor table (missing, duplicate, unknown or misshapen)") \
    X(ETYPE, -8, "unsupported tensor or weight type")                               \
    X(EVOCAB, -9, "invalid vocabulary or mel filterbank")                           \
    X(ELANG, -10, "unknown language code")                                          \
    X(ECANCELED, -11, "transcription cancelled")                                    \
    X(ENOAUDIO, -12, "no audio samples")                                            \
    X(EINTERNAL, -13, "internal engine error")

typedef enum wsp_errno {
#define WSP__ENUM(name, code, msg) WSP_##name = code,
    WSP_ERRNO_MAP(WSP__ENUM)
#undef WSP__ENUM
} wsp_errno;

/* Static text for a code ("model file is truncated"); never NULL. */
const char *wsp_strerror(int code);
/* Symbolic name for a code ("WSP_ETRUNC"); never NULL. */
const char *wsp_err_name(int code);

/* Error detail filled by calls that take one (may be NULL). */
typedef struct wsp_error {
    int code;          /* same as the return value */
    char message[512]; /* human-readable, names the file/tensor/field at fault */
} wsp_error;

/* ---- model ----------------------------------------------------------------- */
typedef struct wsp_model wsp_model;

/* The eleven hyperparameters of the ggml header, in file order. */
typedef struct wsp_hparams {
    int32_t n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer;
    int32_t n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, ftype;
} wsp_hparams;

/* Maps `path` read-only and validates header, filterbank, vocabulary and every tensor
 * (name known and present once, shape implied by the hparams, type allowed, data inside
 * the file in 64-bit arithmetic).  On success *out owns the mapping; free with
 * wsp_model_free().  On failure returns a WSP_E* code, *out is NULL and err->message
 * names the problem.  Cost: one mmap plus a walk of the tensor headers (no weight copy). */
int wsp_model_load(const char *path, wsp_model **out, wsp_error *err);

/* Unmaps and frees.  Accepts NULL.  No state created from the model may outlive it. */
void wsp_model_free(wsp_model *model);

const wsp_hparams *wsp_model_hparams(const wsp_model *model);
/* "tiny", "base", "small", "medium", "large" (from n_audio_layer; 32 layers with 128 mel
 * bands: "large-v3", or "large-v3-turbo" with 4 decoder layers), or "unknown". */
const char *wsp_model_type_name(const wsp_model *model);
/* The header's weight type: "f32", "f16", "q4_0", "q4_1", "q5_0", "q5_1" or "q8_0" (a
 * loaded model never has another; individual tensors may differ, e.g. conv kernels stay
 * f16 in quantized files).  Static string. */
const char *wsp_model_ftype_name(const wsp_model *model);
bool wsp_model_is_multilingual(const wsp_model *model);
uint64_t wsp_model_file_bytes(const wsp_model *model);
/* True once the model file lost pages under the mapping (truncated or rewritten in
 * place while mapped) and a SIGBUS was absorbed by the mapping guard (mdc/mapguard.h,
 * installed by the service): the weights now read as zeros, so every result computed
 * since is garbage — stop, discard it, and free the model (never reuse it).  Cheap (one
 * atomic load); callable from any thread, e.g. an abort callback.  False for NULL. */
bool wsp_model_mapping_lost(const wsp_model *model);
int wsp_model_n_tensors(const wsp_model *model);
/* Sum of all tensor data bytes. */
uint64_t wsp_model_tensor_bytes(const wsp_model *model);

/* Tensors of one weight type in a model (`model info`, /v1/models). */
#define WSP_MAX_TENSOR_TYPES 8
typedef struct wsp_tensor_type_stats {
    const char *name;   /* "f32", "f16", "q4_0" … (static) */
    int type;           /* ggml tensor type code (0 f32, 1 f16, 2 q4_0 … 8 q8_0) */
    int n_tensors;
    uint64_t n_weights; /* elements */
    uint64_t n_bytes;   /* data bytes; n_bytes / n_weights = bytes per weight */
} wsp_tensor_type_stats;

/* Fills out[0 … min(count, cap)) with one entry per tensor type present, in type-code
 * order, and returns the number of types present (<= WSP_MAX_TENSOR_TYPES). */
int wsp_model_tensor_types(const wsp_model *model, wsp_tensor_type_stats *out, int cap);
/* The type holding most weight bytes, e.g. "q5_0" for whisper-quantize's files (whose
 * biases stay f32); "f16"/"f32" for unquantized models.  Static string. */
const char *wsp_model_weight_type(const wsp_model *model);

/* ---- languages ------------------------------------------------------------- */
/* Language id (0 = "en", … as OpenAI's LANGUAGES table) for a code like "pt", or -1. */
int wsp_lang_id(const char *code);
/* Code for an id ("pt"), or NULL if out of range. */
const char *wsp_lang_code(int id);
/* English name for an id ("portuguese"), or NULL. */
const char *wsp_lang_name(int id);

/* ---- transcription parameters ---------------------------------------------- */
typedef enum wsp_sampling {
    WSP_SAMPLING_GREEDY = 0,      /* best_of candidates at temperature > 0 */
    WSP_SAMPLING_BEAM_SEARCH = 1, /* beam_size beams at temperature 0 */
} wsp_sampling;

/* Called with the percent (0…100) of the audio decoded so far, on the calling thread,
 * after each 30 s window. */
typedef void (*wsp_progress_cb)(int percent, void *user_data);
/* Called once per new segment (index into the result so far), on the calling thread. */
struct wsp_segment; /* defined below; forward-declared for the callback type */
typedef void (*wsp_segment_cb)(const struct wsp_segment *segment, int index, void *user_data);
/* Polled between decoder steps and encoder layers; return true to cancel
 * (wsp_transcribe then returns WSP_ECANCELED). */
typedef bool (*wsp_abort_cb)(void *user_data);

/* Cross-attention alignment heads for DTW token times, one preset per official model
 * size (ref: whisper.cpp whisper_alignment_heads_preset and its g_aheads_* tables, from
 * OpenAI's _ALIGNMENT_HEADS).  NONE = DTW off. */
typedef enum wsp_aheads_preset {
    WSP_AHEADS_NONE = 0,
    WSP_AHEADS_TINY_EN,
    WSP_AHEADS_TINY,
    WSP_AHEADS_BASE_EN,
    WSP_AHEADS_BASE,
    WSP_AHEADS_SMALL_EN,
    WSP_AHEADS_SMALL,
    WSP_AHEADS_MEDIUM_EN,
    WSP_AHEADS_MEDIUM,
    WSP_AHEADS_LARGE_V1,
    WSP_AHEADS_LARGE_V2,
    WSP_AHEADS_LARGE_V3,
    WSP_AHEADS_LARGE_V3_TURBO,
} wsp_aheads_preset;

/* "none", "tiny", "tiny.en", "base", "base.en", "small", "small.en", "medium",
 * "medium.en", "large-v1", "large-v2", "large-v3", "large-v3-turbo" → *out; 0, or
 * WSP_EINVAL for any other string. */
int wsp_aheads_preset_parse(const char *name, wsp_aheads_preset *out);
/* The name of a preset (as parsed above), or "?" outside the enum. */
const char *wsp_aheads_preset_name(wsp_aheads_preset preset);
/* The preset of the model's size (wsp_model_type_name, ".en" for an English-only
 * vocabulary): 0 and *out set, or WSP_EINVAL when the size names no single preset (an
 * unknown size, or 80-band "large", which can be large-v1 or large-v2). */
int wsp_aheads_preset_for_model(const wsp_model *model, wsp_aheads_preset *out);
/* True when every alignment head of the preset exists in the model (text layer <
 * n_text_layer, head < n_text_head); false for NONE and out-of-range values.  A preset
 * that does not fit makes wsp_transcribe fail with WSP_EINVAL. */
bool wsp_aheads_preset_fits(const wsp_model *model, wsp_aheads_preset preset);

/* Which maximum the log-mel clamp (max − 8, ref: OpenAI whisper/audio.py
 * log_mel_spectrogram) uses; see wsp_params.mel_clamp and docs/whisper.md "The log-mel clamp". */
typedef enum wsp_mel_clamp {
    WSP_MEL_CLAMP_GLOBAL = 0,  /* max over the whole recording's mel, as whisper.cpp and
                                  OpenAI (default) */
    WSP_MEL_CLAMP_RUNNING = 1, /* window at seek: max over mel frames [0, seek + 3000) */
} wsp_mel_clamp;

typedef struct wsp_params {
    wsp_sampling strategy; /* default GREEDY */
    int n_threads;         /* default: cores available to the process */

    const char *language;  /* "en", "pt", … ; NULL or "auto" = detect (never a silent "en") */
    bool translate;        /* task <|translate|> instead of <|transcribe|>; default false */
    bool no_timestamps;    /* <|notimestamps|>; default false */
    const char *initial_prompt; /* text fed as <|startofprev|> context; default NULL */
    bool condition_on_previous_text; /* previous window's tokens as prompt; default true */
    int n_max_text_ctx;    /* max prompt tokens from previous windows; default 16384
                              (effectively n_text_ctx/2 − 1 = 223) */

    int offset_ms;         /* start offset into the audio; default 0 */
    int duration_ms;       /* 0 = to the end */

    /* sampling (ref: whisper.cpp whisper_full_default_params, OpenAI DecodingOptions) */
    float temperature;      /* default 0 */
    float temperature_inc;  /* fallback step; 0 disables fallback; default 0.2 */
    int best_of;            /* candidates when temperature > 0; default 5 */
    int beam_size;          /* beams for BEAM_SEARCH; default 5 */
    float patience;         /* beam patience; default 1.0 (OpenAI); -1 = unset */
    float length_penalty;   /* -1 = simple length normalisation (default) */
    uint32_t seed;          /* random sampling at T > 0: decoder j draws from
                               std::mt19937(seed + j), reset per transcription, so equal
                               audio + params + seed give equal output.  0 (default) is
                               whisper.cpp's generator of a fresh state.  Beam search is
                               deterministic top-k and draws nothing. */

    bool batch_decoders;    /* beam search / best-of: every step decodes all live
                               candidates in ONE batched decoder pass (default true);
                               false = one pass per candidate, the unbatched reference
                               path — same tokens, bit for bit, only slower */

    /* fallback thresholds (ref: OpenAI transcribe.py) */
    float compression_ratio_threshold; /* gzip ratio above which to retry; default 2.4 */
    float entropy_thold;    /* whisper.cpp's token-entropy substitute; default 2.4 */
    float logprob_thold;    /* avg log-prob below which to retry; default -1.0 */
    float no_speech_thold;  /* <|nospeech|> prob above which a silent window is skipped; 0.6 */

    /* timestamp rules (ref: whisper-ref README "Sampling rules") */
    float max_initial_ts;   /* seconds; default 1.0 */
    bool suppress_blank;    /* default true */
    bool suppress_non_speech_tokens; /* default false */

    /* whisper.cpp forces no_timestamps for models with n_text_layer == 2 and
     * n_vocab != 51866 (distil-whisper heuristic).  Default true, to match it. */
    bool distil_no_timestamps_heuristic;
    /* token-level times from the timestamp-token probabilities (wsp_token t0/t1/vlen),
     * whisper.cpp's experimental heuristic (README-round2 §3).  Default false, as
     * whisper.cpp.  A token takes the time of its most probable timestamp when
     * pt > thold_pt and ptsum > thold_ptsum (both default 0.01, whisper.cpp's). */
    bool token_timestamps;
    float thold_pt;
    float thold_ptsum;
    /* DTW token times (wsp_token t_dtw) from these alignment heads' cross-attention,
     * as whisper.cpp's dtw_token_timestamps (README-round2 §3).  Default NONE (off).
     * A preset whose heads the model does not have gives WSP_EINVAL.  Costs one extra
     * batched decoder pass per 30 s window and n_heads·tokens·n_audio_ctx floats. */
    wsp_aheads_preset dtw_aheads_preset;
    /* Log-mel clamp (docs/whisper.md "The log-mel clamp").  GLOBAL (default): whisper.cpp's
     * whole-recording maximum, so results equal whisper.cpp's on any input;
     * wsp_transcribe computes it in a first mel pass over its buffer (no copy kept); a
     * session needs it from the caller before its first feed (wsp_session_set_mel_max,
     * from a wsp_mel_peak pass over the same samples, e.g. a first decode of the
     * upload).  RUNNING: what a single pass can know (live audio) — the window at seek
     * clamps at the max over frames [0, seek + 3000); differs from GLOBAL only when a
     * later part is louder than everything up to the end of a window that also holds
     * mel values below (global max − 8): e.g. multilingual.mp3 from its first window. */
    wsp_mel_clamp mel_clamp;

    wsp_progress_cb progress_cb;
    void *progress_user_data;
    wsp_segment_cb segment_cb;
    void *segment_user_data;
    wsp_abort_cb abort_cb;
    void *abort_user_data;
} wsp_params;

/* Every field set to its documented default.  Pass the struct by value or pointer. */
wsp_params wsp_default_params(wsp_sampling strategy);

/* ---- results ---------------------------------------------------------------- */
typedef struct wsp_token {
    int32_t id;     /* token id; timestamp tokens are >= the model's <|0.00|> */
    int32_t tid;    /* most probable timestamp token at this step */
    float p;        /* probability of id */
    float plog;     /* log-probability of id */
    float pt;       /* probability of tid */
    float ptsum;    /* total probability mass of all timestamp tokens */
    int64_t t0, t1; /* token_timestamps: centiseconds from the start of the audio;
                       -1 when not computed */
    int64_t t_dtw;  /* cross-attention DTW time, centiseconds; -1 when not computed */
    float vlen;     /* token_timestamps: whisper.cpp's voice length of the token text */
} wsp_token;

typedef struct wsp_segment {
    int64_t t0, t1;         /* centiseconds (10 ms units) from the start of the audio */
    char *text;             /* valid UTF-8, NUL-terminated; special tokens excluded */
    wsp_token *tokens;      /* including timestamp tokens */
    int n_tokens;
    int seek;               /* window start in 10 ms frames */
    float temperature;      /* temperature of the accepted decode */
    float avg_logprob;      /* mean log-prob of the window's sampled tokens */
    float compression_ratio;/* gzip-style compression ratio of the window text */
    float no_speech_prob;   /* P(<|nospeech|>) at the window's first step */
} wsp_segment;

typedef struct wsp_timings {
    double load_ms;   /* filled by the caller if it wants; the engine leaves it 0 */
    double mel_ms, encode_ms, decode_ms, total_ms;
    int n_windows, n_decode_steps;
} wsp_timings;

typedef struct wsp_result {
    wsp_segment *segments;
    int n_segments;
    char language[8];   /* code of the language used ("pt"), detected or given */
    float language_prob;/* probability of that language (1.0 when given) */
    double duration_s;  /* audio duration transcribed */
    wsp_timings timings;
} wsp_result;

/* Frees a result and everything in it.  Accepts NULL. */
void wsp_result_free(wsp_result *result);

/* ---- the engine: compute threads and one-time library set-up ------------------ */
typedef struct wsp_engine wsp_engine;

/* Creates the process's engine: n_slots fork-join pools of n_threads threads each (one
 * pool per concurrent transcription; the calling thread is one of each pool's threads,
 * so a pool starts n_threads − 1 workers), all started here and never again, and the
 * one-time library set-up (OpenBLAS single-threaded — our pools split its sgemm calls —
 * and the FFTW plan and Hann window of the mel).  1 <= n_slots <= 64,
 * 1 <= n_threads <= 64.  0, WSP_EINVAL or WSP_ENOMEM (err names it).
 * Thread-safe: states may be created and freed on it from any thread. */
int wsp_engine_new(int n_slots, int n_threads, wsp_engine **out, wsp_error *err);
/* Stops and joins every pool thread.  Every state created on the engine must have been
 * freed.  Accepts NULL. */
void wsp_engine_free(wsp_engine *engine);
/* Threads of each pool / number of pools (slots). */
int wsp_engine_threads(const wsp_engine *engine);
int wsp_engine_slots(const wsp_engine *engine);
/* Continuous batching across transcriptions (default on): the decoder steps of states on
 * this engine that are decoding at the same time on the same model go through one
 * batched pass (weights read once for all of them), run on one of their pools.  It never
 * changes a result: every row of a merged pass is computed exactly as alone.  A step
 * waits at most 2 ms for the others.  Off: each transcription decodes on its own pool
 * only.  Thread-safe; takes effect from the next decoder step. */
void wsp_engine_set_batching(wsp_engine *engine, bool on);
bool wsp_engine_batching(const wsp_engine *engine);

/* ---- per-transcription state ----------------------------------------------- */
typedef struct wsp_state wsp_state;

/* As wsp_state_new, on an engine: the state takes one of the engine's pools (waits for
 * one to be free when all are taken) and runs the mel, encoder and decoder on it;
 * wsp_state_free gives the pool back.  wsp_transcribe on such a state requires
 * params.n_threads <= 0 or == wsp_engine_threads() (else WSP_EINVAL: no silently
 * ignored thread count).  Keep the state across transcriptions: it is reusable. */
int wsp_state_new_on(wsp_engine *engine, const wsp_model *model, wsp_state **out,
                     wsp_error *err);

/* Allocates the working memory for one transcription at a time on `model`
 * (KV caches for up to max(beam_size, best_of) = 8 decoders).  Free with
 * wsp_state_free() before freeing the model. */
int wsp_state_new(const wsp_model *model, wsp_state **out, wsp_error *err);
void wsp_state_free(wsp_state *state);
/* Bytes the state allocated (for metrics and benchmarks). */
size_t wsp_state_bytes(const wsp_state *state);

/* Transcribes `n_samples` float32 samples at 16 kHz mono (values in [-1, 1]): one
 * session (begin, one feed of the whole buffer, end); with params->mel_clamp GLOBAL (the
 * default) after a first pass for the buffer's log-mel maximum (≈ one extra mel
 * computation, no copy).  On success *out is a new result owned by the caller.  On failure returns a
 * WSP_E* code (WSP_ECANCELED if abort_cb asked), *out is NULL, no callback fires
 * after the failure is decided. */
int wsp_transcribe(wsp_state *state, const float *samples, size_t n_samples,
                   const wsp_params *params, wsp_result **out, wsp_error *err);

/* ---- streaming: a session for audio that arrives in pieces ------------------ */
/* begin → feed (any number of times, any chunk size) → end → free.  Each 30 s window is
 * encoded and decoded inside wsp_session_feed() as soon as its samples and the look-ahead
 * the seek rules need are there: the window's 3000 mel frames plus 11 frames (110 ms)
 * more, so the decoder knows the audio does not end inside the window (with
 * token_timestamps: also the first 62 s, see below); the last windows run in
 * wsp_session_end().  Language detection (first window), the previous-text prompt,
 * temperature fallback, timestamps, segment callbacks and progress carry across
 * windows exactly as in one wsp_transcribe() call — which is begin, one feed, end.
 *
 * Memory: the session holds the mel frames the seek can still reach (30.6 s), the
 * samples not yet turned into frames (as many), one window's normalised mel, the
 * decoders' workspace and, with token_timestamps, the first 62 s of samples and their
 * energy — about 4 MB for 80 mel bands (wsp_session_get_stats bytes_held); nothing
 * grows with the recording's length except the result's segments.
 *
 * Log-mel clamp: whisper.cpp and OpenAI clamp the log-mel at (max over the whole
 * recording) − 8, which a single pass cannot know before its first window.  With
 * params.mel_clamp = GLOBAL (default) the caller gives that maximum before the first
 * feed (wsp_session_set_mel_max; a wsp_mel_peak pass over the same samples computes it
 * in flat memory) and results equal wsp_transcribe's exactly; with RUNNING the window
 * at seek clamps at (max over mel frames [0, seek + 3000)) − 8, no first pass needed
 * (live audio), and results can differ (docs/whisper.md "The log-mel clamp").
 *
 * Thread-safety: a session uses its state exclusively from begin to free (no other
 * session or wsp_transcribe on that state meanwhile); feed and end may be called from
 * any thread but not concurrently; the callbacks run on the thread calling feed/end. */
typedef struct wsp_session wsp_session;

/* Starts a session on `state` (which must outlive it) with a copy of *params (strings
 * are used during this call only: the language is resolved and initial_prompt
 * tokenised here; callbacks and user_data pointers are kept).  On success *out is a new
 * session owned by the caller (free with wsp_session_free).  Errors as wsp_transcribe's
 * parameter checks: WSP_EINVAL (NULL arguments, n_threads not the engine's, alignment
 * heads that do not fit the model), WSP_ELANG, WSP_ENOMEM; *out is then NULL. */
int wsp_session_begin(wsp_state *state, const wsp_params *params, wsp_session **out,
                      wsp_error *err);

/* params.mel_clamp = GLOBAL: the maximum of the whole recording's raw log10 mel (from
 * wsp_mel_peak_end over the same samples), before the first feed.  0, or WSP_EINVAL
 * (NULL, not finite, after a feed, or the session's clamp is RUNNING).  Feeding a GLOBAL
 * session without it fails with WSP_EINVAL (no silent fallback to RUNNING). */
int wsp_session_set_mel_max(wsp_session *session, float max, wsp_error *err);

/* Optional: the number of samples the whole stream is expected to have (e.g. a
 * container's stated duration), used only to compute progress percentages before the
 * end is known (capped at 99 until wsp_session_end).  Without it a session reports
 * progress only at its end (100).  A wrong hint changes no result.  wsp_transcribe sets
 * it to n_samples, so its progress callbacks are as before. */
void wsp_session_set_expected_samples(wsp_session *session, uint64_t n_samples);

/* Appends n float32 samples at 16 kHz mono (values in [-1, 1]; n may be 0 and chunks any
 * size, results do not depend on how the audio is cut) and encodes/decodes every window
 * that became complete; segment and progress callbacks fire from inside this call.
 * The samples are copied; pcm may be reused on return.  Errors: WSP_EINVAL (NULL
 * session, pcm NULL with n > 0, the session already ended, more than 2^31 10 ms frames
 * in total), WSP_ECANCELED (abort_cb), WSP_ENOMEM, WSP_EINTERNAL.  A failure is final:
 * every later feed/end returns WSP_EINVAL ("session failed") and no callback fires
 * again; only wsp_session_free remains. */
int wsp_session_feed(wsp_session *session, const float *pcm, size_t n, wsp_error *err);

/* Marks the end of the audio, runs the remaining windows and hands over the result:
 * on success *out is a new result owned by the caller (free with wsp_result_free),
 * identical to what wsp_transcribe returns for the concatenated samples.  Errors:
 * WSP_ENOAUDIO (no sample was fed), WSP_EINVAL (ended or failed before), and the feed
 * errors; *out is then NULL.  The session is ended either way: free it next. */
int wsp_session_end(wsp_session *session, wsp_result **out, wsp_error *err);

/* Frees a session and everything it holds (an unfinished result included).  Accepts
 * NULL and a session in any phase (e.g. to abandon one mid-stream). */
void wsp_session_free(wsp_session *session);

typedef struct wsp_session_stats {
    uint64_t samples_fed;  /* samples passed to wsp_session_feed so far */
    uint64_t samples_done; /* audio decoded so far: the seek position × 160 samples */
    int n_windows;         /* windows encoded and decoded so far */
    int n_segments;        /* segments in the result so far */
    size_t bytes_held;     /* heap bytes of the session's own buffers (sample and mel
                              rings, window mel, prompt, DTW/energy buffers); not
                              counted: the decoders' workspace (fixed size, allocated at
                              begin), the result's segments and the state */
} wsp_session_stats;

/* Fills *out with the session's counters (cheap; no callback).  NULL-safe on both. */
void wsp_session_get_stats(const wsp_session *session, wsp_session_stats *out);

/* The first pass of a GLOBAL session: the maximum of a stream's raw log10 log-mel (the
 * frames wsp_transcribe's mel has, the 30 s zero tail included), fed in pieces, in
 * memory of about 3 MB whatever the length.  Runs on the calling thread (a few seconds
 * of one core per audio hour: 2.1 s for 30 min on a loaded 2-core VM).  new: 0, WSP_EINVAL or WSP_ENOMEM.  feed: any chunk sizes, 0 or
 * WSP_EINVAL (NULL, after end) / WSP_ENOMEM.  end: *max_out = the maximum to pass to
 * wsp_session_set_mel_max; 0, WSP_EINVAL (NULL, no sample, already ended).  free accepts
 * NULL.  Thread-safety: one thread at a time per object; the model is shared. */
typedef struct wsp_mel_peak wsp_mel_peak;
int wsp_mel_peak_new(const wsp_model *model, wsp_mel_peak **out, wsp_error *err);
int wsp_mel_peak_feed(wsp_mel_peak *peak, const float *pcm, size_t n, wsp_error *err);
int wsp_mel_peak_end(wsp_mel_peak *peak, float *max_out, wsp_error *err);
void wsp_mel_peak_free(wsp_mel_peak *peak);

/* Text of a token id (raw bytes, possibly a partial UTF-8 character), special tokens
 * as "[_SOT_]", "<|0.00|>" etc.  Never NULL.  Valid while the model lives. */
const char *wsp_token_text(const wsp_model *model, int32_t id);
/* First timestamp token id (<|0.00|>) of this model. */
int32_t wsp_token_beg(const wsp_model *model);
int32_t wsp_token_eot(const wsp_model *model);

/* ---- quantization (whisper-quantize's file conversion) ----------------------- */
/* Weight types `model quantize` writes; the values are ggml's tensor type codes.
 * ref: ggml.h enum ggml_type; README-round2.md §4. */
typedef enum wsp_qtype {
    WSP_Q4_0 = 2,
    WSP_Q4_1 = 3,
    WSP_Q5_0 = 6,
    WSP_Q5_1 = 7,
    WSP_Q8_0 = 8,
} wsp_qtype;

/* "q4_0" … "q8_0" → *out; returns 0, or WSP_EINVAL for any other string. */
int wsp_qtype_parse(const char *name, wsp_qtype *out);
/* "q4_0" … "q8_0", or "?" for a value outside the enum. */
const char *wsp_qtype_name(wsp_qtype type);

/* Converts the f16/f32 model file `in_path` into `out_path` with `type` weights, byte for
 * byte as whisper.cpp's whisper-quantize (examples/quantize, ggml_common_quantize_0):
 * every 2-D tensor except encoder.conv1.bias, encoder.conv2.bias and the two positional
 * embeddings is quantized with ggml's reference rounding (the attention and MLP weights
 * and decoder.token_embedding.weight); the 3-D conv weights and 1-D tensors are copied;
 * the header ftype becomes 2000 + ggml's ftype (2002 q4_0, 2003 q4_1, 2008 q5_0,
 * 2009 q5_1, 2007 q8_0); filterbank and vocabulary are copied.
 * The input is validated with wsp_model_load() first.  The output is written to a
 * temporary file next to out_path and renamed over it only when complete, so out_path
 * is never left half-written (a failed or cancelled call removes the temporary file).
 * params (may be NULL): progress_cb is called on the calling thread with the percent of
 * tensor bytes done, each time it changes; abort_cb cancels.
 * Errors: WSP_EINVAL (NULL path, unknown type), WSP_ETYPE (input already quantized or of
 * an unsupported type), WSP_EIO (input unreadable; output directory not writable, disk
 * full — the message names the path), WSP_ETENSOR (a row not a multiple of 32, a
 * non-finite weight), WSP_ECANCELED, any wsp_model_load() error for a malformed input,
 * WSP_ENOMEM.
 * Memory: one row of the widest tensor in f32 and its blocks; weights stream from the
 * mapping, whose pages are released after each tensor (peak RSS ≈ the largest tensor). */
typedef struct wsp_quantize_params {
    wsp_progress_cb progress_cb; /* may be NULL */
    void *progress_user_data;
    wsp_abort_cb abort_cb;       /* polled after every row; true → WSP_ECANCELED; may be NULL */
    void *abort_user_data;
} wsp_quantize_params;

int wsp_model_quantize(const char *in_path, const char *out_path, wsp_qtype type,
                       const wsp_quantize_params *params, wsp_error *err);


/* Library version string. */
const char *wsp_version(void);

#endif
