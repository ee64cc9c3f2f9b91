/*
 * job_json.c — the JSON of jobs (jobs.h): status names, the status object of
 * GET /jobs/{id} and GET /jobs, and the SSE event payloads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs.h"

static const char *const k_status_names[JOB_N_STATUS] = {
    [JOB_QUEUED] = "queued",   [JOB_RUNNING] = "running",     [JOB_DONE] = "done",
    [JOB_FAILED] = "failed",   [JOB_CANCELLED] = "cancelled",
};

const char *job_status_name(job_status st)
{
    return (unsigned)st < JOB_N_STATUS ? k_status_names[st] : "unknown";
}

int job_status_parse(const char *name)
{
    for (int i = 0; i < JOB_N_STATUS; i++)
        if (strcmp(name, k_status_names[i]) == 0)
            return i;
    return -1;
}

json_t *job__status_object(const job *j)
{
    json_t *o = json_pack("{s:s, s:s, s:i}", "id", j->id, "status", job_status_name(j->status),
                          "progress", j->progress);
    if (!o)
        return NULL;
    json_object_set_new(o, "created_at", json_real(j->created_wall_s));
    if (j->status == JOB_DONE) {
        char url[64];
        snprintf(url, sizeof url, "/jobs/%s/result", j->id);
        json_object_set_new(o, "result_url", json_string(url));
        json_object_set_new(o, "audio_seconds", json_real(j->result.audio_seconds));
        json_object_set_new(o, "processing_seconds", json_real(j->result.processing_seconds));
        if (j->result.language[0])
            json_object_set_new(o, "language", json_string(j->result.language));
    } else if (j->status == JOB_FAILED || j->status == JOB_CANCELLED) {
        json_object_set_new(o, "http_status", json_integer(j->result.http_status));
        json_object_set_new(o, "error", json_pack("{s:s, s:s}", "code", j->result.error_code,
                                                  "message", j->result.error_message));
    }
    return o;
}

char *job_status_json(job *j)
{
    pthread_mutex_lock(&j->mu);
    json_t *o = job__status_object(j);
    pthread_mutex_unlock(&j->mu);
    if (!o)
        return NULL;
    char *txt = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return txt;
}

json_t *job__segment_object(const job *j, int i)
{
    const job__seg *g = &j->segs[i];
    return json_pack("{s:s, s:i, s:f, s:f, s:s}", "id", j->id, "index", i, "start", g->start_s,
                     "end", g->end_s, "text", g->text);
}

json_t *job__shutdown_object(const job *j)
{
    return json_pack("{s:s, s:s, s:i, s:{s:s, s:s}}", "id", j->id, "status", "failed",
                     "http_status", 503, "error", "code", "shutting_down", "message",
                     "the server is shutting down; the job was not finished");
}
