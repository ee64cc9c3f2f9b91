/* kernels_par.c — pool-parallel wrappers of the kernels (see kernels.h, bottom part). */
#include "whisper/kernels.h"

#include <cblas.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define GEMM_MIN_ROWS 16 /* below this, reading f16 in place (matvec) beats convert + sgemm */

typedef struct linear_job {
    const wsp__mat *W, *b;
    const float *X;
    int M, ldx, ldy;
    float *Y;
    const float *wf; /* f32 weights (GEMM path) */
    float *xf;       /* GEMM path, quantized W: X quantized to q8 and back ([M][K]) */
    uint8_t *xq;     /* integer GEMM path: X in the weight type's vec_dot_type, [M][qb] */
    size_t qb;       /* bytes of one quantized row of X */
    int gelu;
} linear_job;

static void add_bias_gelu(const linear_job *j, int m0, int m1, int r0, int r1)
{
    const int has_b = j->b && j->b->data;
    for (int i = m0; i < m1; i++) {
        float *y = j->Y + (size_t)i * (size_t)j->ldy;
        if (has_b)
            for (int r = r0; r < r1; r++)
                y[r] += wsp__ldf(j->b->data, (size_t)r);
        if (j->gelu)
            wsp__kern()->gelu(y + r0, r1 - r0);
    }
}

/* matvec path: chunks of W's rows (multiples of 4 for the dot4 kernel; of 8 with GELU,
 * whose vector kernel has a scalar tail of other rounding: every chunk boundary is then
 * a multiple of 8, so the result does not depend on the chunk count, i.e. on how many
 * threads run the job — the decoder's continuous batching relies on it) */
static void matvec_task(void *p, int ith, int nth)
{
    const linear_job *j = p;
    const int rows = j->W->rows, unit = j->gelu ? 8 : 4;
    int b, e;
    wsp__split((rows + unit - 1) / unit, ith, nth, &b, &e);
    b *= unit;
    e *= unit;
    if (e > rows)
        e = rows;
    if (b >= e)
        return;
    wsp__matvec_rows(j->W, j->b, j->X, j->M, j->ldx, j->Y, j->ldy, b, e);
    if (j->gelu)
        for (int i = 0; i < j->M; i++)
            wsp__kern()->gelu(j->Y + (size_t)i * (size_t)j->ldy + b, e - b);
}

/* GEMM path: chunks of X's rows, each a single-threaded sgemm against all of W */
static void gemm_task(void *p, int ith, int nth)
{
    const linear_job *j = p;
    int b, e;
    wsp__split(j->M, ith, nth, &b, &e);
    if (b >= e)
        return;
    const int N = j->W->rows, K = j->W->cols;
    const float *X = j->xf ? j->xf : j->X;
    const int ldx = j->xf ? K : j->ldx;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, e - b, N, K, 1.0f,
                X + (size_t)b * (size_t)ldx, ldx, j->wf, K, 0.0f,
                j->Y + (size_t)b * (size_t)j->ldy, j->ldy);
    add_bias_gelu(j, b, e, 0, N);
}

/* Several matvecs on the same input in one pool job: chunks over the concatenated rows. */
typedef struct multi_job {
    linear_job j[3];
    int n, blocks[3]; /* blocks of 4 rows per matrix */
} multi_job;

static void multi_task(void *p, int ith, int nth)
{
    const multi_job *mj = p;
    const int total = mj->blocks[0] + mj->blocks[1] + mj->blocks[2];
    int b, e;
    wsp__split(total, ith, nth, &b, &e);
    for (int k = 0, base = 0; k < mj->n; base += mj->blocks[k], k++) {
        const int lo = b > base ? b - base : 0;
        const int hi = e - base < mj->blocks[k] ? e - base : mj->blocks[k];
        if (lo >= hi)
            continue;
        const linear_job *j = &mj->j[k];
        const int r1 = 4 * hi < j->W->rows ? 4 * hi : j->W->rows;
        wsp__matvec_rows(j->W, j->b, j->X, j->M, j->ldx, j->Y, j->ldy, 4 * lo, r1);
    }
}

