/*
 * jobs_redis.c — the Redis job store backend (jobs.h, job_store_ops), for JOBS_REDIS_URL:
 * the store operations, the API side and the event poller; the claimer thread and the
 * writes of a run are in jobs_redis_worker.c (shared types: jobs_redis_internal.h).
 *
 * Keys (every per-job key expires; JOBS_TTL_SECONDS after the job finished, and
 * JOBS_TTL_SECONDS + REQUEST_TIMEOUT_SECONDS before):
 *   mdc:job:ID        hash: seq, status, progress, created_at, want_json, attempt, owner,
 *                     and the request's fields (src, lang, nofb, loc, title, date, part)
 *   mdc:job:ID:up     string: the upload's bytes (≤ MAX_UPLOAD_MB), deleted once stored
 *   mdc:job:ID:ev     stream: the job's SSE events, {e: name, d: JSON} (jobs.h)
 *   mdc:job:ID:res    string: the result as JSON, written once (SET NX)
 *   mdc:queue         stream + consumer group "workers": one entry {id} per job to run
 *   mdc:index         sorted set: job ids by seq (GET /jobs), trimmed to JOBS_MAX
 *   mdc:seq           counter for seq
 *
 * Work distribution: the claimer thread takes an entry (XREADGROUP) only while this
 * replica has a free worker, or takes over one whose consumer went silent (XAUTOCLAIM,
 * idle ≥ JOBS_CLAIM_AFTER_SECONDS).  Taking a job bumps its `attempt` (a fencing token,
 * in a script with the status check); every later write of that run (events, result) is
 * a script that does nothing unless `attempt` is still ours and the job was not
 * cancelled, and the result is SET NX — so a job may run twice after a crash but has one
 * stored result and one done/error event.  While a job runs, the claimer heartbeats it
 * every 0.5 s (XCLAIM … JUSTID on its own entry resets the entry's idle time) and reads
 * its status, so a DELETE on any replica stops it within a second.  The entry is
 * acknowledged (XACK) once the result is stored; a run aborted by this replica's
 * shutdown stores nothing and stays pending, so another replica re-runs it.
 *
 * Followers: GET /jobs/ID/events on any replica builds the job from its hash and event
 * stream (find), then the poller thread reads new events of every followed job
 * (XREAD BLOCK on its own connection) into that local job, which wakes its SSE streams
 * (job_sse.c, the same transport as the in-process store).  A followed job whose record
 * vanished ends with `error` job_lost; when Redis cannot be reached, with
 * jobs_unavailable (the client's reconnect then gets 503 until Redis is back).
 *
 * Connections (hiredis is not thread-safe): `cmd`, shared under its mutex by the HTTP
 * handlers (on the server's I/O thread, never on libmicrohttpd's polling thread: the
 * ops are `blocking`, routes.h) and the workers' hooks; `claim` for the claimer thread;
 * `poll` for the poller thread, which also PINGs every RDS__PING_S so /ready answers
 * from memory.  Every command has a timeout (RDS__TIMEOUT_MS) and a dropped connection
 * reconnects with back-off (rds.h): Redis being down or stalled costs a /jobs request
 * at most that timeout (then 503 jobs_unavailable), never a crash, and never delays
 * /health or any other connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jobs_redis_internal.h"
#include "mdc/clock.h"
#include "mdc/log.h"

void jr__rjob_free(void *p)
{
    rjob *r = p;
    if (r)
        json_decref(r->fields);
    free(r);
}

/* ---- small helpers ------------------------------------------------------------------ */

void jr__key(char *out, size_t n, const char *id, const char *suffix)
{
    snprintf(out, n, "mdc:job:%s%s", id, suffix);
}

/* A command of NUL-terminated string arguments, NULL-terminated. */
redisReply *jr__cmdv(rds_conn *c, int block_ms, const char *a0, ...)
{
    const char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, a0);
    for (const char *a = a0; a && argc < 32; a = va_arg(ap, const char *))
        argv[argc++] = a;
    va_end(ap);
    return block_ms > 0 ? rds_cmd_block(c, block_ms, argc, argv, NULL) : rds_cmd(c, argc, argv, NULL);
}

/* True when the reply exists and is not an error (an error reply is logged). */
bool jr__ok_reply(redisReply *r, const char *what)
{
    if (!r)
        return false;
    if (r->type == REDIS_REPLY_ERROR) {
        MDC_LOG_WARN("redis %s: %s", what, r->str);
        return false;
    }
    return true;
}

