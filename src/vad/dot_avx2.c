/*
 * dot_avx2.c — the two dot products of net.c with AVX2 + FMA (compiled with -mavx2 -mfma
 * for this file only; reached through vad__dot_ops(), which checks the CPU first).
 *
 * The same arithmetic as net.c's portable versions, in the layout ggml itself uses on
 * such a CPU (ggml-cpu vec.cpp, GGML_F32x8 / GGML_F16x8): four 8-float accumulators over
 * blocks of 32, then GGML_F32x8_REDUCE, the tail added in double; the f32 version uses a
 * true fused multiply-add, as ggml_vec_dot_f32 does there.  Only these two functions live
 * in this file, so nothing else is compiled with FMA contraction available.
 */
#include "vad/vad_internal.h"

#include <immintrin.h>

/* GGML_F32x8_REDUCE of four accumulators. */
static float reduce4(__m256 a0, __m256 a1, __m256 a2, __m256 a3)
{
    a0 = _mm256_add_ps(a0, a2);
    a1 = _mm256_add_ps(a1, a3);
    a0 = _mm256_add_ps(a0, a1);
    const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(a0), _mm256_extractf128_ps(a0, 1));
    const __m128 t1 = _mm_hadd_ps(t0, t0);
    return _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
}

float vad__dot32_avx2(const float *x, const float *y, int n)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    const int np = n & ~31;
    for (int i = 0; i < np; i += 32) {
        /* products of f16 values are exact: mul + add equals ggml's fma here */
        a0 = _mm256_add_ps(a0, _mm256_mul_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
        a1 = _mm256_add_ps(a1, _mm256_mul_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8)));
        a2 = _mm256_add_ps(a2, _mm256_mul_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16)));
        a3 = _mm256_add_ps(a3, _mm256_mul_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24)));
    }
    double s = (double)reduce4(a0, a1, a2, a3);
    for (int i = np; i < n; i++)
        s += (double)(x[i] * y[i]);
    return (float)s;
}

float vad__dot32_fma_avx2(const float *x, const float *y, int n)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    const int np = n & ~31;
    for (int i = 0; i < np; i += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), a3);
    }
    double s = (double)reduce4(a0, a1, a2, a3);
    for (int i = np; i < n; i++)
        s += (double)(x[i] * y[i]);
    return (float)s;
}
