/*
 * pipeline.h — one meeting recording → transcript → rendered output.  Used by the HTTP
 * handlers (on worker threads) and by `md-converter transcribe`.
 *
 * Steps: aud_decode_file() (limits enforced while decoding) → holder_acquire() →
 * wsp_transcribe() → rpt_render() → holder_release().  Errors come back as an HTTP
 * status + JSON error code + message (DESIGN §3), so the CLI and the server agree.
 */
#ifndef MDC_SERVICE_PIPELINE_H
#define MDC_SERVICE_PIPELINE_H

#include <stdbool.h>

#include "holder.h"
#include "mdc/audio.h"
#include "mdc/report.h"
#include "mdc/whisper.h"

typedef struct pipeline_request {
    const char *audio_path;       /* spooled upload or CLI file */
    const char *source_name;      /* sanitised display name (may be NULL) */
    const char *language;         /* NULL/"auto" = detect */
    bool translate;
    const char *prompt;           /* initial prompt, may be NULL */
    float temperature;            /* < 0 = engine default */
    int beam_size;                /* 0 = greedy */
    bool no_fallback;
    bool no_timestamps;
    int n_threads;
    aud_limits limits;
    rpt_format format;
    rpt_meta meta;                /* title, date, participants, locale (model filled in) */
    /* progress 0…100 (decode counts as the first 5 %), cancel polled throughout */
    void (*progress_cb)(int percent, void *user);
    bool (*abort_cb)(void *user);
    void *user;
} pipeline_request;

typedef struct pipeline_result {
    int http_status;              /* 200 on success */
    char error_code[48];          /* "unsupported_media", "model_unavailable", … */
    char error_message[640];
    char *body;                   /* rendered output (malloc'd) on success */
    size_t body_len;
    char *segments_json;          /* JSON array of {start,end,text} (malloc'd) */
    double audio_seconds;
    double processing_seconds;
    char language[8];
} pipeline_result;

/* Runs the pipeline.  Always fills *res (free with pipeline_result_free). */
void pipeline_run(model_holder *holder, const pipeline_request *req, pipeline_result *res);
void pipeline_result_free(pipeline_result *res);

/* Maps engine/audio error codes to {HTTP status, JSON code} (one table each). */
int pipeline_http_status_for_audio(int aud_code, const char **json_code);
int pipeline_http_status_for_whisper(int wsp_code, const char **json_code);

#endif
