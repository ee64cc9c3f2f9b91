/*
 * connguard.h — deadlines and caps for client connections (prefix cg_): what keeps slow
 * or vanished clients from holding sockets, temp files and MHD's connection slots.
 *
 * Every connection of a daemon is registered (libmicrohttpd's NOTIFY_CONNECTION) and
 * goes through phases, each with its own rule, checked by cg_sweep() every tick:
 *   HEADERS  from accept (or the end of the previous request on a keep-alive
 *            connection) until the request's headers are complete: at most
 *            headers_timeout_s in total — bytes arriving do not extend it;
 *   BODY     from the headers until the body is complete: after the first
 *            body_grace_s the average rate since the body started must stay at least
 *            body_min_bps (a floor over the whole phase, not reset by each byte); a
 *            client that closed its side before the body is complete (EOF on a peek)
 *            is dropped at the next tick — its upload can never complete;
 *   BUSY     the request is being answered (transcribing, suspended, sending): no
 *            deadline here (REQUEST_TIMEOUT_SECONDS and the disconnect poll apply).
 * Dropping = shutdown(fd, SHUT_RDWR): libmicrohttpd sees the socket fail, closes the
 * connection and runs the request-completed callback, which frees the request and its
 * temp file.  The fd is only touched under the guard's mutex while the connection is
 * registered; cg_close() runs in NOTIFY_CONNECTION(CLOSED), before MHD closes the fd,
 * so a reused fd number is never shut down by mistake.
 *
 * cg_admit() runs at accept (libmicrohttpd's accept policy callback): the per-address
 * cap (at most max_per_address open connections from one IP address, 0 = no cap) and
 * the reserve: once high_water connections are open (set below the listener's
 * connection limit), each new one evicts the connection that has waited longest (at
 * least 0.5 s) without completing its headers, so the slots between high_water and the
 * limit stay free for clients that send a request at once — /health stays reachable on
 * PORT even while a distributed slowloris holds every other slot.
 *
 * Drops are counted in mdconv_connections_dropped_total{reason} (header_timeout,
 * slow_body, client_gone, per_address, evicted) and logged at DEBUG, plus one INFO summary line
 * per 10 s at most — never one WARN line per connection.
 *
 * Thread-safety: cg_open/cg_close/cg_admit/cg_phase/cg_body_bytes run on MHD's polling
 * threads, cg_sweep on the main thread; all are thread-safe.
 */
#ifndef MDC_SERVICE_CONNGUARD_H
#define MDC_SERVICE_CONNGUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "mdc/metrics.h"

typedef struct conn_guard conn_guard;
typedef struct cg_conn cg_conn;

typedef enum cg_phase { CG_HEADERS = 0, CG_BODY = 1, CG_BUSY = 2 } cg_phase;

typedef struct cg_options {
    double headers_timeout_s; /* HEADERS_TIMEOUT_SECONDS; 0 = none */
    double body_min_bps;      /* UPLOAD_MIN_BYTES_PER_SECOND; 0 = none */
    double body_grace_s;      /* the rate floor applies after this much of the body phase */
    int max_per_address;      /* MAX_CONNECTIONS_PER_ADDRESS; 0 = no cap */
    int high_water;           /* capped connections above which each accept evicts the
                                 oldest HEADERS-phase one (idle ≥ 0.5 s); 0 = never */
    met_registry *metrics;    /* may be NULL */
} cg_options;

/* Creates a guard (registers mdconv_connections_dropped_total).  NULL on OOM. */
conn_guard *cg_new(const cg_options *opt);
/* Frees the guard; every connection must have been closed.  Accepts NULL. */
void cg_free(conn_guard *g);

/* Accept-time check of the per-address cap for addr; true = accept.  Counts a refusal. */
bool cg_admit(conn_guard *g, const struct sockaddr *addr, socklen_t len);
/* Registers a new connection (phase HEADERS, clock started).  `capped` = counted for the
 * per-address cap.  Returns the entry (owned by the guard until cg_close) or NULL (OOM:
 * the connection is then simply not guarded). */
cg_conn *cg_open(conn_guard *g, int fd, const struct sockaddr *addr, bool capped);
/* Unregisters and frees c (NULL ignored).  Call before the fd is closed. */
void cg_close(conn_guard *g, cg_conn *c);
/* A request of c ended (libmicrohttpd's NOTIFY_COMPLETED, before the phase is reset):
 * when the client aborted it (read error or close) in the middle of its body, counts
 * client_gone — unless a sweep already dropped c — so the count does not depend on
 * whether libmicrohttpd's read or cg_sweep noticed the vanished uploader first. */
void cg_request_ended(conn_guard *g, cg_conn *c, bool client_aborted);
/* Moves c to `phase` and restarts its clock (NULL ignored). */
void cg_phase_set(cg_conn *c, cg_phase phase);
/* Records the body's announced length (Content-Length; -1 = unknown), so a client
 * that half-closes after a complete body is not taken for one that vanished. */
void cg_body_length(cg_conn *c, long long len);
/* Counts n body bytes received (NULL ignored). */
void cg_body_bytes(cg_conn *c, size_t n);
/* Applies the rules at monotonic time now_s; returns how many connections it dropped. */
int cg_sweep(conn_guard *g, double now_s);
/* Connections currently registered. */
int cg_count(conn_guard *g);

#endif
