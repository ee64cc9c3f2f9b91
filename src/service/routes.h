/*
 * routes.h — the HTTP layer's private contract: the server context, the per-request
 * state, the flat route table {method, path, handler} and the response helpers
 * (http_util.c).  Not installed; only src/service/ includes it.
 *
 * Threads: every handler runs on libmicrohttpd's one internal polling thread (epoll),
 * the thread that also answers /health, so a handler never blocks: transcriptions are
 * handed to the worker pool (workers.h) and the connection is suspended until a worker
 * resumes it.  The one exception, ROUTE_STORE handlers when the job store may block
 * (job_store_ops.blocking: Redis), runs whole on the I/O thread (svc_server.io) with
 * its connection suspended — the libuv/Redis rule of never waiting on the network in
 * the event loop: there a handler reads the request (headers, arguments, the upload:
 * MHD leaves a suspended connection's parsed request alone) and builds its answer,
 * which http_send_response() keeps; the dispatcher queues it on the polling thread
 * after the resume (server.c, offload_*).
 *
 * Lifetime of an http_req: created by the dispatcher (server.c) on the handler's first
 * call for a request, reference-counted (one reference for MHD, one per worker task
 * that uses it), and MHD's reference is dropped only in the request-completed callback.
 */
#ifndef MDC_SERVICE_ROUTES_H
#define MDC_SERVICE_ROUTES_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "config.h"
#include "holder.h"
#include "jobs.h"
#include "mdc/metrics.h"
#include "mdc/strbuf.h"
#include "pipeline.h"
#include "service_metrics.h"
#include "upload.h"
#include "work.h"
#include "workers.h"

struct svc_server;
/* One listener's identity, the cls of its MHD callbacks. */
typedef struct svc_listener {
    struct svc_server *srv;
    bool probe; /* the HEALTH_PORT listener: only ROUTE_PROBE routes */
} svc_listener;

/* The running service.  Created once by svc_serve(); fields are read-only after start
 * except the atomics. */
typedef struct svc_server {
    const svc_config *cfg;
    struct MHD_Daemon *daemon;
    struct MHD_Daemon *probe_daemon; /* HEALTH_PORT listener, NULL when not configured */
    svc_listener main_l, probe_l;
    struct conn_guard *guard;        /* deadlines and caps of every connection */
    model_holder *holder;
    model_holder *vad_holder; /* holder_kind_vad; NULL when WHISPER_VAD_MODEL is empty */
    bool vad_default;         /* WHISPER_VAD resolved at start-up (svc_config_vad_default_on) */
    met_registry *registry;
    svc_metrics metrics;
    wrk_pool *pool;
    job_store *jobs;
    wrk_pool *io;             /* one thread for ROUTE_STORE handlers and the job gauges,
                                 when the store blocks (Redis); NULL otherwise */
    atomic_bool counts_pending; /* a job-gauge refresh is queued on io */
    double exec_start_s;      /* mdc_now_s() at exec */
    atomic_bool stopping;     /* set on SIGINT/SIGTERM: new work refused, running work drains */
    atomic_bool grace_over;   /* SHUTDOWN_GRACE_SECONDS passed: running work is aborted */
    atomic_int uploads_spooling; /* admitted uploads not yet handed to the pool (MHD thread
                                    writes; /metrics reads) */
    _Atomic double avg_transcription_s; /* moving average, for Retry-After */
} svc_server;

typedef struct http_req http_req;

/* A route handler.  Called on the MHD thread once the whole request (and upload) has
 * been received, and again after the connection is resumed.  Returns MHD_YES after
 * queueing a response or suspending the connection; MHD_NO closes the connection. */
typedef enum MHD_Result (*http_handler)(svc_server *srv, http_req *req);

enum {
    ROUTE_PUBLIC = 1 << 0, /* no API_KEY needed (/health, /ready, /config, the page) */
    ROUTE_UPLOAD = 1 << 1, /* multipart/form-data body streamed by upload.c */
    ROUTE_PROBE = 1 << 2,  /* also served on HEALTH_PORT (/health, /ready, /metrics) */
    ROUTE_STORE = 1 << 3,  /* calls the job store: off the polling thread when it may block */
};

typedef struct http_route {
    const char *method;   /* "GET", "POST", "DELETE" */
    const char *pattern;  /* "/jobs/{id}/events": "{id}" matches one path segment */
    http_handler handler;
    unsigned flags;       /* ROUTE_* */
    const char *endpoint; /* label for mdconv_transcriptions_total, or NULL */
} http_route;

