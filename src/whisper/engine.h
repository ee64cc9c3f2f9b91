/*
 * engine.h — the engine's internal contract (prefix wsp__) between the forward pass
 * (model.c, mel.c, encoder.c, decoder.c, kernels*) and the decoding logic
 * (tokenizer.c, sampling.c, decoding.c, transcribe.c).  Not installed; tests may use it.
 *
 * Layouts: every matrix is float32 row-major unless a comment says otherwise.
 */
#ifndef MDC_WHISPER_ENGINE_H
#define MDC_WHISPER_ENGINE_H

#include "mdc/whisper.h"

/* Special token ids, derived from n_vocab as whisper.cpp does
 * (ref: whisper-ref README "Special token ids"; whisper.cpp whisper_model_load). */
typedef struct wsp__vocab {
    int32_t n_vocab;          /* hparams.n_vocab (51865 multilingual, 51864 .en, 51866 v3) */
    int32_t n_base;           /* tokens stored in the file (50257 multilingual) */
    const uint8_t *const *bytes; /* [n_vocab] token bytes (into the mapping, or static
                                    strings "[_SOT_]" … for special tokens) */
    const uint32_t *len;      /* [n_vocab] byte lengths */
    int32_t eot, sot, translate, transcribe, solm, prev, nosp, notimestamps, beg;
    int32_t lang_first;       /* <|en|> */
    int32_t n_langs;          /* 99, or 100 for large-v3 */
} wsp__vocab;

const wsp__vocab *wsp__model_vocab(const wsp_model *model);

/* Decoding tables that depend only on the model, built once by wsp_model_load (not per
 * transcription) and read-only afterwards, so concurrent transcriptions share them. */
typedef struct wsp__tokenizer wsp__tokenizer;
typedef struct wsp__model_tables {
    wsp__tokenizer *tok;  /* bytes → id over the base tokens (initial prompts) */
    int32_t blank_id;     /* id of " " (suppress_blank), -1 if the vocabulary lacks it */
    int32_t *non_speech;  /* ids suppress_non_speech_tokens removes (OpenAI's list) */
    int n_non_speech;
} wsp__model_tables;

const wsp__model_tables *wsp__model_tables_of(const wsp_model *model);

/* Log-mel spectrogram exactly as whisper.cpp computes it (ref: whisper-ref README
 * "golden/jfk.mel.f32"; OpenAI whisper/audio.py log_mel_spectrogram): reflect-pad 200
 * samples in front, append 480 000 + 200 zeros, periodic Hann(400), |FFT|^2 of bins
 * 0…200 (FFTW), model filterbank, log10(max(x, 1e-10)), clamp at global max − 8, (x+4)/4.
 * Output: *mel_out = malloc'd float32 [n_mels][*n_frames] (mel band is the slow axis),
 * *n_frames = (n_samples + 480000) / 160; *n_len_org = 1 + (n_samples + 200 − 400)/160
 * frames carry audio.  Caller frees *mel_out with free(). */
typedef struct wsp__pool wsp__pool;
int wsp__mel_compute(const wsp_model *model, const float *samples, size_t n_samples,
                     wsp__pool *pool, float **mel_out, int *n_frames, int *n_len_org);
/* Raw log10 mel of frames [t0, t0 + n) of a stream, before the clamp and the (x+4)/4:
 * frame t covers stream samples [160t − 200, 160t + 200), reflected in front (x[200] …
 * x[1]) and zero at and after sample n_total (UINT64_MAX while unknown).  x holds the
 * stream samples [x_base, x_base + x_len) and must contain every sample below n_total
 * those frames read (x_base = 0 for frames 0 and 1).  dst: [n_mels] rows of dst_stride
 * floats, frame t0 + i at column i; fmax (may be NULL): [n] max over bands per frame;
 * *max_out: the max over all n frames (-inf for n = 0).  Each frame is computed the same
 * way whatever the batch or thread count (bit-identical to wsp__mel_compute's).
 * 0, WSP_EINVAL or WSP_ENOMEM. */
int wsp__mel_frames(const wsp_model *model, const float *x, uint64_t x_base, size_t x_len,
                    uint64_t n_total, int64_t t0, int n, wsp__pool *pool, float *dst,
                    size_t dst_stride, float *fmax, float *max_out);
/* Max over bands and frames of the raw log10 mel of a whole buffer (the frames
 * wsp__mel_compute computes: (n_samples + 480000)/160), in batches of scratch memory
 * (nothing the size of the input).  0, WSP_EINVAL or WSP_ENOMEM. */