bool jr__finished_status(job_status st)
{
    return st == JOB_DONE || st == JOB_FAILED || st == JOB_CANCELLED;
}

/* hash reply (flat array) → JSON object of strings */
json_t *jr__hash_object(const redisReply *r)
{
    json_t *o = json_object();
    if (!o || !r || r->type != REDIS_REPLY_ARRAY)
        return o;
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (r->element[i]->type == REDIS_REPLY_STRING && r->element[i + 1]->type == REDIS_REPLY_STRING)
            json_object_set_new(o, r->element[i]->str,
                                json_stringn(r->element[i + 1]->str, r->element[i + 1]->len));
    return o;
}

const char *jr__field(json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name));
}

char *jr__dumps(json_t *o)
{
    char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return t;
}

/* The status of job id from its hash: a job_status, -1 when gone, -2 on error. */
int jr__hash_status(rds_conn *c, const char *id)
{
    char kh[80];
    jr__key(kh, sizeof kh, id, "");
    redisReply *r = jr__cmdv(c, 0, "HGET", kh, "status", NULL);
    int st = !jr__ok_reply(r, "HGET") ? -2 : r->type == REDIS_REPLY_STRING ? job_status_parse(r->str) : -1;
    if (r)
        freeReplyObject(r);
    return st;
}

/* ---- events: one fold for snapshots and followers -------------------------------- */

/* Applies one event {name, JSON data} to the local job j. */
static void apply_event(job *j, const char *name, const char *data, size_t len)
{
    json_t *d = json_loadb(data, len, 0, NULL);
    if (!d)
        return;
    if (strcmp(name, "progress") == 0) {
        pthread_mutex_lock(&j->mu);
        if (!jr__finished_status(j->status)) {
            const char *st = jr__field(d, "status");
            int p = (int)json_integer_value(json_object_get(d, "progress"));
            if (st && strcmp(st, "running") == 0)
                j->status = JOB_RUNNING;
            if (p > j->progress)
                j->progress = p;
            j->version++;
            job__wake_subs(j);
        }
        pthread_mutex_unlock(&j->mu);
    } else if (strcmp(name, "segment") == 0) {
        int idx = (int)json_integer_value(json_object_get(d, "index"));
        const char *text = jr__field(d, "text");
        char *copy = strdup(text ? text : "");
        pthread_mutex_lock(&j->mu);
        /* a re-run after a takeover sends its segments again: keep the first of each */
        if (copy && idx == j->n_segs && !jr__finished_status(j->status)) {
            if (j->n_segs == j->cap_segs) {
                int cap = j->cap_segs ? 2 * j->cap_segs : 16;
                job__seg *ns = realloc(j->segs, (size_t)cap * sizeof *ns);
                if (ns) {
                    j->segs = ns;
                    j->cap_segs = cap;
                }
            }
            if (j->n_segs < j->cap_segs) {
                j->segs[j->n_segs++] =
                    (job__seg){json_real_value(json_object_get(d, "start")),
                               json_real_value(json_object_get(d, "end")), copy};
                copy = NULL;
                job__wake_subs(j);
            }
        }
        pthread_mutex_unlock(&j->mu);
        free(copy);
    } else if (strcmp(name, "done") == 0 || strcmp(name, "error") == 0) {
        pipeline_result res;
        memset(&res, 0, sizeof res);
        job_status st = JOB_DONE;
        if (name[0] == 'd') {
            res.http_status = 200;
            res.audio_seconds = json_number_value(json_object_get(d, "audio_seconds"));
            res.processing_seconds = json_number_value(json_object_get(d, "processing_seconds"));
            const char *lang = jr__field(d, "language");
            snprintf(res.language, sizeof res.language, "%s", lang ? lang : "");
        } else {
            const char *s = jr__field(d, "status");
            st = s && strcmp(s, "cancelled") == 0 ? JOB_CANCELLED : JOB_FAILED;
            res.http_status = (int)json_integer_value(json_object_get(d, "http_status"));
            json_t *e = json_object_get(d, "error");
            const char *code = jr__field(e, "code"), *msg = jr__field(e, "message");
            snprintf(res.error_code, sizeof res.error_code, "%s", code ? code : "internal_error");
            snprintf(res.error_message, sizeof res.error_message, "%s", msg ? msg : "");
        }
        job__set_final(j, st, &res);
    }
    json_decref(d);
}

