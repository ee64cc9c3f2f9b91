/*
 * kernels.h — numeric kernels of the forward pass, with run-time CPU dispatch.
 *
 * Weights are read in place from the (unaligned) model mapping: every kernel that takes a
 * `const void *` weight pointer uses unaligned loads.  The baseline (kernels.c) is plain
 * C for any x86-64; kernels_avx2.c (AVX2+FMA+F16C) and kernels_avx512.c (AVX-512 with
 * VNNI) are chosen once at run time (wsp__kern_usable).  Thread-safe (no state besides
 * the dispatch table, set once).
 */
#ifndef MDC_WHISPER_KERNELS_H
#define MDC_WHISPER_KERNELS_H

#include "whisper/model.h"
#include "whisper/quants.h"

#include <stddef.h>
#include <stdint.h>

#include "mdc/half.h"

/* Per weight type, one ISA's kernels (ggml's type_traits_cpu).  Every matrix product goes
 * through these, so no kernel branches on a weight's type.  A weight row of n elements
 * (n a multiple of the type's block size, wsp__type_info_of(type)->blck) is
 * wsp__row_bytes() bytes, read in place (unaligned).  The activation X is first
 * converted to `vec_dot_type`: WSP__T_F32 means "used as is" (f32/f16 weights), q8_0 or
 * q8_1 means "quantized with that entry's from_float" (quantized weights). */
typedef struct wsp__type_traits {
    int vec_dot_type;
    /* row → f32: dst[n] (for q8_1: an activation row) */
    void (*to_float)(const void *src, float *dst, int n);
    /* f32 → this type (activation quantizer; q8_0 and q8_1 only, NULL otherwise).
     * dst: n / 32 blocks. */
    void (*from_float)(const float *src, void *dst, int n);
    /* Σ w[k]·x[k] of one weight row with one activation row in vec_dot_type. */
    float (*vec_dot)(const void *w, const void *x, int n);
    /* Y[i·ldy + r] = vec_dot(row r, X_i) for r < nrows, i < n_x: rows w + r·row_bytes,
     * activations x + i·ldx bytes.  Rows outer, so each weight row is read once. */
    void (*matvec)(const void *w, size_t row_bytes, int nrows, const void *x, size_t ldx,
                   int n_x, int n, float *Y, int ldy);
} wsp__type_traits;

/* One ISA's implementations.  n is the vector length in elements. */
typedef struct wsp__kern_ops {
    const char *name;                                     /* "scalar", "avx2", "avx512" */
    const wsp__type_traits *types;                        /* [WSP__N_TYPES], by type code */
    /* 1: batches on quantized weights take the integer kernels (wsp__linear): ggml's own
     * arithmetic, the same bits on every ISA that sets it, and no f32 copy of W (AVX-512
     * VNNI: also faster than dequantize + sgemm; AVX2: 1.3–1.7× the products' CPU, chosen
     * for those two reasons — docs/perf/engine.md); 0 (scalar): dequantize + sgemm for
     * q8_0-activation types. */
    int qgemm_int;
    float (*dot_f16)(const void *w, const float *x, int n); /* Σ f16 w[i] · x[i] */
    float (*dot_f32)(const void *w, const float *x, int n); /* Σ f32 w[i] · x[i] (w unaligned) */
    void (*cvt_f16)(const void *src, float *dst, size_t n); /* f16 → f32 */
    /* 4 dot products of consecutive f16 rows (stride ld elements) with x, into out[4]. */
    void (*dot4_f16)(const void *w, size_t ld, const float *x, int n, float *out);
    /* x[i] = exp(x[i] − max); returns Σ.  Accuracy ~1 ulp-ish (vector exp polynomial). */
    float (*exp_sum)(float *x, int n, float max);
    /* In-place softmax(scale · x) of x[n] (scale > 0). */
    void (*softmax)(float *x, int n, float scale);
    /* x[i] = GELU(x[i]), tanh approximation (see wsp__gelu_ref). */
    void (*gelu)(float *x, int n);
    /* y[i] += a · x[i] (f32, any alignment; y and x do not overlap). */
    void (*axpy)(float *y, float a, const float *x, int n);
    /* f32 → f16, round to nearest even (overflow → ±inf). */
    void (*cvt_f32_f16)(const float *src, uint16_t *dst, size_t n);
    /* One attention head over f16 keys/values, both stored TRANSPOSED (row c at
     * Kt + c·ldk / Vt + c·ldv, len wide, so each head streams contiguous memory), for nq
     * query rows (q_r = q + r·ldq, 1 <= nq): sc_r[t] = scale·Σ_c q_r[c]·Kt[c][t] for
     * t < len, softmax over sc_r, out_r[c] = Σ_t sc_r[t]·Vt[c][t].  sc: [nq][ldsc]
     * scratch (ldsc >= len; holds each row's softmax after the call); out_r = out + r·ldo,
     * [dh].  Multi-query: the keys and values are read once for the nq rows (the beams of
     * one window share their encoder K/V), and row r's result is bit-identical to a call
     * with that row alone. */
    void (*attn_f16)(const uint16_t *Kt, size_t ldk, const uint16_t *Vt, size_t ldv, int len,
                     int dh, const float *q, size_t ldq, int nq, float scale, float *sc,
                     size_t ldsc, float *out, size_t ldo);
} wsp__kern_ops;