void wsp__linear3(wsp__pool *pool, const wsp__mat *const W[3], const wsp__mat *const b[3],
                  const float *X, int M, int ldx, float *const Y[3], int ldy, float *wbuf)
{
    if (M >= GEMM_MIN_ROWS) {
        for (int k = 0; k < 3; k++)
            wsp__linear(pool, W[k], b[k], X, M, ldx, Y[k], ldy, wbuf);
        return;
    }
    multi_job mj = {.n = 3};
    for (int k = 0; k < 3; k++) {
        mj.j[k] = (linear_job){.W = W[k], .b = b[k], .X = X, .M = M, .ldx = ldx, .ldy = ldy,
                               .Y = Y[k]};
        mj.blocks[k] = (W[k]->rows + 3) / 4;
    }
    wsp__pool_run(pool, multi_task, &mj);
}

typedef struct cvt_job {
    const wsp__mat *W;
    float *dst;
} cvt_job;

static void cvt_task(void *p, int ith, int nth)
{
    const cvt_job *j = p;
    int b, e;
    wsp__split(j->W->rows, ith, nth, &b, &e);
    for (int r = b; r < e; r++)
        wsp__mat_row(j->W, r, j->dst + (size_t)r * (size_t)j->W->cols);
}

/* X rows → the weight type's q8 activation → f32 (xf), one row at a time per thread. */
static void fakequant_task(void *p, int ith, int nth)
{
    const linear_job *j = p;
    const wsp__type_traits *act = &wsp__kern()->types[wsp__kern()->types[j->W->type].vec_dot_type];
    const int K = j->W->cols;
    _Alignas(64) uint8_t q[WSP__ACT_SCRATCH];
    int b, e;
    wsp__split(j->M, ith, nth, &b, &e);
    for (int i = b; i < e; i++) {
        act->from_float(j->X + (size_t)i * (size_t)j->ldx, q, K);
        act->to_float(q, j->xf + (size_t)i * (size_t)K, K);
    }
}

/* Integer GEMM path: X rows → the weight type's q8 activation blocks, once per batch. */
static void quantx_task(void *p, int ith, int nth)
{
    const linear_job *j = p;
    const wsp__type_traits *act = &wsp__kern()->types[wsp__kern()->types[j->W->type].vec_dot_type];
    int b, e;
    wsp__split(j->M, ith, nth, &b, &e);
    for (int i = b; i < e; i++)
        act->from_float(j->X + (size_t)i * (size_t)j->ldx, j->xq + (size_t)i * j->qb, j->W->cols);
}

/* Rows [b, e) of W (a multiple of 4 wide) against every quantized row of X: tiles of
 * ~64 KiB of activations, so a tile and the chunk's weight rows stay in L2 while the
 * type's matvec kernel loads each weight block once per 4 activation rows. */
#define QGEMM_TILE_BYTES (64u << 10)

static void qgemm_task(void *p, int ith, int nth)
{
    const linear_job *j = p;
    const int rows = j->W->rows, K = j->W->cols;
    int b, e;
    wsp__split((rows + 3) / 4, ith, nth, &b, &e);
    b *= 4;
    e = 4 * e < rows ? 4 * e : rows;
    if (b >= e)
        return;
    const wsp__type_traits *tr = &wsp__kern()->types[j->W->type];
    const size_t rb = wsp__row_bytes(wsp__type_info_of(j->W->type), K);
    int tile = (int)(QGEMM_TILE_BYTES / j->qb) & ~3;
    if (tile < 4)
        tile = 4;
    for (int i0 = 0; i0 < j->M; i0 += tile) {
        const int nx = j->M - i0 < tile ? j->M - i0 : tile;
        tr->matvec((const uint8_t *)j->W->data + (size_t)b * rb, rb, e - b,
                   j->xq + (size_t)i0 * j->qb, j->qb, nx, K,
                   j->Y + (size_t)i0 * (size_t)j->ldy + b, j->ldy);
    }
    add_bias_gelu(j, 0, j->M, b, e);
}

