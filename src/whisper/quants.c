/* quants.c — type facts, and the scalar (any x86-64) kernels of the quantized types:
 * dequantize a row, quantize an activation row to q8_0 / q8_1, dot products of a weight
 * row with a quantized activation row.  See quants.h (layouts) and kernels.h (traits).
 *
 * Arithmetic contract (quants_avx2.c and quants_avx512.c compute exactly the same numbers;
 * test_whisper_quants checks it bit for bit):
 *  - activations: per block of 32, amax = max |x|, d = amax / 127 (stored as f16),
 *    id = 127 / amax (0 if amax = 0), q = round-half-even(x · id); for q8_1 also
 *    s = f16(d · Σq) with the f32 d.  This is ggml's AVX2 quantize_row_q8_0/q8_1 (not
 *    its scalar *_ref, which uses 1/d and roundf), the path whisper.cpp runs on this
 *    host — README-round2 §4.
 *  - dots: per block, 8 integer partial sums of 4 consecutive products (what AVX2's
 *    maddubs + madd yield); lane l accumulates fma(d_w·d_x, (float)part_l, acc_l) over
 *    the blocks; the 8 lanes are summed as ggml's hsum_float_8 does; q4_1/q5_1 add
 *    Σ m_w·s_x, summed separately.  ref: ggml-cpu/arch/x86/quants.c ggml_vec_dot_q*_q8_*.
 */
#include "whisper/kernels.h"
#include "whisper/quants.h"

#include <math.h>
#include <string.h>

static const char *const g_names[] = {
    "f32",  "f16",  "q4_0", "q4_1", "q4_2",  "q4_3",  "q5_0", "q5_1", "q8_0",
    "q8_1", "q2_K", "q3_K", "q4_K", "q5_K",  "q6_K",  "q8_K", "iq2_xxs", "iq2_xs",
    "iq3_xxs", "iq1_s", "iq4_nl", "iq3_s", "iq2_s", "iq4_xs", "i8", "i16", "i32",
    "i64", "f64", "iq1_m", "bf16", NULL, NULL, NULL, "tq1_0", "tq2_0", NULL, NULL, NULL,
    "mxfp4",
};

const char *wsp__type_name(int code)
{
    if (code < 0 || code >= (int)(sizeof g_names / sizeof g_names[0]))
        return NULL;
    return g_names[code];
}

static const wsp__type_info g_info[WSP__N_TYPES] = {
    [WSP__T_F32] = {"f32", 1, 4, 1},
    [WSP__T_F16] = {"f16", 1, 2, 1},
    [WSP__T_Q4_0] = {"q4_0", WSP__QK, sizeof(wsp__block_q4_0), 1},
    [WSP__T_Q4_1] = {"q4_1", WSP__QK, sizeof(wsp__block_q4_1), 1},
    [WSP__T_Q5_0] = {"q5_0", WSP__QK, sizeof(wsp__block_q5_0), 1},
    [WSP__T_Q5_1] = {"q5_1", WSP__QK, sizeof(wsp__block_q5_1), 1},
    [WSP__T_Q8_0] = {"q8_0", WSP__QK, sizeof(wsp__block_q8_0), 1},
    [WSP__T_Q8_1] = {"q8_1", WSP__QK, sizeof(wsp__block_q8_1), 0},
};

const wsp__type_info *wsp__type_info_of(int code)
{
    if (code < 0 || code >= WSP__N_TYPES || !g_info[code].name)
        return NULL;
    return &g_info[code];
}

/* ---- dequantization (ggml dequantize_row_*; products in f32, no fma) ---------------- */

static inline float h2f(wsp__half h) { return wsp__f16_to_f32(h); }

/* The 5-bit code of element j: low nibble (byte j%16, low for j < 16) + bit j of qh. */
static inline int q4_at(const uint8_t *qs, int j) { return j < 16 ? qs[j] & 15 : qs[j - 16] >> 4; }
static inline int qh_at(const uint8_t *qh, int j)
{
    uint32_t h;
    memcpy(&h, qh, 4);
    return (int)((h >> j) & 1u);
}

