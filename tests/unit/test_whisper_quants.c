/*
 * test_whisper_quants.c — the quantized weight types (src/whisper/quants*.c):
 *  - dequantization of hand-made blocks (all-zero blocks, subnormal and largest scales,
 *    every extreme code) against ggml's formulas written out here independently;
 *  - the activation quantizers (q8_0, q8_1) against ggml's AVX2 arithmetic written out
 *    here (README-round2 §4: d = amax/127 as f16, q = round-half-even(x·127/amax)),
 *    including exact ties, zero blocks and ±max values;
 *  - every SIMD variant the CPU has against the scalar kernels: activation bytes equal,
 *    dots and matvecs bit-identical (integer block dots, same lane order);
 *  - wsp__linear: the dequantize + sgemm path (batches) against the integer matvec path.
 */
#include "testutil.h"

#include "whisper/kernels.h"
#include "whisper/quants.h"
#include "whisper/threadpool.h"

#include <math.h>

static uint64_t g_rng = 0x243F6A8885A308D3ull;
static uint32_t urand(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 32);
}
static float frand(void) { return (float)((double)urand() / 4294967296.0 * 2.0 - 1.0); }

/* IEEE half → float, independent of the engine's conversion. */
static float h2f(uint16_t h)
{
    const int e = (h >> 10) & 31, m = h & 1023;
    const float v = e == 0 ? ldexpf((float)m, -24) : e == 31 ? (m ? NAN : INFINITY)
                                                            : ldexpf((float)(1024 + m), e - 25);
    return (h & 0x8000) ? -v : v;
}

static const int QTYPES[] = {WSP__T_Q4_0, WSP__T_Q4_1, WSP__T_Q5_0, WSP__T_Q5_1, WSP__T_Q8_0};
#define N_QTYPES 5

static const wsp__kern_ops *variants[3];
static int n_variants;

static int setup(void **state)
{
    (void)state;
    __builtin_cpu_init();
    if (wsp__kern_usable(&wsp__kern_avx2))
        variants[n_variants++] = &wsp__kern_avx2;
    if (wsp__kern_usable(&wsp__kern_avx512))
        variants[n_variants++] = &wsp__kern_avx512;
    return 0;
}

/* ggml's dequantization of element j of one block at b (dequantize_row_*). */
static float ref_weight(int type, const uint8_t *b, int j)
{
    uint16_t d, m = 0;
    memcpy(&d, b, 2);
    const int has_m = type == WSP__T_Q4_1 || type == WSP__T_Q5_1;
    if (has_m)
        memcpy(&m, b + 2, 2);
    if (type == WSP__T_Q8_0)
        return (float)(int8_t)b[2 + j] * h2f(d);
    const int hoff = has_m ? 4 : 2;
    const int five = type == WSP__T_Q5_0 || type == WSP__T_Q5_1;
    const uint8_t *qs = b + hoff + (five ? 4 : 0);
    int q = j < 16 ? qs[j] & 15 : qs[j - 16] >> 4;
    if (five) {
        uint32_t qh;
        memcpy(&qh, b + hoff, 4);
        q |= (int)((qh >> j) & 1u) << 4;
    }
    if (has_m) {
        const float p = (float)q * h2f(d);
        return p + h2f(m);
    }
    return (float)(q - (five ? 16 : 8)) * h2f(d);
}

/* Fills one block of `type` at b: scale bits d (and m), codes by pattern. */
static void make_block(int type, uint8_t *b, uint16_t d, uint16_t m, int pattern)
{
    const wsp__type_info *ti = wsp__type_info_of(type);
    for (int i = 0; i < ti->size; i++)
        b[i] = pattern == 0 ? 0 : pattern == 1 ? 0xff : (uint8_t)urand();
    memcpy(b, &d, 2);
    if (type == WSP__T_Q4_1 || type == WSP__T_Q5_1)
        memcpy(b + 2, &m, 2);
}

