/*
 * test_vad_segments.c — the pure parts of the VAD module on hand-made inputs:
 * whisper.cpp's segment rules (hysteresis, minimum speech and silence, merging of short
 * gaps, padding, maximum speech split, speech running to the end, bad parameters, NaN
 * probabilities), the filtered-audio layout and the time mapping (empty table, clamping,
 * interpolation with truncating division, the 10 cs minimum), and the f16 rounding.
 * The goldens of test_vad_golden check the same functions against whisper.cpp itself.
 */
#include "testutil.h"

#include "mdc/half.h"
#include "mdc/vad.h"
#include "vad/vad_internal.h"

#include <float.h>
#include <math.h>

/* probs: n chunks, value v on [a, b) chunks, 0 elsewhere (several runs with fill()). */
static void fill(float *p, int a, int b, float v)
{
    for (int i = a; i < b; i++)
        p[i] = v;
}

static size_t run(const float *p, size_t n, const vad_params *vp, vad_span **s)
{
    size_t ns = 99;
    assert_int_equal(vad_segments_from_probs(p, n, 512, vp, s, &ns), 0);
    return ns;
}

static void test_one_run_padded(void **state)
{
    (void)state;
    float p[50] = {0};
    fill(p, 10, 30, 0.9f);
    vad_params vp = vad_default_params();
    vad_span *s = NULL;
    /* speech 10·512 = 5120 … silence from 30·512 = 15360; ± 30 ms pad (480 samples):
     * [4640, 15840] samples = [29, 99] cs */
    assert_int_equal(run(p, 50, &vp, &s), 1);
    assert_int_equal(s[0].t0_cs, 29);
    assert_int_equal(s[0].t1_cs, 99);
    free(s);
    /* nothing but silence: no segment, NULL */
    float z[50] = {0};
    assert_int_equal(run(z, 50, &vp, &s), 0);
    assert_null(s);
    /* no probabilities at all */
    assert_int_equal(run(NULL, 0, &vp, &s), 0);
}

static void test_hysteresis_and_min_durations(void **state)
{
    (void)state;
    vad_params vp = vad_default_params();
    vad_span *s = NULL;
    /* a dip to 0.4 (between neg_threshold 0.35 and 0.5) does not end speech */
    float p[60] = {0};
    fill(p, 10, 40, 0.9f);
    fill(p, 20, 30, 0.4f);
    assert_int_equal(run(p, 60, &vp, &s), 1);
    free(s);
    /* a dip to 0.3 for 10 chunks (5120 samples > 100 ms) does end it: two segments, the
     * gap (5120 samples ≥ 200 ms) is not merged */
    fill(p, 20, 30, 0.3f);
    assert_int_equal(run(p, 60, &vp, &s), 2);
    free(s);
    /* a short dip (2 chunks = 1024 samples < 100 ms of silence) does not */
    fill(p, 20, 30, 0.9f);
    fill(p, 20, 22, 0.1f);
    assert_int_equal(run(p, 60, &vp, &s), 1);
    free(s);
    /* a burst of 5 chunks (2560 samples < 250 ms) is dropped */
    float q[40] = {0};
    fill(q, 10, 15, 0.99f);
    assert_int_equal(run(q, 40, &vp, &s), 0);
    /* with min_speech 100 ms it stays */
    vp.min_speech_duration_ms = 100;
    assert_int_equal(run(q, 40, &vp, &s), 1);
    free(s);
}

static void test_merge_short_gaps(void **state)
{
    (void)state;
    vad_params vp = vad_default_params();
    vad_span *s = NULL;
    /* two runs 4 chunks apart: the silence (2048 samples ≥ 1600) ends the first, but the
     * gap is < 200 ms (3200 samples): merged into one */
    float p[80] = {0};
    fill(p, 10, 30, 0.9f);
    fill(p, 34, 60, 0.9f);
    assert_int_equal(run(p, 80, &vp, &s), 1);
    assert_int_equal(s[0].t0_cs, 29);               /* 5120 − 480 */
    assert_int_equal(s[0].t1_cs, (int64_t)((60 * 512 + 480) / 160.0 + 0.5)); /* 195 */
    free(s);
    /* 7 chunks apart (3584 samples > 3200): two segments; their gap ≥ 2 pads, so each
     * gets its full padding */
    float q[80] = {0};
    fill(q, 10, 30, 0.9f);
    fill(q, 37, 60, 0.9f);
    assert_int_equal(run(q, 80, &vp, &s), 2);
    assert_int_equal(s[0].t1_cs, (int64_t)((30 * 512 + 480) / 160.0 + 0.5));
    assert_int_equal(s[1].t0_cs, (int64_t)((37 * 512 - 480) / 160.0 + 0.5));
    free(s);
    /* a large pad (200 ms) on the same input: the gap (3584) < 2 pads is split in half */
    vp.speech_pad_ms = 200;
    assert_int_equal(run(q, 80, &vp, &s), 2);
    assert_int_equal(s[0].t1_cs, s[1].t0_cs);
    assert_int_equal(s[0].t1_cs, (int64_t)((30 * 512 + 3584 / 2) / 160.0 + 0.5));
    free(s);
}

