/*
 * rds.c — a Redis connection with reconnect back-off (see rds.h).
 */
#include "rds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdc/clock.h"
#include "mdc/log.h"

#define RDS__BACKOFF_MIN_MS 100
#define RDS__BACKOFF_MAX_MS 2000

int rds_url_parse(const char *url, rds_url *out, char *why, size_t whylen)
{
    memset(out, 0, sizeof *out);
    out->port = 6379;
    if (strncmp(url, "rediss://", 9) == 0) {
        /* TLS came with hiredis 1.0 (hiredis_ssl); Debian bookworm ships 0.14.1 */
        snprintf(why, whylen,
                 "rediss:// (TLS) is not supported: this build's hiredis %d.%d.%d (Debian "
                 "bookworm's libhiredis) has no TLS client. Use redis:// to a TLS-terminating "
                 "sidecar next to each replica (stunnel or ghostunnel in client mode on "
                 "127.0.0.1, or a service mesh's mTLS), or redis:// on a private network "
                 "(docs/DEPLOY.md, Scaling out)",
                 HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
        return -1;
    }
    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(why, whylen, "expected redis://[user:pass@]host:port/db");
        return -1;
    }
    const char *p = url + 8;
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ul = colon ? (size_t)(colon - p) : 0;
        size_t pl = colon ? (size_t)(at - colon - 1) : (size_t)(at - p);
        if (ul >= sizeof out->user || pl >= sizeof out->pass) {
            snprintf(why, whylen, "user or password too long");
            return -1;
        }
        memcpy(out->user, p, ul);
        memcpy(out->pass, colon ? colon + 1 : p, pl);
        p = at + 1;
    }
    size_t hl = strcspn(p, ":/");
    if (hl == 0 || hl >= sizeof out->host) {
        snprintf(why, whylen, "missing or too long host");
        return -1;
    }
    memcpy(out->host, p, hl);
    p += hl;
    if (*p == ':') {
        char *end = NULL;
        long port = strtol(p + 1, &end, 10);
        if (end == p + 1 || port < 1 || port > 65535 || (*end && *end != '/')) {
            snprintf(why, whylen, "port must be 1-65535");
            return -1;
        }
        out->port = (int)port;
        p = end;
    }
    if (*p == '/' && p[1]) {
        char *end = NULL;
        long db = strtol(p + 1, &end, 10);
        if (end == p + 1 || *end || db < 0 || db > 1000) {
            snprintf(why, whylen, "database must be a number 0-1000");
            return -1;
        }
        out->db = (int)db;
    } else if (*p && strcmp(p, "/") != 0) {
        snprintf(why, whylen, "expected redis://[user:pass@]host:port/db");
        return -1;
    }
    return 0;
}

void rds_init(rds_conn *c, const rds_url *url, int timeout_ms, atomic_ulong *errors)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    c->url = *url;
    c->timeout_ms = timeout_ms;
    c->backoff_ms = RDS__BACKOFF_MIN_MS;
    c->errors = errors;
}

void rds_close(rds_conn *c)
{
    if (c->ctx)
        redisFree(c->ctx);
    c->ctx = NULL;
    pthread_mutex_destroy(&c->mu);
}

static struct timeval tv_ms(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

static void mark_down(rds_conn *c, const char *what)
{
    bool was_up = atomic_exchange(&c->up, false);
    if (c->errors)
        atomic_fetch_add(c->errors, 1);
    if (was_up || c->backoff_ms == RDS__BACKOFF_MIN_MS)
        MDC_LOG_WARN("redis %s:%d: %s", c->url.host, c->url.port, what);
    if (c->ctx)
        redisFree(c->ctx);
    c->ctx = NULL;
    c->next_try_s = mdc_now_s() + c->backoff_ms / 1000.0;
    c->backoff_ms = c->backoff_ms * 2 > RDS__BACKOFF_MAX_MS ? RDS__BACKOFF_MAX_MS : c->backoff_ms * 2;
}

/* Runs a setup command; false (connection marked down) when it fails. */
static bool setup_cmd(rds_conn *c, int argc, const char **argv)
{
    redisReply *r = redisCommandArgv(c->ctx, argc, argv, NULL);
    bool ok = r && r->type != REDIS_REPLY_ERROR;
    char what[160];
    snprintf(what, sizeof what, "%s failed: %s", argv[0],
             r && r->type == REDIS_REPLY_ERROR ? r->str : c->ctx->errstr);
    if (r)
        freeReplyObject(r);
    if (!ok)
        mark_down(c, what);
    return ok;
}

/* Connects when down and due.  Caller holds c->mu. */
static bool ensure(rds_conn *c)
{
    if (c->ctx)
        return true;
    if (mdc_now_s() < c->next_try_s)
        return false;
    c->ctx = redisConnectWithTimeout(c->url.host, c->url.port, tv_ms(c->timeout_ms));
    if (!c->ctx || c->ctx->err) {
        char what[160];
        snprintf(what, sizeof what, "cannot connect: %s", c->ctx ? c->ctx->errstr : "out of memory");
        mark_down(c, what);
        return false;
    }
    redisSetTimeout(c->ctx, tv_ms(c->timeout_ms));
    redisEnableKeepAlive(c->ctx);
    if (c->url.pass[0]) {
        const char *a[] = {"AUTH", c->url.user, c->url.pass};
        if (c->url.user[0] ? !setup_cmd(c, 3, a) : !setup_cmd(c, 2, (const char *[]){"AUTH", c->url.pass}))
            return false;
    }
    if (c->url.db) {
        char db[16];
        snprintf(db, sizeof db, "%d", c->url.db);
        if (!setup_cmd(c, 2, (const char *[]){"SELECT", db}))
            return false;
    }
    if (!atomic_load(&c->up))
        MDC_LOG_INFO("redis %s:%d: connected", c->url.host, c->url.port);
    atomic_store(&c->up, true);
    c->backoff_ms = RDS__BACKOFF_MIN_MS;
    return true;
}

static redisReply *run(rds_conn *c, int block_ms, int argc, const char **argv, const size_t *argvlen)
{
    pthread_mutex_lock(&c->mu);
    redisReply *r = NULL;
    if (ensure(c)) {
        if (block_ms > 0)
            redisSetTimeout(c->ctx, tv_ms(block_ms + c->timeout_ms));
        r = redisCommandArgv(c->ctx, argc, argv, argvlen);
        if (!r) {
            char what[160];
            snprintf(what, sizeof what, "%s: %s", argv[0], c->ctx->errstr);
            mark_down(c, what);
        } else if (block_ms > 0) {
            redisSetTimeout(c->ctx, tv_ms(c->timeout_ms));
        }
    }
    pthread_mutex_unlock(&c->mu);
    return r;
}

redisReply *rds_cmd(rds_conn *c, int argc, const char **argv, const size_t *argvlen)
{
    return run(c, 0, argc, argv, argvlen);
}

redisReply *rds_cmd_block(rds_conn *c, int block_ms, int argc, const char **argv,
                          const size_t *argvlen)
{
    return run(c, block_ms, argc, argv, argvlen);
}

bool rds_up(rds_conn *c)
{
    if (atomic_load(&c->up))
        return true;
    redisReply *r = rds_cmd(c, 1, (const char *[]){"PING"}, NULL);
    bool ok = r && r->type != REDIS_REPLY_ERROR;
    if (r)
        freeReplyObject(r);
    return ok;
}
