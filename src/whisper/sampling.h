/*
 * sampling.h — one decoder step's logits → token: logit filters (suppression, timestamp
 * rules), log-softmax, timestamp-versus-text probability mass, greedy pick, random
 * sampling, top-k, no-speech probability, sequence score.  Pure functions on rows of
 * n_vocab floats; no model access, so they are tested on hand-made rows.
 * ref: ../shared/whisper-ref/README.md "Sampling rules whisper.cpp applied";
 *      whisper.cpp whisper_process_logits(), whisper_sample_token(),
 *      whisper_sequence_score(); OpenAI whisper/decoding.py (ApplyTimestampRules,
 *      SuppressBlank, SuppressTokens, MaximumLikelihoodRanker).
 *
 * Thread-safety: no shared state.
 */
#ifndef MDC_WHISPER_SAMPLING_H
#define MDC_WHISPER_SAMPLING_H

#include <stdbool.h>
#include <stdint.h>

#include "whisper/engine.h"

/* Filter settings fixed for a whole transcription. */
typedef struct wsp__filter_opts {
    bool suppress_blank;         /* first step: <|endoftext|> and " " → −inf */
    bool no_timestamps;          /* all timestamp tokens → −inf */
    float max_initial_ts;        /* seconds; <= 0 disables the first-step limit */
    int n_audio_ctx;             /* timestamp precision = 30 s / n_audio_ctx (0.02 s) */
    int32_t blank_id;            /* id of " " (220), or -1 */
    const int32_t *suppress_ids; /* extra ids → −inf (non-speech tokens), may be NULL */
    int n_suppress_ids;
} wsp__filter_opts;

/* Timestamp state of one decoder within the current window. */
typedef struct wsp__ts_state {
    const int32_t *tokens; /* ids sampled so far in this window (no prompt) */
    int n_tokens;
    bool has_ts;           /* a timestamp > <|0.00|> has been sampled */
    int seek_delta;        /* 2·(last such timestamp − <|0.00|>), 10 ms frames */
} wsp__ts_state;

/* Applies, in whisper.cpp's order, every suppression rule to logits[0..n_vocab) in
 * place: suppress_blank (first step), <|notimestamps|> (and all timestamps when
 * no_timestamps), sot/nosp/solm/translate/transcribe/prev and every language token,
 * extra suppress_ids, timestamp pairing, max initial timestamp (first step), timestamp
 * monotonicity.  ref: whisper.cpp whisper_process_logits (filters block). */
void wsp__filter_logits(const wsp__vocab *v, const wsp__filter_opts *o, const wsp__ts_state *st,
                        float *logits);

/* logprobs[i] = logits[i] − logsumexp(logits) in float, −inf where logits are −inf
 * (ref: whisper.cpp whisper_compute_logprobs: max-shifted sum of exp; here the sum uses
 * the engine's vector exp, which changes the common shift by rounding only). */
void wsp__log_softmax(const float *logits, int n, float *logprobs);

/* The same with whisper.cpp's exact float operations: Σ expf(l − max) over finite logits
 * in index order, lse = logf(sum) + max.  Used wherever probabilities feed the random
 * sampler, so that equal logits give bit-equal probabilities and hence equal draws.
 * ref: whisper.cpp whisper_compute_logprobs. */
void wsp__log_softmax_exact(const float *logits, int n, float *logprobs);

/* When logsumexp over the timestamp log-probs exceeds the best text-token log-prob,
 * sets logits and logprobs of every id < <|0.00|> to −inf (no renormalisation).
 * Returns true when it did.  ref: whisper.cpp whisper_process_logits; OpenAI
 * decoding.py ApplyTimestampRules. */
bool wsp__timestamp_mass_rule(const wsp__vocab *v, float *logits, float *logprobs);

/* probs[i] = 0 where logits[i] is −inf, else expf(logprobs[i]).
 * ref: whisper.cpp whisper_compute_probs. */
void wsp__probs(const float *logits, const float *logprobs, int n, float *probs);

/* The whole step: logits = raw / temperature (when > 0), filters, log-softmax,
 * timestamp mass rule, probs (skipped when probs is NULL: the functions below then
 * exponentiate only the log-probs they need).  With probs (the sampling path) the
 * log-softmax is wsp__log_softmax_exact, bit-equal to whisper.cpp's.  raw may alias logits.  Rows [n_vocab].
 * ref: whisper.cpp whisper_process_logits. */
void wsp__process_logits(const wsp__vocab *v, const wsp__filter_opts *o, const wsp__ts_state *st,
                         float temperature, const float *raw, float *logits, float *logprobs,
                         float *probs);