void wsp__deq_q4_0(const void *src, float *dst, int n)
{
    const wsp__block_q4_0 *b = src; /* blocks are packed (alignment 2); the mapping keeps it */
    for (int i = 0; i < n / WSP__QK; i++) {
        wsp__block_q4_0 blk;
        memcpy(&blk, (const uint8_t *)b + (size_t)i * sizeof blk, sizeof blk);
        const float d = h2f(blk.d);
        for (int j = 0; j < WSP__QK; j++)
            dst[i * WSP__QK + j] = (float)(q4_at(blk.qs, j) - 8) * d;
    }
}

void wsp__deq_q4_1(const void *src, float *dst, int n)
{
    for (int i = 0; i < n / WSP__QK; i++) {
        wsp__block_q4_1 blk;
        memcpy(&blk, (const uint8_t *)src + (size_t)i * sizeof blk, sizeof blk);
        const float d = h2f(blk.d), m = h2f(blk.m);
        for (int j = 0; j < WSP__QK; j++) {
            const float p = (float)q4_at(blk.qs, j) * d;
            dst[i * WSP__QK + j] = p + m;
        }
    }
}

void wsp__deq_q5_0(const void *src, float *dst, int n)
{
    for (int i = 0; i < n / WSP__QK; i++) {
        wsp__block_q5_0 blk;
        memcpy(&blk, (const uint8_t *)src + (size_t)i * sizeof blk, sizeof blk);
        const float d = h2f(blk.d);
        for (int j = 0; j < WSP__QK; j++)
            dst[i * WSP__QK + j] = (float)((q4_at(blk.qs, j) | qh_at(blk.qh, j) << 4) - 16) * d;
    }
}

void wsp__deq_q5_1(const void *src, float *dst, int n)
{
    for (int i = 0; i < n / WSP__QK; i++) {
        wsp__block_q5_1 blk;
        memcpy(&blk, (const uint8_t *)src + (size_t)i * sizeof blk, sizeof blk);
        const float d = h2f(blk.d), m = h2f(blk.m);
        for (int j = 0; j < WSP__QK; j++) {
            const float p = (float)(q4_at(blk.qs, j) | qh_at(blk.qh, j) << 4) * d;
            dst[i * WSP__QK + j] = p + m;
        }
    }
}

void wsp__deq_q8_0(const void *src, float *dst, int n)
{
    for (int i = 0; i < n / WSP__QK; i++) {
        wsp__block_q8_0 blk;
        memcpy(&blk, (const uint8_t *)src + (size_t)i * sizeof blk, sizeof blk);
        const float d = h2f(blk.d);
        for (int j = 0; j < WSP__QK; j++)
            dst[i * WSP__QK + j] = (float)blk.qs[j] * d;
    }
}

void wsp__deq_q8_1(const void *src, float *dst, int n)
{
    const wsp__block_q8_1 *b = src; /* activation buffers are ours: aligned */
    for (int i = 0; i < n / WSP__QK; i++) {
        const float d = h2f(b[i].d);
        for (int j = 0; j < WSP__QK; j++)
            dst[i * WSP__QK + j] = (float)b[i].qs[j] * d;
    }
}

/* ---- activation quantizers (ggml's AVX2 arithmetic, see the top comment) ------------- */

static float block_amax(const float *x)
{
    float amax = 0.0f;
    for (int j = 0; j < WSP__QK; j++) {
        const float a = fabsf(x[j]);
        amax = a > amax ? a : amax;
    }
    return amax;
}

/* round half to even (the default rounding mode) to int8; NaN or out of range (only
 * from non-finite activations) → −128, what AVX2's cvtps_epi32 + packs give. */
