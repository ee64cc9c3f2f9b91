/*
 * jobs.h — asynchronous transcription jobs (prefix job_ / jobs_): the job object, the
 * job store behind one private interface, the SSE transport and the JSON formatting.
 *
 * Pieces (one file each):
 *   jobs.c      the job object (refs, state changes that wake SSE streams, cancel) and
 *               the store front that dispatches to a backend;
 *   jobs_mem.c  the in-process backend (a bounded table in this process, the default);
 *   job_sse.c   GET /jobs/{id}/events as Server-Sent Events;
 *   job_json.c  the status object and the event payloads.
 * A backend is a job_store_ops table (the way Redis's ae.c hides epoll/kqueue/select
 * behind one interface); the HTTP layer only calls the functions below.
 *
 * A job is created by POST /jobs (202 with its id at once), runs on the worker pool as a
 * work unit (work.h: the same path as the synchronous endpoints), and keeps its result
 * until it expires (JOBS_TTL_SECONDS after it finished).  At most JOBS_MAX jobs are kept;
 * when the store is full the job that finished first is dropped.
 *
 * Lifetime: jobs are reference-counted; the store holds one reference until the job
 * expires, is deleted or the store is freed; every jobs_create()/jobs_find()/jobs_list()
 * caller one more, each SSE stream one, a worker task one.  The job's work unit owns its
 * upload (and so its temp file) until the worker ran it.
 *
 * Statuses: queued → running → done | failed, or → cancelled (DELETE /jobs/{id}) from
 * queued or running.  A cancelled job never reports a result: a queued one never starts,
 * a running one stops at the engine's next abort poll and its worker is freed.
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
 *   error     {"id","status":"failed"|"cancelled","http_status":4xx/5xx,
 *             "error":{"code","message"}} — last event: the job failed (the pipeline's
 *             code), was cancelled (code "cancelled", http_status 410), or the server
 *             stopped before it finished (code "shutting_down", http_status 503).
 * Segments always come before the job's done/error event.  A stream opened later (a
 * reconnect) first replays every segment so far.
 *
 * Thread-safety: every function is thread-safe.
 */
#ifndef MDC_SERVICE_JOBS_H
#define MDC_SERVICE_JOBS_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "pipeline.h"
#include "work.h"

typedef enum job_status {
    JOB_QUEUED = 0,
    JOB_RUNNING,
    JOB_DONE,
    JOB_FAILED,
    JOB_CANCELLED,
} job_status;
#define JOB_N_STATUS 5

/* HTTP status kept for a cancelled job (its /result answers it with code "cancelled"). */
#define JOB_CANCELLED_HTTP_STATUS 410

typedef struct job_store job_store;
typedef struct job__sub job__sub;

typedef struct job__seg {
    double start_s, end_s;
    char *text;
} job__seg;

typedef struct job {
    char id[33];                 /* 32 lowercase hex digits (128 random bits) */
    job_store *store;
    uint64_t seq;                /* creation order in the store (list paging) */
    svc_work work;               /* upload, pipeline request, cancellation (work.h) */
    bool want_json;              /* result as {"markdown","segments"} by default */

    /* guarded by the job's mutex */
    pthread_mutex_t mu;
    int refs;
    job_status status;
    int progress;                /* 0…100 */
    unsigned version;            /* bumped on every change (SSE) */
    double created_wall_s;       /* unix seconds */
    double finished_s;           /* monotonic, for expiry; 0 while unfinished */
    job__seg *segs;              /* segments so far, for `segment` events [n_segs] */
    int n_segs, cap_segs;
    pipeline_result result;      /* valid once DONE, FAILED or CANCELLED */
    job__sub *subs;              /* SSE streams (job_sse.c) */

    void *backend;               /* the backend's per-job data, freed by backend_free */
    void (*backend_free)(void *backend);
} job;

/* ---- the store interface (backends implement it) ------------------------------ */

/* A filter and page for jobs_list(). */
typedef struct job_query {
    int status;                  /* a job_status, or -1 for any */
    int limit;                   /* 1…JOBS_LIST_MAX */
    const char *after;           /* id of the last job of the previous page, or NULL */
} job_query;
#define JOBS_LIST_MAX 100
#define JOBS_LIST_DEFAULT 20

