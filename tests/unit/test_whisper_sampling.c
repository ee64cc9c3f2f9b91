/*
 * test_whisper_sampling.c — each logit filter and timestamp rule on hand-made logits rows
 * (n_vocab 51865, special ids as whisper.cpp derives them), log-softmax, the
 * timestamp-vs-text mass rule, greedy pick, top-k, no-speech probability, sequence
 * score and compression ratio.
 */
#include "testutil.h"

#include <math.h>

#include "whisper/sampling.h"
#include "whisper/tokenizer.h"

#define NV 51865

static wsp__vocab g_v;
static float g_logits[NV], g_lp[NV], g_p[NV];

static int setup(void **state)
{
    (void)state;
    return wsp__vocab_set_specials(&g_v, NV);
}

static void fill(float x)
{
    for (int i = 0; i < NV; i++)
        g_logits[i] = x;
}

static wsp__filter_opts opts(void)
{
    wsp__filter_opts o = {.suppress_blank = true, .max_initial_ts = 1.0f, .n_audio_ctx = 1500,
                          .blank_id = 220};
    return o;
}

static bool ninf(float x) { return isinf(x) && x < 0; }

static void test_suppress_blank_first_step_only(void **state)
{
    (void)state;
    wsp__filter_opts o = opts();
    wsp__ts_state st = {0};
    fill(0.0f);
    wsp__filter_logits(&g_v, &o, &st, g_logits);
    assert_true(ninf(g_logits[g_v.eot]));
    assert_true(ninf(g_logits[220]));
    assert_false(ninf(g_logits[221]));
    int32_t prev[1] = {400};
    st.tokens = prev;
    st.n_tokens = 1;
    fill(0.0f);
    wsp__filter_logits(&g_v, &o, &st, g_logits);
    assert_false(ninf(g_logits[g_v.eot]));
    assert_false(ninf(g_logits[220]));
    o.suppress_blank = false;
    st.n_tokens = 0;
    fill(0.0f);
    wsp__filter_logits(&g_v, &o, &st, g_logits);
    assert_false(ninf(g_logits[g_v.eot]));
}

static void test_special_tokens_suppressed(void **state)
{
    (void)state;
    wsp__filter_opts o = opts();
    int32_t prev[1] = {400};
    wsp__ts_state st = {prev, 1, false, 3000};
    fill(0.0f);
    wsp__filter_logits(&g_v, &o, &st, g_logits);
    const int32_t ids[] = {g_v.notimestamps, g_v.sot, g_v.nosp, g_v.solm, g_v.translate,
                           g_v.transcribe, g_v.prev, g_v.lang_first, g_v.lang_first + 98};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        assert_true(ninf(g_logits[ids[i]]));
    assert_false(ninf(g_logits[g_v.beg]));     /* timestamps allowed */
    assert_false(ninf(g_logits[NV - 1]));
    assert_false(ninf(g_logits[g_v.eot]));
    /* no_timestamps: every timestamp too */
    o.no_timestamps = true;
    fill(0.0f);
    wsp__filter_logits(&g_v, &o, &st, g_logits);
    for (int i = g_v.beg; i < NV; i++)
        assert_true(ninf(g_logits[i]));
    assert_false(ninf(g_logits[400]));
    /* extra suppress ids */
    const int32_t extra[2] = {1, 2};
    o.suppress_ids = extra;
    o.n_suppress_ids = 2;
    fill(0.0f);
    wsp__filter_logits(&g_v, &o, &st, g_logits);
    assert_true(ninf(g_logits[1]) && ninf(g_logits[2]));
    assert_false(ninf(g_logits[3]));
}

static void test_timestamp_pairing(void **state)
{
    (void)state;
    wsp__filter_opts o = opts();
    o.suppress_blank = false;
    const int32_t beg = g_v.beg;
    /* text then timestamp: the next token must be a timestamp or <|endoftext|> */
    int32_t a[2] = {400, beg + 10};
    wsp__ts_state st = {a, 2, true, 20};
    fill(0.0f);
    wsp__filter_logits(&g_v, &o, &st, g_logits);
    for (int i = 0; i < g_v.eot; i++)
        assert_true(ninf(g_logits[i]));
    assert_false(ninf(g_logits[g_v.eot]));
    assert_false(ninf(g_logits[beg + 10])); /* equal is allowed (monotonic rule) */
    assert_true(ninf(g_logits[beg + 9]));   /* backwards is not */
    /* two timestamps in a row: the next one must be text */
    int32_t b[3] = {400, beg + 10, beg + 12};
    st = (wsp__ts_state){b, 3, true, 24};
    fill(0.0f);
    wsp__filter_logits(&g_v, &o, &st, g_logits);
    for (int i = beg; i < NV; i++)
        assert_true(ninf(g_logits[i]));
    assert_false(ninf(g_logits[400]));
    /* a single timestamp as the first token counts as a pair start: no timestamp next */
    int32_t c[1] = {beg + 5};
    st = (wsp__ts_state){c, 1, true, 10};
    fill(0.0f);
    wsp__filter_logits(&g_v, &o, &st, g_logits);
    assert_true(ninf(g_logits[beg + 20]));
    assert_false(ninf(g_logits[400]));
    /* last token text: both kinds allowed */
    int32_t d[2] = {beg + 5, 400};
    st = (wsp__ts_state){d, 2, true, 10};
    fill(0.0f);
    wsp__filter_logits(&g_v, &o, &st, g_logits);
    assert_false(ninf(g_logits[401]));
    assert_false(ninf(g_logits[beg + 20]));
    assert_true(ninf(g_logits[beg + 4])); /* still monotonic */
}

