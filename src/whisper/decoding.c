/*
 * decoding.c — one window: prompt, decoder loop (greedy / sampling / beam), ranking,
 * temperature fallback.  See decoding.h for the rules and their sources.
 * ref: whisper.cpp src/whisper.cpp whisper_full_with_state (decoder loop, completion and
 *      failure rules, ranking, fallback); OpenAI whisper/decoding.py (beam search,
 *      ranking) and transcribe.py (fallback thresholds, compression ratio).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "whisper/decoding.h"

#define WSP__DELTA_MIN 10      /* frames: "end of audio reached" slack (whisper.cpp) */
#define WSP__CHUNK_FRAMES 3000 /* 30 s in 10 ms frames */

typedef struct dec {
    float *raw, *logits, *logprobs, *probs; /* [n_vocab] */
    wsp_token *seq;                         /* [n_text_ctx] sampled tokens */
    int32_t *ids;                           /* [n_text_ctx] their ids (for the filters) */
    int n, result_len, seek_delta;
    bool has_ts, failed, completed;
    double sum_all, score, avg, entropy;
    wsp__rng rng;
} dec;

/* Beam search snapshot of one decoder (before this step's reassignment). */
typedef struct snap {
    wsp_token *seq; /* [n_text_ctx] */
    int n, result_len, seek_delta;
    bool has_ts;
    double sum_all;
} snap;

typedef struct cand {
    int src, rank;
    wsp_token tok;
    double sum_all;
} cand;

struct wsp__dws {
    const wsp__vocab *v;
    int n_text_ctx, n_dec;
    dec *d;         /* [n_dec] */
    snap *s;        /* [n_dec] */
    cand *c;        /* [n_dec · n_dec] */
    int32_t *topk;  /* [n_dec] */
    int32_t *prompt;/* [n_text_ctx] */
    wsp__row *rows; /* [n_text_ctx] rows of one decoder call */
    uint8_t *text;  /* bytes of the best sequence (compression ratio) */
    size_t text_cap;
};

int wsp__dws_new(const wsp__vocab *v, int n_text_ctx, int n_decoders, uint32_t seed,
                 wsp__dws **out)
{
    if (!out || !v || n_text_ctx <= 8 || n_decoders <= 0)
        return WSP_EINVAL;
    *out = NULL;
    wsp__dws *ws = calloc(1, sizeof *ws);
    if (!ws)
        return WSP_ENOMEM;
    ws->v = v;
    ws->n_text_ctx = n_text_ctx;
    ws->n_dec = n_decoders;
    const size_t nv = (size_t)v->n_vocab, nc = (size_t)n_text_ctx;
    ws->d = calloc((size_t)n_decoders, sizeof *ws->d);
    ws->s = calloc((size_t)n_decoders, sizeof *ws->s);
    ws->c = calloc((size_t)n_decoders * (size_t)n_decoders, sizeof *ws->c);
    ws->topk = calloc((size_t)n_decoders, sizeof *ws->topk);
    ws->prompt = calloc(nc, sizeof *ws->prompt);
    ws->rows = calloc(nc > (size_t)n_decoders ? nc : (size_t)n_decoders, sizeof *ws->rows);
    ws->text_cap = nc * 64;
    ws->text = malloc(ws->text_cap);
    int ok = ws->d && ws->s && ws->c && ws->topk && ws->prompt && ws->rows && ws->text;
    for (int j = 0; ok && j < n_decoders; j++) {
        dec *d = &ws->d[j];
        d->raw = malloc(sizeof(float) * nv);
        d->logits = malloc(sizeof(float) * nv);
        d->logprobs = malloc(sizeof(float) * nv);
        d->probs = malloc(sizeof(float) * nv);
        d->seq = calloc(nc, sizeof *d->seq);
        d->ids = calloc(nc, sizeof *d->ids);
        ws->s[j].seq = calloc(nc, sizeof *ws->s[j].seq);
        ok = d->raw && d->logits && d->logprobs && d->probs && d->seq && d->ids && ws->s[j].seq;
        wsp__rng_seed(&d->rng, seed + (uint32_t)j);
    }
    if (!ok) {
        wsp__dws_free(ws);
        return WSP_ENOMEM;
    }
    *out = ws;
    return 0;
}

