/*
 * server.c — svc_serve(): starts libmicrohttpd, dispatches requests through the route
 * table, runs the idle-unload/job-expiry ticker on the main thread, and shuts down on
 * SIGINT/SIGTERM.
 *
 * Threads: MHD's one internal polling thread (epoll) runs every handler; the worker
 * pool runs transcriptions; the holder's preload thread (WHISPER_PRELOAD) loads the
 * model after the listener is up; the main thread waits for signals and ticks.
 * SIGINT/SIGTERM are blocked in every thread and taken with sigtimedwait() here.
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
#include "mdc/log.h"
#include "routes.h"

#define SVC__TICK_MS 250           /* idle-unload and job-expiry check period */
#define SVC__JOB_TTL_S 3600        /* finished jobs are kept this long */
#define SVC__MAX_JOBS 256
#define SVC__MULTIPART_SLACK (1u << 20) /* bytes of form overhead allowed past MAX_UPLOAD_MB */
#define SVC__PEER_CHECK_MS 200.0
#define SVC__MAX_DISCARD (64ull << 20) /* body bytes read past a known error before closing */   /* disconnect poll period during a transcription */

/* ---- request state -------------------------------------------------------------- */

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
    pthread_mutex_init(&req->mu, NULL);
    return req;
}

void http_req_unref(http_req *req)
{
    pthread_mutex_lock(&req->mu);
    int left = --req->refs;
    pthread_mutex_unlock(&req->mu);
    if (left > 0)
        return;
    upl_free(req->form);
    pipeline_result_free(&req->result);
    free(req->sse.p);
    pthread_mutex_destroy(&req->mu);
    free(req);
}

