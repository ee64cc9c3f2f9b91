/*
 * service_metrics.c — registration and update helpers for the service's metrics.
 */
#include "service_metrics.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "mdc/version.h"

/* Transcription wall times: a second for short clips to an hour for long meetings. */
static const double k_seconds_buckets[] = {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};
/* HTTP latency: /health answers in microseconds, uploads wait for a transcription (up
 * to REQUEST_TIMEOUT_SECONDS). */
static const double k_http_buckets[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1,
                                        5,     10,    30,   60,   300, 900, 3600};
/* Real-time factor: processing seconds per audio second. */
static const double k_rtf_buckets[] = {0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5, 10};

int svc_metrics_register(met_registry *reg, svc_metrics *m)
{
    static const char *const ep_labels[] = {"endpoint", "status", NULL};
    static const char *const http_labels[] = {"path", "code", NULL};
    memset(m, 0, sizeof *m);
    if (!reg)
        return -1;
    m->startup_seconds = met_register(reg, MET_GAUGE, "mdconv_startup_seconds",
                                      "Seconds from exec to the listener accepting connections.",
                                      NULL, NULL, 0);
    m->transcriptions_total = met_register(reg, MET_COUNTER, "mdconv_transcriptions_total",
                                           "Transcriptions finished, by endpoint and status.",
                                           ep_labels, NULL, 0);
    m->transcription_seconds = met_register(
        reg, MET_HISTOGRAM, "mdconv_transcription_seconds",
        "Wall time of a transcription (decode, model acquire, inference, render).", NULL,
        k_seconds_buckets, sizeof k_seconds_buckets / sizeof k_seconds_buckets[0]);
    m->audio_seconds_total = met_register(reg, MET_COUNTER, "mdconv_audio_seconds_total",
                                          "Seconds of audio transcribed.", NULL, NULL, 0);
    m->realtime_factor = met_register(reg, MET_HISTOGRAM, "mdconv_realtime_factor",
                                      "Processing seconds per second of audio.", NULL,
                                      k_rtf_buckets, sizeof k_rtf_buckets / sizeof k_rtf_buckets[0]);
    m->queue_depth = met_register(reg, MET_GAUGE, "mdconv_queue_depth",
                                  "Transcriptions waiting for a worker.", NULL, NULL, 0);
    m->http_requests_total = met_register(reg, MET_COUNTER, "mdconv_http_requests_total",
                                          "HTTP responses by route pattern and status code.",
                                          http_labels, NULL, 0);
    static const char *const vad_labels[] = {"speech", NULL};
    m->decoder_windows_total = met_register(
        reg, MET_COUNTER, "mdconv_decoder_windows_total",
        "30-second windows the Whisper engine decoded (0 for a recording the VAD found silent).",
        NULL, NULL, 0);
    m->decoder_steps_total = met_register(reg, MET_COUNTER, "mdconv_decoder_steps_total",
                                          "Decoder forward calls of the Whisper engine.", NULL,
                                          NULL, 0);
    m->vad_runs_total = met_register(reg, MET_COUNTER, "mdconv_vad_runs_total",
                                     "Voice-activity detections run, by whether speech was found.",
                                     vad_labels, NULL, 0);
    m->vad_speech_seconds_total = met_register(reg, MET_COUNTER, "mdconv_vad_speech_seconds_total",
                                               "Seconds of speech the VAD kept for the engine.",
                                               NULL, NULL, 0);
    if (m->vad_runs_total) {
        const char *yes[] = {"yes"}, *no[] = {"no"};
        met_inc(m->vad_runs_total, yes, 0);
        met_inc(m->vad_runs_total, no, 0);
    }
    static const char *const state_labels[] = {"state", NULL};
    m->jobs = met_register(reg, MET_GAUGE, "mdconv_jobs", "Jobs kept, by state.", state_labels,
                           NULL, 0);
    m->job_claims_total = met_register(reg, MET_COUNTER, "mdconv_job_claims_total",
                                       "Jobs this replica took from Redis to run.", NULL, NULL, 0);
    m->job_reruns_total = met_register(reg, MET_COUNTER, "mdconv_job_reruns_total",
                                       "Jobs this replica took over and re-ran after another "
                                       "replica stopped heartbeating.", NULL, NULL, 0);
    m->redis_errors_total = met_register(reg, MET_COUNTER, "mdconv_redis_errors_total",
                                         "Failed Redis connections and commands.", NULL, NULL, 0);
    static const char *const path_label[] = {"path", NULL};
    static const char *const build_labels[] = {"version", "commit", NULL};
    m->http_duration = met_register(
        reg, MET_HISTOGRAM, "mdconv_http_request_duration_seconds",
        "Seconds from a request's arrival to its answer being queued, by route pattern.",
        path_label, k_http_buckets, sizeof k_http_buckets / sizeof k_http_buckets[0]);
    m->workers = met_register(reg, MET_GAUGE, "mdconv_workers",
                              "Transcription workers (MAX_CONCURRENT_TRANSCRIPTIONS).", NULL,
                              NULL, 0);
    m->workers_busy = met_register(reg, MET_GAUGE, "mdconv_workers_busy",
                                   "Workers running a task (decode, transcription, render).",
                                   NULL, NULL, 0);
    m->transcriptions_running = met_register(
        reg, MET_GAUGE, "mdconv_transcriptions_running",
        "Transcriptions holding the model right now (inference running).", NULL, NULL, 0);
    m->build_info = met_register(reg, MET_GAUGE, "mdconv_build_info",
                                 "Always 1; the labels say which build is running.",
                                 build_labels, NULL, 0);
    if (m->build_info) {
        const char *lv[] = {MDC_VERSION, MDC_COMMIT};
        met_set(m->build_info, lv, 1);
    }
    svc_metrics_workers(m, 0, 0, 0);
    m->mhd_messages_total = met_register(
        reg, MET_COUNTER, "mdconv_http_server_messages_total",
        "Messages of the HTTP library (a connection it dropped, an accept it refused); "
        "logged as at most one line per 10 s.",
        NULL, NULL, 0);
    if (m->mhd_messages_total)
        met_inc(m->mhd_messages_total, NULL, 0);
    int proc = met_register_process_metrics(reg);
    if (m->queue_depth)
        met_set(m->queue_depth, NULL, 0);
    bool ok = m->startup_seconds && m->transcriptions_total && m->transcription_seconds &&
              m->audio_seconds_total && m->realtime_factor && m->queue_depth &&
              m->http_requests_total && m->decoder_windows_total && m->decoder_steps_total &&
              m->vad_runs_total && m->vad_speech_seconds_total && m->http_duration &&
              m->workers && m->workers_busy && m->transcriptions_running && m->build_info &&
              m->mhd_messages_total && m->jobs && m->job_claims_total && m->job_reruns_total &&
              m->redis_errors_total && proc == 0;
    return ok ? 0 : -1;
}

