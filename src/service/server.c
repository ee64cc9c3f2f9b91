/*
 * server.c — svc_serve(): starts libmicrohttpd, dispatches requests through the route
 * table, runs the idle-unload/job-expiry ticker on the main thread, and shuts down on
 * SIGINT/SIGTERM.
 *
 * Threads: MHD's one internal polling thread (epoll) runs every handler — except the
 * ROUTE_STORE ones when the job store may block (Redis), which run on the one-thread
 * I/O pool `srv.io` with their connection suspended (offload_*, routes.h); the worker
 * pool runs transcriptions; the holder's preload thread (WHISPER_PRELOAD) loads the
 * model after the listener is up; the main thread waits for signals and ticks.
 * SIGINT/SIGTERM/SIGHUP are blocked in every thread and taken with sigtimedwait() here
 * (no signal handler runs, so nothing async-signal-unsafe can happen): SIGINT/SIGTERM
 * shut down, SIGHUP reloads the model (holder_request_reload: dropped once no
 * transcription holds it, mapped again by the next request).
 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mdc/clock.h"
#include "mdc/cpu.h"
#include "mdc/log.h"
#include "mdc/mapguard.h"
#include "connguard.h"
#include "routes.h"
#include "tmpdir.h"

#define SVC__TICK_MS 100           /* idle-unload, job-expiry and connection-deadline period */
#define SVC__BODY_GRACE_S 10.0     /* UPLOAD_MIN_BYTES_PER_SECOND's grace without a header deadline */
#define SVC__PROBE_CONN_LIMIT 64   /* connections of the HEALTH_PORT listener */
#define SVC__MAX_CONNECTIONS 1000  /* PORT's connection limit; the top 10 % is the reserve
                                      that connguard keeps free by evicting idle headers */
#define SVC__PROBE_TIMEOUT_S 10    /* its idle timeout */
#define SVC__LOG_EVERY_S 10.0      /* libmicrohttpd messages: at most one line per period */
#define SVC__PEER_CHECK_MS 200.0   /* disconnect poll period during a transcription */
#define SVC__MAX_DISCARD (64ull << 20) /* body bytes read past a known error before closing */
#define SVC__JOB_GAUGE_TICKS 20    /* mdconv_jobs refresh: every 2 s */
#define SVC__ABORT_WAIT_MS 5000    /* after the grace: aborted work stops at its next poll */

/* ---- request state -------------------------------------------------------------- */

void http_req_leave_admission(http_req *req)
{
    if (req->admitted) {
        req->admitted = false;
        atomic_fetch_sub(&req->srv->uploads_spooling, 1);
    }
}

static void req_retain(void *owner)
{
    http_req *req = owner;
    pthread_mutex_lock(&req->mu);
    req->refs++;
    pthread_mutex_unlock(&req->mu);
}

static void req_release(void *owner)
{
    http_req_unref(owner);
}

/* The worker's result: keep it and resume the suspended connection to answer it. */
static void req_finished(void *owner, pipeline_result *res)
{
    http_req *req = owner;
    req->result = *res;
    memset(res, 0, sizeof *res);
    pthread_mutex_lock(&req->mu);
    req->done = true;
    if (req->suspended && !req->closed) {
        req->suspended = false;
        MHD_resume_connection(req->conn);
    }
    pthread_mutex_unlock(&req->mu);
}

/* Extra stop reasons of a synchronous request (routes.h). */
static bool req_should_stop(void *owner)
{
    http_req *req = owner;
    svc_work *w = &req->work;
    if (atomic_load(&req->srv->grace_over)) {
        work_cancel(w, 503, "shutting_down", "the server is shutting down; retry the request");
        return true;
    }
    int timeout = req->srv->cfg->request_timeout_seconds;
    if (timeout > 0 && mdc_now_s() - req->start_s > timeout) {
        char msg[128];
        snprintf(msg, sizeof msg,
                 "the transcription took longer than REQUEST_TIMEOUT_SECONDS (%d s)", timeout);
        work_cancel(w, 504, "timeout", msg);
        return true;
    }
    double now = mdc_now_ms();
    if (now - req->last_peer_check_ms < SVC__PEER_CHECK_MS)
        return false;
    req->last_peer_check_ms = now;
    /* The connection is suspended, so MHD does not watch its socket: peek at it. */
    bool gone = false;
    pthread_mutex_lock(&req->mu);
    if (req->closed) {
        gone = true;
    } else {
        gone = http_peer_gone(req); /* a half-closed client still gets its answer */
    }
    pthread_mutex_unlock(&req->mu);
    if (gone) {
        MDC_LOG_INFO("client disconnected: cancelling its transcription");
        work_cancel(w, PIPELINE_STATUS_CLIENT_CLOSED, "client_closed",
                    "the client closed the connection");
    }
    return gone;
}

/* A new segment: a stream=true request sends it as an event (http_stream.c). */
static void req_segment(const pipeline_segment *seg, void *owner)
{
    http_req *req = owner;
    if (req->stream)
        http_stream_segment(seg, req);
}