/* Folds a stream's entries (XRANGE/XREAD entry array) into j; keeps the last id. */
static void apply_entries(job *j, const redisReply *entries, char *last, size_t lastlen)
{
    if (!entries || entries->type != REDIS_REPLY_ARRAY)
        return;
    for (size_t i = 0; i < entries->elements; i++) {
        const redisReply *e = entries->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
            continue;
        snprintf(last, lastlen, "%s", e->element[0]->str);
        const redisReply *kv = e->element[1];
        const char *name = NULL, *data = NULL;
        size_t dlen = 0;
        for (size_t k = 0; k + 1 < kv->elements; k += 2) {
            if (strcmp(kv->element[k]->str, "e") == 0)
                name = kv->element[k + 1]->str;
            else if (strcmp(kv->element[k]->str, "d") == 0) {
                data = kv->element[k + 1]->str;
                dlen = kv->element[k + 1]->len;
            }
        }
        if (name && data)
            apply_event(j, name, data, dlen);
    }
}

/* Ends j's streams with an error of ours (Redis gone, record gone). */
void jr__fail_local(job *j, int status, const char *code, const char *msg)
{
    pipeline_result res;
    memset(&res, 0, sizeof res);
    res.http_status = status;
    snprintf(res.error_code, sizeof res.error_code, "%s", code);
    snprintf(res.error_message, sizeof res.error_message, "%s", msg);
    job__set_final(j, JOB_FAILED, &res);
}

/* ---- API side ------------------------------------------------------------------------- */

