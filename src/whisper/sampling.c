/*
 * sampling.c — logit filters, timestamp rules, log-softmax, token choice.
 * ref: ../shared/whisper-ref/README.md "Sampling rules whisper.cpp applied";
 *      whisper.cpp src/whisper.cpp whisper_process_logits / whisper_sample_token /
 *      whisper_sequence_score; OpenAI whisper/decoding.py, whisper/utils.py.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "whisper/kernels.h"
#include "whisper/sampling.h"

#define WSP__CHUNK_S 30.0f /* seconds per window (ref: OpenAI audio.py CHUNK_LENGTH) */

void wsp__filter_logits(const wsp__vocab *v, const wsp__filter_opts *o, const wsp__ts_state *st,
                        float *logits)
{
    const int n = v->n_vocab;
    const bool initial = st->n_tokens == 0;

    /* suppress_blank: the first token may not be <|endoftext|> or " " */
    if (o->suppress_blank && initial) {
        logits[v->eot] = -INFINITY;
        if (o->blank_id >= 0 && o->blank_id < n)
            logits[o->blank_id] = -INFINITY;
    }
    /* <|notimestamps|> is never sampled; timestamps off → none of them either */
    logits[v->notimestamps] = -INFINITY;
    if (o->no_timestamps)
        for (int i = v->beg; i < n; i++)
            logits[i] = -INFINITY;
    /* special tokens the text stream never contains */
    logits[v->sot] = -INFINITY;
    logits[v->nosp] = -INFINITY;
    logits[v->solm] = -INFINITY;
    logits[v->translate] = -INFINITY;
    logits[v->transcribe] = -INFINITY;
    logits[v->prev] = -INFINITY;
    for (int i = 0; i < v->n_langs; i++)
        logits[v->lang_first + i] = -INFINITY;
    for (int i = 0; i < o->n_suppress_ids; i++)
        if (o->suppress_ids[i] >= 0 && o->suppress_ids[i] < n)
            logits[o->suppress_ids[i]] = -INFINITY;

    /* timestamps come in pairs, except directly before <|endoftext|> */
    {
        const int nt = st->n_tokens;
        const bool last_ts = nt > 0 && st->tokens[nt - 1] >= v->beg;
        const bool penult_ts = nt < 2 || st->tokens[nt - 2] >= v->beg;
        if (last_ts) {
            if (penult_ts)
                for (int i = v->beg; i < n; i++)
                    logits[i] = -INFINITY;
            else
                for (int i = 0; i < v->eot; i++)
                    logits[i] = -INFINITY;
        }
    }
    /* the first timestamp may not exceed max_initial_ts */
    if (initial && o->max_initial_ts > 0.0f && o->n_audio_ctx > 0) {
        const float precision = WSP__CHUNK_S / (float)o->n_audio_ctx;
        const int tid0 = (int)roundf(o->max_initial_ts / precision);
        for (int i = v->beg + tid0 + 1; i < n; i++)
            logits[i] = -INFINITY;
    }
    /* timestamps never go backwards (equal is allowed) */
    if (st->has_ts) {
        const int tid0 = st->seek_delta / 2;
        for (int i = v->beg; i < v->beg + tid0 && i < n; i++)
            logits[i] = -INFINITY;
    }
}

void wsp__log_softmax(const float *logits, int n, float *logprobs)
{
    float mx = -INFINITY;
    for (int i = 0; i < n; i++)
        mx = logits[i] > mx ? logits[i] : mx;
    /* Σ exp(l − max) with the engine's vector exp (logprobs is the scratch row); a −inf
     * logit contributes ~1e-38 there, nothing at float precision.  The order of the sum
     * differs from whisper.cpp's scalar loop by rounding only: every decision compares
     * log-probs of the same row, which the common shift by logsumexp cannot reorder. */
    memcpy(logprobs, logits, sizeof *logprobs * (size_t)n);
    const float sum = wsp__kern()->exp_sum(logprobs, n, mx);
    const float lse = logf(sum) + mx;
    for (int i = 0; i < n; i++)
        logprobs[i] = logits[i] > -INFINITY ? logits[i] - lse : -INFINITY;
}

void wsp__log_softmax_exact(const float *logits, int n, float *logprobs)
{
    float mx = -INFINITY;
    for (int i = 0; i < n; i++)
        mx = logits[i] > mx ? logits[i] : mx;
    float sum = 0.0f;
    for (int i = 0; i < n; i++)
        if (logits[i] > -INFINITY)
            sum += expf(logits[i] - mx);
    const float lse = logf(sum) + mx;
    for (int i = 0; i < n; i++)
        logprobs[i] = logits[i] > -INFINITY ? logits[i] - lse : -INFINITY;
}

