/*
 * engine.c — the process's compute engine: a fixed set of fork-join pools (one per
 * concurrent transcription), started once, and the one-time library set-up.  States
 * created with wsp_state_new_on() take a free pool and give it back when freed, so a
 * service's threads are created at start and never again, whatever the request count.
 * See include/mdc/whisper.h for the contract.
 *
 * Continuous batching (wsp__engine_decode): the decoder steps of transcriptions that are
 * decoding at the same time go through ONE batched pass.  A state becomes a member when
 * it posts a mergeable step (< 16 rows, no attention capture) and stops being one when
 * it encodes, runs any other decoder batch, or its transcription ends.  A posted step
 * waits until every member on the same model has posted one (they step in lock-step) or
 * WSP__MERGE_WAIT_US passed; then the poster that finds the set complete runs one
 * rows-mode pass for all pending steps of its model on its own pool (decoder.c
 * wsp__decode_merged: each row's result is the same bits as alone, so merging never
 * changes any transcription).  The other posters of the pass help it as guests of the
 * runner's pool (threadpool.h) instead of sleeping, so a merged pass runs on all their
 * threads (the decoder's jobs give the same bits whatever the chunk count); the runner
 * returns only once its guests left, so they never touch its later jobs.  Passes of
 * disjoint sets may run at once.  The wait bounds what a member busy elsewhere (segment
 * callbacks between windows) can cost the others.
 */
#include <errno.h>
#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include <cblas.h>

#include "whisper/state.h"

#define WSP__MAX_SLOTS 64
#define WSP__MERGE_MIN_ROWS 16 /* batches of >= 16 rows take the gemm mode: never merged */
#define WSP__MERGE_WAIT_US 2000 /* longest wait for the other members' steps */

/* One posted decoder step (lives on its poster's stack until done). */
typedef struct step_req {
    wsp_state *st;
    const wsp__row *rows;
    int n;
    int rc;
    bool taken;
    atomic_bool done;  /* set under bmu; read by a helping guest without it */
    wsp__pool *pool;   /* the pool of the pass that took it (guests help there) */
    struct step_req *next;
} step_req;

struct wsp_engine {
    int n_slots, n_threads;
    wsp__pool *pools[WSP__MAX_SLOTS];
    bool busy[WSP__MAX_SLOTS];
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a slot was given back */
    /* continuous batching, under bmu (the switch alone is atomic) */
    atomic_bool batching;
    pthread_mutex_t bmu;
    pthread_cond_t bcv; /* a step was posted, a member left, or a pass finished */
    step_req *pending;  /* FIFO of steps not yet taken by a pass */
    wsp_state *members; /* states stepping in lock-step (list through batch_next) */
    wsp__batch_stats stats;
};

static pthread_once_t g_lib_once = PTHREAD_ONCE_INIT;
static int g_lib_rc;

static void lib_init(void)
{
    /* GEMMs are split over our pools as single-threaded sgemm calls (kernels_par.c), so
     * OpenBLAS's own thread server must stay out of the way (a process-wide setting). */
    openblas_set_num_threads(1);
    g_lib_rc = wsp__mel_init();
}

int wsp__lib_init(void)
{
    pthread_once(&g_lib_once, lib_init);
    return g_lib_rc;
}

