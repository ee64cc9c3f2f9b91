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

static void dot4_f16(const void *w, size_t ld, const float *x, int n, float *out)
{
    const uint8_t *p0 = w, *p1 = p0 + 2 * ld, *p2 = p1 + 2 * ld, *p3 = p2 + 2 * ld;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    /* Software prefetch of the next 4 rows, one line per row every 64 bytes (see the
     * AVX-512 version); never faults, result unchanged. */
    const size_t nb = 8 * ld;
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 xv = _mm256_loadu_ps(x + i);
        const size_t o = 2 * (size_t)i;
        if (!(i & 31)) {
            _mm_prefetch((const char *)p0 + o + nb, _MM_HINT_T0);
            _mm_prefetch((const char *)p1 + o + nb, _MM_HINT_T0);
            _mm_prefetch((const char *)p2 + o + nb, _MM_HINT_T0);
            _mm_prefetch((const char *)p3 + o + nb, _MM_HINT_T0);
        }
        a0 = _mm256_fmadd_ps(ld_f16x8(p0 + o), xv, a0);
        a1 = _mm256_fmadd_ps(ld_f16x8(p1 + o), xv, a1);
        a2 = _mm256_fmadd_ps(ld_f16x8(p2 + o), xv, a2);
        a3 = _mm256_fmadd_ps(ld_f16x8(p3 + o), xv, a3);
    }
    out[0] = hsum256(a0);
    out[1] = hsum256(a1);
    out[2] = hsum256(a2);
    out[3] = hsum256(a3);
    for (; i < n; i++) {
        const uint8_t *ps[4] = {p0, p1, p2, p3};
        for (int k = 0; k < 4; k++) {
            uint16_t h;
            memcpy(&h, ps[k] + 2 * (size_t)i, 2);
            out[k] += wsp__f16_to_f32(h) * x[i];
        }
    }
}

/* dot4_f16 for two input rows x0, x1 at once: each 8-weight chunk of the 4 rows is widened
 * once for both (16 ymm registers hold 8 accumulators, 4 weights and 2 inputs); each
 * (weight row, input row) pair is accumulated exactly as dot4_f16 does it, so a row's
 * result does not depend on the row beside it. */
static void dot4x2_f16(const void *w, size_t ld, const float *x0, const float *x1, int n,
                       float *out0, float *out1)
{
    const uint8_t *p0 = w, *p1 = p0 + 2 * ld, *p2 = p1 + 2 * ld, *p3 = p2 + 2 * ld;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
    __m256 b2 = _mm256_setzero_ps(), b3 = _mm256_setzero_ps();
    const size_t nb = 8 * ld;
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        const size_t o = 2 * (size_t)i;
        if (!(i & 31)) {
            _mm_prefetch((const char *)p0 + o + nb, _MM_HINT_T0);
            _mm_prefetch((const char *)p1 + o + nb, _MM_HINT_T0);
            _mm_prefetch((const char *)p2 + o + nb, _MM_HINT_T0);
            _mm_prefetch((const char *)p3 + o + nb, _MM_HINT_T0);
        }
        const __m256 w0 = ld_f16x8(p0 + o), w1 = ld_f16x8(p1 + o);
        const __m256 w2 = ld_f16x8(p2 + o), w3 = ld_f16x8(p3 + o);
        const __m256 xa = _mm256_loadu_ps(x0 + i), xb = _mm256_loadu_ps(x1 + i);
        a0 = _mm256_fmadd_ps(w0, xa, a0);
        a1 = _mm256_fmadd_ps(w1, xa, a1);
        a2 = _mm256_fmadd_ps(w2, xa, a2);
        a3 = _mm256_fmadd_ps(w3, xa, a3);
        b0 = _mm256_fmadd_ps(w0, xb, b0);
        b1 = _mm256_fmadd_ps(w1, xb, b1);
        b2 = _mm256_fmadd_ps(w2, xb, b2);
        b3 = _mm256_fmadd_ps(w3, xb, b3);
    }
    out0[0] = hsum256(a0);
    out0[1] = hsum256(a1);
    out0[2] = hsum256(a2);
    out0[3] = hsum256(a3);
    out1[0] = hsum256(b0);
    out1[1] = hsum256(b1);
    out1[2] = hsum256(b2);
    out1[3] = hsum256(b3);
    for (; i < n; i++) {
        const uint8_t *ps[4] = {p0, p1, p2, p3};
        for (int k = 0; k < 4; k++) {
            uint16_t h;
            memcpy(&h, ps[k] + 2 * (size_t)i, 2);
            out0[k] += wsp__f16_to_f32(h) * x0[i];
            out1[k] += wsp__f16_to_f32(h) * x1[i];
        }
    }
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