/* Fills tid (most probable timestamp, 0 if none), pt (its share of the timestamp mass)
 * and ptsum (timestamp mass), and for a timestamp id sets tid = id, pt = p.
 * probs may be NULL (then expf(logprobs) is used, the same values).
 * ref: whisper.cpp whisper_sample_token (sum_ts/max_ts in double). */
void wsp__token_ts_info(const wsp__vocab *v, const float *probs, const float *logprobs,
                        wsp_token *tok);

/* Greedy: the first index of the maximum probability (id 0 if all are 0), with p, plog
 * and the timestamp fields.  probs may be NULL.  ref: whisper.cpp whisper_sample_token(best = true). */
wsp_token wsp__sample_best(const wsp__vocab *v, const float *probs, const float *logprobs);

/* whisper.cpp's random generator, std::mt19937 (32-bit Mersenne Twister, MT19937 of
 * Matsumoto & Nishimura 1998; constants of ISO C++ [rand.predef]).  whisper.cpp gives
 * decoder j the generator mt19937(j); we seed decoder j with (request seed + j), so seed 0
 * reproduces a fresh whisper.cpp state.  Plain value, no allocation; copy freely.
 * ref: ../shared/whisper-ref/README-round2.md §2 "Random number generators". */
typedef struct wsp__rng {
    uint32_t mt[624];
    int i; /* next output index; 624 = twist before the next output */
} wsp__rng;
/* std::mt19937(seed). */
void wsp__rng_seed(wsp__rng *r, uint32_t seed);
/* The next 32-bit output, as std::mt19937::operator()(). */
uint32_t wsp__rng_next(wsp__rng *r);
/* libstdc++'s std::generate_canonical<double, 53>(g): two outputs g1, g2, then
 * (g1 + g2·2³²) / 2⁶⁴ in double arithmetic (the sum rounds to 53 bits), values >= 1
 * replaced by the largest double below 1.  Result in [0, 1). */
double wsp__rng_canonical(wsp__rng *r);

/* One draw of libstdc++'s std::discrete_distribution<int>(w, w + n)(g), built fresh as
 * whisper.cpp does per call: weights widened to double and summed in index order, each
 * divided by the sum, prefix sums in order with the last forced to 1.0, u =
 * wsp__rng_canonical(), result = the first index whose prefix sum is >= u.  No
 * allocation (the prefix sums are formed on the fly; the same operations in the same
 * order as the library).  Returns -1 (and draws nothing) when the weights sum to no
 * positive value, 0 without drawing when n < 2 (as the library).
 * ref: libstdc++ bits/random.tcc discrete_distribution::param_type::_M_initialize and
 * operator(); ../shared/whisper-ref/tools/sampler/ (the pack's reference port). */
int wsp__discrete_draw(wsp__rng *r, const float *w, int n);

/* Draws an id with whisper.cpp's sampler (wsp__discrete_draw over probs; probs must be
 * the full row from wsp__process_logits, not NULL), with the same fields as
 * wsp__sample_best; falls back to wsp__sample_best when every probability is 0.
 * ref: whisper.cpp whisper_sample_token(best = false). */
wsp_token wsp__sample_random(const wsp__vocab *v, const float *probs, const float *logprobs,
                             wsp__rng *rng);

/* The k ids with the largest logprobs, best first, lowest id first on ties, into
 * ids[0..k); returns how many were finite (<= k).  ref: OpenAI decoding.py
 * BeamSearchDecoder (logprobs.topk(beam_size + 1)). */
int wsp__topk(const float *logprobs, int n, int k, int32_t *ids);

/* P(<|nospeech|>) from the raw logits of the window's first step (softmax over all
 * ids, no filter, no temperature).  ref: whisper.cpp whisper_full_with_state. */
float wsp__no_speech_prob(const wsp__vocab *v, const float *raw_logits);

/* Sequence score of tokens[0..n): sum of plog / length penalty, where the penalty is n
 * (length_penalty <= 0) or ((5 + n)/6)^length_penalty; *avg = sum / n; *entropy =
 * entropy of the id histogram of the last 32 tokens.  n == 0 gives −inf for all three
 * but entropy 0.  ref: whisper.cpp whisper_sequence_score; OpenAI decoding.py
 * MaximumLikelihoodRanker. */
double wsp__sequence_score(const wsp_token *tokens, int n, float length_penalty, double *avg,
                           double *entropy);

/* OpenAI's compression ratio of bytes[0..n): n / len(zlib.compress(bytes)) at zlib's
 * default level; 0 for empty input, -1 on failure.
 * ref: OpenAI whisper/utils.py compression_ratio. */
float wsp__compression_ratio(const uint8_t *bytes, size_t n);

#endif
