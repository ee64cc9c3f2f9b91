/* quants_avx512.c — AVX-512 VNNI kernels of the quantized types (compiled with the AVX-512
 * flags incl. -mavx512vnni; reached only through wsp__kern() after the CPU checks: F, BW,
 * VL, DQ and VNNI), and the AVX-512 per-type table.
 *
 * Same numbers as the scalar kernels of quants.c, bit for bit (its header comment states
 * the arithmetic), so as ggml's AVX2 path, which produced the goldens:
 *  - integers: VNNI's vpdpbusd multiplies unsigned by signed bytes and sums each group of
 *    4 products into a 32-bit lane — the same 8 partial sums per block as AVX2's
 *    maddubs + madd.  Weight codes are made unsigned by an offset K (q8_0: w + 128 via
 *    xor 0x80, q4_0: the raw nibble = w + 8, q5_0: the raw 5-bit code = w + 16; q4_1 and
 *    q5_1 codes are unsigned already, K = 0), and the lane is started at −K·Σ(its 4
 *    activation codes), computed once per activation block and shared by every row:
 *    −K·Σx + Σ(w + K)·x = Σ w·x exactly (|Σ| < 2^17, no overflow);
 *  - floats: lane l of row r accumulates fma(d_w·d_x, (float)part_l, acc_l) over the
 *    blocks in order, the 8 lanes are summed in hsum_float_8's order, and q4_1/q5_1 add
 *    Σ m_w·s_x (products rounded, summed in block order).
 * Layout: one zmm holds one block of TWO rows (lanes 0–7 row r, 8–15 row r+1), so each
 * row keeps AVX2's lane order; a pass covers 4 rows (2 zmm) and up to 4 activation rows,
 * loading each weight block once for all of them (beams batched into one call); the f16
 * scales of the 4 rows are converted together with one vcvtph2ps.  Rows 4 groups ahead
 * are prefetched (the product is bound by memory bandwidth at M = 1).
 * ref: ggml-cpu/arch/x86/quants.c (mul_sum_us8_pairs_float with AVX512VNNI/AVXVNNI,
 *      ggml_vec_dot_q*_q8_*); Intel SDM, VPDPBUSD. */
#include "whisper/kernels.h"
#include "whisper/quants.h"

#include <immintrin.h>
#include <string.h>

void wsp__avx512_row_f16(const void *src, float *dst, int n);
float wsp__avx512_vdot_f16(const void *w, const void *x, int n);
float wsp__avx512_vdot_f32(const void *w, const void *x, int n);
void wsp__avx512_matvec_f16(const void *w, size_t row_bytes, int nrows, const void *x, size_t ldx,
                            int n_x, int n, float *Y, int ldy);
void wsp__avx512_matvec_f32(const void *w, size_t row_bytes, int nrows, const void *x, size_t ldx,
                            int n_x, int n, float *Y, int ldy);
void wsp__avx2_quant_q8_0(const float *x, void *dst, int n);
void wsp__avx2_quant_q8_1(const float *x, void *dst, int n);

#define ALWAYS_INLINE inline __attribute__((always_inline))
#define PF_GROUPS 4 /* prefetch distance, in groups of 4 rows */

/* The layout facts of one weight type (compile-time constants after inlining). */
typedef struct qlay {
    int bs;   /* weight block bytes */
    int qoff; /* offset of the codes (q8_0: 32 int8; else 16 bytes of nibbles) */
    int hoff; /* offset of the 32 high bits (q5_*), or −1 */
    int k;    /* code offset K (see the top comment) */
    int has_m;
    int xs, xoff; /* activation block bytes and offset of its codes (q8_0: 34/2, q8_1: 36/4) */
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

static ALWAYS_INLINE float h2f(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

/* Unsigned codes of one block of rows a (lanes 0–31) and b (lanes 32–63). */
static ALWAYS_INLINE __m512i codes2(const qlay L, const uint8_t *a, const uint8_t *b)
{
    if (L.bs == 34) {
        const __m512i w = _mm512_inserti64x4(
            _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(a + L.qoff))),
            _mm256_loadu_si256((const __m256i *)(b + L.qoff)), 1);
        return _mm512_xor_si512(w, _mm512_set1_epi8((char)0x80));
    }
    /* nibbles: [qa, qb] → [qa, qa >> 4, qb, qb >> 4] & 15 (low nibbles are elements
     * 0…15, high ones 16…31) */
    const __m256i ab = _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(a + L.qoff))),
        _mm_loadu_si128((const __m128i *)(b + L.qoff)), 1);
    const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(ab), _mm256_srli_epi16(ab, 4), 1);
    __m512i q = _mm512_and_si512(_mm512_shuffle_i32x4(z, z, _MM_SHUFFLE(3, 1, 2, 0)),
                                 _mm512_set1_epi8(0x0f));
    if (L.hoff >= 0) { /* bit j of qh → bit 4 of element j */
        const __mmask64 hm = (__mmask64)ld32(a + L.hoff) | (__mmask64)ld32(b + L.hoff) << 32;
        q = _mm512_or_si512(q, _mm512_maskz_mov_epi8(hm, _mm512_set1_epi8(0x10)));
    }
    return q;
}

