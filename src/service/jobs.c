/*
 * jobs.c — in-process job store and SSE progress streams (see jobs.h).
 *
 * Locks: the store mutex guards the job table; each job's mutex guards its state and
 * its SSE subscriber list.  The store mutex is never taken while a job mutex is held.
 */
#include "jobs.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "mdc/clock.h"
#include "mdc/log.h"

#define JOB__HEARTBEAT_S 15.0 /* SSE comment line so proxies keep the stream open */

struct job__seg {
    double start_s, end_s;
    char *text;
};

struct job__sub {
    job *j;
    struct MHD_Connection *conn;
    unsigned sent_version;
    int sent_segs;          /* segment events already formatted */
    bool started, ended, suspended, heartbeat;
    char *pending;          /* the event being sent (malloc'd), or NULL */
    size_t pend_len, pend_off;
    job__sub *next;
};

struct job_store {
    pthread_mutex_t mu;
    job **slots; /* [max_jobs], NULL = free */
    int max_jobs;
    int ttl_seconds;
    atomic_bool closing;
    double last_heartbeat_s;
};

job_store *jobs_new(int ttl_seconds, int max_jobs)
{
    job_store *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->slots = calloc((size_t)max_jobs, sizeof *s->slots);
    if (!s->slots) {
        free(s);
        return NULL;
    }
    s->max_jobs = max_jobs;
    s->ttl_seconds = ttl_seconds;
    pthread_mutex_init(&s->mu, NULL);
    s->last_heartbeat_s = mdc_now_s();
    return s;
}

const char *job_status_name(job_status st)
{
    switch (st) {
    case JOB_QUEUED: return "queued";
    case JOB_RUNNING: return "running";
    case JOB_DONE: return "done";
    case JOB_FAILED: return "failed";
    }
    return "unknown";
}

bool job_should_abort(void *arg)
{
    job *j = arg;
    return atomic_load(&j->abort) || atomic_load(&j->store->closing);
}

/* Wakes every suspended SSE stream of j.  Caller holds j->mu. */
static void wake_subs(job *j)
{
    for (job__sub *s = j->subs; s; s = s->next)
        if (s->suspended) {
            s->suspended = false;
            MHD_resume_connection(s->conn);
        }
}

static void job_free(job *j)
{
    for (int i = 0; i < j->n_segs; i++)
        free(j->segs[i].text);
    free(j->segs);
    upl_free(j->form);
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

job *jobs_create(job_store *s, upl_form *form)
{
    if (atomic_load(&s->closing))
        return NULL;
    job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    pthread_mutex_init(&j->mu, NULL);
    random_id(j->id);
    j->store = s;
    j->refs = 2; /* store + caller */
    j->status = JOB_QUEUED;
    j->created_wall_s = mdc_wall_s();
    job *evicted = NULL;
    pthread_mutex_lock(&s->mu);
    int slot = -1;
    for (int i = 0; i < s->max_jobs && slot < 0; i++)
        if (!s->slots[i])
            slot = i;
    if (slot < 0) {
        /* full: make room by dropping the job that finished first (unfinished jobs stay) */
        double oldest = 0;
        for (int i = 0; i < s->max_jobs; i++) {
            job *o = s->slots[i];
            pthread_mutex_lock(&o->mu);
            bool finished = o->status == JOB_DONE || o->status == JOB_FAILED;
            double fin = o->finished_s;
            pthread_mutex_unlock(&o->mu);
            if (finished && (slot < 0 || fin < oldest)) {
                slot = i;
                oldest = fin;
            }
        }
        if (slot >= 0)
            evicted = s->slots[slot];
    }
    if (slot >= 0)
        s->slots[slot] = j;
    pthread_mutex_unlock(&s->mu);
    job_unref(evicted);
    if (slot < 0) {
        pthread_mutex_destroy(&j->mu);
        free(j);
        return NULL;
    }
    j->form = form;
    return j;
}

void jobs_remove(job_store *s, job *j)
{
    bool found = false;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->max_jobs; i++)
        if (s->slots[i] == j) {
            s->slots[i] = NULL;
            found = true;
        }
    pthread_mutex_unlock(&s->mu);
    if (found)
        job_unref(j);
}

job *jobs_find(job_store *s, const char *id)
{
    job *found = NULL;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->max_jobs && !found; i++)
        if (s->slots[i] && strcmp(s->slots[i]->id, id) == 0) {
            found = s->slots[i];
            pthread_mutex_lock(&found->mu);
            found->refs++;
            pthread_mutex_unlock(&found->mu);
        }
    pthread_mutex_unlock(&s->mu);
    return found;
}

void job_set_running(job *j)
{
    pthread_mutex_lock(&j->mu);
    j->status = JOB_RUNNING;
    j->version++;
    wake_subs(j);
    pthread_mutex_unlock(&j->mu);
}

