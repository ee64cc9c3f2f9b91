/*
 * test_whisper_decoding.c — the window decoder on a scripted language model (logits
 * chosen per step and per decoder history) and on the micro model:
 *  - temperature fallback triggered by a crafted repetitive sequence (compression ratio
 *    above the threshold → the window is retried at a higher temperature);
 *  - beam search finds a better sequence than greedy, and forks/permutes KV caches;
 *  - beam size 1 equals greedy (scripted model and micro model on jfk.wav);
 *  - wsp_transcribe: language detection (valid code, 0 < p <= 1), progress and segment
 *    callbacks, cancellation (WSP_ECANCELED, no result), argument errors.
 */
#include "testutil.h"

#include <math.h>

#include "whisper/decoding.h"
#include "whisper/state.h"
#include "whisper/tokenizer.h"

#define NV 51865
#define CTX 448

/* ---- a synthetic vocabulary: 5 pseudo-random lowercase letters per base token ---- */
static wsp__vocab g_v;
static uint8_t g_words[50257][6];
static const uint8_t *g_bytes[NV];
static uint32_t g_len[NV];

static int setup(void **state)
{
    (void)state;
    if (wsp__vocab_set_specials(&g_v, NV))
        return -1;
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < g_v.n_base; i++) {
        g_words[i][0] = ' ';
        for (int k = 1; k < 6; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            g_words[i][k] = (uint8_t)('a' + x % 26);
        }
        g_bytes[i] = g_words[i];
        g_len[i] = 6;
    }
    for (int i = g_v.n_base; i < NV; i++) {
        g_bytes[i] = (const uint8_t *)"[_X_]";
        g_len[i] = 5;
    }
    g_v.bytes = g_bytes;
    g_v.len = g_len;
    return 0;
}

/* ---- scripted language model ---- */
enum { SCRIPT_REPEAT = 1, SCRIPT_BEAM = 2, SCRIPT_PROMPT = 3, SCRIPT_TS = 4, SCRIPT_NO_TS = 5 };
typedef struct fake {
    int script;
    int n_prompt;
    int32_t prompt[CTX]; /* the last prompt batch */
    int32_t hist[8][CTX];
    int len[8];
    int calls, copies, rows, max_rows;
} fake;

/* The scripted logits of decoder d after `step` generated tokens (its history). */
static void fake_logits(fake *f, int d, int step, float *l);

static int fake_decode(void *ctx, const wsp__row *rows, int n)
{
    fake *f = ctx;
    f->calls++;
    f->rows += n;
    if (n > f->max_rows)
        f->max_rows = n;
    if (rows[0].pos == 0) { /* prompt head (… <|startoftranscript|>) */
        f->n_prompt = n;
        for (int i = 0; i < n; i++)
            f->prompt[i] = rows[i].token;
    } else if (n > 1 && rows[0].seq == rows[n - 1].seq) { /* prompt tail: the task tokens */
        for (int i = 0; i < n; i++)
            f->prompt[rows[i].pos] = rows[i].token;
        f->n_prompt = rows[n - 1].pos + 1;
    }
    for (int i = 0; i < n; i++) {
        f->hist[rows[i].seq][rows[i].pos] = rows[i].token;
        f->len[rows[i].seq] = rows[i].pos + 1;
    }
    for (int i = 0; i < n; i++)
        if (rows[i].logits) /* step: tokens generated so far */
            fake_logits(f, rows[i].seq, rows[i].pos + 1 - f->n_prompt, rows[i].logits);
    return 0;
}

static void fake_logits(fake *f, int d, int step, float *l)
{
    for (int i = 0; i < NV; i++)
        l[i] = -20.0f;
    if (f->script == SCRIPT_TS) {
        /* <|0.10|> text <|2.00|> <|endoftext|> */
        const int32_t want[4] = {g_v.beg + 5, 1000, g_v.beg + 100, g_v.eot};
        l[want[step < 4 ? step : 3]] = 10.0f;
    } else if (f->script == SCRIPT_NO_TS) {
        l[step == 0 ? 1000 : g_v.eot] = 10.0f; /* text, then <|endoftext|>: no timestamp */
    } else if (f->script == SCRIPT_PROMPT) {
        l[step == 0 ? 1000 : g_v.eot] = 10.0f;
    } else if (f->script == SCRIPT_REPEAT) {
        /* T = 0 repeats token 500 sixty times; T > 0 samples among 101 near-equal words */
        l[500] = 5.0f;
        for (int i = 1000; i < 1100; i++)
            l[i] = 4.99f;
        l[g_v.eot] = step < 60 ? 0.0f : 8.0f;
    } else {
        /* greedy takes 1000 (p 0.55) into a flat continuation (100 ways, −4.6 each);
         * 1001 (p 0.45) leads to a certain 3000: the better sequence overall */
        if (step == 0) {
            l[1000] = 1.0f;
            l[1001] = 0.8f;
        } else if (step == 1) {
            if (f->hist[d][f->n_prompt] == 1000)
                for (int i = 2000; i < 2100; i++)
                    l[i] = 0.0f;
            else
                l[3000] = 12.0f;
        } else {
            l[g_v.eot] = 20.0f;
        }
    }
}

