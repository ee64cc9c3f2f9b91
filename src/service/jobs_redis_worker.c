/*
 * jobs_redis_worker.c — the worker side of the Redis job store (design and keys at the
 * top of jobs_redis.c): the claimer thread takes a queue entry when this replica has a
 * free worker (XREADGROUP) or one whose consumer went silent (XAUTOCLAIM), bumps the
 * job's attempt (fencing token), spools the upload to a private temp file and submits
 * the job's work unit; its hooks write progress, segments and the result through Lua
 * scripts that do nothing unless the attempt is still ours; heartbeats (XCLAIM JUSTID)
 * keep the entry ours and read the status, so a DELETE anywhere stops the engine.
 *
 * Threads: the claimer thread (its own connection s->claim); the hooks run on worker
 * threads and use the shared command connection s->cmd.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jobs_redis_internal.h"
#include "mdc/clock.h"
#include "mdc/log.h"


static const char k_take_lua[] =
    "local st = redis.call('HGET', KEYS[1], 'status')\n"
    "if not st then return -1 end\n"
    "if st == 'done' or st == 'failed' or st == 'cancelled' then return 0 end\n"
    "local a = redis.call('HINCRBY', KEYS[1], 'attempt', 1)\n"
    "redis.call('HSET', KEYS[1], 'status', 'running', 'owner', ARGV[1])\n"
    "redis.call('XADD', KEYS[2], '*', 'e', 'progress', 'd', ARGV[2])\n"
    "return a\n";

/* fenced event: only while the attempt is ours and the job is not cancelled */
static const char k_event_lua[] =
    "if redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[1] then return -1 end\n"
    "if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end\n"
    "redis.call('XADD', KEYS[2], '*', 'e', ARGV[2], 'd', ARGV[3])\n"
    "if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'progress', ARGV[4]) end\n"
    "return 1\n";

/* fenced result: stored once (SET NX), with the final status and event */
static const char k_finish_lua[] =
    "if redis.call('HGET', KEYS[1], 'attempt') ~= ARGV[1] then return -1 end\n"
    "if redis.call('HGET', KEYS[1], 'status') ~= 'running' then return 0 end\n"
    "if not redis.call('SET', KEYS[3], ARGV[4], 'NX', 'EX', ARGV[5]) then return 0 end\n"
    "redis.call('HSET', KEYS[1], 'status', ARGV[2], 'progress', ARGV[6])\n"
    "redis.call('XADD', KEYS[2], '*', 'e', ARGV[7], 'd', ARGV[3])\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[5])\n"
    "redis.call('EXPIRE', KEYS[2], ARGV[5])\n"
    "redis.call('DEL', KEYS[4])\n"
    "return 1\n";

static redis_store *store_of(job *j)
{
    return (redis_store *)j->store;
}

static void w_retain(void *owner)
{
    job__ref(owner);
}

static void w_release(void *owner)
{
    job_unref(owner);
}

/* A fenced event of the running attempt. */
static void w_event(job *j, const char *name, char *data, int progress)
{
    redis_store *s = store_of(j);
    rjob *rj = j->backend;
    char kh[80], ke[80], att[24], prog[16] = "";
    jr__key(kh, sizeof kh, j->id, "");
    jr__key(ke, sizeof ke, j->id, ":ev");
    snprintf(att, sizeof att, "%lld", rj->attempt);
    if (progress >= 0)
        snprintf(prog, sizeof prog, "%d", progress);
    redisReply *r = jr__cmdv(&s->cmd, 0, "EVAL", k_event_lua, "2", kh, ke, att, name,
                         data ? data : "{}", prog, NULL);
    if (r)
        freeReplyObject(r);
    free(data);
}

static void w_progress(int percent, void *owner)
{
    job *j = owner;
    rjob *rj = j->backend;
    if (percent == rj->last_progress)
        return;
    rj->last_progress = percent;
    pthread_mutex_lock(&j->mu);
    j->status = JOB_RUNNING;
    j->progress = percent;
    char *d = jr__dumps(job__status_object(j));
    pthread_mutex_unlock(&j->mu);
    w_event(j, "progress", d, percent);
}

static void w_segment(const pipeline_segment *seg, void *owner)
{
    job *j = owner;
    char *d = jr__dumps(json_pack("{s:s, s:i, s:f, s:f, s:s}", "id", j->id, "index", seg->index, "start",
                              seg->t0_s, "end", seg->t1_s, "text", seg->text ? seg->text : ""));
    w_event(j, "segment", d, -1);
}

