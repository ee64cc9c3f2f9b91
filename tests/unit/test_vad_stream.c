/*
 * test_vad_stream.c — voice-activity detection over audio that arrives in pieces:
 *  - vad_detector fed in random chunk sizes (1 sample … 20 000) gives vad_detect's
 *    probabilities bit for bit (Silero v6.2 on jfk.wav and the 5-minute fixture);
 *  - vad_filter_plan's map and pieces are vad_filter_audio's, and vad_cutter, fed the
 *    input in random chunks, emits exactly vad_filter_audio's samples — for the spans of
 *    the real model and for random spans whose overlapped pieces run into each other;
 *  - the cutter's errors: input shorter than the plan, emit() stopping it.
 */
#include "testutil.h"

#include "mdc/audio.h"
#include "mdc/vad.h"

static size_t chunk_size(uint32_t *seed, size_t max)
{
    const uint32_t r = tu_xorshift32(seed);
    size_t k = r % 8 == 0 ? 1 + (r >> 8) % 3 : 1 + (r >> 8) % max;
    return k;
}

typedef struct sink {
    float *v;
    size_t n, cap;
    size_t calls, stop_after; /* 0 = never stop */
} sink;

static int sink_emit(const float *x, size_t n, void *user)
{
    sink *s = user;
    if (s->stop_after && ++s->calls >= s->stop_after)
        return 42;
    if (s->n + n > s->cap) {
        s->cap = (s->n + n) * 2;
        s->v = realloc(s->v, s->cap * sizeof(float));
        assert_non_null(s->v);
    }
    memcpy(s->v + s->n, x, n * sizeof(float));
    s->n += n;
    return 0;
}

/* The cutter over x[0..n) in random chunks equals vad_filter_audio. */
static void check_cut(const float *x, size_t n, const vad_span *spans, size_t ns, float overlap,
                      uint32_t seed)
{
    vad_filtered whole, plan;
    assert_int_equal(vad_filter_audio(x, n, spans, ns, overlap, &whole), 0);
    assert_int_equal(vad_filter_plan(n, spans, ns, overlap, &plan), 0);
    assert_null(plan.samples);
    assert_int_equal(plan.n_samples, whole.n_samples);
    assert_int_equal(plan.n_map, whole.n_map);
    assert_int_equal(plan.n_pieces, whole.n_pieces);
    if (plan.n_map)
        assert_memory_equal(plan.map, whole.map, plan.n_map * sizeof *plan.map);
    vad_cutter *c = NULL;
    assert_int_equal(vad_cutter_new(&plan, &c), 0);
    sink s = {0};
    for (size_t i = 0; i < n;) {
        size_t k = chunk_size(&seed, 20000);
        k = k < n - i ? k : n - i;
        assert_int_equal(vad_cutter_feed(c, x + i, k, sink_emit, &s), 0);
        i += k;
    }
    assert_int_equal(vad_cutter_finish(c), 0);
    assert_int_equal(s.n, whole.n_samples);
    if (s.n)
        assert_memory_equal(s.v, whole.samples, s.n * sizeof(float));
    vad_cutter_free(c);
    free(s.v);
    vad_filtered_free(&plan);
    vad_filtered_free(&whole);
}

static float *decode(const char *rel, size_t *n)
{
    aud_pcm pcm;
    assert_int_equal(aud_decode_file(tu_shared(rel), NULL, NULL, NULL, &pcm, NULL), 0);
    *n = pcm.n_samples;
    return pcm.samples; /* the caller frees (plain malloc'd buffer) */
}