const work_hooks http_req_work_hooks = {
    .retain = req_retain,
    .release = req_release,
    .segment = req_segment,
    .should_stop = req_should_stop,
    .finished = req_finished,
};

static http_req *req_new(svc_server *srv, struct MHD_Connection *conn)
{
    http_req *req = calloc(1, sizeof *req);
    if (!req)
        return NULL;
    req->srv = srv;
    req->conn = conn;
    req->refs = 1; /* MHD's, dropped in on_completed() */
    req->start_s = mdc_now_s();
    req->fd = -1;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci)
        req->fd = ci->connect_fd;
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    req->cg = ci ? ci->socket_context : NULL;
    pthread_mutex_init(&req->mu, NULL);
    work_init(&req->work, srv, NULL, &http_req_work_hooks, req);
    return req;
}

void http_req_unref(http_req *req)
{
    pthread_mutex_lock(&req->mu);
    int left = --req->refs;
    pthread_mutex_unlock(&req->mu);
    if (left > 0)
        return;
    if (req->off_resp)
        MHD_destroy_response(req->off_resp);
    work_destroy(&req->work);
    pipeline_result_free(&req->result);
    free(req->sse.p);
    pthread_mutex_destroy(&req->mu);
    free(req);
}

/* ---- store handlers off the polling thread ------------------------------------------ */

/* The I/O thread's task: runs the suspended request's handler (its answer is kept,
 * routes.h), then resumes the connection so the polling thread queues that answer. */
static void offload_run(void *arg)
{
    http_req *req = arg;
    req->capture = true;
    enum MHD_Result ret = req->route->handler(req->srv, req);
    req->capture = false;
    pthread_mutex_lock(&req->mu);
    req->off_ret = ret;
    req->off_state = HTTP_OFF_DONE;
    pthread_mutex_unlock(&req->mu);
    MHD_resume_connection(req->conn); /* MHD cannot close it while suspended */
    http_req_unref(req);
}

/* Polling thread: suspends the request and hands its handler to the I/O thread; when
 * the I/O queue is full (every connection waiting on a stalled store), answers 503
 * jobs_unavailable at once.  Returns MHD_YES. */
static enum MHD_Result offload_start(svc_server *srv, http_req *req)
{
    pthread_mutex_lock(&req->mu);
    req->off_state = HTTP_OFF_RUNNING;
    req->refs++; /* the task's */
    pthread_mutex_unlock(&req->mu);
    MHD_suspend_connection(req->conn);
    if (wrk_submit(srv->io, offload_run, req) == 0)
        return MHD_YES;
    req->capture = true;
    req->off_ret = http_send_error(req, 503, "jobs_unavailable",
                                   "too many requests wait for the job store (Redis); retry shortly");
    req->capture = false;
    pthread_mutex_lock(&req->mu);
    req->off_state = HTTP_OFF_DONE;
    req->refs--; /* MHD's reference remains */
    pthread_mutex_unlock(&req->mu);
    MHD_resume_connection(req->conn);
    return MHD_YES;
}

/* Polling thread, after the resume: queues the answer the handler left. */
static enum MHD_Result offload_deliver(http_req *req)
{
    struct MHD_Response *r = req->off_resp;
    req->off_resp = NULL;
    if (!r)
        return req->off_ret; /* the handler failed without an answer: MHD closes */
    return http_send_response(req, req->off_status, r);
}

/* Runs the request's handler: inline, or on the I/O thread for a store that blocks. */
static enum MHD_Result dispatch(svc_server *srv, http_req *req)
{
    pthread_mutex_lock(&req->mu);
    int st = req->off_state;
    pthread_mutex_unlock(&req->mu);
    if (st == HTTP_OFF_DONE)
        return offload_deliver(req);
    if (st == HTTP_OFF_RUNNING)
        return MHD_YES; /* not resumed yet */
    if ((req->route->flags & ROUTE_STORE) && srv->io)
        return offload_start(srv, req);
    return req->route->handler(srv, req);
}

/* ---- dispatch ------------------------------------------------------------------- */

/* Finds the header after the one whose value is at `value` (wire order). */
typedef struct next_header {
    const char *value;
    const char *next_key; /* NULL: that header is the last one */
    bool seen;
} next_header;

static enum MHD_Result find_next_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                        size_t key_size, const char *value, size_t value_size)
{
    (void)kind, (void)key_size, (void)value_size;
    next_header *n = cls;
    if (n->seen) {
        n->next_key = key;
        return MHD_NO; /* stop */
    }
    n->seen = value == n->value;
    return MHD_YES;
}

/* True when the header value MHD returned (value[len]) is all that was sent on its line.
 * libmicrohttpd 0.9.75 parses header lines in place and cuts a value at an embedded NUL,
 * reporting only the bytes before it — MHD_lookup_connection_value_n's length too — so
 * "Bearer KEY\0junk" would read as "Bearer KEY" (RFC 9110 §5.5: a field value with NUL
 * must be rejected).  Its read buffer keeps the line: the terminator (CR LF or LF) is
 * overwritten with NULs and the next header line follows at once.  So the value is whole
 * when value[len] ends it and what follows is that terminator: the next header's first
 * byte one or two bytes on (LF / CR LF), or, for the last header, the NUL of the blank
 * line.  Only bytes inside the parsed header block are read (a following line or the
 * blank line always exists).  Not told apart: a value that only ends in one NUL before
 * a bare LF (or, as the last header, before its line end) — it leaves the same bytes as
 * CR LF, and hides nothing after it.  A library that reports the full length shows the
 * NUL within value[len] instead, which the caller refuses too. */