/* Finds the route for (method, url).  On a match returns it and copies the "{id}"
 * segment (if any, at most idlen−1 bytes) into id.  Otherwise returns NULL and sets
 * *path_known when another method is routed for that path (→ 405, else 404).
 * HEAD matches GET routes.  Thread-safe (the table is constant). */
const http_route *routes_match(const char *method, const char *url, char *id, size_t idlen,
                               bool *path_known);
/* Writes the methods routed for url ("GET, HEAD", "POST") into out, for the Allow header
 * of a 405 (RFC 9110 §15.5.6); "" when none.  Thread-safe. */
void routes_allowed(const char *url, char *out, size_t outlen);

/* Per-request state (see the lifetime note above). */
struct http_req {
    svc_server *srv;
    struct MHD_Connection *conn;
    const http_route *route;   /* NULL for unmatched requests */
    char id[64];               /* "{id}" path parameter */
    int fd;                    /* client socket, for disconnect detection */
    struct cg_conn *cg;        /* the connection's guard entry (connguard.h), may be NULL */
    bool probe;                /* arrived on the HEALTH_PORT listener */
    double start_s;            /* monotonic time of the first call */
    bool responded;            /* a response was queued (or written, answered_raw) */
    bool http11;               /* HTTP/1.1 request: may be sent 1xx interim responses */

    /* body: multipart state (ROUTE_UPLOAD) in work.form, NULL otherwise */
    bool early_response;       /* answer decided during the upload (413, 400) */
    bool unauthorized;         /* upload without the key: 401 once the body is read */
    bool preflight;            /* CORS preflight (OPTIONS), answered by http_cors.c */
    bool admitted;             /* counted in srv->uploads_spooling (MHD thread only) */
    unsigned long long discarded; /* body bytes ignored after an upload error */
    unsigned long long body_bytes; /* body bytes received so far */
    bool answered_raw;         /* answered mid-body past MHD (http_answer_mid_body) */
    bool half_close_probed;    /* the half-close probe was sent (http_peer_gone) */

    /* transcription hand-off to a worker; mu guards the fields up to `closed` */
    pthread_mutex_t mu;
    int refs;                  /* MHD's reference + worker tasks */
    bool submitted, done, suspended, closed;
    double last_peer_check_ms;
    svc_work work;             /* the upload, the pipeline request and its cancellation */
    pipeline_result result;    /* moved in by the worker before done = true */
    rpt_format format;         /* response format (OpenAI endpoints) */
    bool want_json;            /* process-meeting: Accept: application/json */

    /* stream=true (http_stream.c); guarded by mu */
    bool stream;               /* answer with Server-Sent Events */
    bool stream_ended;         /* the final event (done or error) is in `sse` */
    int n_deltas;              /* non-empty deltas queued so far */
    mdc_buf sse;               /* event bytes not yet sent; sse_off of them are */
    size_t sse_off;

    /* a ROUTE_STORE handler run on the I/O thread (server.c); off_state is guarded by mu,
     * the rest belongs to whichever thread runs the handler (the connection is suspended) */
    int off_state;             /* HTTP_OFF_NONE, HTTP_OFF_RUNNING, HTTP_OFF_DONE */
    bool capture;              /* the handler runs there: http_send_response keeps its answer */
    struct MHD_Response *off_resp; /* the kept answer (owned), or NULL */
    unsigned off_status;
    enum MHD_Result off_ret;   /* the handler's result (MHD_NO: close) */
};
enum { HTTP_OFF_NONE = 0, HTTP_OFF_RUNNING, HTTP_OFF_DONE };

/* Drops one reference; the last one frees the request (closes and unlinks its upload,
 * frees the result).  Thread-safe. */
void http_req_unref(http_req *req);

/* The work hooks of a synchronous request (server.c): its extra stop reasons are the
 * server stopping (503 shutting_down), REQUEST_TIMEOUT_SECONDS passed (504 timeout)
 * and the client closing its socket (499, checked at most every 200 ms). */
extern const work_hooks http_req_work_hooks;

/* Ends the request's admission slot (srv->uploads_spooling) if it holds one: called on
 * the MHD thread once its task is in the pool (which counts it from then on), once its
 * job is stored (POST /jobs), or when the request completes.  Idempotent. */
void http_req_leave_admission(http_req *req);

/* ---- responses (http_util.c); all run on the MHD thread ----------------------- */

