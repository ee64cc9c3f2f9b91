/* kernels_avx2.c — AVX2 + FMA + F16C kernels (compiled with -mavx2 -mfma -mf16c, reached
 * only through wsp__kern() after __builtin_cpu_supports checks).  See kernels.h. */
#include "whisper/kernels.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

/* Also used by the AVX-512 table (every AVX-512 CPU has AVX2/FMA/F16C). */
float wsp__avx2_exp_sum(float *x, int n, float max);
void wsp__avx2_gelu(float *x, int n);
void wsp__avx2_axpy(float *y, float a, const float *x, int n);
void wsp__avx2_softmax(float *x, int n, float scale);
void wsp__avx2_cvt_f32_f16(const float *src, uint16_t *dst, size_t n);
void wsp__avx2_attn_f16(const uint16_t *Kt, size_t ldk, const uint16_t *Vt, size_t ldv, int len,
                        int dh, const float *q, size_t ldq, int nq, float scale, float *sc,
                        size_t ldsc, float *out, size_t ldo);

static inline float hsum256(__m256 v)
{
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}

static inline __m256 ld_f16x8(const uint8_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

static float dot_f16(const void *w, const float *x, int n)
{
    const uint8_t *p = w;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(ld_f16x8(p + 2 * (size_t)i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(ld_f16x8(p + 2 * (size_t)i + 16), _mm256_loadu_ps(x + i + 8), a1);
    }
    float s = hsum256(_mm256_add_ps(a0, a1));
    for (; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * (size_t)i, 2);
        s += wsp__f16_to_f32(h) * x[i];
    }
    return s;
}

/* 4 f16 weight rows (w, w + ld, … in elements) against NX input rows (x, row stride ldx
 * bytes; NX a constant 1 or 2 after inlining — 16 ymm registers hold 8 accumulators, 4
 * weights and 2 inputs): each 8-weight chunk is widened once for every input row, and
 * each (weight row, input row) pair is accumulated in the same order whatever NX, so a
 * row's result does not depend on the row beside it.  Y[r·ldy + k]: row r, weight row k.
 * Software prefetch of the next 4 rows, one line per row every 64 bytes (see the
 * AVX-512 version); never faults, result unchanged. */
static inline __attribute__((always_inline)) void dot4xn_f16(const void *w, size_t ld,
                                                             const uint8_t *x, size_t ldx,
                                                             const int NX, int n, float *Y,
                                                             size_t ldy)
{
    const uint8_t *p[4] = {w, (const uint8_t *)w + 2 * ld, (const uint8_t *)w + 4 * ld,
                           (const uint8_t *)w + 6 * ld};
    const float *xr[2];
    __m256 a[2][4];
#pragma GCC unroll 2
    for (int r = 0; r < NX; r++) {
        xr[r] = (const float *)(x + (size_t)r * ldx);
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++)
            a[r][k] = _mm256_setzero_ps();
    }
    const size_t nb = 8 * ld;
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const size_t o = 2 * (size_t)i;
        if (!(i & 31))
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++)
                _mm_prefetch((const char *)p[k] + o + nb, _MM_HINT_T0);
        __m256 wv[4];
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++)
            wv[k] = ld_f16x8(p[k] + o);
#pragma GCC unroll 2
        for (int r = 0; r < NX; r++) {
            const __m256 xv = _mm256_loadu_ps(xr[r] + i);
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++)
                a[r][k] = _mm256_fmadd_ps(wv[k], xv, a[r][k]);
        }
    }
#pragma GCC unroll 2
    for (int r = 0; r < NX; r++) {
        float *y = Y + (size_t)r * ldy;
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++)
            y[k] = hsum256(a[r][k]);
        for (int t = i; t < n; t++)
            for (int k = 0; k < 4; k++) {
                uint16_t h;
                memcpy(&h, p[k] + 2 * (size_t)t, 2);
                y[k] += wsp__f16_to_f32(h) * xr[r][t];
            }
    }
}

