/* kernels_avx512.c — AVX-512 kernels (compiled with the AVX-512 flags, reached only through
 * wsp__kern() after the CPU checks of wsp__kern_usable).  exp/GELU/softmax reuse the AVX2
 * versions (every AVX-512 CPU has AVX2, FMA and F16C).  See kernels.h. */
#include "whisper/kernels.h"

#include <immintrin.h>
#include <string.h>

float wsp__avx2_exp_sum(float *x, int n, float max);
void wsp__avx2_gelu(float *x, int n);
void wsp__avx2_axpy(float *y, float a, const float *x, int n);
void wsp__avx2_softmax(float *x, int n, float scale);
void wsp__avx2_cvt_f32_f16(const float *src, uint16_t *dst, size_t n);

static inline __m512 ld_f16x16(const uint8_t *p)
{
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

static float dot_f16(const void *w, const float *x, int n)
{
    const uint8_t *p = w;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm512_fmadd_ps(ld_f16x16(p + 2 * (size_t)i), _mm512_loadu_ps(x + i), a0);
        a1 = _mm512_fmadd_ps(ld_f16x16(p + 2 * (size_t)i + 32), _mm512_loadu_ps(x + i + 16), a1);
    }
    for (; i + 16 <= n; i += 16)
        a0 = _mm512_fmadd_ps(ld_f16x16(p + 2 * (size_t)i), _mm512_loadu_ps(x + i), a0);
    float s = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    for (; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * (size_t)i, 2);
        s += wsp__f16_to_f32(h) * x[i];
    }
    return s;
}

/* 4 f16 weight rows (w, w + ld, … in elements) against NX input rows (x, row stride ldx
 * bytes; NX a constant 1..4 after inlining): each 16-weight chunk is widened once and
 * used by every input row, so a batch of rows costs one f16 → f32 conversion per weight
 * instead of one per weight per row.  Each (weight row, input row) pair is accumulated
 * in the same order whatever NX (same fma chain, same reduction, same tail), so a row's
 * result never depends on the rows beside it (the decoder's batch invariance).
 * Software prefetch of the NEXT 4 rows (same offset), one line per row every 64 bytes:
 * the hardware prefetcher alone left the memory-bound logits matvec at ~13 GB/s on one
 * core; this gives ~20–28 GB/s.  Prefetches never fault, so running past the matrix end
 * is harmless.  Arithmetic (and so the result) is unchanged. */
static inline __attribute__((always_inline)) void dot4xn_f16(const uint8_t *w, size_t ld,
                                                             const uint8_t *x, size_t ldx,
                                                             const int NX, int n, float *Y,
                                                             size_t ldy)
{
    const uint8_t *p[4] = {w, w + 2 * ld, w + 4 * ld, w + 6 * ld};
    const float *xr[4];
    __m512 a[4][4];
    #pragma GCC unroll 4
    for (int r = 0; r < NX; r++) {
        xr[r] = (const float *)(x + (size_t)r * ldx);
        #pragma GCC unroll 4
        for (int k = 0; k < 4; k++)
            a[r][k] = _mm512_setzero_ps();
    }
    const size_t nb = 8 * ld;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        const size_t o = 2 * (size_t)i;
        if (!(i & 31))
            #pragma GCC unroll 4
            for (int k = 0; k < 4; k++)
                _mm_prefetch((const char *)p[k] + o + nb, _MM_HINT_T0);
        __m512 wv[4];
        #pragma GCC unroll 4
        for (int k = 0; k < 4; k++)
            wv[k] = ld_f16x16(p[k] + o);
        #pragma GCC unroll 4
        for (int r = 0; r < NX; r++) {
            const __m512 xv = _mm512_loadu_ps(xr[r] + i);
            #pragma GCC unroll 4
            for (int k = 0; k < 4; k++)
                a[r][k] = _mm512_fmadd_ps(wv[k], xv, a[r][k]);
        }
    }
    #pragma GCC unroll 4
    for (int r = 0; r < NX; r++) {
        float *y = Y + (size_t)r * ldy;
        #pragma GCC unroll 4
        for (int k = 0; k < 4; k++)
            y[k] = _mm512_reduce_add_ps(a[r][k]);
        for (int t = i; t < n; t++)
            #pragma GCC unroll 4
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
    const float *p = w;
    __m512 a0 = _mm512_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16)
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(p + i), _mm512_loadu_ps(x + i), a0);
    float s = _mm512_reduce_add_ps(a0);
    for (; i < n; i++)
        s += wsp__ldf(w, (size_t)i) * x[i];
    return s;
}