static void test_max_speech_split_and_end(void **state)
{
    (void)state;
    vad_params vp = vad_default_params();
    vad_span *s = NULL;
    /* 60 chunks of speech running to the end of the audio: one segment ending at
     * n_probs · 512 (not padded past it) */
    float p[60];
    fill(p, 0, 60, 0.9f);
    assert_int_equal(run(p, 60, &vp, &s), 1);
    assert_int_equal(s[0].t0_cs, 0);
    assert_int_equal(s[0].t1_cs, (int64_t)(60 * 512 / 160.0 + 0.5));
    free(s);
    /* max speech 1 s without a pause: whisper.cpp cuts where the limit is reached, but
     * the pieces are one chunk apart and its 200 ms merge joins them again (quirk kept) */
    vp.max_speech_duration_s = 1.0f;
    assert_int_equal(run(p, 60, &vp, &s), 1);
    free(s);
    /* with a pause of 7 chunks (3584 samples: > 98 ms, < min silence 250 ms) the split
     * happens at the pause, and the gap (≥ 200 ms) keeps the pieces apart */
    vp.min_silence_duration_ms = 250;
    fill(p, 20, 27, 0.1f);
    size_t ns = run(p, 60, &vp, &s);
    assert_int_equal(ns, 2);
    assert_int_equal(s[0].t0_cs, 0);
    assert_int_equal(s[0].t1_cs, (int64_t)((20 * 512 + 480) / 160.0 + 0.5)); /* pause start */
    assert_int_equal(s[1].t0_cs, (int64_t)((27 * 512 - 480) / 160.0 + 0.5)); /* pause end */
    free(s);
    /* without the limit the pause (< min silence) does not split */
    vp.max_speech_duration_s = FLT_MAX;
    assert_int_equal(run(p, 60, &vp, &s), 1);
    free(s);
}

static void test_bad_input(void **state)
{
    (void)state;
    float p[10] = {0};
    vad_span *s = NULL;
    size_t ns = 0;
    vad_params vp = vad_default_params();
    assert_int_equal(vad_segments_from_probs(p, 10, 0, &vp, &s, &ns), VAD_EINVAL);
    assert_int_equal(vad_segments_from_probs(p, 10, 512, NULL, &s, &ns), VAD_EINVAL);
    assert_int_equal(vad_segments_from_probs(NULL, 10, 512, &vp, &s, &ns), VAD_EINVAL);
    vad_error err = {0};
    vp.threshold = 0;
    assert_int_equal(vad_params_validate(&vp, &err), VAD_EINVAL);
    assert_non_null(strstr(err.message, "threshold"));
    assert_int_equal(vad_segments_from_probs(p, 10, 512, &vp, &s, &ns), VAD_EINVAL);
    vp = vad_default_params();
    vp.min_silence_duration_ms = -1;
    assert_int_equal(vad_params_validate(&vp, &err), VAD_EINVAL);
    vp = vad_default_params();
    vp.max_speech_duration_s = NAN;
    assert_int_equal(vad_params_validate(&vp, &err), VAD_EINVAL);
    vp = vad_default_params();
    vp.samples_overlap = 11;
    assert_int_equal(vad_params_validate(&vp, &err), VAD_EINVAL);
    vp = vad_default_params();
    assert_int_equal(vad_params_validate(&vp, &err), 0);
    /* NaN probabilities compare false everywhere: no crash, a well-formed answer */
    float n[20];
    fill(n, 0, 20, NAN);
    assert_int_equal(vad_segments_from_probs(n, 20, 512, &vp, &s, &ns), 0);
    free(s);
}