/* The best implementation for this CPU (resolved on first call; never NULL).
 * MDC_KERNELS=scalar|avx2|avx512 in the environment forces a variant (tests, benches);
 * forcing one the CPU lacks gives the scalar kernels. */
const wsp__kern_ops *wsp__kern(void);

/* 1 if this CPU can run variant k: avx2 needs AVX2, FMA and F16C; avx512 also needs
 * AVX-512 F, BW, VL, DQ and VNNI (its integer kernels use vpdpbusd; an AVX-512 CPU
 * without VNNI gets the avx2 variant). */
int wsp__kern_usable(const wsp__kern_ops *k);

/* 1 if the CPU has F16C (half ↔ float conversion instructions). */
int wsp__cpu_f16c(void);

/* Each ISA file's table (NULL-free); exposed for tests that compare variants. */
extern const wsp__kern_ops wsp__kern_scalar;
extern const wsp__kern_ops wsp__kern_avx2;
extern const wsp__kern_ops wsp__kern_avx512;

/* Per-type tables of each ISA (quants.c, quants_avx2.c, quants_avx512.c).  Every table
 * computes the same numbers for a quantized type, bit for bit (quants.c's contract);
 * AVX-512 uses the AVX2 activation quantizers. */
extern const wsp__type_traits wsp__types_scalar[WSP__N_TYPES];
extern const wsp__type_traits wsp__types_avx2[WSP__N_TYPES];
extern const wsp__type_traits wsp__types_avx512[WSP__N_TYPES];

/* Building blocks the per-ISA tables share (kernels*.c, quants*.c). */
void wsp__row_f32(const void *src, float *dst, int n);
void wsp__row_f16_scalar(const void *src, float *dst, int n);
float wsp__vdot_f32_scalar(const void *w, const void *x, int n);
float wsp__vdot_f16_scalar(const void *w, const void *x, int n);
void wsp__matvec_f32_scalar(const void *w, size_t row_bytes, int nrows, const void *x,
                            size_t ldx, int n_x, int n, float *Y, int ldy);
void wsp__matvec_f16_scalar(const void *w, size_t row_bytes, int nrows, const void *x,
                            size_t ldx, int n_x, int n, float *Y, int ldy);
/* The matvec of any vec_dot: rows outer, inputs inner (see wsp__type_traits.matvec). */
void wsp__matvec_by_rows(float (*dot)(const void *, const void *, int), const void *w,
                         size_t row_bytes, int nrows, const void *x, size_t ldx, int n_x, int n,
                         float *Y, int ldy);
/* Defines `static void matvec_<dotfn>(…)`, a wsp__type_traits.matvec from a vec_dot. */
#define WSP__MATVEC_OF(dotfn)                                                                \
    static void matvec_##dotfn(const void *w, size_t rb, int nr, const void *x, size_t ldx,  \
                               int nx, int n, float *Y, int ldy)                             \
    {                                                                                        \
        wsp__matvec_by_rows(dotfn, w, rb, nr, x, ldx, nx, n, Y, ldy);                        \
    }
