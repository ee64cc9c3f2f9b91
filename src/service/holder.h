/*
 * holder.h — the model holder: lazy loading of one model (DESIGN §2) — a Whisper model
 * (holder_kind_whisper, the default) or a Silero VAD model (holder_kind_vad); the service
 * keeps one holder of each, with the same states, logs and metrics.
 *
 * States: UNLOADED → LOADING → READY; LOADING → FAILED (error kept; the next acquire
 * after the back-off retries); READY → UNLOADED (idle unload or reload, only at
 * refcount 0).
 * holder_acquire() returns a counted reference; the first caller loads, callers that
 * arrive during the load wait on a condition variable and get the same model or the
 * same error.  Exactly one load however many threads race.
 *
 * Logs "Lazy Loading: loading model NAME from PATH", "Lazy Loading: model NAME ready in
 * … ms (… bytes mapped …)", "Lazy Loading: failed to load model NAME …: REASON" and
 * "Lazy Loading: unloaded model NAME after … s idle", so `grep -i "lazy loading"` shows
 * the model's life.
 *
 * Metrics (when holder_options.metrics is set), label `model` = holder name:
 * mdconv_model_state (gauge: 0 unloaded, 1 loading, 2 ready, 3 failed),
 * mdconv_model_load_seconds (histogram), mdconv_model_loads_total,
 * mdconv_model_load_failures_total, mdconv_model_unloads_total (counters).
 * The families are registered by the first holder_new() on a registry and shared by the
 * next ones (one series per holder name).
 *
 * A model whose file changed under it (identity st_dev, st_ino, st_size, st_mtim differs
 * from the load's, checked by stat() before each hand-out and by holder_model_intact()
 * after each use) or whose mapping lost pages (SIGBUS absorbed, mdc/mapguard.h) is
 * retired: never handed out again, freed at its last release; the next acquire reloads
 * the file.  Counted in mdconv_model_retired_total.
 *
 * Thread-safety: every function is thread-safe.
 */
#ifndef MDC_SERVICE_HOLDER_H
#define MDC_SERVICE_HOLDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "mdc/metrics.h"
#include "mdc/vad.h"
#include "mdc/whisper.h"

typedef enum holder_state {
    HOLDER_UNLOADED = 0,
    HOLDER_LOADING = 1,
    HOLDER_READY = 2,
    HOLDER_FAILED = 3,
} holder_state;

typedef struct model_holder model_holder;

/* What a holder holds.  load() runs on the loading thread without the holder's lock;
 * on failure it returns NULL, sets *code (negative) and writes the reason. */
typedef struct holder_kind {
    const char *what;   /* "Whisper model", "VAD model" */
    int io_error;       /* the kind's code for "file not found / not a regular file" */
    void *(*load)(const char *path, int *code, char *reason, size_t reason_len);
    void (*free)(void *obj);
    void (*describe)(const void *obj, char *buf, size_t len); /* for the "ready" log */
    bool (*mapping_lost)(const void *obj); /* a SIGBUS was absorbed; NULL = never */
    uint64_t (*file_bytes)(const void *obj); /* the size it was loaded from */
    const char *(*weight_type)(const void *obj); /* "f16", "q5_0" …; NULL = none */
} holder_kind;

extern const holder_kind holder_kind_whisper; /* wsp_model_load / wsp_model_free */
extern const holder_kind holder_kind_vad;     /* vad_model_load / vad_model_free */

/* A file's identity as the holder compares it (stat(2) fields). */
typedef struct holder_file_id {
    bool valid; /* stat() succeeded */
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
} holder_file_id;

typedef struct holder_options {
    const holder_kind *kind;  /* NULL = holder_kind_whisper */
    const char *name;         /* label for metrics/logs, e.g. "base" */
    const char *path;         /* model file */
    int retry_backoff_ms;     /* minimum time between a failure and the next attempt */
    int idle_unload_seconds;  /* 0 = never */
    double load_delay_ms;     /* test hook: sleep this long inside the load */
    met_registry *metrics;    /* may be NULL */
    const char *context;      /* appended to load errors in parentheses, e.g.
                                 "WHISPER_MODEL=base, WHISPER_MODELS_DIR=/models"; may be NULL */
} holder_options;

