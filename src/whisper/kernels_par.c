/* kernels_par.c — pool-parallel wrappers of the kernels (see kernels.h, bottom part). */
#include "whisper/kernels.h"

#include <cblas.h>
#include <string.h>

#define GEMM_MIN_ROWS 16 /* below this, reading f16 in place (matvec) beats convert + sgemm */

typedef struct linear_job {
    const wsp__mat *W, *b;
    const float *X;
    int M, ldx, ldy;
    float *Y;
} linear_job;

static void linear_task(void *p, int ith, int nth)
{
    const linear_job *j = p;
    const int rows = j->W->rows;
    /* split by blocks of 4 rows (the dot4 kernel) */
    int b, e;
    wsp__split((rows + 3) / 4, ith, nth, &b, &e);
    b *= 4;
    e *= 4;
    if (e > rows)
        e = rows;
    if (b < e)
        wsp__matvec_rows(j->W, j->b, j->X, j->M, j->ldx, j->Y, j->ldy, b, e);
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

static void bias_task(void *p, int ith, int nth)
{
    const rows_job *j = p;
    int b, e;
    wsp__split(j->M, ith, nth, &b, &e);
    for (int i = b; i < e; i++) {
        float *row = j->x + (size_t)i * (size_t)j->count; /* count = ldy here */
        for (int c = 0; c < j->n; c++)
            row[c] += wsp__ldf(j->b->data, (size_t)c);
    }
}

void wsp__linear(wsp__pool *pool, const wsp__mat *W, const wsp__mat *b, const float *X,
                 int M, int ldx, float *Y, int ldy, float *wbuf)
{
    if (M < GEMM_MIN_ROWS) {
        linear_job j = {.W = W, .b = b, .X = X, .M = M, .ldx = ldx, .ldy = ldy, .Y = Y};
        wsp__pool_run(pool, linear_task, &j);
        return;
    }
    wsp__mat_to_f32(W, wbuf);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, W->rows, W->cols, 1.0f, X, ldx,
                wbuf, W->cols, 0.0f, Y, ldy);
    if (b && b->data) {
        rows_job j = {.x = Y, .count = (size_t)ldy, .M = M, .n = W->rows, .b = b};
        wsp__pool_run(pool, bias_task, &j);
    }
}

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

static void gelu_task(void *p, int ith, int nth)
{
    const rows_job *j = p;
    const size_t q = j->count / (size_t)nth;
    const size_t b = q * (size_t)ith, e = ith == nth - 1 ? j->count : b + q;
    wsp__kern()->gelu(j->x + b, (int)(e - b));
}

void wsp__par_gelu(wsp__pool *pool, float *x, size_t count)
{
    rows_job j = {.x = x, .count = count};
    wsp__pool_run(pool, gelu_task, &j);
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

static void softmax_task(void *p, int ith, int nth)
{
    const rows_job *j = p;
    int b, e;
    wsp__split(j->M, ith, nth, &b, &e);
    for (int i = b; i < e; i++)
        wsp__softmax(j->x + (size_t)i * (size_t)j->n, j->n, j->scale);
}

void wsp__par_softmax(wsp__pool *pool, float *x, int M, int n, float scale)
{
    rows_job j = {.x = x, .M = M, .n = n, .scale = scale};
    wsp__pool_run(pool, softmax_task, &j);
}
