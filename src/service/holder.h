/*
 * holder.h — the model holder: lazy loading of one Whisper model (DESIGN §2).
 *
 * States: UNLOADED → LOADING → READY; LOADING → FAILED (error kept; the next acquire
 * after the back-off retries); READY → UNLOADED (idle unload, only at refcount 0).
 * holder_acquire() returns a counted reference; the first caller loads, callers that
 * arrive during the load wait on a condition variable and get the same model or the
 * same error.  Exactly one load however many threads race.
 *
 * Logs "Lazy Loading: start …", "Lazy Loading: success … ms … bytes",
 * "Lazy Loading: failure …" so `grep -i "lazy loading"` shows the model's life.
 *
 * Thread-safety: every function is thread-safe.
 */
#ifndef MDC_SERVICE_HOLDER_H
#define MDC_SERVICE_HOLDER_H

#include "mdc/metrics.h"
#include "mdc/whisper.h"

typedef enum holder_state {
    HOLDER_UNLOADED = 0,
    HOLDER_LOADING = 1,
    HOLDER_READY = 2,
    HOLDER_FAILED = 3,
} holder_state;

typedef struct model_holder model_holder;

typedef struct holder_options {
    const char *name;         /* label for metrics/logs, e.g. "base" */
    const char *path;         /* model file */
    int retry_backoff_ms;     /* minimum time between a failure and the next attempt */
    int idle_unload_seconds;  /* 0 = never */
    double load_delay_ms;     /* test hook: sleep this long inside the load */
    met_registry *metrics;    /* may be NULL */
} holder_options;

/* Creates a holder in UNLOADED state (maps nothing).  Returns NULL on OOM. */
model_holder *holder_new(const holder_options *opt);
/* Unloads (waits for no reference to be held) and frees.  Accepts NULL. */
void holder_free(model_holder *h);

/* Returns a counted reference to the loaded model, loading it if needed.  On failure
 * returns NULL and fills err (the same message for every waiter of one load attempt:
 * names the path and the reason). */
const wsp_model *holder_acquire(model_holder *h, wsp_error *err);
/* Drops a reference obtained from holder_acquire(). */
void holder_release(model_holder *h, const wsp_model *model);

/* Starts a background thread that acquires and releases once (WHISPER_PRELOAD). */
int holder_preload_async(model_holder *h);

/* Unloads if READY, idle for at least idle_unload_seconds and unreferenced; returns 1
 * if it unloaded.  The service calls it periodically. */
int holder_maybe_unload_idle(model_holder *h);

holder_state holder_get_state(model_holder *h);
const char *holder_state_name(holder_state s); /* "unloaded", "loading", "ready", "failed" */
/* Copies the last load error message ("" if none). */
void holder_last_error(model_holder *h, char *buf, size_t len);
const char *holder_name(const model_holder *h);
const char *holder_path(const model_holder *h);
/* Loads completed successfully since creation. */
unsigned long holder_loads_total(model_holder *h);
/* True when a preload was requested and has not finished successfully yet. */
int holder_preload_pending(model_holder *h);

#endif