static bool header_value_whole(struct MHD_Connection *conn, const char *value, size_t len)
{
    next_header n = {.value = value};
    MHD_get_connection_values_n(conn, MHD_HEADER_KIND, find_next_header, &n);
    const char *after = value + len + 1; /* past the NUL that ends the value */
    if (!n.seen)
        return true; /* not found: nothing to compare with (not expected) */
    if (!n.next_key)
        return *after == '\0'; /* the last header: the blank line follows */
    return after == n.next_key || (*after == '\0' && after + 1 == n.next_key);
}

/* Constant-time comparison of the Authorization header with "Bearer KEY".  The value's
 * length is libmicrohttpd's, and a value with an embedded NUL ("Bearer KEY\0junk") is
 * refused: a C-string comparison would stop at the NUL and accept it. */
static bool authorized(svc_server *srv, struct MHD_Connection *conn)
{
    const char *key = srv->cfg->api_key;
    if (!key[0])
        return true;
    const char *h = NULL;
    size_t len = 0;
    if (MHD_lookup_connection_value_n(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION,
                                      sizeof MHD_HTTP_HEADER_AUTHORIZATION - 1, &h, &len) != MHD_YES ||
        !h || len < 7 || memchr(h, '\0', len) || !header_value_whole(conn, h, len) ||
        strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    const char *end = h + len;
    h += 7;
    while (h < end && *h == ' ')
        h++;
    size_t hl = (size_t)(end - h), kl = strlen(key);
    unsigned char diff = hl != kl;
    for (size_t i = 0; i < kl; i++)
        diff |= (unsigned char)(key[i] ^ (i < hl ? h[i] : 0));
    return diff == 0;
}

static enum MHD_Result send_unauthorized(http_req *req)
{
    req->early_response = true;
    return http_send_error_hdr(req, 401, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer", "unauthorized",
                               "missing or wrong API key");
}

/* First call for a request: route, authenticate, and set up the upload. */
static enum MHD_Result first_call(svc_server *srv, http_req *req, const char *url,
                                  const char *method)
{
    enum MHD_Result fret;
    if (http_framing_refuse(req, &fret)) { /* before routing: the body's extent is unclear */
        req->early_response = true;
        return fret;
    }
    if (http_cors_is_preflight(srv, method)) { /* before the key check: preflights carry none */
        req->preflight = true; /* answered on the next call: MHD then keeps the connection */
        return MHD_YES;
    }
    bool known = false;
    cg_phase_set(req->cg, CG_BODY); /* headers complete; a body (if any) follows */
    const char *clh = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                  MHD_HTTP_HEADER_CONTENT_LENGTH);
    char *clend = NULL;
    long long clen = clh ? strtoll(clh, &clend, 10) : -1;
    cg_body_length(req->cg, clh && clend && *clend == '\0' && clen >= 0 ? clen : -1);
    req->route = routes_match(method, url, req->id, sizeof req->id, &known);
    if (req->route && req->probe && !(req->route->flags & ROUTE_PROBE)) {
        req->early_response = true;
        return http_send_error(req, 404, "not_found",
                               "HEALTH_PORT serves only /health, /ready and /metrics");
    }
    if (!req->route) {
        req->early_response = true;
        if (known) {
            char allow[64];
            routes_allowed(url, allow, sizeof allow);
            return http_send_error_hdr(req, 405, MHD_HTTP_HEADER_ALLOW, allow, "method_not_allowed",
                                       "method %.10s is not allowed on %.100s (allowed: %s)", method,
                                       url, allow);
        }
        return http_send_error(req, 404, "not_found", "no route for %.10s %.100s", method, url);
    }
    if (!(req->route->flags & ROUTE_PUBLIC) && !authorized(srv, req->conn)) {
        if (req->route->flags & ROUTE_UPLOAD) {
            /* Answered once the body is in (read and dropped, never stored; at most what
             * an upload with the key may send): answering and closing while the client
             * still sends makes clients such as Node's fetch (the OpenAI SDK) see a reset
             * connection instead of the 401. */
            req->unauthorized = true;
            return MHD_YES;
        }
        return send_unauthorized(req);
    }
    if (!(req->route->flags & ROUTE_UPLOAD))
        return MHD_YES;

    /* Uploads: decide what can be decided before reading the body (early stop). */
    const svc_config *cfg = srv->cfg;
    if (atomic_load(&srv->stopping)) {
        req->early_response = true;
        return http_send_error(req, 503, "shutting_down", "the server is shutting down");
    }
    const char *cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && cfg->max_upload_bytes > 0) {
        char *end = NULL;
        unsigned long long n = strtoull(cl, &end, 10);
        if (end && *end == '\0' && n > cfg->max_upload_bytes) { /* the body bounds the file */
            /* answered now, before the body, but as a mid-body answer (written, FIN, the
             * body drained up to a bound): a queued answer would close the connection
             * under a client still sending, and Node's fetch (the OpenAI SDK) then sees
             * EPIPE instead of the 413 */
            req->early_response = true;
            char msg[160];
            snprintf(msg, sizeof msg, "the upload (%llu bytes) is larger than MAX_UPLOAD_MB (%llu MB)",
                     n, (unsigned long long)(cfg->max_upload_bytes / (1024 * 1024)));
            return http_answer_mid_body(req, 413, "file_too_large", msg);
        }
    }
    /* Admission, from the headers alone: every upload being spooled counts like a queued
     * task, so at most MAX_CONCURRENT_TRANSCRIPTIONS + QUEUE_LENGTH bodies are on disk or
     * waiting; one more is refused before a byte of its body is read.  Jobs of a store
     * with its own queue (Redis) wait there, not in the pool: only spooling counts. */
    bool queued_elsewhere = req->route->handler == http_jobs_create && srv->jobs->ops->own_queue;
    int occupied = atomic_load(&srv->uploads_spooling) +
                   (queued_elsewhere ? 0 : wrk_queued(srv->pool) + wrk_running(srv->pool));
    if (occupied >= cfg->max_concurrent + cfg->queue_length) {
        req->early_response = true;
        svc_metrics_transcription(&srv->metrics, req->route->endpoint ? req->route->endpoint : "jobs",
                                  "queue_full", 0, 0);
        return http_send_queue_full(req);
    }
    upl_error err;
    req->work.form = upl_new(MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                    MHD_HTTP_HEADER_CONTENT_TYPE),
                        cfg->max_upload_bytes, cfg->tmp_dir, &err);
    if (!req->work.form) {
        req->early_response = true;
        return http_send_upload_error(req, &err);
    }
    req->admitted = true;
    atomic_fetch_add(&srv->uploads_spooling, 1);
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    const svc_listener *l = cls;
    svc_server *srv = l->srv;
    http_req *req = *con_cls;
    if (!req) {
        req = req_new(srv, conn);
        if (!req)
            return MHD_NO;
        req->probe = l->probe;
        *con_cls = req;
        req->http11 = version && strcmp(version, MHD_HTTP_VERSION_1_1) == 0;
        return first_call(srv, req, url, method);
    }
    if (*upload_data_size > 0) {
        cg_body_bytes(req->cg, *upload_data_size);
        if (req->unauthorized && !req->answered_raw) {
            req->discarded += *upload_data_size;
            *upload_data_size = 0;
            if (req->discarded > srv->cfg->max_upload_bytes) /* enough: answer now, mid-body */
                return http_answer_mid_body(req, 401, "unauthorized", "missing or wrong API key");
            return MHD_YES;
        }
        /* a response queued early (413, 401 …) makes MHD discard the body itself */
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        req->body_bytes += n;
        uint64_t limit = srv->cfg->max_upload_bytes;
        if (req->work.form && !req->responded && limit > 0 && req->body_bytes > limit) {
            /* only a chunked body gets here (a Content-Length past the limit was refused
             * before the body): answer now, mid-body — with the form's own error when it
             * had one before the limit (a field too long …) */
            const upl_error *e = upl_error_get(req->work.form);
            if (e->status)
                return http_answer_mid_body(req, e->status, e->code, e->message);
            char msg[160];
            snprintf(msg, sizeof msg, "the upload is larger than MAX_UPLOAD_MB (%llu MB)",
                     (unsigned long long)(limit / (1024 * 1024)));
            return http_answer_mid_body(req, 413, "file_too_large", msg);
        }
        if (req->answered_raw || (req->work.form && !req->responded && upl_feed(req->work.form, upload_data, n) != 0)) {
            /* the answer is known; the rest of a Content-Length body (at most the limit)
             * is read and dropped, then answered; past an answer written mid-body, read
             * a little so the client can see it, then close */
            req->discarded += n;
            if (req->answered_raw && req->discarded > SVC__MAX_DISCARD)
                return MHD_NO;
        }
        return MHD_YES;
    }
    if (req->answered_raw)
        return MHD_NO; /* the answer went out mid-body: close */
    cg_phase_set(req->cg, CG_BUSY); /* the whole request is in: no client deadline now */
    if (req->preflight && !req->responded)
        return http_cors_preflight(srv, req, url);
    if (req->responded || !req->route)
        return MHD_YES;
    if (req->unauthorized)
        return send_unauthorized(req);
    if (req->work.form && !req->submitted && !req->early_response) {
        req->early_response = true; /* finish once */
        if (upl_finish(req->work.form) != 0) {
            return http_send_upload_error(req, upl_error_get(req->work.form));
        }
    }
    return dispatch(srv, req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    http_req *req = *con_cls;
    if (!req)
        return;
    *con_cls = NULL;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK && !req->responded)
        MDC_LOG_DEBUG("request ended before an answer (code %d)", (int)toe);
    cg_request_ended(req->srv->guard, req->cg,
                     toe == MHD_REQUEST_TERMINATED_READ_ERROR ||
                         toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT);
    cg_phase_set(req->cg, CG_HEADERS); /* keep-alive: the next request's headers are due */
    http_req_leave_admission(req);
    pthread_mutex_lock(&req->mu);
    req->closed = true;
    bool cancel = req->submitted && !req->done;
    pthread_mutex_unlock(&req->mu);
    if (cancel) /* the client is gone: cancel its transcription */
        work_cancel(&req->work, PIPELINE_STATUS_CLIENT_CLOSED, "client_closed",
                    "the client closed the connection");
    http_req_unref(req);
}

