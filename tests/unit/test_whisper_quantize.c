/*
 * test_whisper_quantize.c — the reference block quantizers (src/whisper/quantize_rows.c):
 *  - real rows: every quantized tensor of the micro model, re-quantized row by row from
 *    the f16 file, equals the bytes whisper-quantize wrote into the shipped
 *    ggml-micro-random-q*.bin (README-round2 §4);
 *  - hand-made blocks: all zeros, the signed maximum's tie rule, subnormal f16 scales,
 *    ±max values, f16 overflow of the scale;
 *  - round trip: dequantized with the formulas of README-round2 §4 (written here, not the
 *    engine's), every weight is within half a step of the input.
 */
#include "testutil.h"

#include "whisper/quantize.h"

#include <math.h>
#include <unistd.h>

static const wsp_qtype k_types[] = {WSP_Q4_0, WSP_Q4_1, WSP_Q5_0, WSP_Q5_1, WSP_Q8_0};

static float h2f(uint16_t h) /* IEEE half → float, independent of the engine's */
{
    const int e = (h >> 10) & 31, m = h & 1023;
    const float v = e == 0 ? ldexpf((float)m, -24) : e == 31 ? (m ? NAN : INFINITY)
                                                            : ldexpf((float)(1024 + m), e - 25);
    return (h & 0x8000) ? -v : v;
}
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Dequantizes one block; *step gets d (the quantization step). ref: README-round2 §4. */
static void deq_block(wsp_qtype t, const uint8_t *b, float *w, float *step)
{
    const float d = h2f(rd16(b));
    *step = fabsf(d);
    switch (t) {
    case WSP_Q4_0:
        for (int j = 0; j < 16; j++) {
            w[j] = (float)((b[2 + j] & 15) - 8) * d;
            w[j + 16] = (float)((b[2 + j] >> 4) - 8) * d;
        }
        break;
    case WSP_Q4_1: {
        const float m = h2f(rd16(b + 2));
        for (int j = 0; j < 16; j++) {
            w[j] = (float)(b[4 + j] & 15) * d + m;
            w[j + 16] = (float)(b[4 + j] >> 4) * d + m;
        }
        break;
    }
    case WSP_Q5_0: {
        const uint32_t qh = rd32(b + 2);
        for (int j = 0; j < 16; j++) {
            w[j] = (float)((int)((b[6 + j] & 15) | ((qh >> j) & 1) << 4) - 16) * d;
            w[j + 16] = (float)((int)((b[6 + j] >> 4) | ((qh >> (j + 16)) & 1) << 4) - 16) * d;
        }
        break;
    }
    case WSP_Q5_1: {
        const float m = h2f(rd16(b + 2));
        const uint32_t qh = rd32(b + 4);
        for (int j = 0; j < 16; j++) {
            w[j] = (float)((b[8 + j] & 15) | ((qh >> j) & 1) << 4) * d + m;
            w[j + 16] = (float)((b[8 + j] >> 4) | ((qh >> (j + 16)) & 1) << 4) * d + m;
        }
        break;
    }
    case WSP_Q8_0:
        for (int j = 0; j < 32; j++)
            w[j] = (float)(int8_t)b[2 + j] * d;
        break;
    }
}

