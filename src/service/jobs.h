/*
 * jobs.h — asynchronous transcription jobs and their Server-Sent Events progress
 * streams (prefix job_ / jobs_).
 *
 * A job is created by POST /jobs (202 with its id at once), runs on the worker pool,
 * and keeps its result until it expires (ttl_seconds after it finished).  Jobs live in
 * this process only (DESIGN §8: a shared store is for later).
 *
 * Lifetime: jobs are reference-counted; the store holds one reference until the job
 * expires or the store is freed, every jobs_find()/jobs_create() caller one more, each
 * SSE stream one.  The job owns its upload form (and so its temp file) until
 * job_finish() releases it.
 *
 * SSE: job_events_response() returns a response whose content reader sends the job's
 * events (below) as they happen, then ends the stream.  When there is nothing new the
 * reader suspends its connection (so MHD's thread never spins) and job updates resume
 * it.  A stream opened later (a reconnect) first replays every segment so far.
 *
 * Events of GET /jobs/{id}/events (each `event: NAME` + one `data:` line of JSON; the
 * first one is preceded by `retry: 2000`; `: ping` comments every 15 s keep proxies
 * from closing an idle stream):
 *   progress  {"id","status":"queued"|"running","progress":0…100,"created_at":unix_s}
 *             — at the start and whenever the status or the percent changes;
 *   segment   {"id","index":0…,"start":s,"end":s,"text":"…"} — one per transcribed
 *             segment as the engine produces it (times in seconds, clamped to the
 *             audio; text as the engine wrote it, leading space included);
 *   done      the status object with "status":"done", "progress":100, "result_url",
 *             "audio_seconds", "processing_seconds", "language" — last event;
 *   error     {"id","status":"failed","http_status":4xx/5xx,"error":{"code","message"}}
 *             when the job failed, or with code "shutting_down" (http_status 503) when
 *             the server stops before the job finished — last event.
 * Segments always come before the job's done/error event.
 *
 * Thread-safety: every function is thread-safe.
 */
#ifndef MDC_SERVICE_JOBS_H
#define MDC_SERVICE_JOBS_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "pipeline.h"
#include "upload.h"

typedef enum job_status { JOB_QUEUED = 0, JOB_RUNNING, JOB_DONE, JOB_FAILED } job_status;

typedef struct job_store job_store;
typedef struct job__sub job__sub;

typedef struct job {
    char id[33];                 /* 32 lowercase hex digits (128 random bits) */
    job_store *store;
    /* set before submission, then used only by the worker */
    upl_form *form;              /* owned; freed by job_finish() */
    pipeline_request preq;       /* strings point into form */
    bool want_json;              /* result as {"markdown","segments"} by default */
    atomic_bool abort;

    /* guarded by the job's mutex; read through the functions below */
    pthread_mutex_t mu;
    int refs;
    job_status status;
    int progress;                /* 0…100 */
    unsigned version;            /* bumped on every change (SSE) */
    double created_wall_s, finished_s; /* wall clock; monotonic finish for expiry */
    struct job__seg *segs;       /* segments so far, for `segment` events [n_segs] */
    int n_segs, cap_segs;
    pipeline_result result;      /* valid once DONE or FAILED */
    job__sub *subs;
} job;

/* A store keeping at most max_jobs jobs; finished jobs expire after ttl_seconds. */
job_store *jobs_new(int ttl_seconds, int max_jobs);
/* Shutdown, step 1: marks the store closing (running jobs see job abort, new jobs are
 * refused) and ends every SSE stream (suspended ones are resumed to finish). */
void jobs_close(job_store *store);
/* Shutdown, last step (after the workers and the daemon stopped): drops the store's
 * references and frees it.  Accepts NULL. */
void jobs_free(job_store *store);
/* True once jobs_close() ran, or the job's own abort flag is set (pipeline abort_cb). */
bool job_should_abort(void *job);

/* Creates a QUEUED job that takes ownership of `form` on success.  When the store is
 * full, the job that finished first is dropped to make room.  Returns the job with a
 * reference for the caller, or NULL when every kept job is still unfinished (or the
 * store is closing; form untouched). */
job *jobs_create(job_store *store, upl_form *form);
/* Removes a job that could not be submitted (the store's reference is dropped). */
void jobs_remove(job_store *store, job *j);
/* Finds a job by id; returns it with a new reference, or NULL. */
job *jobs_find(job_store *store, const char *id);
void job_unref(job *j);

/* Worker side: state changes (each wakes the job's SSE streams). */
void job_set_running(job *j);
void job_set_progress(job *j, int percent);
/* Appends a new segment (times in seconds; text copied, valid UTF-8) for the `segment`
 * events.  On OOM the live event is skipped (logged); the final result is unaffected. */
void job_add_segment(job *j, double start_s, double end_s, const char *text);
/* Moves *res into the job (DONE if res->http_status == 200, else FAILED), frees the
 * form and its temp file. */
void job_finish(job *j, pipeline_result *res);

/* Snapshot for GET /jobs/{id}: a malloc'd JSON object text. */
char *job_status_json(job *j);
const char *job_status_name(job_status s);

/* SSE response for GET /jobs/{id}/events on `conn` (takes its own job reference).
 * Returns NULL on OOM. */
struct MHD_Response *job_events_response(job *j, struct MHD_Connection *conn);

/* Drops jobs finished more than ttl ago and sends SSE heartbeats; the server calls it
 * about once a second. */
void jobs_tick(job_store *store);

#endif
