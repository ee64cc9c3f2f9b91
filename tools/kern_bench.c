/*
 * kern_bench — times one weight-type matrix × activations product through wsp__linear
 * (the decoder's path for M < 16: the type's matvec kernel, rows split over the pool),
 * and prints one line of key=value: the median and min ms per product, the median CPU
 * time of the calling thread per product (with -t 1: the cost of the product on a shared,
 * busy host), and the weight bandwidth (weight bytes / median time) in GB/s.
 *
 *   kern_bench TYPE ROWS COLS [-x N_X] [-t THREADS] [-r REPS] [-c COPIES]
 *
 * TYPE: f32 f16 q4_0 q4_1 q5_0 q5_1 q8_0.  N_X (default 1): activation rows per call
 * (2…15: beams batched in one call; >= 16: an encoder-style batch, wsp__linear's GEMM
 * path — MDC_QGEMM=rows forces the integer kernels there too).  MDC_KERNELS=scalar|avx2|avx512 picks the kernels
 * as for the engine.  The weights are pseudo-random bytes with fixed, sane scales (the
 * values do not change the time of an integer kernel).  COPIES (default: enough for
 * 256 MB) copies of the matrix are used in turn, so that (as in a decoder step, whose
 * weights exceed the last-level cache) every product streams its weights from memory;
 * -c 1 measures a cache-resident matrix.  Example, base-dims logits:
 *   kern_bench q8_0 51865 512 -t 2
 * Used by tests/perf/bench_kernels.sh.
 */
#include "mdc/clock.h"
#include "whisper/kernels.h"
#include "whisper/quants.h"
#include "whisper/threadpool.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* CPU time of the calling thread, ms: with -t 1 every product runs on it, so this is the
 * product's cost without the time other processes hold the core (a busy shared host). */
static double thread_cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: kern_bench TYPE ROWS COLS [-x N_X] [-t THREADS] [-r REPS] "
                        "[-c COPIES]\n");
        return 2;
    }
    int type = -1;
    for (int c = 0; c < WSP__N_TYPES; c++) {
        const wsp__type_info *ti = wsp__type_info_of(c);
        if (ti && ti->weight && strcmp(ti->name, argv[1]) == 0)
            type = c;
    }
    const int rows = (int)strtol(argv[2], NULL, 10), cols = (int)strtol(argv[3], NULL, 10);
    int nx = 1, threads = 1, reps = 50, copies = 0;
    for (int i = 4; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-x") == 0)
            nx = (int)strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "-t") == 0)
            threads = (int)strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "-r") == 0)
            reps = (int)strtol(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "-c") == 0)
            copies = (int)strtol(argv[i + 1], NULL, 10);
    }
    if (type < 0 || rows < 1 || cols < 32 || cols % 32 || nx < 1 || nx > 1 << 14 || threads < 1 ||
        reps < 1 || copies < 0) {
        fprintf(stderr, "kern_bench: bad arguments\n");
        return 2;
    }
    const wsp__type_info *ti = wsp__type_info_of(type);
    const size_t rb = wsp__row_bytes(ti, cols), bytes = rb * (size_t)rows;
    if (!copies)
        copies = (int)((256u << 20) / bytes) + 1;
    uint8_t *w = malloc(bytes * (size_t)copies);
    float *x = malloc(sizeof(float) * (size_t)nx * (size_t)cols);
    float *y = malloc(sizeof(float) * (size_t)nx * (size_t)rows);
    double *t = malloc(sizeof(double) * (size_t)reps), *tc = malloc(sizeof(double) * (size_t)reps);
    /* wsp__linear's scratch for M >= 16 (as the state's wbuf): W as f32, and a block of
     * quantized-and-widened activations */
    float *wbuf = malloc(sizeof(float) * ((size_t)rows + WSP__QGEMM_ROWS) * (size_t)cols);
    if (!w || !x || !y || !t || !tc || !wbuf)
        return 1;
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < bytes; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        w[i] = (uint8_t)(s >> 40);
    }
    const uint16_t scale = wsp__f32_to_f16(0.01f);
    if (type == WSP__T_F16)
        for (size_t i = 0; i < bytes / 2; i++)
            memcpy(w + 2 * i, &scale, 2);
    else if (type == WSP__T_F32)
        for (size_t i = 0; i < bytes / 4; i++) {
            const float v = 0.01f * (float)(i % 7);
            memcpy(w + 4 * i, &v, 4);
        }
    else
        for (size_t b = 0; b < bytes / (size_t)ti->size; b++) {
            memcpy(w + b * (size_t)ti->size, &scale, 2);
            if (type == WSP__T_Q4_1 || type == WSP__T_Q5_1)
                memcpy(w + b * (size_t)ti->size + 2, &scale, 2);
        }
    for (int c = 1; c < copies; c++)
        memcpy(w + (size_t)c * bytes, w, bytes);
    for (int i = 0; i < nx * cols; i++)
        x[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    openblas_set_num_threads(1); /* as the engine: the pool runs single-threaded sgemms */
    wsp__pool *pool = threads > 1 ? wsp__pool_new(threads) : NULL;
    for (int i = 0; i < copies + 2; i++) { /* warm-up: page faults, pool start */
        const wsp__mat W = {.data = w + (size_t)(i % copies) * bytes, .type = type,
                            .rows = rows, .cols = cols};
        wsp__linear(pool, &W, NULL, x, nx, cols, y, rows, wbuf);
    }
    for (int i = 0; i < reps; i++) {
        const wsp__mat W = {.data = w + (size_t)(i % copies) * bytes, .type = type,
                            .rows = rows, .cols = cols};
        const double t0 = mdc_now_ms(), c0 = thread_cpu_ms();
        wsp__linear(pool, &W, NULL, x, nx, cols, y, rows, wbuf);
        t[i] = mdc_now_ms() - t0;
        tc[i] = thread_cpu_ms() - c0;
    }
    qsort(t, (size_t)reps, sizeof *t, cmp_d);
    qsort(tc, (size_t)reps, sizeof *tc, cmp_d);
    const double med = t[reps / 2];
    printf("kernels=%s type=%s rows=%d cols=%d n_x=%d threads=%d copies=%d median_ms=%.3f min_ms=%.3f "
           "cpu_median_ms=%.3f weight_mb=%.1f gb_s=%.1f check=%.6g\n",
           wsp__kern()->name, ti->name, rows, cols, nx, threads, copies, med, t[0], tc[reps / 2], (double)bytes / 1e6,
           (double)bytes / 1e6 / med, (double)y[(size_t)(nx - 1) * (size_t)rows + rows / 2]);
    wsp__pool_free(pool);
    free(w);
    free(x);
    free(y);
    free(t);
    free(tc);
    free(wbuf);
    return 0;
}