static void test_dequant(void **state)
{
    (void)state;
    /* scales: zero, smallest subnormal, a subnormal, 1, largest normal (±) */
    const uint16_t ds[] = {0x0000, 0x0001, 0x03ff, 0x3c00, 0x7bff, 0xfbff, 0x8001};
    int checked = 0;
    for (int t = 0; t < N_QTYPES; t++) {
        const int type = QTYPES[t];
        const wsp__type_info *ti = wsp__type_info_of(type);
        assert_non_null(ti);
        assert_int_equal(ti->blck, 32);
        uint8_t blk[2 * 36];
        float got[64];
        for (size_t k = 0; k < sizeof ds / sizeof ds[0]; k++)
            for (int pattern = 0; pattern < 3; pattern++) {
                /* two blocks: the second with the other scale sign and a nonzero m */
                make_block(type, blk, ds[k], ds[k] ^ 0x8000, pattern);
                make_block(type, blk + ti->size, ds[k] ^ 0x8000, 0x3800, 2 - pattern);
                const wsp__kern_ops *ops[] = {&wsp__kern_scalar, n_variants ? variants[0] : NULL};
                for (int v = 0; v < 2 && ops[v]; v++) {
                    ops[v]->types[type].to_float(blk, got, 64);
                    for (int j = 0; j < 64; j++) {
                        const float want = ref_weight(type, blk + (j / 32) * ti->size, j % 32);
                        if (memcmp(&want, &got[j], 4) != 0)
                            fail_msg("%s %s scale 0x%04x pattern %d element %d: %g, ggml %g",
                                     ops[v]->name, ti->name, ds[k], pattern, j, (double)got[j],
                                     (double)want);
                        checked++;
                    }
                }
            }
        /* an all-zero block is all zeros */
        memset(blk, 0, sizeof blk);
        wsp__kern_scalar.types[type].to_float(blk, got, 32);
        for (int j = 0; j < 32; j++)
            assert_true(got[j] == 0.0f);
    }
    print_message("dequantized %d weights of hand-made blocks: equal to ggml's formulas\n", checked);
}

/* ggml's AVX2 activation quantizer, written out (README-round2 §4). */
static void ref_quant(const float *x, int n, int q8_1, uint8_t *out)
{
    const size_t bs = q8_1 ? 36 : 34;
    for (int i = 0; i < n / 32; i++) {
        float amax = 0;
        for (int j = 0; j < 32; j++)
            amax = fmaxf(amax, fabsf(x[32 * i + j]));
        const float d = amax / 127.0f, id = amax != 0.0f ? 127.0f / amax : 0.0f;
        uint8_t *b = out + (size_t)i * bs;
        const uint16_t dh = wsp__f32_to_f16(d);
        memcpy(b, &dh, 2);
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            const float v = x[32 * i + j] * id;
            float r = floorf(v);
            const float f = v - r;
            if (f > 0.5f || (f == 0.5f && fmodf(r, 2.0f) != 0.0f))
                r += 1.0f; /* half to even */
            b[(q8_1 ? 4 : 2) + j] = (uint8_t)(int8_t)r;
            sum += (int)r;
        }
        if (q8_1) {
            const uint16_t sh = wsp__f32_to_f16(d * (float)sum);
            memcpy(b + 2, &sh, 2);
        }
    }
}