static bool w_should_stop(void *owner)
{
    job *j = owner;
    if (!atomic_load(&j->work.srv->grace_over) && !atomic_load(&j->store->closing))
        return false;
    work_cancel(&j->work, 503, "shutting_down", "the server is shutting down");
    return true;
}

static void unlist_running(redis_store *s, job *j)
{
    bool found = false;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n_run; i++)
        if (s->run[i] == j) {
            s->run[i] = s->run[--s->n_run];
            found = true;
            break;
        }
    pthread_mutex_unlock(&s->mu);
    if (found)
        job_unref(j);
}

static void w_finished(void *owner, pipeline_result *res)
{
    job *j = owner;
    redis_store *s = store_of(j);
    rjob *rj = j->backend;
    bool shutdown = res->http_status == 503 && strcmp(res->error_code, "shutting_down") == 0;
    if (shutdown) {
        /* stored nothing, acknowledged nothing: another replica takes it over */
        MDC_LOG_INFO("job %s: left for another replica (shutting down)", j->id);
        unlist_running(s, j);
        return;
    }
    bool cancelled = strcmp(res->error_code, "cancelled") == 0;
    json_t *r = json_pack("{s:i, s:s, s:s, s:f, s:f, s:s}", "http_status", res->http_status,
                          "error_code", res->error_code, "error_message", res->error_message,
                          "audio_seconds", res->audio_seconds, "processing_seconds",
                          res->processing_seconds, "language", res->language);
    if (r && res->body)
        json_object_set_new(r, "body", json_stringn(res->body, res->body_len ? res->body_len : strlen(res->body)));
    if (r && res->segments_json)
        json_object_set_new(r, "segments_json", json_string(res->segments_json));
    char *rtxt = jr__dumps(r);
    pthread_mutex_lock(&j->mu);
    j->result = *res; /* for the event's JSON; moved back below */
    j->status = res->http_status == 200 ? JOB_DONE : JOB_FAILED;
    if (j->status == JOB_DONE)
        j->progress = 100;
    char *ev = jr__dumps(job__status_object(j));
    const char *name = j->status == JOB_DONE ? "done" : "error";
    const char *st = job_status_name(j->status);
    int prog = j->progress;
    memset(&j->result, 0, sizeof j->result);
    pthread_mutex_unlock(&j->mu);
    char kh[80], ke[80], kr[80], ku[80], att[24], ttl[24], progs[16];
    jr__key(kh, sizeof kh, j->id, "");
    jr__key(ke, sizeof ke, j->id, ":ev");
    jr__key(kr, sizeof kr, j->id, ":res");
    jr__key(ku, sizeof ku, j->id, ":up");
    snprintf(att, sizeof att, "%lld", rj->attempt);
    snprintf(ttl, sizeof ttl, "%d", j->store->ttl_seconds);
    snprintf(progs, sizeof progs, "%d", prog);
    long long stored = -2;
    if (rtxt && ev) {
        redisReply *x = jr__cmdv(&s->cmd, 0, "EVAL", k_finish_lua, "4", kh, ke, kr, ku, att, st, ev,
                             rtxt, ttl, progs, name, NULL);
        if (jr__ok_reply(x, "finish"))
            stored = x->integer;
        if (x)
            freeReplyObject(x);
    }
    free(rtxt);
    free(ev);
    /* our attempt is over unless another replica took the job (-1) or Redis failed (-2:
     * left pending, so it is re-run once Redis is back) */
    if (stored >= 0) {
        redisReply *a = jr__cmdv(&s->cmd, 0, "XACK", "mdc:queue", "workers", rj->entry, NULL);
        if (a)
            freeReplyObject(a);
    }
    MDC_LOG_INFO("job %s attempt %lld: %s", j->id, rj->attempt,
                 stored == 1 ? (cancelled ? "cancelled" : "result stored")
                 : stored == 0 ? "not stored (cancelled or already stored)"
                 : stored == -1 ? "not stored (taken over by another replica)"
                                : "not stored (Redis unavailable; left pending)");
    unlist_running(s, j);
}

