/*
 * http_stream.c — `stream=true` on POST /v1/audio/transcriptions: Server-Sent Events as
 * the engine produces segments.
 * ref: OpenAI API reference "Streaming transcriptions" and the official Node SDK's
 * TranscriptionStreamEvent (resources/audio/transcriptions.d.ts):
 *   transcript.text.delta {type, delta, logprobs?}   one per non-blank segment
 *   transcript.text.done  {type, text, usage, logprobs?}
 * The SDK's stream reader throws an APIError for an event whose data has an "error"
 * member, so a failure after the stream started is sent as
 *   event: error / data: {"type": "error", "error": {message, type, code, param}}.
 * Deviation: OpenAI's typings give the done event's usage as tokens; Whisper here is
 * measured by duration, so it carries the same {type: "duration", seconds} as json.
 *
 * Flow: the worker (pipeline segment callback, transcription end) appends to req->sse
 * under req->mu and resumes the connection; on the MHD thread the handler waits for the
 * first event (so a failure before it keeps its HTTP status), then MHD pulls the bytes
 * through stream_read(), which parks the connection (suspend) when nothing is pending.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdc/utf8.h"
#include "routes.h"

/* Resumes a parked connection.  Caller holds req->mu. */
static void wake(http_req *req)
{
    if (req->suspended && !req->closed) {
        req->suspended = false;
        MHD_resume_connection(req->conn);
    }
}

/* Appends one event.  Caller holds req->mu. */
static void put_event(http_req *req, const char *name, const char *data)
{
    mdc_buf_printf(&req->sse, "event: %s\ndata: %s\n\n", name, data);
}

/* [{token, bytes, logprob}] for a delta (the same shape json.c gives the result). */
static json_t *delta_logprobs(const pipeline_segment *seg)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < seg->n_logprobs; i++) {
        const rpt_logprob *lp = &seg->logprobs[i];
        size_t tl = 0;
        char *tok = mdc_utf8_sanitize(lp->bytes, lp->n_bytes, MDC_UTF8_DROP_NUL, &tl);
        json_t *bytes = json_array();
        for (size_t k = 0; bytes && k < lp->n_bytes; k++)
            json_array_append_new(bytes, json_integer((unsigned char)lp->bytes[k]));
        char lpt[32]; /* 6 significant digits, as json.c prints the result's logprobs */
        snprintf(lpt, sizeof lpt, "%.6g", (double)lp->logprob);
        json_t *o = tok && bytes ? json_pack("{s:s%, s:o, s:f}", "token", tok, tl, "bytes", bytes,
                                             "logprob", strtod(lpt, NULL))
                                 : NULL;
        if (!o)
            json_decref(bytes);
        free(tok);
        if (!o || json_array_append_new(arr, o)) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}

void http_stream_segment(const pipeline_segment *seg, void *user)
{
    http_req *req = user;
    char *clean = rpt_clean_line(seg->text);
    if (!clean || !clean[0]) { /* blank segments add nothing to the text */
        free(clean);
        return;
    }
    pthread_mutex_lock(&req->mu);
    bool first = req->n_deltas == 0;
    pthread_mutex_unlock(&req->mu);
    char *delta = NULL;
    if (asprintf(&delta, "%s%s", first ? "" : " ", clean) < 0)
        delta = NULL;
    free(clean);
    json_t *o = delta ? json_pack("{s:s, s:s}", "type", "transcript.text.delta", "delta", delta)
                      : NULL;
    free(delta);
    if (o && req->work.preq.logprobs)
        json_object_set_new(o, "logprobs", delta_logprobs(seg));
    char *data = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!data)
        return; /* out of memory: the done event still carries the whole text */
    pthread_mutex_lock(&req->mu);
    put_event(req, "transcript.text.delta", data);
    req->n_deltas++;
    wake(req);
    pthread_mutex_unlock(&req->mu);
    free(data);
}

/* Appends the final event from req->result (done or error).  Caller holds req->mu and
 * the worker has finished (req->done). */
static void put_final(http_req *req)
{
    const pipeline_result *res = &req->result;
    char *data = NULL;
    const char *name = "transcript.text.done";
    if (res->http_status == 200) {
        /* the json rendering is the non-streamed answer: same text, usage, logprobs */
        json_t *body = res->body ? json_loads(res->body, 0, NULL) : NULL;
        json_t *o = json_pack("{s:s}", "type", "transcript.text.done");
        const char *key;
        json_t *v;
        if (body && o)
            json_object_foreach(body, key, v) json_object_set(o, key, v);
        data = body && o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(body);
        json_decref(o);
    }
    if (!data) {
        name = "error";
        unsigned status = res->http_status >= 400 && res->http_status <= 599
                              ? (unsigned)res->http_status
                              : 500;
        const char *code = res->http_status == 200 ? "internal_error"
                           : res->error_code[0]    ? res->error_code
                                                   : "internal_error";
        const char *msg = res->http_status == 200 ? "out of memory"
                          : res->error_message[0] ? res->error_message
                                                  : "transcription failed";
        json_t *err = http_error_object(status, code, http_pipeline_error_param(res), msg);
        json_t *o = err ? json_pack("{s:s, s:O}", "type", "error", "error",
                                    json_object_get(err, "error"))
                        : NULL;
        json_decref(err);
        data = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        json_decref(o);
    }
    put_event(req, name,
              data ? data
                   : "{\"type\":\"error\",\"error\":{\"message\":\"out of memory\",\"type\":"
                     "\"server_error\",\"code\":\"internal_error\",\"param\":null}}");
    free(data);
    req->stream_ended = true;
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    http_req *req = cls;
    pthread_mutex_lock(&req->mu);
    if (req->sse_off >= req->sse.len) {
        req->sse.len = 0; /* everything pending was sent: reuse the buffer */
        req->sse_off = 0;
        if (req->sse.oom || req->stream_ended) {
            pthread_mutex_unlock(&req->mu);
            return req->sse.oom ? MHD_CONTENT_READER_END_WITH_ERROR
                                : MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (req->done) {
            put_final(req);
        } else {
            /* nothing new: park the connection until the worker has more (no busy loop) */
            req->suspended = true;
            MHD_suspend_connection(req->conn);
            pthread_mutex_unlock(&req->mu);
            return 0;
        }
    }
    size_t n = req->sse.len - req->sse_off;
    if (n > max)
        n = max;
    memcpy(buf, req->sse.p + req->sse_off, n);
    req->sse_off += n;
    pthread_mutex_unlock(&req->mu);
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    http_req_unref(cls); /* the response's reference */
}

enum MHD_Result http_stream_answer(http_req *req)
{
    pthread_mutex_lock(&req->mu);
    if (!req->done && req->sse.len == 0) {
        req->suspended = true; /* the first delta or the end resumes us */
        MHD_suspend_connection(req->conn);
        pthread_mutex_unlock(&req->mu);
        return MHD_YES;
    }
    bool failed_before_start = req->sse.len == 0 && req->result.http_status != 200;
    if (!failed_before_start)
        req->refs++; /* the response's reference, dropped by stream_free */
    pthread_mutex_unlock(&req->mu);
    if (failed_before_start)
        return http_send_pipeline_error(req, &req->result);
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, req, stream_free);
    if (!r) {
        http_req_unref(req);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream; charset=utf-8");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(r, "X-Accel-Buffering", "no");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    return http_send_response(req, 200, r);
}
