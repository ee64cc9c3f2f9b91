/*
 * test_whisper_decoding_traces.c — the structure of best-of / temperature fallback and
 * beam search against whisper.cpp's traces (../shared/whisper-ref/golden/tiny-dims/
 * decoding/, README-round2.md §2).  Sampled tokens cannot match (whisper.cpp samples its
 * beams; our beams are OpenAI's deterministic top-k; any last-bit logit difference moves
 * a draw), so what is compared is what the pack calls structural:
 *  - per run: windows, attempts per window and the chosen temperature, segments;
 *  - per step of window 0 (our trace is recorded the way the harness records
 *    whisper.cpp's: every live decoder at every step, from the decoder calls of
 *    wsp__decode_window on the real engine): one prompt per attempt, all beams / best-of
 *    decoders forking from it, live decoders never more than beam_size / best_of and
 *    never increasing (finished beams are not refilled), every sequence extending one
 *    that was live the step before, distinct beams, at most n_text_ctx/2 − 4 steps, the
 *    winner live up to its last token — each checked on whisper.cpp's trace too;
 *  - on a scripted model (exact candidates): scoring with the length penalty
 *    (sum/len by default, sum/((5+len)/6)^lp), beams shrinking as they finish, and the
 *    untruncated sequence of decoder 0 when every decoder fails.
 * (Seed reproducibility: tests/integration/test_http_api.py; the sampler's draws:
 * test_whisper_sampler_golden.)  MDC_SANITIZE=1 skips the 60 s clip.
 */
#include "testutil.h"

#include <math.h>

#include <jansson.h>

#include "mdc/whisper.h"
#include "whisper/decoding.h"
#include "whisper/engine.h"
#include "whisper/state.h"
#include "whisper/tokenizer.h"

#define DEC_DIR "whisper-ref/golden/tiny-dims/decoding/"

/* ---- traces: steps[s] = the sequences of length s alive at step s, as [parent, last] --- */
#define TR_STEPS 232 /* > n_text_ctx/2 − 4 = 220 sampling steps */
#define TR_ENT 8     /* decoders */
#define TR_ATT 8     /* attempts (temperatures) */
#define MAX_SAMPLED 220 /* n_text_ctx/2 − 4 (decoding.h; whisper.cpp) */
#define WCPP_STEPS (MAX_SAMPLED + 1) /* see check_structure */

typedef struct tstep {
    int n;
    int parent[TR_ENT]; /* index into the previous step, -1 at step 0, -2 not found */
    int32_t last[TR_ENT];
} tstep;
typedef struct tatt {
    int n_steps;
    tstep s[TR_STEPS];
} tatt;
typedef struct ttrace {
    int n_att;
    tatt a[TR_ATT];
} ttrace;

/* whisper.cpp's trace of window `win` from the pack's trace_*.json. */
static void load_pack_trace(const char *rel, int win, ttrace *t)
{
    json_error_t e;
    json_t *g = json_load_file(tu_shared(rel), 0, &e);
    if (!g)
        fail_msg("%s: %s", rel, e.text);
    json_t *atts = json_object_get(json_array_get(json_object_get(g, "windows"), (size_t)win),
                                   "attempts");
    memset(t, 0, sizeof *t);
    t->n_att = (int)json_array_size(atts);
    assert_true(t->n_att >= 1 && t->n_att <= TR_ATT);
    for (int a = 0; a < t->n_att; a++) {
        json_t *steps = json_object_get(json_array_get(atts, (size_t)a), "steps");
        tatt *ta = &t->a[a];
        ta->n_steps = (int)json_array_size(steps);
        assert_true(ta->n_steps >= 1 && ta->n_steps <= TR_STEPS);
        for (int k = 0; k < ta->n_steps; k++) {
            json_t *st = json_array_get(steps, (size_t)k);
            ta->s[k].n = (int)json_array_size(st);
            assert_true(ta->s[k].n >= 1 && ta->s[k].n <= TR_ENT);
            for (int i = 0; i < ta->s[k].n; i++) {
                json_t *en = json_array_get(st, (size_t)i);
                ta->s[k].parent[i] = (int)json_integer_value(json_array_get(en, 0));
                ta->s[k].last[i] = (int32_t)json_integer_value(json_array_get(en, 1));
            }
        }
    }
    json_decref(g);
}