/* Reads the spooled upload into memory.  NULL on error. */
static char *read_file(const char *path, uint64_t size)
{
    char *buf = malloc(size ? size : 1);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (!buf || fd < 0) {
        free(buf);
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    uint64_t off = 0;
    while (off < size) {
        ssize_t n = read(fd, buf + off, size - off);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            break;
        }
        off += (uint64_t)n;
    }
    close(fd);
    if (off != size) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int redis_submit(job_store *bs, job *j)
{
    redis_store *s = (redis_store *)bs;
    if (!s->takes_uploads)
        return JOBS_E_ROLE;
    const pipeline_request *p = &j->work.preq;
    uint64_t size = upl_file_bytes(j->work.form);
    char *bytes = read_file(upl_file_path(j->work.form), size);
    if (!bytes)
        return JOBS_E_FULL;
    char kh[80], ku[80], ke[80], keep[24], seq[24], created[32], nofb[4], loc[8], spk[16],
        dtw[16], beam[8], seed[16];
    jr__key(kh, sizeof kh, j->id, "");
    jr__key(ku, sizeof ku, j->id, ":up");
    jr__key(ke, sizeof ke, j->id, ":ev");
    snprintf(keep, sizeof keep, "%d", s->keep_s);
    int rc = JOBS_E_UNAVAILABLE;
    redisReply *r = jr__cmdv(&s->cmd, 0, "INCR", "mdc:seq", NULL);
    if (!jr__ok_reply(r, "INCR"))
        goto out;
    j->seq = (uint64_t)r->integer;
    freeReplyObject(r);
    snprintf(seq, sizeof seq, "%llu", (unsigned long long)j->seq);
    snprintf(created, sizeof created, "%.6f", j->created_wall_s);
    snprintf(nofb, sizeof nofb, "%d", p->no_fallback ? 1 : 0);
    snprintf(loc, sizeof loc, "%d", (int)p->meta.locale);
    /* speakers: diarize + speaker_turns ("D,T"), and the word-time source (dtw) */
    snprintf(spk, sizeof spk, "%d,%d", p->diarize ? 1 : 0, (int)p->speaker_turns);
    snprintf(dtw, sizeof dtw, "%d", p->dtw);
    snprintf(beam, sizeof beam, "%d", p->beam_size);
    snprintf(seed, sizeof seed, "%u", (unsigned)p->seed);
    const char *argv[40];
    int argc = 0;
#define KV(k, v) (argv[argc++] = (k), argv[argc++] = (v))
    argv[argc++] = "HSET";
    argv[argc++] = kh;
    KV("seq", seq);
    KV("status", "queued");
    KV("progress", "0");
    KV("created_at", created);
    KV("want_json", j->want_json ? "1" : "0");
    KV("attempt", "0");
    KV("src", p->source_name ? p->source_name : "upload");
    KV("lang", p->language ? p->language : "");
    KV("nofb", nofb);
    KV("loc", loc);
    KV("spk", spk);
    KV("dtw", dtw);
    KV("beam", beam); /* decoding: beam_size (0 greedy) and the sampling seed */
    KV("seed", seed);
    if (p->meta.title)
        KV("title", p->meta.title);
    if (p->meta.date)
        KV("date", p->meta.date);
    if (p->meta.participants)
        KV("part", p->meta.participants);
#undef KV
    r = rds_cmd(&s->cmd, argc, argv, NULL);
    if (!jr__ok_reply(r, "HSET"))
        goto out;
    freeReplyObject(r);
    const char *setv[] = {"SET", ku, bytes, "EX", keep};
    size_t setl[] = {3, strlen(ku), (size_t)size, 2, strlen(keep)};
    r = rds_cmd(&s->cmd, 5, setv, setl);
    if (!jr__ok_reply(r, "SET upload"))
        goto undo;
    freeReplyObject(r);
    pthread_mutex_lock(&j->mu);
    char *ev = jr__dumps(job__status_object(j));
    pthread_mutex_unlock(&j->mu);
    r = jr__cmdv(&s->cmd, 0, "XADD", ke, "*", "e", "progress", "d", ev ? ev : "{}", NULL);
    free(ev);
    if (!jr__ok_reply(r, "XADD event"))
        goto undo;
    freeReplyObject(r);
    r = jr__cmdv(&s->cmd, 0, "EXPIRE", kh, keep, NULL);
    if (r)
        freeReplyObject(r);
    r = jr__cmdv(&s->cmd, 0, "EXPIRE", ke, keep, NULL);
    if (r)
        freeReplyObject(r);
    r = jr__cmdv(&s->cmd, 0, "ZADD", "mdc:index", seq, j->id, NULL);
    if (r)
        freeReplyObject(r);
    char trim[24];
    snprintf(trim, sizeof trim, "%d", -(bs->max_jobs + 1));
    r = jr__cmdv(&s->cmd, 0, "ZREMRANGEBYRANK", "mdc:index", "0", trim, NULL);
    if (r)
        freeReplyObject(r);
    /* last: only a fully written job is ever scheduled */
    r = jr__cmdv(&s->cmd, 0, "XADD", "mdc:queue", "*", "id", j->id, NULL);
    if (!jr__ok_reply(r, "XADD queue"))
        goto undo;
    freeReplyObject(r);
    rc = JOBS_OK;
    goto out;
undo:
    if (r)
        freeReplyObject(r);
    r = jr__cmdv(&s->cmd, 0, "DEL", kh, ku, ke, NULL);
out:
    if (r && rc != JOBS_OK)
        freeReplyObject(r);
    free(bytes);
    return rc;
}

/* Builds the local view of job id from Redis (hash + events, and the result when
 * with_result and the job is done). */
static job *load_job(redis_store *s, const char *id, bool with_result, int *err)
{
    char kh[80], ke[80], kr[80];
    jr__key(kh, sizeof kh, id, "");
    jr__key(ke, sizeof ke, id, ":ev");
    jr__key(kr, sizeof kr, id, ":res");
    redisReply *h = jr__cmdv(&s->cmd, 0, "HGETALL", kh, NULL);
    if (!jr__ok_reply(h, "HGETALL")) {
        *err = JOBS_E_UNAVAILABLE;
        if (h)
            freeReplyObject(h);
        return NULL;
    }
    if (h->type != REDIS_REPLY_ARRAY || h->elements == 0) {
        freeReplyObject(h);
        return NULL; /* unknown or expired */
    }
    json_t *o = jr__hash_object(h);
    freeReplyObject(h);
    job *j = job__new(&s->base, s->srv, id);
    rjob *rj = calloc(1, sizeof *rj);
    if (!j || !rj || !o) {
        json_decref(o);
        free(rj);
        job_unref(j);
        *err = JOBS_E_FULL;
        return NULL;
    }
    j->backend = rj;
    j->backend_free = jr__rjob_free;
    const char *v;
    if ((v = jr__field(o, "seq")))
        j->seq = strtoull(v, NULL, 10);
    if ((v = jr__field(o, "created_at")))
        j->created_wall_s = strtod(v, NULL);
    j->want_json = (v = jr__field(o, "want_json")) && v[0] == '1';
    json_decref(o);
    redisReply *e = jr__cmdv(&s->cmd, 0, "XRANGE", ke, "-", "+", NULL);
    if (!jr__ok_reply(e, "XRANGE")) {
        if (e)
            freeReplyObject(e);
        job_unref(j);
        *err = JOBS_E_UNAVAILABLE;
        return NULL;
    }
    snprintf(rj->last, sizeof rj->last, "0-0");
    apply_entries(j, e, rj->last, sizeof rj->last);
    freeReplyObject(e);
    if (j->status == JOB_DONE && with_result) {
        redisReply *r = jr__cmdv(&s->cmd, 0, "GET", kr, NULL);
        json_t *res = r && r->type == REDIS_REPLY_STRING ? json_loadb(r->str, r->len, 0, NULL) : NULL;
        if (r)
            freeReplyObject(r);
        if (!res) { /* a done event without its result: never serve half a job */
            job_unref(j);
            *err = JOBS_E_UNAVAILABLE;
            return NULL;
        }
        const char *body = jr__field(res, "body"), *segs = jr__field(res, "segments_json");
        pthread_mutex_lock(&j->mu);
        j->result.body = body ? strdup(body) : NULL;
        j->result.body_len = body ? strlen(body) : 0;
        j->result.segments_json = segs ? strdup(segs) : NULL;
        pthread_mutex_unlock(&j->mu);
        json_decref(res);
    }
    return j;
}

static job *redis_find(job_store *bs, const char *id, int *err)
{
    /* ids are 32 hex digits; anything else cannot name a key of ours */
    if (strlen(id) != 32 || strspn(id, "0123456789abcdef") != 32)
        return NULL;
    return load_job((redis_store *)bs, id, true, err);
}

static int redis_remove(job_store *bs, job *j)
{
    redis_store *s = (redis_store *)bs;
    char kh[80], ku[80], ke[80], kr[80];
    jr__key(kh, sizeof kh, j->id, "");
    jr__key(ku, sizeof ku, j->id, ":up");
    jr__key(ke, sizeof ke, j->id, ":ev");
    jr__key(kr, sizeof kr, j->id, ":res");
    redisReply *r = jr__cmdv(&s->cmd, 0, "DEL", kh, ku, ke, kr, NULL);
    bool ok = jr__ok_reply(r, "DEL");
    if (r)
        freeReplyObject(r);
    r = jr__cmdv(&s->cmd, 0, "ZREM", "mdc:index", j->id, NULL);
    if (r)
        freeReplyObject(r);
    return ok ? JOBS_OK : JOBS_E_UNAVAILABLE;
}

static const char k_cancel_lua[] =
    "local st = redis.call('HGET', KEYS[1], 'status')\n"
    "if not st then return 0 end\n"
    "if st == 'done' or st == 'failed' or st == 'cancelled' then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'status', 'cancelled')\n"
    "redis.call('XADD', KEYS[2], '*', 'e', 'error', 'd', ARGV[1])\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[2])\n"
    "redis.call('EXPIRE', KEYS[2], ARGV[2])\n"
    "redis.call('DEL', KEYS[3])\n"
    "return 1\n";

static int redis_cancel(job_store *bs, job *j)
{
    redis_store *s = (redis_store *)bs;
    char kh[80], ke[80], ku[80], ttl[24], msg[96];
    jr__key(kh, sizeof kh, j->id, "");
    jr__key(ke, sizeof ke, j->id, ":ev");
    jr__key(ku, sizeof ku, j->id, ":up");
    snprintf(ttl, sizeof ttl, "%d", bs->ttl_seconds);
    snprintf(msg, sizeof msg, "the job was cancelled (DELETE /jobs/%s)", j->id);
    char *ev = jr__dumps(json_pack("{s:s, s:s, s:i, s:{s:s, s:s}}", "id", j->id, "status", "cancelled",
                               "http_status", JOB_CANCELLED_HTTP_STATUS, "error", "code",
                               "cancelled", "message", msg));
    redisReply *r = jr__cmdv(&s->cmd, 0, "EVAL", k_cancel_lua, "3", kh, ke, ku, ev ? ev : "{}", ttl, NULL);
    free(ev);
    int rc = jr__ok_reply(r, "cancel") ? (r->integer == 1 ? 1 : 0) : JOBS_E_UNAVAILABLE;
    if (r)
        freeReplyObject(r);
    return rc;
}


static int redis_list(job_store *bs, const job_query *q, job **out, bool *more)
{
    redis_store *s = (redis_store *)bs;
    *more = false;
    char below[32] = "+inf";
    if (q->after) {
        redisReply *r = jr__cmdv(&s->cmd, 0, "ZSCORE", "mdc:index", q->after, NULL);
        if (!jr__ok_reply(r, "ZSCORE")) {
            if (r)
                freeReplyObject(r);
            return JOBS_E_UNAVAILABLE;
        }
        bool known = r->type == REDIS_REPLY_STRING;
        if (known)
            snprintf(below, sizeof below, "(%s", r->str);
        freeReplyObject(r);
        if (!known)
            return -1;
    }
    int n = 0, scanned = 0;
    char off[16];
    while (scanned < bs->max_jobs) {
        snprintf(off, sizeof off, "%d", scanned);
        redisReply *r = jr__cmdv(&s->cmd, 0, "ZREVRANGEBYSCORE", "mdc:index", below, "-inf", "LIMIT",
                             off, "100", NULL);
        if (!jr__ok_reply(r, "ZREVRANGEBYSCORE")) {
            if (r)
                freeReplyObject(r);
            for (int i = 0; i < n; i++)
                job_unref(out[i]);
            return JOBS_E_UNAVAILABLE;
        }
        size_t got = r->type == REDIS_REPLY_ARRAY ? r->elements : 0;
        for (size_t i = 0; i < got && !*more; i++) {
            const char *id = r->element[i]->str;
            int st = jr__hash_status(&s->cmd, id);
            if (st == -1) { /* expired: drop it from the index */
                redisReply *z = jr__cmdv(&s->cmd, 0, "ZREM", "mdc:index", id, NULL);
                if (z)
                    freeReplyObject(z);
                scanned--; /* the page shifts by one */
                continue;
            }
            if (st < 0 || (q->status >= 0 && st != q->status))
                continue;
            if (n == q->limit) {
                *more = true;
                break;
            }
            int err = 0;
            job *j = load_job(s, id, false, &err); /* status objects only */
            if (j)
                out[n++] = j;
        }
        freeReplyObject(r);
        scanned += (int)got;
        if (*more || got < RDS__SCAN_PAGE)
            break;
    }
    return n;
}

static void redis_follow(job_store *bs, job *j)
{
    redis_store *s = (redis_store *)bs;
    rjob *rj = j->backend;
    pthread_mutex_lock(&s->mu);
    if (s->n_fol < RDS__MAX_FOLLOW && rj) {
        job__ref(j);
        s->fol[s->n_fol].j = j;
        snprintf(s->fol[s->n_fol].last, sizeof s->fol[0].last, "%s", rj->last);
        s->n_fol++;
    } else {
        MDC_LOG_WARN("more than %d followed jobs on this replica: job %s gets no live events",
                     RDS__MAX_FOLLOW, j->id);
    }
    pthread_mutex_unlock(&s->mu);
}

static void redis_each(job_store *bs, void (*fn)(job *j, void *arg), void *arg)
{
    redis_store *s = (redis_store *)bs;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n_fol; i++)
        fn(s->fol[i].j, arg);
    for (int i = 0; i < s->n_run; i++)
        fn(s->run[i], arg);
    pthread_mutex_unlock(&s->mu);
}