/* 16 lanes → lane 0 of each 8-lane half = hsum_float_8 of that half (ggml's order:
 * (a_l + a_{l+4}), then (r0 + r2) + (r1 + r3)). */
static ALWAYS_INLINE void hsum8x2(__m512 v, float *lo, float *hi)
{
    v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
    v = _mm512_add_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm512_add_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)));
    *lo = _mm512_cvtss_f32(v);
    *hi = _mm512_cvtss_f32(_mm512_castps256_ps512(_mm512_extractf32x8_ps(v, 1)));
}

/* Rows r[0..3] (each nb blocks) against NX activation rows x + i·ldx: out[i][k]. */
static ALWAYS_INLINE void group(const qlay L, const int NX, const uint8_t *const r[4],
                                const uint8_t *pf, size_t rb, int nb, const uint8_t *x, size_t ldx,
                                float out[4][4])
{
    __m512 acc[2][4];
    __m128 summ[4];
    #pragma GCC unroll 4
    for (int i = 0; i < NX; i++) {
        acc[0][i] = acc[1][i] = _mm512_setzero_ps();
        summ[i] = _mm_setzero_ps();
    }
    const __m512i kv = _mm512_set1_epi8((char)L.k);
    const __m512i i0 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2);
    const __m512i i1 = _mm512_setr_epi32(4, 4, 4, 4, 4, 4, 4, 4, 6, 6, 6, 6, 6, 6, 6, 6);
    for (int b = 0; b < nb; b++) {
        const size_t o = (size_t)b * (size_t)L.bs;
        /* every block (< 64 bytes): a row's blocks straddle lines, and a line left to the
         * hardware prefetcher costs (every other block: 1.9 vs 1.2 ms for the base-dims
         * logits on one thread) */
        #pragma GCC unroll 4
        for (int k = 0; k < 4; k++)
            _mm_prefetch((const char *)pf + (size_t)k * rb + o, _MM_HINT_T0);
        /* scales (and mins) of the 4 rows: [d0, m0, d1, m1, …] */
        const __m256 dm = _mm256_cvtph_ps(
            _mm_setr_epi32((int)ld32(r[0] + o), (int)ld32(r[1] + o), (int)ld32(r[2] + o),
                           (int)ld32(r[3] + o)));
        const __m512 dm5 = _mm512_castps256_ps512(dm);
        const __m512 d01 = _mm512_permutexvar_ps(i0, dm5), d23 = _mm512_permutexvar_ps(i1, dm5);
        __m128 mv = _mm_setzero_ps();
        if (L.has_m)
            mv = _mm256_castps256_ps128(_mm256_permutevar8x32_ps(dm, _mm256_setr_epi32(1, 3, 5, 7, 1, 3, 5, 7)));
        const __m512i w01 = codes2(L, r[0] + o, r[1] + o);
        const __m512i w23 = codes2(L, r[2] + o, r[3] + o);
        #pragma GCC unroll 4
        for (int i = 0; i < NX; i++) {
            const uint8_t *xb = x + (size_t)i * ldx + (size_t)b * (size_t)L.xs;
            const __m512i xv = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(xb + L.xoff)));
            __m512i init = _mm512_setzero_si512();
            if (L.k)
                init = _mm512_sub_epi32(init, _mm512_dpbusd_epi32(_mm512_setzero_si512(), kv, xv));
            const __m512 dx = _mm512_set1_ps(h2f(xb));
            const __m512i s01 = _mm512_dpbusd_epi32(init, w01, xv);
            const __m512i s23 = _mm512_dpbusd_epi32(init, w23, xv);
            acc[0][i] = _mm512_fmadd_ps(_mm512_mul_ps(d01, dx), _mm512_cvtepi32_ps(s01), acc[0][i]);
            acc[1][i] = _mm512_fmadd_ps(_mm512_mul_ps(d23, dx), _mm512_cvtepi32_ps(s23), acc[1][i]);
            if (L.has_m)
                summ[i] = _mm_add_ps(summ[i], _mm_mul_ps(mv, _mm_set1_ps(h2f(xb + 2))));
        }
    }
    #pragma GCC unroll 4
    for (int i = 0; i < NX; i++) {
        float s[4], m[4];
        hsum8x2(acc[0][i], &s[0], &s[1]);
        hsum8x2(acc[1][i], &s[2], &s[3]);
        _mm_storeu_ps(m, summ[i]);
        #pragma GCC unroll 4
        for (int k = 0; k < 4; k++)
            out[i][k] = L.has_m ? s[k] + m[k] : s[k];
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
        for (int i0 = 0; i0 < n_x; i0 += 4) {
            const uint8_t *xi = (const uint8_t *)x + (size_t)i0 * ldx;
            float out[4][4];
            switch (n_x - i0) {
            case 1: group(L, 1, r, pf, rb, nb, xi, ldx, out); break;
            case 2: group(L, 2, r, pf, rb, nb, xi, ldx, out); break;
            case 3: group(L, 3, r, pf, rb, nb, xi, ldx, out); break;
            default: group(L, 4, r, pf, rb, nb, xi, ldx, out); break;
            }
            const int gi = n_x - i0 < 4 ? n_x - i0 : 4;
            for (int i = 0; i < gi; i++)
                for (int k = 0; k < nr; k++)
                    Y[(size_t)(i0 + i) * (size_t)ldy + (size_t)(r0 + k)] = out[i][k];
        }
    }
}

