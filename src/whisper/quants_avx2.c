/* quants_avx2.c — AVX2 kernels of the quantized types (compiled with -mavx2 -mfma -mf16c,
 * reached only through wsp__kern() after the CPU checks), and the AVX2 per-type table.
 * Same numbers as the scalar kernels of quants.c, bit for bit (its header comment states
 * the arithmetic): integer block dots with maddubs/madd, fma of the lane sums with the
 * product of the two block scales, ggml's lane order.  Dequantization uses the scalar
 * code (it runs once per weight row per matrix product, off the hot path).
 * The activation quantizers are also the AVX-512 table's (quants_avx512.c).
 * ref: ggml-cpu/arch/x86/quants.c (quantize_row_q8_0/q8_1, ggml_vec_dot_q*_q8_*). */
#include "whisper/kernels.h"
#include "whisper/quants.h"

#include <immintrin.h>
#include <string.h>

void wsp__avx2_row_f16(const void *src, float *dst, int n);
float wsp__avx2_vdot_f16(const void *w, const void *x, int n);
float wsp__avx2_vdot_f32(const void *w, const void *x, int n);
void wsp__avx2_matvec_f16(const void *w, size_t row_bytes, int nrows, const void *x, size_t ldx,
                          int n_x, int n, float *Y, int ldy);
void wsp__avx2_matvec_f32(const void *w, size_t row_bytes, int nrows, const void *x, size_t ldx,
                          int n_x, int n, float *Y, int ldy);

static inline float h2f(const void *p)
{
    wsp__half h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

static inline float hsum8(__m256 v)
{
    __m128 r = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

/* ---- activation quantizers ---------------------------------------------------------- */

#define RND (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC) /* half to even */

/* One block of 32: codes into q (32 int8, order kept); returns amax; *sum = Σ codes. */
static inline float quant_block(const float *x, int8_t *q, int *sum)
{
    __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
    __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1));
    m = _mm256_max_ps(m, _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
    __m128 m4 = _mm_max_ps(_mm256_extractf128_ps(m, 1), _mm256_castps256_ps128(m));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float amax = _mm_cvtss_f32(m4);
    const __m256 id = _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
    __m256i i0 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v0, id), RND));
    __m256i i1 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v1, id), RND));
    __m256i i2 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v2, id), RND));
    __m256i i3 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v3, id), RND));
    if (sum) {
        __m256i s = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
        __m128i s4 = _mm_add_epi32(_mm256_extracti128_si256(s, 1), _mm256_castsi256_si128(s));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(1, 0, 3, 2)));
        s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, _MM_SHUFFLE(2, 3, 0, 1)));
        *sum = _mm_cvtsi128_si32(s4);
    }
    /* packs work per 128-bit lane: fix the order with a dword permutation */
    i0 = _mm256_packs_epi32(i0, i1);
    i2 = _mm256_packs_epi32(i2, i3);
    i0 = _mm256_packs_epi16(i0, i2);
    i0 = _mm256_permutevar8x32_epi32(i0, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)q, i0);
    return amax;
}

void wsp__avx2_quant_q8_0(const float *x, void *dst, int n)
{
    wsp__block_q8_0 *y = dst;
    for (int i = 0; i < n / WSP__QK; i++) {
        const float amax = quant_block(x + (size_t)i * WSP__QK, y[i].qs, NULL);
        y[i].d = wsp__f32_to_f16(amax / 127.0f);
    }
}

void wsp__avx2_quant_q8_1(const float *x, void *dst, int n)
{
    wsp__block_q8_1 *y = dst;
    for (int i = 0; i < n / WSP__QK; i++) {
        int sum;
        const float amax = quant_block(x + (size_t)i * WSP__QK, y[i].qs, &sum);
        const float d = amax / 127.0f;
        y[i].d = wsp__f32_to_f16(d);
        y[i].s = wsp__f32_to_f16(d * (float)sum);
    }
}

/* ---- block helpers -------------------------------------------------------------------- */

/* 32 nibbles → 32 bytes in [0, 15]: low nibbles are elements 0…15, high ones 16…31. */
static inline __m256i nibbles32(const uint8_t *qs)
{
    const __m128i t = _mm_loadu_si128((const __m128i *)qs);
    const __m256i b = _mm256_set_m128i(_mm_srli_epi16(t, 4), t);
    return _mm256_and_si256(b, _mm256_set1_epi8(0x0f));
}