static void test_block_sizes(void **state)
{
    (void)state;
    assert_int_equal(wsp__qblock_bytes(WSP_Q4_0), 18);
    assert_int_equal(wsp__qblock_bytes(WSP_Q4_1), 20);
    assert_int_equal(wsp__qblock_bytes(WSP_Q5_0), 22);
    assert_int_equal(wsp__qblock_bytes(WSP_Q5_1), 24);
    assert_int_equal(wsp__qblock_bytes(WSP_Q8_0), 34);
    assert_int_equal(wsp__qblock_bytes((wsp_qtype)12), 0); /* q4_k: not ours */
    float x[32] = {0};
    uint8_t y[64];
    assert_int_equal(wsp__quantize_row(WSP_Q8_0, x, y, 31), 0); /* not whole blocks */
    assert_int_equal(wsp__quantize_row((wsp_qtype)9, x, y, 32), 0);
    wsp_qtype t;
    assert_int_equal(wsp_qtype_parse("q5_1", &t), 0);
    assert_int_equal(t, WSP_Q5_1);
    assert_int_not_equal(wsp_qtype_parse("q6_k", &t), 0);
    assert_int_not_equal(wsp_qtype_parse("Q5_1", &t), 0);
    assert_string_equal(wsp_qtype_name(WSP_Q8_0), "q8_0");
    assert_string_equal(wsp__ftype_name(2008), "q5_0");
    assert_string_equal(wsp__ftype_name(2007), "q8_0");
    assert_string_equal(wsp__ftype_name(2012), "q4_k");
    assert_string_equal(wsp__ftype_name(1), "f16");
    assert_string_equal(wsp__ftype_name(1001), "unknown");
}

/* All-zero block: the zero code of each type (8 for q4_0, 16 for q5_0); q4_0/q5_0 store
 * d = 0 / −8 = −0 (f16 0x8000), as the reference's `max / -8` does. */
static void test_zero_block(void **state)
{
    (void)state;
    float x[32] = {0};
    uint8_t y[34];
    memset(y, 0xee, sizeof y);
    assert_int_equal(wsp__quantize_row(WSP_Q4_0, x, y, 32), 18);
    assert_int_equal(rd16(y), 0x8000);
    for (int j = 0; j < 16; j++)
        assert_int_equal(y[2 + j], 0x88);
    assert_int_equal(wsp__quantize_row(WSP_Q5_0, x, y, 32), 22);
    assert_int_equal(rd16(y), 0x8000);
    assert_int_equal(rd32(y + 2), 0xffffffffu); /* bit 4 of 16 in every weight */
    for (int j = 0; j < 16; j++)
        assert_int_equal(y[6 + j], 0x00);
    const wsp_qtype zero_code[] = {WSP_Q4_1, WSP_Q5_1, WSP_Q8_0};
    for (int k = 0; k < 3; k++) {
        memset(y, 0xee, sizeof y);
        const size_t n = wsp__quantize_row(zero_code[k], x, y, 32);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(y[i], 0);
    }
}

/* The signed maximum: the first of equal |x| wins, so d's sign follows it (q4_0/q5_0). */
static void test_absmax_tie(void **state)
{
    (void)state;
    float x[32] = {0};
    uint8_t y[22];
    x[3] = 0.5f;
    x[7] = -0.5f;
    wsp__quantize_row(WSP_Q4_0, x, y, 32);
    assert_int_equal(rd16(y), 0xac00); /* d = 0.5 / −8 = −0.0625 = −2^-4 */
    assert_int_equal(y[2 + 3] & 15, 0); /* 0.5 / −0.0625 + 8.5 = 0.5 → 0 */
    assert_int_equal(y[2 + 7] & 15, 15); /* −0.5 → 16.5 → clamped to 15 */
    x[3] = -0.5f;
    x[7] = 0.5f;
    wsp__quantize_row(WSP_Q5_0, x, y, 32);
    assert_int_equal(rd16(y), 0x2800); /* d = −0.5 / −16 = +0.03125 = 2^-5 */
    /* x[3] = −0.5: −16 + 16.5 = 0.5 → 0;  x[7] = 0.5: 16 + 16.5 = 32.5 → 31 */
    assert_int_equal(y[6 + 3] & 15, 0);
    assert_int_equal((rd32(y + 2) >> 3) & 1, 0);
    assert_int_equal(y[6 + 7] & 15, 15);
    assert_int_equal((rd32(y + 2) >> 7) & 1, 1);
}

/* Tiny weights give a subnormal f16 scale; huge f32 weights overflow it to ±inf, as
 * GGML_FP32_TO_FP16 does.  Both must still round-trip where representable. */
