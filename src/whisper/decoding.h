/*
 * decoding.h — decoding of one 30 s window: greedy, best-of-N sampling, beam search,
 * temperature fallback (prefix wsp__decode_window / wsp__dws / wsp__lm).
 *
 * The forward pass is reached through wsp__lm (a decode function and a KV-cache reassignment),
 * so the logic runs on the real engine (transcribe.c wires wsp__decode_batch / wsp__kv_reorder)
 * or on a scripted model in unit tests.
 *
 * Rules (ref: ../shared/whisper-ref/README.md "Sampling rules", window/seek rules;
 * whisper.cpp whisper_full_with_state; OpenAI decoding.py / transcribe.py):
 *  - the prompt is [<|startofprev|> + the last n_take past tokens] + the task tokens, the
 *    past part only at temperatures < 0.5, n_take = min(n_max_text_ctx,
 *    n_text_ctx/2 − 1, available) (223 for n_text_ctx 448: prompt + 220 sampled tokens
 *    then always fit in n_text_ctx);
 *  - at most n_text_ctx/2 − 4 = 220 sampled tokens; a decoder completes on
 *    <|endoftext|> or when its last timestamp reaches the end of the audio
 *    (seek + seek_delta + 10 >= seek_end); it fails when a timestamp goes back in time,
 *    when it completes without any timestamp before the end of the audio (timestamps
 *    on), or when the 220th token leaves no timestamp / seek_delta < 15 s ("repetition
 *    loop"); after the loop, decoders that did not fail keep tokens [0, result_len) and
 *    fail when result_len > 32 and the entropy of their last 32 ids < entropy_thold;
 *  - the best decoder has the highest score (sum logprob / length penalty);
 *  - temperature fallback to the next temperature when the best decoder failed, or
 *    (compression ratio > threshold or avg logprob < logprob_thold) unless the window
 *    is silence (no_speech_prob > no_speech_thold and avg logprob < logprob_thold).
 *    whisper.cpp has no compression-ratio test (it uses the entropy test); OpenAI has
 *    both the compression and log-prob tests; we apply all of them.
 *  - no_speech_prob is P(<|nospeech|>) at the <|startoftranscript|> position (OpenAI);
 *    whisper.cpp reads an unwritten logits row there (≈ 1/n_vocab), so its value is not
 *    reproduced — the decisions it feeds (fallback, silent-window skip) only differ when
 *    the real probability exceeds no_speech_thold;
 *  - greedy takes the first index of the maximum probability; the first sampled token
 *    is NOT forced to be a timestamp (whisper.cpp; OpenAI forces it) — documented choice
 *    so the golden transcripts match.
 *  - beam search (temperature 0): every live beam proposes its beam_size best tokens
 *    by log-prob (OpenAI's deterministic top-k, not whisper.cpp's random draw);
 *    candidates are ranked by cumulative log-prob (ties: lower beam, better rank), each
 *    live beam takes the next candidate whose sequence is not already taken this step;
 *    KV caches follow with lm->kv_reorder.  Beams that complete stop; the search ends when
 *    round(beam_size · patience) beams completed (patience <= 0 → all) or every beam
 *    stopped.  At temperature > 0 beam search samples best_of candidates like greedy.
 *
 * Thread-safety: a workspace is used by one thread at a time.
 */
#ifndef MDC_WHISPER_DECODING_H
#define MDC_WHISPER_DECODING_H

#include <stdbool.h>
#include <stdint.h>

#include "whisper/sampling.h"