static inline int8_t code(float v)
{
    const float r = nearbyintf(v);
    return r >= -128.0f && r <= 127.0f ? (int8_t)r : (int8_t)-128;
}

void wsp__quant_q8_0(const float *x, void *dst, int n)
{
    wsp__block_q8_0 *y = dst;
    for (int i = 0; i < n / WSP__QK; i++, x += WSP__QK) {
        const float amax = block_amax(x);
        const float d = amax / 127.0f;
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        y[i].d = wsp__f32_to_f16(d);
        for (int j = 0; j < WSP__QK; j++)
            y[i].qs[j] = code(x[j] * id);
    }
}

void wsp__quant_q8_1(const float *x, void *dst, int n)
{
    wsp__block_q8_1 *y = dst;
    for (int i = 0; i < n / WSP__QK; i++, x += WSP__QK) {
        const float amax = block_amax(x);
        const float d = amax / 127.0f;
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        int sum = 0;
        y[i].d = wsp__f32_to_f16(d);
        for (int j = 0; j < WSP__QK; j++) {
            y[i].qs[j] = code(x[j] * id);
            sum += y[i].qs[j];
        }
        y[i].s = wsp__f32_to_f16(d * (float)sum);
    }
}

/* ---- dot products ------------------------------------------------------------------- */

/* hsum_float_8's order: (a[l] + a[l+4]), then pairs (0+2, 1+3), then the two. */
float wsp__hsum8(const float a[8])
{
    const float r0 = a[4] + a[0], r1 = a[5] + a[1], r2 = a[6] + a[2], r3 = a[7] + a[3];
    return (r0 + r2) + (r1 + r3);
}

/* Accumulates one block: acc[l] = fma(d, Σ_{j=4l..4l+3} w[j]·x[j], acc[l]). */
static inline void acc_block(float acc[8], const int8_t w[32], const int8_t *x, float d)
{
    for (int l = 0; l < 8; l++) {
        int s = 0;
        for (int j = 4 * l; j < 4 * l + 4; j++)
            s += (int)w[j] * (int)x[j];
        acc[l] = fmaf(d, (float)s, acc[l]);
    }
}

static float dot_q4_0(const void *w, const void *x, int n)
{
    const wsp__block_q8_0 *y = x;
    float acc[8] = {0};
    for (int i = 0; i < n / WSP__QK; i++) {
        wsp__block_q4_0 b;
        memcpy(&b, (const uint8_t *)w + (size_t)i * sizeof b, sizeof b);
        int8_t q[32];
        for (int j = 0; j < 32; j++)
            q[j] = (int8_t)(q4_at(b.qs, j) - 8);
        acc_block(acc, q, y[i].qs, h2f(b.d) * h2f(y[i].d));
    }
    return wsp__hsum8(acc);
}

static float dot_q5_0(const void *w, const void *x, int n)
{
    const wsp__block_q8_0 *y = x;
    float acc[8] = {0};
    for (int i = 0; i < n / WSP__QK; i++) {
        wsp__block_q5_0 b;
        memcpy(&b, (const uint8_t *)w + (size_t)i * sizeof b, sizeof b);
        int8_t q[32];
        for (int j = 0; j < 32; j++)
            q[j] = (int8_t)((q4_at(b.qs, j) | qh_at(b.qh, j) << 4) - 16);
        acc_block(acc, q, y[i].qs, h2f(b.d) * h2f(y[i].d));
    }
    return wsp__hsum8(acc);
}

static float dot_q8_0(const void *w, const void *x, int n)
{
    const wsp__block_q8_0 *y = x;
    float acc[8] = {0};
    for (int i = 0; i < n / WSP__QK; i++) {
        wsp__block_q8_0 b;
        memcpy(&b, (const uint8_t *)w + (size_t)i * sizeof b, sizeof b);
        acc_block(acc, b.qs, y[i].qs, h2f(b.d) * h2f(y[i].d));
    }
    return wsp__hsum8(acc);
}