static void test_scales_extremes(void **state)
{
    (void)state;
    float x[32];
    uint8_t y[34];
    for (int j = 0; j < 32; j++)
        x[j] = (float)(j - 15) * 1e-5f; /* |x| <= 1.6e-4: every d in (2^-24, 2^-14) */
    for (size_t k = 0; k < 5; k++) {
        wsp__quantize_row(k_types[k], x, y, 32);
        assert_int_equal((rd16(y) >> 10) & 31, 0); /* exponent 0: subnormal (or zero) */
        assert_int_not_equal(rd16(y) & 0x3ff, 0);
    }
    for (int j = 0; j < 32; j++)
        x[j] = j % 2 ? 65504.0f : -65504.0f; /* ±max f16 */
    for (size_t k = 0; k < 5; k++) {
        float w[32], step;
        wsp__quantize_row(k_types[k], x, y, 32);
        deq_block(k_types[k], y, w, &step);
        /* within one step: q4_0/q5_0 clamp the sign opposite to the first maximum to
         * 7·d / 15·d (ggml's asymmetric code range) */
        for (int j = 0; j < 32; j++)
            assert_true(fabsf(w[j] - x[j]) <= step * 1.001f + 1.0f);
    }
    x[0] = 1e6f; /* q4_0: d = 1e6 / −8 = −125000 does not fit f16 */
    wsp__quantize_row(WSP_Q4_0, x, y, 32);
    assert_int_equal(rd16(y), 0xfc00); /* −inf, as ggml writes it */
}

/* Round trip on pseudo-random rows (including a constant block and one with an outlier). */
static void test_round_trip(void **state)
{
    (void)state;
    enum { K = 32 * 64 };
    float x[K];
    uint32_t s = 12345;
    for (int i = 0; i < K; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = ((float)(s >> 8) / 16777216.0f - 0.5f) * (1.0f + (float)(i / 32));
    }
    for (int j = 0; j < 32; j++)
        x[32 + j] = 0.25f;  /* constant block: q4_1/q5_1 d = 0, m = 0.25 */
    x[64 + 5] = 40.0f;      /* outlier block */
    uint8_t y[K / 32 * 34];
    for (size_t k = 0; k < 5; k++) {
        const wsp_qtype t = k_types[k];
        const size_t bb = wsp__qblock_bytes(t);
        assert_int_equal(wsp__quantize_row(t, x, y, K), K / 32 * bb);
        double worst = 0;
        for (int b = 0; b < K / 32; b++) {
            float w[32], step;
            deq_block(t, y + (size_t)b * bb, w, &step);
            for (int j = 0; j < 32; j++) {
                /* half a step (a whole one where q4_0/q5_0 clamp the sign opposite to the
                 * block's first maximum), plus the f16 rounding of d (2^-11 relative, up
                 * to 127 codes: 0.07 step) and of m */
                const int sym = t == WSP_Q4_0 || t == WSP_Q5_0;
                float amax = 0;
                for (int i = 0; i < 32; i++)
                    amax = fmaxf(amax, fabsf(x[b * 32 + i]));
                const float tol = (sym ? 1.0f : 0.5f) * step + 0.07f * step + amax * 1e-3f + 1e-6f;
                const float e = fabsf(w[j] - x[b * 32 + j]);
                if (e > tol)
                    fail_msg("%s block %d weight %d: %g → %g (step %g)", wsp_qtype_name(t), b, j,
                             (double)x[b * 32 + j], (double)w[j], (double)step);
                if (step > 0 && e / step > worst)
                    worst = e / step;
            }
        }
        print_message("%s round trip: worst error %.3f steps\n", wsp_qtype_name(t), worst);
    }
}