/* Bit j of the 32-bit qh → byte j = 0xff if set, 0 otherwise. */
static inline __m256i bits32(const uint8_t *qh)
{
    uint32_t h;
    memcpy(&h, qh, 4);
    const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                          2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)h), shuf);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    return _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
}

/* Signed × signed bytes (|x| <= 128, y > −128): 8 lanes of 4-product sums, as floats. */
static inline __m256 dot_ss(__m256i x, __m256i y)
{
    const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

/* Unsigned (<= 31) × signed bytes. */
static inline __m256 dot_us(__m256i ux, __m256i y)
{
    const __m256i p = _mm256_maddubs_epi16(ux, y);
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

/* ---- dots ----------------------------------------------------------------------------- */

static float dot_q4_0(const void *w, const void *x, int n)
{
    const uint8_t *b = w;
    const wsp__block_q8_0 *y = x;
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n / WSP__QK; i++, b += sizeof(wsp__block_q4_0)) {
        const __m256 d = _mm256_set1_ps(h2f(b) * h2f(&y[i].d));
        const __m256i q = _mm256_sub_epi8(nibbles32(b + 2), _mm256_set1_epi8(8));
        acc = _mm256_fmadd_ps(d, dot_ss(q, _mm256_loadu_si256((const __m256i *)y[i].qs)), acc);
    }
    return hsum8(acc);
}

static float dot_q5_0(const void *w, const void *x, int n)
{
    const uint8_t *b = w;
    const wsp__block_q8_0 *y = x;
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n / WSP__QK; i++, b += sizeof(wsp__block_q5_0)) {
        const __m256 d = _mm256_set1_ps(h2f(b) * h2f(&y[i].d));
        /* (q | h << 4) − 16 = q − 16 when h = 0 (q | 0xf0 as int8), q when h = 1 */
        const __m256i hi = _mm256_andnot_si256(bits32(b + 2), _mm256_set1_epi8((char)0xf0));
        const __m256i q = _mm256_or_si256(nibbles32(b + 6), hi);
        acc = _mm256_fmadd_ps(d, dot_ss(q, _mm256_loadu_si256((const __m256i *)y[i].qs)), acc);
    }
    return hsum8(acc);
}

static float dot_q8_0(const void *w, const void *x, int n)
{
    const uint8_t *b = w;
    const wsp__block_q8_0 *y = x;
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < n / WSP__QK; i++, b += sizeof(wsp__block_q8_0)) {
        const __m256 d = _mm256_set1_ps(h2f(b) * h2f(&y[i].d));
        const __m256i q = _mm256_loadu_si256((const __m256i *)(b + 2));
        acc = _mm256_fmadd_ps(d, dot_ss(q, _mm256_loadu_si256((const __m256i *)y[i].qs)), acc);
    }
    return hsum8(acc);
}

static float dot_q4_1(const void *w, const void *x, int n)
{
    const uint8_t *b = w;
    const wsp__block_q8_1 *y = x;
    __m256 acc = _mm256_setzero_ps();
    float summs = 0.0f;
    for (int i = 0; i < n / WSP__QK; i++, b += sizeof(wsp__block_q4_1)) {
        const float ms = h2f(b + 2) * h2f(&y[i].s);
        summs += ms;
        const __m256 d = _mm256_set1_ps(h2f(b) * h2f(&y[i].d));
        acc = _mm256_fmadd_ps(d, dot_us(nibbles32(b + 4), _mm256_loadu_si256((const __m256i *)y[i].qs)), acc);
    }
    return hsum8(acc) + summs;
}

static float dot_q5_1(const void *w, const void *x, int n)
{
    const uint8_t *b = w;
    const wsp__block_q8_1 *y = x;
    __m256 acc = _mm256_setzero_ps();
    float summs = 0.0f;
    for (int i = 0; i < n / WSP__QK; i++, b += sizeof(wsp__block_q5_1)) {
        const float ms = h2f(b + 2) * h2f(&y[i].s);
        summs += ms;
        const __m256 d = _mm256_set1_ps(h2f(b) * h2f(&y[i].d));
        const __m256i hi = _mm256_and_si256(bits32(b + 4), _mm256_set1_epi8(0x10));
        const __m256i q = _mm256_or_si256(nibbles32(b + 8), hi);
        acc = _mm256_fmadd_ps(d, dot_us(q, _mm256_loadu_si256((const __m256i *)y[i].qs)), acc);
    }
    return hsum8(acc) + summs;
}