static const work_hooks k_worker_hooks = {
    .retain = w_retain,
    .release = w_release,
    .progress = w_progress,
    .segment = w_segment,
    .should_stop = w_should_stop,
    .finished = w_finished,
};

/* Writes the upload into a private temp file; returns its malloc'd path or NULL. */
static char *spool(const char *dir, const char *data, size_t len)
{
    char *path = NULL;
    if (asprintf(&path, "%s/mdc-job-XXXXXX", dir && *dir ? dir : "/tmp") < 0)
        return NULL;
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) {
        MDC_LOG_ERROR("cannot create a temp file in %s: %s", dir, strerror(errno));
        free(path);
        return NULL;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    close(fd);
    if (off != len) {
        unlink(path);
        free(path);
        return NULL;
    }
    return path;
}

/* Takes queue entry `entry` naming job `id` and hands it to a worker. */
static void take(redis_store *s, const char *entry, const char *id, bool reclaimed)
{
    rds_conn *c = &s->claim;
    char kh[80], ke[80], ku[80];
    jr__key(kh, sizeof kh, id, "");
    jr__key(ke, sizeof ke, id, ":ev");
    jr__key(ku, sizeof ku, id, ":up");
    redisReply *h = jr__cmdv(c, 0, "HGETALL", kh, NULL);
    if (!jr__ok_reply(h, "HGETALL")) {
        if (h)
            freeReplyObject(h);
        return; /* stays pending; taken again later */
    }
    json_t *o = jr__hash_object(h);
    freeReplyObject(h);
    job *j = json_object_size(o) ? job__new(&s->base, s->srv, id) : NULL;
    rjob *rj = j ? calloc(1, sizeof *rj) : NULL;
    if (!rj) {
        json_decref(o);
        job_unref(j);
        redisReply *a = jr__cmdv(c, 0, "XACK", "mdc:queue", "workers", entry, NULL); /* gone */
        if (a)
            freeReplyObject(a);
        return;
    }
    j->backend = rj;
    j->backend_free = jr__rjob_free;
    rj->fields = o;
    rj->last_progress = -1;
    snprintf(rj->entry, sizeof rj->entry, "%s", entry);
    j->work.hooks = &k_worker_hooks;
    const char *v;
    if ((v = jr__field(o, "seq")))
        j->seq = strtoull(v, NULL, 10);
    if ((v = jr__field(o, "created_at")))
        j->created_wall_s = strtod(v, NULL);
    j->status = JOB_RUNNING;
    pthread_mutex_lock(&j->mu);
    char *ev = jr__dumps(job__status_object(j));
    pthread_mutex_unlock(&j->mu);
    redisReply *t = jr__cmdv(c, 0, "EVAL", k_take_lua, "2", kh, ke, s->consumer, ev ? ev : "{}", NULL);
    free(ev);
    long long attempt = jr__ok_reply(t, "take") && t->type == REDIS_REPLY_INTEGER ? t->integer : -2;
    if (t)
        freeReplyObject(t);
    if (attempt <= 0) {
        if (attempt != -2) { /* finished, cancelled or gone: nothing to run */
            redisReply *a = jr__cmdv(c, 0, "XACK", "mdc:queue", "workers", entry, NULL);
            if (a)
                freeReplyObject(a);
        }
        job_unref(j);
        return;
    }
    rj->attempt = attempt;
    svc_metrics *m = &s->srv->metrics;
    if (m->job_claims_total)
        met_inc(m->job_claims_total, NULL, 1);
    if (attempt > 1 && m->job_reruns_total)
        met_inc(m->job_reruns_total, NULL, 1);
    MDC_LOG_INFO("job %s: taken (attempt %lld%s)", id, attempt, reclaimed ? ", from a silent replica" : "");
    redisReply *up = jr__cmdv(c, 0, "GET", ku, NULL);
    const svc_config *cfg = s->srv->cfg;
    char *path = up && up->type == REDIS_REPLY_STRING ? spool(cfg->tmp_dir, up->str, up->len) : NULL;
    if (up)
        freeReplyObject(up);
    /* the request, as the API replica validated it; strings point into rj->fields */
    pipeline_request *p = &j->work.preq;
    memset(p, 0, sizeof *p);
    p->audio_path = path;
    p->source_name = jr__field(o, "src");
    const char *lang = jr__field(o, "lang");
    p->language = lang && *lang ? lang : NULL;
    p->no_fallback = (v = jr__field(o, "nofb")) && v[0] == '1';
    p->beam_size = (v = jr__field(o, "beam")) ? (int)strtol(v, NULL, 10) : 0;
    if (p->beam_size < 0 || p->beam_size > PIPELINE_MAX_BEAMS)
        p->beam_size = 0; /* not written by an API replica of ours */
    p->seed = (v = jr__field(o, "seed")) ? (uint32_t)strtoul(v, NULL, 10) : 0;
    p->temperature = -1;
    p->n_threads = cfg->threads;
    p->mel_clamp = (wsp_mel_clamp)cfg->mel_clamp;
    p->limits.max_seconds = cfg->max_audio_seconds;
    p->limits.max_bytes = cfg->max_upload_bytes;
    p->format = RPT_FORMAT_MARKDOWN;
    p->meta.processing_s = -1;
    p->meta.source_name = p->source_name;
    p->meta.locale = (v = jr__field(o, "loc")) ? (rpt_locale)strtol(v, NULL, 10) : cfg->report_locale;
    p->meta.title = jr__field(o, "title");
    p->meta.date = jr__field(o, "date");
    p->meta.participants = jr__field(o, "part");
    if ((v = jr__field(o, "spk"))) {
        char *end = NULL;
        p->diarize = strtol(v, &end, 10) == 1;
        const long turns = end && *end == ',' ? strtol(end + 1, NULL, 10) : 0;
        p->speaker_turns = turns >= PIPELINE_TURNS_AUTO && turns <= PIPELINE_TURNS_AUDIO
                               ? (pipeline_turns)turns : PIPELINE_TURNS_AUTO;
    }
    p->dtw = (v = jr__field(o, "dtw")) ? (int)strtol(v, NULL, 10) : PIPELINE_DTW_OFF;
    /* voice activity as the API replica decided it (a record without the field — an older
     * replica — or with rules that no longer validate runs without VAD, logged) */
    if ((v = jr__field(o, "vad")) && v[0] == '1') {
        vad_params vp = vad_default_params();
        int on = 0;
        if (sscanf(v, "%d,%g,%d,%d,%g,%d,%g", &on, &vp.threshold, &vp.min_speech_duration_ms,
                   &vp.min_silence_duration_ms, &vp.max_speech_duration_s, &vp.speech_pad_ms,
                   &vp.samples_overlap) == 7 &&
            vad_params_validate(&vp, NULL) == 0 && s->srv->vad_holder) {
            p->vad = true;
            p->vad_params = vp;
            p->vad_holder = s->srv->vad_holder;
        } else {
            MDC_LOG_WARN("job %s: VAD requested but not available on this replica (%s)", id,
                         s->srv->vad_holder ? "bad rules" : "no VAD model");
        }
    }
    j->want_json = (v = jr__field(o, "want_json")) && v[0] == '1';
    j->work.audio_tmp = path;
    pthread_mutex_lock(&s->mu);
    if (s->n_run == s->cap_run) {
        int cap = s->cap_run ? 2 * s->cap_run : 8;
        job **nr = realloc(s->run, (size_t)cap * sizeof *nr);
        if (nr) {
            s->run = nr;
            s->cap_run = cap;
        }
    }
    bool listed = s->n_run < s->cap_run;
    if (listed) {
        job__ref(j);
        s->run[s->n_run++] = j;
    }
    pthread_mutex_unlock(&s->mu);
    if (!path) {
        /* the upload is gone (expired) or could not be written: the job fails */
        pipeline_result res;
        memset(&res, 0, sizeof res);
        res.http_status = 500;
        snprintf(res.error_code, sizeof res.error_code, "internal_error");
        snprintf(res.error_message, sizeof res.error_message,
                 "the job's upload could not be read back from the job store");
        w_finished(j, &res);
        job_unref(j);
        return;
    }
    if (!listed || work_submit(&j->work) != 0) {
        /* no worker after all: it stays pending and is taken over after the idle time */
        MDC_LOG_WARN("job %s: no free worker after taking it; left pending", id);
        unlist_running(s, j);
    }
    job_unref(j);
}