/* Errors of the store front (jobs_create, jobs_find). */
enum {
    JOBS_OK = 0,
    JOBS_E_FULL = -1,        /* every kept job is unfinished, or the pool is full (503) */
    JOBS_E_UNAVAILABLE = -2, /* the backend cannot be reached (503 jobs_unavailable) */
    JOBS_E_CLOSING = -3,     /* shutting down (503) */
    JOBS_E_ROLE = -4,        /* this replica takes no uploads (JOBS_ROLE=worker, 403) */
};

/* What a backend provides.  Entries marked optional may be NULL.  Each is called
 * without any job mutex held and must be thread-safe. */
typedef struct job_store_ops {
    const char *name;            /* "memory", "redis" */
    /* True when submitted jobs wait in the backend (Redis) rather than in this process's
     * worker pool: admission of POST /jobs then counts only the uploads being received
     * here, not the local pool's tasks. */
    bool own_queue;
    /* True when the calls below may wait on the network (up to the backend's timeout):
     * the HTTP layer then makes them on its I/O thread, never on the polling thread
     * (routes.h, ROUTE_STORE).  healthy() and each() must not wait in any backend. */
    bool blocking;
    /* Keeps j (id, seq, times, work.form and work.preq set; one reference for the
     * caller) and schedules it to run.  Returns JOBS_OK (the store holds what it
     * needs; j's upload may have been consumed), or a JOBS_E_* error (j untouched). */
    int (*submit)(job_store *s, job *j);
    /* The job with that id with a reference for the caller, or NULL with *err
     * JOBS_OK (unknown or expired) or JOBS_E_UNAVAILABLE. */
    job *(*find)(job_store *s, const char *id, int *err);
    /* Forgets a finished job (DELETE).  Returns JOBS_OK or JOBS_E_UNAVAILABLE. */
    int (*remove)(job_store *s, job *j);
    /* Cancels j if unfinished (see job_cancel).  Returns 1 when it was unfinished, 0
     * when it had finished, JOBS_E_UNAVAILABLE. */
    int (*cancel)(job_store *s, job *j);
    /* Jobs matching q, newest first, each with a new reference, into out[q->limit].
     * Returns how many; *more is set when the next page is not empty; -1 when
     * q->after names no kept job; JOBS_E_UNAVAILABLE. */
    int (*list)(job_store *s, const job_query *q, job **out, bool *more);
    /* Optional: keeps j (found by find()) up to date for its SSE streams. */
    void (*follow)(job_store *s, job *j);
    /* Calls fn on every job this process holds (heartbeats, shutdown). */
    void (*each)(job_store *s, void (*fn)(job *j, void *arg), void *arg);
    /* Counts jobs by status into counts[JOB_N_STATUS] (metrics); -1 when unknown. */
    int (*count)(job_store *s, int counts[JOB_N_STATUS]);
    /* Periodic upkeep (expiry), on the main thread. */
    void (*expire)(job_store *s, double now_s);
    /* Optional: false when the store cannot take or answer jobs now (/ready); answers
     * from what the backend last saw, without a round trip. */
    bool (*healthy)(job_store *s);
    /* Optional: stops the backend's threads (before the worker pool is freed). */
    void (*stop)(job_store *s);
    /* Releases every job and the backend's state. */
    void (*destroy)(job_store *s);
} job_store_ops;

/* The fields every backend shares (the backend's state follows in its own struct, of
 * which this is the first member). */
struct job_store {
    const job_store_ops *ops;
    int ttl_seconds;
    int max_jobs;
    atomic_uint_fast64_t next_seq;
    atomic_bool closing;          /* no new jobs; unfinished ones end with shutting_down */
    double last_heartbeat_s;      /* SSE heartbeats (jobs_tick) */
};

/* The in-process backend (jobs_mem.c): at most max_jobs jobs; finished ones expire after
 * ttl_seconds.  Returns NULL on OOM. */
job_store *jobs_mem_new(int ttl_seconds, int max_jobs);
/* The Redis backend (jobs_redis.c; see there and docs/DEPLOY.md "Scaling out") for
 * JOBS_REDIS_URL: jobs, their uploads, events and results live in Redis; a claimer
 * thread takes jobs for this replica's free workers unless JOBS_ROLE=api.  Returns NULL
 * with why on a bad URL or OOM (Redis itself need not be up). */
