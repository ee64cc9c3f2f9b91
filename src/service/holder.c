/*
 * holder.c — the model holder: lazy loading of one model — a Whisper model or a VAD
 * model, through a holder_kind (see holder.h and DESIGN §2).
 *
 * One mutex guards every field below it in struct model_holder; one condition variable
 * wakes the threads waiting for a load to finish and holder_free() waiting for the last
 * reference.  The loader runs the kind's load (and the load_delay_ms test sleep) with
 * the mutex released, so /ready, /metrics and other holders never wait on a load.
 *
 * File identity: the holder keeps the loaded file's (st_dev, st_ino, st_size, st_mtim)
 * and compares it with a fresh stat() before handing the model out, and again after each
 * transcription (holder_model_intact); a model whose file changed, vanished or lost
 * pages under the mapping (SIGBUS absorbed by mdc/mapguard.h) is retired: no new
 * reference is handed out, it is freed when its last reference is released, and the next
 * acquire loads the file afresh.  Transcriptions that used it keep their results when
 * the mapped inode itself is intact (file replaced by rename, or unlinked) and lose them
 * when its bytes may have changed (SIGBUS, same inode rewritten).  One retired model at a time: a second change while an
 * older copy is still in use answers the error instead of loading a third copy.
 *
 * Attempts are numbered: a thread that waited for attempt N gets exactly what attempt N
 * produced (the model, or the error kept from it), even when the back-off is 0 and a
 * later thread could start attempt N+1 before it wakes.
 */
#include "holder.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "mdc/clock.h"
#include "mdc/log.h"
#include "mdc/vad.h"

struct model_holder {
    const holder_kind *kind;
    char *name;
    char *path;
    char *context;             /* appended to load errors, may be NULL */
    int retry_backoff_ms;
    int idle_unload_seconds;
    double load_delay_ms;

    /* metrics (NULL when no registry or registration failed) */
    met_family *m_state, *m_load_seconds, *m_loads, *m_failures, *m_unloads, *m_retired;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* --- guarded by mu --- */
    holder_state state;
    void *model;               /* the kind's object; non-NULL only in READY */
    int refs;                  /* references handed out and not released */
    holder_file_id file_id;    /* identity of the file `model` was loaded from */
    void *retired;             /* a model whose file changed, still referenced */
    int retired_refs;          /* its references */
    bool retired_unsafe;       /* its bytes may differ from what was loaded (SIGBUS, or the
                                  same inode rewritten in place); false when the file was
                                  replaced by a new inode or unlinked: the old inode lives
                                  on under the mapping, so its users' results stand */
    unsigned long attempt;     /* number of the current/last load attempt */
    char last_error[512];      /* message of the last failed attempt ("" if none) */
    int last_error_code;       /* its code (WSP_E* or VAD_E*, by kind) */
    double failed_at_s;        /* monotonic time of the last failure */
    double idle_since_s;       /* monotonic time the refcount last dropped to 0 */
    unsigned long loads_total; /* successful loads */
    const char *weight_type;   /* wsp_model_weight_type() of the last load (static), or NULL */
    bool preload_requested, preload_satisfied;
    bool preload_thread_started;
    bool stopping;             /* holder_free() started: the preload thread must end */
    bool reload_pending;       /* holder_request_reload(): drop the model at refs 0 */
    pthread_t preload_thread;
};

static void *reload_detach_locked(model_holder *h);
static void reload_finish(model_holder *h, void *m);

static const char *const k_label_names[] = {"model", NULL};
/* Load times span milliseconds (mmap + validate) to a minute (large models on slow
 * disks); seconds. */
static const double k_load_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                        1,     2.5,  5,     10,   30,   60};

/* Fills *id from stat(path); id->valid = false (and errno set) when stat fails. */
static void file_identity(const char *path, holder_file_id *id)
{
    struct stat st;
    memset(id, 0, sizeof *id);
    if (stat(path, &st) != 0)
        return;
    id->valid = true;
    id->dev = st.st_dev;
    id->ino = st.st_ino;
    id->size = st.st_size;
    id->mtime = st.st_mtim;
}

