/*
 * jobs_mem.c — the in-process job store backend (jobs.h): a bounded table of jobs in
 * this process's memory, guarded by one mutex.  Jobs do not outlive the process.
 */
#include <stdlib.h>
#include <string.h>

#include "jobs.h"
#include "mdc/clock.h"
#include "mdc/log.h"

typedef struct mem_store {
    job_store base; /* first: the front casts between the two */
    pthread_mutex_t mu;
    job **slots;    /* [base.max_jobs], NULL = free */
} mem_store;

static bool finished(job *j, double *fin)
{
    pthread_mutex_lock(&j->mu);
    bool f = j->status == JOB_DONE || j->status == JOB_FAILED || j->status == JOB_CANCELLED;
    if (fin)
        *fin = j->finished_s;
    pthread_mutex_unlock(&j->mu);
    return f;
}

static void add_ref(job *j)
{
    pthread_mutex_lock(&j->mu);
    j->refs++;
    pthread_mutex_unlock(&j->mu);
}

static void mem_remove_job(job_store *bs, job *j);

/* Keeps j in the table (store reference), evicting the job that finished first when
 * full.  Returns 0 or -1 (every kept job unfinished). */
static int mem_insert(job_store *bs, job *j)
{
    mem_store *s = (mem_store *)bs;
    job *evicted = NULL;
    pthread_mutex_lock(&s->mu);
    int slot = -1;
    for (int i = 0; i < bs->max_jobs && slot < 0; i++)
        if (!s->slots[i])
            slot = i;
    if (slot < 0) {
        /* full: make room by dropping the job that finished first (unfinished jobs stay) */
        double oldest = 0;
        for (int i = 0; i < bs->max_jobs; i++) {
            double fin = 0;
            if (finished(s->slots[i], &fin) && (slot < 0 || fin < oldest)) {
                slot = i;
                oldest = fin;
            }
        }
        if (slot >= 0)
            evicted = s->slots[slot];
    }
    if (slot >= 0) {
        add_ref(j); /* the store's */
        s->slots[slot] = j;
    }
    pthread_mutex_unlock(&s->mu);
    job_unref(evicted);
    return slot >= 0 ? 0 : -1;
}

static int mem_submit(job_store *bs, job *j)
{
    if (mem_insert(bs, j) != 0)
        return JOBS_E_FULL;
    if (work_submit(&j->work) != 0) {
        mem_remove_job(bs, j);
        return JOBS_E_FULL;
    }
    return JOBS_OK;
}

static job *mem_find(job_store *bs, const char *id, int *err)
{
    (void)err;
    mem_store *s = (mem_store *)bs;
    job *found = NULL;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < bs->max_jobs && !found; i++)
        if (s->slots[i] && strcmp(s->slots[i]->id, id) == 0) {
            found = s->slots[i];
            add_ref(found);
        }
    pthread_mutex_unlock(&s->mu);
    return found;
}

static void mem_remove_job(job_store *bs, job *j)
{
    mem_store *s = (mem_store *)bs;
    bool found = false;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < bs->max_jobs; i++)
        if (s->slots[i] == j) {
            s->slots[i] = NULL;
            found = true;
        }
    pthread_mutex_unlock(&s->mu);
    if (found)
        job_unref(j);
}

static int mem_remove(job_store *bs, job *j)
{
    mem_remove_job(bs, j);
    return JOBS_OK;
}

static int mem_cancel(job_store *bs, job *j)
{
    (void)bs;
    return job_cancel(j) ? 1 : 0;
}

static void count_one(job *j, void *arg)
{
    int *counts = arg;
    pthread_mutex_lock(&j->mu);
    counts[j->status]++;
    pthread_mutex_unlock(&j->mu);
}

static void mem_each(job_store *bs, void (*fn)(job *j, void *arg), void *arg);

static int mem_count(job_store *bs, int counts[JOB_N_STATUS])
{
    mem_each(bs, count_one, counts);
    return 0;
}

static int mem_list(job_store *bs, const job_query *q, job **out, bool *more)
{
    mem_store *s = (mem_store *)bs;
    *more = false;
    int n = 0;
    pthread_mutex_lock(&s->mu);
    uint64_t below = UINT64_MAX; /* newest first: seq strictly below the cursor's */
    if (q->after) {
        bool known = false;
        for (int i = 0; i < bs->max_jobs && !known; i++)
            if (s->slots[i] && strcmp(s->slots[i]->id, q->after) == 0) {
                below = s->slots[i]->seq;
                known = true;
            }
        if (!known) {
            pthread_mutex_unlock(&s->mu);
            return -1;
        }
    }
    /* selection of the q->limit highest seqs below the cursor: at most JOBS_LIST_MAX,
     * so a simple insertion into the sorted out[] is enough */
    for (int i = 0; i < bs->max_jobs; i++) {
        job *j = s->slots[i];
        if (!j || j->seq >= below)
            continue;
        if (q->status >= 0) {
            pthread_mutex_lock(&j->mu);
            bool match = (int)j->status == q->status;
            pthread_mutex_unlock(&j->mu);
            if (!match)
                continue;
        }
        if (n == q->limit && out[n - 1]->seq > j->seq) {
            *more = true;
            continue;
        }
        if (n == q->limit)
            *more = true; /* the last one falls off the page */
        int k = n < q->limit ? n++ : n - 1;
        while (k > 0 && out[k - 1]->seq < j->seq) {
            out[k] = out[k - 1];
            k--;
        }
        out[k] = j;
    }
    for (int i = 0; i < n; i++)
        add_ref(out[i]);
    pthread_mutex_unlock(&s->mu);
    return n;
}

static void mem_each(job_store *bs, void (*fn)(job *j, void *arg), void *arg)
{
    mem_store *s = (mem_store *)bs;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < bs->max_jobs; i++)
        if (s->slots[i])
            fn(s->slots[i], arg);
    pthread_mutex_unlock(&s->mu);
}

static void mem_expire(job_store *bs, double now)
{
    mem_store *s = (mem_store *)bs;
    job *expired[16];
    int n = 0;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < bs->max_jobs && n < 16; i++) {
        double fin = 0;
        job *j = s->slots[i];
        if (j && finished(j, &fin) && now - fin > bs->ttl_seconds) {
            s->slots[i] = NULL;
            expired[n++] = j;
        }
    }
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < n; i++) {
        MDC_LOG_DEBUG("job %s expired", expired[i]->id);
        job_unref(expired[i]);
    }
}

static void mem_destroy(job_store *bs)
{
    mem_store *s = (mem_store *)bs;
    for (int i = 0; i < bs->max_jobs; i++)
        job_unref(s->slots[i]);
    pthread_mutex_destroy(&s->mu);
    free(s->slots);
    free(s);
}

static const job_store_ops k_mem_ops = {
    .name = "memory",
    .submit = mem_submit,
    .find = mem_find,
    .remove = mem_remove,
    .cancel = mem_cancel,
    .list = mem_list,
    .each = mem_each,
    .count = mem_count,
    .expire = mem_expire,
    .destroy = mem_destroy,
};

job_store *jobs_mem_new(int ttl_seconds, int max_jobs)
{
    mem_store *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->slots = calloc((size_t)max_jobs, sizeof *s->slots);
    if (!s->slots) {
        free(s);
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->base.ops = &k_mem_ops;
    s->base.ttl_seconds = ttl_seconds;
    s->base.max_jobs = max_jobs;
    s->base.last_heartbeat_s = mdc_now_s();
    return &s->base;
}