/* The seam's contract on the scripted caches (histories): decoder j gets parent[j]'s.
 * Counts the copies an index-swapping engine would do (a parent's 2nd, 3rd … child). */
static void fake_copy(void *ctx, const int *parent, int n, int n_past)
{
    fake *f = ctx;
    int32_t old[8][CTX];
    memcpy(old, f->hist, sizeof old);
    bool first[8] = {0};
    for (int j = 0; j < n && j < 8; j++) {
        const int p = parent[j];
        if (p < 0)
            continue;
        if (first[p])
            f->copies++;
        first[p] = true;
        memcpy(f->hist[j], old[p], sizeof(int32_t) * (size_t)n_past);
        f->len[j] = n_past;
    }
}

static wsp__window_opts base_opts(const float *temps, int n_temps, const int32_t *init)
{
    wsp__window_opts o = {
        .strategy = WSP_SAMPLING_GREEDY, .best_of = 1, .beam_size = 1, .patience = 1.0f,
        .length_penalty = -1.0f, .temperatures = temps, .n_temperatures = n_temps,
        .entropy_thold = 2.4f, .logprob_thold = -1.0f, .no_speech_thold = 0.6f,
        .compression_ratio_threshold = 2.4f,
        .filter = {.suppress_blank = true, .no_timestamps = true, .max_initial_ts = 1.0f,
                   .n_audio_ctx = 1500, .blank_id = 220},
        .seek = 0, .seek_end = 3000, .n_max_text_ctx = 16384, .init = init, .n_init = 4};
    return o;
}

static void test_fallback_on_compression_ratio(void **state)
{
    (void)state;
    const int32_t init[4] = {g_v.sot, g_v.lang_first, g_v.transcribe, g_v.notimestamps};
    const float temps[6] = {0.0f, 0.2f, 0.4f, 0.6f, 0.8f, 1.0f};
    fake f = {.script = SCRIPT_REPEAT};
    wsp__lm lm = {fake_decode, fake_copy, &f, 8, CTX};
    wsp__dws *ws = NULL;
    assert_int_equal(wsp__dws_new(&g_v, CTX, 8, 7, &ws), 0);
    wsp__window_opts o = base_opts(temps, 6, init);
    o.entropy_thold = 0.0f;      /* isolate the compression-ratio test */
    o.logprob_thold = -INFINITY; /* (every token here has p ≈ 1/100) */
    o.best_of = 3;
    wsp__window_out w;

    /* control: without the threshold the repetitive T = 0 decode is accepted */
    o.compression_ratio_threshold = 0.0f;
    assert_int_equal(wsp__decode_window(ws, &lm, &o, &w), 0);
    assert_true(w.temperature == 0.0f);
    assert_int_equal(w.n_fallbacks, 0);
    assert_int_equal(w.n_tokens, 61); /* 60 × token 500, then <|endoftext|> */
    for (int i = 0; i < 60; i++)
        assert_int_equal(w.tokens[i].id, 500);
    assert_int_equal(w.tokens[60].id, g_v.eot);
    assert_true(w.compression_ratio > 2.4f);
    print_message("T=0: compression ratio %.2f\n", (double)w.compression_ratio);

    /* with it: retried at a higher temperature, whose text is not repetitive */
    o.compression_ratio_threshold = 2.4f;
    assert_int_equal(wsp__decode_window(ws, &lm, &o, &w), 0);
    print_message("accepted T=%.1f after %d fallback(s): ratio %.2f, %d tokens\n",
                  (double)w.temperature, w.n_fallbacks, (double)w.compression_ratio, w.n_tokens);
    assert_true(w.temperature > 0.0f);
    assert_true(w.n_fallbacks >= 1);
    assert_true(w.compression_ratio <= 2.4f);
    int n500 = 0;
    for (int i = 0; i < w.n_tokens; i++)
        n500 += w.tokens[i].id == 500;
    assert_true(n500 < 30);
    assert_int_equal(w.tokens[w.n_tokens - 1].id, g_v.eot);

    /* reproducible: a new workspace with the same seed gives the same tokens */
    wsp__dws *ws2 = NULL;
    assert_int_equal(wsp__dws_new(&g_v, CTX, 8, 7, &ws2), 0);
    wsp__window_out w1, w2;
    assert_int_equal(wsp__decode_window(ws2, &lm, &o, &w2), 0);
    wsp__dws_free(ws);
    ws = NULL;
    assert_int_equal(wsp__dws_new(&g_v, CTX, 8, 7, &ws), 0);
    assert_int_equal(wsp__decode_window(ws, &lm, &o, &w1), 0);
    assert_int_equal(w1.n_tokens, w2.n_tokens);
    for (int i = 0; i < w1.n_tokens; i++)
        assert_int_equal(w1.tokens[i].id, w2.tokens[i].id);
    wsp__dws_free(ws2);
    wsp__dws_free(ws);
}

