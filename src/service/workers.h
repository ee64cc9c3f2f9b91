/*
 * workers.h — the bounded worker pool that runs transcriptions (prefix wrk_).
 *
 * n threads take tasks from a FIFO of at most queue_len waiting tasks.  wrk_submit()
 * never blocks: when every thread is busy and the queue is full it fails at once, and
 * the HTTP layer answers 503 with Retry-After.  The number of waiting tasks is mirrored
 * in the gauge given at creation (mdconv_queue_depth).
 *
 * Thread-safety: every function is thread-safe except wrk_pool_free(), which must not
 * race with wrk_submit().  Tasks run on the pool's threads.
 */
#ifndef MDC_SERVICE_WORKERS_H
#define MDC_SERVICE_WORKERS_H

#include "mdc/metrics.h"

typedef struct wrk_pool wrk_pool;
typedef void (*wrk_fn)(void *arg);

/* Starts n_threads (>= 1) threads with a queue of queue_len (>= 0) waiting tasks.
 * depth_gauge may be NULL.  Returns NULL on failure (nothing left running). */
wrk_pool *wrk_pool_new(int n_threads, int queue_len, met_family *depth_gauge);

/* Queues fn(arg).  Returns 0, or -1 when the pool is full or stopping (fn not called,
 * the caller still owns arg). */
int wrk_submit(wrk_pool *pool, wrk_fn fn, void *arg);

/* Tasks waiting (not yet running) and tasks running. */
int wrk_queued(wrk_pool *pool);
int wrk_running(wrk_pool *pool);
int wrk_threads(const wrk_pool *pool);

/* Stops accepting tasks, runs every task already queued, joins the threads, frees.
 * Accepts NULL. */
void wrk_pool_free(wrk_pool *pool);

#endif
