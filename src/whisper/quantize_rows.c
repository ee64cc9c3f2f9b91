/*
 * quantize_rows.c — ggml's reference block quantizers, written from the formulas of
 * ggml-quants.c quantize_row_*_ref (see quantize.h for the layouts).
 *
 * These decide the bytes of every quantized model file, so they follow the reference
 * operation by operation: the same float32 expressions in the same order (never fused
 * into FMAs, see the pragma below), the same
 * first-maximum-wins scan for the signed absolute maximum, truncating float → int
 * conversions after adding the rounding offset (8.5, 16.5, 0.5) and roundf() for q8_0.
 * ref: ggml/src/ggml-quants.c (whisper.cpp 233fe1fc9); README-round2.md §4.
 */
#include "whisper/quantize.h"
#include "whisper/kernels.h" /* wsp__f32_to_f16: round to nearest even, as GGML_FP32_TO_FP16 */

#include <float.h>
#include <math.h>
#include <string.h>

/* x·id + 0.5 must round twice, as the reference does on x86-64: no fused multiply-add.
 * -std=c11 already means -ffp-contract=off to GCC; this keeps it so if a build switches
 * to gnu11 (contraction on, across statements) with -march=native. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

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

/* Symmetric codes (q4_0, q5_0): d = max / −half where max is the signed absolute maximum,
 * q = min(maxq, trunc(x/d + half + 0.5)) — the float → int8 conversion of the reference
 * (values stay in 0 … maxq + 1, so the int8 range is never left).  Returns d. */
static float codes_symmetric(const float *x, int half, uint8_t *q)
{
    const float d = signed_absmax(x) / (float)-half;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    const float off = (float)half + 0.5f; /* 8.5f, 16.5f */
    for (int j = 0; j < WSP__QK; j++)
        q[j] = (uint8_t)min_int(2 * half - 1, (int8_t)(x[j] * id + off));
    return d;
}

/* Affine codes (q4_1, q5_1): d = (max − min)/nmax, m = min, q = trunc((x − min)/d + 0.5),
 * clamped to nmax for q4_1 only (q5_1's reference has no clamp: clamp_q = 0).  Returns d. */
static float codes_affine(const float *x, int nmax, int clamp_q, uint8_t *q, float *m)
{
    float mn, mx;
    min_max(x, &mn, &mx);
    const float d = (mx - mn) / (float)nmax;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int j = 0; j < WSP__QK; j++) {
        const float v = (x[j] - mn) * id + 0.5f;
        q[j] = clamp_q ? (uint8_t)min_int(nmax, (int8_t)v) : (uint8_t)v;
    }
    *m = mn;
    return d;
}

/* Nibble byte j = low 4 bits of q[j] | low 4 bits of q[j + 16] << 4; with qh, bit 4 of
 * q[j] goes to bit j of the high-bit word (little-endian). */
static void pack_codes(const uint8_t *q, uint8_t *qs, uint8_t *qh)
{
    uint32_t h = 0;
    for (int j = 0; j < WSP__QK / 2; j++) {
        qs[j] = (uint8_t)((q[j] & 0x0f) | ((q[j + WSP__QK / 2] & 0x0f) << 4));
        h |= ((q[j] & 0x10u) >> 4) << j;
        h |= ((q[j + WSP__QK / 2] & 0x10u) >> 4) << (j + WSP__QK / 2);
    }
    if (qh)
        put_u32(qh, h);
}

/* q4_0 [d][16 nibbles]: d = max / −8, q = min(15, trunc(x/d + 8.5)).  ref: quantize_row_q4_0_ref. */
static void block_q4_0(const float *x, uint8_t *y)
{
    uint8_t q[WSP__QK];
    put_f16(y, codes_symmetric(x, 8, q));
    pack_codes(q, y + 2, NULL);
}

/* q4_1 [d][m][16 nibbles]: d = (max − min)/15, q = min(15, trunc((x − min)/d + 0.5)).
 * ref: quantize_row_q4_1_ref. */
static void block_q4_1(const float *x, uint8_t *y)
{
    uint8_t q[WSP__QK];
    float m;
    put_f16(y, codes_affine(x, 15, 1, q, &m));
    put_f16(y + 2, m);
    pack_codes(q, y + 4, NULL);
}

/* q5_0 [d][qh][16 nibbles]: d = max / −16, q = min(31, trunc(x/d + 16.5)).
 * ref: quantize_row_q5_0_ref. */
static void block_q5_0(const float *x, uint8_t *y)
{
    uint8_t q[WSP__QK];
    put_f16(y, codes_symmetric(x, 16, q));
    pack_codes(q, y + 6, y + 2);
}

/* q5_1 [d][m][qh][16 nibbles]: d = (max − min)/31, q = trunc((x − min)/d + 0.5).
 * ref: quantize_row_q5_1_ref. */
static void block_q5_1(const float *x, uint8_t *y)
{
    uint8_t q[WSP__QK];
    float m;
    put_f16(y, codes_affine(x, 31, 0, q, &m));
    put_f16(y + 2, m);
    pack_codes(q, y + 8, y + 4);
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
    switch (type) { /* quants.h's structs (their sizes are asserted there) */
    case WSP_Q4_0: return sizeof(wsp__block_q4_0);
    case WSP_Q4_1: return sizeof(wsp__block_q4_1);
    case WSP_Q5_0: return sizeof(wsp__block_q5_0);
    case WSP_Q5_1: return sizeof(wsp__block_q5_1);
    case WSP_Q8_0: return sizeof(wsp__block_q8_0);
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