static void test_activation_quantizer(void **state)
{
    (void)state;
    enum { N = 256 };
    float x[N];
    for (int i = 0; i < N; i++)
        x[i] = frand() * 3.0f;
    for (int j = 0; j < 32; j++)
        x[32 + j] = 0.0f; /* block 1: all zero */
    for (int j = 0; j < 32; j++)
        x[64 + j] = (float)(j - 16) + 0.5f; /* block 2: amax 16.5, no exact ties */
    x[96] = 127.0f; /* block 3: amax 127 → id 1, exact ties round to even */
    for (int j = 1; j < 32; j++)
        x[96 + j] = (float)(j - 16) + 0.5f;
    x[128] = -65504.0f; /* block 4: the largest half (d = 515.8) and tiny values */
    for (int j = 1; j < 32; j++)
        x[128 + j] = 1e-30f * (float)j;
    for (int q1 = 0; q1 < 2; q1++) {
        uint8_t want[N / 32 * 36], got[N / 32 * 36];
        ref_quant(x, N, q1, want);
        const int t = q1 ? WSP__T_Q8_1 : WSP__T_Q8_0;
        const wsp__kern_ops *ops[3] = {&wsp__kern_scalar, variants[0], variants[1]};
        for (int v = 0; v < 1 + n_variants; v++) {
            memset(got, 0xaa, sizeof got);
            ops[v]->types[t].from_float(x, got, N);
            const size_t bytes = (size_t)(N / 32) * (q1 ? 36 : 34);
            for (size_t k = 0; k < bytes; k++)
                if (got[k] != want[k])
                    fail_msg("%s %s byte %zu (block %zu): 0x%02x, ggml 0x%02x", ops[v]->name,
                             q1 ? "q8_1" : "q8_0", k, k / (q1 ? 36 : 34), got[k], want[k]);
        }
        /* ties at id = 1: 0.5 → 0, 1.5 → 2, −0.5 → −0 (block 3, codes at byte offset) */
        const uint8_t *b3 = want + 3 * (q1 ? 36 : 34) + (q1 ? 4 : 2);
        assert_int_equal((int8_t)b3[16], 0);  /* 0.5 */
        assert_int_equal((int8_t)b3[17], 2);  /* 1.5 */
        assert_int_equal((int8_t)b3[15], 0);  /* −0.5 */
        assert_int_equal((int8_t)b3[0], 127); /* amax */
    }
    print_message("q8_0 / q8_1 activations of %d values: scalar and %d SIMD variant(s) byte-equal "
                  "to ggml's AVX2 arithmetic\n", N, n_variants);
}

/* Random weights of `type` (sane scales), rows × n. */
static uint8_t *rand_weights(int type, int rows, int n)
{
    const wsp__type_info *ti = wsp__type_info_of(type);
    const size_t rb = wsp__row_bytes(ti, n);
    uint8_t *w = malloc(rb * (size_t)rows);
    for (size_t i = 0; i < rb * (size_t)rows; i++)
        w[i] = (uint8_t)urand();
    for (int r = 0; r < rows; r++)
        for (int b = 0; b < n / 32; b++) {
            uint8_t *p = w + (size_t)r * rb + (size_t)b * (size_t)ti->size;
            const uint16_t d = wsp__f32_to_f16(0.01f + 0.02f * fabsf(frand()));
            const uint16_t m = wsp__f32_to_f16(-0.1f * fabsf(frand()));
            memcpy(p, &d, 2);
            if (type == WSP__T_Q4_1 || type == WSP__T_Q5_1)
                memcpy(p + 2, &m, 2);
        }
    /* row 0 block 0: code −128 in a q8_0 weight (the extreme a file may hold) */
    if (type == WSP__T_Q8_0)
        for (int j = 0; j < 32; j++)
            w[2 + j] = 0x80;
    return w;
}