static void attn_f16_one(const uint16_t *Kt, size_t ldk, const uint16_t *Vt, size_t ldv, int len,
                         int dh, const float *q, float scale, float *sc, float *out)
{
    if (dh % 8 != 0 || dh > ATT_MAX_DH) {
        wsp__kern_scalar.attn_f16(Kt, ldk, Vt, ldv, len, dh, q, 0, 1, scale, sc, 0, out, 0);
        return;
    }
    /* scores: sc[t] = Σ_c q[c]·Kt[c][t], four key rows per pass over sc (kept in L1) */
    const int len8 = len & ~7;
    for (int t = 0; t < len; t++)
        sc[t] = 0;
    for (int c = 0; c < dh; c += 4) {
        const uint16_t *k0 = Kt + (size_t)c * ldk, *k1 = k0 + ldk, *k2 = k1 + ldk, *k3 = k2 + ldk;
        const __m256 q0 = _mm256_set1_ps(q[c]), q1 = _mm256_set1_ps(q[c + 1]);
        const __m256 q2 = _mm256_set1_ps(q[c + 2]), q3 = _mm256_set1_ps(q[c + 3]);
        const char *n0 = (const char *)(k0 + 4 * ldk); /* next 4 key rows: prefetch */
        for (int t = 0; t < len8; t += 8) {
            if (!(t & 31)) {
                _mm_prefetch(n0 + 2 * (size_t)t, _MM_HINT_T0);
                _mm_prefetch(n0 + 2 * (size_t)t + 2 * ldk, _MM_HINT_T0);
                _mm_prefetch(n0 + 2 * (size_t)t + 4 * ldk, _MM_HINT_T0);
                _mm_prefetch(n0 + 2 * (size_t)t + 6 * ldk, _MM_HINT_T0);
            }
            __m256 a = _mm256_loadu_ps(sc + t);
            a = _mm256_fmadd_ps(q0, ld_f16x8((const uint8_t *)(k0 + t)), a);
            a = _mm256_fmadd_ps(q1, ld_f16x8((const uint8_t *)(k1 + t)), a);
            a = _mm256_fmadd_ps(q2, ld_f16x8((const uint8_t *)(k2 + t)), a);
            a = _mm256_fmadd_ps(q3, ld_f16x8((const uint8_t *)(k3 + t)), a);
            _mm256_storeu_ps(sc + t, a);
        }
        for (int t = len8; t < len; t++)
            sc[t] += q[c] * wsp__f16_to_f32(k0[t]) + q[c + 1] * wsp__f16_to_f32(k1[t]) +
                     q[c + 2] * wsp__f16_to_f32(k2[t]) + q[c + 3] * wsp__f16_to_f32(k3[t]);
    }
    wsp__avx2_softmax(sc, len, scale); /* this ISA's own, whatever variant is forced */
    /* out[c] = Σ_t sc[t]·Vt[c][t]: four contiguous value rows per pass */
    for (int c = 0; c < dh; c += 4)
        dot4_f16(Vt + (size_t)c * ldv, ldv, sc, len, out + c);
}

/* Two query rows of one head (dh a multiple of 8, at most ATT_MAX_DH): each key vector
 * is widened once for both rows' scores, and the values go through dot4x2_f16; each
 * row's arithmetic is attn_f16_one's (same fma chain per score, same softmax, same
 * value dots), so a row's result does not depend on the row beside it. */