/* Walks a model file to the tensor `want`; returns its data offset and type, or -1. */
static long find_tensor(const uint8_t *b, size_t len, const char *want, int *ttype, long *nel)
{
    int32_t v[3];
    size_t p = tu_ggml_first_tensor(b);
    while (p + 12 <= len) {
        memcpy(v, b + p, 12);
        int32_t ne[4] = {1, 1, 1, 1};
        memcpy(ne, b + p + 12, 4 * (size_t)v[0]);
        const char *name = (const char *)b + p + 12 + 4 * v[0];
        const size_t hdr = 12 + 4 * (size_t)v[0] + (size_t)v[1];
        const long n = (long)ne[0] * ne[1] * ne[2] * ne[3];
        const size_t bytes = v[2] == 0 ? (size_t)n * 4 : v[2] == 1 ? (size_t)n * 2
                                                                    : (size_t)n / 32 * wsp__qblock_bytes((wsp_qtype)v[2]);
        if ((size_t)v[1] == strlen(want) && memcmp(name, want, (size_t)v[1]) == 0) {
            *ttype = v[2];
            *nel = n;
            return (long)(p + hdr);
        }
        p += hdr + bytes;
    }
    return -1;
}

static void test_micro_rows_equal_whisper_quantize(void **state)
{
    (void)state;
    const char *src = tu_shared("whisper-ref/models/ggml-micro-random.bin");
    TU_REQUIRE_FILE(src);
    size_t slen = 0;
    uint8_t *sb = tu_read_file(src, &slen);
    assert_non_null(sb);
    const char *names[] = {"encoder.blocks.0.attn.query.weight", "decoder.blocks.1.mlp.0.weight",
                           "decoder.blocks.0.cross_attn.out.weight", "decoder.token_embedding.weight"};
    for (size_t k = 0; k < 5; k++) {
        char rel[128];
        snprintf(rel, sizeof rel, "whisper-ref/models/ggml-micro-random-%s.bin",
                 wsp_qtype_name(k_types[k]));
        size_t qlen = 0;
        uint8_t *qb = tu_read_file(tu_shared(rel), &qlen);
        assert_non_null(qb);
        const size_t bb = wsp__qblock_bytes(k_types[k]);
        long blocks = 0;
        for (size_t t = 0; t < sizeof names / sizeof names[0]; t++) {
            int st, qt;
            long sn, qn;
            const long so = find_tensor(sb, slen, names[t], &st, &sn);
            const long qo = find_tensor(qb, qlen, names[t], &qt, &qn);
            assert_true(so > 0 && qo > 0);
            assert_int_equal(st, 1);
            assert_int_equal(qt, (int)k_types[k]);
            assert_int_equal(sn, qn);
            float *row = malloc(sizeof(float) * (size_t)sn);
            uint8_t *out = malloc((size_t)sn / 32 * bb);
            for (long i = 0; i < sn; i++)
                row[i] = h2f(rd16(sb + so + 2 * i));
            assert_int_equal(wsp__quantize_row(k_types[k], row, out, sn), (size_t)sn / 32 * bb);
            if (memcmp(out, qb + qo, (size_t)sn / 32 * bb) != 0)
                fail_msg("%s %s differs from whisper-quantize's bytes", wsp_qtype_name(k_types[k]),
                         names[t]);
            blocks += sn / 32;
            free(row);
            free(out);
        }
        print_message("%s: %ld blocks of 4 micro tensors equal whisper-quantize's\n",
                      wsp_qtype_name(k_types[k]), blocks);
        free(qb);
    }
    free(sb);
}

/* The whole conversion through the library call (so `make sanitize` runs it under ASan
 * and LeakSanitizer), its progress callback, and its failures leaving nothing behind. */
static void on_progress(int pct, void *user)
{
    int *last = user;
    assert_true(pct > *last && pct <= 100); /* strictly increasing, ends at 100 */
    *last = pct;
}

static bool abort_after(void *user) /* true on the 100th row */
{
    return ++*(int *)user >= 100;
}

