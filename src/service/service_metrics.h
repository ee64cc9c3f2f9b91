/*
 * service_metrics.h — the HTTP and transcription metric families of DESIGN §5 (the
 * model families are registered by the holder), plus the process families.
 *
 * Thread-safety: registration happens once before serving; the svc_metrics_* update
 * helpers are thread-safe (met_* updates are atomic).
 */
#ifndef MDC_SERVICE_METRICS_H
#define MDC_SERVICE_METRICS_H

#include <stdbool.h>

#include "mdc/metrics.h"

typedef struct svc_metrics {
    met_family *startup_seconds;       /* gauge: exec → listening, seconds */
    met_family *transcriptions_total;  /* counter {endpoint,status} */
    met_family *transcription_seconds; /* histogram: wall time per transcription */
    met_family *audio_seconds_total;   /* counter: audio transcribed, seconds */
    met_family *realtime_factor;       /* histogram: processing time / audio time */
    met_family *queue_depth;           /* gauge: tasks waiting for a worker */
    met_family *http_requests_total;   /* counter {path,code}: path = route pattern */
    met_family *decoder_windows_total; /* counter: 30 s windows the engine decoded */
    met_family *decoder_steps_total;   /* counter: decoder forward calls */
    met_family *vad_runs_total;        /* counter {speech}: VAD runs, "yes" / "no" speech */
    met_family *vad_speech_seconds_total; /* counter: seconds of speech the VAD kept */
    met_family *jobs;                  /* gauge {state}: jobs kept, by status */
    met_family *job_claims_total;      /* counter: jobs taken from Redis by this replica */
    met_family *job_reruns_total;      /* counter: of those, re-runs (attempt > 1) */
    met_family *redis_errors_total;    /* counter: failed Redis commands/connections */
    met_family *http_duration;         /* histogram {path}: request start → answer queued */
    met_family *workers;               /* gauge: worker pool size */
    met_family *workers_busy;          /* gauge: workers running a task */
    met_family *transcriptions_running; /* gauge: transcriptions holding the model */
    met_family *build_info;            /* gauge {version,commit} = 1 */
    met_family *mhd_messages_total;    /* counter: libmicrohttpd log messages (dropped
                                          connections, refused accepts …) */
} svc_metrics;

/* Registers every family into reg (and the process_* families through
 * met_register_process_metrics).  Returns 0, or -1 when a registration failed (the service still runs; the
 * failed families stay NULL and updates to them are skipped). */
int svc_metrics_register(met_registry *reg, svc_metrics *m);

/* Counts one HTTP answer and observes its latency: `seconds` from the request's arrival
 * to the answer being queued (for an SSE stream: to the stream opening).  path must be
 * a route pattern ("/jobs/{id}") or "unmatched", so the series stay bounded. */
void svc_metrics_http(const svc_metrics *m, const char *path, unsigned code, double seconds);

/* Sets the pool gauges (called at every /metrics render by the service's collect hook). */
void svc_metrics_workers(const svc_metrics *m, int pool_size, int busy, int transcribing);

/* Counts one finished transcription: status "ok" or the JSON error code. */
void svc_metrics_transcription(const svc_metrics *m, const char *endpoint, const char *status,
                               double processing_s, double audio_s);

/* Counts the engine work and VAD outcome of one finished transcription: windows and
 * steps as the engine reported them (0 when the decoder did not run). */
void svc_metrics_engine_work(const svc_metrics *m, int windows, int steps, bool vad_used,
                             double speech_s);

#endif