/* Connection registration for the guard (NOTIFY_CONNECTION); cls is the svc_listener. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    const svc_listener *l = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *fd =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *ad =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        *socket_context = fd ? cg_open(l->srv->guard, fd->connect_fd, ad ? ad->client_addr : NULL,
                                       !l->probe)
                             : NULL;
    } else {
        cg_close(l->srv->guard, *socket_context); /* before MHD closes the fd */
        *socket_context = NULL;
    }
}

/* Accept policy of PORT: the per-address cap. */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t len)
{
    const svc_listener *l = cls;
    return cg_admit(l->srv->guard, addr, len) ? MHD_YES : MHD_NO;
}

/* libmicrohttpd's messages (a dropped connection, a refused accept …) can come by the
 * thousand under a flood: counted, and logged as at most one WARN line per
 * SVC__LOG_EVERY_S with the number of messages it stands for. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    static double last_s = -1e9;
    static unsigned long suppressed;
    svc_server *srv = cls;
    if (srv && srv->metrics.mhd_messages_total)
        met_inc(srv->metrics.mhd_messages_total, NULL, 1);
    double now = mdc_now_s();
    pthread_mutex_lock(&mu);
    bool print = now - last_s >= SVC__LOG_EVERY_S;
    unsigned long n = suppressed;
    if (print) {
        last_s = now;
        suppressed = 0;
    } else {
        suppressed++;
    }
    pthread_mutex_unlock(&mu);
    if (!print) {
        char dbg[512];
        vsnprintf(dbg, sizeof dbg, fmt, ap);
        MDC_LOG_DEBUG("libmicrohttpd: %s", dbg);
        return;
    }
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t len = strlen(buf);
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        buf[--len] = '\0';
    if (n)
        MDC_LOG_WARN("libmicrohttpd: %s (and %lu more messages in the last %.0f s; "
                     "mdconv_http_server_messages_total)",
                     buf, n, SVC__LOG_EVERY_S);
    else
        MDC_LOG_WARN("libmicrohttpd: %s", buf);
}

/* ---- start-up and shutdown -------------------------------------------------------- */