/* MDC_QGEMM=rows|sgemm: how batches (M >= 16) on quantized weights are multiplied —
 * the integer kernels or dequantize + sgemm (for q8_0-activation types; q8_1 ones are
 * always integer) — instead of the ISA's default (wsp__kern_ops.qgemm_int); for
 * benchmarks (docs/perf/engine.md).  wsp__linear_force_qgemm overrides it (tests). */
static _Atomic int g_qgemm_force = -2; /* -2: not resolved, -1: ISA default, 0: sgemm, 1: integer */

void wsp__linear_force_qgemm(int mode) { g_qgemm_force = mode < 0 ? -1 : mode > 0; }

static int qgemm_mode(void)
{
    int m = g_qgemm_force;
    if (m == -2) {
        const char *v = getenv("MDC_QGEMM");
        m = v && strcmp(v, "rows") == 0 ? 1 : v && strcmp(v, "sgemm") == 0 ? 0 : -1;
        int expect = -2;
        atomic_compare_exchange_strong(&g_qgemm_force, &expect, m); /* a forced mode wins */
        m = g_qgemm_force;
    }
    return m;
}

int wsp__linear_int_gemm(int type)
{
    const wsp__kern_ops *k = wsp__kern();
    if (type < 0 || type >= WSP__N_TYPES || !wsp__type_info_of(type))
        return 0;
    const int vdt = k->types[type].vec_dot_type;
    if (vdt == WSP__T_F32)
        return 0;
    /* q4_1/q5_1 (q8_1 activations): ggml adds m·s with s = f16(d·Σq) per block, which a
     * product of widened matrices cannot reproduce (0.016 logit error on micro-q4_1), so
     * they always take the integer kernels. */
    if (vdt == WSP__T_Q8_1)
        return 1;
    const int m = qgemm_mode();
    return m >= 0 ? m : k->qgemm_int;
}

void wsp__linear_rows(wsp__pool *pool, const wsp__mat *W, const wsp__mat *b, const float *X,
                      int M, int ldx, float *Y, int ldy, int gelu)
{
    linear_job j = {.W = W, .b = b, .X = X, .M = M, .ldx = ldx, .ldy = ldy, .Y = Y,
                    .gelu = gelu};
    wsp__pool_run(pool, matvec_task, &j);
}