static void dot4_f16(const void *w, size_t ld, const float *x, int n, float *out)
{
    dot4xn_f16(w, ld, (const uint8_t *)x, 0, 1, n, out, 0);
}

static float dot_f32(const void *w, const float *x, int n)
{
    const float *p = w; /* only dereferenced through unaligned loads */
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(p + i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(p + i + 8), _mm256_loadu_ps(x + i + 8), a1);
    }
    float s = hsum256(_mm256_add_ps(a0, a1));
    for (; i < n; i++)
        s += wsp__ldf(w, (size_t)i) * x[i];
    return s;
}

static void cvt_f16(const void *src, float *dst, size_t n)
{
    const uint8_t *p = src;
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, ld_f16x8(p + 2 * i));
    for (; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        dst[i] = wsp__f16_to_f32(h);
    }
}

/* exp(x) for 8 lanes: range reduction x = k·ln2 + r, |r| <= ln2/2, degree-6 polynomial,
 * 2^k through the exponent bits.  Inputs clamped to [-87.3, 88.7]; rel. error ~2e-7.
 * ref: Cephes expf (S. Moshier), the usual Cody–Waite split of ln 2. */
static inline __m256 exp8(__m256 x)
{
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.7f));
    const __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(k, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500E-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507E-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073E-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894E-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459E-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201E-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

float wsp__avx2_exp_sum(float *x, int n, float max)
{
    const __m256 m = _mm256_set1_ps(max);
    __m256 acc = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), m));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    float s = hsum256(acc);
    for (; i < n; i++) {
        x[i] = expf(x[i] - max);
        s += x[i];
    }
    return s;
}

/* GELU tanh form rewritten as x·sigmoid(2u) = x / (1 + exp(−2u)), u = √(2/π)(x + 0.044715x³)
 * (identical in exact arithmetic: 0.5(1 + tanh u) = 1/(1 + e^(−2u))). */
void wsp__avx2_gelu(float *x, int n)
{
    const __m256 k0 = _mm256_set1_ps(-2.0f * 0.7978845608028654f), k1 = _mm256_set1_ps(0.044715f);
    const __m256 one = _mm256_set1_ps(1.0f);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        const __m256 u = _mm256_mul_ps(_mm256_mul_ps(k0, v), _mm256_fmadd_ps(_mm256_mul_ps(k1, v), v, one));
        _mm256_storeu_ps(x + i, _mm256_div_ps(v, _mm256_add_ps(one, exp8(u))));
    }
    for (; i < n; i++)
        x[i] = wsp__gelu_ref(x[i]);
}

void wsp__avx2_axpy(float *y, float a, const float *x, int n)
{
    const __m256 av = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] += a * x[i];
}

void wsp__avx2_cvt_f32_f16(const float *src, uint16_t *dst, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(dst + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++)
        dst[i] = wsp__f32_to_f16(src[i]);
}

void wsp__avx2_softmax(float *x, int n, float scale)
{
    /* softmax(scale·x) = exp(scale·(x − max x)) / Σ, valid for scale > 0 */
    __m256 mv = _mm256_set1_ps(-INFINITY);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        mv = _mm256_max_ps(mv, _mm256_loadu_ps(x + i));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mv), _mm256_extractf128_ps(mv, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    float max = _mm_cvtss_f32(m4);
    for (; i < n; i++)
        max = x[i] > max ? x[i] : max;
    const __m256 s = _mm256_set1_ps(scale), sm = _mm256_set1_ps(scale * max);
    __m256 acc = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 e = exp8(_mm256_fmsub_ps(_mm256_loadu_ps(x + i), s, sm));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    float sum = hsum256(acc);
    for (; i < n; i++) {
        x[i] = expf(x[i] * scale - scale * max);
        sum += x[i];
    }
    const __m256 inv = _mm256_set1_ps(1.0f / sum);
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    for (; i < n; i++)
        x[i] *= 1.0f / sum;
}

#define ATT_MAX_DH 256 /* register-blocked path: dh a multiple of 8, at most this */