int wsp_engine_new(int n_slots, int n_threads, wsp_engine **out, wsp_error *err)
{
    if (out)
        *out = NULL;
    if (!out || n_slots < 1 || n_slots > WSP__MAX_SLOTS || n_threads < 1 ||
        n_threads > WSP__MAX_THREADS)
        return wsp__fail(err, WSP_EINVAL,
                         "wsp_engine_new: need 1..%d pools of 1..%d threads (got %d of %d)",
                         WSP__MAX_SLOTS, WSP__MAX_THREADS, n_slots, n_threads);
    int rc = wsp__lib_init();
    if (rc)
        return wsp__fail(err, rc, "cannot set up FFTW's plan for the mel spectrogram");
    wsp_engine *e = calloc(1, sizeof *e);
    if (!e)
        return wsp__fail(err, WSP_ENOMEM, "out of memory for the engine");
    e->n_slots = n_slots;
    e->n_threads = n_threads;
    atomic_init(&e->batching, true);
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    pthread_mutex_init(&e->bmu, NULL);
    pthread_condattr_t ca; /* timed waits on the monotonic clock */
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&e->bcv, &ca);
    pthread_condattr_destroy(&ca);
    for (int i = 0; i < n_slots; i++) {
        e->pools[i] = wsp__pool_new(n_threads);
        if (!e->pools[i]) {
            wsp_engine_free(e);
            return wsp__fail(err, WSP_ENOMEM, "cannot start %d compute threads", n_threads);
        }
    }
    *out = e;
    return 0;
}

void wsp_engine_free(wsp_engine *e)
{
    if (!e)
        return;
    for (int i = 0; i < e->n_slots; i++)
        wsp__pool_free(e->pools[i]);
    pthread_cond_destroy(&e->cv);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->bcv);
    pthread_mutex_destroy(&e->bmu);
    free(e);
}

int wsp_engine_threads(const wsp_engine *e) { return e ? e->n_threads : 0; }
int wsp_engine_slots(const wsp_engine *e) { return e ? e->n_slots : 0; }

int wsp__engine_take(wsp_engine *e, wsp__pool **pool)
{
    pthread_mutex_lock(&e->mu);
    for (;;) {
        for (int i = 0; i < e->n_slots; i++)
            if (!e->busy[i]) {
                e->busy[i] = true;
                *pool = e->pools[i];
                pthread_mutex_unlock(&e->mu);
                return i;
            }
        pthread_cond_wait(&e->cv, &e->mu);
    }
}