/* Queues `body` (copied) with the given status and content type, plus the usual
 * headers; counts mdconv_http_requests_total{path,code}.  extra_name/extra_value add
 * one header (may be NULL). */
enum MHD_Result http_send(http_req *req, unsigned status, const char *content_type,
                          const char *body, size_t len, const char *extra_name,
                          const char *extra_value);
/* Queues a ready-made response, taking the caller's reference to it (destroyed here,
 * also on failure), and counts it.  In a ROUTE_STORE handler running on the I/O thread
 * (req->capture) the response is kept instead, and the polling thread queues it after
 * the resume. */
enum MHD_Result http_send_response(http_req *req, unsigned status, struct MHD_Response *r);
/* Like http_send but takes ownership of a malloc'd body. */
enum MHD_Result http_send_owned(http_req *req, unsigned status, const char *content_type,
                                char *body, size_t len);
/* Serialises a jansson value (reference stolen) as application/json. */
struct json_t;
enum MHD_Result http_send_json(http_req *req, unsigned status, struct json_t *value);
/* Error answers: {"error":{"message", "type", "code", "param"}} — OpenAI's error object
 * (ref: OpenAI API reference; the official SDKs read message/type/code/param from it and
 * pick their error class from the status).  `code` is ours (DESIGN §3: "file_too_large",
 * "invalid_field" …), `type` follows the status (http_error_type), `param` names the form
 * field at fault or is null.  The message is printf-style (cut at 1 KiB; invalid UTF-8
 * becomes '?'). */