void wsp__dws_free(wsp__dws *ws)
{
    if (!ws)
        return;
    for (int j = 0; ws->d && j < ws->n_dec; j++) {
        free(ws->d[j].raw);
        free(ws->d[j].logits);
        free(ws->d[j].logprobs);
        free(ws->d[j].probs);
        free(ws->d[j].seq);
        free(ws->d[j].ids);
    }
    for (int j = 0; ws->s && j < ws->n_dec; j++)
        free(ws->s[j].seq);
    free(ws->d);
    free(ws->s);
    free(ws->c);
    free(ws->topk);
    free(ws->prompt);
    free(ws->rows);
    free(ws->text);
    free(ws);
}

/* Filters + log-softmax for decoder d; the full probability row only when sampling
 * (T > 0) needs it — greedy and beam search exponentiate just what they use. */
static void process(const wsp__dws *ws, const wsp__window_opts *o, dec *d, float t)
{
    wsp__ts_state st = {d->ids, d->n, d->has_ts, d->seek_delta};
    wsp__process_logits(ws->v, &o->filter, &st, t, d->raw, d->logits, d->logprobs,
                        t > 0.0f ? d->probs : NULL);
}

/* Appends a sampled token to decoder d (capacity n_text_ctx, checked by the caller's
 * step limit) and adds its log-prob to the running sum. */
static void push(dec *d, wsp_token tok)
{
    d->seq[d->n] = tok;
    d->ids[d->n] = tok.id;
    d->n++;
    d->sum_all += tok.plog;
}

/* qsort order of beam candidates: cumulative log-prob descending, then source beam,
 * then rank within the beam (deterministic ties). */
static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->sum_all != y->sum_all)
        return x->sum_all > y->sum_all ? -1 : 1;
    if (x->src != y->src)
        return x->src < y->src ? -1 : 1;
    return (x->rank > y->rank) - (x->rank < y->rank);
}

/* Whether snapshot sequence sa + ta equals decoder b's (already reassigned) sequence. */
static bool same_seq(const snap *sa, int32_t ta, const dec *b)
{
    if (sa->n + 1 != b->n || b->seq[b->n - 1].id != ta)
        return false;
    for (int k = sa->n - 1; k >= 0; k--)
        if (sa->seq[k].id != b->seq[k].id)
            return false;
    return true;
}


/* One beam-search step: candidates from every live decoder, reassignment, caches. */
static void beam_step(wsp__dws *ws, const wsp__lm *lm, const wsp__window_opts *o, int n_cur,
                      int n_past)
{
    const wsp__vocab *v = ws->v;
    const int k = o->beam_size < n_cur ? o->beam_size : n_cur;
    int nc = 0;
    bool live[64] = {0};
    for (int j = 0; j < n_cur; j++) {
        dec *d = &ws->d[j];
        if (d->completed || d->failed)
            continue;
        live[j] = true;
        int m = wsp__topk(d->logprobs, v->n_vocab, k, ws->topk);
        for (int r = 0; r < m; r++) {
            cand *c = &ws->c[nc++];
            c->src = j;
            c->rank = r;
            memset(&c->tok, 0, sizeof c->tok);
            c->tok.id = ws->topk[r];
            c->tok.p = expf(d->logprobs[c->tok.id]);
            c->tok.plog = d->logprobs[c->tok.id];
            wsp__token_ts_info(v, NULL, d->logprobs, &c->tok);
            c->sum_all = d->sum_all + c->tok.plog;
        }
        snap *s = &ws->s[j];
        memcpy(s->seq, d->seq, sizeof *s->seq * (size_t)d->n);
        s->n = d->n;
        s->result_len = d->result_len;
        s->seek_delta = d->seek_delta;
        s->has_ts = d->has_ts;
        s->sum_all = d->sum_all;
    }
    if (nc == 0)
        return;
    qsort(ws->c, (size_t)nc, sizeof *ws->c, cmp_cand);

    int parent[64];
    bool taken[64 * 64] = {0};
    int assigned[64], n_assigned = 0;
    for (int j = 0; j < n_cur; j++) {
        parent[j] = j;
        if (!live[j])
            continue;
        int pick = -1;
        for (int ci = 0; ci < nc && pick < 0; ci++) {
            if (taken[ci])
                continue;
            bool dup = false;
            for (int a = 0; a < n_assigned && !dup; a++)
                dup = same_seq(&ws->s[ws->c[ci].src], ws->c[ci].tok.id, &ws->d[assigned[a]]);
            if (!dup)
                pick = ci;
        }
        if (pick < 0) /* fewer distinct candidates than beams: reuse the best */
            pick = 0;
        taken[pick] = true;
        const cand *c = &ws->c[pick];
        const snap *s = &ws->s[c->src];
        dec *d = &ws->d[j];
        memcpy(d->seq, s->seq, sizeof *d->seq * (size_t)s->n);
        for (int q = 0; q < s->n; q++)
            d->ids[q] = s->seq[q].id;
        d->n = s->n;
        d->result_len = s->result_len;
        d->seek_delta = s->seek_delta;
        d->has_ts = s->has_ts;
        d->sum_all = s->sum_all;
        push(d, c->tok);
        parent[j] = c->src;
        assigned[n_assigned++] = j;
    }
    for (int j = 0; j < n_cur; j++)
        if (!live[j])
            parent[j] = -1;
    lm->kv_reorder(lm->ctx, parent, n_cur, n_past);
}