int wsp__mel_max(const wsp_model *model, const float *samples, size_t n_samples,
                 wsp__pool *pool, float *max_out);
/* The clamp and scale of OpenAI's log_mel_spectrogram: dst = (max(raw, max − 8) + 4) / 4
 * over [n_rows][n_cols] (dst may be raw). */
void wsp__mel_normalize(float *dst, const float *raw, int n_rows, int n_cols,
                        size_t dst_stride, size_t raw_stride, float max);
/* The mel's one-time set-up (FFTW plan, Hann window); called by wsp__lib_init.
 * Thread-safe, idempotent.  0 or WSP_ENOMEM. */
int wsp__mel_init(void);

/* Runs conv stem + encoder on mel frames [seek, seek + 3000) of mel [n_mels][n_frames]
 * and computes every decoder layer's cross-attention K and V from the encoder output
 * (once per window).  Results live in the state until the next call. */
int wsp__encode(wsp_state *state, const float *mel, int n_frames, int seek, int n_threads);

/* For golden tests: conv stem output and encoder output of the last wsp__encode(),
 * float32 [n_audio_ctx][n_audio_state] frame-major. */
const float *wsp__conv_output(const wsp_state *state);
const float *wsp__encoder_output(const wsp_state *state);

/* Number of independent decoders (KV caches) the state holds (>= 8). */
int wsp__n_decoders(const wsp_state *state);

/* One row of a decoder batch (whisper.cpp's whisper_batch / llama.cpp's llama_batch:
 * token, pos, seq_id, logits flag). */
typedef struct wsp__row {
    int32_t token; /* 0 … n_vocab − 1 */
    int32_t pos;   /* position in its sequence, 0 … n_text_ctx − 1 */
    int32_t seq;   /* decoder (KV cache) it extends, 0 … wsp__n_decoders − 1 */
    float *logits; /* NULL: no output; else receives the raw logits (no suppression, no
                      temperature) of this row, [n_vocab], owned by the caller */
} wsp__row;

/* Decodes rows[0..n_rows) in ONE forward pass: every weight is read once for the whole
 * batch (the linear layers take all rows as M), each row's K/V go to its sequence's
 * cache at its position, its self-attention reads that cache's positions [0, pos]
 * (positions < pos from earlier calls or earlier rows of this batch: causal within a
 * sequence, sequences never see each other), its cross-attention the window's encoder
 * K/V.  Logits are computed only for rows with logits != NULL.  Rows of one sequence
 * may come in any order; a (seq, pos) pair at most once.  Requires a prior
 * wsp__encode().  Per-row results do not depend on the other rows below 16 rows (the
 * matvec path; >= 16 rows take sgemm, within ~1e-5); see decoder.c.
 * 0, WSP_EINVAL (bad row, duplicate (seq, pos), no encoder output), WSP_ECANCELED. */
int wsp__decode_batch(wsp_state *state, const wsp__row *rows, int n_rows, int n_threads);

/* Cross-attention capture for DTW: while set, every wsp__decode_batch() also writes the
 * post-softmax cross-attention weights of each (layer l, head h) with
 * slot[l·n_text_head + h] = k >= 0 to cap[(k·N + i)·n_audio_ctx + t] for query row
 * i < N (that call's n_rows) and audio position t.  cap must hold n_slots·N·n_audio_ctx
 * floats for the calls made while set; both arrays stay owned by the caller and must
 * outlive the capture.  wsp__set_xattn_capture(state, NULL, NULL) turns it off. */
void wsp__set_xattn_capture(wsp_state *state, const int16_t *slot, float *cap);

/* Beam reassignment: afterwards decoder j (j < n, parent[j] >= 0) holds the cache that
 * decoder parent[j] held before the call (positions [0, n_past)).  The first child of a
 * parent takes over its cache slot (an index swap, no copy); only further children of
 * the same parent copy.  Decoders with parent[j] < 0, and j >= n, keep some other free
 * slot (contents unspecified).  n <= wsp__n_decoders(state). */
void wsp__kv_reorder(wsp_state *state, const int *parent, int n, int n_past);

/* The abort callback the engine polls during wsp__encode/wsp__decode_batch (NULL = none). */
void wsp__set_abort(wsp_state *state, wsp_abort_cb cb, void *user_data);

const wsp_model *wsp__state_model(const wsp_state *state);

/* Sets err (may be NULL) to code + printf-style message; returns code. */
int wsp__fail(wsp_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
