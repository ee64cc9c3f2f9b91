/*
 * rds.h — one Redis connection for the job store's Redis backend (prefix rds_), over
 * hiredis (Debian's libhiredis 0.14: plain TCP, no TLS, so rediss:// is refused).
 *
 * hiredis contexts are not thread-safe, so the backend opens one rds_conn per thread
 * that blocks on Redis (the work claimer, the event poller) and one shared command
 * connection whose users take its mutex for each command (rds_cmd() does).
 *
 * Failure model: a command that fails (connection refused or dropped, timeout) marks
 * the connection down, counts an error and returns NULL; the next command reconnects,
 * but no sooner than a back-off that doubles from 100 ms to 2 s, so callers fail fast
 * while Redis is away and nothing ever crashes or spins.
 *
 * Thread-safety: rds_cmd()/rds_up() are thread-safe (the connection's mutex); a
 * connection used only by its own thread may use rds_cmd() the same way.
 */
#ifndef MDC_SERVICE_RDS_H
#define MDC_SERVICE_RDS_H

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* A parsed redis://[user:pass@]host:port/db URL. */
typedef struct rds_url {
    char host[256];
    int port;               /* default 6379 */
    char user[128], pass[256]; /* "" when absent */
    int db;                 /* default 0 */
} rds_url;

/* Parses url into *out.  Returns 0, or -1 with why (a malformed URL, or rediss://: TLS,
 * which this build's hiredis 0.14 lacks — the text says what to use instead). */
int rds_url_parse(const char *url, rds_url *out, char *why, size_t whylen);

typedef struct rds_conn {
    pthread_mutex_t mu;
    rds_url url;
    int timeout_ms;         /* connect and command timeout */
    redisContext *ctx;      /* NULL while down */
    double next_try_s;      /* monotonic: no reconnect before */
    int backoff_ms;
    atomic_bool up;
    atomic_ulong *errors;   /* counted failures (shared by the backend's connections) */
} rds_conn;

/* Sets up c (does not connect yet).  errors may be NULL. */
void rds_init(rds_conn *c, const rds_url *url, int timeout_ms, atomic_ulong *errors);
/* Closes the connection.  Accepts an rds_init'ed connection never used. */
void rds_close(rds_conn *c);

/* Runs one command (binary-safe arguments; argvlen NULL = strlen each), reconnecting
 * first when down and the back-off allows.  Returns the reply (free with
 * freeReplyObject), or NULL when Redis cannot be reached; an error reply (type
 * REDIS_REPLY_ERROR, e.g. a script error) is returned as such and is not a failure of
 * the connection. */
redisReply *rds_cmd(rds_conn *c, int argc, const char **argv, const size_t *argvlen);
/* Like rds_cmd with a command timeout of block_ms + timeout_ms (XREAD … BLOCK). */
redisReply *rds_cmd_block(rds_conn *c, int block_ms, int argc, const char **argv,
                          const size_t *argvlen);
/* True when the last command got through (PINGs first when down and due).  */
bool rds_up(rds_conn *c);

#endif