void svc_metrics_http(const svc_metrics *m, const char *path, unsigned code, double seconds)
{
    if (m->http_requests_total) {
        char codebuf[8];
        snprintf(codebuf, sizeof codebuf, "%u", code);
        const char *lv[] = {path, codebuf};
        met_inc(m->http_requests_total, lv, 1);
    }
    if (m->http_duration) {
        const char *lv[] = {path};
        met_observe(m->http_duration, lv, seconds >= 0 ? seconds : 0);
    }
}

void svc_metrics_workers(const svc_metrics *m, int pool_size, int busy, int transcribing)
{
    if (m->workers)
        met_set(m->workers, NULL, pool_size);
    if (m->workers_busy)
        met_set(m->workers_busy, NULL, busy);
    if (m->transcriptions_running)
        met_set(m->transcriptions_running, NULL, transcribing);
}

void svc_metrics_transcription(const svc_metrics *m, const char *endpoint, const char *status,
                               double processing_s, double audio_s)
{
    const char *lv[] = {endpoint ? endpoint : "unknown", status};
    if (m->transcriptions_total)
        met_inc(m->transcriptions_total, lv, 1);
    if (strcmp(status, "ok") != 0)
        return;
    if (m->transcription_seconds)
        met_observe(m->transcription_seconds, NULL, processing_s);
    if (m->audio_seconds_total && audio_s > 0)
        met_inc(m->audio_seconds_total, NULL, audio_s);
    if (m->realtime_factor && audio_s > 0)
        met_observe(m->realtime_factor, NULL, processing_s / audio_s);
}

void svc_metrics_engine_work(const svc_metrics *m, int windows, int steps, bool vad_used,
                             double speech_s)
{
    if (m->decoder_windows_total && windows > 0)
        met_inc(m->decoder_windows_total, NULL, windows);
    if (m->decoder_steps_total && steps > 0)
        met_inc(m->decoder_steps_total, NULL, steps);
    if (!vad_used)
        return;
    const char *lv[] = {speech_s > 0 ? "yes" : "no"};
    if (m->vad_runs_total)
        met_inc(m->vad_runs_total, lv, 1);
    if (m->vad_speech_seconds_total && speech_s > 0)
        met_inc(m->vad_speech_seconds_total, NULL, speech_s);
}