bool http_req_should_abort(void *arg)
{
    http_req *req = arg;
    if (atomic_load(&req->abort) || atomic_load(&req->srv->stopping))
        return true;
    int timeout = req->srv->cfg->request_timeout_seconds;
    if (timeout > 0 && mdc_now_s() - req->start_s > timeout) {
        atomic_store(&req->timed_out, true);
        atomic_store(&req->abort, true);
        return true;
    }
    double now = mdc_now_ms();
    if (now - req->last_peer_check_ms < SVC__PEER_CHECK_MS)
        return false;
    req->last_peer_check_ms = now;
    /* The connection is suspended, so MHD does not watch its socket: peek at it.  EOF
     * means the client closed its side — it will never read our answer. */
    bool gone = false;
    pthread_mutex_lock(&req->mu);
    if (req->closed) {
        gone = true;
    } else if (req->fd >= 0) {
        char c;
        ssize_t n = recv(req->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            gone = true;
    }
    pthread_mutex_unlock(&req->mu);
    if (gone) {
        MDC_LOG_INFO("client disconnected: cancelling its transcription");
        atomic_store(&req->abort, true);
    }
    return gone;
}

/* ---- dispatch ------------------------------------------------------------------- */

/* Constant-time comparison of the Authorization header with "Bearer KEY". */
static bool authorized(svc_server *srv, struct MHD_Connection *conn)
{
    const char *key = srv->cfg->api_key;
    if (!key[0])
        return true;
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    h += 7;
    while (*h == ' ')
        h++;
    size_t hl = strlen(h), kl = strlen(key);
    unsigned char diff = hl != kl;
    for (size_t i = 0; i < kl; i++)
        diff |= (unsigned char)(key[i] ^ (i < hl ? h[i] : 0));
    return diff == 0;
}

static enum MHD_Result send_unauthorized(http_req *req)
{
    req->early_response = true;
    return http_send_error_header(req, 401, "unauthorized", MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                  "Bearer", "missing or wrong API key");
}

/* First call for a request: route, authenticate, and set up the upload. */
static enum MHD_Result first_call(svc_server *srv, http_req *req, const char *url,
                                  const char *method)
{
    if (http_cors_is_preflight(srv, method)) { /* before the key check: preflights carry none */
        req->preflight = true; /* answered on the next call: MHD then keeps the connection */
        return MHD_YES;
    }
    bool known = false;
    req->route = routes_match(method, url, req->id, sizeof req->id, &known);
    if (!req->route) {
        req->early_response = true;
        if (known)
            return http_send_error(req, 405, "method_not_allowed", "method %.10s is not allowed on %.100s",
                                   method, url);
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
        if (end && *end == '\0' && n > cfg->max_upload_bytes + SVC__MULTIPART_SLACK) {
            req->early_response = true;
            return http_send_error_param(req, 413, "file_too_large", "file",
                                   "the upload (%llu bytes) is larger than MAX_UPLOAD_MB (%llu MB)", n,
                                   (unsigned long long)(cfg->max_upload_bytes / (1024 * 1024)));
        }
    }
    if (req->route->endpoint && strcmp(req->route->endpoint, "jobs") != 0 &&
        wrk_queued(srv->pool) >= cfg->queue_length + (wrk_threads(srv->pool) - wrk_running(srv->pool))) {
        /* full now: say so before receiving megabytes we cannot use */
        req->early_response = true;
        svc_metrics_transcription(&srv->metrics, req->route->endpoint, "queue_full", 0, 0);
        return http_send_queue_full(req);
    }
    upl_error err;
    req->form = upl_new(MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                    MHD_HTTP_HEADER_CONTENT_TYPE),
                        cfg->max_upload_bytes, cfg->tmp_dir, &err);
    if (!req->form) {
        req->early_response = true;
        return http_send_upload_error(req, &err);
    }
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    svc_server *srv = cls;
    http_req *req = *con_cls;
    if (!req) {
        req = req_new(srv, conn);
        if (!req)
            return MHD_NO;
        *con_cls = req;
        return first_call(srv, req, url, method);
    }
    if (*upload_data_size > 0 && req->unauthorized) {
        req->discarded += *upload_data_size;
        *upload_data_size = 0;
        if (req->discarded > srv->cfg->max_upload_bytes + SVC__MULTIPART_SLACK)
            return send_unauthorized(req); /* enough: answer now (the connection closes) */
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        /* a response queued early (413, 401 …) makes MHD discard the body itself */
        if (req->form && !req->responded && upl_feed(req->form, upload_data, *upload_data_size) != 0) {
            /* the answer is known (413, 400); without a Content-Length to refuse up front
             * (chunked), stop reading a body that goes on and on: close the connection */
            req->discarded += *upload_data_size;
            if (req->discarded > SVC__MAX_DISCARD) {
                MDC_LOG_WARN("closing an upload that continued %llu bytes past its error",
                             (unsigned long long)req->discarded);
                return MHD_NO;
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->preflight && !req->responded)
        return http_cors_preflight(srv, req, url);
    if (req->responded || !req->route)
        return MHD_YES;
    if (req->unauthorized)
        return send_unauthorized(req);
    if (req->form && !req->submitted && !req->early_response) {
        req->early_response = true; /* finish once */
        if (upl_finish(req->form) != 0) {
            return http_send_upload_error(req, upl_error_get(req->form));
        }
    }
    return req->route->handler(srv, req);
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
    pthread_mutex_lock(&req->mu);
    req->closed = true;
    if (req->submitted && !req->done)
        atomic_store(&req->abort, true); /* the client is gone: cancel its transcription */
    pthread_mutex_unlock(&req->mu);
    http_req_unref(req);
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    size_t n = strlen(buf);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
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

int svc_serve(const svc_config *cfg, double exec_start_s)
{
    /* Block the stop signals before any thread exists so every thread inherits it. */
    sigset_t stopset;
    sigemptyset(&stopset);
    sigaddset(&stopset, SIGINT);
    sigaddset(&stopset, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stopset, NULL);
    signal(SIGPIPE, SIG_IGN);

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
    };
    srv.holder = holder_new(&hopt);
    srv.pool = wrk_pool_new(cfg->max_concurrent, cfg->queue_length, srv.metrics.queue_depth);
    srv.jobs = jobs_new(SVC__JOB_TTL_S, SVC__MAX_JOBS);
    if (!srv.holder || !srv.pool || !srv.jobs) {
        MDC_LOG_ERROR("out of memory at start-up");
        goto out;
    }

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
        flags, (uint16_t)cfg->port, NULL, NULL, on_request, &srv, MHD_OPTION_EXTERNAL_LOGGER,
        mhd_log, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_completed, &srv, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_TIMEOUT, conn_timeout,
        MHD_OPTION_END);
    if (!srv.daemon) {
        MDC_LOG_ERROR("cannot listen on %s:%d: %s", cfg->host, cfg->port, strerror(errno));
        goto out;
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

    /* main loop: signals and the ticker */
    for (;;) {
        struct timespec ts = {0, SVC__TICK_MS * 1000000L};
        siginfo_t si;
        int sig = sigtimedwait(&stopset, &si, &ts);
        if (sig == SIGINT || sig == SIGTERM) {
            MDC_LOG_INFO("%s received: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
            break;
        }
        if (cfg->idle_unload_seconds > 0)
            holder_maybe_unload_idle(srv.holder);
        jobs_tick(srv.jobs);
    }

    /* shutdown: refuse new work, abort running work, let answers go out, then stop */
    atomic_store(&srv.stopping, true);
    MHD_quiesce_daemon(srv.daemon);
    jobs_close(srv.jobs);
    wait_workers_idle(srv.pool, 30000); /* resumed before MHD_stop_daemon (API rule) */
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
    if (srv.daemon)
        MHD_stop_daemon(srv.daemon);
    wrk_pool_free(srv.pool);
    jobs_free(srv.jobs);
    holder_free(srv.holder);
    met_registry_free(srv.registry);
    MDC_LOG_INFO("stopped");
    return rc;
}
