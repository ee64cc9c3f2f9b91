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

static void dot4_f16(const void *w, size_t ld, const float *x, int n, float *out)
{
    const uint8_t *p0 = w, *p1 = p0 + 2 * ld, *p2 = p1 + 2 * ld, *p3 = p2 + 2 * ld;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
    __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    /* Software prefetch of the NEXT 4 rows (same offset), one line per row every 64
     * bytes: the hardware prefetcher alone left the memory-bound logits matvec at
     * ~13 GB/s on one core; this gives ~20–28 GB/s.  Prefetches never fault, so running
     * past the matrix end is harmless.  Arithmetic (and so the result) is unchanged. */
    const size_t nb = 8 * ld;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 xv = _mm512_loadu_ps(x + i);
        const size_t o = 2 * (size_t)i;
        if (!(i & 31)) {
            _mm_prefetch((const char *)p0 + o + nb, _MM_HINT_T0);
            _mm_prefetch((const char *)p1 + o + nb, _MM_HINT_T0);
            _mm_prefetch((const char *)p2 + o + nb, _MM_HINT_T0);
            _mm_prefetch((const char *)p3 + o + nb, _MM_HINT_T0);
        }
        a0 = _mm512_fmadd_ps(ld_f16x16(p0 + o), xv, a0);
        a1 = _mm512_fmadd_ps(ld_f16x16(p1 + o), xv, a1);
        a2 = _mm512_fmadd_ps(ld_f16x16(p2 + o), xv, a2);
        a3 = _mm512_fmadd_ps(ld_f16x16(p3 + o), xv, a3);
    }
    out[0] = _mm512_reduce_add_ps(a0);
    out[1] = _mm512_reduce_add_ps(a1);
    out[2] = _mm512_reduce_add_ps(a2);
    out[3] = _mm512_reduce_add_ps(a3);
    for (; i < n; i++) {
        const uint8_t *ps[4] = {p0, p1, p2, p3};
        for (int k = 0; k < 4; k++) {
            uint16_t h;
            memcpy(&h, ps[k] + 2 * (size_t)i, 2);
            out[k] += wsp__f16_to_f32(h) * x[i];
        }
    }
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

/* The AVX2 kernel's numbers bit for bit, at twice the width (the cross-attention of a
 * decoder step is a fixed cost of every weight type):
 *  - scores: sc[t] is accumulated over c in the same order by fma, whatever the vector
 *    width; t beyond the last multiple of 8 takes the AVX2 kernel's scalar expression;
 *  - softmax: the AVX2 one;
 *  - values: out[c] = Σ_t sc[t]·Vt[c][t] with AVX2's 8 lanes per row (lane l sums
 *    t ≡ l mod 8 by fma, then hsum256, then the scalar tail) — two rows per zmm. */