static void test_repetition_loop_fails_and_falls_back(void **state)
{
    (void)state;
    /* with entropy_thold the same repetitive decode fails (whisper.cpp's test) */
    const int32_t init[4] = {g_v.sot, g_v.lang_first, g_v.transcribe, g_v.notimestamps};
    const float temps[2] = {0.0f, 0.5f};
    fake f = {.script = SCRIPT_REPEAT};
    wsp__lm lm = {fake_decode, fake_copy, &f, 8, CTX};
    wsp__dws *ws = NULL;
    assert_int_equal(wsp__dws_new(&g_v, CTX, 8, 1, &ws), 0);
    wsp__window_opts o = base_opts(temps, 2, init);
    o.compression_ratio_threshold = 0.0f;
    o.logprob_thold = -INFINITY;
    wsp__window_out w;
    assert_int_equal(wsp__decode_window(ws, &lm, &o, &w), 0);
    assert_int_equal(w.n_fallbacks, 1);
    assert_true(w.temperature == 0.5f);
    wsp__dws_free(ws);
}

static void run_beam_rows(int strategy, int beam_size, int batch_rows, wsp__window_out *w,
                          wsp__dws **ws, fake *f)
{
    static const int32_t init[4] = {50258, 50259, 50359, 50363};
    static const float t0 = 0.0f;
    wsp__lm lm = {fake_decode, fake_copy, f, 8, CTX};
    assert_int_equal(wsp__dws_new(&g_v, CTX, 8, 1, ws), 0);
    wsp__window_opts o = base_opts(&t0, 1, init);
    o.strategy = (wsp_sampling)strategy;
    o.beam_size = beam_size;
    o.batch_rows = batch_rows;
    assert_int_equal(wsp__decode_window(*ws, &lm, &o, w), 0);
}

static void run_beam(int strategy, int beam_size, wsp__window_out *w, wsp__dws **ws, fake *f)
{
    run_beam_rows(strategy, beam_size, 1, w, ws, f);
}