static int redis_count(job_store *bs, int counts[JOB_N_STATUS])
{
    redis_store *s = (redis_store *)bs;
    char stop[16];
    snprintf(stop, sizeof stop, "%d", bs->max_jobs - 1);
    redisReply *r = jr__cmdv(&s->cmd, 0, "ZREVRANGE", "mdc:index", "0", stop, NULL);
    if (!jr__ok_reply(r, "ZREVRANGE")) {
        if (r)
            freeReplyObject(r);
        return -1;
    }
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        int st = jr__hash_status(&s->cmd, r->element[i]->str);
        if (st >= 0)
            counts[st]++;
    }
    freeReplyObject(r);
    return 0;
}

static void redis_expire(job_store *bs, double now)
{
    redis_store *s = (redis_store *)bs;
    svc_metrics *m = &s->srv->metrics;
    unsigned long e = atomic_load(&s->errors);
    if (e != s->errors_reported && m->redis_errors_total) {
        met_inc(m->redis_errors_total, NULL, (double)(e - s->errors_reported));
        s->errors_reported = e;
    }
    (void)now; /* Redis expires the keys itself */
}

/* /ready, on the polling thread: what the poller's last PING saw (no round trip). */
static bool redis_healthy(job_store *bs)
{
    return atomic_load(&((redis_store *)bs)->reachable);
}

