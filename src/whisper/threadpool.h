/*
 * threadpool.h — a small fork-join pool for the forward pass.
 *
 * wsp__pool_run(pool, fn, ctx) calls fn(ctx, ith, nth) once for every chunk ith = 0 … nth−1
 * (nth = wsp__pool_chunks(pool), a few per thread) and returns when all chunks are done.
 * Chunks are claimed from a shared counter by whichever thread is running, the caller
 * included: a worker the OS has not scheduled yet simply gets no chunk, so a busy
 * machine slows a job down but never makes the caller wait for a descheduled thread.
 * Workers spin briefly between jobs (decoder steps issue dozens of short jobs per token),
 * then sleep on a condition variable, so an idle pool costs no CPU.
 * A pool belongs to one wsp_state: wsp__pool_run must not be called from two threads at
 * once.  Inside fn, wsp__pool_tid() is the running thread's index (0 … size−1), for
 * per-thread scratch.
 */
#ifndef MDC_WHISPER_THREADPOOL_H
#define MDC_WHISPER_THREADPOOL_H

typedef struct wsp__pool wsp__pool;
typedef void (*wsp__task_fn)(void *ctx, int ith, int nth);

/* Starts n_threads − 1 workers (n_threads >= 1).  Returns NULL on failure. */
wsp__pool *wsp__pool_new(int n_threads);
/* Stops and joins the workers.  Accepts NULL. */
void wsp__pool_free(wsp__pool *pool);
/* Number of threads (1 for NULL). */
int wsp__pool_size(const wsp__pool *pool);
/* Chunks per job used by wsp__pool_run (1 for NULL). */
int wsp__pool_chunks(const wsp__pool *pool);
/* Runs fn over wsp__pool_chunks(pool) chunks (pool may be NULL: fn(ctx, 0, 1)). */
void wsp__pool_run(wsp__pool *pool, wsp__task_fn fn, void *ctx);
/* Same with an explicit chunk count (1 … 1 << 20). */
void wsp__pool_run_n(wsp__pool *pool, wsp__task_fn fn, void *ctx, int n_chunks);
/* Index of the calling thread within the pool running it (0 outside pools; guests get
 * ids from size on, always < WSP__POOL_MAX_TID). */
int wsp__pool_tid(void);

/* Guests: threads of other pools' owners that help a pool while they wait for its
 * caller (continuous batching, engine.c).  wsp__pool_guest_enter registers one — later
 * jobs are cut into chunks for it too (wsp__pool_chunks counts guests) — and returns its
 * thread id, or -1 when no id below WSP__POOL_MAX_TID is free.  wsp__pool_guest_help
 * claims and runs chunks of the job running now, if any, and returns when none is left
 * (call it in a loop).  wsp__pool_guest_leave unregisters; the guest must not be inside
 * wsp__pool_guest_help.  Results of a job must not depend on its chunk count (the
 * decoder's jobs do not; see kernels_par.c matvec_task). */
#define WSP__POOL_MAX_TID 64
int wsp__pool_guest_enter(wsp__pool *pool);
void wsp__pool_guest_help(wsp__pool *pool, int tid);
void wsp__pool_guest_leave(wsp__pool *pool, int tid);
/* Guests registered now (seq_cst load). */
int wsp__pool_guests(const wsp__pool *pool);

/* Splits [0, n) into nth near-equal parts; part ith is [*b, *e). */
static inline void wsp__split(int n, int ith, int nth, int *b, int *e)
{
    const int q = n / nth, r = n % nth;
    *b = ith * q + (ith < r ? ith : r);
    *e = *b + q + (ith < r ? 1 : 0);
}

#endif