/* Completion / failure bookkeeping after decoder d sampled its token number i.
 * ref: whisper.cpp whisper_full_with_state ("update the decoder state"). */
static void update_state(const wsp__dws *ws, const wsp__window_opts *o, dec *d, int i, int n_max)
{
    const wsp__vocab *v = ws->v;
    const wsp_token *tok = &d->seq[d->n - 1];
    const bool no_ts = o->filter.no_timestamps;
    if (tok->id > v->beg) {
        const int sd = 2 * (tok->id - v->beg);
        if (d->has_ts && d->seek_delta > sd && d->result_len < i) {
            d->failed = true; /* went back in time */
            return;
        }
        d->seek_delta = sd;
        d->result_len = i + 1;
        d->has_ts = true;
    }
    const bool at_end = o->seek + d->seek_delta + WSP__DELTA_MIN >= o->seek_end;
    if (tok->id == v->eot || (d->has_ts && at_end)) {
        if (d->result_len == 0 && !no_ts) {
            if (at_end) {
                d->result_len = i + 1;
            } else {
                d->failed = true;
                return;
            }
        }
        if (no_ts) {
            d->result_len = i + 1;
            d->seek_delta = WSP__CHUNK_FRAMES;
        }
        d->completed = true;
        return;
    }
    if (i == n_max - 1 && (d->result_len == 0 || d->seek_delta < WSP__CHUNK_FRAMES / 2))
        d->failed = true; /* repetition loop */
}

/* Polls the caller's abort callback (NULL = never). */
static bool aborted(const wsp__window_opts *o)
{
    return o->abort_cb && o->abort_cb(o->abort_user_data);
}

/* Text bytes of seq[0..n) (ids below <|endoftext|>) into ws->text; returns the count. */
static size_t seq_text(wsp__dws *ws, const wsp_token *seq, int n)
{
    const wsp__vocab *v = ws->v;
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        if (seq[i].id < 0 || seq[i].id >= v->eot || !v->bytes || !v->bytes[seq[i].id])
            continue;
        const uint32_t l = v->len[seq[i].id];
        if (len + l > ws->text_cap) {
            size_t cap = (len + l) * 2;
            uint8_t *b = realloc(ws->text, cap);
            if (!b)
                break; /* ratio over what fits; never fails the window */
            ws->text = b;
            ws->text_cap = cap;
        }
        memcpy(ws->text + len, v->bytes[seq[i].id], l);
        len += l;
    }
    return len;
}

/* Prompt tokens ws->prompt[p0..p1) on decoder 0 at positions p0…, logits of the last. */
static int decode_prompt(wsp__dws *ws, const wsp__lm *lm, int p0, int p1, float *logits)
{
    for (int p = p0; p < p1; p++)
        ws->rows[p - p0] = (wsp__row){.token = ws->prompt[p], .pos = p, .seq = 0,
                                      .logits = p == p1 - 1 ? logits : NULL};
    return lm->decode(lm->ctx, ws->rows, p1 - p0);
}

/* One sampling step: the last token of every live decoder j < n_cur at position pos,
 * logits into its raw row — all of them in one batched pass, or one pass per decoder
 * when o->batch_rows <= 1 (the unbatched reference path; same results: the rows of a
 * pass do not affect each other, engine.h wsp__decode_batch).  Polls the abort callback
 * before every pass; counts the passes in *n_calls. */
static int decode_step(wsp__dws *ws, const wsp__lm *lm, const wsp__window_opts *o, int n_cur,
                       int pos, int *n_calls)
{
    const int per = o->batch_rows > 1 ? o->batch_rows : 1;
    int k = 0;
    for (int j = 0; j <= n_cur; j++) {
        if (j < n_cur) {
            dec *d = &ws->d[j];
            if (d->completed || d->failed)
                continue;
            ws->rows[k++] = (wsp__row){.token = d->ids[d->n - 1], .pos = pos, .seq = j,
                                       .logits = d->raw};
        }
        if (k > 0 && (k == per || j == n_cur)) {
            if (aborted(o))
                return WSP_ECANCELED;
            int rc = lm->decode(lm->ctx, ws->rows, k);
            (*n_calls)++;
            if (rc)
                return rc;
            k = 0;
        }
    }
    return 0;
}