/* Heartbeats the jobs this replica runs and stops the cancelled or lost ones. */
static void heartbeat(redis_store *s)
{
    job *mine[64];
    int n = 0;
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->n_run && n < 64; i++) {
        mine[n] = s->run[i];
        job__ref(mine[n++]);
    }
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < n; i++) {
        job *j = mine[i];
        rjob *rj = j->backend;
        redisReply *r = jr__cmdv(&s->claim, 0, "XCLAIM", "mdc:queue", "workers", s->consumer, "0",
                             rj->entry, "JUSTID", NULL);
        if (r)
            freeReplyObject(r);
        int st = r ? jr__hash_status(&s->claim, j->id) : -2;
        if (st == JOB_CANCELLED)
            work_cancel(&j->work, JOB_CANCELLED_HTTP_STATUS, "cancelled", "the job was cancelled");
        else if (st == -1)
            work_cancel(&j->work, 503, "job_lost", "the job's record is gone from the job store");
        job_unref(j);
    }
}

static bool free_worker(redis_store *s)
{
    wrk_pool *p = s->srv->pool;
    return !atomic_load(&s->srv->stopping) && wrk_running(p) + wrk_queued(p) < wrk_threads(p);
}

/* Parses one XREADGROUP/XAUTOCLAIM entry [id, [k, v…]] → entry id and job id. */
static bool entry_of(const redisReply *e, const char **eid, const char **jid)
{
    if (!e || e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[1]->type != REDIS_REPLY_ARRAY)
        return false;
    *eid = e->element[0]->str;
    const redisReply *kv = e->element[1];
    for (size_t k = 0; k + 1 < kv->elements; k += 2)
        if (strcmp(kv->element[k]->str, "id") == 0) {
            *jid = kv->element[k + 1]->str;
            return true;
        }
    return false;
}

