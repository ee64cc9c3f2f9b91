/*
 * http_jobs.c — asynchronous processing: POST /jobs (202 + id at once), GET /jobs/{id}
 * (status and progress), GET /jobs/{id}/events (Server-Sent Events: progress, segment,
 * done, error — names and payloads in jobs.h), GET /jobs/{id}/result (the Markdown
 * report once done), DELETE /jobs/{id} (cancel or forget), GET /jobs (recent jobs).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdc/clock.h"
#include "mdc/log.h"
#include "routes.h"

/* Answers a JOBS_E_* error of the store. */
static enum MHD_Result jobs_error(svc_server *srv, http_req *req, int err)
{
    if (err == JOBS_E_UNAVAILABLE)
        return http_send_error(req, 503, "jobs_unavailable",
                               "the job store (Redis) cannot be reached; retry shortly");
    if (err == JOBS_E_ROLE)
        return http_send_error(req, 403, "wrong_role",
                               "this replica only runs jobs (JOBS_ROLE=worker); send uploads to "
                               "an api or both replica");
    if (err == JOBS_E_CLOSING)
        return http_send_error(req, 503, "shutting_down", "the server is shutting down");
    svc_metrics_transcription(&srv->metrics, "jobs", "queue_full", 0, 0);
    return http_send_queue_full(req);
}

enum MHD_Result http_jobs_create(svc_server *srv, http_req *req)
{
    enum MHD_Result ret;
    if (upl_file_bytes(req->work.form) == 0)
        return http_send_error(req, 422, "empty_file", "the uploaded file is empty (0 bytes)");
    if (atomic_load(&srv->stopping))
        return http_send_error(req, 503, "shutting_down", "the server is shutting down");
    pipeline_request pr;
    if (!http_build_report_request(srv, req, &pr, &ret))
        return ret;
    int err = 0;
    job *j = jobs_create(srv->jobs, srv, req->work.form, &pr, http_accepts_json(req), &err);
    if (!j)
        return jobs_error(srv, req, err);
    req->work.form = NULL; /* the job owns the upload now (or the store consumed it) */
    http_req_leave_admission(req); /* the job store holds it now */
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
    int err = 0;
    job *j = jobs_find(srv->jobs, req->id, &err);
    if (!j && err)
        *ret = jobs_error(srv, req, err);
    else if (!j)
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
    if (r)
        jobs_follow(srv->jobs, j);
    job_unref(j);
    if (!r)
        return http_send_error(req, 500, "internal_error", "out of memory");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    return http_send_response(req, 200, r);
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
    if (st == JOB_DONE || st == JOB_FAILED || st == JOB_CANCELLED) {
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
    } else if (st == JOB_FAILED || st == JOB_CANCELLED) {
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

/* DELETE /jobs/{id}: cancels an unfinished job (it ends as "cancelled"; a running
 * transcription stops at the engine's next abort poll) or forgets a finished one. */
enum MHD_Result http_jobs_delete(svc_server *srv, http_req *req)
{
    enum MHD_Result ret;
    job *j = find_or_404(srv, req, &ret);
    if (!j)
        return ret;
    json_t *o = NULL;
    int rc = jobs_cancel(srv->jobs, j);
    if (rc == 1) {
        MDC_LOG_INFO("job %s cancelled", j->id);
        o = json_pack("{s:s, s:s}", "id", j->id, "status", "cancelled");
    } else if (rc == 0 && (rc = jobs_remove(srv->jobs, j)) == JOBS_OK) {
        o = json_pack("{s:s, s:s}", "id", j->id, "status", "deleted");
    }
    job_unref(j);
    if (rc < 0)
        return jobs_error(srv, req, rc);
    if (!o)
        return http_send_error(req, 500, "internal_error", "out of memory");
    return http_send_json(req, 200, o);
}

/* GET /jobs?status=&limit=&after=: recent jobs, newest first, one bounded page. */
enum MHD_Result http_jobs_list(svc_server *srv, http_req *req)
{
    job_query q = {.status = -1, .limit = JOBS_LIST_DEFAULT, .after = NULL};
    const char *st = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, "status");
    const char *lim = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, "limit");
    const char *after = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, "after");
    if (st && *st && (q.status = job_status_parse(st)) < 0)
        return http_send_error(req, 400, "invalid_query",
                               "status must be queued, running, done, failed or cancelled (got "
                               "\"%.20s\")",
                               st);
    if (lim && *lim) {
        char *end = NULL;
        long n = strtol(lim, &end, 10);
        if (!end || *end || n < 1 || n > JOBS_LIST_MAX)
            return http_send_error(req, 400, "invalid_query",
                                   "limit must be an integer from 1 to %d (got \"%.20s\")",
                                   JOBS_LIST_MAX, lim);
        q.limit = (int)n;
    }
    if (after && *after)
        q.after = after;
    job *page[JOBS_LIST_MAX];
    bool more = false;
    int n = jobs_list(srv->jobs, &q, page, &more);
    if (n == JOBS_E_UNAVAILABLE)
        return jobs_error(srv, req, n);
    if (n < 0)
        return http_send_error(req, 400, "invalid_query",
                               "after=\"%.40s\" names no kept job (unknown or expired)", after);
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        pthread_mutex_lock(&page[i]->mu);
        json_t *o = job__status_object(page[i]);
        pthread_mutex_unlock(&page[i]->mu);
        if (o)
            json_array_append_new(arr, o);
    }
    json_t *res = json_object();
    json_object_set_new(res, "jobs", arr);
    json_object_set_new(res, "next", more && n > 0 ? json_string(page[n - 1]->id) : json_null());
    for (int i = 0; i < n; i++)
        job_unref(page[i]);
    return http_send_json(req, 200, res);
}
