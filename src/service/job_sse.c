/*
 * job_sse.c — GET /jobs/{id}/events as Server-Sent Events (events in jobs.h).
 *
 * One subscriber per stream, linked into its job's list under the job's mutex.  The
 * content reader formats the next event when the job changed; when nothing is new it
 * suspends its connection (MHD's thread never spins) and job changes resume it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs.h"

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

void job__wake_subs(job *j)
{
    for (job__sub *s = j->subs; s; s = s->next)
        if (s->suspended) {
            s->suspended = false;
            MHD_resume_connection(s->conn);
        }
}

void job__heartbeat_subs(job *j)
{
    for (job__sub *s = j->subs; s; s = s->next)
        if (s->suspended) {
            s->heartbeat = true;
            s->suspended = false;
            MHD_resume_connection(s->conn);
        }
}

static bool is_final(job_status st)
{
    return st == JOB_DONE || st == JOB_FAILED || st == JOB_CANCELLED;
}

/* Sets sub->pending to "event: NAME\ndata: JSON\n\n" (prefixed by the reconnect delay on
 * the stream's first event) and steals `o`.  Falls back to "{}" when the JSON cannot be
 * built, and to an empty pending event on OOM (the stream then ends). */
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

/* Formats the next event into sub->pending: unsent segments first (unless the job was
 * cancelled), then the status.  Caller holds j->mu. */
static void format_event(job__sub *sub)
{
    job *j = sub->j;
    if (sub->sent_segs < j->n_segs && j->status != JOB_CANCELLED) {
        set_pending(sub, "segment", job__segment_object(j, sub->sent_segs));
        sub->sent_segs++;
        return;
    }
    if (atomic_load(&j->store->closing) && !is_final(j->status)) {
        set_pending(sub, "error", job__shutdown_object(j));
        sub->ended = true;
        return;
    }
    const char *ev = j->status == JOB_DONE ? "done" : is_final(j->status) ? "error" : "progress";
    set_pending(sub, ev, job__status_object(j));
    sub->sent_version = j->version;
    if (is_final(j->status))
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
        bool segs_due = sub->sent_segs < j->n_segs && j->status != JOB_CANCELLED;
        if (!sub->started || segs_due || sub->sent_version != j->version ||
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