/* NQ (a constant 1 or 2 after inlining) query rows of one head, dh a multiple of 8 (at
 * most ATT_MAX_DH): each key vector is widened once for every row's scores, the values
 * go through dot4xn_f16; each row's arithmetic is the same whatever NQ (same fma chain per
 * score, same softmax, same value dots).
 *  - scores: sc[t] = Σ_c q[c]·Kt[c][t], four key rows per pass over sc (kept in L1);
 *  - out[c] = Σ_t sc[t]·Vt[c][t]: four contiguous value rows per pass. */
static inline __attribute__((always_inline)) void attn_rows(const uint16_t *Kt, size_t ldk,
                                                            const uint16_t *Vt, size_t ldv,
                                                            int len, int dh, const float *q,
                                                            size_t ldq, const int NQ,
                                                            float scale, float *sc, size_t ldsc,
                                                            float *out, size_t ldo)
{
    const int len8 = len & ~7;
#pragma GCC unroll 2
    for (int r = 0; r < NQ; r++)
        for (int t = 0; t < len; t++)
            sc[(size_t)r * ldsc + t] = 0;
    for (int c = 0; c < dh; c += 4) {
        const uint16_t *k0 = Kt + (size_t)c * ldk, *k1 = k0 + ldk, *k2 = k1 + ldk, *k3 = k2 + ldk;
        __m256 qv[2][4];
#pragma GCC unroll 2
        for (int r = 0; r < NQ; r++)
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++)
                qv[r][k] = _mm256_set1_ps(q[(size_t)r * ldq + (size_t)c + (size_t)k]);
        const char *n0 = (const char *)(k0 + 4 * ldk); /* next 4 key rows: prefetch */
        for (int t = 0; t < len8; t += 8) {
            if (!(t & 31)) {
                _mm_prefetch(n0 + 2 * (size_t)t, _MM_HINT_T0);
                _mm_prefetch(n0 + 2 * (size_t)t + 2 * ldk, _MM_HINT_T0);
                _mm_prefetch(n0 + 2 * (size_t)t + 4 * ldk, _MM_HINT_T0);
                _mm_prefetch(n0 + 2 * (size_t)t + 6 * ldk, _MM_HINT_T0);
            }
            const __m256 w0 = ld_f16x8((const uint8_t *)(k0 + t));
            const __m256 w1 = ld_f16x8((const uint8_t *)(k1 + t));
            const __m256 w2 = ld_f16x8((const uint8_t *)(k2 + t));
            const __m256 w3 = ld_f16x8((const uint8_t *)(k3 + t));
#pragma GCC unroll 2
            for (int r = 0; r < NQ; r++) {
                float *sr = sc + (size_t)r * ldsc;
                __m256 x = _mm256_loadu_ps(sr + t);
                x = _mm256_fmadd_ps(qv[r][0], w0, x);
                x = _mm256_fmadd_ps(qv[r][1], w1, x);
                x = _mm256_fmadd_ps(qv[r][2], w2, x);
                x = _mm256_fmadd_ps(qv[r][3], w3, x);
                _mm256_storeu_ps(sr + t, x);
            }
        }
        for (int t = len8; t < len; t++) {
            const float f0 = wsp__f16_to_f32(k0[t]), f1 = wsp__f16_to_f32(k1[t]);
            const float f2 = wsp__f16_to_f32(k2[t]), f3 = wsp__f16_to_f32(k3[t]);
#pragma GCC unroll 2
            for (int r = 0; r < NQ; r++) {
                const float *qr = q + (size_t)r * ldq + c;
                sc[(size_t)r * ldsc + t] += qr[0] * f0 + qr[1] * f1 + qr[2] * f2 + qr[3] * f3;
            }
        }
    }
#pragma GCC unroll 2
    for (int r = 0; r < NQ; r++) /* this ISA's own softmax, whatever variant is forced */
        wsp__avx2_softmax(sc + (size_t)r * ldsc, len, scale);
    for (int c = 0; c < dh; c += 4)
        dot4xn_f16(Vt + (size_t)c * ldv, ldv, (const uint8_t *)sc, 4 * ldsc, NQ, len, out + c,
                   ldo);
}

