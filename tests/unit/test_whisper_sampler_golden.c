/*
 * test_whisper_sampler_golden.c — whisper.cpp's random sampler, reproduced exactly:
 * std::mt19937 outputs, generate_canonical<double,53> and discrete_distribution draws
 * against the pack's sampler_test_vectors.json, and the first-step replay
 * (replay_step0.json): the raw window-0 logits of whisper.cpp on this host
 * (window0_step0_logits_avx2.f32) through our first-step filter + exact log-softmax +
 * sampler must give exactly whisper.cpp's draws, beams after step 1 and best-of tokens.
 * ref: ../shared/whisper-ref/README-round2.md §2.
 */
#include "testutil.h"

#include <math.h>

#include <jansson.h>

#include "whisper/sampling.h"
#include "whisper/tokenizer.h"

#define DEC_DIR "whisper-ref/golden/tiny-dims/decoding/"
#define NV 51865

static json_t *load_json(const char *rel)
{
    const char *path = tu_shared(rel);
    if (!tu_exists(path))
        return NULL;
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    if (!j)
        fail_msg("%s: %s", path, e.text);
    return j;
}

static void test_mt19937_and_canonical_vectors(void **state)
{
    (void)state;
    TU_REQUIRE_FILE(tu_shared(DEC_DIR "sampler_test_vectors.json"));
    json_t *j = load_json(DEC_DIR "sampler_test_vectors.json");
    json_t *mt = json_object_get(j, "mt19937_first_outputs");
    json_t *gc = json_object_get(j, "generate_canonical_double_first");
    assert_non_null(mt);
    assert_non_null(gc);
    int n_checked = 0;
    const char *key;
    json_t *arr;
    json_object_foreach(mt, key, arr)
    {
        wsp__rng r;
        wsp__rng_seed(&r, (uint32_t)strtoul(key, NULL, 10));
        for (size_t i = 0; i < json_array_size(arr); i++) {
            assert_int_equal(wsp__rng_next(&r), (uint32_t)json_integer_value(json_array_get(arr, i)));
            n_checked++;
        }
    }
    json_object_foreach(gc, key, arr)
    {
        wsp__rng r;
        wsp__rng_seed(&r, (uint32_t)strtoul(key, NULL, 10));
        for (size_t i = 0; i < json_array_size(arr); i++) {
            const double want = json_real_value(json_array_get(arr, i));
            const double got = wsp__rng_canonical(&r);
            if (got != want)
                fail_msg("seed %s canonical %zu: %.17g != %.17g", key, i, got, want);
            n_checked++;
        }
    }
    assert_true(n_checked >= 6 * 5 + 6 * 4);
    /* far into the stream (several twists): the 10000th output of mt19937(5489), the
     * value ISO C++ [rand.predef] requires */
    wsp__rng r;
    wsp__rng_seed(&r, 5489u);
    uint32_t x = 0;
    for (int i = 0; i < 10000; i++)
        x = wsp__rng_next(&r);
    assert_int_equal(x, 4123659995u);
    json_decref(j);
}

static void test_discrete_distribution_vectors(void **state)
{
    (void)state;
    TU_REQUIRE_FILE(tu_shared(DEC_DIR "sampler_test_vectors.json"));
    json_t *j = load_json(DEC_DIR "sampler_test_vectors.json");
    json_t *d = json_object_get(j, "discrete_draws_weights_0_0.1_0.2_0_0.3_0.4");
    assert_non_null(d);
    const float w[6] = {0.0f, 0.1f, 0.2f, 0.0f, 0.3f, 0.4f};
    const char *key;
    json_t *arr;
    int n = 0;
    json_object_foreach(d, key, arr)
    {
        wsp__rng r;
        wsp__rng_seed(&r, (uint32_t)strtoul(key, NULL, 10));
        for (size_t i = 0; i < json_array_size(arr); i++, n++)
            assert_int_equal(wsp__discrete_draw(&r, w, 6),
                             (int)json_integer_value(json_array_get(arr, i)));
    }
    assert_int_equal(n, 6 * 12);
    /* all-zero weights: no draw (the library's precondition sum > 0), -1 */
    const float z[3] = {0};
    wsp__rng r;
    wsp__rng_seed(&r, 0);
    assert_int_equal(wsp__discrete_draw(&r, z, 3), -1);
    assert_int_equal(wsp__rng_next(&r), 2357136044u); /* nothing was consumed */
    json_decref(j);
}

typedef struct cand {
    int dec, id;
    double score;
} cand;

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->dec - y->dec;
}

/* One replay case of replay_step0.json: K decoders with fresh mt19937(j), `per` draws
 * each from the first-step probabilities at temperature temp. */
