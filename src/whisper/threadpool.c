/* threadpool.c — fork-join pool with spin-then-sleep workers; see threadpool.h. */
#include "whisper/threadpool.h"

#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#define SPIN_ITERS 20000 /* ~50–100 µs of pause instructions before sleeping */

struct wsp__pool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_uint gen;     /* incremented per job */
    atomic_int pending;  /* workers still running the current job */
    atomic_int stop;
    wsp__task_fn fn;
    void *ctx;
};

typedef struct worker_arg {
    wsp__pool *pool;
    int ith;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    wsp__pool *pool = a->pool;
    const int ith = a->ith;
    free(a);
    unsigned seen = 0;
    for (;;) {
        unsigned g;
        int spins = 0;
        while ((g = atomic_load_explicit(&pool->gen, memory_order_acquire)) == seen &&
               !atomic_load(&pool->stop)) {
            if (++spins < SPIN_ITERS) {
                _mm_pause();
                continue;
            }
            pthread_mutex_lock(&pool->mu);
            while (atomic_load(&pool->gen) == seen && !atomic_load(&pool->stop))
                pthread_cond_wait(&pool->cv, &pool->mu);
            pthread_mutex_unlock(&pool->mu);
        }
        if (atomic_load(&pool->stop))
            return NULL;
        seen = g;
        pool->fn(pool->ctx, ith, pool->n);
        atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_release);
    }
}

wsp__pool *wsp__pool_new(int n_threads)
{
    if (n_threads < 1)
        n_threads = 1;
    wsp__pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->n = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return NULL;
    }
    for (int i = 1; i < n_threads; i++) {
        worker_arg *a = malloc(sizeof *a);
        if (!a || (a->pool = p, a->ith = i, pthread_create(&p->threads[i], NULL, worker, a))) {
            free(a);
            p->n = i; /* join those started */
            wsp__pool_free(p);
            return NULL;
        }
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

void wsp__pool_run(wsp__pool *p, wsp__task_fn fn, void *ctx)
{
    if (!p || p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, p->n);
    int spins = 0;
    while (atomic_load_explicit(&p->pending, memory_order_acquire) > 0) {
        if (++spins < SPIN_ITERS)
            _mm_pause();
        else
            sched_yield();
    }
}