static void test_simd_vs_scalar(void **state)
{
    (void)state;
    if (!n_variants) {
        print_message("SKIP: no SIMD variant on this CPU\n");
        skip();
    }
    /* ROWS: 9 groups of 4 and one short group; NX 1…9: every activation-group size of
     * the multi-row kernels (groups of up to 4) and a remainder */
    enum { ROWS = 37, NX = 9 };
    const int ns[] = {32, 64, 384, 1536};
    for (int t = 0; t < N_QTYPES; t++) {
        const int type = QTYPES[t];
        for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
            const int n = ns[k];
            uint8_t *w = rand_weights(type, ROWS, n);
            const size_t rb = wsp__row_bytes(wsp__type_info_of(type), n);
            float *x = malloc(sizeof(float) * (size_t)n * NX);
            for (int i = 0; i < n * NX; i++)
                x[i] = frand() * (i % 7 ? 1.0f : 20.0f);
            const int vdt = wsp__kern_scalar.types[type].vec_dot_type;
            const size_t qb = wsp__row_bytes(wsp__type_info_of(vdt), n);
            uint8_t *xq = malloc(qb * NX), *xq2 = malloc(qb * NX);
            float y0[ROWS * NX], y1[ROWS * NX];
            for (int i = 0; i < NX; i++)
                wsp__kern_scalar.types[vdt].from_float(x + (size_t)i * n, xq + (size_t)i * qb, n);
            wsp__kern_scalar.types[type].matvec(w, rb, ROWS, xq, qb, NX, n, y0, ROWS);
            for (int v = 0; v < n_variants; v++) {
                const wsp__type_traits *tr = &variants[v]->types[type];
                for (int i = 0; i < NX; i++)
                    variants[v]->types[vdt].from_float(x + (size_t)i * n, xq2 + (size_t)i * qb, n);
                assert_memory_equal(xq, xq2, qb * NX);
                for (int nx = 1; nx <= NX; nx++)
                    for (int nr = ROWS; nr >= ROWS - 4; nr--) { /* every short last group */
                        for (int i = 0; i < ROWS * NX; i++)
                            y1[i] = -1e30f;
                        tr->matvec(w, rb, nr, xq, qb, nx, n, y1, ROWS);
                        for (int i = 0; i < ROWS * NX; i++) {
                            const int in = i / ROWS < nx && i % ROWS < nr;
                            if (in ? memcmp(&y0[i], &y1[i], 4) != 0 : y1[i] != -1e30f)
                                fail_msg("%s %s n=%d rows=%d n_x=%d out %d: %.9g vs scalar %.9g",
                                         variants[v]->name, wsp__type_info_of(type)->name, n, nr,
                                         nx, i, (double)y1[i], in ? (double)y0[i] : -1e30);
                        }
                    }
                const float d = tr->vec_dot(w + rb, xq + qb, n);
                assert_memory_equal(&d, &y0[ROWS + 1], 4);
            }
            /* the dot is close to the float product of the dequantized rows */
            float *wf = malloc(sizeof(float) * (size_t)n), *xf = malloc(sizeof(float) * (size_t)n);
            wsp__kern_scalar.types[type].to_float(w + 2 * rb, wf, n);
            wsp__kern_scalar.types[vdt].to_float(xq, xf, n);
            double s = 0, a = 0;
            for (int i = 0; i < n; i++) {
                s += (double)wf[i] * xf[i];
                a += fabs((double)wf[i] * xf[i]);
            }
            if (vdt == WSP__T_Q8_1) { /* ggml uses s = f16(d·Σq) for the m term */
                s = 0;
                for (int b = 0; b < n / 32; b++) {
                    uint16_t dw, mw, dx, sx;
                    memcpy(&dw, w + 2 * rb + (size_t)b * wsp__type_info_of(type)->size, 2);
                    memcpy(&mw, w + 2 * rb + (size_t)b * wsp__type_info_of(type)->size + 2, 2);
                    memcpy(&dx, xq + (size_t)b * 36, 2);
                    memcpy(&sx, xq + (size_t)b * 36 + 2, 2);
                    double isum = 0;
                    for (int j = 0; j < 32; j++)
                        isum += (double)((wf[32 * b + j] - h2f(mw)) / h2f(dw)) *
                                (double)(int8_t)xq[(size_t)b * 36 + 4 + j];
                    s += isum * h2f(dw) * h2f(dx) + (double)h2f(mw) * h2f(sx);
                }
            }
            if (fabs(s - y0[2]) > 1e-5 * a + 1e-6)
                fail_msg("%s n=%d: dot %.9g, float product %.9g", wsp__type_info_of(type)->name, n,
                         (double)y0[2], s);
            free(wf);
            free(xf);
            free(xq);
            free(xq2);
            free(x);
            free(w);
        }
    }
    print_message("%d SIMD variant(s): q8 activations byte-equal, dots/matvecs of 5 types "
                  "bit-identical to scalar\n", n_variants);
}

/* wsp__linear on a batch (M >= 16) equals M single-row calls (integer matvec): bit for bit
 * on the integer GEMM path (the same kernels), up to f32 rounding on the dequantize +
 * sgemm path (q8_0-activation types only; q8_1 ones are always integer).  Both paths are
 * forced in turn, whatever this ISA's default. */