/* ---- multi-row matvec ----------------------------------------------------------------
 * 4 weight rows × up to 2 activation rows per pass: each weight block is loaded and
 * unpacked once for both activations, the 4 rows' f16 scales are converted with one
 * vcvtph2ps, the activation codes and scales once per block for the 4 rows, and each
 * (row, activation) keeps one 8-lane accumulator summed once at the end — the same
 * numbers as the single-row dots above (same lane partials, same order), fewer
 * instructions.  Rows 4 groups ahead are prefetched. */

#define ALWAYS_INLINE inline __attribute__((always_inline))
#define PF_GROUPS 4

typedef struct qlay {
    int bs, qoff, hoff, k, has_m, xs, xoff; /* as quants_avx512.c */
} qlay;
static const qlay L_Q4_0 = {18, 2, -1, 8, 0, 34, 2};
static const qlay L_Q4_1 = {20, 4, -1, 0, 1, 36, 4};
static const qlay L_Q5_0 = {22, 6, 2, 16, 0, 34, 2};
static const qlay L_Q5_1 = {24, 8, 4, 0, 1, 36, 4};
static const qlay L_Q8_0 = {34, 2, -1, 128, 0, 34, 2};

static ALWAYS_INLINE uint32_t ld32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The signed codes (q8_0) or unsigned codes (others) of one block. */
static ALWAYS_INLINE __m256i codes(const qlay L, const uint8_t *b)
{
    if (L.bs == 34)
        return _mm256_loadu_si256((const __m256i *)(b + L.qoff));
    __m256i q = nibbles32(b + L.qoff);
    if (L.hoff >= 0)
        q = _mm256_or_si256(q, _mm256_and_si256(bits32(b + L.hoff), _mm256_set1_epi8(0x10)));
    return q;
}

/* 8 lanes of 4-product sums Σ w·x of one block: q8_0 by the sign trick (dot_ss), the
 * nibble types as unsigned codes (dot_us's integers) minus K·Σx (corr, per activation). */
static ALWAYS_INLINE __m256i lanes(const qlay L, __m256i w, __m256i x, __m256i corr)
{
    if (L.bs == 34)
        return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w)),
                                 _mm256_set1_epi16(1));
    const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), _mm256_set1_epi16(1));
    return L.k ? _mm256_sub_epi32(p, corr) : p;
}

static ALWAYS_INLINE void group(const qlay L, const int NX, const uint8_t *const r[4],
                                const uint8_t *pf, size_t rb, int nb, const uint8_t *x,
                                size_t ldx, float out[2][4])
{
    __m256 acc[4][2];
    __m128 summ[2];
    #pragma GCC unroll 4
    for (int i = 0; i < NX; i++) {
        #pragma GCC unroll 4
        for (int k = 0; k < 4; k++)
            acc[k][i] = _mm256_setzero_ps();
        summ[i] = _mm_setzero_ps();
    }
    for (int b = 0; b < nb; b++) {
        const size_t o = (size_t)b * (size_t)L.bs;
        /* every block (< 64 bytes): a row's blocks straddle lines, and a line left to the
         * hardware prefetcher costs (every other block: 1.9 vs 1.2 ms for the base-dims
         * logits on one thread) */
        #pragma GCC unroll 4
        for (int k = 0; k < 4; k++)
            _mm_prefetch((const char *)pf + (size_t)k * rb + o, _MM_HINT_T0);
        /* [d0, m0, d1, m1, d2, m2, d3, m3] */
        const __m256 dm = _mm256_cvtph_ps(_mm_setr_epi32((int)ld32(r[0] + o), (int)ld32(r[1] + o),
                                                         (int)ld32(r[2] + o), (int)ld32(r[3] + o)));
        __m128 mv = _mm_setzero_ps();
        if (L.has_m)
            mv = _mm256_castps256_ps128(_mm256_permutevar8x32_ps(dm, _mm256_setr_epi32(1, 3, 5, 7, 1, 3, 5, 7)));
        __m256i xv[2], corr[2];
        __m256 dx[2];
        #pragma GCC unroll 4
        for (int i = 0; i < NX; i++) {
            const uint8_t *xb = x + (size_t)i * ldx + (size_t)b * (size_t)L.xs;
            xv[i] = _mm256_loadu_si256((const __m256i *)(xb + L.xoff));
            corr[i] = _mm256_setzero_si256();
            if (L.k && L.bs != 34) /* K·Σ of each lane's 4 activation codes */
                corr[i] = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8((char)L.k), xv[i]),
                                            _mm256_set1_epi16(1));
            dx[i] = _mm256_set1_ps(h2f(xb));
            if (L.has_m)
                summ[i] = _mm_add_ps(summ[i], _mm_mul_ps(mv, _mm_set1_ps(h2f(xb + 2))));
        }
        #pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            const __m256i w = codes(L, r[k] + o);
            const __m256 dk = _mm256_permutevar8x32_ps(dm, _mm256_set1_epi32(2 * k));
            #pragma GCC unroll 4
            for (int i = 0; i < NX; i++)
                acc[k][i] = _mm256_fmadd_ps(_mm256_mul_ps(dk, dx[i]),
                                            _mm256_cvtepi32_ps(lanes(L, w, xv[i], corr[i])), acc[k][i]);
        }
    }
    #pragma GCC unroll 4
    for (int i = 0; i < NX; i++) {
        float m[4];
        _mm_storeu_ps(m, summ[i]);
        #pragma GCC unroll 4
        for (int k = 0; k < 4; k++)
            out[i][k] = L.has_m ? hsum8(acc[k][i]) + m[k] : hsum8(acc[k][i]);
    }
}