#define QTYPE(name, lay)                                                                     \
    static void matvec_##name(const void *w, size_t rb, int nr, const void *x, size_t ldx,  \
                              int nx, int n, float *Y, int ldy)                              \
    {                                                                                        \
        matvec_q(lay, w, rb, nr, x, ldx, nx, n, Y, ldy);                                     \
    }                                                                                        \
    static float dot_##name(const void *w, const void *x, int n)                             \
    {                                                                                        \
        float y;                                                                             \
        matvec_q(lay, w, 0, 1, x, 0, 1, n, &y, 1);                                           \
        return y;                                                                            \
    }
QTYPE(q4_0, L_Q4_0)
QTYPE(q4_1, L_Q4_1)
QTYPE(q5_0, L_Q5_0)
QTYPE(q5_1, L_Q5_1)
QTYPE(q8_0, L_Q8_0)

const wsp__type_traits wsp__types_avx512[WSP__N_TYPES] = {
    [WSP__T_F32] = {WSP__T_F32, wsp__row_f32, NULL, wsp__avx512_vdot_f32, wsp__avx512_matvec_f32},
    [WSP__T_F16] = {WSP__T_F32, wsp__avx512_row_f16, NULL, wsp__avx512_vdot_f16,
                    wsp__avx512_matvec_f16},
    [WSP__T_Q4_0] = {WSP__T_Q8_0, wsp__deq_q4_0, NULL, dot_q4_0, matvec_q4_0},
    [WSP__T_Q4_1] = {WSP__T_Q8_1, wsp__deq_q4_1, NULL, dot_q4_1, matvec_q4_1},
    [WSP__T_Q5_0] = {WSP__T_Q8_0, wsp__deq_q5_0, NULL, dot_q5_0, matvec_q5_0},
    [WSP__T_Q5_1] = {WSP__T_Q8_1, wsp__deq_q5_1, NULL, dot_q5_1, matvec_q5_1},
    [WSP__T_Q8_0] = {WSP__T_Q8_0, wsp__deq_q8_0, wsp__avx2_quant_q8_0, dot_q8_0, matvec_q8_0},
    [WSP__T_Q8_1] = {WSP__T_Q8_1, wsp__deq_q8_1, wsp__avx2_quant_q8_1, NULL, NULL},
};