static void test_beam_search_scripted(void **state)
{
    (void)state;
    wsp__dws *wg = NULL, *wb = NULL, *w1 = NULL;
    wsp__window_out g, b, b1;
    fake fg = {.script = SCRIPT_BEAM}, fb = {.script = SCRIPT_BEAM}, f1 = {.script = SCRIPT_BEAM};
    run_beam(WSP_SAMPLING_GREEDY, 1, &g, &wg, &fg);
    run_beam(WSP_SAMPLING_BEAM_SEARCH, 2, &b, &wb, &fb);
    run_beam(WSP_SAMPLING_BEAM_SEARCH, 1, &b1, &w1, &f1);
    /* greedy: 1000, then one of the flat 2000…2099 (the first), then <|endoftext|> */
    assert_int_equal(g.n_tokens, 3);
    assert_int_equal(g.tokens[0].id, 1000);
    assert_int_equal(g.tokens[1].id, 2000);
    assert_int_equal(g.tokens[2].id, g_v.eot);
    /* beam 2: the sequence with the higher total log-probability */
    assert_int_equal(b.n_tokens, 3);
    assert_int_equal(b.tokens[0].id, 1001);
    assert_int_equal(b.tokens[1].id, 3000);
    assert_int_equal(b.tokens[2].id, g_v.eot);
    assert_true(b.avg_logprobs > g.avg_logprobs);
    /* the prompt's cache forks to the 2 other decoders (2 copies); the beams' swap at step
     * 1 renames cache slots and copies nothing (it took 3 copies through a spare cache
     * before slots were renamed) */
    assert_int_equal(fb.copies, 2);
    assert_int_equal(fb.max_rows, 3); /* the task tokens after <|sot|>; steps: 1 row a call */
    /* batched: each step's live beams in one call, the same tokens in fewer calls */
    wsp__dws *wr = NULL;
    wsp__window_out br;
    fake fr = {.script = SCRIPT_BEAM};
    run_beam_rows(WSP_SAMPLING_BEAM_SEARCH, 2, 8, &br, &wr, &fr);
    assert_int_equal(br.n_tokens, b.n_tokens);
    for (int i = 0; i < b.n_tokens; i++)
        assert_int_equal(br.tokens[i].id, b.tokens[i].id);
    assert_true(br.avg_logprobs == b.avg_logprobs);
    assert_int_equal(fr.rows, fb.rows);
    assert_true(fr.calls < fb.calls);
    assert_int_equal(fr.copies, fb.copies);
    wsp__dws_free(wr);
    /* beam 1 = greedy */
    assert_int_equal(b1.n_tokens, g.n_tokens);
    for (int i = 0; i < g.n_tokens; i++)
        assert_int_equal(b1.tokens[i].id, g.tokens[i].id);
    wsp__dws_free(wg);
    wsp__dws_free(wb);
    wsp__dws_free(w1);
}

/* Prompt: <|startofprev|> + the last min(n_max_text_ctx, n_text_ctx/2 − 1) past tokens
 * + task tokens, the past only below temperature 0.5. */
static void test_prompt_from_previous_windows(void **state)
{
    (void)state;
    const int32_t init[4] = {g_v.sot, g_v.lang_first + 8, g_v.transcribe, g_v.notimestamps};
    int32_t past[300];
    for (int i = 0; i < 300; i++)
        past[i] = 10 + i;
    const float t0 = 0.0f, t6 = 0.6f;
    fake f = {.script = SCRIPT_PROMPT};
    wsp__lm lm = {fake_decode, fake_copy, &f, 8, CTX};
    wsp__dws *ws = NULL;
    assert_int_equal(wsp__dws_new(&g_v, CTX, 8, 1, &ws), 0);
    wsp__window_opts o = base_opts(&t0, 1, init);
    o.past = past;
    o.n_past = 300;
    wsp__window_out w;
    assert_int_equal(wsp__decode_window(ws, &lm, &o, &w), 0);
    assert_int_equal(w.n_past_used, 223);
    assert_int_equal(f.n_prompt, 1 + 223 + 4);
    assert_int_equal(f.prompt[0], g_v.prev);
    assert_int_equal(f.prompt[1], past[300 - 223]);
    assert_int_equal(f.prompt[223], past[299]);
    assert_memory_equal(f.prompt + 224, init, sizeof init);
    assert_int_equal(w.n_tokens, 2); /* 1000, <|endoftext|> */
    assert_int_equal(w.tokens[0].id, 1000);

    o.n_max_text_ctx = 10;
    assert_int_equal(wsp__decode_window(ws, &lm, &o, &w), 0);
    assert_int_equal(w.n_past_used, 10);
    assert_int_equal(f.n_prompt, 1 + 10 + 4);
    assert_int_equal(f.prompt[1], past[290]);

    o.temperatures = &t6; /* hot attempts ignore the past */
    assert_int_equal(wsp__decode_window(ws, &lm, &o, &w), 0);
    assert_int_equal(w.n_past_used, 0);
    assert_int_equal(f.n_prompt, 4);
    assert_memory_equal(f.prompt, init, sizeof init);
    assert_true(w.temperature == 0.6f);

    o.temperatures = &t0;
    o.n_past = 0;
    assert_int_equal(wsp__decode_window(ws, &lm, &o, &w), 0);
    assert_int_equal(f.n_prompt, 4);
    wsp__dws_free(ws);
}

/* Window rules with timestamps on: result_len / seek_delta from the last timestamp,
 * completion at the end of the audio, failure when <|endoftext|> comes without one. */
