/*
 * http_framing.c — request framing rules libmicrohttpd 0.9.75 does not enforce itself,
 * and the two places where the service must write to the socket while MHD cannot:
 * an answer in the middle of a body, and the half-close probe.
 *
 * ref: RFC 9112 §6.1 (Transfer-Encoding: only "chunked" is framed here; a request with
 * both Transfer-Encoding and Content-Length "ought to be handled as an error"), §6.3
 * (differing Content-Length values are unrecoverable: 400), RFC 9110 §15.6.2 (501 for a
 * transfer coding the server does not implement), §15.5.6 (405 carries Allow), §15.2
 * (1xx interim responses: every HTTP/1.1 client parses them, none is sent to 1.0).
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "mdc/log.h"
#include "mdc/clock.h"
#include "routes.h"

/* ---- framing headers ------------------------------------------------------------ */

typedef struct framing__scan {
    int n_cl, n_te;
    unsigned long long cl;
    bool cl_conflict, cl_bad, te_other;
    char te_value[48];
} framing__scan;

/* Parses one Content-Length value: digits, or a list of equal values ("5, 5", which
 * RFC 9112 §6.3 lets a recipient accept).  Returns 0 or -1. */
static int parse_cl(const char *v, unsigned long long *out)
{
    bool have = false;
    unsigned long long first = 0;
    for (;;) {
        while (*v == ' ' || *v == '\t')
            v++;
        if (!isdigit((unsigned char)*v))
            return -1;
        unsigned long long n = 0;
        while (isdigit((unsigned char)*v)) {
            if (n > (~0ull - 9) / 10)
                return -1;
            n = n * 10 + (unsigned)(*v++ - '0');
        }
        if (have && n != first)
            return -1;
        first = n;
        have = true;
        while (*v == ' ' || *v == '\t')
            v++;
        if (*v == '\0')
            break;
        if (*v++ != ',')
            return -1;
    }
    *out = first;
    return 0;
}

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                   size_t key_size, const char *value, size_t value_size)
{
    (void)kind;
    (void)key_size;
    framing__scan *s = cls;
    if (!key)
        return MHD_YES;
    const char *v = value ? value : "";
    bool has_nul = value && strlen(value) != value_size;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        unsigned long long n = 0;
        if (has_nul || parse_cl(v, &n) != 0)
            s->cl_bad = true;
        else if (s->n_cl > 0 && n != s->cl)
            s->cl_conflict = true;
        s->cl = n;
        s->n_cl++;
    } else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        s->n_te++;
        const char *p = v;
        while (*p == ' ' || *p == '\t')
            p++;
        size_t n = strlen(p);
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (has_nul || n != 7 || strncasecmp(p, "chunked", 7) != 0) {
            s->te_other = true;
            snprintf(s->te_value, sizeof s->te_value, "%.*s", (int)(n < 40 ? n : 40), p);
        }
    }
    return MHD_YES;
}

bool http_framing_refuse(http_req *req, enum MHD_Result *ret)
{
    framing__scan s;
    memset(&s, 0, sizeof s);
    MHD_get_connection_values_n(req->conn, MHD_HEADER_KIND, scan_header, &s);
    if (s.te_other || s.n_te > 1) {
        *ret = http_send_error(req, 501, "not_implemented",
                               "Transfer-Encoding \"%s\" is not supported (only chunked)",
                               s.n_te > 1 && !s.te_other ? "chunked, chunked" : s.te_value);
        return true;
    }
    if (s.cl_bad || s.cl_conflict) {
        *ret = http_send_error(req, 400, "bad_request",
                               s.cl_conflict ? "conflicting Content-Length headers"
                                             : "invalid Content-Length header");
        return true;
    }
    if (s.n_te > 0 && s.n_cl > 0) {
        *ret = http_send_error(req, 400, "bad_request",
                               "both Transfer-Encoding and Content-Length: the body's length "
                               "is ambiguous");
        return true;
    }
    return false;
}

/* ---- writing past MHD ----------------------------------------------------------- */

/* Writes all of buf to the (non-blocking) socket; gives up on a full send buffer. */
static int send_all(int fd, const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

enum MHD_Result http_answer_mid_body(http_req *req, unsigned status, const char *code,
                                     const char *message)
{
    if (req->responded)
        return MHD_YES;
    json_t *o = http_error_object(status, code, status == 413 ? "file" : NULL, message);
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    const char *reason = MHD_get_reason_phrase_for(status);
    char head[1024], cors[640];
    http_cors_raw_headers(req, cors, sizeof cors);
    size_t blen = body ? strlen(body) : 2;
    int hl = snprintf(head, sizeof head,
                      "HTTP/1.1 %u %s\r\nConnection: close\r\nContent-Type: application/json\r\n"
                      "X-Content-Type-Options: nosniff\r\nCache-Control: no-store\r\n%s"
                      "Content-Length: %zu\r\n\r\n",
                      status, reason && *reason ? reason : "Error", cors, blen + 1);
    int rc = req->fd >= 0 && hl > 0 && (size_t)hl < sizeof head ? send_all(req->fd, head, (size_t)hl) : -1;
    if (rc == 0)
        rc = send_all(req->fd, body ? body : "{}", blen);
    if (rc == 0)
        rc = send_all(req->fd, "\n", 1);
    free(body);
    /* FIN after the answer; the body keeps being read (and dropped) so that the
     * client's unread bytes do not turn the close into a reset that loses the answer */
    if (req->fd >= 0)
        shutdown(req->fd, SHUT_WR);
    req->responded = true;
    req->answered_raw = true;
    if (req->work.form && !req->submitted) {
        upl_free(req->work.form);
        req->work.form = NULL;
    }
    svc_metrics_http(&req->srv->metrics, req->route ? req->route->pattern : "unmatched", status,
                     mdc_now_s() - req->start_s);
    return rc == 0 ? MHD_YES : MHD_NO;
}

bool http_peer_gone(http_req *req)
{
    if (req->fd < 0)
        return false;
    char c;
    ssize_t n = recv(req->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)))
        return false;
    if (n < 0)
        return true; /* reset: the client is gone */
    /* EOF: the client shut down its sending side.  It may have closed the socket, or
     * only half-closed it (shutdown(SHUT_WR)) and still wait for the answer.  Only a
     * write tells the two apart: a closed socket answers data with a reset.  Send
     * the one write an HTTP/1.1 client must accept before its answer, an interim
     * "100 Continue", once; a later poll sees the reset (TCP state CLOSE) or keeps
     * waiting (CLOSE_WAIT). */
    if (!req->http11)
        return true; /* no 1xx for HTTP/1.0 clients: EOF is taken as gone */
    if (!req->half_close_probed) {
        req->half_close_probed = true;
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        return send_all(req->fd, cont, sizeof cont - 1) != 0;
    }
    /* after the FIN, recv() reports EOF even once the reset has come: ask TCP's state
     * (CLOSE after a reset, CLOSE_WAIT while the half-closed client waits) */
    struct tcp_info ti;
    socklen_t tl = sizeof ti;
    if (getsockopt(req->fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) != 0)
        return true;
    return ti.tcpi_state != TCP_CLOSE_WAIT;
}