static bool same_file(const holder_file_id *a, const holder_file_id *b)
{
    return a->valid == b->valid &&
           (!a->valid || (a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
                          a->mtime.tv_sec == b->mtime.tv_sec &&
                          a->mtime.tv_nsec == b->mtime.tv_nsec));
}

/* Duplicates s (NULL stays NULL); returns false on OOM of a non-NULL string. */
static bool dup_opt(const char *s, char **out)
{
    *out = NULL;
    if (!s)
        return true;
    *out = strdup(s);
    return *out != NULL;
}

static void set_state_metric(model_holder *h)
{
    if (h->m_state) {
        const char *lv[] = {h->name};
        met_set(h->m_state, lv, (double)h->state);
    }
}

static void count(model_holder *h, met_family *f)
{
    if (f) {
        const char *lv[] = {h->name};
        met_inc(f, lv, 1);
    }
}

/* Registers a family, or takes the one an earlier holder registered on this registry. */
static met_family *family(met_registry *reg, met_type type, const char *name, const char *help,
                          const double *buckets, size_t n_buckets)
{
    met_family *f = met_register(reg, type, name, help, k_label_names, buckets, n_buckets);
    return f ? f : met_find(reg, name);
}

static void register_metrics(model_holder *h, met_registry *reg)
{
    if (!reg)
        return;
    h->m_state = family(reg, MET_GAUGE, "mdconv_model_state",
                        "Model holder state (0 unloaded, 1 loading, 2 ready, 3 failed)", NULL, 0);
    h->m_load_seconds = family(reg, MET_HISTOGRAM, "mdconv_model_load_seconds",
                               "Time to map and validate the model file, seconds", k_load_buckets,
                               sizeof k_load_buckets / sizeof k_load_buckets[0]);
    h->m_loads = family(reg, MET_COUNTER, "mdconv_model_loads_total", "Successful model loads",
                        NULL, 0);
    h->m_failures = family(reg, MET_COUNTER, "mdconv_model_load_failures_total",
                           "Failed model load attempts", NULL, 0);
    h->m_unloads = family(reg, MET_COUNTER, "mdconv_model_unloads_total",
                          "Models unloaded after being idle", NULL, 0);
    h->m_retired = family(reg, MET_COUNTER, "mdconv_model_retired_total",
                          "Models dropped because their file changed, vanished or was "
                          "truncated while mapped", NULL, 0);
    if (!h->m_state || !h->m_load_seconds || !h->m_loads || !h->m_failures || !h->m_unloads ||
        !h->m_retired)
        MDC_LOG_WARN("model %s: some holder metrics could not be registered", h->name);
    /* Make the counters visible at 0 before the first load. */
    if (h->m_loads) {
        const char *lv[] = {h->name};
        met_inc(h->m_loads, lv, 0);
    }
    if (h->m_failures) {
        const char *lv[] = {h->name};
        met_inc(h->m_failures, lv, 0);
    }
    if (h->m_unloads) {
        const char *lv[] = {h->name};
        met_inc(h->m_unloads, lv, 0);
    }
    if (h->m_retired) {
        const char *lv[] = {h->name};
        met_inc(h->m_retired, lv, 0);
    }
}

model_holder *holder_new(const holder_options *opt)
{
    if (!opt || !opt->path)
        return NULL;
    model_holder *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    if (!dup_opt(opt->name ? opt->name : opt->path, &h->name) || !dup_opt(opt->path, &h->path) ||
        !dup_opt(opt->context, &h->context)) {
        free(h->name);
        free(h->path);
        free(h->context);
        free(h);
        return NULL;
    }
    if (pthread_mutex_init(&h->mu, NULL) != 0) {
        free(h->name);
        free(h->path);
        free(h->context);
        free(h);
        return NULL;
    }
    if (pthread_cond_init(&h->cv, NULL) != 0) {
        pthread_mutex_destroy(&h->mu);
        free(h->name);
        free(h->path);
        free(h->context);
        free(h);
        return NULL;
    }
    h->kind = opt->kind ? opt->kind : &holder_kind_whisper;
    h->retry_backoff_ms = opt->retry_backoff_ms > 0 ? opt->retry_backoff_ms : 0;
    h->idle_unload_seconds = opt->idle_unload_seconds > 0 ? opt->idle_unload_seconds : 0;
    h->load_delay_ms = opt->load_delay_ms > 0 ? opt->load_delay_ms : 0;
    h->state = HOLDER_UNLOADED;
    h->idle_since_s = mdc_now_s();
    register_metrics(h, opt->metrics);
    set_state_metric(h);
    return h;
}