static void cvt_f16(const void *src, float *dst, size_t n)
{
    const uint8_t *p = src;
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(dst + i, ld_f16x16(p + 2 * i));
    for (; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        dst[i] = wsp__f16_to_f32(h);
    }
}

/* 16 lanes → lane 0 of each 8-lane half = the AVX2 hsum256 of that half
 * (((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7)), as wsp__hsum8). */
static inline void hsum8x2(__m512 v, float *lo, float *hi)
{
    v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
    v = _mm512_add_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm512_add_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)));
    *lo = _mm512_cvtss_f32(v);
    *hi = _mm512_cvtss_f32(_mm512_castps256_ps512(_mm512_extractf32x8_ps(v, 1)));
}

/* 8 halves of row a and 8 of row b (same column) → 16 floats [a…, b…]. */
static inline __m512 ld_f16x8x2(const uint16_t *a, const uint16_t *b)
{
    return _mm512_cvtph_ps(_mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)a)),
        _mm_loadu_si128((const __m128i *)b), 1));
}

#define ATT_MAX_DH 256 /* as the AVX2 kernel: dh a multiple of 8, at most this */

/* NQ (a constant 1..4 after inlining) query rows of one head: every key and value vector
 * is widened once and used by each row, each row's arithmetic exactly the one-row
 * kernel's (below), so a row's result does not depend on the rows beside it. */
static inline __attribute__((always_inline)) void attn_rows(const uint16_t *Kt, size_t ldk,
                                                            const uint16_t *Vt, size_t ldv,
                                                            int len, int dh, const float *q,
                                                            size_t ldq, const int NQ,
                                                            float scale, float *sc, size_t ldsc,
                                                            float *out, size_t ldo)
{
    const int len8 = len & ~7, len16 = len & ~15;
#pragma GCC unroll 4
    for (int r = 0; r < NQ; r++)
        for (int t = 0; t < len; t++)
            sc[(size_t)r * ldsc + t] = 0;
    for (int c = 0; c < dh; c += 4) {
        const uint16_t *k0 = Kt + (size_t)c * ldk, *k1 = k0 + ldk, *k2 = k1 + ldk, *k3 = k2 + ldk;
        __m512 qv[4][4];
#pragma GCC unroll 4
        for (int r = 0; r < NQ; r++)
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++)
                qv[r][k] = _mm512_set1_ps(q[(size_t)r * ldq + (size_t)c + (size_t)k]);
        const char *n0 = (const char *)(k0 + 4 * ldk); /* next 4 key rows: prefetch */
        int t = 0;
        for (; t < len16; t += 16) {
            if (!(t & 31)) {
                _mm_prefetch(n0 + 2 * (size_t)t, _MM_HINT_T0);
                _mm_prefetch(n0 + 2 * (size_t)t + 2 * ldk, _MM_HINT_T0);
                _mm_prefetch(n0 + 2 * (size_t)t + 4 * ldk, _MM_HINT_T0);
                _mm_prefetch(n0 + 2 * (size_t)t + 6 * ldk, _MM_HINT_T0);
            }
            const __m512 w0 = ld_f16x16((const uint8_t *)(k0 + t));
            const __m512 w1 = ld_f16x16((const uint8_t *)(k1 + t));
            const __m512 w2 = ld_f16x16((const uint8_t *)(k2 + t));
            const __m512 w3 = ld_f16x16((const uint8_t *)(k3 + t));
#pragma GCC unroll 4
            for (int r = 0; r < NQ; r++) {
                float *sr = sc + (size_t)r * ldsc;
                __m512 a = _mm512_loadu_ps(sr + t);
                a = _mm512_fmadd_ps(qv[r][0], w0, a);
                a = _mm512_fmadd_ps(qv[r][1], w1, a);
                a = _mm512_fmadd_ps(qv[r][2], w2, a);
                a = _mm512_fmadd_ps(qv[r][3], w3, a);
                _mm512_storeu_ps(sr + t, a);
            }
        }
        for (; t < len8; t += 8) {
            const __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k0 + t)));
            const __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k1 + t)));
            const __m256 w2 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k2 + t)));
            const __m256 w3 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k3 + t)));
