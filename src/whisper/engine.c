/*
 * engine.c — the process's compute engine: a fixed set of fork-join pools (one per
 * concurrent transcription), started once, and the one-time library set-up.  States
 * created with wsp_state_new_on() take a free pool and give it back when freed, so a
 * service's threads are created at start and never again, whatever the request count.
 * See include/mdc/whisper.h for the contract.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include <cblas.h>

#include "whisper/state.h"

#define WSP__MAX_SLOTS 64

struct wsp_engine {
    int n_slots, n_threads;
    wsp__pool *pools[WSP__MAX_SLOTS];
    bool busy[WSP__MAX_SLOTS];
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a slot was given back */
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
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
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
