/*
 * test_whisper_kernels.c — every SIMD kernel variant the CPU supports agrees with the
 * scalar baseline on unaligned, odd-length inputs; f16 conversion of special values; the
 * thread pool runs every chunk exactly once for any thread/chunk count.
 */
#include "testutil.h"

#include "whisper/kernels.h"
#include "whisper/threadpool.h"

#include <math.h>
#include <stdatomic.h>

static uint64_t g_rng = 0x9E3779B97F4A7C15ull;
static float frand(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (float)((double)(g_rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* IEEE f32 → f16 bits, round to nearest even (normal range only; test data is small). */
static uint16_t to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000u;
    int32_t e = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    uint32_t m = x & 0x7fffffu;
    if (e <= 0)
        return (uint16_t)sign; /* flush tiny values to zero */
    uint32_t h = sign | ((uint32_t)e << 10) | (m >> 13);
    const uint32_t rem = m & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
        h++;
    return (uint16_t)h;
}

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

/* The scalar kernels, then every SIMD variant this CPU runs; returns how many. */
static int all_variants(const wsp__kern_ops *all[4])
{
    int n = 0;
    all[n++] = &wsp__kern_scalar;
    for (int v = 0; v < n_variants; v++)
        all[n++] = variants[v];
    return n;
}

static void test_f16_values(void **state)
{
    (void)state;
    assert_true(wsp__f16_to_f32(0x3c00) == 1.0f);
    assert_true(wsp__f16_to_f32(0xc000) == -2.0f);
    assert_true(wsp__f16_to_f32(0x7bff) == 65504.0f);
    assert_true(wsp__f16_to_f32(0x0001) == 0x1p-24f); /* smallest subnormal */
    assert_true(wsp__f16_to_f32(0x03ff) == 1023 * 0x1p-24f);
    assert_true(isinf(wsp__f16_to_f32(0x7c00)) && wsp__f16_to_f32(0xfc00) < 0);
    assert_true(isnan(wsp__f16_to_f32(0x7e00)));
    assert_true(wsp__f16_to_f32(0x8000) == 0.0f && signbit(wsp__f16_to_f32(0x8000)));
    /* every f16 bit pattern converts identically in every variant */
    static uint16_t all[65536];
    static float a[65536], b[65536];
    for (int i = 0; i < 65536; i++)
        all[i] = (uint16_t)i;
    wsp__kern_scalar.cvt_f16(all, a, 65536);
    for (int v = 0; v < n_variants; v++) {
        variants[v]->cvt_f16(all, b, 65536);
        for (int i = 0; i < 65536; i++)
            if (memcmp(&a[i], &b[i], 4) != 0 && !(isnan(a[i]) && isnan(b[i])))
                fail_msg("%s cvt_f16(0x%04x) = %g, scalar %g", variants[v]->name, i, b[i], a[i]);
    }
}

static void test_f32_to_f16(void **state)
{
    (void)state;
    /* every finite f16 survives f16 → f32 → f16 exactly */
    for (int i = 0; i < 65536; i++) {
        if ((i & 0x7c00) == 0x7c00 && (i & 0x3ff))
            continue; /* NaN payloads */
        const float f = wsp__f16_to_f32((uint16_t)i);
        if (wsp__f32_to_f16(f) != (uint16_t)i)
            fail_msg("round trip of 0x%04x gives 0x%04x", i, wsp__f32_to_f16(f));
    }
    assert_int_equal(wsp__f32_to_f16(65520.0f), 0x7c00);       /* overflow rounds to inf */
    assert_int_equal(wsp__f32_to_f16(65519.0f), 0x7bff);
    assert_int_equal(wsp__f32_to_f16(0x1p-25f), 0x0000);       /* tie to even (0) */
    assert_int_equal(wsp__f32_to_f16(0x1.8p-25f), 0x0001);
    assert_int_equal(wsp__f32_to_f16(1.0f + 0x1p-11f), 0x3c00); /* tie to even */
    assert_int_equal(wsp__f32_to_f16(1.0f + 0x1.8p-10f), 0x3c02); /* 1.5 ulp: tie to even */
    /* SIMD variants (F16C hardware rounding) agree with the scalar conversion */
    enum { N = 4099 };
    static float src[N];
    static uint16_t a[N], b[N];
    for (int i = 0; i < N; i++) {
        const float scale = (i % 4 == 0) ? 1e-6f : (i % 4 == 1) ? 1e-3f : (i % 4 == 2) ? 1.0f : 7e4f;
        src[i] = frand() * scale;
    }
    wsp__kern_scalar.cvt_f32_f16(src, a, N);
    for (int v = 0; v < n_variants; v++) {
        variants[v]->cvt_f32_f16(src, b, N);
        for (int i = 0; i < N; i++)
            if (a[i] != b[i])
                fail_msg("%s cvt_f32_f16(%a) = 0x%04x, scalar 0x%04x", variants[v]->name, src[i], b[i], a[i]);
    }
}

/* Multi-query attention: each of nq query rows (1..7, so the AVX-512 kernel's groups of
 * 4, 3, 2 and 1 all run) gives exactly the bits of a call with that row alone — the
 * decoder's batch invariance (beams of one window share a call) rests on it — and
 * leaves its softmax in its scratch row. */
static void test_attn_f16_multi_query(void **state)
{
    (void)state;
    enum { LEN = 1500, LD = 64, NQ = 7, LDQ = 70, LDSC = 1504, LDO = 67 };
    static uint16_t K[LD * LEN], V[LD * LEN];
    static float q[NQ * LDQ], sc[NQ * LDSC], one_sc[LDSC], o[NQ * LDO], one[LD];
    for (int i = 0; i < LD * LEN; i++) {
        K[i] = wsp__f32_to_f16(frand());
        V[i] = wsp__f32_to_f16(frand());
    }
    for (int i = 0; i < NQ * LDQ; i++)
        q[i] = 3 * frand();
    const wsp__kern_ops *all[4];
    const int n_all = all_variants(all);
    for (int v = 0; v < n_all; v++)
        for (int len = LEN; len >= LEN - 13; len -= 13) /* a tail of 0 and of 11 mod 16 */
            for (int nq = 1; nq <= NQ; nq++) {
                all[v]->attn_f16(K, LEN, V, LEN, len, LD, q, LDQ, nq, 0.125f, sc, LDSC, o, LDO);
                for (int r = 0; r < nq; r++) {
                    all[v]->attn_f16(K, LEN, V, LEN, len, LD, q + r * LDQ, 0, 1, 0.125f, one_sc, 0,
                                     one, 0);
                    if (memcmp(one, o + r * LDO, sizeof(float) * LD) != 0)
                        fail_msg("%s attn_f16 nq=%d len=%d: row %d differs from the row alone",
                                 all[v]->name, nq, len, r);
                    if (memcmp(one_sc, sc + r * LDSC, sizeof(float) * (size_t)len) != 0)
                        fail_msg("%s attn_f16 nq=%d: row %d softmax differs", all[v]->name, nq, r);
                }
            }
}

/* The f16 matvec over several input rows (weights widened once per group of inputs):
 * every row's outputs are the bits of the matvec of that row alone, for every variant,
 * with row counts that leave 1..3 weight rows and 1..3 input rows over, and a length with
 * a tail (the decoder's continuous batching relies on this invariance). */
static void test_matvec_f16_rows(void **state)
{
    (void)state;
    enum { R = 23, NX = 7, LDX = 530 };
    const int lens[] = {512, 517, 8, 16};
    static uint16_t W[R * LDX];
    static float X[NX * LDX], Y[NX * R], one[R];
    for (int i = 0; i < R * LDX; i++)
        W[i] = wsp__f32_to_f16(frand());
    for (int i = 0; i < NX * LDX; i++)
        X[i] = 2 * frand();
    const wsp__kern_ops *all[4];
    const int n_all = all_variants(all);
    for (int v = 0; v < n_all; v++)
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            const int n = lens[li];
            const size_t rb = 2 * (size_t)n;
            for (int nx = 1; nx <= NX; nx++) {
                all[v]->types[WSP__T_F16].matvec(W, rb, R, X, 4 * LDX, nx, n, Y, R);
                for (int i = 0; i < nx; i++) {
                    all[v]->types[WSP__T_F16].matvec(W, rb, R, X + i * LDX, 4 * LDX, 1, n, one, R);
                    if (memcmp(one, Y + i * R, sizeof one) != 0)
                        fail_msg("%s f16 matvec n=%d nx=%d: row %d differs from the row alone",
                                 all[v]->name, n, nx, i);
                }
            }
        }
}

static void test_attn_f16(void **state)
{
    (void)state;
    enum { LEN = 301, LD = 200 };
    static uint16_t K[LEN * LD], V[LEN * LD];
    static float q[LD], sc[LEN], o0[LD], o1[LD], o2[LD];
    for (int i = 0; i < LEN * LD; i++) {
        K[i] = wsp__f32_to_f16(frand());
        V[i] = wsp__f32_to_f16(frand());
    }
    for (int i = 0; i < LD; i++)
        q[i] = 3 * frand();
    const int dhs[] = {64, 8, 24, 128, 5};
    for (size_t d = 0; d < sizeof dhs / sizeof dhs[0]; d++) {
        const int dh = dhs[d];
        for (int len = LEN - 9; len >= LEN - 9 - 16; len -= 5) { /* every tail length mod 16 */
            wsp__kern_scalar.attn_f16(K + 8, LEN, V + 3, LEN, len, dh, q, 0, 1, 0.125f, sc, 0, o0, 0);
            for (int v = 0; v < n_variants; v++) {
                variants[v]->attn_f16(K + 8, LEN, V + 3, LEN, len, dh, q, 0, 1, 0.125f, sc, 0, o1, 0);
                for (int c = 0; c < dh; c++)
                    if (fabsf(o0[c] - o1[c]) > 1e-5f)
                        fail_msg("%s attn_f16 dh=%d col %d: %g vs %g", variants[v]->name, dh, c, o1[c], o0[c]);
                /* the AVX-512 kernel computes the AVX2 one's numbers (so both give the
                 * same transcripts): bit-identical */
                if (v > 0 && memcmp(o1, o2, sizeof(float) * (size_t)dh) != 0)
                    fail_msg("%s attn_f16 dh=%d len=%d differs from %s", variants[v]->name, dh, len,
                             variants[0]->name);
                memcpy(o2, o1, sizeof o2);
            }
        }
    }
}

static void test_dots(void **state)
{
    (void)state;
    enum { N = 1543, ROWS = 4 };
    /* odd byte offsets: weights in the model mapping are unaligned */
    static uint8_t wbuf16[ROWS * N * 2 + 3], wbuf32[N * 4 + 3];
    static float x[N];
    uint8_t *w16 = wbuf16 + 1, *w32 = wbuf32 + 3;
    for (int i = 0; i < ROWS * N; i++) {
        uint16_t h = to_f16(frand());
        memcpy(w16 + 2 * i, &h, 2);
    }
    for (int i = 0; i < N; i++) {
        float f = frand();
        memcpy(w32 + 4 * i, &f, 4);
        x[i] = frand();
    }
    const int lens[] = {1, 7, 8, 15, 16, 17, 31, 64, 383, 384, N};
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        const int n = lens[li];
        const float r16 = wsp__kern_scalar.dot_f16(w16, x, n);
        const float r32 = wsp__kern_scalar.dot_f32(w32, x, n);
        float r4[4];
        wsp__kern_scalar.dot4_f16(w16, N, x, n, r4);
        assert_true(fabsf(r4[0] - r16) <= 1e-4f * (1 + fabsf(r16)));
        for (int v = 0; v < n_variants; v++) {
            const wsp__kern_ops *k = variants[v];
            const float tol = 1e-4f * sqrtf((float)n);
            float o4[4];
            k->dot4_f16(w16, N, x, n, o4);
            if (fabsf(k->dot_f16(w16, x, n) - r16) > tol || fabsf(k->dot_f32(w32, x, n) - r32) > tol)
                fail_msg("%s dot n=%d differs from scalar", k->name, n);
            for (int r = 0; r < 4; r++) {
                const float want = wsp__kern_scalar.dot_f16(w16 + 2 * (size_t)r * N, x, n);
                if (fabsf(o4[r] - want) > tol)
                    fail_msg("%s dot4 row %d n=%d: %g vs %g", k->name, r, n, o4[r], want);
            }
        }
    }
}

