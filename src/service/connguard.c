/*
 * connguard.c — per-connection deadlines, EOF detection and the per-address cap (see
 * connguard.h).  One doubly linked list of connections under one mutex; the sweep walks
 * it (1 100 entries take a few microseconds plus one recv(MSG_PEEK) per body-phase
 * connection).
 */
#include "connguard.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mdc/clock.h"
#include "mdc/log.h"

#define CG__SUMMARY_S 10.0 /* at most one INFO summary line per this many seconds */
/* Only connections idle in HEADERS this long are evicted: a client that sends its
 * request at once (a probe: < 1 ms) is never the victim. */
#define CG__EVICT_MIN_AGE_S 0.5

struct cg_conn {
    cg_conn *prev, *next;
    int fd;
    bool capped;           /* counted for the per-address cap */
    bool dropped;          /* shut down once already */
    unsigned char addr[16]; /* IPv4 (mapped) or IPv6 address, for the cap */
    _Atomic int phase;      /* cg_phase */
    _Atomic double phase_start_s;
    atomic_ullong body_bytes; /* since the BODY phase started */
    _Atomic long long body_len; /* announced Content-Length, -1 when unknown (chunked) */
};

enum { R_HEADERS, R_SLOW_BODY, R_GONE, R_PER_ADDRESS, R_EVICTED, R__N };
static const char *const k_reason[] = {"header_timeout", "slow_body", "client_gone",
                                       "per_address", "evicted"};

struct conn_guard {
    cg_options opt;
    met_family *m_dropped;
    pthread_mutex_t mu;
    /* --- guarded by mu --- */
    cg_conn *head;
    int n;
    unsigned long since_summary[R__N]; /* drops per reason since the last summary line */
    double last_summary_s;
};

static const char *const k_labels[] = {"reason", NULL};

/* 16-byte key of an address: IPv6 as is, IPv4 as ::ffff:a.b.c.d; false if neither. */
static bool addr_key(const struct sockaddr *sa, unsigned char out[16])
{
    memset(out, 0, 16);
    if (!sa)
        return false;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        out[10] = out[11] = 0xff;
        memcpy(out + 12, &in->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        return true;
    }
    return false;
}

conn_guard *cg_new(const cg_options *opt)
{
    conn_guard *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->opt = *opt;
    if (pthread_mutex_init(&g->mu, NULL) != 0) {
        free(g);
        return NULL;
    }
    if (opt->metrics) {
        g->m_dropped = met_register(opt->metrics, MET_COUNTER, "mdconv_connections_dropped_total",
                                    "Client connections closed or refused by a deadline or cap "
                                    "(header_timeout, slow_body, client_gone, per_address, "
                                    "evicted)",
                                    k_labels, NULL, 0);
        for (int r = 0; g->m_dropped && r < R__N; r++) {
            const char *lv[] = {k_reason[r]};
            met_inc(g->m_dropped, lv, 0);
        }
    }
    g->last_summary_s = mdc_now_s();
    return g;
}

void cg_free(conn_guard *g)
{
    if (!g)
        return;
    cg_conn *c = g->head;
    while (c) { /* only after MHD stopped: nothing else references them */
        cg_conn *n = c->next;
        free(c);
        c = n;
    }
    pthread_mutex_destroy(&g->mu);
    free(g);
}

/* With mu held: counts a drop and logs it at DEBUG. */
static void count_drop(conn_guard *g, int reason)
{
    g->since_summary[reason]++;
    if (g->m_dropped) {
        const char *lv[] = {k_reason[reason]};
        met_inc(g->m_dropped, lv, 1);
    }
    MDC_LOG_DEBUG("connection dropped: %s", k_reason[reason]);
}

/* With mu held: one INFO line summarising the drops of the last CG__SUMMARY_S. */
static void maybe_summary(conn_guard *g, double now)
{
    if (now - g->last_summary_s < CG__SUMMARY_S)
        return;
    unsigned long *s = g->since_summary;
    if (s[0] || s[1] || s[2] || s[3] || s[4])
        MDC_LOG_INFO("connections dropped in the last %.0f s: %lu header_timeout, %lu slow_body, "
                     "%lu client_gone, %lu per_address, %lu evicted "
                     "(mdconv_connections_dropped_total)",
                     now - g->last_summary_s, s[0], s[1], s[2], s[3], s[4]);
    memset(g->since_summary, 0, sizeof g->since_summary);
    g->last_summary_s = now;
}

/* With mu held: the capped connection idle longest (at least CG__EVICT_MIN_AGE_S) in
 * HEADERS, or NULL. */
static cg_conn *oldest_idle_locked(conn_guard *g, double now)
{
    cg_conn *oldest = NULL;
    double oldest_start = now - CG__EVICT_MIN_AGE_S;
    for (cg_conn *c = g->head; c; c = c->next) {
        double t = atomic_load(&c->phase_start_s);
        if (c->capped && !c->dropped && atomic_load(&c->phase) == CG_HEADERS &&
            t <= oldest_start) {
            oldest = c;
            oldest_start = t;
        }
    }
    return oldest;
}

/* With mu held: shuts c down (once) and counts it under reason. */
static void drop_locked(conn_guard *g, cg_conn *c, int reason)
{
    c->dropped = true;
    shutdown(c->fd, SHUT_RDWR); /* MHD sees the failure and closes the connection */
    count_drop(g, reason);
}