/* Our trace, recorded from the decoder calls: a row at position 0 starts an attempt, the
 * last prompt row (position np − 1) is step 0, a row at position np + s − 1 extends its
 * decoder's sequence to length s; a cache reassignment gives decoder j parent[j]'s
 * sequence.  The rows are what the engine sees whatever the batching (one call per
 * decoder here; wsp__row batches carry the same token, position and decoder). */
typedef struct rec {
    wsp_state *st;
    int threads, np;
    int32_t cur[TR_ENT][TR_STEPS];
    int att;
    int n_ent[TR_ATT][TR_STEPS];
    int32_t *seq; /* [TR_ATT][TR_STEPS][TR_ENT][TR_STEPS] */
} rec;

static int32_t *rec_seq(rec *r, int a, int s, int e)
{
    return r->seq + (((size_t)a * TR_STEPS + (size_t)s) * TR_ENT + (size_t)e) * TR_STEPS;
}

static void rec_row(rec *r, int dec, int pos, int32_t token)
{
    if (pos == 0)
        r->att++;
    assert_true(r->att >= 0 && r->att < TR_ATT && dec >= 0 && dec < TR_ENT);
    int s = pos < r->np - 1 ? -1 : pos - r->np + 1;
    if (s < 0)
        return; /* prompt row before the last */
    assert_true(s < TR_STEPS);
    if (s > 0)
        r->cur[dec][s - 1] = token;
    int e = r->n_ent[r->att][s]++;
    assert_true(e < TR_ENT);
    memcpy(rec_seq(r, r->att, s, e), r->cur[dec], sizeof(int32_t) * (size_t)s);
}

static int rec_decode(void *ctx, const wsp__row *rows, int n)
{
    rec *r = ctx;
    for (int k = 0; k < n; k++)
        rec_row(r, rows[k].seq, rows[k].pos, rows[k].token);
    return wsp__decode_batch(r->st, rows, n, r->threads);
}

static void rec_reorder(void *ctx, const int *parent, int n, int n_past)
{
    rec *r = ctx;
    int32_t old[TR_ENT][TR_STEPS];
    memcpy(old, r->cur, sizeof old);
    for (int j = 0; j < n && j < TR_ENT; j++)
        if (parent[j] >= 0)
            memcpy(r->cur[j], old[parent[j]], sizeof old[0]);
    wsp__kv_reorder(r->st, parent, n, n_past);
}