static void test_window_timestamp_rules(void **state)
{
    (void)state;
    const int32_t init[3] = {g_v.sot, g_v.lang_first, g_v.transcribe};
    const float t0 = 0.0f;
    wsp__dws *ws = NULL;
    assert_int_equal(wsp__dws_new(&g_v, CTX, 8, 1, &ws), 0);
    wsp__window_opts o = base_opts(&t0, 1, init);
    o.n_init = 3;
    o.filter.no_timestamps = false;
    wsp__window_out w;

    fake f = {.script = SCRIPT_TS};
    wsp__lm lm = {fake_decode, fake_copy, &f, 8, CTX};
    assert_int_equal(wsp__decode_window(ws, &lm, &o, &w), 0);
    assert_false(w.failed);
    assert_int_equal(w.n_tokens, 3); /* <|endoftext|> cut: tokens up to the last timestamp */
    assert_int_equal(w.result_len, 3);
    assert_int_equal(w.tokens[0].id, g_v.beg + 5);
    assert_int_equal(w.tokens[1].id, 1000);
    assert_int_equal(w.tokens[1].tid, 0); /* after a lone first timestamp none is allowed */
    assert_int_equal(w.seek_delta, 200);
    assert_int_equal(w.n_decode_calls, 5); /* prompt (2 batches) + 3 steps */

    /* the audio ends at 1.50 s: <|2.00|> reaches it → complete without <|endoftext|> */
    o.seek_end = 150;
    fake f2 = {.script = SCRIPT_TS};
    lm.ctx = &f2;
    assert_int_equal(wsp__decode_window(ws, &lm, &o, &w), 0);
    assert_false(w.failed);
    assert_int_equal(w.n_tokens, 3);
    assert_int_equal(f2.calls, 4); /* no decoder call after the completing token */

    /* <|endoftext|> with no timestamp while audio continues past this window: failed
     * (in the window that holds the end of the audio it would complete) */
    o.seek_end = 6000;
    fake f3 = {.script = SCRIPT_NO_TS};
    lm.ctx = &f3;
    assert_int_equal(wsp__decode_window(ws, &lm, &o, &w), 0);
    assert_true(w.failed);
    assert_int_equal(w.n_tokens, 2);
    assert_int_equal(w.result_len, 0);
    assert_true(isinf(w.avg_logprobs));
    wsp__dws_free(ws);
}

/* ---- the micro model ---- */


typedef struct micro {
    wsp_model *m;
    wsp_state *st;
    float *pcm;
    size_t n;
} micro;

static int micro_open(micro *mc)
{
    const char *path = tu_model("micro");
    const char *wav = tu_shared("whisper-ref/data/jfk.wav");
    if (!tu_exists(path) || !tu_exists(wav))
        return -1;
    wsp_error err;
    assert_int_equal(wsp_model_load(path, &mc->m, &err), 0);
    assert_int_equal(wsp_state_new(mc->m, &mc->st, &err), 0);
    mc->pcm = tu_read_wav_pcm16(wav, &mc->n);
    assert_non_null(mc->pcm);
    return 0;
}

static void micro_close(micro *mc)
{
    free(mc->pcm);
    wsp_state_free(mc->st);
    wsp_model_free(mc->m);
}

typedef struct lmc {
    wsp_state *st;
} lmc;
static int real_decode(void *c, const wsp__row *rows, int n)
{
    return wsp__decode_batch(((lmc *)c)->st, rows, n, 2);
}
static void real_copy(void *c, const int *parent, int n, int np)
{
    wsp__kv_reorder(((lmc *)c)->st, parent, n, np);
}

