/* kernels_avx512.c — AVX-512F kernels (compiled with the AVX-512 flags, reached only through
 * wsp__kern() after __builtin_cpu_supports checks).  exp/GELU reuse the AVX2 versions
 * (every AVX-512 CPU has AVX2, FMA and F16C).  See kernels.h. */
#include "whisper/kernels.h"

#include <immintrin.h>
#include <string.h>

float wsp__avx2_exp_sum(float *x, int n, float max);
void wsp__avx2_gelu(float *x, int n);
void wsp__avx2_axpy(float *y, float a, const float *x, int n);
void wsp__avx2_softmax(float *x, int n, float scale);
void wsp__avx2_cvt_f32_f16(const float *src, uint16_t *dst, size_t n);
void wsp__avx2_attn_f16(const uint16_t *Kt, size_t ldk, const uint16_t *Vt, size_t ldv, int len,
                        int dh, const float *q, float scale, float *sc, float *out);

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