bool cg_admit(conn_guard *g, const struct sockaddr *addr, socklen_t len)
{
    (void)len;
    if (!g)
        return true;
    unsigned char key[16];
    bool have_key = addr_key(addr, key);
    double now = mdc_now_s();
    pthread_mutex_lock(&g->mu);
    int same = 0, total = 0;
    for (cg_conn *c = g->head; c; c = c->next) {
        if (!c->capped || c->dropped)
            continue;
        total++;
        if (have_key && memcmp(c->addr, key, 16) == 0)
            same++;
    }
    bool ok = !(g->opt.max_per_address > 0 && have_key && same >= g->opt.max_per_address);
    cg_conn *victim = NULL;
    if (!ok)
        count_drop(g, R_PER_ADDRESS);
    else if (g->opt.high_water > 0 && total >= g->opt.high_water &&
             (victim = oldest_idle_locked(g, now)) != NULL)
        /* Near the listener's connection limit: make room for this one by closing the
         * connection that has waited longest without completing its headers — the
         * slots above high_water stay free for whoever comes next (a probe). */
        drop_locked(g, victim, R_EVICTED);
    pthread_mutex_unlock(&g->mu);
    return ok;
}

cg_conn *cg_open(conn_guard *g, int fd, const struct sockaddr *addr, bool capped)
{
    if (!g)
        return NULL;
    cg_conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->fd = fd;
    c->capped = capped;
    addr_key(addr, c->addr);
    atomic_store(&c->phase, CG_HEADERS);
    atomic_store(&c->phase_start_s, mdc_now_s());
    pthread_mutex_lock(&g->mu);
    c->next = g->head;
    if (g->head)
        g->head->prev = c;
    g->head = c;
    g->n++;
    pthread_mutex_unlock(&g->mu);
    return c;
}

void cg_close(conn_guard *g, cg_conn *c)
{
    if (!g || !c)
        return;
    pthread_mutex_lock(&g->mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        g->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    g->n--;
    pthread_mutex_unlock(&g->mu);
    free(c);
}

/* True while c is in its body with fewer bytes than announced, or a body of unknown
 * length (chunked) — an upload that can still be abandoned.  (With the whole body in,
 * EOF is a half-close that still waits for its answer.) */
static bool body_incomplete(cg_conn *c)
{
    if (atomic_load(&c->phase) != CG_BODY)
        return false;
    const long long want = atomic_load(&c->body_len);
    return want < 0 || atomic_load(&c->body_bytes) < (unsigned long long)want;
}

void cg_request_ended(conn_guard *g, cg_conn *c, bool client_aborted)
{
    if (!g || !c || !client_aborted || !body_incomplete(c))
        return;
    pthread_mutex_lock(&g->mu);
    if (!c->dropped) { /* a sweep that dropped it counted it already */
        c->dropped = true;
        count_drop(g, R_GONE);
    }
    pthread_mutex_unlock(&g->mu);
}

void cg_phase_set(cg_conn *c, cg_phase phase)
{
    if (!c)
        return;
    atomic_store(&c->body_bytes, 0);
    atomic_store(&c->body_len, -1);
    atomic_store(&c->phase_start_s, mdc_now_s());
    atomic_store(&c->phase, (int)phase);
}

void cg_body_length(cg_conn *c, long long len)
{
    if (c)
        atomic_store(&c->body_len, len);
}

void cg_body_bytes(cg_conn *c, size_t n)
{
    if (c)
        atomic_fetch_add(&c->body_bytes, (unsigned long long)n);
}

/* True when the peer closed its sending side and nothing is left unread. */
static bool peer_eof(int fd)
{
    char b;
    ssize_t r = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* With mu held: while high_water or more capped connections are open, drops the one
 * idle longest (≥ CG__EVICT_MIN_AGE_S) in HEADERS.  A burst that filled the listener
 * before any connection was old enough is thinned here, since no accept (and so no
 * cg_admit) happens while the listener is full.  Returns how many it dropped. */
static int evict_locked(conn_guard *g, double now)
{
    if (g->opt.high_water <= 0)
        return 0;
    int n = 0;
    for (cg_conn *c = g->head; c; c = c->next)
        n += c->capped && !c->dropped;
    int dropped = 0;
    cg_conn *victim;
    while (n >= g->opt.high_water && (victim = oldest_idle_locked(g, now)) != NULL) {
        drop_locked(g, victim, R_EVICTED);
        dropped++;
        n--;
    }
    return dropped;
}

int cg_sweep(conn_guard *g, double now)
{
    if (!g)
        return 0;
    int dropped = 0;
    pthread_mutex_lock(&g->mu);
    for (cg_conn *c = g->head; c; c = c->next) {
        if (c->dropped)
            continue;
        int phase = atomic_load(&c->phase);
        double age = now - atomic_load(&c->phase_start_s);
        int reason = -1;
        if (phase == CG_HEADERS) {
            if (g->opt.headers_timeout_s > 0 && age > g->opt.headers_timeout_s)
                reason = R_HEADERS;
        } else if (phase == CG_BODY) {
            const double bytes = (double)atomic_load(&c->body_bytes);
            /* EOF with the body incomplete: it can never complete */
            if (body_incomplete(c) && peer_eof(c->fd))
                reason = R_GONE;
            else if (g->opt.body_min_bps > 0 && age > g->opt.body_grace_s &&
                     bytes / age < g->opt.body_min_bps)
                reason = R_SLOW_BODY;
        }
        if (reason < 0)
            continue;
        drop_locked(g, c, reason);
        dropped++;
    }
    dropped += evict_locked(g, now);
    maybe_summary(g, now);
    pthread_mutex_unlock(&g->mu);
    return dropped;
}

int cg_count(conn_guard *g)
{
    if (!g)
        return 0;
    pthread_mutex_lock(&g->mu);
    int n = g->n;
    pthread_mutex_unlock(&g->mu);
    return n;
}
