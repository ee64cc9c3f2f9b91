/*
 * work.h — the one unit of transcription work (prefix work_) shared by the synchronous
 * endpoints (http_req, http_transcribe.c) and the asynchronous ones (job, jobs.h).
 *
 * A work unit owns the upload (form + its temp file), the pipeline request built from
 * it, and the reasons to stop early.  Its owner (a request or a job) embeds it and says,
 * through a hooks table, how to keep itself alive while a worker uses it, what else
 * should stop it, and what to do with the result.  work_submit() hands it to the worker
 * pool; the worker runs the pipeline, unlinks the upload, then gives the result to the
 * owner — one path for every endpoint (refs, cancellation, result and upload hand-off).
 *
 * Cancellation: work_cancel() records the first reason {HTTP status, JSON code,
 * message} and sets the flag the pipeline's abort callback polls (decode and engine), so
 * a running transcription stops within one abort poll; a unit cancelled before a worker
 * takes it never runs the pipeline.  A cancelled unit's failed result carries that
 * reason instead of the pipeline's generic "cancelled".
 *
 * Thread-safety: work_cancel() and work_cancelled() may be called from any thread; the
 * rest follows the hand-off: the owner's thread until work_submit(), then the worker.
 */
#ifndef MDC_SERVICE_WORK_H
#define MDC_SERVICE_WORK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "pipeline.h"
#include "upload.h"

struct svc_server;

/* What a work unit's owner does at each step.  Every hook runs on the worker thread
 * except retain/release on a failed submission (the caller's thread).  owner is the
 * pointer given to work_init(). */
typedef struct work_hooks {
    void (*retain)(void *owner);   /* one more reference for the worker task */
    void (*release)(void *owner);  /* drops the task's reference (last call of a task) */
    void (*started)(void *owner);  /* a worker took it (may be NULL) */
    void (*progress)(int percent, void *owner);                   /* may be NULL */
    void (*segment)(const pipeline_segment *seg, void *owner);    /* may be NULL */
    /* Extra reasons to stop, polled with the cancel flag (may be NULL); it may call
     * work_cancel() itself to record why. */
    bool (*should_stop)(void *owner);
    /* The result: the owner takes *res (moves it out; what is left is freed).  Runs
     * after the upload was unlinked. */
    void (*finished)(void *owner, pipeline_result *res);
} work_hooks;

typedef struct svc_work {
    struct svc_server *srv;
    const char *endpoint;       /* metrics label (route endpoint), static storage */
    upl_form *form;             /* owned; freed by the worker before finished() */
    char *audio_tmp;            /* or: a temp file of ours (malloc'd path), unlinked and
                                   freed like the form (jobs taken from Redis) */
    pipeline_request preq;      /* strings point into form */
    const work_hooks *hooks;
    void *owner;

    atomic_bool cancel;         /* polled by the pipeline's abort callback */
    pthread_mutex_t mu;         /* guards the reason below */
    int cancel_status;          /* 0 = not cancelled */
    char cancel_code[48];
    char cancel_message[256];
} svc_work;

/* Sets up w for owner (no allocation; form may be NULL until work_take_form()). */
void work_init(svc_work *w, struct svc_server *srv, const char *endpoint,
               const work_hooks *hooks, void *owner);
/* Frees what the unit still owns (the upload, when it never reached a worker).  Accepts
 * a unit that was only zeroed. */
void work_destroy(svc_work *w);

/* Hands w to the worker pool (the hooks' retain() is called first).  Wires the pipeline
 * callbacks of w->preq to the hooks.  Returns 0, or -1 when the pool is full or stopping
 * (retain undone, nothing ran; the caller keeps everything). */
int work_submit(svc_work *w);

/* Records why w must stop (the first reason wins) and raises the cancel flag.
 * status/code/message become the failed result's.  Thread-safe. */
void work_cancel(svc_work *w, int status, const char *code, const char *message);
/* True once work_cancel() ran.  Thread-safe. */
bool work_cancelled(svc_work *w);

#endif