static int cmp_len; /* qsort context: sequence length of the step being sorted */
static int cmp_seq(const void *a, const void *b)
{
    const int32_t *x = *(const int32_t *const *)a, *y = *(const int32_t *const *)b;
    for (int i = 0; i < cmp_len; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}

/* The recorded sequences in the pack's form: sorted by token sequence, [parent, last]. */
static void rec_to_trace(rec *r, ttrace *t)
{
    memset(t, 0, sizeof *t);
    t->n_att = r->att + 1;
    for (int a = 0; a < t->n_att; a++) {
        const int32_t *prev[TR_ENT] = {0};
        int n_prev = 0;
        for (int s = 0; s < TR_STEPS && r->n_ent[a][s] > 0; s++) {
            const int32_t *cur[TR_ENT];
            const int n = r->n_ent[a][s];
            for (int e = 0; e < n; e++)
                cur[e] = rec_seq(r, a, s, e);
            cmp_len = s;
            qsort(cur, (size_t)n, sizeof cur[0], cmp_seq);
            tstep *ts = &t->a[a].s[s];
            ts->n = n;
            for (int e = 0; e < n; e++) {
                ts->last[e] = s > 0 ? cur[e][s - 1] : -1;
                ts->parent[e] = s > 0 ? -2 : -1;
                for (int q = 0; q < n_prev && s > 0; q++)
                    if (memcmp(prev[q], cur[e], sizeof(int32_t) * (size_t)(s - 1)) == 0) {
                        ts->parent[e] = q;
                        break;
                    }
            }
            memcpy(prev, cur, sizeof cur);
            n_prev = n;
            t->a[a].n_steps = s + 1;
        }
    }
}

/* Whether tokens[0..k) is a sequence of step k of the attempt (walking the parents). */
static bool trace_has(const tatt *ta, const int32_t *tokens, int k)
{
    if (k >= ta->n_steps)
        return false;
    for (int e = 0; e < ta->s[k].n; e++) {
        int idx = e, s = k;
        while (s > 0 && idx >= 0 && ta->s[s].last[idx] == tokens[s - 1]) {
            idx = ta->s[s].parent[idx];
            s--;
        }
        if (s == 0)
            return true;
    }
    return false;
}

/* The structure whisper.cpp's traces show, checked on one trace (ours or the pack's):
 * `width` = decoders of a sampling attempt (beam_size, or best_of at T > 0), 1 for greedy
 * T = 0 attempts (attempt 0 when t0_greedy).  max_steps: ours MAX_SAMPLED (steps 0 …
 * 219: the 220th token is sampled, never decoded); whisper.cpp's MAX_SAMPLED + 1 —
 * when a decoder is still running after its 220th token, whisper.cpp decodes that token
 * and filters its logits (the pack's 60 s window 0 lists 221 steps) although the loop
 * ends there and nothing samples them: one wasted forward pass per such window that we
 * skip.  The sequences kept are the same (220 tokens at most in both). */
static void check_structure(const char *who, const ttrace *t, int width, bool beam,
                            bool t0_greedy, int max_steps)
{
    for (int a = 0; a < t->n_att; a++) {
        const tatt *ta = &t->a[a];
        const int w = t0_greedy && a == 0 ? 1 : width;
        if (ta->s[0].n != 1)
            fail_msg("%s attempt %d: %d prompts (want 1)", who, a, ta->s[0].n);
        if (ta->n_steps > max_steps)
            fail_msg("%s attempt %d: %d steps > %d", who, a, ta->n_steps, max_steps);
        if (ta->n_steps > 1 && ta->s[1].n != w)
            fail_msg("%s attempt %d: %d decoders at step 1 (want %d)", who, a, ta->s[1].n, w);
        for (int k = 1; k < ta->n_steps; k++) {
            const tstep *st = &ta->s[k];
            if (st->n > ta->s[k - 1].n && k > 1)
                fail_msg("%s attempt %d step %d: %d live > %d the step before (a finished "
                         "decoder was refilled)",
                         who, a, k, st->n, ta->s[k - 1].n);
            if (st->n > w)
                fail_msg("%s attempt %d step %d: %d live > %d", who, a, k, st->n, w);
            for (int e = 0; e < st->n; e++) {
                if (st->parent[e] < 0 || st->parent[e] >= ta->s[k - 1].n)
                    fail_msg("%s attempt %d step %d: sequence %d extends none live at step %d",
                             who, a, k, e, k - 1);
                if (k == 1 && st->parent[e] != 0)
                    fail_msg("%s attempt %d: step-1 decoder %d does not fork from the prompt",
                             who, a, e);
                /* beams are distinct (whisper.cpp: except at its first step, where
                 * sampling with replacement can give two beams one token) */
                if (beam && k > 1 && e > 0 && st->parent[e] == st->parent[e - 1] &&
                    st->last[e] == st->last[e - 1])
                    fail_msg("%s attempt %d step %d: two beams hold the same sequence", who, a, k);
            }
        }
    }
}

typedef struct window0 {
    ttrace t;
    int n_tokens, result_len, n_fallbacks;
    int32_t tokens[TR_STEPS];
    float temperature, avg_logprob;
    double avg_logprobs;
    bool failed;
} window0;

/* wsp__decode_window on window 0 of `wav` with the real engine (tiny-dims, 2 threads),
 * options as wsp_transcribe builds them for p (language en, no past prompt), recording
 * the trace; then wsp_transcribe with the same p must give window 0 the same decode
 * (its result goes to *keep when keep is not NULL). */
static void our_window0(const char *wav, wsp_params p, window0 *out, wsp_result **keep)
{
    wsp_model *m = NULL;
    wsp_state *st = NULL;
    wsp_error err;
    assert_int_equal(wsp_model_load(tu_model("tiny-dims"), &m, &err), 0);
    assert_int_equal(wsp_state_new(m, &st, &err), 0);
    size_t ns = 0;
    float *pcm = tu_read_wav_pcm16(tu_shared(wav), &ns);
    assert_non_null(pcm);
    const wsp__vocab *v = wsp__model_vocab(m);
    const wsp_hparams *hp = wsp_model_hparams(m);
    assert_int_equal(wsp__state_pool(st, p.n_threads), 0);
    float *mel = NULL;
    int n_frames = 0, n_len = 0;
    assert_int_equal(wsp__mel_compute(m, pcm, ns, st->pool, &mel, &n_frames, &n_len), 0);
    assert_int_equal(wsp__encode(st, mel, n_frames, 0, p.n_threads), 0);

    float temps[8];
    int nt = 0;
    for (float x = p.temperature; nt < 8 && x < 1.0f + 1e-6f; x += p.temperature_inc) {
        temps[nt++] = x;
        if (!(p.temperature_inc > 0.0f))
            break;
    }
    const int32_t init[3] = {v->sot, v->lang_first, v->transcribe}; /* en, transcribe */
    const wsp__window_opts o = {
        .strategy = p.strategy,
        .best_of = p.best_of,
        .beam_size = p.beam_size,
        .patience = p.patience,
        .length_penalty = p.length_penalty,
        .temperatures = temps,
        .n_temperatures = nt,
        .entropy_thold = p.entropy_thold,
        .logprob_thold = p.logprob_thold,
        .no_speech_thold = p.no_speech_thold,
        .compression_ratio_threshold = p.compression_ratio_threshold,
        .filter = {.suppress_blank = p.suppress_blank, .no_timestamps = false,
                   .max_initial_ts = p.max_initial_ts, .n_audio_ctx = hp->n_audio_ctx,
                   .blank_id = wsp__model_tables_of(m)->blank_id},
        .seek = 0,
        .seek_end = n_len,
        .n_max_text_ctx = p.n_max_text_ctx,
        .init = init,
        .n_init = 3,
    };
    rec *r = calloc(1, sizeof *r);
    assert_non_null(r);
    r->seq = calloc((size_t)TR_ATT * TR_STEPS * TR_ENT * TR_STEPS, sizeof(int32_t));
    assert_non_null(r->seq);
    r->st = st;
    r->threads = p.n_threads;
    r->np = 3;
    r->att = -1;
    const wsp__lm lm = {rec_decode, rec_reorder, r, wsp__n_decoders(st), hp->n_text_ctx};
    int n_dec = p.strategy == WSP_SAMPLING_BEAM_SEARCH ? p.beam_size + 1 : 1;
    if (nt > 1 || p.temperature > 0.0f)
        n_dec = n_dec > p.best_of ? n_dec : p.best_of;
    wsp__dws *ws = NULL;
    assert_int_equal(wsp__dws_new(v, hp->n_text_ctx, n_dec, p.seed, &ws), 0);
    wsp__window_out w;
    assert_int_equal(wsp__decode_window(ws, &lm, &o, &w), 0);
    rec_to_trace(r, &out->t);
    out->n_tokens = w.n_tokens;
    out->result_len = w.result_len;
    out->n_fallbacks = w.n_fallbacks;
    out->temperature = w.temperature;
    out->avg_logprob = w.avg_logprob;
    out->avg_logprobs = w.avg_logprobs;
    out->failed = w.failed;
    assert_true(w.n_tokens <= TR_STEPS);
    for (int i = 0; i < w.n_tokens; i++)
        out->tokens[i] = w.tokens[i].id;

    /* the options above are wsp_transcribe's: its window-0 segments carry this decode */
    wsp_result *res = NULL;
    p.condition_on_previous_text = false;
    p.language = "en";
    if (wsp_transcribe(st, pcm, ns, &p, &res, &err) != 0)
        fail_msg("%s", err.message);
    int k = 0;
    for (int i = 0; i < res->n_segments && res->segments[i].seek == 0; i++) {
        assert_true(res->segments[i].temperature == w.temperature);
        assert_true(res->segments[i].avg_logprob == w.avg_logprob);
        for (int q = 0; q < res->segments[i].n_tokens; q++) { /* a subsequence */
            while (k < w.n_tokens && w.tokens[k].id != res->segments[i].tokens[q].id)
                k++;
            assert_true(k < w.n_tokens);
            k++;
        }
    }
    if (keep)
        *keep = res;
    else
        wsp_result_free(res);
    wsp__dws_free(ws);
    free(r->seq);
    free(r);
    free(mel);
    free(pcm);
    wsp_state_free(st);
    wsp_model_free(m);
}

static void print_live(const char *who, const ttrace *t)
{
    for (int a = 0; a < t->n_att; a++) {
        char b[160] = "";
        int shown = 0;
        for (int k = 0; k < t->a[a].n_steps && shown < 24; k++, shown++)
            snprintf(b + strlen(b), sizeof b - strlen(b), "%d ", t->a[a].s[k].n);
        print_message("  %s attempt %d: %d steps, live per step %s%s\n", who, a,
                      t->a[a].n_steps, b, t->a[a].n_steps > 24 ? "…" : "");
    }
}

static wsp_params trace_params(wsp_sampling strategy)
{
    wsp_params p = wsp_default_params(strategy);
    p.n_threads = 2;
    p.language = "en";
    p.condition_on_previous_text = false; /* the harness's no_context */
    p.temperature = 0.0f;
    p.temperature_inc = 0.0f;
    p.beam_size = 5;
    return p;
}

/* The whole run (wsp_transcribe, beam 5) against whisper.cpp's transcript: as many
 * windows, each decoded in one attempt at temperature 0 (its n_attempts 1,
 * chosen_temperature 0 per window), segments in time order.  Segment counts differ (the
 * tokens do) and are only printed. */
static void check_windows(const wsp_result *r, const char *transcript)
{
    TU_REQUIRE_FILE(tu_shared(transcript));
    json_error_t e;
    json_t *g = json_load_file(tu_shared(transcript), 0, &e);
    assert_non_null(g);
    json_t *wins = json_object_get(g, "windows");
    for (size_t i = 0; i < json_array_size(wins); i++) {
        json_t *w = json_array_get(wins, i);
        assert_int_equal(json_integer_value(json_object_get(w, "n_attempts")), 1);
        assert_true(json_number_value(json_object_get(w, "chosen_temperature")) == 0.0);
    }
    print_message("  %d windows (whisper.cpp %zu), %d segments (whisper.cpp %zu)\n",
                  r->timings.n_windows, json_array_size(wins), r->n_segments,
                  json_array_size(json_object_get(g, "segments")));
    assert_int_equal(r->timings.n_windows, (int)json_array_size(wins));
    for (int i = 0; i < r->n_segments; i++) {
        assert_true(r->segments[i].temperature == 0.0f);
        assert_true(r->segments[i].t0 <= r->segments[i].t1);
        assert_true(i == 0 || r->segments[i - 1].t0 <= r->segments[i].t0);
    }
    json_decref(g);
}

/* Beam 5 (whisper-cli -bs 5), window 0 of jfk and jfk_x5_60s: our trace and
 * whisper.cpp's have the same structure; our winner was live until its last token; the
 * whole run has whisper.cpp's windows and attempts (check_windows). */
static void beam_trace(const char *clip, const char *pack, const char *transcript)
{
    TU_REQUIRE_FILE(tu_model("tiny-dims"));
    TU_REQUIRE_FILE(tu_shared(pack));
    ttrace *theirs = calloc(1, sizeof *theirs);
    window0 *ours = calloc(1, sizeof *ours);
    assert_true(theirs && ours);
    load_pack_trace(pack, 0, theirs);
    wsp_result *res = NULL;
    our_window0(clip, trace_params(WSP_SAMPLING_BEAM_SEARCH), ours, &res);
    check_windows(res, transcript);
    wsp_result_free(res);
    print_live("whisper.cpp", theirs);
    print_live("ours", &ours->t);
    check_structure("whisper.cpp", theirs, 5, true, false, WCPP_STEPS);
    check_structure("ours", &ours->t, 5, true, false, MAX_SAMPLED);
    assert_int_equal(ours->t.n_att, theirs->n_att); /* one attempt: temperature_inc 0 */
    assert_true(ours->temperature == 0.0f);
    /* the kept sequence was a live beam up to its last token (truncated at its last
     * timestamp: result_len) */
    assert_true(ours->n_tokens >= 1 && ours->n_tokens == ours->result_len && !ours->failed);
    for (int k = 1; k < ours->n_tokens; k++)
        assert_true(trace_has(&ours->t.a[0], ours->tokens, k));
    free(theirs);
    free(ours);
}

static void test_beam_trace_jfk(void **state)
{
    (void)state;
    beam_trace("whisper-ref/data/jfk.wav", DEC_DIR "trace_jfk_beam5.json",
               DEC_DIR "transcript_jfk_beam5.json");
    /* and whisper.cpp's winner (" Korea" 6307 <|10.60|>) was live at step 1 of its trace */
    ttrace *t = calloc(1, sizeof *t);
    load_pack_trace(DEC_DIR "trace_jfk_beam5.json", 0, t);
    const int32_t korea[2] = {6307, 50894};
    assert_true(trace_has(&t->a[0], korea, 1) && trace_has(&t->a[0], korea, 2));
    free(t);
}

static void test_beam_trace_60s(void **state)
{
    (void)state;
    if (getenv("MDC_SANITIZE")) { /* three 60 s beam-5 windows are minutes under ASan */
        print_message("SKIP under MDC_SANITIZE: the 60 s beam trace\n");
        skip();
    }
    beam_trace("whisper-ref/data/jfk_x5_60s.wav", DEC_DIR "trace_jfk_x5_60s_beam5.json",
               DEC_DIR "transcript_jfk_x5_60s_beam5.json");
    /* whisper.cpp's window 1 shows a beam finishing (5 → 4 live at step 3) and not being
     * refilled; its structure holds there too */
    ttrace *t = calloc(1, sizeof *t);
    load_pack_trace(DEC_DIR "trace_jfk_x5_60s_beam5.json", 1, t);
    check_structure("whisper.cpp window 1", t, 5, true, false, WCPP_STEPS);
    assert_int_equal(t->a[0].s[2].n, 5);
    assert_int_equal(t->a[0].s[3].n, 4);
    free(t);
}

/* Greedy best-of 5 with fallback on jfk (whisper.cpp's default temperature_inc 0.2): on
 * the random tiny-dims model every attempt fails the thresholds, so window 0 tries all 6
 * temperatures of the float schedule 0, 0.2, … (t += 0.2f) and keeps T = 1.0; one
 * window, one segment.  Per step: attempt 0 (T = 0) is one greedy decoder, the five
 * T > 0 attempts five sampling decoders each, all forking from the prompt — whisper.cpp's
 * trace and transcript have exactly this shape. */
static void test_bestof_fallback_trace(void **state)
{
    (void)state;
    TU_REQUIRE_FILE(tu_model("tiny-dims"));
    TU_REQUIRE_FILE(tu_shared(DEC_DIR "trace_jfk_bestof5_fallback.json"));
    ttrace *theirs = calloc(1, sizeof *theirs);
    window0 *ours = calloc(1, sizeof *ours);
    assert_true(theirs && ours);
    load_pack_trace(DEC_DIR "trace_jfk_bestof5_fallback.json", 0, theirs);
    wsp_params p = trace_params(WSP_SAMPLING_GREEDY);
    p.best_of = 5;
    p.temperature_inc = 0.2f;
    wsp_result *res = NULL;
    our_window0("whisper-ref/data/jfk.wav", p, ours, &res);
    print_live("whisper.cpp", theirs);
    print_live("ours", &ours->t);
    check_structure("whisper.cpp", theirs, 5, false, true, WCPP_STEPS);
    check_structure("ours", &ours->t, 5, false, true, MAX_SAMPLED);
    assert_int_equal(theirs->n_att, 6);
    assert_int_equal(ours->t.n_att, theirs->n_att);
    assert_int_equal(ours->n_fallbacks, 5);
    assert_true(fabsf(ours->temperature - 1.0f) < 1e-6f);
    /* whisper.cpp's kept sequence ("bn" 19404 <|2.82|>) was live in its last attempt */
    const int32_t bn[1] = {19404};
    assert_true(trace_has(&theirs->a[5], bn, 1));
    /* the whole run against the transcript */
    json_error_t e;
    json_t *g = json_load_file(tu_shared(DEC_DIR "transcript_jfk_bestof5_fallback.json"), 0, &e);
    assert_non_null(g);
    json_t *w0 = json_array_get(json_object_get(g, "windows"), 0);
    assert_int_equal(json_integer_value(json_object_get(w0, "n_attempts")), 6);
    const double want_t = json_number_value(json_object_get(w0, "chosen_temperature"));
    assert_int_equal(res->timings.n_windows, (int)json_array_size(json_object_get(g, "windows")));
    assert_int_equal(res->n_segments, (int)json_array_size(json_object_get(g, "segments")));
    for (int i = 0; i < res->n_segments; i++)
        assert_true(fabsf(res->segments[i].temperature - (float)want_t) < 1e-6f);
    json_decref(g);
    wsp_result_free(res);
    free(theirs);
    free(ours);
}

/* ---- scripted model: scoring, shrinking, the all-failed fallback ------------------- */
#define SNV 51865
#define SCTX 448
static wsp__vocab g_sv;

typedef struct sfake {
    int timestamps; /* 0: <|notimestamps|> script (scoring); 1: every decoder fails */
    int np;
    int32_t hist[8][SCTX];
    int calls_at[SCTX]; /* decoder rows per position */
} sfake;

/* Logits that give the wanted log-probabilities after the filters: the listed tokens
 * and everything else at −40 (≈ 2e−13 of probability mass in all). */
static void set_probs(float *l, const int32_t *ids, const float *p, int n)
{
    for (int i = 0; i < SNV; i++)
        l[i] = -40.0f;
    for (int i = 0; i < n; i++)
        l[ids[i]] = logf(p[i]);
}

/* One decoder row (token at position pos of decoder d); logits (may be NULL) get the
 * scripted distribution of the sequence ending there. */
static void sfake_row(sfake *f, int d, int pos, int32_t token, float *l)
{
    f->hist[d][pos] = token;
    f->calls_at[pos]++;
    if (!l)
        return;
    const int step = pos + 1 - f->np; /* tokens sampled so far */
    const int32_t *s = f->hist[d] + f->np;
    if (step == 0) { /* A = 1000 (p 0.6), B = 1001 (p 0.4) */
        const int32_t ids[2] = {1000, 1001};
        const float p[2] = {0.6f, 0.4f};
        set_probs(l, ids, p, 2);
    } else if (f->timestamps) { /* A: 1000 3000 EOT; B: 1001 EOT — no timestamp: fail */
        const int32_t id = s[0] == 1000 && step == 1 ? 3000 : g_sv.eot;
        set_probs(l, &id, (const float[]){1.0f}, 1);
    } else { /* A: 1000 EOT (2 tokens); B: 1001 2000 2001 2002 EOT (5 tokens), p ≈ 1 each */
        const int32_t id = s[0] == 1000 || step == 4 ? g_sv.eot : 2000 + step - 1;
        set_probs(l, &id, (const float[]){1.0f}, 1);
    }
}

/* The wsp__lm seam: a batch of rows, logits for the rows that ask. */
static int sfake_decode(void *ctx, const wsp__row *rows, int n)
{
    for (int k = 0; k < n; k++)
        sfake_row(ctx, rows[k].seq, rows[k].pos, rows[k].token, rows[k].logits);
    return 0;
}

static void sfake_reorder(void *ctx, const int *parent, int n, int n_past)
{
    sfake *f = ctx;
    int32_t old[8][SCTX];
    memcpy(old, f->hist, sizeof old);
    for (int j = 0; j < n && j < 8; j++)
        if (parent[j] >= 0)
            memcpy(f->hist[j], old[parent[j]], sizeof(int32_t) * (size_t)n_past);
}

static void scripted(int timestamps, wsp_sampling strategy, float length_penalty,
                     wsp__window_out *w, sfake *f, wsp__dws **ws)
{
    static const float t0 = 0.0f;
    static int32_t init[4];
    init[0] = g_sv.sot;
    init[1] = g_sv.lang_first;
    init[2] = g_sv.transcribe;
    init[3] = g_sv.notimestamps;
    memset(f, 0, sizeof *f);
    f->timestamps = timestamps;
    f->np = timestamps ? 3 : 4;
    const wsp__lm lm = {sfake_decode, sfake_reorder, f, 8, SCTX};
    const wsp__window_opts o = {
        .strategy = strategy, .best_of = 1, .beam_size = 2, .patience = 1.0f,
        .length_penalty = length_penalty, .temperatures = &t0, .n_temperatures = 1,
        .entropy_thold = 2.4f, .logprob_thold = -1.0f, .no_speech_thold = 0.6f,
        .compression_ratio_threshold = 2.4f,
        .filter = {.suppress_blank = true, .no_timestamps = !timestamps,
                   .max_initial_ts = 1.0f, .n_audio_ctx = 1500, .blank_id = 220},
        /* 60 s of audio: an <|endoftext|> in window 0 is not "the end of the audio"
         * (seek + seek_delta + 10 >= seek_end with seek_delta 3000 until a timestamp) */
        .seek = 0, .seek_end = 6000, .n_max_text_ctx = 16384, .init = init,
        .n_init = f->np};
    assert_int_equal(wsp__dws_new(&g_sv, SCTX, 8, 0, ws), 0);
    assert_int_equal(wsp__decode_window(*ws, &lm, &o, w), 0);
}

/* Beam 2: A = "1000 EOT" (log-prob sum ln 0.6 over 2 tokens) against B = "1001 2000 2001
 * 2002 EOT" (ln 0.4 over 5).  Default scoring is sum/len (whisper.cpp with
 * length_penalty −1, OpenAI's None): B, −0.183 > −0.255.  length_penalty 1 divides by
 * (5 + len)/6 (OpenAI, whisper.cpp): A, −0.438 > −0.550.  A finishes at step 1 and is not
 * refilled: one decoder call per step from then on (OpenAI's beam search would keep two
 * live beams); whisper.cpp's beams shrink the same way (its trace, above). */
static void test_beam_scoring_and_shrinking(void **state)
{
    (void)state;
    sfake f;
    wsp__dws *ws = NULL;
    wsp__window_out w;
    scripted(0, WSP_SAMPLING_BEAM_SEARCH, -1.0f, &w, &f, &ws);
    const int32_t want_b[5] = {1001, 2000, 2001, 2002, g_sv.eot};
    assert_int_equal(w.n_tokens, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(w.tokens[i].id, want_b[i]);
    assert_true(fabs(w.avg_logprobs - log(0.4) / 5) < 1e-4);
    assert_false(w.failed);
    /* decoder rows per position: the prompt's last token once, then 2 beams, then 1 */
    const int np = f.np;
    assert_int_equal(f.calls_at[np - 1], 1);
    assert_int_equal(f.calls_at[np], 2);
    for (int k = 1; k < 4; k++)
        assert_int_equal(f.calls_at[np + k], 1);
    assert_int_equal(f.calls_at[np + 4], 0);
    wsp__dws_free(ws);

    scripted(0, WSP_SAMPLING_BEAM_SEARCH, 1.0f, &w, &f, &ws);
    assert_int_equal(w.n_tokens, 2);
    assert_int_equal(w.tokens[0].id, 1000);
    assert_int_equal(w.tokens[1].id, g_sv.eot);
    assert_true(fabs(w.avg_logprobs - log(0.6) / 2) < 1e-4); /* avg, not the score */
    wsp__dws_free(ws);
}

/* Timestamps on, every decoder ends with <|endoftext|> and no timestamp before the end
 * of the audio: all fail, and decoder 0's sequence is the result, untruncated (whisper.cpp
 * best_decoder_id 0; result_len 0 would otherwise leave nothing) — for beam search
 * (decoder 0 holds the best candidate: 1000 3000 EOT) and greedy alike. */
static void test_all_failed_untruncated(void **state)
{
    (void)state;
    sfake f;
    wsp__dws *ws = NULL;
    wsp__window_out w;
    for (int strat = 0; strat < 2; strat++) {
        scripted(1, strat ? WSP_SAMPLING_BEAM_SEARCH : WSP_SAMPLING_GREEDY, -1.0f, &w, &f, &ws);
        assert_true(w.failed);
        assert_int_equal(w.result_len, 0);
        assert_int_equal(w.n_tokens, 3);
        assert_int_equal(w.tokens[0].id, 1000);
        assert_int_equal(w.tokens[1].id, 3000);
        assert_int_equal(w.tokens[2].id, g_sv.eot);
        wsp__dws_free(ws);
        ws = NULL;
    }
}

static int setup_vocab(void **state)
{
    (void)state;
    return wsp__vocab_set_specials(&g_sv, SNV) ? -1 : 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bestof_fallback_trace),
        cmocka_unit_test(test_beam_trace_jfk),
        cmocka_unit_test(test_beam_trace_60s),
        cmocka_unit_test(test_beam_scoring_and_shrinking),
        cmocka_unit_test(test_all_failed_untruncated),
    };
    return cmocka_run_group_tests(tests, setup_vocab, NULL);
}
