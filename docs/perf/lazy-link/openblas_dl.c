/*
 * PROPOSAL (not built; see docs/perf/service.md): OpenBLAS loaded on first use, as
 * ffmpeg_dl.c does for FFmpeg (OpenBLAS starts its thread pool and pulls libgfortran at
 * load time).  To adopt: move to src/whisper/, drop -lopenblas from the link line.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <cblas.h>
static void *lib;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static void load(void) { if (!(lib = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL))) { fprintf(stderr, "%s\n", dlerror()); abort(); } }
static void *sym(const char *n) { pthread_once(&once, load); void *p = dlsym(lib, n); if (!p) abort(); return p; }
void openblas_set_num_threads(int n) { static void (*fn)(int); if (!fn) fn = (void (*)(int))sym("openblas_set_num_threads"); fn(n); }
void cblas_sgemm(OPENBLAS_CONST enum CBLAS_ORDER o, OPENBLAS_CONST enum CBLAS_TRANSPOSE ta, OPENBLAS_CONST enum CBLAS_TRANSPOSE tb, OPENBLAS_CONST blasint m, OPENBLAS_CONST blasint n, OPENBLAS_CONST blasint k,
                 OPENBLAS_CONST float alpha, OPENBLAS_CONST float *a, OPENBLAS_CONST blasint lda, OPENBLAS_CONST float *b, OPENBLAS_CONST blasint ldb, OPENBLAS_CONST float beta, float *c, OPENBLAS_CONST blasint ldc)
{ static void (*fn)(); if (!fn) fn = (void (*)())sym("cblas_sgemm"); ((void (*)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, blasint, blasint, blasint, float, const float *, blasint, const float *, blasint, float, float *, blasint))fn)(o, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc); }
void cblas_sgemv(OPENBLAS_CONST enum CBLAS_ORDER o, OPENBLAS_CONST enum CBLAS_TRANSPOSE t, OPENBLAS_CONST blasint m, OPENBLAS_CONST blasint n, OPENBLAS_CONST float alpha, OPENBLAS_CONST float *a, OPENBLAS_CONST blasint lda, OPENBLAS_CONST float *x, OPENBLAS_CONST blasint incx, OPENBLAS_CONST float beta, float *y, OPENBLAS_CONST blasint incy)
{ static void (*fn)(); if (!fn) fn = (void (*)())sym("cblas_sgemv"); ((void (*)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, blasint, blasint, float, const float *, blasint, const float *, blasint, float, float *, blasint))fn)(o, t, m, n, alpha, a, lda, x, incx, beta, y, incy); }