static void attn_f16_two(const uint16_t *Kt, size_t ldk, const uint16_t *Vt, size_t ldv, int len,
                         int dh, const float *qa, const float *qb, float scale, float *sa,
                         float *sb, float *oa, float *ob)
{
    const int len8 = len & ~7;
    for (int t = 0; t < len; t++)
        sa[t] = sb[t] = 0;
    for (int c = 0; c < dh; c += 4) {
        const uint16_t *k0 = Kt + (size_t)c * ldk, *k1 = k0 + ldk, *k2 = k1 + ldk, *k3 = k2 + ldk;
        const __m256 a0 = _mm256_set1_ps(qa[c]), a1 = _mm256_set1_ps(qa[c + 1]);
        const __m256 a2 = _mm256_set1_ps(qa[c + 2]), a3 = _mm256_set1_ps(qa[c + 3]);
        const __m256 b0 = _mm256_set1_ps(qb[c]), b1 = _mm256_set1_ps(qb[c + 1]);
        const __m256 b2 = _mm256_set1_ps(qb[c + 2]), b3 = _mm256_set1_ps(qb[c + 3]);
        const char *n0 = (const char *)(k0 + 4 * ldk);
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
            __m256 x = _mm256_loadu_ps(sa + t);
            x = _mm256_fmadd_ps(a0, w0, x);
            x = _mm256_fmadd_ps(a1, w1, x);
            x = _mm256_fmadd_ps(a2, w2, x);
            x = _mm256_fmadd_ps(a3, w3, x);
            _mm256_storeu_ps(sa + t, x);
            __m256 y = _mm256_loadu_ps(sb + t);
            y = _mm256_fmadd_ps(b0, w0, y);
            y = _mm256_fmadd_ps(b1, w1, y);
            y = _mm256_fmadd_ps(b2, w2, y);
            y = _mm256_fmadd_ps(b3, w3, y);
            _mm256_storeu_ps(sb + t, y);
        }
        for (int t = len8; t < len; t++) {
            const float f0 = wsp__f16_to_f32(k0[t]), f1 = wsp__f16_to_f32(k1[t]);
            const float f2 = wsp__f16_to_f32(k2[t]), f3 = wsp__f16_to_f32(k3[t]);
            sa[t] += qa[c] * f0 + qa[c + 1] * f1 + qa[c + 2] * f2 + qa[c + 3] * f3;
            sb[t] += qb[c] * f0 + qb[c + 1] * f1 + qb[c + 2] * f2 + qb[c + 3] * f3;
        }
    }
    wsp__avx2_softmax(sa, len, scale);
    wsp__avx2_softmax(sb, len, scale);
    for (int c = 0; c < dh; c += 4)
        dot4x2_f16(Vt + (size_t)c * ldv, ldv, sa, sb, len, oa + c, ob + c);
}

/* Pairs of rows (attn_f16_two), an odd last row alone. */
void wsp__avx2_attn_f16(const uint16_t *Kt, size_t ldk, const uint16_t *Vt, size_t ldv, int len,
                        int dh, const float *q, size_t ldq, int nq, float scale, float *sc,
                        size_t ldsc, float *out, size_t ldo)
{
    int r = 0;
    if (dh % 8 == 0 && dh <= ATT_MAX_DH)
        for (; r + 2 <= nq; r += 2)
            attn_f16_two(Kt, ldk, Vt, ldv, len, dh, q + (size_t)r * ldq,
                         q + (size_t)(r + 1) * ldq, scale, sc + (size_t)r * ldsc,
                         sc + (size_t)(r + 1) * ldsc, out + (size_t)r * ldo,
                         out + (size_t)(r + 1) * ldo);
    for (; r < nq; r++)
        attn_f16_one(Kt, ldk, Vt, ldv, len, dh, q + (size_t)r * ldq, scale,
                     sc + (size_t)r * ldsc, out + (size_t)r * ldo);
}

void wsp__avx2_row_f16(const void *src, float *dst, int n) { cvt_f16(src, dst, (size_t)n); }
float wsp__avx2_vdot_f16(const void *w, const void *x, int n) { return dot_f16(w, x, n); }
float wsp__avx2_vdot_f32(const void *w, const void *x, int n) { return dot_f32(w, x, n); }
/* Groups of 4 weight rows against pairs of input rows (dot4x2_f16), an odd last input
 * row by dot4_f16, then the last nrows % 4 weight rows one by one. */
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
            dot4x2_f16(wr, ld, (const float *)(xb + (size_t)i * ldx),
                       (const float *)(xb + (size_t)(i + 1) * ldx), n,
                       Y + (size_t)i * (size_t)ldy + r, Y + (size_t)(i + 1) * (size_t)ldy + r);
        if (i < n_x)
            dot4_f16(wr, ld, (const float *)(xb + (size_t)i * ldx), n,
                     Y + (size_t)i * (size_t)ldy + r);
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
