/*
 * jobs_redis_internal.h — what the two halves of the Redis job store share: the store
 * (jobs_redis.c: the job_store_ops, the API side and the event poller) and the worker
 * side (jobs_redis_worker.c: the claimer thread, heartbeats, the fenced writes of a
 * run).  Keys, scripts and the design are described at the top of jobs_redis.c.
 * Not thread-safe by itself: see each struct's lock notes.
 */
#ifndef MDC_SERVICE_JOBS_REDIS_INTERNAL_H
#define MDC_SERVICE_JOBS_REDIS_INTERNAL_H

#include <jansson.h>

#include "jobs.h"
#include "rds.h"
#include "routes.h"

#define RDS__TIMEOUT_MS 1000
#define RDS__BLOCK_MS 300        /* XREAD/XREADGROUP block, so threads see `stop` soon */
#define RDS__HEARTBEAT_S 0.5
#define RDS__LOST_CHECK_S 1.0
#define RDS__PING_S 1.0          /* the poller's reachability PING (/ready) */
#define RDS__MAX_FOLLOW 256
#define RDS__SCAN_PAGE 100

typedef struct follow {
    job *j;
    char last[48];               /* last event id read */
} follow;

typedef struct redis_store {
    job_store base;              /* first: the front casts between the two */
    svc_server *srv;
    rds_conn cmd, claim, poll;
    atomic_ulong errors;
    unsigned long errors_reported;
    char consumer[96];
    bool runs_jobs, takes_uploads;
    int keep_s, claim_idle_ms;
    pthread_t claimer, poller;
    bool claimer_started, poller_started;
    atomic_bool stop;
    atomic_bool reachable;       /* the poller's last PING got through (/ready) */
    double last_ping_s;          /* poller thread only (and start-up) */
    pthread_mutex_t mu;          /* guards fol[] and run[] */
    follow fol[RDS__MAX_FOLLOW];
    int n_fol;
    job **run;                   /* jobs this replica runs [n_run] */
    int n_run, cap_run;
    double last_count_s;
} redis_store;

/* Backend data of a job object. */
typedef struct rjob {
    char last[48];               /* snapshot: last event id folded in */
    /* worker side */
    long long attempt;
    char entry[48];              /* its entry in mdc:queue */
    json_t *fields;              /* the hash, whose strings preq points into */
    int last_progress;
} rjob;

/* ---- helpers (jobs_redis.c) ---------------------------------------------------- */

/* "mdc:job:ID" + suffix into out[n]. */
void jr__key(char *out, size_t n, const char *id, const char *suffix);
/* A command of NUL-terminated string arguments, NULL-terminated; block_ms > 0 for
 * blocking reads.  NULL when Redis cannot be reached. */
redisReply *jr__cmdv(rds_conn *c, int block_ms, const char *a0, ...);
/* True when the reply exists and is not an error (an error reply is logged). */
bool jr__ok_reply(redisReply *r, const char *what);
bool jr__finished_status(job_status st);
/* A hash reply (flat array) as a JSON object of strings (new reference). */
json_t *jr__hash_object(const redisReply *r);
/* The string field `name` of o, or NULL. */
const char *jr__field(json_t *o, const char *name);
/* json_dumps (compact) that steals o; NULL on OOM. */
char *jr__dumps(json_t *o);
/* The status of job id from its hash: a job_status, -1 when gone, -2 on error. */
int jr__hash_status(rds_conn *c, const char *id);
/* job->backend_free for rjob. */
void jr__rjob_free(void *p);
/* Ends the local job's streams with an error of ours (Redis gone, record gone). */
void jr__fail_local(job *j, int status, const char *code, const char *msg);

/* The claimer thread (jobs_redis_worker.c); arg is the redis_store. */
void *jr__claimer_main(void *arg);

#endif