/* Decodes the window at temperature t with n_cur decoders; fills the decoders. */
static int run_attempt(wsp__dws *ws, const wsp__lm *lm, const wsp__window_opts *o, float t,
                       int n_cur, bool beam, int *n_prompt_out, int *n_past_used, float *nsp,
                       int *n_calls)
{
    const wsp__vocab *v = ws->v;
    const int n_ctx = ws->n_text_ctx;

    /* prompt: [<|startofprev|> past…] init… (ref: whisper.cpp "init prompt") */
    int np = 0, n_take = 0;
    if (o->n_past > 0 && t < 0.5f && o->n_max_text_ctx > 0) {
        n_take = o->n_past;
        if (n_take > o->n_max_text_ctx)
            n_take = o->n_max_text_ctx;
        if (n_take > n_ctx / 2 - 1)
            n_take = n_ctx / 2 - 1;
        ws->prompt[np++] = v->prev;
        memcpy(ws->prompt + np, o->past + (o->n_past - n_take), sizeof(int32_t) * (size_t)n_take);
        np += n_take;
    }
    if (np + o->n_init >= n_ctx)
        return WSP_EINVAL;
    memcpy(ws->prompt + np, o->init, sizeof(int32_t) * (size_t)o->n_init);
    np += o->n_init;
    *n_prompt_out = np;
    *n_past_used = n_take;

    for (int j = 0; j < n_cur; j++) {
        dec *d = &ws->d[j];
        d->n = 0;
        d->result_len = 0;
        d->sum_all = 0.0;
        d->score = d->avg = -INFINITY;
        d->entropy = 0.0;
        d->seek_delta = WSP__CHUNK_FRAMES;
        d->has_ts = d->failed = d->completed = false;
    }

    if (aborted(o))
        return WSP_ECANCELED;
    /* The prompt goes in two batches: up to <|startoftranscript|>, whose output row gives
     * P(<|nospeech|>) (OpenAI decoding.py: probs at sot_index), then the task tokens,
     * whose last row starts the sampling.  whisper.cpp instead reads row 0 of its batch
     * logits, a row its decoder never writes (zeros or a stale step: ≈ 1/n_vocab in the
     * golden transcripts) — we do not reproduce that. */
    dec *d0 = &ws->d[0];
    const int n_head = np - o->n_init + 1; /* tokens up to and including the sot */
    int rc = decode_prompt(ws, lm, 0, n_head, d0->raw);
    (*n_calls)++;
    if (rc)
        return rc;
    *nsp = wsp__no_speech_prob(v, d0->raw);
    if (np > n_head) {
        if (aborted(o))
            return WSP_ECANCELED;
        rc = decode_prompt(ws, lm, n_head, np, d0->raw);
        (*n_calls)++;
        if (rc)
            return rc;
    }
    process(ws, o, d0, t);
    const size_t row = sizeof(float) * (size_t)v->n_vocab;
    if (n_cur > 1) { /* every decoder starts from the prompt's cache */
        int zero[64] = {0};
        lm->kv_reorder(lm->ctx, zero, n_cur, np);
    }
    for (int j = 1; j < n_cur; j++) {
        memcpy(ws->d[j].logits, d0->logits, row);
        memcpy(ws->d[j].logprobs, d0->logprobs, row);
        if (t > 0.0f)
            memcpy(ws->d[j].probs, d0->probs, row);
    }

    int n_max = n_ctx / 2 - 4;
    if (n_max > n_ctx - np)
        n_max = n_ctx - np;
    int n_finished_target = n_cur;
    if (beam && o->patience > 0.0f) {
        n_finished_target = (int)lroundf((float)o->beam_size * o->patience);
        if (n_finished_target < 1)
            n_finished_target = 1;
    }
    for (int i = 0; i < n_max; i++) {
        if (beam) {
            beam_step(ws, lm, o, n_cur, np + i);
        } else {
            for (int j = 0; j < n_cur; j++) {
                dec *d = &ws->d[j];
                if (d->completed || d->failed)
                    continue;
                push(d, t < 1e-6f ? wsp__sample_best(v, t > 0.0f ? d->probs : NULL, d->logprobs)
                                  : wsp__sample_random(v, d->probs, d->logprobs, &d->rng));
            }
        }
        int live = 0, n_completed = 0;
        for (int j = 0; j < n_cur; j++) {
            dec *d = &ws->d[j];
            if (!d->completed && !d->failed)
                update_state(ws, o, d, i, n_max);
            live += !d->completed && !d->failed;
            n_completed += d->completed;
        }
        if (live == 0 || i == n_max - 1)
            break;
        if (beam && n_completed >= n_finished_target) {
            for (int j = 0; j < n_cur; j++)
                if (!ws->d[j].completed)
                    ws->d[j].failed = true; /* unfinished beams lose (patience reached) */
            break;
        }
        rc = decode_step(ws, lm, o, n_cur, np + i, n_calls);
        if (rc)
            return rc;
        for (int j = 0; j < n_cur; j++)
            if (!ws->d[j].completed && !ws->d[j].failed)
                process(ws, o, &ws->d[j], t);
    }
    return 0;
}