static void test_model_quantize_call(void **state)
{
    (void)state;
    const char *src = tu_shared("whisper-ref/models/ggml-micro-random.bin");
    const char *ref = tu_shared("whisper-ref/models/ggml-micro-random-q4_1.bin");
    TU_REQUIRE_FILE(src);
    TU_REQUIRE_FILE(ref);
    char dir[] = "/tmp/mdc-quantize-XXXXXX", out[128];
    assert_non_null(mkdtemp(dir));
    snprintf(out, sizeof out, "%s/q.bin", dir);
    wsp_error err;
    int last = -1;
    const wsp_quantize_params qp = {.progress_cb = on_progress, .progress_user_data = &last};
    assert_int_equal(wsp_model_quantize(src, out, WSP_Q4_1, &qp, &err), 0);
    assert_int_equal(last, 100);
    size_t a = 0, b = 0;
    uint8_t *got = tu_read_file(out, &a), *want = tu_read_file(ref, &b);
    assert_non_null(got);
    assert_non_null(want);
    assert_int_equal(a, b);
    assert_memory_equal(got, want, a);
    free(got);
    free(want);
    /* failures: already quantized, bad type, unwritable place, NULL */
    assert_int_equal(wsp_model_quantize(ref, out, WSP_Q8_0, NULL, &err), WSP_ETYPE);
    assert_non_null(strstr(err.message, "already quantized"));
    assert_int_equal(wsp_model_quantize(src, out, (wsp_qtype)12, NULL, &err), WSP_EINVAL);
    char bad[160];
    snprintf(bad, sizeof bad, "%s/missing/q.bin", dir);
    assert_int_equal(wsp_model_quantize(src, bad, WSP_Q8_0, NULL, &err), WSP_EIO);
    assert_non_null(strstr(err.message, bad));
    assert_int_equal(wsp_model_quantize(NULL, out, WSP_Q8_0, NULL, &err), WSP_EINVAL);
    /* cancelled half-way: WSP_ECANCELED, the earlier output stays */
    int calls = 0;
    const wsp_quantize_params cancel = {.abort_cb = abort_after, .abort_user_data = &calls};
    assert_int_equal(wsp_model_quantize(src, out, WSP_Q8_0, &cancel, &err), WSP_ECANCELED);
    assert_int_equal(calls, 100);
    /* the earlier good output is still there, unchanged, and no temp file is left */
    got = tu_read_file(out, &a);
    want = tu_read_file(ref, &b);
    assert_non_null(got);
    assert_int_equal(a, b);
    assert_memory_equal(got, want, a);
    free(got);
    free(want);
    unlink(out);
    assert_int_equal(rmdir(dir), 0); /* empty: no q.bin.tmp.* left */
}

/* model info's per-type table adds up to the loader's totals (micro: 89 tensors). */
static void test_tensor_type_table(void **state)
{
    (void)state;
    const char *src = tu_shared("whisper-ref/models/ggml-micro-random.bin");
    TU_REQUIRE_FILE(src);
    wsp_model *m = NULL;
    wsp_error err;
    assert_int_equal(wsp_model_load(src, &m, &err), 0);
    wsp_tensor_type_stats ts[WSP_MAX_TENSOR_TYPES];
    const int n = wsp_model_tensor_types(m, ts, WSP_MAX_TENSOR_TYPES);
    assert_int_equal(n, 2);
    assert_string_equal(ts[0].name, "f32");
    assert_string_equal(ts[1].name, "f16");
    assert_int_equal(ts[0].n_tensors + ts[1].n_tensors, wsp_model_n_tensors(m));
    assert_int_equal(ts[0].n_bytes, 4 * ts[0].n_weights);
    assert_int_equal(ts[1].n_bytes, 2 * ts[1].n_weights);
    assert_int_equal(ts[0].n_bytes + ts[1].n_bytes, wsp_model_tensor_bytes(m));
    assert_string_equal(wsp_model_weight_type(m), "f16");
    assert_string_equal(wsp_model_ftype_name(m), "f16");
    assert_int_equal(wsp_model_tensor_types(m, NULL, 0), 2); /* count only */
    wsp_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_block_sizes),
        cmocka_unit_test(test_zero_block),
        cmocka_unit_test(test_absmax_tie),
        cmocka_unit_test(test_scales_extremes),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_micro_rows_equal_whisper_quantize),
        cmocka_unit_test(test_model_quantize_call),
        cmocka_unit_test(test_tensor_type_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