static void test_exp_gelu_axpy(void **state)
{
    (void)state;
    enum { N = 1003 };
    static float a[N], b[N], y0[N], y1[N];
    for (int i = 0; i < N; i++)
        a[i] = 12.0f * frand();
    a[0] = -100.0f; /* underflow lane */
    for (int v = 0; v < n_variants; v++) {
        const wsp__kern_ops *k = variants[v];
        memcpy(b, a, sizeof a);
        float s_ref, s;
        {
            static float c[N];
            memcpy(c, a, sizeof a);
            s_ref = wsp__kern_scalar.exp_sum(c, N, 12.0f);
            s = k->exp_sum(b, N, 12.0f);
            for (int i = 0; i < N; i++)
                if (fabsf(b[i] - c[i]) > 1e-6f * (1 + c[i]))
                    fail_msg("%s exp(%g) = %g, libm %g", k->name, a[i] - 12, b[i], c[i]);
        }
        assert_true(fabsf(s - s_ref) <= 1e-5f * s_ref);
        memcpy(b, a, sizeof a);
        k->gelu(b, N);
        for (int i = 0; i < N; i++)
            if (fabsf(b[i] - wsp__gelu_ref(a[i])) > 1e-5f * (1 + fabsf(a[i])))
                fail_msg("%s gelu(%g) = %g, ref %g", k->name, a[i], b[i], wsp__gelu_ref(a[i]));
        for (int i = 0; i < N; i++)
            y0[i] = y1[i] = frand();
        wsp__kern_scalar.axpy(y0, 0.37f, a, N);
        k->axpy(y1, 0.37f, a, N);
        for (int i = 0; i < N; i++)
            assert_true(fabsf(y0[i] - y1[i]) <= 1e-5f * (1 + fabsf(y0[i])));
    }
    /* softmax: variants agree with the scalar one, rows sum to 1 */
    for (int v = 0; v < n_variants; v++) {
        static float c[N];
        memcpy(b, a, sizeof a);
        memcpy(c, a, sizeof a);
        wsp__kern_scalar.softmax(c, N, 0.7f);
        variants[v]->softmax(b, N, 0.7f);
        double sum = 0;
        for (int i = 0; i < N; i++) {
            sum += b[i];
            if (fabsf(b[i] - c[i]) > 1e-6f * (1 + c[i] * 1e3f))
                fail_msg("%s softmax[%d] = %g, scalar %g", variants[v]->name, i, b[i], c[i]);
        }
        assert_true(fabs(sum - 1.0) < 1e-4);
    }
    /* GELU reference values: tanh form (whisper.cpp), not erf */
    assert_true(fabsf(wsp__gelu_ref(1.0f) - 0.841192f) < 1e-5f);
    assert_true(fabsf(wsp__gelu_ref(-3.0f) - (-0.003637f)) < 1e-5f);
    print_message("kernel variants checked against scalar: %d (dispatch picks %s)\n", n_variants,
                  wsp__kern()->name);
}