static void test_micro_beam1_equals_greedy(void **state)
{
    (void)state;
    micro mc = {0};
    if (micro_open(&mc))
        skip();
    const wsp__vocab *v = wsp__model_vocab(mc.m);
    const wsp_hparams *hp = wsp_model_hparams(mc.m);
    float *mel = NULL;
    int nf, nlo;
    assert_int_equal(wsp__mel_compute(mc.m, mc.pcm, mc.n, NULL, &mel, &nf, &nlo), 0);
    assert_int_equal(wsp__encode(mc.st, mel, nf, 0, 2), 0);
    const int32_t init[4] = {v->sot, v->lang_first, v->transcribe, v->notimestamps};
    const float t0 = 0.0f;
    lmc c = {mc.st};
    wsp__lm lm = {real_decode, real_copy, &c, wsp__n_decoders(mc.st), hp->n_text_ctx};
    wsp__window_opts o = base_opts(&t0, 1, init);
    o.seek_end = nlo;
    wsp__dws *wa = NULL, *wb = NULL;
    assert_int_equal(wsp__dws_new(v, hp->n_text_ctx, lm.n_decoders, 1, &wa), 0);
    assert_int_equal(wsp__dws_new(v, hp->n_text_ctx, lm.n_decoders, 1, &wb), 0);
    wsp__window_out g, b;
    assert_int_equal(wsp__decode_window(wa, &lm, &o, &g), 0);
    o.strategy = WSP_SAMPLING_BEAM_SEARCH;
    o.beam_size = 1;
    assert_int_equal(wsp__decode_window(wb, &lm, &o, &b), 0);
    print_message("micro window 0: greedy %d tokens, beam(1) %d tokens\n", g.n_tokens, b.n_tokens);
    assert_true(g.n_tokens > 0);
    assert_int_equal(g.n_tokens, b.n_tokens);
    for (int i = 0; i < g.n_tokens; i++)
        assert_int_equal(g.tokens[i].id, b.tokens[i].id);
    wsp__dws_free(wa);
    wsp__dws_free(wb);
    free(mel);
    micro_close(&mc);
}

typedef struct cbs {
    int progress[64], n_progress;
    int n_segments;
    int polls, abort_at;
} cbs;

static void on_progress(int pct, void *u)
{
    cbs *c = u;
    if (c->n_progress < 64)
        c->progress[c->n_progress++] = pct;
}
static void on_segment(const wsp_segment *s, int index, void *u)
{
    cbs *c = u;
    assert_int_equal(index, c->n_segments);
    assert_non_null(s->text);
    c->n_segments++;
}
static bool on_abort(void *u)
{
    cbs *c = u;
    return ++c->polls >= c->abort_at;
}

static void test_micro_language_detection_and_callbacks(void **state)
{
    (void)state;
    micro mc = {0};
    if (micro_open(&mc))
        skip();
    wsp_params p = wsp_default_params(WSP_SAMPLING_GREEDY);
    p.n_threads = 2;
    p.language = NULL; /* detect */
    p.temperature_inc = 0.0f;
    cbs c = {.abort_at = 1 << 30};
    p.progress_cb = on_progress;
    p.progress_user_data = &c;
    p.segment_cb = on_segment;
    p.segment_user_data = &c;
    p.abort_cb = on_abort;
    p.abort_user_data = &c;
    wsp_result *r = NULL;
    wsp_error err;
    int rc = wsp_transcribe(mc.st, mc.pcm, mc.n, &p, &r, &err);
    if (rc)
        fail_msg("wsp_transcribe: %s", err.message);
    print_message("detected %s p=%.4f, %d segments, %d progress calls\n", r->language,
                  (double)r->language_prob, r->n_segments, c.n_progress);
    assert_true(wsp_lang_id(r->language) >= 0);
    assert_true(r->language_prob > 0.0f && r->language_prob <= 1.0f);
    assert_int_equal(c.n_segments, r->n_segments);
    assert_true(c.n_progress >= 1);
    assert_int_equal(c.progress[c.n_progress - 1], 100);
    for (int i = 1; i < c.n_progress; i++)
        assert_true(c.progress[i] > c.progress[i - 1]);
    assert_true(c.polls > 0);
    assert_true(r->timings.n_windows == 1 && r->timings.total_ms > 0.0);
    assert_true(fabs(r->duration_s - 11.0) < 0.01);
    for (int i = 0; i < r->n_segments; i++)
        assert_true(r->segments[i].t1 >= r->segments[i].t0);
    wsp_result_free(r);

    /* cancellation: abort on the 3rd poll → WSP_ECANCELED, no result, no late callback */
    cbs c2 = {.abort_at = 3};
    p.progress_user_data = &c2;
    p.segment_user_data = &c2;
    p.abort_user_data = &c2;
    p.language = "en";
    r = (wsp_result *)&c2; /* must be reset to NULL */
    rc = wsp_transcribe(mc.st, mc.pcm, mc.n, &p, &r, &err);
    assert_int_equal(rc, WSP_ECANCELED);
    assert_int_equal(err.code, WSP_ECANCELED);
    assert_null(r);
    assert_int_equal(c2.n_segments, 0);
    for (int i = 0; i < c2.n_progress; i++)
        assert_true(c2.progress[i] < 100);

    /* initial prompt (tokenized and fed after <|startofprev|>), Portuguese, translate */
    p.abort_cb = NULL;
    p.progress_cb = NULL;
    p.segment_cb = NULL;
    p.language = "pt";
    p.translate = true;
    p.initial_prompt = "Reunião de planejamento: decisões e ações da próxima sprint";
    r = NULL;
    rc = wsp_transcribe(mc.st, mc.pcm, mc.n, &p, &r, &err);
    if (rc)
        fail_msg("wsp_transcribe with a prompt: %s", err.message);
    assert_string_equal(r->language, "pt");
    assert_true(r->language_prob == 1.0f);
    assert_true(r->n_segments >= 1);
    wsp_result_free(r);
    r = NULL;
    p.translate = false;
    p.initial_prompt = NULL;

    /* argument errors */
    p.abort_cb = NULL;
    p.language = "xx";
    assert_int_equal(wsp_transcribe(mc.st, mc.pcm, mc.n, &p, &r, &err), WSP_ELANG);
    assert_null(r);
    p.language = "pt";
    assert_int_equal(wsp_transcribe(mc.st, mc.pcm, 0, &p, &r, &err), WSP_ENOAUDIO);
    assert_int_equal(wsp_transcribe(mc.st, mc.pcm, mc.n, NULL, &r, &err), WSP_EINVAL);
    micro_close(&mc);
}