static float dot_q4_1(const void *w, const void *x, int n)
{
    const wsp__block_q8_1 *y = x;
    float acc[8] = {0}, summs = 0.0f;
    for (int i = 0; i < n / WSP__QK; i++) {
        wsp__block_q4_1 b;
        memcpy(&b, (const uint8_t *)w + (size_t)i * sizeof b, sizeof b);
        int8_t q[32];
        for (int j = 0; j < 32; j++)
            q[j] = (int8_t)q4_at(b.qs, j);
        const float ms = h2f(b.m) * h2f(y[i].s);
        summs += ms;
        acc_block(acc, q, y[i].qs, h2f(b.d) * h2f(y[i].d));
    }
    return wsp__hsum8(acc) + summs;
}

static float dot_q5_1(const void *w, const void *x, int n)
{
    const wsp__block_q8_1 *y = x;
    float acc[8] = {0}, summs = 0.0f;
    for (int i = 0; i < n / WSP__QK; i++) {
        wsp__block_q5_1 b;
        memcpy(&b, (const uint8_t *)w + (size_t)i * sizeof b, sizeof b);
        int8_t q[32];
        for (int j = 0; j < 32; j++)
            q[j] = (int8_t)(q4_at(b.qs, j) | qh_at(b.qh, j) << 4);
        const float ms = h2f(b.m) * h2f(y[i].s);
        summs += ms;
        acc_block(acc, q, y[i].qs, h2f(b.d) * h2f(y[i].d));
    }
    return wsp__hsum8(acc) + summs;
}

void wsp__matvec_by_rows(float (*dot)(const void *, const void *, int), const void *w,
                         size_t row_bytes, int nrows, const void *x, size_t ldx, int n_x, int n,
                         float *Y, int ldy)
{
    for (int r = 0; r < nrows; r++) {
        const uint8_t *wr = (const uint8_t *)w + (size_t)r * row_bytes;
        for (int i = 0; i < n_x; i++)
            Y[(size_t)i * (size_t)ldy + r] = dot(wr, (const uint8_t *)x + (size_t)i * ldx, n);
    }
}

WSP__MATVEC_OF(dot_q4_0)
WSP__MATVEC_OF(dot_q4_1)
WSP__MATVEC_OF(dot_q5_0)
WSP__MATVEC_OF(dot_q5_1)
WSP__MATVEC_OF(dot_q8_0)

const wsp__type_traits wsp__types_scalar[WSP__N_TYPES] = {
    [WSP__T_F32] = {WSP__T_F32, wsp__row_f32, NULL, wsp__vdot_f32_scalar, wsp__matvec_f32_scalar},
    [WSP__T_F16] = {WSP__T_F32, wsp__row_f16_scalar, NULL, wsp__vdot_f16_scalar,
                    wsp__matvec_f16_scalar},
    [WSP__T_Q4_0] = {WSP__T_Q8_0, wsp__deq_q4_0, NULL, dot_q4_0, matvec_dot_q4_0},
    [WSP__T_Q4_1] = {WSP__T_Q8_1, wsp__deq_q4_1, NULL, dot_q4_1, matvec_dot_q4_1},
    [WSP__T_Q5_0] = {WSP__T_Q8_0, wsp__deq_q5_0, NULL, dot_q5_0, matvec_dot_q5_0},
    [WSP__T_Q5_1] = {WSP__T_Q8_1, wsp__deq_q5_1, NULL, dot_q5_1, matvec_dot_q5_1},
    [WSP__T_Q8_0] = {WSP__T_Q8_0, wsp__deq_q8_0, wsp__quant_q8_0, dot_q8_0, matvec_dot_q8_0},
    [WSP__T_Q8_1] = {WSP__T_Q8_1, wsp__deq_q8_1, wsp__quant_q8_1, NULL, NULL},
};