bool wsp__timestamp_mass_rule(const wsp__vocab *v, float *logits, float *logprobs)
{
    const int n = v->n_vocab;
    float ts_lp = -INFINITY;
    {
        float mx = -INFINITY;
        for (int i = v->beg; i < n; i++)
            if (logprobs[i] > mx)
                mx = logprobs[i];
        float sum = 0.0f;
        for (int i = v->beg; i < n; i++)
            if (logprobs[i] > -INFINITY)
                sum += expf(logprobs[i] - mx);
        if (sum > 0.0f)
            ts_lp = logf(sum) + mx;
    }
    float text_max = -INFINITY;
    for (int i = 0; i < v->beg; i++)
        if (logprobs[i] > text_max)
            text_max = logprobs[i];
    if (ts_lp > text_max) {
        for (int i = 0; i < v->beg; i++) {
            logits[i] = -INFINITY;
            logprobs[i] = -INFINITY;
        }
        return true;
    }
    return false;
}

void wsp__probs(const float *logits, const float *logprobs, int n, float *probs)
{
    for (int i = 0; i < n; i++)
        probs[i] = logits[i] == -INFINITY ? 0.0f : expf(logprobs[i]);
}

void wsp__process_logits(const wsp__vocab *v, const wsp__filter_opts *o, const wsp__ts_state *st,
                         float temperature, const float *raw, float *logits, float *logprobs,
                         float *probs)
{
    const int n = v->n_vocab;
    if (raw != logits)
        memcpy(logits, raw, sizeof *logits * (size_t)n);
    if (temperature > 0.0f)
        for (int i = 0; i < n; i++)
            logits[i] /= temperature;
    wsp__filter_logits(v, o, st, logits);
    if (probs)
        wsp__log_softmax_exact(logits, n, logprobs);
    else
        wsp__log_softmax(logits, n, logprobs);
    wsp__timestamp_mass_rule(v, logits, logprobs);
    if (probs)
        wsp__probs(logits, logprobs, n, probs);
}

/* probs[i] when given, else expf(logprobs[i]) — the same value, since a −inf logit has a
 * −inf log-prob and expf(−inf) = 0 (ref: whisper.cpp whisper_compute_probs). */
static inline float prob_at(const float *probs, const float *logprobs, int i)
{
    return probs ? probs[i] : expf(logprobs[i]);
}

void wsp__token_ts_info(const wsp__vocab *v, const float *probs, const float *logprobs,
                        wsp_token *tok)
{
    double sum_ts = 0.0, max_ts = 0.0;
    tok->tid = 0;
    for (int i = v->beg; i < v->n_vocab; i++) {
        const float p = prob_at(probs, logprobs, i);
        sum_ts += p;
        if (max_ts < p) {
            max_ts = p;
            tok->tid = i;
        }
    }
    tok->pt = (float)(max_ts / (sum_ts + 1e-10));
    tok->ptsum = (float)sum_ts;
    if (tok->id >= v->beg) {
        tok->tid = tok->id;
        tok->pt = tok->p;
    }
}

wsp_token wsp__sample_best(const wsp__vocab *v, const float *probs, const float *logprobs)
{
    wsp_token t = {0};
    if (probs) {
        for (int i = 0; i < v->n_vocab; i++) {
            if (t.p < probs[i]) {
                t.id = i;
                t.p = probs[i];
                t.plog = logprobs[i];
            }
        }
    } else {
        /* first index of the maximum probability without exponentiating every entry:
         * only log-probs within 1e-3 of the maximum can round to the same probability */
        float mx = -INFINITY;
        int im = 0;
        for (int i = 0; i < v->n_vocab; i++)
            if (logprobs[i] > mx) {
                mx = logprobs[i];
                im = i;
            }
        /* the first index of the maximum probability is at or before im */
        for (int i = 0; i <= im; i++) {
            if (!(logprobs[i] >= mx - 1e-3f))
                continue;
            const float p = expf(logprobs[i]);
            if (t.p < p) {
                t.id = i;
                t.p = p;
                t.plog = logprobs[i];
            }
        }
    }
    wsp__token_ts_info(v, probs, logprobs, &t);
    return t;
}

/* MT19937 parameters (ISO C++ [rand.predef] mt19937; Matsumoto & Nishimura 1998). */
#define MT_N 624
#define MT_M 397
#define MT_MATRIX_A 0x9908b0dfu
#define MT_UPPER 0x80000000u
#define MT_LOWER 0x7fffffffu
#define MT_INIT_MULT 1812433253u

void wsp__rng_seed(wsp__rng *r, uint32_t seed)
{
    r->mt[0] = seed;
    for (uint32_t k = 1; k < MT_N; k++) {
        const uint32_t prev = r->mt[k - 1];
        r->mt[k] = MT_INIT_MULT * (prev ^ (prev >> 30)) + k;
    }
    r->i = MT_N;
}