static void test_detector_and_cutter_real_model(void **state)
{
    (void)state;
    const char *mp = tu_shared("whisper-ref/models/ggml-silero-v6.2.0.bin");
    TU_REQUIRE_FILE(mp);
    TU_REQUIRE_FILE(tu_shared("whisper-ref/data/jfk.wav"));
    TU_REQUIRE_FILE(tu_shared("fixtures/audio/edge_5min_two_utterances.flac"));
    vad_model *m = NULL;
    assert_int_equal(vad_model_load(mp, &m, NULL), 0);
    const char *clips[] = {"whisper-ref/data/jfk.wav", "fixtures/audio/edge_5min_two_utterances.flac"};
    uint32_t seed = 777;
    for (size_t f = 0; f < 2; f++) {
        size_t n = 0;
        float *x = decode(clips[f], &n);
        float *pw = NULL, *ps = NULL;
        size_t nw = 0, ns = 0;
        assert_int_equal(vad_detect(m, x, n, &pw, &nw, NULL, NULL, NULL), 0);
        vad_detector *d = NULL;
        assert_int_equal(vad_detector_new(m, NULL, NULL, &d, NULL), 0);
        for (size_t i = 0; i < n;) {
            size_t k = chunk_size(&seed, 20000);
            k = k < n - i ? k : n - i;
            assert_int_equal(vad_detector_feed(d, x + i, k, NULL), 0);
            i += k;
        }
        assert_int_equal(vad_detector_finish(d, &ps, &ns, NULL), 0);
        assert_int_equal(vad_detector_feed(d, x, 1, NULL), VAD_EINVAL); /* finished */
        vad_detector_free(d);
        assert_int_equal(ns, nw);
        assert_int_equal(nw, (n + 511) / 512);
        assert_memory_equal(ps, pw, nw * sizeof(float));
        const vad_params vp = vad_default_params();
        vad_span *spans = NULL;
        size_t n_spans = 0;
        assert_int_equal(vad_segments_from_probs(pw, nw, 512, &vp, &spans, &n_spans), 0);
        print_message("%s: %zu probabilities equal, %zu spans\n", clips[f], nw, n_spans);
        assert_true(n_spans > 0);
        check_cut(x, n, spans, n_spans, vp.samples_overlap, seed++);
        free(spans);
        free(pw);
        free(ps);
        free(x);
    }
    vad_model_free(m);
}

/* Random spans, overlaps up to 10 s (pieces then overlap their successors), spans past
 * the end, empty spans. */
static void test_cutter_random_spans(void **state)
{
    (void)state;
    const size_t n = 16000 * 40;
    float *x = malloc(n * sizeof(float));
    assert_non_null(x);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)i; /* every sample distinct: a misplaced one shows */
    uint32_t seed = 4242;
    for (int round = 0; round < 300; round++) {
        vad_span spans[12];
        size_t ns = 1 + tu_xorshift32(&seed) % 12;
        int64_t t = (int64_t)(tu_xorshift32(&seed) % 300);
        for (size_t i = 0; i < ns; i++) {
            const int64_t len = (int64_t)(tu_xorshift32(&seed) % 400);
            spans[i].t0_cs = t;
            spans[i].t1_cs = t + len;
            t += len + (int64_t)(tu_xorshift32(&seed) % 300);
        }
        if (round % 7 == 0)
            spans[ns - 1].t1_cs = 100000; /* past the end: capped at n − 1 */
        const float overlaps[] = {0.0f, 0.1f, 0.5f, 3.0f, 10.0f};
        check_cut(x, n, spans, ns, overlaps[round % 5], seed);
    }
    free(x);
}

static void test_cutter_errors(void **state)
{
    (void)state;
    float x[32000];
    for (size_t i = 0; i < 32000; i++)
        x[i] = (float)i;
    const vad_span spans[] = {{10, 50}, {80, 150}};
    vad_filtered plan;
    assert_int_equal(vad_filter_plan(32000, spans, 2, 0.1f, &plan), 0);
    assert_int_equal(plan.n_pieces, 2);
    vad_cutter *c = NULL;
    assert_int_equal(vad_cutter_new(NULL, &c), VAD_EINVAL);
    assert_int_equal(vad_cutter_new(&plan, &c), 0);
    sink s = {0};
    /* the input stops at 1 s: the second piece never completes */
    assert_int_equal(vad_cutter_feed(c, x, 16000, sink_emit, &s), 0);
    assert_int_equal(vad_cutter_finish(c), VAD_EINVAL);
    assert_int_equal(vad_cutter_feed(c, NULL, 5, sink_emit, &s), VAD_EINVAL);
    vad_cutter_free(c);
    free(s.v);
    /* emit() stops the feed with its own value */
    assert_int_equal(vad_cutter_new(&plan, &c), 0);
    sink stop = {.stop_after = 2};
    assert_int_equal(vad_cutter_feed(c, x, 32000, sink_emit, &stop), 42);
    vad_cutter_free(c);
    free(stop.v);
    vad_cutter_free(NULL);
    vad_filtered_free(&plan);
    assert_int_equal(vad_filter_plan(10, spans, 2, 11.0f, &plan), VAD_EINVAL);
    assert_int_equal(vad_filter_plan(10, NULL, 2, 0.1f, &plan), VAD_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_detector_and_cutter_real_model),
        cmocka_unit_test(test_cutter_random_spans),
        cmocka_unit_test(test_cutter_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
