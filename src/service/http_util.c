/*
 * http_util.c — response helpers shared by the handlers: JSON errors of DESIGN §3 in
 * OpenAI's shape, common headers (CORS included, http_cors.c), and the per-route
 * request counter.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mdc/clock.h"
#include "connguard.h"
#include "routes.h"

/* Adds the headers every answer carries. */
static void common_headers(struct MHD_Response *r, const char *content_type)
{
    if (content_type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
}

/* Frees the upload (and unlinks its temp file) before the answer goes out, so a client
 * that has its answer never sees the file; a submitted request's worker does it. */
static void drop_upload(http_req *req)
{
    if (req->work.form && !req->submitted) {
        upl_free(req->work.form);
        req->work.form = NULL;
    }
}

enum MHD_Result http_send_response(http_req *req, unsigned status, struct MHD_Response *r)
{
    if (req->capture) { /* a store handler on the I/O thread: the polling thread queues it */
        if (req->off_resp)
            MHD_destroy_response(req->off_resp);
        req->off_resp = r;
        req->off_status = status;
        return MHD_YES;
    }
    http_cors_headers(req, r);
    drop_upload(req);
    /* answered: no client deadline from here (an early answer — 401, 413 — is sent while
     * libmicrohttpd discards the rest of the body, then the connection closes) */
    cg_phase_set(req->cg, CG_BUSY);
    enum MHD_Result ret = MHD_queue_response(req->conn, status, r);
    MHD_destroy_response(r);
    req->responded = true;
    svc_metrics_http(&req->srv->metrics, req->route ? req->route->pattern : "unmatched", status,
                     mdc_now_s() - req->start_s);
    return ret;
}

enum MHD_Result http_send(http_req *req, unsigned status, const char *content_type,
                          const char *body, size_t len, const char *extra_name,
                          const char *extra_value)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    common_headers(r, content_type);
    if (extra_name && extra_value)
        MHD_add_response_header(r, extra_name, extra_value);
    return http_send_response(req, status, r);
}

enum MHD_Result http_send_owned(http_req *req, unsigned status, const char *content_type,
                                char *body, size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, body, free);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    common_headers(r, content_type);
    return http_send_response(req, status, r);
}

enum MHD_Result http_send_json(http_req *req, unsigned status, json_t *value)
{
    char *txt = value ? json_dumps(value, JSON_COMPACT) : NULL;
    json_decref(value);
    if (!txt) {
        static const char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":"
                                  "\"server_error\",\"code\":\"internal_error\",\"param\":null}}";
        return http_send(req, 500, "application/json", oom, sizeof oom - 1, NULL, NULL);
    }
    size_t len = strlen(txt);
    /* a trailing newline makes curl output readable */
    char *withnl = realloc(txt, len + 2);
    if (withnl) {
        withnl[len] = '\n';
        withnl[len + 1] = '\0';
        txt = withnl;
        len++;
    }
    return http_send_owned(req, status, "application/json", txt, len);
}

const char *http_error_type(unsigned status)
{
    /* ref: OpenAI API reference "Error codes": request problems (401 included: OpenAI
     * answers a wrong key with type invalid_request_error, code invalid_api_key) vs
     * failures on the server's side */
    return status >= 500 ? "server_error" : "invalid_request_error";
}

json_t *http_error_object(unsigned status, const char *code, const char *param,
                          const char *message)
{
    return json_pack("{s:{s:s, s:s, s:s, s:s?}}", "error", "message", message, "type",
                     http_error_type(status), "code", code, "param", param);
}

/* Formats and queues an error; one extra header when hname is set. */
static enum MHD_Result send_error_v(http_req *req, unsigned status, const char *code,
                                    const char *param, const char *hname, const char *hval,
                                    const char *fmt, va_list ap)
    __attribute__((format(printf, 7, 0)));
static enum MHD_Result send_error_v(http_req *req, unsigned status, const char *code,
                                    const char *param, const char *hname, const char *hval,
                                    const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    /* jansson rejects invalid UTF-8: replace anything odd rather than fail */
    json_t *o = http_error_object(status, code, param, msg);
    if (!o) {
        for (char *p = msg; *p; p++)
            if ((unsigned char)*p >= 0x80)
                *p = '?';
        o = http_error_object(status, code, param, msg);
    }
    if (!hname)
        return http_send_json(req, status, o);
    char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    enum MHD_Result r = http_send(req, status, "application/json", txt ? txt : "{}",
                                  txt ? strlen(txt) : 2, hname, hval);
    free(txt);
    return r;
}

enum MHD_Result http_send_error(http_req *req, unsigned status, const char *code,
                                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum MHD_Result r = send_error_v(req, status, code, NULL, NULL, NULL, fmt, ap);
    va_end(ap);
    return r;
}

enum MHD_Result http_send_error_param(http_req *req, unsigned status, const char *code,
                                      const char *param, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum MHD_Result r = send_error_v(req, status, code, param, NULL, NULL, fmt, ap);
    va_end(ap);
    return r;
}

enum MHD_Result http_send_error_hdr(http_req *req, unsigned status, const char *hname,
                                    const char *hvalue, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum MHD_Result r = send_error_v(req, status, code, NULL, hname, hvalue, fmt, ap);
    va_end(ap);
    return r;
}

enum MHD_Result http_send_upload_error(http_req *req, const upl_error *e)
{
    /* the file is the part at fault for a size or a missing file */
    const char *param = e->status == 413 || strcmp(e->code, "missing_file") == 0 ? "file" : NULL;
    return http_send_error_param(req, e->status, e->code, param, "%s", e->message);
}

enum MHD_Result http_send_queue_full(http_req *req)
{
    svc_server *srv = req->srv;
    double avg = atomic_load(&srv->avg_transcription_s);
    int threads = srv->pool ? wrk_threads(srv->pool) : 1;
    int queued = srv->pool ? wrk_queued(srv->pool) : 0;
    double est = avg > 0 ? avg * (queued + 1) / threads : 5;
    int secs = est < 1 ? 1 : est > 300 ? 300 : (int)(est + 0.999);
    char ra[16];
    snprintf(ra, sizeof ra, "%d", secs);
    return http_send_error_hdr(req, 503, MHD_HTTP_HEADER_RETRY_AFTER, ra, "queue_full",
                               "all transcription workers are busy and the queue is full; "
                                  "retry after the number of seconds in Retry-After");
}

const char *http_header(http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

bool http_accepts_json(http_req *req)
{
    const char *a = http_header(req, MHD_HTTP_HEADER_ACCEPT);
    return a && strcasestr(a, "application/json") != NULL;
}