/* The forward pass as the decoding logic sees it. */
typedef struct wsp__lm {
    /* Decodes rows[0..n_rows) (engine.h wsp__row: token, position, decoder, logits
     * destination or NULL) in one pass and writes the raw logits of the rows that ask.
     * 0 or a WSP_E* code. */
    int (*decode)(void *ctx, const wsp__row *rows, int n_rows);
    /* Reassigns caches: afterwards decoder j (j < n, parent[j] >= 0) holds the cache
     * positions [0, n_past) decoder parent[j] held before; decoders with parent[j] < 0
     * (and j >= n) end with unspecified contents.  The engine swaps cache indices and
     * copies only for a parent with several children (wsp__kv_reorder). */
    void (*kv_reorder)(void *ctx, const int *parent, int n, int n_past);
    void *ctx;
    int n_decoders; /* caches available (>= 2 for beam search with one beam) */
    int n_text_ctx; /* 448 */
} wsp__lm;

typedef struct wsp__window_opts {
    wsp_sampling strategy;
    int best_of;           /* decoders at temperature > 0 */
    int beam_size;         /* beams at temperature 0 with BEAM_SEARCH */
    float patience;        /* beam search: stop after round(beam_size·patience) finished */
    float length_penalty;  /* <= 0: score = sum/len; else sum / ((5+len)/6)^lp */
    const float *temperatures; /* [n_temperatures] tried in order (fallback) */
    int n_temperatures;
    float entropy_thold, logprob_thold, no_speech_thold, compression_ratio_threshold;
    wsp__filter_opts filter;
    int seek, seek_end;    /* window start and end of audio, 10 ms frames */
    const int32_t *past;   /* previous windows' tokens (and initial prompt), oldest first */
    int n_past;
    int n_max_text_ctx;    /* cap on past tokens used (params.n_max_text_ctx) */
    const int32_t *init;   /* <|startoftranscript|> [lang task] [<|notimestamps|>] */
    int n_init;
    int batch_rows;        /* live decoders per decoder call in a sampling step: <= 1 →
                              one call per decoder (the unbatched reference path), else
                              up to batch_rows rows in one batched pass (same tokens) */
    wsp_abort_cb abort_cb; /* polled before every decoder call; true → WSP_ECANCELED */
    void *abort_user_data;
} wsp__window_opts;

typedef struct wsp__window_out {
    const wsp_token *tokens; /* [n_tokens] best sequence, owned by the workspace (valid
                                until the next wsp__decode_window) */
    int n_tokens;
    int result_len;          /* tokens up to the last timestamp (whisper.cpp result_len) */
    int seek_delta;          /* frames to advance (before the single-timestamp rule) */
    float temperature;       /* of the accepted attempt */
    float no_speech_prob;
    float compression_ratio; /* of the text of tokens[0..n_tokens) */
    double avg_logprobs;     /* whisper.cpp's value: −inf when the decoder failed early */
    float avg_logprob;       /* mean plog over tokens[0..n_tokens) (0 if none) */
    bool failed;
    int n_past_used;         /* past tokens in the accepted prompt (0: no <|startofprev|>) */
    int n_decode_calls;      /* lm->decode calls (two prompt batches per attempt included) */
    int n_fallbacks;         /* temperatures rejected */
} wsp__window_out;

typedef struct wsp__dws wsp__dws;

/* Workspace for up to n_decoders decoders of n_text_ctx tokens over vocabulary v
 * (≈ 4 rows of n_vocab floats per decoder), allocated once per transcription.  Decoder
 * j's random generator is std::mt19937(seed + j) (wsp__rng), kept across windows and
 * attempts as whisper.cpp keeps its decoders' generators.  0, WSP_EINVAL or WSP_ENOMEM. */
int wsp__dws_new(const wsp__vocab *v, int n_text_ctx, int n_decoders, uint32_t seed,
                 wsp__dws **out);
void wsp__dws_free(wsp__dws *ws);

/* Decodes one window (all fallback temperatures as needed) and fills *out.
 * 0, WSP_ECANCELED (abort_cb), or the error of lm->decode; *out is then undefined. */
int wsp__decode_window(wsp__dws *ws, const wsp__lm *lm, const wsp__window_opts *o,
                       wsp__window_out *out);

#endif