static void test_max_initial_timestamp(void **state)
{
    (void)state;
    wsp__filter_opts o = opts();
    wsp__ts_state st = {0};
    fill(0.0f);
    wsp__filter_logits(&g_v, &o, &st, g_logits);
    /* 1.0 s / 0.02 s = 50: <|1.00|> = beg + 50 = 50414 is the last allowed */
    assert_false(ninf(g_logits[50414]));
    assert_true(ninf(g_logits[50415]));
    assert_false(ninf(g_logits[g_v.beg]));
    /* not after the first step */
    int32_t a[1] = {400};
    st = (wsp__ts_state){a, 1, false, 3000};
    fill(0.0f);
    wsp__filter_logits(&g_v, &o, &st, g_logits);
    assert_false(ninf(g_logits[50415]));
    /* disabled with max_initial_ts 0 */
    o.max_initial_ts = 0.0f;
    st = (wsp__ts_state){0};
    fill(0.0f);
    wsp__filter_logits(&g_v, &o, &st, g_logits);
    assert_false(ninf(g_logits[NV - 1]));
}

static void test_log_softmax_and_probs(void **state)
{
    (void)state;
    fill(-INFINITY);
    g_logits[10] = 1.0f;
    g_logits[11] = 2.0f;
    g_logits[12] = 3.0f;
    wsp__log_softmax(g_logits, NV, g_lp);
    wsp__probs(g_logits, g_lp, NV, g_p);
    double s = 0;
    for (int i = 0; i < NV; i++)
        s += g_p[i];
    assert_true(fabs(s - 1.0) < 1e-6);
    assert_true(fabs(g_lp[12] - (3.0 - log(exp(1) + exp(2) + exp(3)))) < 1e-5);
    assert_true(ninf(g_lp[0]));
    assert_true(g_p[0] == 0.0f);
}

/* Timestamp mass above the best text token → every text token suppressed. */
static void test_timestamp_mass_rule(void **state)
{
    (void)state;
    fill(-INFINITY);
    g_logits[400] = 2.0f; /* best text token */
    for (int i = 0; i < 100; i++)
        g_logits[g_v.beg + i] = 0.0f; /* 100 timestamps: log-mass ln(100) ≈ 4.6 > 2 */
    wsp__log_softmax(g_logits, NV, g_lp);
    assert_true(wsp__timestamp_mass_rule(&g_v, g_logits, g_lp));
    assert_true(ninf(g_logits[400]) && ninf(g_lp[400]));
    assert_false(ninf(g_lp[g_v.beg]));
    /* greedy then picks the first of the equal timestamps, with no renormalisation */
    wsp__probs(g_logits, g_lp, NV, g_p);
    wsp_token t = wsp__sample_best(&g_v, g_p, g_lp);
    assert_int_equal(t.id, g_v.beg);
    assert_int_equal(t.tid, g_v.beg);
    assert_true(t.ptsum < 1.0f && t.ptsum > 0.9f);

    /* below: nothing changes, the text token wins */
    fill(-INFINITY);
    g_logits[400] = 6.0f;
    for (int i = 0; i < 100; i++)
        g_logits[g_v.beg + i] = 0.0f;
    wsp__log_softmax(g_logits, NV, g_lp);
    assert_false(wsp__timestamp_mass_rule(&g_v, g_logits, g_lp));
    wsp__probs(g_logits, g_lp, NV, g_p);
    t = wsp__sample_best(&g_v, g_p, g_lp);
    assert_int_equal(t.id, 400);
    assert_int_equal(t.tid, g_v.beg); /* most probable timestamp (first of the ties) */
    assert_true(fabs(t.pt - 0.01f) < 1e-4);
    /* no timestamp alive: tid 0, pt 0 */
    fill(-INFINITY);
    g_logits[400] = 1.0f;
    wsp__log_softmax(g_logits, NV, g_lp);
    assert_false(wsp__timestamp_mass_rule(&g_v, g_logits, g_lp));
    wsp__probs(g_logits, g_lp, NV, g_p);
    t = wsp__sample_best(&g_v, g_p, g_lp);
    assert_int_equal(t.id, 400);
    assert_int_equal(t.tid, 0);
    assert_true(t.pt == 0.0f && t.ptsum == 0.0f);
}

