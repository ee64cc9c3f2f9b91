/*
 * workers.c — bounded worker pool: a mutex-guarded ring of tasks and n threads.
 */
#include "workers.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "mdc/log.h"

typedef struct wrk__task {
    wrk_fn fn;
    void *arg;
} wrk__task;

struct wrk_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    wrk__task *ring; /* [cap] */
    int cap, head, count;
    int running;
    bool stopping;
    int n_threads;
    pthread_t *threads;
    met_family *depth;
};

static void publish_depth(wrk_pool *p)
{
    if (p->depth)
        met_set(p->depth, NULL, (double)p->count);
}

static void *worker_main(void *arg)
{
    wrk_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->count == 0 && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        if (p->count == 0 && p->stopping)
            break;
        wrk__task t = p->ring[p->head];
        p->head = (p->head + 1) % p->cap;
        p->count--;
        p->running++;
        publish_depth(p);
        pthread_mutex_unlock(&p->mu);
        t.fn(t.arg);
        pthread_mutex_lock(&p->mu);
        p->running--;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

wrk_pool *wrk_pool_new(int n_threads, int queue_len, met_family *depth_gauge)
{
    if (n_threads < 1)
        n_threads = 1;
    if (queue_len < 0)
        queue_len = 0;
    wrk_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    /* a task handed to the pool waits in the ring until a thread takes it, so the ring
     * holds queue_len waiting tasks plus one in hand-off per thread */
    p->cap = queue_len + n_threads;
    p->ring = calloc((size_t)p->cap, sizeof *p->ring);
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    p->depth = depth_gauge;
    if (!p->ring || !p->threads) {
        free(p->ring);
        free(p->threads);
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    for (int i = 0; i < n_threads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
            MDC_LOG_ERROR("cannot start worker thread %d", i);
            p->n_threads = i;
            wrk_pool_free(p);
            return NULL;
        }
        p->n_threads = i + 1;
    }
    publish_depth(p);
    return p;
}

int wrk_submit(wrk_pool *p, wrk_fn fn, void *arg)
{
    pthread_mutex_lock(&p->mu);
    /* capacity: every thread busy or about to be, plus queue_len waiting */
    int limit = p->cap - p->n_threads; /* queue_len */
    int idle = p->n_threads - p->running;
    int waiting_beyond_idle = p->count - idle;
    if (p->stopping || p->count >= p->cap || waiting_beyond_idle >= limit) {
        pthread_mutex_unlock(&p->mu);
        return -1;
    }
    p->ring[(p->head + p->count) % p->cap] = (wrk__task){fn, arg};
    p->count++;
    publish_depth(p);
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

int wrk_queued(wrk_pool *p)
{
    pthread_mutex_lock(&p->mu);
    int n = p->count;
    pthread_mutex_unlock(&p->mu);
    return n;
}

int wrk_running(wrk_pool *p)
{
    pthread_mutex_lock(&p->mu);
    int n = p->running;
    pthread_mutex_unlock(&p->mu);
    return n;
}

int wrk_threads(const wrk_pool *p)
{
    return p->n_threads;
}

void wrk_pool_free(wrk_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->ring);
    free(p->threads);
    free(p);
}