void job_set_progress(job *j, int percent)
{
    if (percent < 0)
        percent = 0;
    if (percent > 100)
        percent = 100;
    pthread_mutex_lock(&j->mu);
    if (percent != j->progress) {
        j->progress = percent;
        j->version++;
        wake_subs(j);
    }
    pthread_mutex_unlock(&j->mu);
}

void job_add_segment(job *j, double start_s, double end_s, const char *text)
{
    char *copy = strdup(text ? text : "");
    pthread_mutex_lock(&j->mu);
    if (copy && j->n_segs == j->cap_segs) {
        int cap = j->cap_segs ? 2 * j->cap_segs : 16;
        struct job__seg *ns = realloc(j->segs, (size_t)cap * sizeof *ns);
        if (ns) {
            j->segs = ns;
            j->cap_segs = cap;
        }
    }
    if (copy && j->n_segs < j->cap_segs) {
        j->segs[j->n_segs++] = (struct job__seg){start_s, end_s, copy};
        wake_subs(j);
        copy = NULL;
    }
    pthread_mutex_unlock(&j->mu);
    if (copy || !text) {
        free(copy);
        MDC_LOG_WARN("job %s: a segment event was dropped (out of memory)", j->id);
    }
}

void job_finish(job *j, pipeline_result *res)
{
    /* Unlink the upload first: a client that sees the job finished must not find it. */
    upl_form *form = j->form; /* only the worker touches form and preq now */
    j->form = NULL;
    memset(&j->preq, 0, sizeof j->preq);
    upl_free(form);
    pthread_mutex_lock(&j->mu);
    j->result = *res;
    memset(res, 0, sizeof *res);
    j->status = j->result.http_status == 200 ? JOB_DONE : JOB_FAILED;
    if (j->status == JOB_DONE)
        j->progress = 100;
    j->finished_s = mdc_now_s();
    j->version++;
    wake_subs(j);
    pthread_mutex_unlock(&j->mu);
}

/* Builds the status object.  Caller holds j->mu. */
static json_t *status_object(job *j)
{
    json_t *o = json_pack("{s:s, s:s, s:i}", "id", j->id, "status", job_status_name(j->status),
                          "progress", j->progress);
    if (!o)
        return NULL;
    json_object_set_new(o, "created_at", json_real(j->created_wall_s));
    if (j->status == JOB_DONE) {
        char url[64];
        snprintf(url, sizeof url, "/jobs/%s/result", j->id);
        json_object_set_new(o, "result_url", json_string(url));
        json_object_set_new(o, "audio_seconds", json_real(j->result.audio_seconds));
        json_object_set_new(o, "processing_seconds", json_real(j->result.processing_seconds));
        if (j->result.language[0])
            json_object_set_new(o, "language", json_string(j->result.language));
    } else if (j->status == JOB_FAILED) {
        json_object_set_new(o, "http_status", json_integer(j->result.http_status));
        json_object_set_new(o, "error", json_pack("{s:s, s:s}", "code", j->result.error_code,
                                                  "message", j->result.error_message));
    }
    return o;
}

char *job_status_json(job *j)
{
    pthread_mutex_lock(&j->mu);
    json_t *o = status_object(j);
    pthread_mutex_unlock(&j->mu);
    if (!o)
        return NULL;
    char *txt = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return txt;
}

/* Sets sub->pending to "event: NAME\ndata: JSON\n\n" (prefixed by the reconnect delay on
 * the stream's first event) and steals `o`.  Falls back to a bare {"id"} object when the
 * JSON cannot be built, and to an empty pending event on OOM (the stream then ends). */
static void set_pending(job__sub *sub, const char *name, json_t *o)
{
    char *data = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    free(sub->pending);
    sub->pending = NULL;
    int n = asprintf(&sub->pending, "%sevent: %s\ndata: %s\n\n", sub->started ? "" : "retry: 2000\n",
                     name, data ? data : "{}");
    free(data);
    if (n < 0) {
        sub->pending = NULL;
        n = 0;
        sub->ended = true;
    }
    sub->pend_len = (size_t)n;
    sub->pend_off = 0;
    sub->started = true;
}

/* Formats the next event into sub->pending: unsent segments first, then the status
 * (see jobs.h for the events).  Caller holds j->mu. */