/* Resolves HOST (numeric or a name) for PORT into *ss.  Returns 0 or -1. */
static int resolve_host(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len,
                        bool *ipv6)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", port);
    int rc = getaddrinfo(host && *host ? host : NULL, portstr, &hints, &res);
    if (rc != 0 || !res) {
        MDC_LOG_ERROR("HOST=%s: %s", host, gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    *ipv6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return 0;
}

/* Waits up to ms for the pool to drain. */
static void wait_workers_idle(wrk_pool *pool, int ms)
{
    for (int waited = 0; waited < ms; waited += 20) {
        if (wrk_queued(pool) == 0 && wrk_running(pool) == 0)
            return;
        struct timespec ts = {0, 20 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* mdconv_jobs{state}: the store's jobs by status. */
static void count_jobs(void *arg)
{
    svc_server *srv = arg;
    int counts[JOB_N_STATUS];
    if (jobs_count(srv->jobs, counts) == 0)
        for (int i = 0; i < JOB_N_STATUS; i++) {
            const char *lv[] = {job_status_name((job_status)i)};
            met_set(srv->metrics.jobs, lv, counts[i]);
        }
    atomic_store(&srv->counts_pending, false);
}

/* Refreshes mdconv_jobs: on the I/O thread when the store may block (the main thread
 * keeps its tick: deadlines, signals), at most one refresh queued at a time. */
static void publish_job_counts(svc_server *srv)
{
    if (!srv->metrics.jobs)
        return;
    if (!srv->io) {
        count_jobs(srv);
        return;
    }
    if (atomic_exchange(&srv->counts_pending, true))
        return;
    if (wrk_submit(srv->io, count_jobs, srv) != 0)
        atomic_store(&srv->counts_pending, false);
}

/* SIGHUP: the model file may have been replaced; drop the mapping when no transcription
 * holds it so the next request maps the file again.  Settings are not re-read. */
static void on_reload(svc_server *srv)
{
    int holding = holder_refs(srv->holder);
    int rc = holder_request_reload(srv->holder);
    if (rc == 1)
        MDC_LOG_INFO("SIGHUP received: reload: model %s dropped; the next request maps %s",
                     holder_name(srv->holder), holder_path(srv->holder));
    else if (rc == 0)
        MDC_LOG_INFO("SIGHUP received: reload: model %s will be dropped when the %d running "
                     "transcription(s) finish; new requests wait for that, then map %s",
                     holder_name(srv->holder), holding, holder_path(srv->holder));
    else
        MDC_LOG_INFO("SIGHUP received: reload: model %s is not mapped; the next request "
                     "maps %s (without waiting out a load back-off)",
                     holder_name(srv->holder), holder_path(srv->holder));
    if (srv->vad_holder && holder_request_reload(srv->vad_holder) >= 0)
        MDC_LOG_INFO("SIGHUP received: reload: VAD model %s is read again on its next use",
                     holder_name(srv->vad_holder));
}

/* /metrics collect hook: the pool gauges, read when they are scraped. */
static void collect_pool(met_registry *reg, void *user)
{
    svc_server *srv = user;
    svc_metrics_workers(&srv->metrics, wrk_threads(srv->pool), wrk_running(srv->pool),
                        holder_refs(srv->holder));
}

/* Warns at start when the model file cannot be read: /ready then says "missing". */
static void warn_if_model_missing(const svc_config *cfg)
{
    const char *problem = http_model_file_problem(cfg->model_path);
    if (!problem)
        return;
    MDC_LOG_WARN("model file %s: %s; /ready answers 503 \"model_state\":\"missing\" and "
                 "transcriptions 503 model_unavailable until it exists (scripts/get-model.sh "
                 "downloads a named model)",
                 cfg->model_path, problem);
}

int svc_serve(const svc_config *cfg, double exec_start_s)
{
    /* Block the stop signals before any thread exists so every thread inherits it. */
    sigset_t stopset;
    sigemptyset(&stopset);
    sigaddset(&stopset, SIGINT);
    sigaddset(&stopset, SIGTERM);
    sigaddset(&stopset, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stopset, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* A model file truncated while mapped must fail a request, not kill the process. */
    if (mdc_mapguard_install() != 0)
        MDC_LOG_WARN("cannot install the SIGBUS guard for the model mapping: %s", strerror(errno));

    /* Large buffers (PCM, mel, engine state) are mmap'd and go back to the system when
     * freed.  glibc's default raises this threshold after the first free of a large
     * block, after which each worker's arena keeps ~40 MB between requests. */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);

    static svc_server srv; /* one per process; handlers reach it through MHD's cls */
    memset(&srv, 0, sizeof srv);
    srv.cfg = cfg;
    srv.exec_start_s = exec_start_s;
    int rc = 1;

    srv.registry = met_registry_new();
    if (!srv.registry || svc_metrics_register(srv.registry, &srv.metrics) != 0)
        MDC_LOG_WARN("some metrics could not be registered");
    /* The engine: every compute thread of the process, started now and never again —
     * one pool of WHISPER_THREADS threads per concurrent transcription. */
    wsp_engine *engine = NULL;
    wsp_error eerr = {0};
    const int cores = mdc_available_cores();
    if (wsp_engine_new(cfg->max_concurrent, cfg->threads, &engine, &eerr) != 0) {
        MDC_LOG_ERROR("cannot start the compute threads: %s", eerr.message);
        met_registry_free(srv.registry);
        return 1;
    }
    wsp_engine_set_batching(engine, cfg->decode_batching);
    MDC_LOG_INFO("engine: %d cores available; MAX_CONCURRENT_TRANSCRIPTIONS=%d x "
                 "WHISPER_THREADS=%d = %d compute threads%s; continuous batching %s",
                 cores, cfg->max_concurrent, cfg->threads, cfg->max_concurrent * cfg->threads,
                 cfg->max_concurrent * cfg->threads > cores ? " (oversubscribed: allowed by "
                                                              "WHISPER_ALLOW_OVERSUBSCRIBE)"
                                                            : "",
                 cfg->decode_batching ? "on" : "off");
    char context[2200];
    svc_config_model_context(cfg, context, sizeof context);
    holder_options hopt = {
        .context = context,
        .name = svc_config_model_label(cfg),
        .path = cfg->model_path,
        .retry_backoff_ms = cfg->load_retry_backoff_ms,
        .idle_unload_seconds = cfg->idle_unload_seconds,
        .load_delay_ms = cfg->load_delay_ms,
        .metrics = srv.registry,
        .engine = engine,
    };
    srv.holder = holder_new(&hopt);
    if (cfg->vad_model_path[0]) {
        /* the VAD model: the same holder machinery, its own state and metrics series */
        char vctx[1200];
        snprintf(vctx, sizeof vctx, "WHISPER_VAD_MODEL=%.500s, WHISPER_MODELS_DIR=%.500s",
                 cfg->vad_model, cfg->models_dir);
        const char *slash = strrchr(cfg->vad_model, '/');
        holder_options vopt = hopt;
        vopt.kind = &holder_kind_vad;
        vopt.context = vctx;
        vopt.name = slash ? slash + 1 : cfg->vad_model;
        vopt.path = cfg->vad_model_path;
        srv.vad_holder = holder_new(&vopt);
        if (!srv.vad_holder) {
            MDC_LOG_ERROR("out of memory at start-up");
            goto out;
        }
    }
    srv.vad_default = svc_config_vad_default_on(cfg);
    if (cfg->vad_model_path[0] || cfg->vad_mode == SVC_VAD_TRUE)
        MDC_LOG_INFO("voice-activity detection %s by default (WHISPER_VAD=%s, model %s)",
                     srv.vad_default ? "on" : "off",
                     cfg->vad_mode == SVC_VAD_AUTO ? "auto" : cfg->vad_mode == SVC_VAD_TRUE ? "true" : "false",
                     cfg->vad_model_path[0] ? cfg->vad_model_path : "(none)");
    if (cfg->vad_mode == SVC_VAD_AUTO && cfg->vad_model_path[0] && !srv.vad_default)
        MDC_LOG_WARN("WHISPER_VAD=auto: %s is not there, so voice-activity detection is off "
                     "unless a request asks for it (vad=true)", cfg->vad_model_path);
    srv.pool = wrk_pool_new(cfg->max_concurrent, cfg->queue_length, srv.metrics.queue_depth);
    if (cfg->jobs_redis_url[0]) {
        char why[512] = "";
        srv.jobs = srv.pool ? jobs_redis_new(&srv, why, sizeof why) : NULL;
        if (!srv.jobs && why[0]) {
            MDC_LOG_ERROR("cannot use JOBS_REDIS_URL: %s", why);
            goto out;
        }
    } else if (cfg->jobs_role != SVC_ROLE_BOTH) {
        MDC_LOG_ERROR("JOBS_ROLE=%s needs JOBS_REDIS_URL (without it every replica keeps and "
                      "runs its own jobs)",
                      cfg->jobs_role == SVC_ROLE_API ? "api" : "worker");
        goto out;
    } else {
        srv.jobs = jobs_mem_new(cfg->jobs_ttl_seconds, cfg->jobs_max);
    }
    /* A store that waits on the network gets its own thread, so that a slow or stopped
     * Redis never stalls the polling thread (/health, uploads, every other connection).
     * One thread: the store's commands share one connection anyway.  Its queue holds a
     * task per connection at most (each waits suspended), and the gauge refresh. */
    if (srv.jobs && srv.jobs->ops->blocking) {
        srv.io = wrk_pool_new(1, SVC__MAX_CONNECTIONS + SVC__PROBE_CONN_LIMIT + 1, NULL);
        if (!srv.io) {
            MDC_LOG_ERROR("cannot start the job store's I/O thread");
            goto out;
        }
    }
    cg_options gopt = {
        .headers_timeout_s = cfg->headers_timeout_s,
        .body_min_bps = cfg->upload_min_bps,
        .body_grace_s = cfg->headers_timeout_s > 0 ? cfg->headers_timeout_s : SVC__BODY_GRACE_S,
        .max_per_address = cfg->max_conns_per_address,
        .high_water = SVC__MAX_CONNECTIONS - SVC__MAX_CONNECTIONS / 10,
        .metrics = srv.registry,
    };
    srv.guard = cg_new(&gopt);
    srv.main_l = (svc_listener){.srv = &srv, .probe = false};
    srv.probe_l = (svc_listener){.srv = &srv, .probe = true};
    if (!srv.holder || !srv.pool || !srv.jobs || !srv.guard) {
        MDC_LOG_ERROR("out of memory at start-up");
        goto out;
    }

    met_set_collect_hook(srv.registry, collect_pool, &srv);
    warn_if_model_missing(cfg); /* before listening: in the log when /health first answers */
    /* The spool directory: created if missing, checked, leftovers of a dead process
     * removed.  Unusable → logged, and /ready says so (503) instead of every upload
     * failing behind a ready pod. */
    tmpd_prepare(cfg->tmp_dir, mdc_wall_s() - (mdc_now_s() - exec_start_s));

    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    bool ipv6 = false;
    if (resolve_host(cfg->host, cfg->port, &ss, &sslen, &ipv6) != 0)
        goto out;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | (ipv6 ? MHD_USE_DUAL_STACK : 0);
    /* idle connections (a stalled upload, an unused keep-alive) are closed after this;
     * suspended ones (transcribing, SSE) are not subject to it */
    unsigned conn_timeout = cfg->request_timeout_seconds > 0 && cfg->request_timeout_seconds < 300
                                ? (unsigned)cfg->request_timeout_seconds
                                : 300;
    srv.daemon = MHD_start_daemon(
        flags, (uint16_t)cfg->port, accept_policy, &srv.main_l, on_request, &srv.main_l,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, &srv, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
        &srv, MHD_OPTION_NOTIFY_CONNECTION, on_connection, &srv.main_l, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT, conn_timeout,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)SVC__MAX_CONNECTIONS, MHD_OPTION_END);
    if (!srv.daemon) {
        MDC_LOG_ERROR("cannot listen on %s:%d: %s", cfg->host, cfg->port, strerror(errno));
        goto out;
    }
    if (cfg->health_port > 0) {
        /* Probes get their own listener, thread and connection budget: a flood of slow
         * clients on PORT cannot take /health and /ready down with it. */
        struct sockaddr_storage ps;
        socklen_t pslen = 0;
        bool p6 = false;
        if (resolve_host(cfg->host, cfg->health_port, &ps, &pslen, &p6) != 0)
            goto out;
        srv.probe_daemon = MHD_start_daemon(
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG |
                (p6 ? MHD_USE_DUAL_STACK : 0),
            (uint16_t)cfg->health_port, NULL, NULL, on_request, &srv.probe_l,
            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, &srv, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
            &srv, MHD_OPTION_NOTIFY_CONNECTION, on_connection, &srv.probe_l, MHD_OPTION_SOCK_ADDR,
            (struct sockaddr *)&ps, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)SVC__PROBE_TIMEOUT_S,
            MHD_OPTION_CONNECTION_LIMIT, (unsigned)SVC__PROBE_CONN_LIMIT, MHD_OPTION_END);
        if (!srv.probe_daemon) {
            MDC_LOG_ERROR("cannot listen on %s:%d (HEALTH_PORT): %s", cfg->host, cfg->health_port,
                          strerror(errno));
            goto out;
        }
        MDC_LOG_INFO("probes (/health, /ready, /metrics) also on port %d (HEALTH_PORT)",
                     cfg->health_port);
    }
    double startup = mdc_now_s() - exec_start_s;
    if (srv.metrics.startup_seconds)
        met_set(srv.metrics.startup_seconds, NULL, startup);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv.daemon, MHD_DAEMON_INFO_BIND_PORT);
    bool v6 = strchr(cfg->host, ':') != NULL;
    MDC_LOG_INFO("listening on http://%s%s%s:%u (%.1f ms after exec); model %s at %s, %s",
                 v6 ? "[" : "", cfg->host, v6 ? "]" : "",
                 di ? di->port : (unsigned)cfg->port, startup * 1000, svc_config_model_label(cfg),
                 cfg->model_path,
                 cfg->preload ? "preloading in the background now"
                              : "Lazy Loading on the first transcription");
    if (cfg->preload && holder_preload_async(srv.holder) != 0)
        MDC_LOG_ERROR("cannot start the preload thread; the model loads on first use");
    if (cfg->preload && srv.vad_default && holder_preload_async(srv.vad_holder) != 0)
        MDC_LOG_ERROR("cannot start the VAD preload thread; the VAD model loads on first use");

    /* main loop: signals and the ticker */
    unsigned ticks = 0;
    publish_job_counts(&srv);
    for (;;) {
        struct timespec ts = {0, SVC__TICK_MS * 1000000L};
        siginfo_t si;
        int sig = sigtimedwait(&stopset, &si, &ts);
        if (sig == SIGINT || sig == SIGTERM) {
            MDC_LOG_INFO("%s received: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
            break;
        }
        if (sig == SIGHUP)
            on_reload(&srv);
        cg_sweep(srv.guard, mdc_now_s()); /* header/body deadlines, vanished uploaders */
        if (cfg->idle_unload_seconds > 0) {
            holder_maybe_unload_idle(srv.holder);
            holder_maybe_unload_idle(srv.vad_holder);
        }
        jobs_tick(srv.jobs);
        if (++ticks % SVC__JOB_GAUGE_TICKS == 0)
            publish_job_counts(&srv);
    }

    /* shutdown: refuse new work (/ready 503, uploads 503) but keep answering status,
     * events and results while running work drains for up to SHUTDOWN_GRACE_SECONDS;
     * then abort what is left (503 shutting_down, jobs' streams end with that error),
     * let the answers go out, and stop */
    atomic_store(&srv.stopping, true);
    if (wrk_queued(srv.pool) + wrk_running(srv.pool) > 0)
        MDC_LOG_INFO("draining %d running and %d queued transcriptions (up to %d s)",
                     wrk_running(srv.pool), wrk_queued(srv.pool), cfg->shutdown_grace_seconds);
    wait_workers_idle(srv.pool, cfg->shutdown_grace_seconds * 1000);
    atomic_store(&srv.grace_over, true);
    jobs_close(srv.jobs);
    MHD_quiesce_daemon(srv.daemon);
    if (srv.probe_daemon)
        MHD_quiesce_daemon(srv.probe_daemon);
    wait_workers_idle(srv.pool, SVC__ABORT_WAIT_MS); /* resumed before MHD_stop_daemon (API rule) */
    for (int i = 0; i < 50; i++) { /* up to 1 s for the last answers to be sent */
        const union MHD_DaemonInfo *ci =
            MHD_get_daemon_info(srv.daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (!ci || ci->num_connections == 0)
            break;
        struct timespec t20 = {0, 20 * 1000000L};
        nanosleep(&t20, NULL);
    }
    rc = 0;
out:
    jobs_stop(srv.jobs); /* the store's threads resume connections: before MHD stops */
    wrk_pool_free(srv.io); /* runs what is queued: every offloaded request is resumed */
    if (srv.probe_daemon)
        MHD_stop_daemon(srv.probe_daemon);
    if (srv.daemon)
        MHD_stop_daemon(srv.daemon);
    cg_free(srv.guard);
    wrk_pool_free(srv.pool);
    jobs_free(srv.jobs);
    holder_free(srv.holder); /* frees the states it kept, before their engine */
    holder_free(srv.vad_holder);
    wsp_engine_free(engine);
    met_registry_free(srv.registry);
    MDC_LOG_INFO("stopped");
    return rc;
}