/* Creates a holder in UNLOADED state (maps nothing, starts no thread).  Strings in opt
 * are copied.  Returns NULL on OOM or when opt->path is NULL. */
model_holder *holder_new(const holder_options *opt);
/* Joins the preload thread if any, waits until no reference is held and no load runs,
 * unloads and frees.  Accepts NULL.  No call on h may start after this one. */
void holder_free(model_holder *h);

/* Returns a counted reference to the loaded model, loading it if needed (the first
 * caller loads on its own thread; others wait).  On failure returns NULL and fills err
 * (may be NULL): the same code and message for every waiter of one load attempt,
 * "cannot load model PATH: REASON (CONTEXT)".  In FAILED state, during the retry
 * back-off the kept error comes back at once; after it the caller retries the load. */
const void *holder_acquire_object(model_holder *h, wsp_error *err);
/* Typed holder_acquire_object() for a Whisper holder (NULL + WSP_EINVAL on another kind). */
const wsp_model *holder_acquire(model_holder *h, wsp_error *err);
/* Typed holder_acquire_object() for a VAD holder; err->code is then a VAD_E* code. */
const vad_model *holder_acquire_vad(model_holder *h, wsp_error *err);
/* Drops a reference obtained from holder_acquire*().  NULL model is ignored.  The model
 * must not be used after this call (an idle unload may free it). */
void holder_release(model_holder *h, const void *model);

/* After using a reference: true when the results computed with `model` stand — its
 * mapping lost no page and its bytes cannot have changed.  A file replaced by a new
 * inode (an atomic rename, the reload procedure) or unlinked retires the model (the next
 * acquire loads the file again) but still answers true: the mapped inode lives on
 * unchanged.  False, with a reason (for a 503 model_unavailable) in why (len bytes, may
 * be NULL), after SIGBUS or when the same inode was rewritten in place (size or mtime
 * changed): results computed with it must be discarded.  The caller still releases its
 * reference.  Thread-safe. */
bool holder_model_intact(model_holder *h, const void *model, char *why, size_t len);

/* Starts a background thread that acquires and releases once (WHISPER_PRELOAD) and
 * returns at once.  When the load fails the thread retries, waiting max(retry_backoff_ms,
 * 1 s) doubled each time up to 60 s, until the model loads.  A second call while the
 * first thread exists does nothing.  holder_free() wakes and joins the thread.  Returns
 * 0, or -1 if the thread cannot start. */
int holder_preload_async(model_holder *h);

/* Unloads if READY, idle for at least idle_unload_seconds and unreferenced; returns 1
 * if it unloaded.  The service calls it periodically. */
int holder_maybe_unload_idle(model_holder *h);

/* Reload (SIGHUP): drops the mapped model once no transcription holds it — at once when
 * none does, else when the last reference is released; never mid-job.  Until then new
 * acquires wait for the running ones to finish, so every transcription that starts after
 * the call maps the file again (it may have been replaced).  A load in flight is dropped
 * after it finishes the same way; in FAILED state the back-off is cleared so the next
 * request retries at once.  Returns 1 when the model was dropped now, 0 when it will be
 * dropped at the last release, 2 when nothing was mapped, -1 for a NULL holder. */
int holder_request_reload(model_holder *h);

holder_state holder_get_state(model_holder *h);
const char *holder_state_name(holder_state s); /* "unloaded", "loading", "ready", "failed" */
/* Copies the last load error message ("" if none). */
void holder_last_error(model_holder *h, char *buf, size_t len);
const char *holder_name(const model_holder *h);
const char *holder_path(const model_holder *h);
/* Loads completed successfully since creation. */
unsigned long holder_loads_total(model_holder *h);
/* Weight type of the model as last loaded ("f16", "q5_0" … from wsp_model_weight_type(),
 * static), kept after an idle unload; NULL until a load succeeded. */
const char *holder_weight_type(model_holder *h);
/* True when a preload was requested and has not finished successfully yet. */
int holder_preload_pending(model_holder *h);
/* References currently held (for tests and /v1/models). */
int holder_refs(model_holder *h);

#endif