static void test_filter_and_map(void **state)
{
    (void)state;
    float x[48000];
    for (int i = 0; i < 48000; i++)
        x[i] = (float)(i + 1);
    /* spans [0.5 s, 1.0 s) and [2.0 s, 2.5 s) of a 3 s signal */
    const vad_span sp[2] = {{50, 100}, {200, 250}};
    vad_filtered f = {0};
    assert_int_equal(vad_filter_audio(x, 48000, sp, 2, 0.1f, &f), 0);
    /* 8000 + 1600 overlap + 1600 silence + 8000 */
    assert_int_equal(f.n_samples, 8000 + 1600 + 1600 + 8000);
    assert_true(f.samples[0] == x[8000]);
    assert_true(f.samples[9599] == x[8000 + 9599]); /* the overlap continues the input */
    assert_true(f.samples[9600] == 0.0f && f.samples[11199] == 0.0f);
    assert_true(f.samples[11200] == x[32000]);
    /* table: (0,50) (50,100) (60,100) (70,200) (120,250) */
    assert_int_equal(f.n_map, 5);
    const int64_t want[5][2] = {{0, 50}, {50, 100}, {60, 100}, {70, 200}, {120, 250}};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(f.map[i].processed_cs, want[i][0]);
        assert_int_equal(f.map[i].original_cs, want[i][1]);
    }
    assert_int_equal(vad_map_time(&f, -5), 50);   /* before the first entry */
    assert_int_equal(vad_map_time(&f, 25), 75);   /* inside span 1 */
    assert_int_equal(vad_map_time(&f, 50), 100);  /* exact */
    assert_int_equal(vad_map_time(&f, 65), 150);  /* inside the gap: interpolated */
    assert_int_equal(vad_map_time(&f, 95), 225);
    assert_int_equal(vad_map_time(&f, 999), 250); /* past the end */
    int64_t t0 = 50, t1 = 52;
    vad_map_segment(&f, &t0, &t1);
    assert_int_equal(t0, 100);
    assert_int_equal(t1, 110); /* raised to t0 + 10 */
    vad_filtered_free(&f);
    vad_filtered_free(&f); /* twice is fine */
    vad_filtered_free(NULL);
    /* no spans: nothing; an identity map */
    assert_int_equal(vad_filter_audio(x, 48000, NULL, 0, 0.1f, &f), 0);
    assert_int_equal(f.n_samples, 0);
    assert_int_equal(vad_map_time(&f, 1234), 1234);
    vad_filtered_free(&f);
    /* spans past the end are capped at n − 1; a span entirely past it is skipped */
    const vad_span late[2] = {{250, 400}, {500, 600}};
    assert_int_equal(vad_filter_audio(x, 48000, late, 2, 0.1f, &f), 0);
    assert_int_equal(f.n_samples, 47999 - 40000 + 1600);
    vad_filtered_free(&f);
    assert_int_equal(vad_filter_audio(x, 48000, sp, 2, -1.0f, &f), VAD_EINVAL);
}

static void test_f16_round(void **state)
{
    (void)state;
    /* every half value round-trips; midpoints go to the even neighbour */
    for (uint32_t h = 0; h < 0x7c00; h++) {
        float v = mdc_f16_to_f32((uint16_t)h);
        assert_true(vad__f16_round(v) == v);
        assert_true(vad__f16_round(-v) == -v);
        if (h + 1 < 0x7c00) {
            float w = mdc_f16_to_f32((uint16_t)(h + 1));
            float mid = v + (w - v) / 2; /* exact in float */
            float r = vad__f16_round(mid);
            assert_true(r == ((h & 1) ? w : v));
        }
    }
    assert_true(isinf(vad__f16_round(70000.0f)));
    assert_true(vad__f16_round(65519.0f) == 65504.0f);
    assert_true(isnan(vad__f16_round(NAN)));
}

/* The AVX2 + FMA dot products give exactly the portable ones (same lanes, same order;
 * the portable FMA emulation rounds once per step like the instruction does). */
static void test_dot_paths_agree(void **state)
{
    (void)state;
    if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")))
        skip();
    uint32_t r = 7;
    float x[400], y[400];
    int n_fma_diff = 0;
    for (int trial = 0; trial < 200; trial++) {
        for (int i = 0; i < 400; i++) {
            r = r * 1664525u + 1013904223u;
            x[i] = ((float)(r >> 8) / 16777216.0f - 0.5f) * (trial % 7 + 1);
            r = r * 1664525u + 1013904223u;
            y[i] = (float)(r >> 8) / 16777216.0f - 0.5f;
        }
        static const int ns[] = {0, 5, 32, 128, 192, 256, 384, 387, 400};
        for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
            const int n = ns[k];
            float xf[400], yf[400]; /* f16 operands, as every conv input is */
            for (int i = 0; i < n; i++) {
                xf[i] = vad__f16_round(x[i]);
                yf[i] = vad__f16_round(y[i]);
            }
            assert_true(vad__dot32(xf, yf, n) == vad__dot32_avx2(xf, yf, n));
            n_fma_diff += vad__dot32_fma(x, y, n) != vad__dot32_fma_avx2(x, y, n);
        }
    }
    /* double rounding can only differ from a true FMA at a tie: expect none here */
    assert_int_equal(n_fma_diff, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_run_padded),
        cmocka_unit_test(test_hysteresis_and_min_durations),
        cmocka_unit_test(test_merge_short_gaps),
        cmocka_unit_test(test_max_speech_split_and_end),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_filter_and_map),
        cmocka_unit_test(test_f16_round),
        cmocka_unit_test(test_dot_paths_agree),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