/* wsp__kv_reorder on a real state: after a reassignment with a swap cycle (0↔1), a
 * parent with two children (2 → 2, 3) and a dead decoder (4), each live decoder reads
 * its parent's old cache; the swap and the first children move no data (their slots are
 * the parents' old slots); only the second child of 2 got a copy. */
static void test_kv_reorder_renames_slots(void **state)
{
    (void)state;
    TU_REQUIRE_FILE(tu_model("micro"));
    wsp_model *m = NULL;
    wsp_state *st = NULL;
    wsp_error err;
    assert_int_equal(wsp_model_load(tu_model("micro"), &m, &err), 0);
    assert_int_equal(wsp_state_new(m, &st, &err), 0);
    const int L = wsp_model_hparams(m)->n_text_layer, n = wsp_model_hparams(m)->n_text_state;
    const int np = 3;
    for (int d = 0; d < 5; d++)
        for (int l = 0; l < L; l++)
            for (int kv = 0; kv < 2; kv++)
                for (int i = 0; i < np * n; i++)
                    wsp__kv_ptr(st, d, l, kv)[i] = (float)(1000 * d + 10 * l + kv);
    int old_slot[8];
    memcpy(old_slot, st->kv_slot, sizeof old_slot);
    const int parent[5] = {1, 0, 2, 2, -1};
    wsp__kv_reorder(st, parent, 5, np);
    for (int d = 0; d < 4; d++)
        for (int l = 0; l < L; l++)
            for (int kv = 0; kv < 2; kv++) {
                const float *c = wsp__kv_ptr(st, d, l, kv);
                const float want = (float)(1000 * parent[d] + 10 * l + kv);
                assert_true(c[0] == want && c[np * n - 1] == want);
            }
    assert_int_equal(st->kv_slot[0], old_slot[1]); /* renamed, not copied */
    assert_int_equal(st->kv_slot[1], old_slot[0]);
    assert_int_equal(st->kv_slot[2], old_slot[2]);
    assert_true(st->kv_slot[3] != old_slot[2]);     /* the second child has its own copy */
    /* still a permutation of the slots */
    bool seen[8] = {0};
    for (int d = 0; d < 8; d++) {
        assert_false(seen[st->kv_slot[d]]);
        seen[st->kv_slot[d]] = true;
    }
    wsp_state_free(st);
    wsp_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fallback_on_compression_ratio),
        cmocka_unit_test(test_repetition_loop_fails_and_falls_back),
        cmocka_unit_test(test_beam_search_scripted),
        cmocka_unit_test(test_prompt_from_previous_windows),
        cmocka_unit_test(test_window_timestamp_rules),
        cmocka_unit_test(test_micro_beam1_equals_greedy),
        cmocka_unit_test(test_kv_reorder_renames_slots),
        cmocka_unit_test(test_micro_language_detection_and_callbacks),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