typedef struct count_job {
    atomic_int hits[1000];
    atomic_int calls;
    atomic_int bad_tid; /* checked on the test thread (cmocka asserts are not thread-safe) */
} count_job;

static void count_task(void *p, int ith, int nth)
{
    count_job *j = p;
    atomic_fetch_add(&j->hits[ith], 1);
    atomic_fetch_add(&j->calls, 1);
    (void)nth;
    if (wsp__pool_tid() < 0 || wsp__pool_tid() >= 8)
        atomic_store(&j->bad_tid, 1);
}

static void test_pool(void **state)
{
    (void)state;
    for (int threads = 1; threads <= 3; threads++) {
        wsp__pool *p = wsp__pool_new(threads);
        assert_non_null(p);
        assert_int_equal(wsp__pool_size(p), threads);
        const int chunk_counts[] = {1, 2, 5, 64, 999};
        for (int rep = 0; rep < 50; rep++)
            for (size_t c = 0; c < sizeof chunk_counts / sizeof chunk_counts[0]; c++) {
                static count_job j;
                memset(&j, 0, sizeof j);
                const int n = chunk_counts[c];
                wsp__pool_run_n(p, count_task, &j, n);
                assert_int_equal(atomic_load(&j.calls), n);
                assert_int_equal(atomic_load(&j.bad_tid), 0);
                for (int i = 0; i < n; i++)
                    assert_int_equal(atomic_load(&j.hits[i]), 1);
            }
        wsp__pool_free(p);
    }
    wsp__pool_free(NULL);
    static count_job j;
    memset(&j, 0, sizeof j);
    wsp__pool_run(NULL, count_task, &j);
    assert_int_equal(atomic_load(&j.calls), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_values),
        cmocka_unit_test(test_f32_to_f16),
        cmocka_unit_test(test_attn_f16),
        cmocka_unit_test(test_attn_f16_multi_query),
        cmocka_unit_test(test_matvec_f16_rows),
        cmocka_unit_test(test_dots),
        cmocka_unit_test(test_exp_gelu_axpy),
        cmocka_unit_test(test_pool),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