int wsp__decode_window(wsp__dws *ws, const wsp__lm *lm, const wsp__window_opts *o,
                       wsp__window_out *out)
{
    if (!ws || !lm || !o || !out || o->n_temperatures <= 0 || o->n_init <= 0)
        return WSP_EINVAL;
    memset(out, 0, sizeof *out);
    int best = 0; /* persists across temperatures, as whisper.cpp's best_decoder_id */
    float t_used = o->temperatures[0];
    float nsp = 0.0f;
    int n_past_used = 0;
    for (int it = 0; it < o->n_temperatures; it++) {
        const float t = o->temperatures[it];
        const bool beam = o->strategy == WSP_SAMPLING_BEAM_SEARCH && !(t > 0.0f);
        int n_cur = beam ? o->beam_size : (t > 0.0f ? o->best_of : 1);
        const int cap = beam ? lm->n_decoders - 1 : lm->n_decoders; /* beam: one spare */
        if (n_cur > cap)
            n_cur = cap;
        if (n_cur > ws->n_dec - (beam ? 1 : 0))
            n_cur = ws->n_dec - (beam ? 1 : 0);
        if (n_cur > 63)
            n_cur = 63; /* bound of the beam bookkeeping arrays */
        if (n_cur < 1)
            n_cur = 1;
        const bool beam_ok = beam && n_cur + 1 <= lm->n_decoders && n_cur < 64;
        int np = 0;
        int rc = run_attempt(ws, lm, o, t, n_cur, beam_ok, &np, &n_past_used, &nsp,
                             &out->n_decode_calls);
        if (rc)
            return rc;
        t_used = t;

        /* rank (ref: whisper.cpp "rank the resulting sequences") */
        double best_score = -INFINITY;
        for (int j = 0; j < n_cur; j++) {
            dec *d = &ws->d[j];
            if (d->failed)
                continue;
            d->n = d->result_len;
            d->score = wsp__sequence_score(d->seq, d->n, o->length_penalty, &d->avg, &d->entropy);
            if (d->result_len > 32 && d->entropy < o->entropy_thold) {
                d->failed = true;
                continue;
            }
            if (best_score < d->score) {
                best_score = d->score;
                best = j;
            }
        }
        if (best >= n_cur)
            best = 0;
        const dec *b = &ws->d[best];
        out->compression_ratio = wsp__compression_ratio(ws->text, seq_text(ws, b->seq, b->n));
        if (it == o->n_temperatures - 1)
            break;
        const bool silent = nsp > o->no_speech_thold && b->avg < o->logprob_thold;
        const bool too_compressible = o->compression_ratio_threshold > 0.0f &&
                                      out->compression_ratio > o->compression_ratio_threshold;
        const bool low_logprob = b->avg < o->logprob_thold;
        if (!b->failed && !((too_compressible || low_logprob) && !silent))
            break;
        out->n_fallbacks++;
    }
    const dec *b = &ws->d[best];
    out->tokens = b->seq;
    out->n_tokens = b->n;
    out->result_len = b->result_len;
    out->seek_delta = b->seek_delta;
    out->temperature = t_used;
    out->no_speech_prob = nsp;
    out->avg_logprobs = b->avg;
    double sum = 0.0;
    for (int i = 0; i < b->n; i++)
        sum += b->seq[i].plog;
    out->avg_logprob = b->n > 0 ? (float)(sum / b->n) : 0.0f;
    out->failed = b->failed;
    out->n_past_used = n_past_used;
    return 0;
}