static void ensure_group(redis_store *s)
{
    redisReply *r = jr__cmdv(&s->claim, 0, "XGROUP", "CREATE", "mdc:queue", "workers", "0", "MKSTREAM", NULL);
    if (r)
        freeReplyObject(r); /* BUSYGROUP (exists) is fine */
}

void *jr__claimer_main(void *arg)
{
    redis_store *s = arg;
    bool group_ok = false;
    double last_hb = 0, last_reclaim = 0;
    char idle[16], block[16];
    snprintf(idle, sizeof idle, "%d", s->claim_idle_ms);
    snprintf(block, sizeof block, "%d", RDS__BLOCK_MS);
    while (!atomic_load(&s->stop)) {
        double now = mdc_now_s();
        if (now - last_hb >= RDS__HEARTBEAT_S) {
            last_hb = now;
            heartbeat(s);
        }
        if (!group_ok) {
            ensure_group(s);
            group_ok = atomic_load(&s->claim.up);
            if (!group_ok) {
                struct timespec ts = {0, 200 * 1000000L};
                nanosleep(&ts, NULL);
                continue;
            }
        }
        if (!free_worker(s)) { /* poll: a worker frees within a transcription's end */
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        const char *eid = NULL, *jid = NULL;
        redisReply *r = NULL;
        bool reclaimed = false;
        if (now - last_reclaim >= 1.0) {
            last_reclaim = now;
            r = jr__cmdv(&s->claim, 0, "XAUTOCLAIM", "mdc:queue", "workers", s->consumer, idle, "0-0",
                     "COUNT", "1", NULL);
            /* [next-cursor, [entries], (deleted ids)] */
            if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
                r->element[1]->type == REDIS_REPLY_ARRAY && r->element[1]->elements > 0 &&
                entry_of(r->element[1]->element[0], &eid, &jid))
                reclaimed = true;
        }
        if (!reclaimed) {
            if (r)
                freeReplyObject(r);
            r = jr__cmdv(&s->claim, RDS__BLOCK_MS, "XREADGROUP", "GROUP", "workers", s->consumer, "COUNT",
                     "1", "BLOCK", block, "STREAMS", "mdc:queue", ">", NULL);
            if (!r || (r->type == REDIS_REPLY_ERROR && strstr(r->str, "NOGROUP")))
                group_ok = false; /* Redis restarted: the group is gone */
            /* [[stream, [entry]]] */
            if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
                r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2 &&
                r->element[0]->element[1]->elements > 0)
                entry_of(r->element[0]->element[1]->element[0], &eid, &jid);
        }
        if (eid && jid)
            take(s, eid, jid, reclaimed);
        if (r)
            freeReplyObject(r);
        if (!group_ok) {
            struct timespec ts = {0, 200 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}
