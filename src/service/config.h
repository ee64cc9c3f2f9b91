/*
 * config.h — service settings from the environment and ./.env (DESIGN §4).
 * Environment variables win over .env lines.  Every value is validated; a bad value
 * fails start-up with a message naming the variable.
 */
#ifndef MDC_SERVICE_CONFIG_H
#define MDC_SERVICE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct svc_config {
    char host[256];               /* HOST, default "0.0.0.0" */
    int port;                     /* PORT, default 8080 (0 = pick a free port, for tests) */
    char model[1024];             /* WHISPER_MODEL as given, default "base" */
    char models_dir[1024];        /* WHISPER_MODELS_DIR, default "models" */
    char model_path[2048];        /* resolved: a name → $WHISPER_MODELS_DIR/ggml-NAME.bin,
                                     anything with '/' or ending .bin → as given */
    bool preload;                 /* WHISPER_PRELOAD, default false */
    int idle_unload_seconds;      /* WHISPER_IDLE_UNLOAD_SECONDS, default 0 = never */
    int threads;                  /* WHISPER_THREADS, default: available cores */
    int max_concurrent;           /* MAX_CONCURRENT_TRANSCRIPTIONS, default 1 */
    int queue_length;             /* QUEUE_LENGTH, default 8 */
    uint64_t max_upload_bytes;    /* MAX_UPLOAD_MB, default 200 */
    double max_audio_seconds;     /* MAX_AUDIO_SECONDS, default 10800 (3 h) */
    int request_timeout_seconds;  /* REQUEST_TIMEOUT_SECONDS, default 3600 */
    char api_key[256];            /* API_KEY, default "" = no auth */
    char report_locale[16];       /* REPORT_LOCALE, default "pt-BR" */
    bool log_json;                /* LOG_FORMAT=json */
    char log_level[16];           /* LOG_LEVEL, default "info" */
    double load_delay_ms;         /* MDC_TEST_LOAD_DELAY_MS: slows model loads on purpose
                                     (tests of the load race); default 0 */
    int load_retry_backoff_ms;    /* WHISPER_LOAD_RETRY_MS, default 2000 */
    char tmp_dir[1024];           /* TMPDIR, default "/tmp" */
} svc_config;

/* Fills defaults, reads ./.env (if present; path from MDC_ENV_FILE), then the
 * environment, and validates.  Returns 0, or -1 with errmsg naming the variable. */
int svc_config_load(svc_config *cfg, char *errmsg, size_t errlen);

/* Resolves WHISPER_MODEL + dir to a file path (see model_path). */
void svc_config_resolve_model(const char *model, const char *models_dir, char *out, size_t outlen);

#endif
