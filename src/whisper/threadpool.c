/* threadpool.c — fork-join pool with chunk claiming; see threadpool.h.
 *
 * One 64-bit word describes the current job: generation (24 bits) | chunk count (20) |
 * next unclaimed chunk (20).  A thread claims a chunk with a compare-and-swap on the word,
 * so a claim always refers to one job; that job's fn/ctx live in slot gen & 1 and stay
 * valid until the job completes, which needs every claimed chunk to finish. */
#include "whisper/threadpool.h"

#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#define SPIN_ITERS 1000 /* pause loops before sleeping (~10–30 µs: enough to catch the next
                           job of a decoder step, short enough not to steal a busy CPU) */
#define CHUNKS_PER_THREAD 4
#define MAX_CHUNKS ((1 << 20) - 1)

#define W_GEN(w) ((uint32_t)((w) >> 40))
#define W_N(w) ((uint32_t)(((w) >> 20) & 0xfffff))
#define W_NEXT(w) ((uint32_t)((w)&0xfffff))

typedef struct job {
    wsp__task_fn fn;
    void *ctx;
} job;

struct wsp__pool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic uint64_t word;
    atomic_int done;     /* chunks finished in the current job */
    atomic_int sleepers; /* workers waiting on cv */
    atomic_int stop;
    atomic_int guests;   /* threads helping from outside (wsp__pool_guest_enter) */
    atomic_int guest_ids; /* bit k: guest thread id n + k taken */
    job jobs[2];
};

static _Thread_local int tl_tid;

int wsp__pool_tid(void) { return tl_tid; }

/* Claims and runs chunks of the job described by the current word until none is left. */
static void work(wsp__pool *p)
{
    uint64_t w = atomic_load_explicit(&p->word, memory_order_acquire);
    while (W_NEXT(w) < W_N(w)) {
        if (!atomic_compare_exchange_weak_explicit(&p->word, &w, w + 1, memory_order_acq_rel,
                                                   memory_order_acquire))
            continue; /* w reloaded */
        const job *j = &p->jobs[W_GEN(w) & 1];
        j->fn(j->ctx, (int)W_NEXT(w), (int)W_N(w));
        atomic_fetch_add_explicit(&p->done, 1, memory_order_acq_rel);
        w = atomic_load_explicit(&p->word, memory_order_acquire);
    }
}

typedef struct worker_arg {
    wsp__pool *pool;
    int ith;
} worker_arg;

static void *worker(void *arg)
{
    worker_arg *a = arg;
    wsp__pool *p = a->pool;
    tl_tid = a->ith;
    free(a);
    uint32_t seen = 0;
    for (;;) {
        int spins = 0;
        for (;;) {
            if (atomic_load_explicit(&p->stop, memory_order_acquire))
                return NULL;
            const uint64_t w = atomic_load_explicit(&p->word, memory_order_acquire);
            if (W_GEN(w) != seen) {
                seen = W_GEN(w);
                break;
            }
            if (++spins < SPIN_ITERS) {
                _mm_pause();
                continue;
            }
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while (W_GEN(atomic_load(&p->word)) == seen && !atomic_load(&p->stop))
                pthread_cond_wait(&p->cv, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
            spins = 0;
        }
        work(p);
    }
}

wsp__pool *wsp__pool_new(int n_threads)
{
    if (n_threads < 1)
        n_threads = 1;
    wsp__pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->n = 1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    if (!p->threads) {
        wsp__pool_free(p);
        return NULL;
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *a = malloc(sizeof *a);
        if (!a) {
            wsp__pool_free(p);
            return NULL;
        }
        a->pool = p;
        a->ith = i;
        if (pthread_create(&p->threads[i], NULL, worker, a) != 0) {
            free(a);
            wsp__pool_free(p);
            return NULL;
        }
        pthread_setname_np(p->threads[i], "mdc-compute"); /* visible in /proc/PID/task/N/comm */
        p->n = i + 1;
    }
    return p;
}

void wsp__pool_free(wsp__pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p->threads);
    free(p);
}

int wsp__pool_size(const wsp__pool *p) { return p ? p->n : 1; }

int wsp__pool_chunks(const wsp__pool *p)
{
    if (!p)
        return 1;
    const int n = p->n + atomic_load_explicit(&((wsp__pool *)p)->guests, memory_order_relaxed);
    return n == 1 ? 1 : n * CHUNKS_PER_THREAD;
}

int wsp__pool_guest_enter(wsp__pool *p)
{
    int ids = atomic_load(&p->guest_ids);
    for (;;) {
        int k = 0;
        while (k < 30 && (ids & (1 << k)))
            k++;
        if (k == 30 || p->n + k >= WSP__POOL_MAX_TID)
            return -1;
        if (atomic_compare_exchange_weak(&p->guest_ids, &ids, ids | (1 << k))) {
            atomic_fetch_add(&p->guests, 1);
            return p->n + k;
        }
    }
}

void wsp__pool_guest_help(wsp__pool *p, int tid)
{
    const int saved = tl_tid;
    tl_tid = tid;
    work(p);
    tl_tid = saved;
}

int wsp__pool_guests(const wsp__pool *p)
{
    return atomic_load(&((wsp__pool *)p)->guests);
}

void wsp__pool_guest_leave(wsp__pool *p, int tid)
{
    atomic_fetch_sub(&p->guests, 1);
    atomic_fetch_and(&p->guest_ids, ~(1 << (tid - p->n)));
}

void wsp__pool_run_n(wsp__pool *p, wsp__task_fn fn, void *ctx, int n_chunks)
{
    if (n_chunks < 1)
        n_chunks = 1;
    if (n_chunks > MAX_CHUNKS)
        n_chunks = MAX_CHUNKS;
    if (!p || n_chunks == 1 || (p->n == 1 && atomic_load(&p->guests) == 0)) {
        for (int i = 0; i < n_chunks; i++)
            fn(ctx, i, n_chunks);
        return;
    }
    const uint64_t old = atomic_load_explicit(&p->word, memory_order_relaxed);
    const uint64_t gen = (W_GEN(old) + 1) & 0xffffff;
    p->jobs[gen & 1] = (job){fn, ctx};
    atomic_store_explicit(&p->done, 0, memory_order_relaxed);
    /* seq_cst: the store must be ordered before the load of sleepers (a worker does the
     * mirror image: sleepers++ then load word), or a wake-up could be lost — harmless
     * here (the caller claims every chunk itself) but slow. */
    atomic_store(&p->word, (gen << 40) | ((uint64_t)n_chunks << 20));
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    const int saved = tl_tid;
    tl_tid = 0;
    work(p);
    tl_tid = saved;
    int spins = 0;
    while (atomic_load_explicit(&p->done, memory_order_acquire) < n_chunks) {
        if (++spins < SPIN_ITERS)
            _mm_pause();
        else
            sched_yield();
    }
}

void wsp__pool_run(wsp__pool *p, wsp__task_fn fn, void *ctx)
{
    wsp__pool_run_n(p, fn, ctx, wsp__pool_chunks(p));
}