static void replay_case(const wsp__vocab *v, const float *raw, json_t *want, int K, int per,
                        float temp)
{
    static float lg[NV], lp[NV], pr[NV];
    wsp__filter_opts o = {.suppress_blank = true, .max_initial_ts = 1.0f, .n_audio_ctx = 1500,
                          .blank_id = 220};
    wsp__ts_state st = {0};
    wsp__process_logits(v, &o, &st, temp, raw, lg, lp, pr);
    json_t *draws = json_object_get(want, "draws");
    assert_int_equal(json_array_size(draws), (size_t)(K * per));
    cand c[64];
    int nc = 0;
    for (int j = 0; j < K; j++) {
        wsp__rng r;
        wsp__rng_seed(&r, (uint32_t)j);
        for (int k = 0; k < per; k++, nc++) {
            wsp_token t = wsp__sample_random(v, pr, lp, &r);
            json_t *w = json_array_get(draws, (size_t)nc);
            assert_int_equal(json_integer_value(json_object_get(w, "decoder")), j);
            if (t.id != (int)json_integer_value(json_object_get(w, "id")))
                fail_msg("T=%g decoder %d draw %d: id %d, whisper.cpp %d", temp, j, k, t.id,
                         (int)json_integer_value(json_object_get(w, "id")));
            const double wp = json_real_value(json_object_get(w, "plog"));
            assert_true(fabs(t.plog - wp) <= 1e-6 * fabs(wp)); /* printed with %.9g */
            c[nc] = (cand){j, t.id, t.plog};
        }
    }
    if (per > 1)
        qsort(c, (size_t)nc, sizeof c[0], cmp_cand);
    json_t *pred = json_object_get(want, "predicted_step1");
    for (int j = 0; j < K; j++)
        assert_int_equal(c[j].id, (int)json_integer_value(json_array_get(pred, (size_t)j)));
}

static int cmp_int(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* Whether two JSON arrays of (at most 16) integers hold the same multiset. */
static bool same_multiset(json_t *a, json_t *b)
{
    int x[16], y[16];
    const size_t n = json_array_size(a);
    if (n == 0 || n > 16 || n != json_array_size(b))
        return false;
    for (size_t i = 0; i < n; i++) {
        x[i] = (int)json_integer_value(json_array_get(a, i));
        y[i] = (int)json_integer_value(json_array_get(b, i));
    }
    qsort(x, n, sizeof x[0], cmp_int);
    qsort(y, n, sizeof y[0], cmp_int);
    return memcmp(x, y, n * sizeof x[0]) == 0;
}

static void test_first_step_replay(void **state)
{
    (void)state;
    TU_REQUIRE_FILE(tu_shared(DEC_DIR "replay_step0.json"));
    TU_REQUIRE_FILE(tu_shared(DEC_DIR "window0_step0_logits_avx2.f32"));
    json_t *j = load_json(DEC_DIR "replay_step0.json");
    size_t len = 0;
    float *raw = tu_read_file(tu_shared(DEC_DIR "window0_step0_logits_avx2.f32"), &len);
    assert_non_null(raw);
    assert_true(len >= sizeof(float) * NV); /* row 0 = logits after the prompt */
    wsp__vocab v;
    assert_int_equal(wsp__vocab_set_specials(&v, NV), 0);
    json_t *h = json_object_get(j, "avx2_this_host");
    replay_case(&v, raw, json_object_get(h, "beam_k5_T0"), 5, 5, 0.0f);
    replay_case(&v, raw, json_object_get(h, "bestof_k5_T0.2"), 5, 1, 0.2f);
    replay_case(&v, raw, json_object_get(h, "bestof_k5_T0.4"), 5, 1, 0.4f);
    replay_case(&v, raw, json_object_get(h, "bestof_k5_T1.0"), 5, 1, 1.0f);
    /* and what whisper.cpp actually kept after step 1 (its trace lists the kept tokens
     * sorted by id): the same multisets */
    json_t *tr = json_object_get(j, "whisper_cpp_trace_step1");
    assert_true(same_multiset(json_object_get(tr, "beam5_jfk_window0"),
                              json_object_get(json_object_get(h, "beam_k5_T0"), "predicted_step1")));
    assert_true(same_multiset(json_object_get(tr, "bestof5_jfk_window0_attempt1_T0.2"),
                              json_object_get(json_object_get(h, "bestof_k5_T0.2"), "predicted_step1")));
    free(raw);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mt19937_and_canonical_vectors),
        cmocka_unit_test(test_discrete_distribution_vectors),
        cmocka_unit_test(test_first_step_replay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