/* The poller's reachability check: a PING on its own connection every RDS__PING_S
 * (a stalled Redis costs this thread the command timeout, nobody else). */
static void check_reachable(redis_store *s, bool force)
{
    double now = mdc_now_s();
    if (!force && now - s->last_ping_s < RDS__PING_S)
        return;
    s->last_ping_s = now;
    redisReply *r = jr__cmdv(&s->poll, 0, "PING", NULL);
    atomic_store(&s->reachable, jr__ok_reply(r, "PING"));
    if (r)
        freeReplyObject(r);
}

/* ---- the poller: live events for followed jobs ---------------------------------- */

static bool has_subs(job *j)
{
    pthread_mutex_lock(&j->mu);
    bool subs = j->subs != NULL;
    pthread_mutex_unlock(&j->mu);
    return subs;
}

static void *poller_main(void *arg)
{
    redis_store *s = arg;
    double last_lost_check = 0;
    while (!atomic_load(&s->stop)) {
        check_reachable(s, false);
        follow f[RDS__MAX_FOLLOW];
        job *drop[RDS__MAX_FOLLOW];
        int n = 0, n_drop = 0;
        pthread_mutex_lock(&s->mu);
        for (int i = 0; i < s->n_fol; i++) {
            if (!has_subs(s->fol[i].j)) {
                drop[n_drop++] = s->fol[i].j;
                s->fol[i--] = s->fol[--s->n_fol];
                continue;
            }
            f[n] = s->fol[i];
            job__ref(f[n].j);
            n++;
        }
        pthread_mutex_unlock(&s->mu);
        for (int i = 0; i < n_drop; i++)
            job_unref(drop[i]);
        if (n == 0) {
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        const char *argv[6 + 2 * RDS__MAX_FOLLOW];
        char keys[RDS__MAX_FOLLOW][80];
        char block[16];
        snprintf(block, sizeof block, "%d", RDS__BLOCK_MS);
        int argc = 0;
        argv[argc++] = "XREAD";
        argv[argc++] = "COUNT";
        argv[argc++] = "100";
        argv[argc++] = "BLOCK";
        argv[argc++] = block;
        argv[argc++] = "STREAMS";
        for (int i = 0; i < n; i++) {
            jr__key(keys[i], sizeof keys[i], f[i].j->id, ":ev");
            argv[argc++] = keys[i];
        }
        for (int i = 0; i < n; i++)
            argv[argc++] = f[i].last;
        redisReply *r = rds_cmd_block(&s->poll, RDS__BLOCK_MS, argc, argv, NULL);
        if (!r) {
            atomic_store(&s->reachable, false);
            for (int i = 0; i < n; i++)
                jr__fail_local(f[i].j, 503, "jobs_unavailable",
                           "the job store (Redis) cannot be reached; reconnect to follow the job");
        } else if (r->type == REDIS_REPLY_ARRAY) {
            for (size_t k = 0; k < r->elements; k++) {
                redisReply *st = r->element[k];
                if (st->type != REDIS_REPLY_ARRAY || st->elements != 2)
                    continue;
                for (int i = 0; i < n; i++)
                    if (strcmp(keys[i], st->element[0]->str) == 0)
                        apply_entries(f[i].j, st->element[1], f[i].last, sizeof f[i].last);
            }
        }
        if (r)
            freeReplyObject(r);
        double now = mdc_now_s();
        bool check_lost = r && now - last_lost_check >= RDS__LOST_CHECK_S;
        if (check_lost)
            last_lost_check = now;
        for (int i = 0; i < n; i++) {
            if (check_lost) {
                bool fin;
                pthread_mutex_lock(&f[i].j->mu);
                fin = jr__finished_status(f[i].j->status);
                pthread_mutex_unlock(&f[i].j->mu);
                if (!fin && jr__hash_status(&s->poll, f[i].j->id) == -1)
                    jr__fail_local(f[i].j, 503, "job_lost",
                               "the job's record is gone from the job store (Redis restarted "
                               "without persistence, or it expired)");
            }
        }
        /* keep the read positions */
        pthread_mutex_lock(&s->mu);
        for (int i = 0; i < n; i++)
            for (int k = 0; k < s->n_fol; k++)
                if (s->fol[k].j == f[i].j)
                    snprintf(s->fol[k].last, sizeof s->fol[k].last, "%s", f[i].last);
        pthread_mutex_unlock(&s->mu);
        for (int i = 0; i < n; i++)
            job_unref(f[i].j);
        if (!r) {
            struct timespec ts = {0, 200 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

/* ---- lifetime ------------------------------------------------------------------------ */

static void redis_stop(job_store *bs)
{
    redis_store *s = (redis_store *)bs;
    atomic_store(&s->stop, true);
    if (s->claimer_started)
        pthread_join(s->claimer, NULL);
    if (s->poller_started)
        pthread_join(s->poller, NULL);
    s->claimer_started = s->poller_started = false;
}

static void redis_destroy(job_store *bs)
{
    redis_store *s = (redis_store *)bs;
    redis_stop(bs);
    for (int i = 0; i < s->n_fol; i++)
        job_unref(s->fol[i].j);
    for (int i = 0; i < s->n_run; i++)
        job_unref(s->run[i]);
    free(s->run);
    rds_close(&s->cmd);
    rds_close(&s->claim);
    rds_close(&s->poll);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static const job_store_ops k_redis_ops = {
    .name = "redis",
    .own_queue = true,
    .blocking = true,
    .submit = redis_submit,
    .find = redis_find,
    .remove = redis_remove,
    .cancel = redis_cancel,
    .list = redis_list,
    .follow = redis_follow,
    .each = redis_each,
    .count = redis_count,
    .expire = redis_expire,
    .healthy = redis_healthy,
    .stop = redis_stop,
    .destroy = redis_destroy,
};

job_store *jobs_redis_new(struct svc_server *srv, char *why, size_t whylen)
{
    const svc_config *cfg = srv->cfg;
    rds_url url;
    if (rds_url_parse(cfg->jobs_redis_url, &url, why, whylen) != 0)
        return NULL;
    redis_store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    s->base.ops = &k_redis_ops;
    s->base.ttl_seconds = cfg->jobs_ttl_seconds;
    s->base.max_jobs = cfg->jobs_max;
    s->base.last_heartbeat_s = mdc_now_s();
    s->srv = srv;
    s->keep_s = cfg->jobs_ttl_seconds + cfg->request_timeout_seconds;
    s->claim_idle_ms = cfg->jobs_claim_after_seconds * 1000;
    s->runs_jobs = cfg->jobs_role != SVC_ROLE_API;
    s->takes_uploads = cfg->jobs_role != SVC_ROLE_WORKER;
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    unsigned char rnd[4] = {0};
    if (getentropy(rnd, sizeof rnd) != 0)
        memset(rnd, 0, sizeof rnd);
    snprintf(s->consumer, sizeof s->consumer, "%.60s-%d-%02x%02x%02x%02x", host, (int)getpid(),
             rnd[0], rnd[1], rnd[2], rnd[3]);
    pthread_mutex_init(&s->mu, NULL);
    rds_init(&s->cmd, &url, RDS__TIMEOUT_MS, &s->errors);
    rds_init(&s->claim, &url, RDS__TIMEOUT_MS, &s->errors);
    rds_init(&s->poll, &url, RDS__TIMEOUT_MS, &s->errors);
    check_reachable(s, true); /* /ready's first answer; at most the timeout, before listening */
    if (pthread_create(&s->poller, NULL, poller_main, s) != 0) {
        snprintf(why, whylen, "cannot start the event poller thread");
        redis_destroy(&s->base);
        return NULL;
    }
    s->poller_started = true;
    if (s->runs_jobs) {
        if (pthread_create(&s->claimer, NULL, jr__claimer_main, s) != 0) {
            snprintf(why, whylen, "cannot start the job claimer thread");
            redis_destroy(&s->base);
            return NULL;
        }
        s->claimer_started = true;
    }
    MDC_LOG_INFO("jobs in Redis at %s:%d db %d (role %s, consumer %s)", url.host, url.port, url.db,
                 cfg->jobs_role == SVC_ROLE_API ? "api" : cfg->jobs_role == SVC_ROLE_WORKER ? "worker" : "both",
                 s->consumer);
    return &s->base;
}