static void attn_f16(const uint16_t *Kt, size_t ldk, const uint16_t *Vt, size_t ldv, int len,
                     int dh, const float *q, float scale, float *sc, float *out)
{
    if (dh % 8 != 0 || dh > ATT_MAX_DH) {
        wsp__kern_scalar.attn_f16(Kt, ldk, Vt, ldv, len, dh, q, scale, sc, out);
        return;
    }
    const int len8 = len & ~7, len16 = len & ~15;
    for (int t = 0; t < len; t++)
        sc[t] = 0;
    for (int c = 0; c < dh; c += 4) {
        const uint16_t *k0 = Kt + (size_t)c * ldk, *k1 = k0 + ldk, *k2 = k1 + ldk, *k3 = k2 + ldk;
        const __m512 q0 = _mm512_set1_ps(q[c]), q1 = _mm512_set1_ps(q[c + 1]);
        const __m512 q2 = _mm512_set1_ps(q[c + 2]), q3 = _mm512_set1_ps(q[c + 3]);
        const char *n0 = (const char *)(k0 + 4 * ldk); /* next 4 key rows: prefetch */
        int t = 0;
        for (; t < len16; t += 16) {
            if (!(t & 31)) {
                _mm_prefetch(n0 + 2 * (size_t)t, _MM_HINT_T0);
                _mm_prefetch(n0 + 2 * (size_t)t + 2 * ldk, _MM_HINT_T0);
                _mm_prefetch(n0 + 2 * (size_t)t + 4 * ldk, _MM_HINT_T0);
                _mm_prefetch(n0 + 2 * (size_t)t + 6 * ldk, _MM_HINT_T0);
            }
            __m512 a = _mm512_loadu_ps(sc + t);
            a = _mm512_fmadd_ps(q0, ld_f16x16((const uint8_t *)(k0 + t)), a);
            a = _mm512_fmadd_ps(q1, ld_f16x16((const uint8_t *)(k1 + t)), a);
            a = _mm512_fmadd_ps(q2, ld_f16x16((const uint8_t *)(k2 + t)), a);
            a = _mm512_fmadd_ps(q3, ld_f16x16((const uint8_t *)(k3 + t)), a);
            _mm512_storeu_ps(sc + t, a);
        }
        for (; t < len8; t += 8) {
            __m256 a = _mm256_loadu_ps(sc + t);
            a = _mm256_fmadd_ps(_mm512_castps512_ps256(q0), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k0 + t))), a);
            a = _mm256_fmadd_ps(_mm512_castps512_ps256(q1), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k1 + t))), a);
            a = _mm256_fmadd_ps(_mm512_castps512_ps256(q2), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k2 + t))), a);
            a = _mm256_fmadd_ps(_mm512_castps512_ps256(q3), _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k3 + t))), a);
            _mm256_storeu_ps(sc + t, a);
        }
        for (; t < len; t++)
            sc[t] += q[c] * wsp__f16_to_f32(k0[t]) + q[c + 1] * wsp__f16_to_f32(k1[t]) +
                     q[c + 2] * wsp__f16_to_f32(k2[t]) + q[c + 3] * wsp__f16_to_f32(k3[t]);
    }
    wsp__avx2_softmax(sc, len, scale);
    for (int c = 0; c < dh; c += 4) {
        const uint16_t *v0 = Vt + (size_t)c * ldv, *v1 = v0 + ldv, *v2 = v1 + ldv, *v3 = v2 + ldv;
        const char *n0 = (const char *)(v0 + 4 * ldv);
        __m512 a01 = _mm512_setzero_ps(), a23 = _mm512_setzero_ps();
        for (int t = 0; t < len8; t += 8) {
            if (!(t & 31)) {
                _mm_prefetch(n0 + 2 * (size_t)t, _MM_HINT_T0);
                _mm_prefetch(n0 + 2 * (size_t)t + 2 * ldv, _MM_HINT_T0);
                _mm_prefetch(n0 + 2 * (size_t)t + 4 * ldv, _MM_HINT_T0);
                _mm_prefetch(n0 + 2 * (size_t)t + 6 * ldv, _MM_HINT_T0);
            }
            const __m512 p = _mm512_broadcast_f32x8(_mm256_loadu_ps(sc + t));
            a01 = _mm512_fmadd_ps(ld_f16x8x2(v0 + t, v1 + t), p, a01);
            a23 = _mm512_fmadd_ps(ld_f16x8x2(v2 + t, v3 + t), p, a23);
        }
        hsum8x2(a01, &out[c], &out[c + 1]);
        hsum8x2(a23, &out[c + 2], &out[c + 3]);
        for (int t = len8; t < len; t++) {
            const uint16_t *vs[4] = {v0, v1, v2, v3};
            for (int k = 0; k < 4; k++)
                out[c + k] += wsp__f16_to_f32(vs[k][t]) * sc[t];
        }
    }
}

void wsp__avx512_row_f16(const void *src, float *dst, int n) { cvt_f16(src, dst, (size_t)n); }
float wsp__avx512_vdot_f16(const void *w, const void *x, int n) { return dot_f16(w, x, n); }
float wsp__avx512_vdot_f32(const void *w, const void *x, int n) { return dot_f32(w, x, n); }
void wsp__avx512_matvec_f16(const void *w, size_t row_bytes, int nrows, const void *x,
                            size_t ldx, int n_x, int n, float *Y, int ldy)
{
    wsp__matvec_f16_with(dot4_f16, dot_f16, w, row_bytes, nrows, x, ldx, n_x, n, Y, ldy);
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