/* Regenerates all 624 words of the state (the "twist"). */
static void mt_twist(wsp__rng *r)
{
    for (int k = 0; k < MT_N; k++) {
        const uint32_t y = (r->mt[k] & MT_UPPER) | (r->mt[(k + 1) % MT_N] & MT_LOWER);
        r->mt[k] = r->mt[(k + MT_M) % MT_N] ^ (y >> 1) ^ ((y & 1u) ? MT_MATRIX_A : 0u);
    }
    r->i = 0;
}

uint32_t wsp__rng_next(wsp__rng *r)
{
    if (r->i >= MT_N)
        mt_twist(r);
    uint32_t y = r->mt[r->i++];
    /* tempering */
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

double wsp__rng_canonical(wsp__rng *r)
{
    /* k = ceil(53 / 32) = 2 outputs, low word first; each step in double */
    double sum = (double)wsp__rng_next(r);
    sum += (double)wsp__rng_next(r) * 4294967296.0;
    double u = sum / 18446744073709551616.0;
    if (u >= 1.0)
        u = nextafter(1.0, 0.0);
    return u;
}

int wsp__discrete_draw(wsp__rng *r, const float *w, int n)
{
    if (n < 2)
        return 0;
    double sum = 0.0;
    for (int i = 0; i < n; i++)
        sum += (double)w[i];
    if (!(sum > 0.0))
        return -1;
    const double u = wsp__rng_canonical(r);
    double cp = 0.0;
    for (int i = 0; i < n - 1; i++) {
        cp += (double)w[i] / sum;
        if (!(cp < u))
            return i;
    }
    return n - 1; /* the last prefix sum is 1.0 >= u */
}

wsp_token wsp__sample_random(const wsp__vocab *v, const float *probs, const float *logprobs,
                             wsp__rng *rng)
{
    const int pick = wsp__discrete_draw(rng, probs, v->n_vocab);
    if (pick < 0)
        return wsp__sample_best(v, probs, logprobs);
    wsp_token t = {0};
    t.id = pick;
    t.p = probs[pick];
    t.plog = logprobs[pick];
    wsp__token_ts_info(v, probs, logprobs, &t);
    return t;
}

int wsp__topk(const float *logprobs, int n, int k, int32_t *ids)
{
    int m = 0; /* ids[0..m) sorted best first */
    for (int i = 0; i < n; i++) {
        const float x = logprobs[i];
        if (!(x > -INFINITY))
            continue;
        if (m == k && !(x > logprobs[ids[m - 1]]))
            continue; /* not better than the worst kept (ties keep the lower id) */
        int pos = m < k ? m : k - 1;
        while (pos > 0 && x > logprobs[ids[pos - 1]]) {
            ids[pos] = ids[pos - 1];
            pos--;
        }
        ids[pos] = i;
        if (m < k)
            m++;
    }
    return m;
}

float wsp__no_speech_prob(const wsp__vocab *v, const float *raw_logits)
{
    const int n = v->n_vocab;
    float mx = -INFINITY;
    for (int i = 0; i < n; i++)
        if (raw_logits[i] > mx)
            mx = raw_logits[i];
    float sum = 0.0f;
    for (int i = 0; i < n; i++)
        if (raw_logits[i] > -INFINITY)
            sum += expf(raw_logits[i] - mx);
    const float lse = logf(sum) + mx;
    return raw_logits[v->nosp] == -INFINITY ? 0.0f : expf(raw_logits[v->nosp] - lse);
}

/* qsort order of token ids. */
static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

double wsp__sequence_score(const wsp_token *tokens, int n, float length_penalty, double *avg,
                           double *entropy)
{
    *entropy = 0.0;
    if (n <= 0) {
        *avg = -INFINITY;
        return -INFINITY;
    }
    double sum = 0.0;
    for (int i = 0; i < n; i++)
        sum += tokens[i].plog;
    *avg = sum / n;
    double penalty = n;
    if (length_penalty > 0.0f)
        penalty = pow((5.0 + penalty) / 6.0, length_penalty);
    /* entropy of the last 32 ids (ref: whisper.cpp whisper_sequence_score) */
    int32_t last[32];
    const int c = n < 32 ? n : 32;
    for (int i = 0; i < c; i++)
        last[i] = tokens[n - c + i].id;
    qsort(last, (size_t)c, sizeof last[0], cmp_i32);
    double h = 0.0;
    for (int i = 0; i < c;) {
        int j = i;
        while (j < c && last[j] == last[i])
            j++;
        const double p = (double)(j - i) / c;
        h -= p * log(p);
        i = j;
    }
    *entropy = h;
    return sum / penalty;
}

float wsp__compression_ratio(const uint8_t *bytes, size_t n)
{
    if (n == 0)
        return 0.0f;
    uLongf cap = compressBound((uLong)n);
    Bytef *buf = malloc(cap);
    if (!buf)
        return -1.0f;
    int rc = compress2(buf, &cap, bytes, (uLong)n, Z_DEFAULT_COMPRESSION);
    free(buf);
    if (rc != Z_OK || cap == 0)
        return -1.0f;
    return (float)((double)n / (double)cap);
}