job_store *jobs_redis_new(struct svc_server *srv, char *why, size_t whylen);

/* ---- the store front (jobs.c) --------------------------------------------------- */

/* Creates a QUEUED job for `srv` whose work unit takes `form` and `preq` (strings
 * pointing into form) and submits it.  Returns it with a reference for the caller, or
 * NULL with *err a JOBS_E_* code (form untouched: the caller still owns it). */
job *jobs_create(job_store *s, struct svc_server *srv, upl_form *form,
                 const pipeline_request *preq, bool want_json, int *err);
/* Finds a job by id; returns it with a new reference, or NULL with *err (see ops). */
job *jobs_find(job_store *s, const char *id, int *err);
/* See job_store_ops.remove / .list / .cancel / .follow. */
int jobs_remove(job_store *s, job *j);
int jobs_list(job_store *s, const job_query *q, job **out, bool *more);
int jobs_cancel(job_store *s, job *j);
void jobs_follow(job_store *s, job *j);
/* True when the store can take and answer jobs (/ready). */
bool jobs_healthy(job_store *s);
void job_unref(job *j);
void job__ref(job *j);
/* A new QUEUED job object (refs 1, for the caller) of store s, not kept anywhere;
 * id NULL = a fresh random id.  For backends.  NULL on OOM. */
job *job__new(job_store *s, struct svc_server *srv, const char *id);

/* Shutdown, after the drain: marks the store closing (no new jobs), cancels every
 * unfinished job with 503 shutting_down and ends their SSE streams with that error. */
void jobs_close(job_store *s);
/* Shutdown, last step (after the workers and the daemon stopped): drops the store's
 * references and frees it.  Accepts NULL. */
void jobs_free(job_store *s);
/* Drops expired jobs and sends SSE heartbeats; the server calls it every tick. */
void jobs_tick(job_store *s);
/* Jobs in each status, into counts[JOB_N_STATUS] (metrics).  Returns 0 or -1. */
int jobs_count(job_store *s, int counts[JOB_N_STATUS]);
/* Stops the backend's threads (before the worker pool is freed). */
void jobs_stop(job_store *s);

/* Cancels the local job object j: a queued or running job becomes CANCELLED at once
 * (its SSE streams end with `error` cancelled) and its work unit is told to stop.
 * Returns true when it was unfinished, false when it had already finished. */
bool job_cancel(job *j);
/* Sets j's final state from an event (the Redis backend's followers), waking its
 * streams: status DONE/FAILED/CANCELLED with res's numbers and error (moved).  Caller
 * does not hold j->mu. */
void job__set_final(job *j, job_status st, pipeline_result *res);

/* The in-process backend's work hooks (state changes go to the local job). */
extern const work_hooks job_work_hooks;

/* ---- formatting (job_json.c) ------------------------------------------------------ */

const char *job_status_name(job_status s);
/* Parses a status name; returns the job_status or -1. */
int job_status_parse(const char *name);
/* The status object of GET /jobs/{id} (new reference, NULL on OOM).  Caller holds j->mu. */
json_t *job__status_object(const job *j);
/* Snapshot for GET /jobs/{id}: a malloc'd JSON object text, NULL on OOM. */
char *job_status_json(job *j);
/* The payload of segment event i (new reference).  Caller holds j->mu. */
json_t *job__segment_object(const job *j, int i);
/* The `error` payload when the server stops under an unfinished job (new reference). */
json_t *job__shutdown_object(const job *j);

/* ---- SSE (job_sse.c) ---------------------------------------------------------------- */

/* SSE response for GET /jobs/{id}/events on `conn` (takes its own job reference).
 * Returns NULL on OOM. */
struct MHD_Response *job_events_response(job *j, struct MHD_Connection *conn);
/* Wakes j's suspended streams.  Caller holds j->mu. */
void job__wake_subs(job *j);
/* Resumes j's idle streams with a heartbeat comment.  Caller holds j->mu. */
void job__heartbeat_subs(job *j);

#endif
