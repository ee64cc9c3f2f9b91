/*
 * work.c — the shared transcription work unit (see work.h): submission to the pool,
 * the worker task, cancellation.
 */
#include "work.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mdc/clock.h"
#include "routes.h"

void work_init(svc_work *w, struct svc_server *srv, const char *endpoint,
               const work_hooks *hooks, void *owner)
{
    w->srv = srv;
    w->endpoint = endpoint;
    w->hooks = hooks;
    w->owner = owner;
    atomic_store(&w->cancel, false);
    pthread_mutex_init(&w->mu, NULL);
    w->cancel_status = 0;
}

/* Unlinks and frees the unit's own temp file, if any. */
static void drop_audio_tmp(svc_work *w)
{
    if (w->audio_tmp) {
        unlink(w->audio_tmp);
        free(w->audio_tmp);
        w->audio_tmp = NULL;
    }
}

void work_destroy(svc_work *w)
{
    upl_free(w->form);
    w->form = NULL;
    drop_audio_tmp(w);
    if (w->hooks)
        pthread_mutex_destroy(&w->mu);
    w->hooks = NULL;
}

void work_cancel(svc_work *w, int status, const char *code, const char *message)
{
    pthread_mutex_lock(&w->mu);
    if (w->cancel_status == 0) {
        w->cancel_status = status;
        snprintf(w->cancel_code, sizeof w->cancel_code, "%s", code);
        snprintf(w->cancel_message, sizeof w->cancel_message, "%s", message);
    }
    pthread_mutex_unlock(&w->mu);
    atomic_store(&w->cancel, true);
}

bool work_cancelled(svc_work *w)
{
    return atomic_load(&w->cancel);
}

/* pipeline_request.abort_cb */
static bool work_should_abort(void *arg)
{
    svc_work *w = arg;
    if (atomic_load(&w->cancel))
        return true;
    return w->hooks->should_stop && w->hooks->should_stop(w->owner);
}

static void work_progress(int percent, void *arg)
{
    svc_work *w = arg;
    if (w->hooks->progress)
        w->hooks->progress(percent, w->owner);
}

static void work_segment(const pipeline_segment *seg, void *arg)
{
    svc_work *w = arg;
    if (w->hooks->segment)
        w->hooks->segment(seg, w->owner);
}

/* A failed result of a cancelled unit carries the cancel reason. */
static void apply_cancel_reason(svc_work *w, pipeline_result *res)
{
    pthread_mutex_lock(&w->mu);
    if (w->cancel_status && res->http_status != 200) {
        pipeline_result_free(res);
        res->http_status = w->cancel_status;
        snprintf(res->error_code, sizeof res->error_code, "%s", w->cancel_code);
        snprintf(res->error_message, sizeof res->error_message, "%s", w->cancel_message);
    }
    pthread_mutex_unlock(&w->mu);
}

static void work_task(void *arg)
{
    svc_work *w = arg;
    svc_server *srv = w->srv;
    const work_hooks *h = w->hooks;
    pipeline_result res;
    memset(&res, 0, sizeof res);
    if (!work_should_abort(w)) {
        if (h->started)
            h->started(w->owner);
        double t0 = mdc_now_s();
        pipeline_run(srv->holder, &w->preq, &res);
        apply_cancel_reason(w, &res);
        http_note_transcription(srv, w->endpoint, &res, mdc_now_s() - t0);
    } else {
        /* cancelled while queued: never started */
        res.http_status = PIPELINE_STATUS_CLIENT_CLOSED;
        snprintf(res.error_code, sizeof res.error_code, "cancelled");
        snprintf(res.error_message, sizeof res.error_message, "cancelled before it started");
        apply_cancel_reason(w, &res);
        svc_metrics_transcription(&srv->metrics, w->endpoint, res.error_code, 0, 0);
    }
    /* the temp file is no longer needed: unlink it before the owner answers */
    upl_form *form = w->form;
    w->form = NULL;
    memset(&w->preq, 0, sizeof w->preq);
    upl_free(form);
    drop_audio_tmp(w);
    h->finished(w->owner, &res);
    pipeline_result_free(&res);
    h->release(w->owner);
}

int work_submit(svc_work *w)
{
    w->preq.progress_cb = work_progress;
    w->preq.segment_cb = work_segment;
    w->preq.abort_cb = work_should_abort;
    w->preq.user = w;
    w->hooks->retain(w->owner);
    if (wrk_submit(w->srv->pool, work_task, w) != 0) {
        w->hooks->release(w->owner);
        return -1;
    }
    return 0;
}