static ALWAYS_INLINE void matvec_q(const qlay L, const void *w, size_t rb, int nrows,
                                   const void *x, size_t ldx, int n_x, int n, float *Y, int ldy)
{
    const uint8_t *base = w;
    const int nb = n / WSP__QK;
    for (int r0 = 0; r0 < nrows; r0 += 4) {
        const int nr = nrows - r0 < 4 ? nrows - r0 : 4;
        const uint8_t *r[4];
        for (int k = 0; k < 4; k++) /* a short last group repeats its last row */
            r[k] = base + (size_t)(r0 + (k < nr ? k : nr - 1)) * rb;
        const uint8_t *pf = base + (size_t)(r0 + 4 * PF_GROUPS) * rb; /* never dereferenced */
        for (int i0 = 0; i0 < n_x; i0 += 2) {
            const uint8_t *xi = (const uint8_t *)x + (size_t)i0 * ldx;
            float out[2][4];
            if (n_x - i0 == 1)
                group(L, 1, r, pf, rb, nb, xi, ldx, out);
            else
                group(L, 2, r, pf, rb, nb, xi, ldx, out);
            const int gi = n_x - i0 < 2 ? n_x - i0 : 2;
            for (int i = 0; i < gi; i++)
                for (int k = 0; k < nr; k++)
                    Y[(size_t)(i0 + i) * (size_t)ldy + (size_t)(r0 + k)] = out[i][k];
        }
    }
}

#define QMATVEC(name, lay)                                                                   \
    static void matvec_##name(const void *w, size_t rb, int nr, const void *x, size_t ldx,  \
                              int nx, int n, float *Y, int ldy)                              \
    {                                                                                        \
        matvec_q(lay, w, rb, nr, x, ldx, nx, n, Y, ldy);                                     \
    }
QMATVEC(q4_0, L_Q4_0)
QMATVEC(q4_1, L_Q4_1)
QMATVEC(q5_0, L_Q5_0)
QMATVEC(q5_1, L_Q5_1)
QMATVEC(q8_0, L_Q8_0)

const wsp__type_traits wsp__types_avx2[WSP__N_TYPES] = {
    [WSP__T_F32] = {WSP__T_F32, wsp__row_f32, NULL, wsp__avx2_vdot_f32, wsp__avx2_matvec_f32},
    [WSP__T_F16] = {WSP__T_F32, wsp__avx2_row_f16, NULL, wsp__avx2_vdot_f16, wsp__avx2_matvec_f16},
    [WSP__T_Q4_0] = {WSP__T_Q8_0, wsp__deq_q4_0, NULL, dot_q4_0, matvec_q4_0},
    [WSP__T_Q4_1] = {WSP__T_Q8_1, wsp__deq_q4_1, NULL, dot_q4_1, matvec_q4_1},
    [WSP__T_Q5_0] = {WSP__T_Q8_0, wsp__deq_q5_0, NULL, dot_q5_0, matvec_q5_0},
    [WSP__T_Q5_1] = {WSP__T_Q8_1, wsp__deq_q5_1, NULL, dot_q5_1, matvec_q5_1},
    [WSP__T_Q8_0] = {WSP__T_Q8_0, wsp__deq_q8_0, wsp__avx2_quant_q8_0, dot_q8_0, matvec_q8_0},
    [WSP__T_Q8_1] = {WSP__T_Q8_1, wsp__deq_q8_1, wsp__avx2_quant_q8_1, NULL, NULL},
};
