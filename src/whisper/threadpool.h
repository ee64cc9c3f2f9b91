/*
 * threadpool.h — a small fork-join pool for the forward pass.
 *
 * wsp__pool_run(pool, fn, ctx) calls fn(ctx, ith, nth) for ith = 0 … nth−1 at once, the
 * calling thread taking ith 0, and returns when all have finished.  Workers spin briefly
 * after a job (decoder steps issue dozens of short jobs per token) and then sleep on a
 * condition variable, so an idle pool costs no CPU.  One pool belongs to one wsp_state:
 * wsp__pool_run must not be called from two threads at once.
 */
#ifndef MDC_WHISPER_THREADPOOL_H
#define MDC_WHISPER_THREADPOOL_H

typedef struct wsp__pool wsp__pool;
typedef void (*wsp__task_fn)(void *ctx, int ith, int nth);

/* Starts n_threads − 1 workers (n_threads >= 1).  Returns NULL on failure. */
wsp__pool *wsp__pool_new(int n_threads);
/* Stops and joins the workers.  Accepts NULL. */
void wsp__pool_free(wsp__pool *pool);
int wsp__pool_size(const wsp__pool *pool);
/* Runs fn on every thread of the pool (pool may be NULL: runs fn(ctx, 0, 1)). */
void wsp__pool_run(wsp__pool *pool, wsp__task_fn fn, void *ctx);

/* Splits [0, n) into nth near-equal parts; part ith is [*b, *e). */
static inline void wsp__split(int n, int ith, int nth, int *b, int *e)
{
    const int q = n / nth, r = n % nth;
    *b = ith * q + (ith < r ? ith : r);
    *e = *b + q + (ith < r ? 1 : 0);
}

#endif