static void linear_impl(wsp__pool *pool, const wsp__mat *W, const wsp__mat *b, const float *X,
                        int M, int ldx, float *Y, int ldy, float *wbuf, int gelu)
{
    linear_job j = {.W = W, .b = b, .X = X, .M = M, .ldx = ldx, .ldy = ldy, .Y = Y,
                    .gelu = gelu};
    const int vdt = wsp__kern()->types[W->type].vec_dot_type, quant = vdt != WSP__T_F32;
    if (M < GEMM_MIN_ROWS) {
        wsp__linear_rows(pool, W, b, X, M, ldx, Y, ldy, gelu);
        return;
    }
    if (quant && wsp__linear_int_gemm(W->type)) {
        /* X quantized once into wbuf, in blocks of as many rows as the scratch holds
         * ((N + WSP__QGEMM_ROWS)·K floats: >= 1820 rows), then rows of W over the pool */
        const int K = W->cols;
        j.qb = wsp__row_bytes(wsp__type_info_of(vdt), K);
        j.xq = (uint8_t *)wbuf;
        const size_t cap = ((size_t)W->rows + WSP__QGEMM_ROWS) * (size_t)K * sizeof(float) / j.qb;
        for (int b0 = 0; b0 < M; b0 += (int)cap) {
            linear_job sj = j;
            sj.M = (size_t)(M - b0) < cap ? M - b0 : (int)cap;
            sj.X = X + (size_t)b0 * (size_t)ldx;
            sj.Y = Y + (size_t)b0 * (size_t)ldy;
            wsp__pool_run(pool, quantx_task, &sj);
            wsp__pool_run(pool, qgemm_task, &sj);
        }
        return;
    }
    cvt_job c = {.W = W, .dst = wbuf};
    wsp__pool_run(pool, cvt_task, &c);
    j.wf = wbuf;
    if (quant) {
        /* blocks of WSP__QGEMM_ROWS inputs: their q8_0-and-back copy is all the scratch
         * the quantized path needs beyond the f32 weights */
        j.xf = wbuf + (size_t)W->rows * (size_t)W->cols;
        for (int b0 = 0; b0 < M; b0 += WSP__QGEMM_ROWS) {
            linear_job sj = j;
            sj.M = M - b0 < WSP__QGEMM_ROWS ? M - b0 : WSP__QGEMM_ROWS;
            sj.X = X + (size_t)b0 * (size_t)ldx;
            sj.Y = Y + (size_t)b0 * (size_t)ldy;
            wsp__pool_run(pool, fakequant_task, &sj);
            int n = wsp__pool_size(pool);
            if (n > (sj.M + 63) / 64)
                n = (sj.M + 63) / 64;
            wsp__pool_run_n(pool, gemm_task, &sj, n > 0 ? n : 1);
        }
        return;
    }
    /* Two row blocks per thread: each sgemm call re-packs all of W, so blocks must be
     * large (a 64-row block spent ~15 % of the encoder in packing); two per thread still
     * lets a thread that runs late be covered by the others (chunk claiming). */
    int chunks = 2 * wsp__pool_size(pool);
    if (chunks > (M + 63) / 64)
        chunks = (M + 63) / 64;
    if (chunks < 1)
        chunks = 1;
    wsp__pool_run_n(pool, gemm_task, &j, chunks);
}

void wsp__linear(wsp__pool *pool, const wsp__mat *W, const wsp__mat *b, const float *X,
                 int M, int ldx, float *Y, int ldy, float *wbuf)
{
    linear_impl(pool, W, b, X, M, ldx, Y, ldy, wbuf, 0);
}

void wsp__linear_gelu(wsp__pool *pool, const wsp__mat *W, const wsp__mat *b, const float *X,
                      int M, int ldx, float *Y, int ldy, float *wbuf)
{
    linear_impl(pool, W, b, X, M, ldx, Y, ldy, wbuf, 1);
}

typedef struct rows_job {
    float *x;
    const float *y;
    size_t count;
    int M, n;
    const float *src;
    const wsp__mat *w, *b;
    float scale;
} rows_job;

static void ln_task(void *p, int ith, int nth)
{
    const rows_job *j = p;
    int b, e;
    wsp__split(j->M, ith, nth, &b, &e);
    for (int i = b; i < e; i++) {
        float *dst = j->x + (size_t)i * (size_t)j->n;
        if (j->src != dst)
            memcpy(dst, j->src + (size_t)i * (size_t)j->n, sizeof(float) * (size_t)j->n);
        wsp__layer_norm(dst, j->n, j->w->data, j->b->data);
    }
}

void wsp__par_layer_norm(wsp__pool *pool, const float *src, float *dst, int M, int n,
                         const wsp__mat *w, const wsp__mat *b)
{
    rows_job j = {.x = dst, .src = src, .M = M, .n = n, .w = w, .b = b};
    if (M == 1) {
        ln_task(&j, 0, 1);
        return;
    }
    wsp__pool_run(pool, ln_task, &j);
}

static void add_task(void *p, int ith, int nth)
{
    const rows_job *j = p;
    const size_t q = j->count / (size_t)nth;
    const size_t b = q * (size_t)ith, e = ith == nth - 1 ? j->count : b + q;
    for (size_t i = b; i < e; i++)
        j->x[i] += j->y[i];
}

void wsp__par_add(wsp__pool *pool, float *x, const float *y, size_t count)
{
    rows_job j = {.x = x, .y = y, .count = count};
    if (count < 4096) {
        add_task(&j, 0, 1);
        return;
    }
    wsp__pool_run(pool, add_task, &j);
}