/* Pairs of rows, an odd last row alone (attn_rows); other head sizes: the scalar kernel. */
void wsp__avx2_attn_f16(const uint16_t *Kt, size_t ldk, const uint16_t *Vt, size_t ldv, int len,
                        int dh, const float *q, size_t ldq, int nq, float scale, float *sc,
                        size_t ldsc, float *out, size_t ldo)
{
    if (dh % 8 != 0 || dh > ATT_MAX_DH) {
        wsp__kern_scalar.attn_f16(Kt, ldk, Vt, ldv, len, dh, q, ldq, nq, scale, sc, ldsc, out,
                                  ldo);
        return;
    }
    int r = 0;
    for (; r + 2 <= nq; r += 2)
        attn_rows(Kt, ldk, Vt, ldv, len, dh, q + (size_t)r * ldq, ldq, 2, scale,
                  sc + (size_t)r * ldsc, ldsc, out + (size_t)r * ldo, ldo);
    if (r < nq)
        attn_rows(Kt, ldk, Vt, ldv, len, dh, q + (size_t)r * ldq, ldq, 1, scale,
                  sc + (size_t)r * ldsc, ldsc, out + (size_t)r * ldo, ldo);
}

void wsp__avx2_row_f16(const void *src, float *dst, int n) { cvt_f16(src, dst, (size_t)n); }
float wsp__avx2_vdot_f16(const void *w, const void *x, int n) { return dot_f16(w, x, n); }
float wsp__avx2_vdot_f32(const void *w, const void *x, int n) { return dot_f32(w, x, n); }
/* Groups of 4 weight rows against pairs of input rows (dot4xn_f16), an odd last input
 * row alone, then the last nrows % 4 weight rows one by one. */
void wsp__avx2_matvec_f16(const void *w, size_t row_bytes, int nrows, const void *x, size_t ldx,
                          int n_x, int n, float *Y, int ldy)
{
    const uint8_t *base = w, *xb = x;
    const size_t ld = row_bytes / 2;
    int r = 0;
    for (; r + 4 <= nrows; r += 4) {
        const uint8_t *wr = base + (size_t)r * row_bytes;
        int i = 0;
        for (; i + 2 <= n_x; i += 2)
            dot4xn_f16(wr, ld, xb + (size_t)i * ldx, ldx, 2, n, Y + (size_t)i * (size_t)ldy + r,
                       (size_t)ldy);
        if (i < n_x)
            dot4xn_f16(wr, ld, xb + (size_t)i * ldx, ldx, 1, n, Y + (size_t)i * (size_t)ldy + r,
                       (size_t)ldy);
    }
    for (; r < nrows; r++) {
        const uint8_t *wr = base + (size_t)r * row_bytes;
        for (int i = 0; i < n_x; i++)
            Y[(size_t)i * (size_t)ldy + r] = dot_f16(wr, (const float *)(xb + (size_t)i * ldx), n);
    }
}
void wsp__avx2_matvec_f32(const void *w, size_t row_bytes, int nrows, const void *x, size_t ldx,
                          int n_x, int n, float *Y, int ldy)
{
    wsp__matvec_by_rows(wsp__avx2_vdot_f32, w, row_bytes, nrows, x, ldx, n_x, n, Y, ldy);
}

const wsp__kern_ops wsp__kern_avx2 = {
    .name = "avx2",
    .types = wsp__types_avx2,
    .qgemm_int = 1,
    .dot_f16 = dot_f16,
    .dot_f32 = dot_f32,
    .cvt_f16 = cvt_f16,
    .dot4_f16 = dot4_f16,
    .exp_sum = wsp__avx2_exp_sum,
    .gelu = wsp__avx2_gelu,
    .axpy = wsp__avx2_axpy,
    .softmax = wsp__avx2_softmax,
    .cvt_f32_f16 = wsp__avx2_cvt_f32_f16,
    .attn_f16 = wsp__avx2_attn_f16,
};
