/*
 * http_jobs.c — asynchronous processing: POST /jobs (202 + id at once), GET /jobs/{id}
 * (status and progress), GET /jobs/{id}/events (Server-Sent Events: progress, segment,
 * done, error — names and payloads in jobs.h), GET /jobs/{id}/result (the Markdown
 * report once done).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdc/clock.h"
#include "routes.h"

typedef struct job_task_arg {
    svc_server *srv;
    job *j;
} job_task_arg;

static void job_progress(int percent, void *user)
{
    job_set_progress(user, percent);
}

/* The pipeline's new-segment callback: the text goes out as a `segment` event. */
static void job_segment(const pipeline_segment *seg, void *user)
{
    job_add_segment(user, seg->t0_s, seg->t1_s, seg->text);
}

/* Worker: runs the pipeline for a job, keeps the result in the job. */
static void job_task(void *arg)
{
    job_task_arg *a = arg;
    job *j = a->j;
    svc_server *srv = a->srv;
    free(a);
    job_set_running(j);
    pipeline_result res;
    memset(&res, 0, sizeof res);
    double t0 = mdc_now_s();
    pipeline_run(srv->holder, &j->preq, &res);
    http_note_transcription(srv, "jobs", &res, mdc_now_s() - t0);
    job_finish(j, &res);
    job_unref(j); /* the task's reference */
}

enum MHD_Result http_jobs_create(svc_server *srv, http_req *req)
{
    enum MHD_Result ret;
    if (upl_file_bytes(req->form) == 0)
        return http_send_error(req, 422, "empty_file", "the uploaded file is empty (0 bytes)");
    if (atomic_load(&srv->stopping))
        return http_send_error(req, 503, "shutting_down", "the server is shutting down");
    pipeline_request pr;
    if (!http_build_report_request(srv, req, &pr, &ret))
        return ret;
    job_task_arg *a = malloc(sizeof *a);
    job *j = a ? jobs_create(srv->jobs, req->form) : NULL;
    if (!j) {
        free(a);
        return http_send_queue_full(req);
    }
    req->form = NULL; /* the job owns the upload now */
    j->preq = pr;
    j->preq.progress_cb = job_progress;
    j->preq.segment_cb = job_segment;
    j->preq.abort_cb = job_should_abort;
    j->preq.user = j;
    j->want_json = http_accepts_json(req);
    a->srv = srv;
    a->j = j;
    pthread_mutex_lock(&j->mu);
    j->refs++; /* the task's reference */
    pthread_mutex_unlock(&j->mu);
    if (wrk_submit(srv->pool, job_task, a) != 0) {
        free(a);
        job_unref(j);           /* task's */
        jobs_remove(srv->jobs, j); /* store's */
        job_unref(j);           /* ours: frees the job and its upload */
        svc_metrics_transcription(&srv->metrics, "jobs", "queue_full", 0, 0);
        return http_send_queue_full(req);
    }
    http_req_leave_admission(req); /* the pool counts it now */
    char base[64];
    snprintf(base, sizeof base, "/jobs/%s", j->id);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s+, s:s+}", "id", j->id, "status", "queued",
                          "status_url", base, "events_url", base, "/events", "result_url", base,
                          "/result");
    job_unref(j);
    char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!txt)
        return http_send_error(req, 500, "internal_error", "out of memory");
    ret = http_send(req, 202, "application/json", txt, strlen(txt), MHD_HTTP_HEADER_LOCATION, base);
    free(txt);
    return ret;
}

/* Looks up the {id} job or answers 404. */
static job *find_or_404(svc_server *srv, http_req *req, enum MHD_Result *ret)
{
    job *j = jobs_find(srv->jobs, req->id);
    if (!j)
        *ret = http_send_error(req, 404, "not_found", "no job with id \"%.40s\" (unknown or expired)",
                               req->id);
    return j;
}

enum MHD_Result http_jobs_status(svc_server *srv, http_req *req)
{
    enum MHD_Result ret;
    job *j = find_or_404(srv, req, &ret);
    if (!j)
        return ret;
    char *txt = job_status_json(j);
    job_unref(j);
    if (!txt)
        return http_send_error(req, 500, "internal_error", "out of memory");
    return http_send_owned(req, 200, "application/json", txt, strlen(txt));
}

enum MHD_Result http_jobs_events(svc_server *srv, http_req *req)
{
    enum MHD_Result ret;
    job *j = find_or_404(srv, req, &ret);
    if (!j)
        return ret;
    struct MHD_Response *r = job_events_response(j, req->conn);
    job_unref(j);
    if (!r)
        return http_send_error(req, 500, "internal_error", "out of memory");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    ret = http_send_response(req, 200, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result http_jobs_result(svc_server *srv, http_req *req)
{
    enum MHD_Result ret;
    job *j = find_or_404(srv, req, &ret);
    if (!j)
        return ret;
    pthread_mutex_lock(&j->mu);
    job_status st = j->status;
    pipeline_result copy;
    memset(&copy, 0, sizeof copy);
    if (st == JOB_DONE || st == JOB_FAILED) {
        copy = j->result;
        copy.body = j->result.body ? strdup(j->result.body) : NULL;
        copy.segments_json = j->result.segments_json ? strdup(j->result.segments_json) : NULL;
    }
    bool want_json = j->want_json || http_accepts_json(req);
    pthread_mutex_unlock(&j->mu);
    if (st == JOB_DONE) {
        if (want_json)
            ret = http_send_markdown_json(req, copy.body, copy.segments_json);
        else if (copy.body)
            ret = http_send_owned(req, 200, rpt_format_mime(RPT_FORMAT_MARKDOWN), copy.body,
                                  strlen(copy.body)), copy.body = NULL;
        else
            ret = http_send(req, 200, rpt_format_mime(RPT_FORMAT_MARKDOWN), "", 0, NULL, NULL);
    } else if (st == JOB_FAILED) {
        ret = http_send_pipeline_error(req, &copy);
    } else {
        char *txt = job_status_json(j);
        ret = http_send(req, 202, "application/json", txt ? txt : "{}", txt ? strlen(txt) : 2,
                        MHD_HTTP_HEADER_RETRY_AFTER, "1");
        free(txt);
    }
    free(copy.body);
    free(copy.segments_json);
    job_unref(j);
    return ret;
}