static void format_event(job__sub *sub)
{
    job *j = sub->j;
    if (sub->sent_segs < j->n_segs) {
        const struct job__seg *g = &j->segs[sub->sent_segs];
        json_t *o = json_pack("{s:s, s:i, s:f, s:f, s:s}", "id", j->id, "index", sub->sent_segs,
                              "start", g->start_s, "end", g->end_s, "text", g->text);
        sub->sent_segs++;
        set_pending(sub, "segment", o);
        return;
    }
    if (atomic_load(&j->store->closing) && j->status != JOB_DONE && j->status != JOB_FAILED) {
        json_t *o = json_pack("{s:s, s:s, s:i, s:{s:s, s:s}}", "id", j->id, "status", "failed",
                              "http_status", 503, "error", "code", "shutting_down", "message",
                              "the server is shutting down; the job was not finished");
        set_pending(sub, "error", o);
        sub->ended = true;
        return;
    }
    const char *ev = j->status == JOB_DONE ? "done" : j->status == JOB_FAILED ? "error" : "progress";
    set_pending(sub, ev, status_object(j));
    sub->sent_version = j->version;
    if (j->status == JOB_DONE || j->status == JOB_FAILED)
        sub->ended = true; /* END_OF_STREAM once this event is out */
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    job__sub *sub = cls;
    job *j = sub->j;
    ssize_t ret;
    pthread_mutex_lock(&j->mu);
    if (sub->pend_off == sub->pend_len) {
        if (sub->ended) {
            pthread_mutex_unlock(&j->mu);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (!sub->started || sub->sent_segs < j->n_segs || sub->sent_version != j->version ||
            atomic_load(&j->store->closing)) {
            format_event(sub);
        } else if (sub->heartbeat) {
            sub->heartbeat = false;
            free(sub->pending);
            sub->pending = strdup(": ping\n\n");
            sub->pend_len = sub->pending ? strlen(sub->pending) : 0;
            sub->pend_off = 0;
        } else {
            /* nothing new: park the connection until the job changes (no busy loop) */
            sub->suspended = true;
            MHD_suspend_connection(sub->conn);
            pthread_mutex_unlock(&j->mu);
            return 0;
        }
    }
    size_t n = sub->pend_len - sub->pend_off;
    if (n > max)
        n = max;
    if (n)
        memcpy(buf, sub->pending + sub->pend_off, n);
    sub->pend_off += n;
    ret = (ssize_t)n;
    pthread_mutex_unlock(&j->mu);
    if (ret == 0) /* nothing could be formatted (OOM): end rather than spin */
        return MHD_CONTENT_READER_END_OF_STREAM;
    return ret;
}

static void sse_free(void *cls)
{
    job__sub *sub = cls;
    job *j = sub->j;
    pthread_mutex_lock(&j->mu);
    for (job__sub **p = &j->subs; *p; p = &(*p)->next)
        if (*p == sub) {
            *p = sub->next;
            break;
        }
    pthread_mutex_unlock(&j->mu);
    free(sub->pending);
    free(sub);
    job_unref(j);
}

struct MHD_Response *job_events_response(job *j, struct MHD_Connection *conn)
{
    job__sub *sub = calloc(1, sizeof *sub);
    if (!sub)
        return NULL;
    sub->j = j;
    sub->conn = conn;
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, sse_read, sub, sse_free);
    if (!r) {
        free(sub);
        return NULL;
    }
    pthread_mutex_lock(&j->mu);
    j->refs++;
    sub->next = j->subs;
    j->subs = sub;
    pthread_mutex_unlock(&j->mu);
    return r;
}

void jobs_tick(job_store *s)
{
    double now = mdc_now_s();
    job *expired[16];
    int n_expired = 0;
    bool heartbeat = now - s->last_heartbeat_s >= JOB__HEARTBEAT_S;
    if (heartbeat)
        s->last_heartbeat_s = now;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->max_jobs; i++) {
        job *j = s->slots[i];
        if (!j)
            continue;
        pthread_mutex_lock(&j->mu);
        bool finished = j->status == JOB_DONE || j->status == JOB_FAILED;
        bool old = finished && now - j->finished_s > s->ttl_seconds;
        if (heartbeat)
            for (job__sub *sub = j->subs; sub; sub = sub->next)
                if (sub->suspended) {
                    sub->heartbeat = true;
                    sub->suspended = false;
                    MHD_resume_connection(sub->conn);
                }
        pthread_mutex_unlock(&j->mu);
        if (old && n_expired < 16) {
            s->slots[i] = NULL;
            expired[n_expired++] = j;
        }
    }
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < n_expired; i++) {
        MDC_LOG_DEBUG("job %s expired", expired[i]->id);
        job_unref(expired[i]);
    }
}

void jobs_close(job_store *s)
{
    if (!s)
        return;
    atomic_store(&s->closing, true);
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->max_jobs; i++) {
        job *j = s->slots[i];
        if (!j)
            continue;
        pthread_mutex_lock(&j->mu);
        atomic_store(&j->abort, true);
        wake_subs(j);
        pthread_mutex_unlock(&j->mu);
    }
    pthread_mutex_unlock(&s->mu);
}

void jobs_free(job_store *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->max_jobs; i++)
        job_unref(s->slots[i]);
    pthread_mutex_destroy(&s->mu);
    free(s->slots);
    free(s);
}
