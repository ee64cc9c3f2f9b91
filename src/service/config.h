/*
 * config.h — service settings from the environment and ./.env (DESIGN §4), one row per
 * setting in the table of config.c (used by `serve` and the CLI alike; .env.example and
 * README's settings table are generated from it).
 * Environment variables win over .env lines.  Every value is validated; a bad value
 * fails start-up with a message naming the variable, its value, where it came from and
 * the accepted values.  Unknown WHISPER_* / MDC_* names (typos such as WHISPER_PRELAOD)
 * fail too, except the test harness's MDC_SHARED_DIR, MDC_BUILD_DIR, MDC_MODELS_DIR,
 * MDC_SANITIZE, any MDC_TEST_*, and Kubernetes service-link names (*_SERVICE_HOST,
 * *_SERVICE_PORT*, *_PORT, *_PORT_*).
 *
 * .env syntax: KEY=VALUE lines; blank lines and # comments; an optional `export `
 * prefix; values bare (trailing spaces and " # comment" dropped), "double quoted"
 * (\" \\ \n \t escapes) or 'single quoted' (literal).  A later line wins.
 *
 * Thread-safety: svc_config_load reads the process environment; call it from main()
 * before starting threads.  The other functions are pure.
 */
#ifndef MDC_SERVICE_CONFIG_H
#define MDC_SERVICE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stdio.h>

#include "mdc/log.h"
#include "mdc/report.h"
#include "mdc/vad.h"

/* WHISPER_VAD (the SET_CHOICE index of "auto|true|false"). */
enum { SVC_VAD_AUTO = 0, SVC_VAD_TRUE = 1, SVC_VAD_FALSE = 2 };

typedef struct svc_config {
    char host[256];               /* HOST */
    int port;                     /* PORT (0 = pick a free port, for tests) */
    char model[1024];             /* WHISPER_MODEL as given */
    char models_dir[1024];        /* WHISPER_MODELS_DIR */
    char model_path[2048];        /* resolved: a name → $WHISPER_MODELS_DIR/ggml-NAME.bin,
                                     anything with '/' or ending .bin → as given */
    bool preload;                 /* WHISPER_PRELOAD */
    int idle_unload_seconds;      /* WHISPER_IDLE_UNLOAD_SECONDS, 0 = never */
    int threads;                  /* WHISPER_THREADS per transcription (0 in the text →
                                     cores / MAX_CONCURRENT_TRANSCRIPTIONS, at least 1) */
    bool allow_oversubscribe;     /* WHISPER_ALLOW_OVERSUBSCRIBE */
    bool decode_batching;         /* WHISPER_DECODE_BATCHING (wsp_engine_set_batching) */
    int mel_clamp;                /* WHISPER_MEL_CLAMP: a wsp_mel_clamp (choice index 0 global,
                                     1 running) */
    int max_concurrent;           /* MAX_CONCURRENT_TRANSCRIPTIONS */
    int queue_length;             /* QUEUE_LENGTH */
    uint64_t max_upload_bytes;    /* MAX_UPLOAD_MB × 2^20 */
    double max_audio_seconds;     /* MAX_AUDIO_SECONDS */
    int request_timeout_seconds;  /* REQUEST_TIMEOUT_SECONDS */
    char api_key[256];            /* API_KEY, "" = no auth */
    rpt_locale report_locale;     /* REPORT_LOCALE */
    bool log_json;                /* LOG_FORMAT=json */
    mdc_log_level log_level;      /* LOG_LEVEL */
    double load_delay_ms;         /* MDC_TEST_LOAD_DELAY_MS: slows model loads on purpose
                                     (tests of the load race) */
    int load_retry_backoff_ms;    /* WHISPER_LOAD_RETRY_MS */
    char tmp_dir[1024];           /* TMPDIR */
    int jobs_ttl_seconds;         /* JOBS_TTL_SECONDS: finished jobs are kept this long */
    int jobs_max;                 /* JOBS_MAX: jobs kept at once */
    int shutdown_grace_seconds;   /* SHUTDOWN_GRACE_SECONDS: drain before aborting */
    char jobs_redis_url[1024];    /* JOBS_REDIS_URL, "" = jobs in this process */
    int jobs_role;                /* JOBS_ROLE: SVC_ROLE_* */
    int jobs_claim_after_seconds; /* JOBS_CLAIM_AFTER_SECONDS: a job without heartbeat
                                     this long is taken by another replica */
    int headers_timeout_s;        /* HEADERS_TIMEOUT_SECONDS: headers complete within this */
    int upload_min_bps;           /* UPLOAD_MIN_BYTES_PER_SECOND: body rate floor (0 = none) */
    int max_conns_per_address;    /* MAX_CONNECTIONS_PER_ADDRESS (0 = no cap) */
    int health_port;              /* HEALTH_PORT: second listener for probes (0 = none) */
    char web_dir[1024];           /* WEB_DIR, "" = look next to the binary */
    char env_file[1024];          /* MDC_ENV_FILE, "" = ./.env if present */
    char cors_allow_origins[1024];/* CORS_ALLOW_ORIGINS: "" = CORS off, "*" = any origin, or
                                     "https://a.example,http://localhost:5173" (normalised:
                                     no spaces, no trailing '/') */
    char dtw[32];                 /* WHISPER_DTW: "off", "auto" or an alignment-head preset
                                     name (pipeline_dtw_parse) */
    int vad_mode;                 /* WHISPER_VAD: SVC_VAD_AUTO|TRUE|FALSE */
    char vad_model[1024];         /* WHISPER_VAD_MODEL as given, "" = none */
    char vad_model_path[2048];    /* resolved like model_path; "" when vad_model is "" */
    double vad_threshold;         /* WHISPER_VAD_THRESHOLD */
    int vad_min_speech_ms;        /* WHISPER_VAD_MIN_SPEECH_MS */
    int vad_min_silence_ms;       /* WHISPER_VAD_MIN_SILENCE_MS */
    int vad_speech_pad_ms;        /* WHISPER_VAD_SPEECH_PAD_MS */
    double vad_max_speech_s;      /* WHISPER_VAD_MAX_SPEECH_S, 0 = no limit */
} svc_config;