static void test_linear_paths(void **state)
{
    (void)state;
    /* M: two blocks of the integer path with the minimum scratch ((48 + 512)·256 floats
     * hold 2108 quantized rows), five of the sgemm path */
    enum { N = 48, K = 256, M = 2200 };
    wsp__pool *pool = wsp__pool_new(2);
    assert_non_null(pool);
    float *X = malloc(sizeof(float) * M * K), *Y = malloc(sizeof(float) * M * N);
    float *Y1 = malloc(sizeof(float) * N);
    float *wbuf = malloc(sizeof(float) * (N + WSP__QGEMM_ROWS) * K); /* the documented minimum */
    float bias[N];
    for (int i = 0; i < M * K; i++)
        X[i] = frand();
    for (int i = 0; i < N; i++)
        bias[i] = frand();
    for (int mode = 1; mode >= 0; mode--) {
        wsp__linear_force_qgemm(mode);
        for (int t = 0; t < N_QTYPES; t++) {
            const int type = QTYPES[t];
            uint8_t *w = rand_weights(type, N, K);
            const wsp__mat W = {.data = w, .type = type, .rows = N, .cols = K};
            const wsp__mat B = {.data = bias, .type = WSP__T_F32, .rows = 1, .cols = N};
            const int integer = wsp__linear_int_gemm(type);
            assert_int_equal(integer, mode || wsp__kern()->types[type].vec_dot_type == WSP__T_Q8_1);
            for (int i = 0; i < M * N; i++)
                Y[i] = NAN;
            wsp__linear(pool, &W, &B, X, M, K, Y, N, wbuf);
            double mx = 0, ymax = 0;
            for (int i = 0; i < M * N; i++)
                ymax = fabs(Y[i]) > ymax ? fabs(Y[i]) : ymax;
            for (int i = 0; i < M; i++) {
                wsp__linear(pool, &W, &B, X + (size_t)i * K, 1, K, Y1, N, wbuf);
                for (int r = 0; r < N; r++) {
                    const double d = fabs((double)Y1[r] - Y[(size_t)i * N + r]);
                    mx = d > mx || isnan(d) ? d : mx;
                }
            }
            print_message("%s, %s path: batch of %d vs single rows: max abs %.3g (max |y| %.3g)\n",
                          wsp__type_info_of(type)->name, integer ? "integer" : "sgemm", M, mx, ymax);
            if (integer)
                assert_true(mx == 0.0);
            else /* f32 rounding of a K-term sum: ~sqrt(K) ulps of the largest output */
                assert_true(mx <= 16 * 1.2e-7 * ymax * 4);
            free(w);
        }
    }
    wsp__linear_force_qgemm(-1);
    free(X);
    free(Y);
    free(Y1);
    free(wbuf);
    wsp__pool_free(pool);
}

static void test_type_facts(void **state)
{
    (void)state;
    const struct { int code, size; const char *name; } want[] = {
        {WSP__T_Q4_0, 18, "q4_0"}, {WSP__T_Q4_1, 20, "q4_1"}, {WSP__T_Q5_0, 22, "q5_0"},
        {WSP__T_Q5_1, 24, "q5_1"}, {WSP__T_Q8_0, 34, "q8_0"}, {WSP__T_Q8_1, 36, "q8_1"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const wsp__type_info *ti = wsp__type_info_of(want[i].code);
        assert_int_equal(ti->size, want[i].size);
        assert_string_equal(ti->name, want[i].name);
        assert_int_equal(wsp__row_bytes(ti, 384), (size_t)12 * want[i].size);
    }
    assert_null(wsp__type_info_of(4));  /* q4_2 (removed from ggml) */
    assert_null(wsp__type_info_of(12)); /* q4_K */
    assert_string_equal(wsp__type_name(12), "q4_K");
    assert_string_equal(wsp__type_name(30), "bf16");
    assert_null(wsp__type_name(31));
    assert_null(wsp__type_name(-1));
    assert_null(wsp__type_name(1000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_facts),
        cmocka_unit_test(test_dequant),
        cmocka_unit_test(test_activation_quantizer),
        cmocka_unit_test(test_simd_vs_scalar),
        cmocka_unit_test(test_linear_paths),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