/* Scalar dequantizers and activation quantizers (quants.c; arithmetic in its header
 * comment).  n: elements, a multiple of 32. */
void wsp__deq_q4_0(const void *src, float *dst, int n);
void wsp__deq_q4_1(const void *src, float *dst, int n);
void wsp__deq_q5_0(const void *src, float *dst, int n);
void wsp__deq_q5_1(const void *src, float *dst, int n);
void wsp__deq_q8_0(const void *src, float *dst, int n);
void wsp__deq_q8_1(const void *src, float *dst, int n);
void wsp__quant_q8_0(const float *x, void *dst, int n);
void wsp__quant_q8_1(const float *x, void *dst, int n);
/* Σ of 8 lanes in ggml's hsum_float_8 order ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)). */
float wsp__hsum8(const float a[8]);

/* float → IEEE half, round to nearest even, subnormals, overflow to ±inf, NaN kept. */
static inline uint16_t wsp__f32_to_f16(float f)
{
    uint32_t x;
    __builtin_memcpy(&x, &f, 4);
    const uint32_t sign = (x >> 16) & 0x8000u;
    const uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) /* inf or NaN */
        return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0u));
    if (ax >= 0x477ff000u) /* rounds to >= 65520: overflow */
        return (uint16_t)(sign | 0x7c00u);
    if (ax < 0x38800000u) { /* below 2^-14: subnormal half (or zero) */
        const uint32_t m = (ax & 0x7fffffu) | 0x800000u;
        const int shift = 126 - (int)(ax >> 23); /* value / 2^-24 = m · 2^(e − 126) */
        if (shift > 25)
            return (uint16_t)sign;
        uint32_t h = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1u)))
            h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((ax - 0x38000000u) >> 13); /* rebias exponent 127 → 15 */
    const uint32_t rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
        h++;
    return (uint16_t)(sign | h);
}

/* IEEE half → float (any value, subnormals included): the one shared conversion. */
static inline float wsp__f16_to_f32(uint16_t h) { return mdc_f16_to_f32(h); }

/* Unaligned f32 load of element i. */
static inline float wsp__ldf(const void *p, size_t i)
{
    float v;
    __builtin_memcpy(&v, (const char *)p + 4 * i, 4);
    return v;
}

/* GELU, tanh approximation as whisper.cpp uses (ggml_gelu):
 * 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).  OpenAI's PyTorch model uses the exact erf
 * form; whisper.cpp (our golden reference) uses this one, so do we.
 * ref: Hendrycks & Gimpel 2016, eq. for the tanh approximation; ggml/src/ggml-cpu/vec.h. */
float wsp__gelu_ref(float x);

/* Bytes of stack scratch for quantized activation rows: at least one row of the widest
 * matrix the loader accepts (4 · 8192 columns → 1024 q8_1 blocks of 36 bytes). */
#define WSP__ACT_SCRATCH 40960

/* Row r of a matrix as float32 into dst[m->cols] (the type's to_float). */
void wsp__mat_row(const wsp__mat *m, int r, float *dst);

/* Y[i][r] = W[r]·X[i] + b[r] for rows r in [r0, r1) and inputs i in [0, n_x).
 * W: [rows][cols] of any weight type, in place; X: [n_x][ldx] f32 (converted to the
 * type's vec_dot_type here, in stack scratch, groups of inputs at a time); Y: [n_x][ldy];
 * bias may be NULL (or have data NULL).  The caller splits [0, rows) across threads. */
void wsp__matvec_rows(const wsp__mat *W, const wsp__mat *bias, const float *X, int n_x,
                      int ldx, float *Y, int ldy, int r0, int r1);

/* In-place layer norm of x[n]: (x − mean)/sqrt(var + eps)·w + b, eps 1e-5.
 * w, b: f32 [n] (unaligned).  ref: whisper.cpp ggml_norm(…, hparams.eps = 1e-5). */
void wsp__layer_norm(float *x, int n, const void *w, const void *b);