enum MHD_Result http_send_error(http_req *req, unsigned status, const char *code,
                                const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Same, naming the field at fault (param may be NULL). */
enum MHD_Result http_send_error_param(http_req *req, unsigned status, const char *code,
                                      const char *param, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* An upload's error state (413 and a missing file name param "file"). */
enum MHD_Result http_send_upload_error(http_req *req, const upl_error *e);
/* OpenAI's error type for a status: "invalid_request_error" (4xx) or "server_error"
 * (5xx).  Static string. */
const char *http_error_type(unsigned status);
/* A new {"error": {...}} object as above (NULL on OOM or invalid UTF-8); caller owns it. */
struct json_t *http_error_object(unsigned status, const char *code, const char *param,
                                 const char *message);
/* http_send_error plus one header (hname: hvalue), e.g. Allow on a 405. */
enum MHD_Result http_send_error_hdr(http_req *req, unsigned status, const char *hname,
                                    const char *hvalue, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* 503 queue_full with Retry-After estimated from the queue and recent durations. */
enum MHD_Result http_send_queue_full(http_req *req);

/* ---- CORS (http_cors.c); MHD thread ----------------------------------------------- */

/* Adds Access-Control-Allow-Origin (the request's Origin) and Access-Control-Expose-
 * Headers when CORS_ALLOW_ORIGINS admits that origin, and Vary: Origin whenever CORS is
 * on.  Nothing when CORS is off or the origin is refused.  Called for every response. */
void http_cors_headers(http_req *req, struct MHD_Response *r);
/* The same headers as raw "Name: value\r\n" lines, for answers written straight to the
 * socket (http_answer_mid_body); "" when CORS is off.  buf ≥ 512 bytes. */
void http_cors_raw_headers(http_req *req, char *buf, size_t len);
/* True when CORS_ALLOW_ORIGINS is set and the request is a preflight (OPTIONS). */
bool http_cors_is_preflight(svc_server *srv, const char *method);
/* Answers a preflight for url: 204 with Allow-Origin, Allow-Methods (the methods routed
 * for the path), Allow-Headers (the requested ones, when they are plain header names),
 * Max-Age for an admitted origin; 403 cors_origin_refused without CORS headers for a
 * refused one; 404 for an unknown path.  Needs no API key: a preflight carries none. */
enum MHD_Result http_cors_preflight(svc_server *srv, http_req *req, const char *url);

/* ---- framing (http_framing.c) ------------------------------------------------ */

/* Checks the request's framing headers before anything else: a Transfer-Encoding other
 * than "chunked" → 501; differing or invalid Content-Length values → 400 (RFC 9112
 * §6.3); both Transfer-Encoding and Content-Length → 400.  Returns true after queueing
 * that answer (*ret is the handler's result), false when the framing is acceptable. */
bool http_framing_refuse(http_req *req, enum MHD_Result *ret);
/* Answers a request in the middle of its body, which MHD 0.9.75 cannot queue: writes
 * the JSON error with Connection: close straight to the socket, shuts down the sending
 * side, frees the upload and counts it; req->answered_raw is set and the caller keeps
 * discarding the body (bounded) and finally closes the connection (MHD_NO).
 * Returns MHD_NO when the socket would not take the answer. */
enum MHD_Result http_answer_mid_body(http_req *req, unsigned status, const char *code,
                                     const char *message);
/* Disconnect poll of a suspended request (worker thread, req->mu held): true when the
 * client is gone.  A client that only half-closed after its request still waits for
 * the answer: on the first EOF an HTTP/1.1 client is sent "100 Continue", which a
 * closed socket answers with a reset (seen by a later poll); HTTP/1.0: EOF is gone. */
bool http_peer_gone(http_req *req);

/* Value of a request header (case-insensitive name) or NULL. */
const char *http_header(http_req *req, const char *name);
/* True when the Accept header asks for application/json. */
bool http_accepts_json(http_req *req);

/* ---- handlers (http_*.c) ----------------------------------------------------- */
enum MHD_Result http_health(svc_server *srv, http_req *req);
enum MHD_Result http_ready(svc_server *srv, http_req *req);
enum MHD_Result http_metrics(svc_server *srv, http_req *req);
enum MHD_Result http_web_file(svc_server *srv, http_req *req);
enum MHD_Result http_config(svc_server *srv, http_req *req);
enum MHD_Result http_models(svc_server *srv, http_req *req);
enum MHD_Result http_model_get(svc_server *srv, http_req *req);

/* Why the model file at `path` cannot be used right now ("file not found", "not a
 * regular file", strerror of access(R_OK)), or NULL when it can be read: a stat +
 * access, microseconds, no open or mapping (/ready calls it while nothing is mapped).
 * The text is static. */
const char *http_model_file_problem(const char *path);
enum MHD_Result http_process_meeting(svc_server *srv, http_req *req);
enum MHD_Result http_openai_transcribe(svc_server *srv, http_req *req);
enum MHD_Result http_jobs_create(svc_server *srv, http_req *req);
enum MHD_Result http_jobs_status(svc_server *srv, http_req *req);
enum MHD_Result http_jobs_events(svc_server *srv, http_req *req);
enum MHD_Result http_jobs_result(svc_server *srv, http_req *req);
enum MHD_Result http_jobs_delete(svc_server *srv, http_req *req);
enum MHD_Result http_jobs_list(svc_server *srv, http_req *req);

/* Shared by process-meeting and /jobs (http_transcribe.c): validates the form's text
 * fields and fills req->preq for a Markdown report.  On a bad field queues a 400 and
 * returns false. */
bool http_build_report_request(svc_server *srv, http_req *req, pipeline_request *pr,
                               enum MHD_Result *ret);
/* The form field a failed pipeline result is about ("file", "language") or NULL. */
const char *http_pipeline_error_param(const pipeline_result *res);

/* ---- streamed transcriptions (http_stream.c) ---------------------------------- */

/* The segment hook of a stream=true request (user = the http_req): queues a
 * `transcript.text.delta` event {type, delta, logprobs?} and wakes the connection.  The
 * deltas add up to the json "text" (each is the segment's cleaned text, with one space
 * before all but the first; blank segments send none).  Worker thread. */
void http_stream_segment(const pipeline_segment *seg, void *user);
/* MHD thread, after the request was submitted: waits (suspended) for the first event or
 * the end; a failure before any event is answered as a plain JSON error with its status;
 * otherwise queues the 200 text/event-stream response, which sends the deltas as they
 * come and ends with `transcript.text.done` {type, text, usage, logprobs?} or, for a
 * failure after the stream started, an `error` event {type: "error", error: {...}}. */
enum MHD_Result http_stream_answer(http_req *req);

/* Answers 200 {"markdown": md, "segments": [...]} (segments_json may be NULL). */
enum MHD_Result http_send_markdown_json(http_req *req, const char *md, const char *segments_json);
/* True when `id` names the served model: "whisper-1" or its own name (http_basic.c). */
bool http_model_known(svc_server *srv, const char *id);
/* 404 model_not_found naming param "model" and the models that exist. */
enum MHD_Result http_send_model_not_found(http_req *req, const char *id);
/* Answers a failed pipeline result as its JSON error. */
enum MHD_Result http_send_pipeline_error(http_req *req, const pipeline_result *res);
/* Records a finished transcription in the metrics and the Retry-After estimate. */
void http_note_transcription(svc_server *srv, const char *endpoint, const pipeline_result *res,
                             double wall_s);

#endif