#pragma GCC unroll 4
            for (int r = 0; r < NQ; r++) {
                float *sr = sc + (size_t)r * ldsc;
                __m256 a = _mm256_loadu_ps(sr + t);
                a = _mm256_fmadd_ps(_mm512_castps512_ps256(qv[r][0]), w0, a);
                a = _mm256_fmadd_ps(_mm512_castps512_ps256(qv[r][1]), w1, a);
                a = _mm256_fmadd_ps(_mm512_castps512_ps256(qv[r][2]), w2, a);
                a = _mm256_fmadd_ps(_mm512_castps512_ps256(qv[r][3]), w3, a);
                _mm256_storeu_ps(sr + t, a);
            }
        }
        for (; t < len; t++) {
            const float f0 = wsp__f16_to_f32(k0[t]), f1 = wsp__f16_to_f32(k1[t]);
            const float f2 = wsp__f16_to_f32(k2[t]), f3 = wsp__f16_to_f32(k3[t]);
#pragma GCC unroll 4
            for (int r = 0; r < NQ; r++) {
                const float *qr = q + (size_t)r * ldq + c;
                sc[(size_t)r * ldsc + t] += qr[0] * f0 + qr[1] * f1 + qr[2] * f2 + qr[3] * f3;
            }
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < NQ; r++)
        wsp__avx2_softmax(sc + (size_t)r * ldsc, len, scale);
    for (int c = 0; c < dh; c += 4) {
        const uint16_t *v0 = Vt + (size_t)c * ldv, *v1 = v0 + ldv, *v2 = v1 + ldv, *v3 = v2 + ldv;
        const char *n0 = (const char *)(v0 + 4 * ldv);
        __m512 a01[4], a23[4];
#pragma GCC unroll 4
        for (int r = 0; r < NQ; r++)
            a01[r] = a23[r] = _mm512_setzero_ps();
        for (int t = 0; t < len8; t += 8) {
            if (!(t & 31)) {
                _mm_prefetch(n0 + 2 * (size_t)t, _MM_HINT_T0);
                _mm_prefetch(n0 + 2 * (size_t)t + 2 * ldv, _MM_HINT_T0);
                _mm_prefetch(n0 + 2 * (size_t)t + 4 * ldv, _MM_HINT_T0);
                _mm_prefetch(n0 + 2 * (size_t)t + 6 * ldv, _MM_HINT_T0);
            }
            const __m512 w01 = ld_f16x8x2(v0 + t, v1 + t), w23 = ld_f16x8x2(v2 + t, v3 + t);
#pragma GCC unroll 4
            for (int r = 0; r < NQ; r++) {
                const __m512 p = _mm512_broadcast_f32x8(_mm256_loadu_ps(sc + (size_t)r * ldsc + t));
                a01[r] = _mm512_fmadd_ps(w01, p, a01[r]);
                a23[r] = _mm512_fmadd_ps(w23, p, a23[r]);
            }
        }
#pragma GCC unroll 4
        for (int r = 0; r < NQ; r++) {
            float *o = out + (size_t)r * ldo + c;
            const float *sr = sc + (size_t)r * ldsc;
            hsum8x2(a01[r], &o[0], &o[1]);
            hsum8x2(a23[r], &o[2], &o[3]);
            for (int t = len8; t < len; t++) {
                o[0] += wsp__f16_to_f32(v0[t]) * sr[t];
                o[1] += wsp__f16_to_f32(v1[t]) * sr[t];
                o[2] += wsp__f16_to_f32(v2[t]) * sr[t];
                o[3] += wsp__f16_to_f32(v3[t]) * sr[t];
            }
        }
    }
}