void wsp__engine_give(wsp_engine *e, int slot)
{
    pthread_mutex_lock(&e->mu);
    e->busy[slot] = false;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

void wsp_engine_set_batching(wsp_engine *e, bool on)
{
    if (e)
        atomic_store(&e->batching, on);
}

bool wsp_engine_batching(const wsp_engine *e)
{
    return e && atomic_load(&e->batching);
}

void wsp__engine_stats(wsp_engine *e, wsp__batch_stats *out)
{
    pthread_mutex_lock(&e->bmu);
    *out = e->stats;
    pthread_mutex_unlock(&e->bmu);
}

void wsp__engine_leave(wsp_state *s)
{
    if (!s->engine || !s->batch_member) /* the flag is only written by s's own thread */
        return;
    wsp_engine *e = s->engine;
    pthread_mutex_lock(&e->bmu);
    s->batch_member = false;
    for (wsp_state **pp = &e->members; *pp; pp = &(*pp)->batch_next)
        if (*pp == s) {
            *pp = s->batch_next;
            break;
        }
    pthread_cond_broadcast(&e->bcv); /* the others may now be complete */
    pthread_mutex_unlock(&e->bmu);
}

/* Takes the pending steps of `run`'s model (FIFO, at most WSP__MERGE_ROWS rows) off the
 * queue into the arrays; returns their count.  Under bmu. */
static int take_steps(wsp_engine *e, const wsp_state *run, step_req **taken, wsp_state **st,
                      const wsp__row **rows, int *n)
{
    int k = 0, total = 0;
    for (step_req **pp = &e->pending; *pp;) {
        step_req *r = *pp;
        if (r->st->model != run->model || total + r->n > WSP__MERGE_ROWS) {
            pp = &r->next;
            continue;
        }
        *pp = r->next;
        r->taken = true;
        r->pool = run->pool;
        taken[k] = r;
        st[k] = r->st;
        rows[k] = r->rows;
        n[k] = r->n;
        total += r->n;
        k++;
    }
    return k;
}

/* Whether every member on `model` has a step pending (members of other models are
 * never merged with them, so they are not waited for).  Under bmu. */
static bool all_posted(const wsp_engine *e, const wsp_model *model)
{
    int members = 0, pending = 0;
    for (const wsp_state *m = e->members; m; m = m->batch_next)
        members += m->model == model;
    for (const step_req *r = e->pending; r; r = r->next)
        pending += r->st->model == model;
    return pending >= members;
}

int wsp__engine_decode(wsp_state *s, const wsp__row *rows, int n_rows, int n_threads)
{
    wsp_engine *e = s ? s->engine : NULL;
    if (!e || !atomic_load(&e->batching) || n_rows >= WSP__MERGE_MIN_ROWS ||
        n_rows > WSP__MERGE_ROWS || s->xcap)
        return wsp__decode_batch(s, rows, n_rows, n_threads); /* leaves, see decoder.c */
    int rc = wsp__decode_check(s, rows, n_rows);
    if (!rc && wsp__state_pool(s, n_threads))
        rc = WSP_EINVAL;
    if (rc)
        return rc;
    if (s->abort_cb && s->abort_cb(s->abort_user_data))
        return WSP_ECANCELED;

    step_req me = {.st = s, .rows = rows, .n = n_rows};
    atomic_init(&me.done, false);
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_nsec += WSP__MERGE_WAIT_US * 1000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&e->bmu);
    if (!s->batch_member) {
        s->batch_member = true;
        s->batch_next = e->members;
        e->members = s;
    }
    step_req **tail = &e->pending;
    while (*tail)
        tail = &(*tail)->next;
    *tail = &me;
    pthread_cond_broadcast(&e->bcv);
    bool timed_out = false, helped = false;
    while (!atomic_load(&me.done)) {
        if (!me.taken && (timed_out || all_posted(e, s->model))) {
            step_req *taken[WSP__MERGE_ROWS];
            wsp_state *st[WSP__MERGE_ROWS];
            const wsp__row *rr[WSP__MERGE_ROWS];
            int nn[WSP__MERGE_ROWS];
            const int k = take_steps(e, s, taken, st, rr, nn);
            if (k > 0) {
                pthread_mutex_unlock(&e->bmu);
                rc = wsp__decode_merged(s, st, rr, nn, k);
                pthread_mutex_lock(&e->bmu);
                int total = 0;
                for (int q = 0; q < k; q++) {
                    taken[q]->rc = rc;
                    atomic_store(&taken[q]->done, true);
                    total += nn[q];
                }
                e->stats.passes++;
                e->stats.merged_passes += k > 1;
                e->stats.steps += k;
                e->stats.rows += total;
                pthread_cond_broadcast(&e->bcv);
                /* guests saw done (seq_cst: either they see it or we see them) */
                while (wsp__pool_guests(s->pool) > 0) {
                    pthread_mutex_unlock(&e->bmu);
                    sched_yield();
                    pthread_mutex_lock(&e->bmu);
                }
                continue;
            }
        }
        if (me.taken && !helped) {
            /* our step is in another state's pass: lend our thread to its pool */
            wsp__pool *pp = me.pool;
            helped = true;
            pthread_mutex_unlock(&e->bmu);
            const int tid = wsp__pool_guest_enter(pp);
            if (tid >= 0) {
                for (int spins = 0; !atomic_load(&me.done); spins++) {
                    wsp__pool_guest_help(pp, tid);
                    if (spins & 63) /* mostly spin (jobs of a pass are microseconds */
                        _mm_pause(); /* apart), yield now and then on a busy machine */
                    else
                        sched_yield();
                }
                wsp__pool_guest_leave(pp, tid);
            }
            pthread_mutex_lock(&e->bmu);
            continue;
        }
        if (timed_out || me.taken) {
            pthread_cond_wait(&e->bcv, &e->bmu);
        } else if (pthread_cond_timedwait(&e->bcv, &e->bmu, &deadline) == ETIMEDOUT) {
            timed_out = true;
        }
    }
    pthread_mutex_unlock(&e->bmu);
    return me.rc;
}
