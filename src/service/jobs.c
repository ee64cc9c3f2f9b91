/*
 * jobs.c — the job object and the store front (see jobs.h): references, the state
 * changes a worker reports (each wakes the job's SSE streams), cancellation, shutdown;
 * storage itself is the backend's (job_store_ops).
 *
 * Locks: a backend's own lock guards its table; each job's mutex guards its state and
 * its SSE subscriber list.  A backend never takes its lock while a job mutex is held by
 * the same thread, and the front never calls a backend with a job mutex held.
 */
#include "jobs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "mdc/clock.h"
#include "mdc/log.h"
#include "routes.h"

#define JOB__HEARTBEAT_S 15.0 /* SSE comment line so proxies keep the stream open */

static bool finished_status(job_status s)
{
    return s == JOB_DONE || s == JOB_FAILED || s == JOB_CANCELLED;
}

static void job_free(job *j)
{
    if (j->backend_free)
        j->backend_free(j->backend);
    for (int i = 0; i < j->n_segs; i++)
        free(j->segs[i].text);
    free(j->segs);
    work_destroy(&j->work);
    pipeline_result_free(&j->result);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

void job_unref(job *j)
{
    if (!j)
        return;
    pthread_mutex_lock(&j->mu);
    int left = --j->refs;
    pthread_mutex_unlock(&j->mu);
    if (left == 0)
        job_free(j);
}

static void job_ref(job *j)
{
    pthread_mutex_lock(&j->mu);
    j->refs++;
    pthread_mutex_unlock(&j->mu);
}

static void random_id(char out[33])
{
    unsigned char b[16];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        /* fall back to time + address entropy; ids only need to be unguessable-ish */
        uint64_t t = (uint64_t)mdc_now_ns() ^ (uint64_t)(uintptr_t)out;
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (unsigned char)(t >> ((i % 8) * 8)) ^ (unsigned char)(i * 37);
    }
    for (size_t i = 0; i < sizeof b; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

job *job__new(job_store *s, struct svc_server *srv, const char *id)
{
    job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    pthread_mutex_init(&j->mu, NULL);
    if (id)
        snprintf(j->id, sizeof j->id, "%s", id);
    else
        random_id(j->id);
    j->store = s;
    j->refs = 1;
    j->status = JOB_QUEUED;
    j->created_wall_s = mdc_wall_s();
    work_init(&j->work, srv, "jobs", &job_work_hooks, j);
    return j;
}

void job__ref(job *j)
{
    job_ref(j);
}

job *jobs_create(job_store *s, struct svc_server *srv, upl_form *form,
                 const pipeline_request *preq, bool want_json, int *err)
{
    *err = JOBS_E_CLOSING;
    if (atomic_load(&s->closing))
        return NULL;
    *err = JOBS_E_FULL;
    job *j = job__new(s, srv, NULL);
    if (!j)
        return NULL;
    j->seq = atomic_fetch_add(&s->next_seq, 1) + 1;
    j->want_json = want_json;
    j->work.form = form;
    j->work.preq = *preq;
    *err = s->ops->submit(s, j);
    if (*err != JOBS_OK) {
        j->work.form = NULL; /* still the caller's */
        job_free(j);
        return NULL;
    }
    return j;
}

int jobs_remove(job_store *s, job *j)
{
    return s->ops->remove(s, j);
}

job *jobs_find(job_store *s, const char *id, int *err)
{
    *err = JOBS_OK;
    return s->ops->find(s, id, err);
}

int jobs_list(job_store *s, const job_query *q, job **out, bool *more)
{
    return s->ops->list(s, q, out, more);
}

int jobs_cancel(job_store *s, job *j)
{
    return s->ops->cancel(s, j);
}

void jobs_follow(job_store *s, job *j)
{
    if (s->ops->follow)
        s->ops->follow(s, j);
}

bool jobs_healthy(job_store *s)
{
    return !s->ops->healthy || s->ops->healthy(s);
}

void jobs_stop(job_store *s)
{
    if (s && s->ops->stop)
        s->ops->stop(s);
}

/* ---- state changes (the work unit's hooks, on the worker thread) ---------------- */

static void hook_retain(void *owner)
{
    job_ref(owner);
}

static void hook_release(void *owner)
{
    job_unref(owner);
}

static void hook_started(void *owner)
{
    job *j = owner;
    pthread_mutex_lock(&j->mu);
    if (j->status == JOB_QUEUED) {
        j->status = JOB_RUNNING;
        j->version++;
        job__wake_subs(j);
    }
    pthread_mutex_unlock(&j->mu);
}

static void hook_progress(int percent, void *owner)
{
    job *j = owner;
    if (percent < 0)
        percent = 0;
    if (percent > 100)
        percent = 100;
    pthread_mutex_lock(&j->mu);
    if (percent != j->progress && !finished_status(j->status)) {
        j->progress = percent;
        j->version++;
        job__wake_subs(j);
    }
    pthread_mutex_unlock(&j->mu);
}

/* A new segment for the `segment` events.  On OOM the live event is skipped (logged);
 * the final result is unaffected. */
static void hook_segment(const pipeline_segment *seg, void *owner)
{
    job *j = owner;
    char *copy = strdup(seg->text ? seg->text : "");
    bool stored = false, late = false;
    pthread_mutex_lock(&j->mu);
    late = finished_status(j->status); /* cancelled meanwhile: nobody follows it */
    if (copy && !late && j->n_segs == j->cap_segs) {
        int cap = j->cap_segs ? 2 * j->cap_segs : 16;
        job__seg *ns = realloc(j->segs, (size_t)cap * sizeof *ns);
        if (ns) {
            j->segs = ns;
            j->cap_segs = cap;
        }
    }
    if (copy && !late && j->n_segs < j->cap_segs) {
        j->segs[j->n_segs++] = (job__seg){seg->t0_s, seg->t1_s, copy};
        job__wake_subs(j);
        stored = true;
    }
    pthread_mutex_unlock(&j->mu);
    if (!stored) {
        free(copy);
        if (!late)
            MDC_LOG_WARN("job %s: a segment event was dropped (out of memory)", j->id);
    }
}

/* Stops the job when the server's drain grace is over. */
static bool hook_should_stop(void *owner)
{
    job *j = owner;
    if (!atomic_load(&j->work.srv->grace_over) && !atomic_load(&j->store->closing))
        return false;
    work_cancel(&j->work, 503, "shutting_down",
                "the server is shutting down; the job was not finished");
    return true;
}

static void hook_finished(void *owner, pipeline_result *res)
{
    job *j = owner;
    pthread_mutex_lock(&j->mu);
    if (j->status != JOB_CANCELLED) { /* a cancelled job keeps its cancellation */
        pipeline_result_free(&j->result);
        j->result = *res;
        memset(res, 0, sizeof *res);
        j->status = j->result.http_status == 200 ? JOB_DONE : JOB_FAILED;
        if (j->status == JOB_DONE)
            j->progress = 100;
        j->finished_s = mdc_now_s();
        j->version++;
        job__wake_subs(j);
    }
    pthread_mutex_unlock(&j->mu);
}

const work_hooks job_work_hooks = {
    .retain = hook_retain,
    .release = hook_release,
    .started = hook_started,
    .progress = hook_progress,
    .segment = hook_segment,
    .should_stop = hook_should_stop,
    .finished = hook_finished,
};

bool job_cancel(job *j)
{
    pthread_mutex_lock(&j->mu);
    bool unfinished = !finished_status(j->status);
    if (unfinished) {
        j->status = JOB_CANCELLED;
        pipeline_result_free(&j->result);
        memset(&j->result, 0, sizeof j->result);
        j->result.http_status = JOB_CANCELLED_HTTP_STATUS;
        snprintf(j->result.error_code, sizeof j->result.error_code, "cancelled");
        snprintf(j->result.error_message, sizeof j->result.error_message,
                 "the job was cancelled (DELETE /jobs/%s)", j->id);
        j->finished_s = mdc_now_s();
        j->version++;
        job__wake_subs(j);
    }
    pthread_mutex_unlock(&j->mu);
    if (unfinished)
        work_cancel(&j->work, JOB_CANCELLED_HTTP_STATUS, "cancelled", "the job was cancelled");
    return unfinished;
}

/* ---- store upkeep ------------------------------------------------------------------ */

static void heartbeat_one(job *j, void *arg)
{
    (void)arg;
    pthread_mutex_lock(&j->mu);
    job__heartbeat_subs(j);
    pthread_mutex_unlock(&j->mu);
}

void jobs_tick(job_store *s)
{
    double now = mdc_now_s();
    s->ops->expire(s, now);
    if (now - s->last_heartbeat_s >= JOB__HEARTBEAT_S) {
        s->last_heartbeat_s = now;
        s->ops->each(s, heartbeat_one, NULL);
    }
}

void job__set_final(job *j, job_status st, pipeline_result *res)
{
    pthread_mutex_lock(&j->mu);
    if (!finished_status(j->status)) {
        pipeline_result_free(&j->result);
        j->result = *res;
        memset(res, 0, sizeof *res);
        j->status = st;
        if (st == JOB_DONE)
            j->progress = 100;
        j->finished_s = mdc_now_s();
        j->version++;
        job__wake_subs(j);
    }
    pthread_mutex_unlock(&j->mu);
}

int jobs_count(job_store *s, int counts[JOB_N_STATUS])
{
    memset(counts, 0, JOB_N_STATUS * sizeof counts[0]);
    return s->ops->count(s, counts);
}

static void close_one(job *j, void *arg)
{
    (void)arg;
    pthread_mutex_lock(&j->mu);
    bool unfinished = !finished_status(j->status);
    job__wake_subs(j); /* streams of unfinished jobs end with shutting_down */
    pthread_mutex_unlock(&j->mu);
    if (unfinished)
        work_cancel(&j->work, 503, "shutting_down",
                    "the server is shutting down; the job was not finished");
}

void jobs_close(job_store *s)
{
    if (!s)
        return;
    atomic_store(&s->closing, true);
    s->ops->each(s, close_one, NULL);
}

void jobs_free(job_store *s)
{
    if (s)
        s->ops->destroy(s);
}