/* In-place softmax of x[n] after multiplying by `scale`. */
void wsp__softmax(float *x, int n, float scale);

#endif

/* ---- parallel operations over a thread pool (kernels_par.c) --------------------------
 * Each call forks onto every thread of `pool` (NULL = run on the caller) and returns
 * when done.  Matrices are f32 row-major with the given leading dimensions. */
#include "whisper/threadpool.h"

/* Y[M][N] = X[M][K] · Wᵀ + b, with W [N][K] (any weight type, in the mapping) and b [N] or
 * NULL.  M < 16: rows of W are read in place by the type's matvec kernel, split across the
 * pool.  M >= 16 (wbuf: at least (N + WSP__QGEMM_ROWS)·K floats of scratch):
 *  - f16/f32 W: converted to f32 into wbuf and multiplied with single-threaded OpenBLAS
 *    sgemm calls on blocks of X's rows, spread over the pool (so OpenBLAS's own threads
 *    stay idle: set openblas_set_num_threads(1));
 *  - quantized W, integer path (wsp__linear_int_gemm): X is quantized once into wbuf,
 *    then the type's matvec kernel runs over tiles of X for chunks of W's rows — every
 *    output is bit-identical to the M = 1 path, i.e. ggml's integer block product;
 *  - quantized W, sgemm path (q4_0/q5_0/q8_0 with the scalar kernels, or MDC_QGEMM=sgemm): W
 *    dequantized to f32 into wbuf, X quantized to q8_0 and widened back to f32 in blocks of
 *    WSP__QGEMM_ROWS rows (into wbuf + N·K), then sgemm: ggml's integer block product up
 *    to the f32 rounding of the sum. */
#define WSP__QGEMM_ROWS 512
void wsp__linear(wsp__pool *pool, const wsp__mat *W, const wsp__mat *b, const float *X,
                 int M, int ldx, float *Y, int ldy, float *wbuf);
/* 1 if wsp__linear multiplies batches (M >= 16) on weights of `type` with the integer
 * kernels: q4_1/q5_1 always, q4_0/q5_0/q8_0 where the ISA says so (qgemm_int), unless
 * MDC_QGEMM=rows (always) or MDC_QGEMM=sgemm (never) in the environment; 0 for f16/f32. */
int wsp__linear_int_gemm(int type);
/* Overrides MDC_QGEMM for the process: 1 integer, 0 sgemm, < 0 the ISA default (tests,
 * benchmarks; not thread-safe against concurrent wsp__linear calls changing paths). */
void wsp__linear_force_qgemm(int mode);
/* wsp__linear's matvec path for any M (gelu != 0: GELU on Y): each weight row is read
 * once for all M inputs, and Y[i] depends on X[i] alone — bit-identical whatever M and
 * the other rows are (the row-batched decoder relies on it; see decoder.c).  No wbuf. */
void wsp__linear_rows(wsp__pool *pool, const wsp__mat *W, const wsp__mat *b, const float *X,
                      int M, int ldx, float *Y, int ldy, int gelu);
/* Three wsp__linear calls on the same X (e.g. q, k, v), as ONE pool job when M < 16
 * (a decoder step then waits at one barrier instead of three).  b[k] may be NULL. */
void wsp__linear3(wsp__pool *pool, const wsp__mat *const W[3], const wsp__mat *const b[3],
                  const float *X, int M, int ldx, float *const Y[3], int ldy, float *wbuf);
/* wsp__linear followed by GELU on Y (fused in the same pass over the pool). */
void wsp__linear_gelu(wsp__pool *pool, const wsp__mat *W, const wsp__mat *b, const float *X,
                      int M, int ldx, float *Y, int ldy, float *wbuf);
/* dst[i][:] = layer_norm(src[i][:]) for i < M rows of width n (ld = n); dst may be src. */
void wsp__par_layer_norm(wsp__pool *pool, const float *src, float *dst, int M, int n,
                         const wsp__mat *w, const wsp__mat *b);
/* x[i] += y[i] for i < count. */
void wsp__par_add(wsp__pool *pool, float *x, const float *y, size_t count);