enum { SVC_ROLE_API = 0, SVC_ROLE_WORKER = 1, SVC_ROLE_BOTH = 2 }; /* JOBS_ROLE */

/* The settings table (config.c): one row per variable.  Defaults, validation, unknown-
 * name detection, `.env` reading, .env.example and README's settings table all come
 * from it.  A row as documentation: */
typedef struct svc_setting_doc {
    const char *name;     /* "PORT" */
    const char *section;  /* heading it belongs under in .env.example ("HTTP", …) */
    const char *def;      /* default as text, parsed like any value ("" = empty) */
    const char *allowed;  /* accepted values in words where the type does not say it
                             ("host name or IP address"); NULL = derived from the type and
                             bounds (svc_settings_write_* spell it out) */
    const char *doc;      /* what it does, one paragraph */
} svc_setting_doc;

/* Number of rows, and row i (0-based, NULL past the end) of the table.  Static storage. */
size_t svc_settings_count(void);
const svc_setting_doc *svc_setting_at(size_t i);

/* Writes .env.example (every setting with its doc comment and default) to f. */
void svc_settings_write_env_example(FILE *f);
/* Writes README's settings table (Markdown: variable | default | accepted | meaning). */
void svc_settings_write_markdown(FILE *f);

/* The current value of setting `name` as text, in the form the table accepts ("true",
 * "pt-BR", MAX_UPLOAD_MB in MiB, WHISPER_THREADS as the resolved count).  Returns 0, or -1 for an unknown name. */
int svc_config_get(const svc_config *cfg, const char *name, char *buf, size_t len);

/* Fills defaults, reads ./.env (if present; path from MDC_ENV_FILE, which must then
 * exist), then the environment, and validates.  Returns 0, or -1 with errmsg naming the
 * variable, e.g. `invalid PORT="abc" (environment): expected an integer from 0 to
 * 65535`.  After a failure *cfg holds defaults plus the values parsed before the error. */
int svc_config_load(svc_config *cfg, char *errmsg, size_t errlen);

/* Every field set to its default (model_path resolved).  No I/O. */
void svc_config_defaults(svc_config *cfg);

/* Sets one setting from text through its row of the table (the CLI's -m, -t and --locale
 * use it), re-resolving model_path.  `where` names the source for the message ("-m",
 * "environment", ".env:3").  Returns 0, or -1 with errmsg as for svc_config_load; an
 * unknown name fails too. */
int svc_config_set(svc_config *cfg, const char *name, const char *value, const char *where,
                   char *errmsg, size_t errlen);

/* Resolves WHISPER_MODEL + dir to a file path (see model_path): a path (contains '/' or
 * ends in .bin) is copied as given; a name becomes DIR/ggml-NAME.bin. */
void svc_config_resolve_model(const char *model, const char *models_dir, char *out, size_t outlen);
/* True when WHISPER_MODEL is a path rather than a name. */
bool svc_config_model_is_path(const char *model);
/* True for tiny|base|small|medium|large-v1|large-v2|large-v3|large-v3-turbo, optionally
 * .en (tiny…medium) and -q4_0|-q4_1|-q5_0|-q5_1|-q8_0. */
bool svc_config_model_name_valid(const char *name);
/* Label for metrics and logs: the model name, or the file name of a path.  Points into
 * cfg->model. */
const char *svc_config_model_label(const svc_config *cfg);
/* Context for load errors, for holder_options.context:
 * "WHISPER_MODEL=base, WHISPER_MODELS_DIR=/models" (or just WHISPER_MODEL=PATH). */
void svc_config_model_context(const svc_config *cfg, char *buf, size_t len);
/* Whether a request without a vad/chunking_strategy field uses the VAD: WHISPER_VAD=true,
 * or auto with WHISPER_VAD_MODEL set and its file present (checked at each call: stat). */
bool svc_config_vad_default_on(const svc_config *cfg);
/* The segment rules from the WHISPER_VAD_* settings (whisper.cpp's defaults otherwise). */
vad_params svc_config_vad_params(const svc_config *cfg);
/* Parses true|false|1|0|yes|no|on|off (case-insensitive); returns 0 or -1. */
int svc_config_parse_bool(const char *v, bool *out);
/* CPUs this process may run on (sched_getaffinity), at least 1. */
int svc_config_default_threads(void);

/* Threads each transcription gets: `threads` when > 0, else cores / max_concurrent (at
 * least 1).  Pure. */
int svc_config_threads_per_worker(int threads, int max_concurrent, int cores);

/* 0 when threads × max_concurrent <= cores or allow_oversubscribe; else -1 and a message
 * naming both settings and the way out (errmsg may be NULL).  svc_config_load runs it
 * with mdc_available_cores(). */
int svc_config_check_oversubscribe(const svc_config *cfg, int cores, char *errmsg, size_t errlen);

#endif
