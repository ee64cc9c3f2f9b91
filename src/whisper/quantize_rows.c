/*
 * quantize_rows.c — ggml's reference block quantizers, written from the formulas of
 * ggml-quants.c quantize_row_*_ref (see quantize.h for the layouts).
 *
 * These decide the bytes of every quantized model file, so they follow the reference
 * operation by operation: the same float32 expressions in the same order (this file is
 * built for baseline x86-64, so there is no FMA to contract them), the same
 * first-maximum-wins scan for the signed absolute maximum, truncating float → int
 * conversions after adding the rounding offset (8.5, 16.5, 0.5) and roundf() for q8_0.
 * ref: ggml/src/ggml-quants.c (whisper.cpp 233fe1fc9); README-round2.md §4.
 */
#include "whisper/quantize.h"
#include "whisper/kernels.h" /* wsp__f32_to_f16: round to nearest even, as GGML_FP32_TO_FP16 */

#include <float.h>
#include <math.h>
#include <string.h>

static void put_f16(uint8_t *p, float v)
{
    const uint16_t h = wsp__f32_to_f16(v);
    p[0] = (uint8_t)(h & 0xff);
    p[1] = (uint8_t)(h >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Signed value of the largest |x[j]| (the first one on ties); 0 for an all-zero block. */
static float signed_absmax(const float *x)
{
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < WSP__QK; j++) {
        if (amax < fabsf(x[j])) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

static void min_max(const float *x, float *mn, float *mx)
{
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int j = 0; j < WSP__QK; j++) {
        if (x[j] < lo)
            lo = x[j];
        if (x[j] > hi)
            hi = x[j];
    }
    *mn = lo;
    *mx = hi;
}

static int min_int(int a, int b) { return a < b ? a : b; }

/* q4_0: d = max / −8, q = min(15, trunc(x/d + 8.5)).  ref: quantize_row_q4_0_ref. */
static void block_q4_0(const float *x, uint8_t *y)
{
    const float d = signed_absmax(x) / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    put_f16(y, d);
    for (int j = 0; j < WSP__QK / 2; j++) {
        const float x0 = x[j] * id, x1 = x[WSP__QK / 2 + j] * id;
        const int q0 = min_int(15, (int8_t)(x0 + 8.5f));
        const int q1 = min_int(15, (int8_t)(x1 + 8.5f));
        y[2 + j] = (uint8_t)(q0 | (q1 << 4));
    }
}

/* q4_1: d = (max − min)/15, m = min, q = min(15, trunc((x − min)/d + 0.5)).
 * ref: quantize_row_q4_1_ref. */
static void block_q4_1(const float *x, uint8_t *y)
{
    float mn, mx;
    min_max(x, &mn, &mx);
    const float d = (mx - mn) / ((1 << 4) - 1);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    put_f16(y, d);
    put_f16(y + 2, mn);
    for (int j = 0; j < WSP__QK / 2; j++) {
        const float x0 = (x[j] - mn) * id, x1 = (x[WSP__QK / 2 + j] - mn) * id;
        const int q0 = min_int(15, (int8_t)(x0 + 0.5f));
        const int q1 = min_int(15, (int8_t)(x1 + 0.5f));
        y[4 + j] = (uint8_t)(q0 | (q1 << 4));
    }
}

/* q5_0: d = max / −16, q = min(31, trunc(x/d + 16.5)); bit 4 of q goes to the high-bit
 * word.  ref: quantize_row_q5_0_ref. */
static void block_q5_0(const float *x, uint8_t *y)
{
    const float d = signed_absmax(x) / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    put_f16(y, d);
    uint32_t qh = 0;
    for (int j = 0; j < WSP__QK / 2; j++) {
        const float x0 = x[j] * id, x1 = x[WSP__QK / 2 + j] * id;
        const uint8_t q0 = (uint8_t)min_int(31, (int8_t)(x0 + 16.5f));
        const uint8_t q1 = (uint8_t)min_int(31, (int8_t)(x1 + 16.5f));
        y[6 + j] = (uint8_t)((q0 & 0x0f) | ((q1 & 0x0f) << 4));
        qh |= ((q0 & 0x10u) >> 4) << j;
        qh |= ((q1 & 0x10u) >> 4) << (j + WSP__QK / 2);
    }
    put_u32(y + 2, qh);
}

/* q5_1: d = (max − min)/31, m = min, q = trunc((x − min)/d + 0.5) (no clamp, as the
 * reference).  ref: quantize_row_q5_1_ref. */
static void block_q5_1(const float *x, uint8_t *y)
{
    float mn, mx;
    min_max(x, &mn, &mx);
    const float d = (mx - mn) / ((1 << 5) - 1);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    put_f16(y, d);
    put_f16(y + 2, mn);
    uint32_t qh = 0;
    for (int j = 0; j < WSP__QK / 2; j++) {
        const float x0 = (x[j] - mn) * id, x1 = (x[WSP__QK / 2 + j] - mn) * id;
        const uint8_t q0 = (uint8_t)(x0 + 0.5f);
        const uint8_t q1 = (uint8_t)(x1 + 0.5f);
        y[8 + j] = (uint8_t)((q0 & 0x0f) | ((q1 & 0x0f) << 4));
        qh |= ((q0 & 0x10u) >> 4) << j;
        qh |= ((q1 & 0x10u) >> 4) << (j + WSP__QK / 2);
    }
    put_u32(y + 4, qh);
}

/* q8_0: d = amax/127, q = roundf(x/d) (half away from zero).  ref: quantize_row_q8_0_ref. */
static void block_q8_0(const float *x, uint8_t *y)
{
    float amax = 0.0f;
    for (int j = 0; j < WSP__QK; j++) {
        const float a = fabsf(x[j]);
        amax = amax > a ? amax : a;
    }
    const float d = amax / ((1 << 7) - 1);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    put_f16(y, d);
    for (int j = 0; j < WSP__QK; j++) {
        const int8_t q = (int8_t)roundf(x[j] * id);
        memcpy(y + 2 + j, &q, 1);
    }
}

size_t wsp__qblock_bytes(wsp_qtype type)
{
    switch (type) {
    case WSP_Q4_0: return 2 + WSP__QK / 2;
    case WSP_Q4_1: return 4 + WSP__QK / 2;
    case WSP_Q5_0: return 6 + WSP__QK / 2;
    case WSP_Q5_1: return 8 + WSP__QK / 2;
    case WSP_Q8_0: return 2 + WSP__QK;
    }
    return 0;
}

size_t wsp__quantize_row(wsp_qtype type, const float *x, void *dst, int64_t k)
{
    const size_t bb = wsp__qblock_bytes(type);
    if (bb == 0 || k < 0 || k % WSP__QK != 0)
        return 0;
    void (*block)(const float *, uint8_t *) = NULL;
    switch (type) {
    case WSP_Q4_0: block = block_q4_0; break;
    case WSP_Q4_1: block = block_q4_1; break;
    case WSP_Q5_0: block = block_q5_0; break;
    case WSP_Q5_1: block = block_q5_1; break;
    case WSP_Q8_0: block = block_q8_0; break;
    }
    uint8_t *y = dst;
    const int64_t nb = k / WSP__QK;
    for (int64_t i = 0; i < nb; i++)
        block(x + i * WSP__QK, y + (size_t)i * bb);
    return (size_t)nb * bb;
}