/* The AVX2 kernel's numbers bit for bit, at twice the width (the cross-attention of a
 * decoder step is a fixed cost of every weight type), for up to 4 query rows at a time:
 *  - scores: sc[t] is accumulated over c in the same order by fma, whatever the vector
 *    width; t beyond the last multiple of 8 takes the AVX2 kernel's scalar expression;
 *  - softmax: the AVX2 one;
 *  - values: out[c] = Σ_t sc[t]·Vt[c][t] with AVX2's 8 lanes per row (lane l sums
 *    t ≡ l mod 8 by fma, then hsum256, then the scalar tail) — two rows per zmm. */
static void attn_f16(const uint16_t *Kt, size_t ldk, const uint16_t *Vt, size_t ldv, int len,
                     int dh, const float *q, size_t ldq, int nq, float scale, float *sc,
                     size_t ldsc, float *out, size_t ldo)
{
    if (dh % 8 != 0 || dh > ATT_MAX_DH) {
        wsp__kern_scalar.attn_f16(Kt, ldk, Vt, ldv, len, dh, q, ldq, nq, scale, sc, ldsc, out,
                                  ldo);
        return;
    }
    for (int r = 0; r < nq;) {
        const float *qr = q + (size_t)r * ldq;
        float *sr = sc + (size_t)r * ldsc, *orow = out + (size_t)r * ldo;
        switch (nq - r >= 4 ? 4 : nq - r) {
        case 4: attn_rows(Kt, ldk, Vt, ldv, len, dh, qr, ldq, 4, scale, sr, ldsc, orow, ldo); r += 4; break;
        case 3: attn_rows(Kt, ldk, Vt, ldv, len, dh, qr, ldq, 3, scale, sr, ldsc, orow, ldo); r += 3; break;
        case 2: attn_rows(Kt, ldk, Vt, ldv, len, dh, qr, ldq, 2, scale, sr, ldsc, orow, ldo); r += 2; break;
        default: attn_rows(Kt, ldk, Vt, ldv, len, dh, qr, ldq, 1, scale, sr, ldsc, orow, ldo); r += 1; break;
        }
    }
}

void wsp__avx512_row_f16(const void *src, float *dst, int n) { cvt_f16(src, dst, (size_t)n); }
float wsp__avx512_vdot_f16(const void *w, const void *x, int n) { return dot_f16(w, x, n); }
float wsp__avx512_vdot_f32(const void *w, const void *x, int n) { return dot_f32(w, x, n); }
void wsp__avx512_matvec_f16(const void *w, size_t row_bytes, int nrows, const void *x,
                            size_t ldx, int n_x, int n, float *Y, int ldy)
{
    const uint8_t *base = w, *xb = x;
    const size_t ld = row_bytes / 2;
    int r = 0;
    for (; r + 4 <= nrows; r += 4) {
        const uint8_t *wr = base + (size_t)r * row_bytes;
        int i = 0;
        for (; i + 4 <= n_x; i += 4)
            dot4xn_f16(wr, ld, xb + (size_t)i * ldx, ldx, 4, n, Y + (size_t)i * ldy + r, ldy);
        switch (n_x - i) {
        case 3: dot4xn_f16(wr, ld, xb + (size_t)i * ldx, ldx, 3, n, Y + (size_t)i * ldy + r, ldy); break;
        case 2: dot4xn_f16(wr, ld, xb + (size_t)i * ldx, ldx, 2, n, Y + (size_t)i * ldy + r, ldy); break;
        case 1: dot4xn_f16(wr, ld, xb + (size_t)i * ldx, ldx, 1, n, Y + (size_t)i * ldy + r, ldy); break;
        default: break;
        }
    }
    for (; r < nrows; r++) {
        const uint8_t *wr = base + (size_t)r * row_bytes;
        for (int i = 0; i < n_x; i++)
            Y[(size_t)i * (size_t)ldy + r] =
                dot_f16(wr, (const float *)(xb + (size_t)i * ldx), n);
    }
}
void wsp__avx512_matvec_f32(const void *w, size_t row_bytes, int nrows, const void *x,
                            size_t ldx, int n_x, int n, float *Y, int ldy)
{
    wsp__matvec_by_rows(wsp__avx512_vdot_f32, w, row_bytes, nrows, x, ldx, n_x, n, Y, ldy);
}

const wsp__kern_ops wsp__kern_avx512 = {
    .name = "avx512",
    .types = wsp__types_avx512,
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
    .attn_f16 = attn_f16,
};