void holder_free(model_holder *h)
{
    if (!h)
        return;
    bool join = false;
    pthread_mutex_lock(&h->mu);
    join = h->preload_thread_started;
    h->preload_thread_started = false;
    h->stopping = true;
    pthread_cond_broadcast(&h->cv); /* wakes a preload thread waiting out its back-off */
    pthread_mutex_unlock(&h->mu);
    if (join)
        pthread_join(h->preload_thread, NULL);

    pthread_mutex_lock(&h->mu);
    while (h->refs > 0 || h->retired_refs > 0 || h->state == HOLDER_LOADING)
        pthread_cond_wait(&h->cv, &h->mu);
    void *m = h->model;
    h->model = NULL;
    h->state = HOLDER_UNLOADED;
    pthread_mutex_unlock(&h->mu);
    if (m)
        h->kind->free(m);
    if (h->retired)
        h->kind->free(h->retired);

    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h->name);
    free(h->path);
    free(h->context);
    free(h);
}

/* Sleeps ms milliseconds (test hook), resuming after signals. */
static void sleep_ms(double ms)
{
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
                          .tv_nsec = (long)((ms - (double)(time_t)(ms / 1000) * 1000) * 1e6)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- the two kinds ---------------------------------------------------------------- */

static void *whisper_load(const char *path, int *code, char *reason, size_t len)
{
    wsp_model *m = NULL;
    wsp_error err = {0};
    int rc = wsp_model_load(path, &m, &err);
    if (rc == 0 && m)
        return m;
    wsp_model_free(m); /* defensive: a failing load must not hand out a model */
    *code = rc != 0 ? rc : WSP_EINTERNAL;
    snprintf(reason, len, "%s", err.message[0] ? err.message : wsp_strerror(*code));
    return NULL;
}

static void whisper_free(void *obj) { wsp_model_free(obj); }

static void whisper_describe(const void *obj, char *buf, size_t len)
{
    const wsp_model *m = obj;
    snprintf(buf, len, "%llu bytes mapped, %d tensors, %llu bytes of weights, %s %s",
             (unsigned long long)wsp_model_file_bytes(m), wsp_model_n_tensors(m),
             (unsigned long long)wsp_model_tensor_bytes(m), wsp_model_type_name(m),
             wsp_model_ftype_name(m));
}

static bool whisper_mapping_lost(const void *obj) { return wsp_model_mapping_lost(obj); }
static uint64_t whisper_file_bytes(const void *obj) { return wsp_model_file_bytes(obj); }
static const char *whisper_weight_type(const void *obj) { return wsp_model_weight_type(obj); }

const holder_kind holder_kind_whisper = {
    .what = "Whisper model",
    .io_error = WSP_EIO,
    .load = whisper_load,
    .free = whisper_free,
    .describe = whisper_describe,
    .mapping_lost = whisper_mapping_lost,
    .file_bytes = whisper_file_bytes,
    .weight_type = whisper_weight_type,
};

static void *vad_load(const char *path, int *code, char *reason, size_t len)
{
    vad_model *m = NULL;
    vad_error err = {0};
    int rc = vad_model_load(path, &m, &err);
    if (rc == 0 && m)
        return m;
    vad_model_free(m);
    *code = rc != 0 ? rc : VAD_EINVAL;
    snprintf(reason, len, "%s", err.message[0] ? err.message : vad_strerror(*code));
    return NULL;
}

static void vad_free(void *obj) { vad_model_free(obj); }

static void vad_describe(const void *obj, char *buf, size_t len)
{
    const vad_model *m = obj;
    snprintf(buf, len, "%llu bytes, %s", (unsigned long long)vad_model_file_bytes(m),
             vad_model_description(m));
}

static uint64_t vad_file_bytes(const void *obj) { return vad_model_file_bytes(obj); }

/* No mapping_lost: vad_model_load copies every tensor and unmaps the file, so a file
 * truncated later cannot fault a detection (its identity is still checked). */
const holder_kind holder_kind_vad = {
    .what = "VAD model",
    .io_error = VAD_EIO,
    .load = vad_load,
    .free = vad_free,
    .describe = vad_describe,
    .mapping_lost = NULL,
    .file_bytes = vad_file_bytes,
    .weight_type = NULL,
};

/* Runs one load attempt without the lock.  Returns the object or NULL with msg filled
 * ("cannot load model PATH: REASON (CONTEXT)") and *code set. */
static void *load_unlocked(model_holder *h, char *msg, size_t msglen, int *code,
                           double *elapsed_ms, holder_file_id *id)
{
    double t0 = mdc_now_ms();
    if (h->load_delay_ms > 0)
        sleep_ms(h->load_delay_ms);

    void *m = NULL;
    char reason[384]; /* the path and context also go into the 512-byte message */
    struct stat st;
    if (stat(h->path, &st) != 0) {
        /* Say "file not found" plainly: the most common deployment mistake. */
        *code = h->kind->io_error;
        snprintf(reason, sizeof reason, "%s",
                 errno == ENOENT ? "file not found" : strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        *code = h->kind->io_error;
        snprintf(reason, sizeof reason, "not a regular file");
    } else {
        holder_file_id before;
        file_identity(h->path, &before);
        m = h->kind->load(h->path, code, reason, sizeof reason);
        file_identity(h->path, id);
        if (m && (!same_file(&before, id) || (uint64_t)id->size != h->kind->file_bytes(m))) {
            /* written to while we mapped and validated it: what we checked is not what
             * is there now */
            h->kind->free(m);
            m = NULL;
            *code = h->kind->io_error;
            snprintf(reason, sizeof reason,
                     "the file changed while it was being loaded (still being copied?)");
        }
        if (m) {
            *code = 0;
            *elapsed_ms = mdc_now_ms() - t0;
            return m;
        }
    }
    *elapsed_ms = mdc_now_ms() - t0;
    /* Each part is bounded so the reason survives a long path (truncation is fine). */
    if (h->context && h->context[0])
        snprintf(msg, msglen, "cannot load model %.200s: %.200s (%.80s)", h->path, reason,
                 h->context);
    else
        snprintf(msg, msglen, "cannot load model %.200s: %.290s", h->path, reason);
    return NULL;
}

static void fill_err(wsp_error *err, int code, const char *msg)
{
    if (!err)
        return;
    err->code = code;
    snprintf(err->message, sizeof err->message, "%s", msg);
}

/* With the lock held and state == LOADING owned by the caller: releases the lock, loads,
 * re-takes the lock and publishes the outcome to every waiter. */
static void run_load_locked(model_holder *h)
{
    pthread_mutex_unlock(&h->mu);
    MDC_LOG_INFO("Lazy Loading: loading model %s from %s", h->name, h->path);
    char msg[sizeof h->last_error];
    int code = 0;
    double ms = 0;
    holder_file_id id;
    memset(&id, 0, sizeof id);
    void *m = load_unlocked(h, msg, sizeof msg, &code, &ms, &id);
    if (m) {
        char desc[256];
        h->kind->describe(m, desc, sizeof desc);
        MDC_LOG_INFO("Lazy Loading: model %s ready in %.1f ms (%s)", h->name, ms, desc);
        if (h->m_load_seconds) {
            const char *lv[] = {h->name};
            met_observe(h->m_load_seconds, lv, ms / 1000.0);
        }
        count(h, h->m_loads);
    } else {
        MDC_LOG_ERROR("Lazy Loading: failed to load model %s after %.1f ms: %s", h->name, ms, msg);
        count(h, h->m_failures);
    }
    pthread_mutex_lock(&h->mu);
    if (m) {
        h->model = m;
        h->weight_type = h->kind->weight_type ? h->kind->weight_type(m) : NULL;
        h->file_id = id;
        h->state = HOLDER_READY;
        h->loads_total++;
        h->last_error[0] = '\0';
        h->last_error_code = 0;
        if (h->preload_requested)
            h->preload_satisfied = true;
    } else {
        h->state = HOLDER_FAILED;
        snprintf(h->last_error, sizeof h->last_error, "%s", msg);
        h->last_error_code = code;
        h->failed_at_s = mdc_now_s();
    }
    set_state_metric(h);
    pthread_cond_broadcast(&h->cv);
}

/* With the lock held: true when m's mapping is whole and the file on disk is still the
 * one it was loaded from; otherwise false with the reason in why and *unsafe = whether
 * the bytes under the mapping may have changed (SIGBUS, or the same inode rewritten) —
 * a new inode at the path (an atomic replacement, the reload procedure) or an unlinked
 * file leaves the mapped inode intact. */
static bool check_locked(model_holder *h, const void *m, char *why, size_t len,
                         bool *unsafe)
{
    *unsafe = true;
    if (h->kind->mapping_lost && h->kind->mapping_lost(m)) {
        snprintf(why, len, "model file %.120s was truncated or rewritten while mapped (SIGBUS "
                           "absorbed); it is reloaded on the next request",
                 h->path);
        return false;
    }
    holder_file_id now;
    file_identity(h->path, &now);
    if (same_file(&now, &h->file_id))
        return true;
    if (!now.valid) {
        snprintf(why, len, "model file %.120s is gone (%s)", h->path, strerror(errno));
        *unsafe = false;
    } else if (now.dev != h->file_id.dev || now.ino != h->file_id.ino) {
        snprintf(why, len, "model file %.120s was replaced (new inode)", h->path);
        *unsafe = false;
    } else {
        snprintf(why, len, "model file %.120s changed on disk (%lld → %lld bytes, new mtime)",
                 h->path, (long long)h->file_id.size, (long long)now.size);
    }
    return false;
}

/* With the lock held and state READY: takes h->model out of service (reason logged).
 * Unreferenced → *dead = the model for the caller to free after unlocking; referenced →
 * kept as h->retired until its last release.  Returns -1 (model left in place) when an
 * older retired copy is still in use. */
static int retire_locked(model_holder *h, const char *why, bool unsafe, void **dead)
{
    *dead = NULL;
    if (h->refs > 0 && h->retired) {
        MDC_LOG_WARN("model %s: %s; an older copy is still in use, not reloading yet", h->name,
                     why);
        return -1;
    }
    MDC_LOG_WARN("Lazy Loading: model %s retired: %s", h->name, why);
    h->reload_pending = false; /* what a pending reload asked for is happening now */
    if (h->refs > 0) {
        h->retired = h->model;
        h->retired_refs = h->refs;
        h->retired_unsafe = unsafe;
    } else {
        *dead = h->model;
    }
    h->model = NULL;
    h->refs = 0;
    h->state = HOLDER_UNLOADED;
    set_state_metric(h);
    count(h, h->m_retired);
    return 0;
}

const void *holder_acquire_object(model_holder *h, wsp_error *err)
{
    if (!h) {
        fill_err(err, WSP_EINVAL, "no model holder");
        return NULL;
    }
    pthread_mutex_lock(&h->mu);
    for (;;) {
        switch (h->state) {
        case HOLDER_READY: {
            if (h->reload_pending) {
                /* A reload was asked for: new work waits for the running work to drop
                 * the old mapping, then maps the file again. */
                while (h->reload_pending && h->state == HOLDER_READY && h->refs > 0)
                    pthread_cond_wait(&h->cv, &h->mu);
                void *old = reload_detach_locked(h);
                if (old) {
                    pthread_mutex_unlock(&h->mu);
                    reload_finish(h, old);
                    pthread_mutex_lock(&h->mu);
                }
                continue;
            }
            char why[256];
            void *dead = NULL;
            bool unsafe;
            if (!check_locked(h, h->model, why, sizeof why, &unsafe)) {
                if (retire_locked(h, why, unsafe, &dead) != 0) {
                    fill_err(err, WSP_EIO, why);
                    pthread_mutex_unlock(&h->mu);
                    return NULL;
                }
                if (dead) { /* unreferenced: free it outside the lock, then load afresh */
                    pthread_mutex_unlock(&h->mu);
                    h->kind->free(dead);
                    pthread_mutex_lock(&h->mu);
                }
                continue;
            }
            h->refs++;
            const void *m = h->model;
            pthread_mutex_unlock(&h->mu);
            return m;
        }
        case HOLDER_LOADING: {
            unsigned long mine = h->attempt;
            while (h->state == HOLDER_LOADING && h->attempt == mine)
                pthread_cond_wait(&h->cv, &h->mu);
            if (h->attempt == mine && h->state == HOLDER_FAILED) {
                /* Same attempt, same error for every waiter. */
                fill_err(err, h->last_error_code, h->last_error);
                pthread_mutex_unlock(&h->mu);
                return NULL;
            }
            continue; /* READY (take a ref) or a newer state */
        }
        case HOLDER_FAILED:
            if ((mdc_now_s() - h->failed_at_s) * 1000.0 < (double)h->retry_backoff_ms) {
                /* During the back-off: the kept error at once, no new attempt. */
                fill_err(err, h->last_error_code, h->last_error);
                pthread_mutex_unlock(&h->mu);
                return NULL;
            }
            __attribute__((fallthrough)); /* back-off over: retry */
        case HOLDER_UNLOADED:
            h->state = HOLDER_LOADING;
            h->attempt++;
            set_state_metric(h);
            run_load_locked(h); /* returns with the lock held and the outcome published */
            if (h->state == HOLDER_FAILED) {
                fill_err(err, h->last_error_code, h->last_error);
                pthread_mutex_unlock(&h->mu);
                return NULL;
            }
            continue;
        }
    }
}

const wsp_model *holder_acquire(model_holder *h, wsp_error *err)
{
    if (h && h->kind != &holder_kind_whisper) {
        fill_err(err, WSP_EINVAL, "holder_acquire on a holder of another kind");
        return NULL;
    }
    return holder_acquire_object(h, err);
}

const vad_model *holder_acquire_vad(model_holder *h, wsp_error *err)
{
    if (h && h->kind != &holder_kind_vad) {
        fill_err(err, VAD_EINVAL, "holder_acquire_vad on a holder of another kind");
        return NULL;
    }
    return holder_acquire_object(h, err);
}

void holder_release(model_holder *h, const void *model)
{
    if (!h || !model)
        return;
    void *old = NULL, *dead = NULL;
    pthread_mutex_lock(&h->mu);
    if (h->refs > 0 && model == h->model) {
        h->refs--;
        if (h->refs == 0) {
            h->idle_since_s = mdc_now_s();
            old = reload_detach_locked(h);
            pthread_cond_broadcast(&h->cv); /* holder_free or a reload may be waiting */
        }
    } else if (h->retired_refs > 0 && model == h->retired) {
        if (--h->retired_refs == 0) {
            dead = h->retired;
            h->retired = NULL;
            pthread_cond_broadcast(&h->cv);
        }
    } else {
        MDC_LOG_ERROR("model %s: release of a reference that is not held", h->name);
    }
    pthread_mutex_unlock(&h->mu);
    if (old)
        reload_finish(h, old);
    if (dead)
        h->kind->free(dead); /* the last user of a retired model: unmap it now */
}

bool holder_model_intact(model_holder *h, const void *model, char *why, size_t len)
{
    if (why && len)
        why[0] = '\0';
    if (!h || !model)
        return false;
    char buf[256];
    pthread_mutex_lock(&h->mu);
    bool ok = true;
    if (model == h->model) {
        bool unsafe = false;
        if (!check_locked(h, h->model, buf, sizeof buf, &unsafe)) {
            void *dead = NULL;
            /* the caller's reference keeps it: dead stays NULL */
            retire_locked(h, buf, unsafe, &dead);
            ok = !unsafe; /* replaced by a new inode: the mapped one was intact */
        }
    } else if (model == h->retired) {
        /* Retired while in use: the result stands unless its bytes may have changed. */
        ok = !h->retired_unsafe && !(h->kind->mapping_lost && h->kind->mapping_lost(model));
        if (!ok)
            snprintf(buf, sizeof buf, "the model file changed during the transcription");
        if (h->kind->mapping_lost && h->kind->mapping_lost(model))
            snprintf(buf, sizeof buf, "the model file was truncated or rewritten while mapped "
                                      "(SIGBUS absorbed)");
    }
    pthread_mutex_unlock(&h->mu);
    if (!ok && why && len)
        snprintf(why, len, "%s", buf);
    return ok;
}

/* Longest wait between two preload attempts, ms. */
#define PRELOAD_MAX_BACKOFF_MS 60000

/* Acquires and releases once; on failure waits (exponential back-off from
 * retry_backoff_ms, at least 1 s, at most PRELOAD_MAX_BACKOFF_MS) and tries again until
 * the model loads or the holder is freed.  Why: with WHISPER_PRELOAD=true /ready stays
 * 503 until the preload succeeds, so an orchestrator sends the pod no traffic, and no
 * request would ever retry the load — a model file that appears later (volume mounted
 * late, download finished) must still make the pod ready without a restart. */
static void *preload_main(void *arg)
{
    model_holder *h = arg;
    double wait_ms = h->retry_backoff_ms > 1000 ? h->retry_backoff_ms : 1000;
    for (;;) {
        wsp_error err = {0};
        const void *m = holder_acquire_object(h, &err);
        if (m) {
            holder_release(h, m);
            return NULL;
        }
        /* the failure was logged by the loader and is kept for /ready */
        pthread_mutex_lock(&h->mu);
        if (!h->stopping) {
            MDC_LOG_INFO("Lazy Loading: preload of model %s will retry in %.0f ms", h->name,
                         wait_ms);
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            long long ns = (long long)until.tv_nsec + (long long)(wait_ms * 1e6);
            until.tv_sec += (time_t)(ns / 1000000000LL);
            until.tv_nsec = (long)(ns % 1000000000LL);
            while (!h->stopping && pthread_cond_timedwait(&h->cv, &h->mu, &until) == 0) {
            }
        }
        bool stop = h->stopping;
        pthread_mutex_unlock(&h->mu);
        if (stop)
            return NULL;
        wait_ms = wait_ms * 2 < PRELOAD_MAX_BACKOFF_MS ? wait_ms * 2 : PRELOAD_MAX_BACKOFF_MS;
    }
}

int holder_preload_async(model_holder *h)
{
    if (!h)
        return -1;
    pthread_mutex_lock(&h->mu);
    if (h->preload_thread_started) { /* one preload thread per holder */
        pthread_mutex_unlock(&h->mu);
        return 0;
    }
    h->preload_requested = true;
    if (h->state == HOLDER_READY)
        h->preload_satisfied = true;
    int rc = pthread_create(&h->preload_thread, NULL, preload_main, h);
    if (rc == 0)
        h->preload_thread_started = true;
    pthread_mutex_unlock(&h->mu);
    if (rc != 0) {
        MDC_LOG_ERROR("model %s: cannot start the preload thread: %s", h->name, strerror(rc));
        return -1;
    }
    MDC_LOG_INFO("Lazy Loading: preload of model %s started in the background", h->name);
    return 0;
}

int holder_maybe_unload_idle(model_holder *h)
{
    if (!h)
        return 0;
    void *m = NULL;
    double idle_s = 0;
    pthread_mutex_lock(&h->mu);
    if (h->idle_unload_seconds > 0 && h->state == HOLDER_READY && h->refs == 0) {
        idle_s = mdc_now_s() - h->idle_since_s;
        if (idle_s >= (double)h->idle_unload_seconds) {
            m = h->model;
            h->model = NULL;
            h->state = HOLDER_UNLOADED;
            h->reload_pending = false;
            set_state_metric(h);
        }
    }
    pthread_mutex_unlock(&h->mu);
    if (!m)
        return 0;
    h->kind->free(m); /* outside the lock: munmap of a large model can take a while */
    count(h, h->m_unloads);
    MDC_LOG_INFO("Lazy Loading: unloaded model %s after %.0f s idle; the next request reloads it",
                 h->name, idle_s);
    return 1;
}

/* ---- reload (SIGHUP) ---------------------------------------------------------------- */

/* With the lock held: when a reload is pending and nobody holds the model, detaches it
 * (state UNLOADED, the next acquire maps the file again) and returns it for
 * reload_finish(); otherwise NULL. */
static void *reload_detach_locked(model_holder *h)
{
    if (!h->reload_pending || h->state != HOLDER_READY || h->refs != 0)
        return NULL;
    void *m = h->model;
    h->model = NULL;
    h->state = HOLDER_UNLOADED;
    h->reload_pending = false;
    set_state_metric(h);
    return m;
}

/* Without the lock: frees a model detached by reload_detach_locked (munmap can take a
 * while) and logs it. */
static void reload_finish(model_holder *h, void *m)
{
    h->kind->free(m);
    MDC_LOG_INFO("Lazy Loading: reload: unloaded model %s; the next request maps %s again",
                 h->name, h->path);
}

int holder_request_reload(model_holder *h)
{
    if (!h)
        return -1;
    void *old = NULL;
    int rc;
    pthread_mutex_lock(&h->mu);
    switch (h->state) {
    case HOLDER_READY:
    case HOLDER_LOADING: /* the load in flight may have read the old file */
        h->reload_pending = true;
        old = reload_detach_locked(h);
        rc = old ? 1 : 0;
        break;
    case HOLDER_FAILED: /* the next request retries at once, without the back-off */
        h->failed_at_s = -1e18;
        rc = 2;
        break;
    default:
        rc = 2;
        break;
    }
    pthread_mutex_unlock(&h->mu);
    if (old)
        reload_finish(h, old);
    return rc;
}

holder_state holder_get_state(model_holder *h)
{
    if (!h)
        return HOLDER_UNLOADED;
    pthread_mutex_lock(&h->mu);
    holder_state s = h->state;
    pthread_mutex_unlock(&h->mu);
    return s;
}

const char *holder_state_name(holder_state s)
{
    switch (s) {
    case HOLDER_UNLOADED:
        return "unloaded";
    case HOLDER_LOADING:
        return "loading";
    case HOLDER_READY:
        return "ready";
    case HOLDER_FAILED:
        return "failed";
    }
    return "unknown";
}

void holder_last_error(model_holder *h, char *buf, size_t len)
{
    if (!buf || len == 0)
        return;
    buf[0] = '\0';
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    snprintf(buf, len, "%s", h->last_error);
    pthread_mutex_unlock(&h->mu);
}

const char *holder_name(const model_holder *h) { return h ? h->name : ""; }
const char *holder_path(const model_holder *h) { return h ? h->path : ""; }

const char *holder_weight_type(model_holder *h)
{
    if (!h)
        return NULL;
    pthread_mutex_lock(&h->mu);
    const char *t = h->weight_type;
    pthread_mutex_unlock(&h->mu);
    return t;
}

unsigned long holder_loads_total(model_holder *h)
{
    if (!h)
        return 0;
    pthread_mutex_lock(&h->mu);
    unsigned long n = h->loads_total;
    pthread_mutex_unlock(&h->mu);
    return n;
}

int holder_preload_pending(model_holder *h)
{
    if (!h)
        return 0;
    pthread_mutex_lock(&h->mu);
    int p = h->preload_requested && !h->preload_satisfied;
    pthread_mutex_unlock(&h->mu);
    return p;
}

int holder_refs(model_holder *h)
{
    if (!h)
        return 0;
    pthread_mutex_lock(&h->mu);
    int n = h->refs;
    pthread_mutex_unlock(&h->mu);
    return n;
}