static void test_greedy_first_index_of_max_and_temperature(void **state)
{
    (void)state;
    wsp__filter_opts o = opts();
    o.suppress_blank = false;
    int32_t a[1] = {5};
    wsp__ts_state st = {a, 1, false, 3000};
    static float raw[NV];
    for (int i = 0; i < NV; i++)
        raw[i] = -30.0f;
    raw[700] = 3.0f;
    raw[300] = 3.0f; /* tie: the lower id wins */
    raw[g_v.sot] = 50.0f; /* suppressed whatever its logit */
    wsp__process_logits(&g_v, &o, &st, 0.0f, raw, g_logits, g_lp, g_p);
    wsp_token t = wsp__sample_best(&g_v, g_p, g_lp);
    assert_int_equal(t.id, 300);
    assert_true(fabs(t.p - 0.5f) < 1e-3);
    assert_true(fabs(t.plog - logf(t.p)) < 1e-5);
    /* temperature divides the logits: T = 2 halves the gap */
    raw[300] = 2.0f;
    wsp__process_logits(&g_v, &o, &st, 2.0f, raw, g_logits, g_lp, g_p);
    assert_true(fabs((g_lp[700] - g_lp[300]) - 0.5f) < 1e-5);
    /* sampling is reproducible for a seed and picks only live tokens */
    wsp__rng r1, r2;
    wsp__rng_seed(&r1, 42);
    wsp__rng_seed(&r2, 42);
    for (int k = 0; k < 50; k++) {
        wsp_token x = wsp__sample_random(&g_v, g_p, g_lp, &r1);
        wsp_token y = wsp__sample_random(&g_v, g_p, g_lp, &r2);
        assert_int_equal(x.id, y.id);
        assert_true(g_p[x.id] > 0.0f);
        assert_true(x.id != g_v.sot);
    }
}

static void test_topk(void **state)
{
    (void)state;
    float lp[8] = {-1.0f, -0.5f, -INFINITY, -0.5f, -3.0f, -0.1f, -2.0f, -INFINITY};
    int32_t ids[4];
    assert_int_equal(wsp__topk(lp, 8, 4, ids), 4);
    assert_int_equal(ids[0], 5);
    assert_int_equal(ids[1], 1); /* tie with 3: lower id first */
    assert_int_equal(ids[2], 3);
    assert_int_equal(ids[3], 0);
    assert_int_equal(wsp__topk(lp, 8, 8, (int32_t[8]){0}), 6); /* finite ones only */
}

static void test_no_speech_prob(void **state)
{
    (void)state;
    fill(0.0f);
    g_logits[g_v.nosp] = logf((float)(NV - 1)); /* same mass as all others together */
    assert_true(fabs(wsp__no_speech_prob(&g_v, g_logits) - 0.5f) < 1e-3);
}

static void test_sequence_score(void **state)
{
    (void)state;
    wsp_token t[40];
    memset(t, 0, sizeof t);
    for (int i = 0; i < 40; i++) {
        t[i].id = 100;
        t[i].plog = -0.5f;
    }
    double avg, ent;
    double s = wsp__sequence_score(t, 40, -1.0f, &avg, &ent);
    assert_true(fabs(s + 0.5) < 1e-9 && fabs(avg + 0.5) < 1e-9);
    assert_true(ent == 0.0); /* one id repeated: zero entropy → whisper.cpp fails it */
    for (int i = 0; i < 40; i++)
        t[i].id = i;
    wsp__sequence_score(t, 40, -1.0f, &avg, &ent);
    assert_true(fabs(ent - log(32.0)) < 1e-9); /* last 32 ids all distinct */
    s = wsp__sequence_score(t, 40, 1.0f, &avg, &ent);
    assert_true(fabs(s - (-20.0 / ((5.0 + 40) / 6.0))) < 1e-9);
    s = wsp__sequence_score(t, 0, -1.0f, &avg, &ent);
    assert_true(isinf(s) && isinf(avg));
}

static void test_compression_ratio(void **state)
{
    (void)state;
    char rep[400];
    for (int i = 0; i < 100; i++)
        memcpy(rep + 4 * i, " the", 4);
    assert_true(wsp__compression_ratio((const uint8_t *)rep, sizeof rep) > 2.4f);
    const char *prose = "Reunião de planejamento: decisões e ações da próxima sprint.";
    assert_true(wsp__compression_ratio((const uint8_t *)prose, strlen(prose)) < 2.4f);
    assert_true(wsp__compression_ratio((const uint8_t *)"", 0) == 0.0f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suppress_blank_first_step_only),
        cmocka_unit_test(test_special_tokens_suppressed),
        cmocka_unit_test(test_timestamp_pairing),
        cmocka_unit_test(test_max_initial_timestamp),
        cmocka_unit_test(test_log_softmax_and_probs),
        cmocka_unit_test(test_timestamp_mass_rule),
        cmocka_unit_test(test_greedy_first_index_of_max_and_temperature),
        cmocka_unit_test(test_topk),
        cmocka_unit_test(test_no_speech_prob),
        cmocka_unit_test(test_sequence_score),
        cmocka_unit_test(test_compression_ratio),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
