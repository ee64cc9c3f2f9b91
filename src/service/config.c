/*
 * config.c — service settings from the environment and ./.env (see config.h, DESIGN §4).
 *
 * Order: defaults → the .env file → the process environment (the environment wins).
 * Every variable is one row of k_settings: name, type, bounds or accepted values,
 * default (as text, parsed by the same code as any value), section and doc string.
 * Defaults, validation, unknown-name detection, .env.example and README's settings
 * table (svc_settings_write_*) are all derived from that table; nothing else lists
 * the settings.  The layout follows Redis's config.c `standardConfig` table.
 */
#include "config.h"

#include "mdc/cpu.h"
#include "mdc/whisper.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

/* ---- the table ------------------------------------------------------------------- */

typedef enum set_type {
    SET_STRING,  /* char[size]; empty only with SET_EMPTY_OK */
    SET_INT,     /* int in [lo, hi] */
    SET_MIB,     /* uint64_t bytes, given as a whole number of MiB in [lo, hi] */
    SET_NUMBER,  /* double in (lo, hi] (SET_LO_OPEN) or [lo, hi] */
    SET_BOOL,    /* bool: true|false|1|0|yes|no|on|off */
    SET_CHOICE,  /* one of `choices` ("a|b"); index stored as int, or bool for two */
} set_type;

enum {
    SET_EMPTY_OK = 1, /* "" is a value */
    SET_SECRET = 2,   /* never echoed in messages */
    SET_LO_OPEN = 4,  /* SET_NUMBER: lo itself is refused */
    SET_ENV_ONLY = 8, /* read from the environment only (a settings file cannot name itself) */
    SET_CLI = 16,     /* `transcribe` uses it too (the others only matter to `serve`) */
};

typedef struct setting setting;
/* Optional hook replacing the generic parse of a row (extra checks, aliases, a module's
 * own parser); may call set_parse_generic.  Returns 0 or -1 with why filled. */
typedef int (*set_hook)(const setting *s, void *field, const char *v, char *why, size_t whylen);

struct setting {
    svc_setting_doc d;
    set_type type;
    size_t off, size; /* the field in svc_config */
    double lo, hi;
    const char *choices;
    unsigned flags;
    set_hook hook;
};

static int set_parse_generic(const setting *s, void *field, const char *v, char *why,
                             size_t whylen);
static int h_host(const setting *s, void *field, const char *v, char *why, size_t whylen);
static int h_model(const setting *s, void *field, const char *v, char *why, size_t whylen);
static int h_vad_model(const setting *s, void *field, const char *v, char *why, size_t whylen);
static int h_threads(const setting *s, void *field, const char *v, char *why, size_t whylen);
static int h_api_key(const setting *s, void *field, const char *v, char *why, size_t whylen);
static int h_locale(const setting *s, void *field, const char *v, char *why, size_t whylen);
static int h_log_level(const setting *s, void *field, const char *v, char *why, size_t whylen);
static int h_cors(const setting *s, void *field, const char *v, char *why, size_t whylen);
static int h_dtw(const setting *s, void *field, const char *v, char *why, size_t whylen);

#define F(field) .off = offsetof(svc_config, field), .size = sizeof(((svc_config *)0)->field)

/* Every setting, in the order of .env.example.  MODEL before MODELS_DIR does not
 * matter: the model path is resolved after all of them are parsed. */
static const setting k_settings[] = {
    {.d = {"HOST", "HTTP", "0.0.0.0", "host name or IP address", "Address to listen on."},
     .type = SET_STRING, F(host), .hook = h_host},
    {.d = {"PORT", "HTTP", "8080", NULL,
      "TCP port (0 = pick a free port; the chosen port is logged)."},
     .type = SET_INT, F(port), .lo = 0, .hi = 65535},
    {.d = {"API_KEY", "HTTP", "", "printable characters without spaces",
      "Optional bearer token: when set, every request except /health, /ready and the page at "
      "/ needs the header \"Authorization: Bearer KEY\", and /ready names no server path. "
      "Empty = no authentication."},
     .type = SET_STRING, F(api_key), .flags = SET_EMPTY_OK | SET_SECRET, .hook = h_api_key},
    {.d = {"WEB_DIR", "HTTP", "", "a directory",
      "Where the upload page (index.html) is read from. Empty = next to the binary "
      "(BINDIR/../web, then BINDIR/../share/md-converter/web)."},
     .type = SET_STRING, F(web_dir), .flags = SET_EMPTY_OK},
    {.d = {"CORS_ALLOW_ORIGINS", "HTTP", "", "* or a comma-separated list of origins",
      "Browser apps on these origins may call the API (CORS): * = any origin, or e.g. "
      "https://app.example.com,http://localhost:5173 (scheme://host[:port], no path). "
      "Preflights (OPTIONS) need no key; the requests themselves still need API_KEY. "
      "Empty = CORS off (no Access-Control-* headers, OPTIONS is 405)."},
     .type = SET_STRING, F(cors_allow_origins), .flags = SET_EMPTY_OK, .hook = h_cors},
    {.d = {"WHISPER_MODEL", "Model (lazy loading)", "base",
      "model name or path to a .bin file",
      "A name, tiny|base|small|medium|large-v1|large-v2|large-v3|large-v3-turbo, optionally "
      ".en (tiny..medium) and a quantization suffix -q4_0|-q4_1|-q5_0|-q5_1|-q8_0, resolved "
      "to $WHISPER_MODELS_DIR/ggml-NAME.bin; or a path (contains \"/\" or ends in .bin), used "
      "as given. scripts/get-model.sh (run by `make run`) downloads a missing named model."},
     .type = SET_STRING, F(model), .flags = SET_CLI, .hook = h_model},
    {.d = {"WHISPER_MODELS_DIR", "Model (lazy loading)", "models", "a directory",
      "Where model names resolve."},
     .type = SET_STRING, F(models_dir), .flags = SET_CLI},
    {.d = {"WHISPER_PRELOAD", "Model (lazy loading)", "false", NULL,
      "true = load the model in the background right after the listener is up (/ready is "
      "503 until it is loaded); false = load on the first transcription."},
     .type = SET_BOOL, F(preload)},
    {.d = {"WHISPER_IDLE_UNLOAD_SECONDS", "Model (lazy loading)", "0", NULL,
      "Unload the model after this many seconds without a transcription (never while one "
      "runs); the next request reloads it. 0 = never."},
     .type = SET_INT, F(idle_unload_seconds), .lo = 0, .hi = 31536000},
    {.d = {"WHISPER_THREADS", "Model (lazy loading)", "0", "integer 0-1024",
      "Compute threads per transcription; 0 = the cores available to the process divided by "
      "MAX_CONCURRENT_TRANSCRIPTIONS (at least 1). The threads are started once, at start-up, "
      "and the split is logged."},
     .type = SET_INT, F(threads), .lo = 0, .hi = 1024, .flags = SET_CLI, .hook = h_threads},
    {.d = {"WHISPER_ALLOW_OVERSUBSCRIBE", "Model (lazy loading)", "false", NULL,
      "true = accept WHISPER_THREADS x MAX_CONCURRENT_TRANSCRIPTIONS above the available "
      "cores (threads then compete for cores); false = refuse such settings at start-up."},
     .type = SET_BOOL, F(allow_oversubscribe)},
    {.d = {"WHISPER_DECODE_BATCHING", "Model (lazy loading)", "true", NULL,
      "true = continuous batching: the decoder steps of transcriptions decoding at the same "
      "time go through one batched pass (each weight read once for all of them; a step waits "
      "at most 2 ms for the others); results are byte-identical either way. false = every "
      "transcription decodes on its own threads only."},
     .type = SET_BOOL, F(decode_batching)},
    {.d = {"WHISPER_MEL_CLAMP", "Model (lazy loading)", "global", NULL,
      "Which maximum the log-mel is clamped at (maximum - 8, OpenAI's log_mel_spectrogram): "
      "global = the whole recording's, as whisper.cpp and OpenAI (one extra decoding pass of "
      "the upload finds it before transcribing); running = the maximum up to each 30 s "
      "window's end (one pass less: long uploads start sooner, but results can differ from "
      "whisper.cpp's — docs/whisper.md \"The log-mel clamp\")."},
     .type = SET_CHOICE, F(mel_clamp), .choices = "global|running", .flags = SET_CLI},
    {.d = {"WHISPER_LOAD_RETRY_MS", "Model (lazy loading)", "2000", NULL,
      "After a failed model load, requests get the kept error at once for this long (ms); "
      "the next request after it retries the load."},
     .type = SET_INT, F(load_retry_backoff_ms), .lo = 0, .hi = 3600000},
    {.d = {"WHISPER_DTW", "Model (lazy loading)", "off",
      "off, auto, or tiny|tiny.en|base|base.en|small|small.en|medium|medium.en|large-v1|"
      "large-v2|large-v3|large-v3-turbo",
      "Word times (timestamp_granularities[]=word, max_words_per_cue, a diarized report's "
      "turns) from cross-attention DTW over these alignment heads (whisper.cpp's -dtw / "
      "dtw_aheads_preset) instead of the timestamp-token heuristic: auto = the preset of the "
      "loaded model's size; a preset the model does not have (or auto on a size without "
      "one, e.g. 80-band large) makes such requests fail with 400. Costs one extra batched "
      "decoder pass per 30 s window. Requests override it with the form field dtw."},
     .type = SET_STRING, F(dtw), .flags = SET_CLI, .hook = h_dtw},
    {.d = {"WHISPER_VAD", "Voice-activity detection", "auto", NULL,
      "Transcribe only the speech a Silero voice-activity detector finds (whisper.cpp's "
      "--vad): auto = on when WHISPER_VAD_MODEL is set and its file exists at start-up, "
      "true = on (start-up fails without WHISPER_VAD_MODEL), false = off. Requests override "
      "it with the form field vad=true|false or OpenAI's chunking_strategy."},
     .type = SET_CHOICE, F(vad_mode), .choices = "auto|true|false"},
    {.d = {"WHISPER_VAD_MODEL", "Voice-activity detection", "",
      "silero-vX.Y.Z name, a path, or empty",
      "The Silero VAD model in whisper.cpp's ggml format: a name such as silero-v6.2.0, "
      "resolved to $WHISPER_MODELS_DIR/ggml-NAME.bin (scripts/get-model.sh, run by `make "
      "run`, downloads it), or a path (contains \"/\" or ends in .bin). Lazy-loaded like the "
      "Whisper model. Empty = no VAD."},
     .type = SET_STRING, F(vad_model), .flags = SET_EMPTY_OK, .hook = h_vad_model},
    {.d = {"WHISPER_VAD_THRESHOLD", "Voice-activity detection", "0.5", NULL,
      "Speech starts at a 32 ms chunk with probability >= this; it ends after "
      "WHISPER_VAD_MIN_SILENCE_MS below threshold - 0.15 (whisper.cpp's default 0.5)."},
     .type = SET_NUMBER, F(vad_threshold), .lo = 0, .hi = 1, .flags = SET_LO_OPEN},
    {.d = {"WHISPER_VAD_MIN_SPEECH_MS", "Voice-activity detection", "250", NULL,
      "Speech segments shorter than this are dropped (whisper.cpp's default 250)."},
     .type = SET_INT, F(vad_min_speech_ms), .lo = 0, .hi = 3600000},
    {.d = {"WHISPER_VAD_MIN_SILENCE_MS", "Voice-activity detection", "100", NULL,
      "Silence that must last this long to end a speech segment (whisper.cpp's default 100)."},
     .type = SET_INT, F(vad_min_silence_ms), .lo = 0, .hi = 3600000},
    {.d = {"WHISPER_VAD_SPEECH_PAD_MS", "Voice-activity detection", "30", NULL,
      "Audio kept before and after each speech segment (whisper.cpp's default 30)."},
     .type = SET_INT, F(vad_speech_pad_ms), .lo = 0, .hi = 3600000},
    {.d = {"WHISPER_VAD_MAX_SPEECH_S", "Voice-activity detection", "0", NULL,
      "Longer speech segments are split at their last pause of >= 98 ms; 0 = no limit "
      "(whisper.cpp's default, FLT_MAX)."},
     .type = SET_NUMBER, F(vad_max_speech_s), .lo = 0, .hi = 86400},
    {.d = {"MAX_CONCURRENT_TRANSCRIPTIONS", "Limits and queue", "1", NULL,
      "Transcriptions running at once (each uses WHISPER_THREADS threads)."},
     .type = SET_INT, F(max_concurrent), .lo = 1, .hi = 256},
    {.d = {"QUEUE_LENGTH", "Limits and queue", "8", NULL,
      "Requests waiting for a worker; past it: 503 queue_full with Retry-After."},
     .type = SET_INT, F(queue_length), .lo = 0, .hi = 100000},
    {.d = {"MAX_UPLOAD_MB", "Limits and queue", "200", NULL,
      "Largest request body (the file and its form fields), MiB; 413 file_too_large beyond."},
     .type = SET_MIB, F(max_upload_bytes), .lo = 1, .hi = 1048576},
    {.d = {"MAX_AUDIO_SECONDS", "Limits and queue", "10800", NULL,
      "Longest audio, seconds, enforced while decoding (413 beyond)."},
     .type = SET_NUMBER, F(max_audio_seconds), .lo = 0, .hi = 7 * 86400, .flags = SET_LO_OPEN},
    {.d = {"REQUEST_TIMEOUT_SECONDS", "Limits and queue", "3600", NULL,
      "Upper bound for one request, seconds (504 timeout beyond)."},
     .type = SET_INT, F(request_timeout_seconds), .lo = 1, .hi = 604800},
    {.d = {"TMPDIR", "Limits and queue", "/tmp", "a directory",
      "Where uploads are spooled (private temporary files, removed after each request)."},
     .type = SET_STRING, F(tmp_dir)},
    {.d = {"JOBS_TTL_SECONDS", "Jobs", "3600", NULL,
      "A finished job (its status, events and result) is kept this long after it ended, "
      "seconds; then GET /jobs/ID answers 404."},
     .type = SET_INT, F(jobs_ttl_seconds), .lo = 1, .hi = 2592000},
    {.d = {"JOBS_MAX", "Jobs", "256", NULL,
      "Jobs kept at once. When full, the job that finished first is dropped to make room; "
      "when every kept job is unfinished, POST /jobs answers 503 queue_full. With "
      "JOBS_REDIS_URL: the jobs GET /jobs lists and mdconv_jobs counts (older ones stay "
      "until their TTL; Redis memory is bounded by the TTL and MAX_UPLOAD_MB)."},
     .type = SET_INT, F(jobs_max), .lo = 1, .hi = 100000},
    {.d = {"SHUTDOWN_GRACE_SECONDS", "Jobs", "15", NULL,
      "On SIGTERM/SIGINT: running and queued transcriptions (jobs and requests) may finish "
      "for up to this long while new uploads get 503 shutting_down; what is left is then "
      "aborted (503 shutting_down; a job's event stream ends with an `error` event "
      "shutting_down; with JOBS_REDIS_URL the job is left to another replica instead) and "
      "the process exits within 6 s more. Keep grace + 6 s (+ any preStop sleep) below the "
      "orchestrator's kill timeout (k8s terminationGracePeriodSeconds 30, compose "
      "stop_grace_period 30s)."},
     .type = SET_INT, F(shutdown_grace_seconds), .lo = 0, .hi = 3600},
    {.d = {"JOBS_REDIS_URL", "Jobs", "", "redis://[user:pass@]host:port/db",
      "Empty = jobs live in this process. Set = jobs (record, events, upload, result) live in "
      "Redis with their TTL and any replica sharing it answers, runs and finishes any job "
      "(docs/DEPLOY.md, Scaling out). rediss:// (TLS) is refused at start: Debian's hiredis "
      "0.14 has no TLS; point redis:// at a TLS-terminating sidecar (stunnel, a service mesh) "
      "instead."},
     .type = SET_STRING, F(jobs_redis_url), .flags = SET_EMPTY_OK | SET_SECRET},
    {.d = {"JOBS_ROLE", "Jobs", "both", NULL,
      "With JOBS_REDIS_URL: api = accepts and answers jobs but never runs one; worker = runs "
      "jobs from Redis and answers them, but POST /jobs is refused (403 wrong_role); both = "
      "either. Without JOBS_REDIS_URL only both is valid."},
     .type = SET_CHOICE, F(jobs_role), .choices = "api|worker|both"},
    {.d = {"JOBS_CLAIM_AFTER_SECONDS", "Jobs", "15", NULL,
      "With JOBS_REDIS_URL: a running job whose replica sent no heartbeat (every 0.5 s) for "
      "this long is taken over and re-run by another replica."},
     .type = SET_INT, F(jobs_claim_after_seconds), .lo = 1, .hi = 3600},
    {.d = {"HEADERS_TIMEOUT_SECONDS", "Slow clients", "10", NULL,
      "A request's headers must be complete this many seconds after the connection opened "
      "(or after the previous answer on a kept-alive connection); bytes arriving do not "
      "extend it. 0 = no deadline."},
     .type = SET_INT, F(headers_timeout_s), .lo = 0, .hi = 3600},
    {.d = {"UPLOAD_MIN_BYTES_PER_SECOND", "Slow clients", "1024", NULL,
      "Floor for a request body's average rate since it started, checked once the body is "
      "older than HEADERS_TIMEOUT_SECONDS (10 s when that is 0); a slower upload is closed. "
      "0 = no floor."},
     .type = SET_INT, F(upload_min_bps), .lo = 0, .hi = 1 << 30},
    {.d = {"MAX_CONNECTIONS_PER_ADDRESS", "Slow clients", "64", NULL,
      "Open connections one client IP address may hold on PORT; more are refused at accept. "
      "Behind a reverse proxy (one address for everyone) raise it or set 0 = no cap."},
     .type = SET_INT, F(max_conns_per_address), .lo = 0, .hi = 100000},
    {.d = {"HEALTH_PORT", "Slow clients", "0", NULL,
      "A second listener serving only /health, /ready and /metrics, with its own connection "
      "budget that slow clients on PORT cannot exhaust: point liveness/readiness probes "
      "here. 0 = none (probes share PORT)."},
     .type = SET_INT, F(health_port), .lo = 0, .hi = 65535},
    {.d = {"REPORT_LOCALE", "Report and logs", "pt-BR", NULL,
      "Language of the Markdown report's headings when the request does not say "
      "(pt and pt_BR are spellings of pt-BR)."},
     .type = SET_CHOICE, F(report_locale), .choices = "pt-BR|en", .flags = SET_CLI,
     .hook = h_locale},
    {.d = {"LOG_FORMAT", "Report and logs", "text", NULL,
      "text (one line per message) or json (JSON lines, for log collectors); `transcribe` "
      "logs only with -v."},
     .type = SET_CHOICE, F(log_json), .choices = "text|json", .flags = SET_CLI},
    {.d = {"LOG_LEVEL", "Report and logs", "info", NULL,
           "Messages below this level are dropped (`transcribe`: with -v)."},
     .type = SET_CHOICE, F(log_level), .choices = "debug|info|warn|error", .flags = SET_CLI,
     .hook = h_log_level},
    {.d = {"MDC_ENV_FILE", "Settings file", "", "a file path",
      "Read this settings file instead of ./.env (it must then exist). Only the environment "
      "can set it (.env.example shows it commented out)."},
     .type = SET_STRING, F(env_file), .flags = SET_CLI | SET_EMPTY_OK | SET_ENV_ONLY},
    {.d = {"MDC_TEST_LOAD_DELAY_MS", "Tests only", "0", NULL,
      "Slows every model load by this many milliseconds (load-race tests)."},
     .type = SET_NUMBER, F(load_delay_ms), .lo = 0, .hi = 600000},
};
#define N_SETTINGS (sizeof k_settings / sizeof k_settings[0])
#undef F

_Static_assert(sizeof(rpt_locale) == sizeof(int) && sizeof(mdc_log_level) == sizeof(int),
               "SET_CHOICE stores enums as int");
_Static_assert(WSP_MEL_CLAMP_GLOBAL == 0 && WSP_MEL_CLAMP_RUNNING == 1,
               "WHISPER_MEL_CLAMP's choice index is the wsp_mel_clamp");

size_t svc_settings_count(void) { return N_SETTINGS; }

const svc_setting_doc *svc_setting_at(size_t i) { return i < N_SETTINGS ? &k_settings[i].d : NULL; }

/* ---- value parsers ---------------------------------------------------------- */

/* Parses a whole decimal integer in [lo, hi]. */
static int parse_int(const char *v, long lo, long hi, long *out, char *why, size_t whylen)
{
    char *end = NULL;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || errno || end == v || *end != '\0' || x < lo || x > hi) {
        snprintf(why, whylen, "expected an integer from %ld to %ld", lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

/* Parses a finite decimal number in (lo, hi] (lo exclusive when lo_open) or [lo, hi]. */
static int parse_num(const char *v, double lo, double hi, bool lo_open, double *out, char *why,
                     size_t whylen)
{
    char *end = NULL;
    errno = 0;
    double x = strtod(v, &end);
    if (!*v || errno || end == v || *end != '\0' || !isfinite(x) || x > hi ||
        (lo_open ? x <= lo : x < lo)) {
        if (lo_open)
            snprintf(why, whylen, "expected a number greater than %g and at most %g", lo, hi);
        else
            snprintf(why, whylen, "expected a number from %g to %g", lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

int svc_config_parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"true", "1", "yes", "on"};
    static const char *const no[] = {"false", "0", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

/* Index of v (case-insensitive) in "a|b|c", or -1. */
static int choice_index(const char *choices, const char *v)
{
    size_t vl = strlen(v);
    int i = 0;
    for (const char *p = choices; *p; i++) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == vl && strncasecmp(p, v, n) == 0)
            return i;
        if (!bar)
            break;
        p = bar + 1;
    }
    return -1;
}

static int set_parse_generic(const setting *s, void *field, const char *v, char *why,
                             size_t whylen)
{
    switch (s->type) {
    case SET_STRING: {
        size_t n = strlen(v);
        if (n >= s->size) {
            snprintf(why, whylen, "too long (at most %zu bytes)", s->size - 1);
            return -1;
        }
        if (!(s->flags & SET_EMPTY_OK) && n == 0) {
            snprintf(why, whylen, "must not be empty");
            return -1;
        }
        memcpy(field, v, n + 1);
        return 0;
    }
    case SET_INT:
    case SET_MIB: {
        long x;
        if (parse_int(v, (long)s->lo, (long)s->hi, &x, why, whylen) != 0)
            return -1;
        if (s->type == SET_MIB)
            *(uint64_t *)field = (uint64_t)x * 1024 * 1024;
        else
            *(int *)field = (int)x;
        return 0;
    }
    case SET_NUMBER:
        return parse_num(v, s->lo, s->hi, s->flags & SET_LO_OPEN, (double *)field, why, whylen);
    case SET_BOOL:
        if (svc_config_parse_bool(v, (bool *)field) != 0) {
            snprintf(why, whylen, "expected true|false|1|0|yes|no");
            return -1;
        }
        return 0;
    case SET_CHOICE: {
        int i = choice_index(s->choices, v);
        if (i < 0) {
            snprintf(why, whylen, "expected %s", s->choices);
            return -1;
        }
        if (s->size == sizeof(bool))
            *(bool *)field = i != 0;
        else
            *(int *)field = i;
        return 0;
    }
    }
    return -1;
}

static int h_host(const setting *s, void *field, const char *v, char *why, size_t whylen)
{
    for (const char *p = v; *p; p++) {
        if (isspace((unsigned char)*p)) {
            snprintf(why, whylen, "expected a host name or IP address without spaces");
            return -1;
        }
    }
    return set_parse_generic(s, field, v, why, whylen);
}

static int h_model(const setting *s, void *field, const char *v, char *why, size_t whylen)
{
    if (set_parse_generic(s, field, v, why, whylen) != 0)
        return -1;
    if (!svc_config_model_is_path(v) && !svc_config_model_name_valid(v)) {
        snprintf(why, whylen,
                 "expected a model name tiny|base|small|medium|large-v1|large-v2|large-v3|"
                 "large-v3-turbo, optionally with .en (tiny…medium) and a quantization suffix "
                 "-q4_0|-q4_1|-q5_0|-q5_1|-q8_0 (e.g. base.en-q5_1), or a path to a .bin file");
        return -1;
    }
    return 0;
}

static int h_vad_model(const setting *s, void *field, const char *v, char *why, size_t whylen)
{
    if (set_parse_generic(s, field, v, why, whylen) != 0)
        return -1;
    if (!*v || svc_config_model_is_path(v))
        return 0;
    /* a name: silero-v<digits and dots>, e.g. silero-v6.2.0, silero-v5.1.2 */
    bool ok = strncmp(v, "silero-v", 8) == 0 && v[8] >= '0' && v[8] <= '9';
    for (const char *p = v + 8; ok && *p; p++)
        ok = (*p >= '0' && *p <= '9') || *p == '.';
    if (!ok) {
        snprintf(why, whylen, "expected a Silero model name such as silero-v6.2.0 (resolved to "
                              "$WHISPER_MODELS_DIR/ggml-NAME.bin), a path to a .bin file, or "
                              "empty for no VAD");
        return -1;
    }
    return 0;
}

static int h_threads(const setting *s, void *field, const char *v, char *why, size_t whylen)
{
    if (set_parse_generic(s, field, v, why, whylen) != 0) {
        snprintf(why, whylen, "expected an integer from 1 to 1024, or 0 for the available cores");
        return -1;
    }
    return 0; /* 0 (auto) is resolved by finish(), which knows MAX_CONCURRENT_TRANSCRIPTIONS */
}

static int h_api_key(const setting *s, void *field, const char *v, char *why, size_t whylen)
{
    for (const char *p = v; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            snprintf(why, whylen, "expected printable characters without spaces");
            return -1;
        }
    }
    return set_parse_generic(s, field, v, why, whylen);
}

/* The report module's own parser (it also takes pt, pt_BR, en-US). */
static int h_locale(const setting *s, void *field, const char *v, char *why, size_t whylen)
{
    if (rpt_locale_parse(v, (rpt_locale *)field) != 0) {
        snprintf(why, whylen, "expected %s", s->choices);
        return -1;
    }
    return 0;
}

/* off | auto | a preset name (the engine's own parser). */
static int h_dtw(const setting *s, void *field, const char *v, char *why, size_t whylen)
{
    wsp_aheads_preset p;
    if (strcmp(v, "off") != 0 && strcmp(v, "auto") != 0 && wsp_aheads_preset_parse(v, &p) != 0) {
        snprintf(why, whylen, "expected %s", s->d.allowed);
        return -1;
    }
    return set_parse_generic(s, field, v, why, whylen);
}

/* The log module's own parser. */
static int h_log_level(const setting *s, void *field, const char *v, char *why, size_t whylen)
{
    if (mdc_log_level_parse(v, (mdc_log_level *)field) != 0) {
        snprintf(why, whylen, "expected %s", s->choices);
        return -1;
    }
    return 0;
}

/* Parses v into cfg through row s.  Returns 0 or -1 with why. */
static int set_apply(const setting *s, svc_config *cfg, const char *v, char *why, size_t whylen)
{
    void *field = (char *)cfg + s->off;
    return s->hook ? s->hook(s, field, v, why, whylen)
                   : set_parse_generic(s, field, v, why, whylen);
}

/* "*" alone, or a comma-separated list of origins scheme://host[:port] (RFC 6454: no path,
 * no query).  Stored without spaces or a trailing '/', so it compares with a browser's
 * Origin header as is. */
static int h_cors(const setting *s, void *field, const char *v, char *why, size_t whylen)
{
    char out[sizeof ((svc_config *)0)->cors_allow_origins];
    size_t o = 0;
    const char *p = v;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t n = strcspn(p, ", ");
        if (n == 0)
            break;
        while (n > 1 && p[n - 1] == '/') /* "https://a.example/" → "https://a.example" */
            n--;
        bool star = n == 1 && p[0] == '*';
        const char *host = strstr(p, "://");
        bool origin = host && host < p + n && host > p && (size_t)(host + 3 - p) < n;
        for (const char *c = host ? host + 3 : p; origin && c < p + n; c++)
            if (*c == '/' || *c == '?' || *c == '#' || (unsigned char)*c < 0x21 || *c == 0x7f)
                origin = false;
        if ((!star && !origin) || (star && o > 0) || o + n + 2 > sizeof out) {
            snprintf(why, whylen, "expected * or a comma-separated list of origins such as "
                                  "https://app.example.com,http://localhost:5173 (scheme://host"
                                  "[:port], no path)");
            return -1;
        }
        if (o)
            out[o++] = ',';
        memcpy(out + o, p, n);
        o += n;
        p += strcspn(p, ", ");
        if (star && strcspn(p, " ,") == 0 && p[strspn(p, " ,")]) {
            snprintf(why, whylen, "* must stand alone (it already admits every origin)");
            return -1;
        }
    }
    out[o] = '\0';
    snprintf(field, s->size, "%s", out);
    return 0;
}

/* MDC_* names that belong to the test harness (tests/run.sh), to other modules
 * (MDC_AUDIO_PLUGIN: src/audio/plugin/loader.c; MDC_KERNELS: the engine's kernel choice)
 * or other tools (MDC_MODEL_BASE_URL, MDC_VAD_MODEL_BASE_URL, MDC_BIN: scripts/get-model.sh,
 * which `make run` runs in the same environment as serve); never reported as unknown.
 * Any MDC_TEST_* is also tolerated. */
static const char *const k_foreign_mdc[] = {
    "MDC_SHARED_DIR", "MDC_BUILD_DIR", "MDC_MODELS_DIR",     "MDC_SANITIZE",
    "MDC_AUDIO_PLUGIN", "MDC_KERNELS", "MDC_MODEL_BASE_URL", "MDC_VAD_MODEL_BASE_URL",
    "MDC_BIN"};

static const setting *find_setting(const char *name, size_t len)
{
    for (size_t i = 0; i < N_SETTINGS; i++)
        if (strlen(k_settings[i].d.name) == len && strncmp(k_settings[i].d.name, name, len) == 0)
            return &k_settings[i];
    return NULL;
}

/* True for WHISPER_* / MDC_* names we do not know (typos such as WHISPER_PRELAOD). */
static bool is_unknown_ours(const char *name, size_t len)
{
    bool ours = (len > 8 && strncmp(name, "WHISPER_", 8) == 0) ||
                (len > 4 && strncmp(name, "MDC_", 4) == 0);
    if (!ours || find_setting(name, len))
        return false;
    if (len > 9 && strncmp(name, "MDC_TEST_", 9) == 0)
        return false;
    /* Kubernetes service links for a Service named whisper-… or mdc-…:
     * X_SERVICE_HOST, X_SERVICE_PORT[_NAME], X_PORT, X_PORT_8080_TCP[_PROTO|_PORT|_ADDR]. */
    if (memmem(name, len, "_SERVICE_HOST", 13) || memmem(name, len, "_SERVICE_PORT", 13) ||
        memmem(name, len, "_PORT_", 6) || (len > 5 && strncmp(name + len - 5, "_PORT", 5) == 0))
        return false;
    for (size_t i = 0; i < sizeof k_foreign_mdc / sizeof k_foreign_mdc[0]; i++)
        if (strlen(k_foreign_mdc[i]) == len && strncmp(k_foreign_mdc[i], name, len) == 0)
            return false;
    return true;
}

static void list_known(char *buf, size_t len)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < N_SETTINGS && off < len; i++) {
        const char *nm = k_settings[i].d.name;
        if (strncmp(nm, "WHISPER_", 8) != 0 && strncmp(nm, "MDC_", 4) != 0)
            continue;
        int n = snprintf(buf + off, len - off, "%s%s", off ? ", " : "", nm);
        if (n < 0)
            break;
        off += (size_t)n;
    }
}

/* ---- model names ------------------------------------------------------------- */

bool svc_config_model_is_path(const char *model)
{
    size_t n = strlen(model);
    return strchr(model, '/') != NULL || (n > 4 && strcmp(model + n - 4, ".bin") == 0);
}

bool svc_config_model_name_valid(const char *name)
{
    static const char *const bases[] = {"tiny",     "base",     "small",    "medium",
                                        "large-v1", "large-v2", "large-v3", "large-v3-turbo"};
    for (size_t b = 0; b < sizeof bases / sizeof bases[0]; b++) {
        size_t bl = strlen(bases[b]);
        if (strncmp(name, bases[b], bl) != 0)
            continue;
        const char *rest = name + bl;
        if (strncmp(rest, ".en", 3) == 0) {
            if (b >= 4) /* no English-only large models */
                continue;
            rest += 3;
        }
        if (*rest == '\0')
            return true;
        /* "-q5_1" …: exactly the weight types the engine reads (wsp_qtype, the ones
         * whisper.cpp publishes files in); k-quants and unknown suffixes are refused. */
        if (rest[0] == '-' && wsp_qtype_parse(rest + 1, NULL) == 0)
            return true;
    }
    return false;
}

void svc_config_resolve_model(const char *model, const char *models_dir, char *out, size_t outlen)
{
    if (svc_config_model_is_path(model)) {
        snprintf(out, outlen, "%s", model);
        return;
    }
    const char *dir = models_dir && *models_dir ? models_dir : ".";
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') /* "models/" → "models/ggml-…" not "models//…" */
        dl--;
    snprintf(out, outlen, "%.*s/ggml-%s.bin", (int)dl, dir, model);
}

const char *svc_config_model_label(const svc_config *cfg)
{
    if (!svc_config_model_is_path(cfg->model))
        return cfg->model;
    const char *slash = strrchr(cfg->model, '/');
    return slash ? slash + 1 : cfg->model;
}

void svc_config_model_context(const svc_config *cfg, char *buf, size_t len)
{
    if (svc_config_model_is_path(cfg->model))
        snprintf(buf, len, "WHISPER_MODEL=%.400s", cfg->model);
    else
        snprintf(buf, len, "WHISPER_MODEL=%.100s, WHISPER_MODELS_DIR=%.300s", cfg->model,
                 cfg->models_dir);
}

int svc_config_default_threads(void) { return mdc_available_cores(); }

/* ---- .env file ---------------------------------------------------------------- */

typedef struct env_entry {
    char *key, *value;
    int line;
} env_entry;

typedef struct env_file {
    env_entry *v;
    size_t n, cap;
} env_file;

static void env_file_free(env_file *ef)
{
    for (size_t i = 0; i < ef->n; i++) {
        free(ef->v[i].key);
        free(ef->v[i].value);
    }
    free(ef->v);
    memset(ef, 0, sizeof *ef);
}

/* Adds or replaces (a later line wins, as in a shell). */
static int env_file_put(env_file *ef, const char *key, size_t klen, const char *val, int line)
{
    for (size_t i = 0; i < ef->n; i++) {
        if (strlen(ef->v[i].key) == klen && strncmp(ef->v[i].key, key, klen) == 0) {
            char *nv = strdup(val);
            if (!nv)
                return -1;
            free(ef->v[i].value);
            ef->v[i].value = nv;
            ef->v[i].line = line;
            return 0;
        }
    }
    if (ef->n == ef->cap) {
        size_t nc = ef->cap ? ef->cap * 2 : 16;
        env_entry *nv = realloc(ef->v, nc * sizeof *nv);
        if (!nv)
            return -1;
        ef->v = nv;
        ef->cap = nc;
    }
    env_entry *e = &ef->v[ef->n];
    e->key = strndup(key, klen);
    e->value = strdup(val);
    e->line = line;
    if (!e->key || !e->value) {
        free(e->key);
        free(e->value);
        return -1;
    }
    ef->n++;
    return 0;
}

static const env_entry *env_file_get(const env_file *ef, const char *key)
{
    for (size_t i = 0; i < ef->n; i++)
        if (strcmp(ef->v[i].key, key) == 0)
            return &ef->v[i];
    return NULL;
}

/* Parses one value (after '=') into out (cap bytes).  Accepts "double quoted" (escapes
 * \" \\ \n \t \$), 'single quoted' (literal) and bare values (trailing spaces and a
 * " #comment" dropped).  Returns 0 or -1 with why filled. */
static int parse_env_value(const char *p, char *out, size_t cap, char *why, size_t whylen)
{
    size_t o = 0;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '"' || *p == '\'') {
        char q = *p++;
        for (; *p && *p != q; p++) {
            char c = *p;
            if (q == '"' && c == '\\' && p[1]) {
                p++;
                c = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p;
            }
            if (o + 1 >= cap) {
                snprintf(why, whylen, "value too long");
                return -1;
            }
            out[o++] = c;
        }
        if (*p != q) {
            snprintf(why, whylen, "unterminated %s quote", q == '"' ? "double" : "single");
            return -1;
        }
        p++;
        while (*p == ' ' || *p == '\t' || *p == '\r')
            p++;
        if (*p && *p != '#') {
            snprintf(why, whylen, "unexpected text after the closing quote");
            return -1;
        }
    } else {
        for (; *p && *p != '\r'; p++) {
            if (*p == '#' && (o == 0 || out[o - 1] == ' ' || out[o - 1] == '\t'))
                break; /* inline comment */
            if (o + 1 >= cap) {
                snprintf(why, whylen, "value too long");
                return -1;
            }
            out[o++] = *p;
        }
        while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'))
            o--;
    }
    out[o] = '\0';
    return 0;
}

/* Reads `path` into ef.  A missing file is fine unless `required`.  Returns 0 or -1 with
 * errmsg "PATH:LINE: …". */
static int env_file_read(const char *path, bool required, env_file *ef, char *errmsg,
                         size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (!required && errno == ENOENT)
            return 0;
        snprintf(errmsg, errlen, "cannot read the settings file %s (MDC_ENV_FILE): %s", path,
                 strerror(errno));
        return -1;
    }
    char line[8192], val[4096], why[128];
    int ln = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        ln++;
        size_t len = strlen(line);
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        else if (!feof(f)) {
            snprintf(errmsg, errlen, "%s:%d: line too long", path, ln);
            rc = -1;
            break;
        }
        const char *p = line;
        if (ln == 1 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
            (unsigned char)p[2] == 0xBF)
            p += 3; /* UTF-8 BOM */
        while (isspace((unsigned char)*p))
            p++;
        if (*p == '\0' || *p == '#')
            continue;
        if (strncmp(p, "export", 6) == 0 && (p[6] == ' ' || p[6] == '\t')) {
            p += 6;
            while (*p == ' ' || *p == '\t')
                p++;
        }
        const char *k = p;
        if (!(isalpha((unsigned char)*p) || *p == '_')) {
            snprintf(errmsg, errlen, "%s:%d: expected KEY=VALUE", path, ln);
            rc = -1;
            break;
        }
        while (isalnum((unsigned char)*p) || *p == '_')
            p++;
        size_t klen = (size_t)(p - k);
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != '=') {
            snprintf(errmsg, errlen, "%s:%d: expected KEY=VALUE after %.*s", path, ln,
                     (int)(klen > 64 ? 64 : klen), k);
            rc = -1;
            break;
        }
        if (parse_env_value(p + 1, val, sizeof val, why, sizeof why) != 0) {
            snprintf(errmsg, errlen, "%s:%d: %.*s: %s", path, ln, (int)(klen > 64 ? 64 : klen), k,
                     why);
            rc = -1;
            break;
        }
        if (env_file_put(ef, k, klen, val, ln) != 0) {
            snprintf(errmsg, errlen, "out of memory reading %s", path);
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}

/* ---- loader ----------------------------------------------------------------------- */

void svc_config_defaults(svc_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < N_SETTINGS; i++) {
        char why[256];
        /* Defaults are valid by construction (test_defaults_parse checks every row). */
        if (set_apply(&k_settings[i], cfg, k_settings[i].d.def, why, sizeof why) != 0)
            abort();
    }
    svc_config_resolve_model(cfg->model, cfg->models_dir, cfg->model_path,
                             sizeof cfg->model_path);
    cfg->vad_model_path[0] = '\0';
    cfg->threads = svc_config_threads_per_worker(0, cfg->max_concurrent, mdc_available_cores());
}

int svc_config_threads_per_worker(int threads, int max_concurrent, int cores)
{
    if (threads > 0)
        return threads;
    const int per = cores / (max_concurrent > 0 ? max_concurrent : 1);
    return per > 0 ? per : 1;
}

bool svc_config_vad_default_on(const svc_config *cfg)
{
    if (cfg->vad_mode == SVC_VAD_FALSE || !cfg->vad_model_path[0])
        return false;
    if (cfg->vad_mode == SVC_VAD_TRUE)
        return true;
    struct stat st; /* auto: on when the file is there */
    return stat(cfg->vad_model_path, &st) == 0 && S_ISREG(st.st_mode);
}

vad_params svc_config_vad_params(const svc_config *cfg)
{
    vad_params p = vad_default_params();
    p.threshold = (float)cfg->vad_threshold;
    p.min_speech_duration_ms = cfg->vad_min_speech_ms;
    p.min_silence_duration_ms = cfg->vad_min_silence_ms;
    p.speech_pad_ms = cfg->vad_speech_pad_ms;
    if (cfg->vad_max_speech_s > 0)
        p.max_speech_duration_s = (float)cfg->vad_max_speech_s;
    return p;
}

/* Sets errmsg and returns -1. */
static int fail(char *errmsg, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *errmsg, size_t errlen, const char *fmt, ...)
{
    if (errmsg && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errmsg, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Applies row s, with the message "invalid NAME="VALUE" (WHERE): WHY" on failure. */
static int apply_row(const setting *s, svc_config *cfg, const char *v, const char *where,
                     char *errmsg, size_t errlen)
{
    char why[400];
    why[0] = '\0';
    if (set_apply(s, cfg, v, why, sizeof why) == 0)
        return 0;
    return fail(errmsg, errlen, "invalid %s=\"%.200s\" (%s): %s", s->d.name,
                (s->flags & SET_SECRET) ? "(hidden)" : v, where, why); /* never echo a secret */
}

static int resolve_model_path(svc_config *cfg, char *errmsg, size_t errlen)
{
    svc_config_resolve_model(cfg->model, cfg->models_dir, cfg->model_path,
                             sizeof cfg->model_path);
    if (strlen(cfg->model_path) + 1 >= sizeof cfg->model_path)
        return fail(errmsg, errlen, "invalid WHISPER_MODELS_DIR: the model path is too long");
    cfg->vad_model_path[0] = '\0';
    if (cfg->vad_model[0]) {
        svc_config_resolve_model(cfg->vad_model, cfg->models_dir, cfg->vad_model_path,
                                 sizeof cfg->vad_model_path);
        if (strlen(cfg->vad_model_path) + 1 >= sizeof cfg->vad_model_path)
            return fail(errmsg, errlen, "invalid WHISPER_MODELS_DIR: the VAD model path is too long");
    }
    if (cfg->vad_mode == SVC_VAD_TRUE && !cfg->vad_model[0])
        return fail(errmsg, errlen, "invalid WHISPER_VAD=true: no WHISPER_VAD_MODEL is set "
                                    "(e.g. WHISPER_VAD_MODEL=silero-v6.2.0)");
    return 0;
}

/* After the rows: WHISPER_THREADS=0 becomes the per-worker share of the cores. */
static void resolve_threads(svc_config *cfg)
{
    cfg->threads =
        svc_config_threads_per_worker(cfg->threads, cfg->max_concurrent, mdc_available_cores());
}

int svc_config_check_oversubscribe(const svc_config *cfg, int cores, char *errmsg, size_t errlen)
{
    const long total = (long)cfg->threads * cfg->max_concurrent;
    if (cfg->allow_oversubscribe || total <= cores)
        return 0;
    return fail(errmsg, errlen,
                "WHISPER_THREADS=%d x MAX_CONCURRENT_TRANSCRIPTIONS=%d = %ld compute threads "
                "exceeds the %d cores available: lower them (WHISPER_THREADS=0 gives each "
                "transcription its share) or set WHISPER_ALLOW_OVERSUBSCRIBE=true",
                cfg->threads, cfg->max_concurrent, total, cores);
}

int svc_config_set(svc_config *cfg, const char *name, const char *value, const char *where,
                   char *errmsg, size_t errlen)
{
    const setting *s = find_setting(name, strlen(name));
    if (!s)
        return fail(errmsg, errlen, "unknown setting %s", name);
    if (apply_row(s, cfg, value, where, errmsg, errlen) != 0)
        return -1;
    resolve_threads(cfg);
    return resolve_model_path(cfg, errmsg, errlen);
}

int svc_config_load(svc_config *cfg, char *errmsg, size_t errlen)
{
    char scratch[1];
    if (!errmsg || errlen == 0) {
        errmsg = scratch;
        errlen = sizeof scratch;
    }
    errmsg[0] = '\0';
    svc_config_defaults(cfg);

    env_file ef = {0};
    const char *env_path = getenv("MDC_ENV_FILE");
    bool required = env_path && *env_path;
    if (!required)
        env_path = ".env";
    char msg[600];
    if (env_file_read(env_path, required, &ef, msg, sizeof msg) != 0) {
        env_file_free(&ef);
        return fail(errmsg, errlen, "%s", msg);
    }

    int rc = 0;
    char known[512];
    list_known(known, sizeof known);
    /* Unknown names of ours, first in the file, then in the environment. */
    for (size_t i = 0; i < ef.n && rc == 0; i++) {
        size_t kl = strlen(ef.v[i].key);
        const setting *s = find_setting(ef.v[i].key, kl);
        if (is_unknown_ours(ef.v[i].key, kl))
            rc = fail(errmsg, errlen, "unknown setting %s (%s:%d); known: %s", ef.v[i].key,
                      env_path, ef.v[i].line, known);
        else if (s && (s->flags & SET_ENV_ONLY)) /* refused, never silently ignored */
            rc = fail(errmsg, errlen, "%s (%s:%d) can only be set in the environment",
                      s->d.name, env_path, ef.v[i].line);
    }
    for (char **e = environ; e && *e && rc == 0; e++) {
        const char *eq = strchr(*e, '=');
        if (eq && is_unknown_ours(*e, (size_t)(eq - *e)))
            rc = fail(errmsg, errlen, "unknown setting %.*s (environment); known: %s",
                      (int)(eq - *e > 100 ? 100 : eq - *e), *e, known);
    }

    for (size_t i = 0; i < N_SETTINGS && rc == 0; i++) {
        const setting *s = &k_settings[i];
        const char *v = getenv(s->d.name);
        char where[600];
        snprintf(where, sizeof where, "environment");
        if (!v) {
            const env_entry *e = env_file_get(&ef, s->d.name);
            if (!e)
                continue;
            v = e->value;
            snprintf(where, sizeof where, "%.500s:%d", env_path, e->line);
        }
        rc = apply_row(s, cfg, v, where, errmsg, errlen);
    }
    env_file_free(&ef);
    if (rc != 0)
        return rc;
    resolve_threads(cfg);
    if (svc_config_check_oversubscribe(cfg, mdc_available_cores(), errmsg, errlen) != 0)
        return -1;
    return resolve_model_path(cfg, errmsg, errlen);
}

int svc_config_get(const svc_config *cfg, const char *name, char *buf, size_t len)
{
    const setting *s = find_setting(name, strlen(name));
    if (!s || !buf || len == 0 || (s->flags & SET_SECRET))
        return -1;
    const void *f = (const char *)cfg + s->off;
    switch (s->type) {
    case SET_STRING: snprintf(buf, len, "%s", (const char *)f); break;
    case SET_INT: snprintf(buf, len, "%d", *(const int *)f); break;
    case SET_MIB:
        snprintf(buf, len, "%llu", (unsigned long long)(*(const uint64_t *)f >> 20));
        break;
    case SET_NUMBER: snprintf(buf, len, "%g", *(const double *)f); break;
    case SET_BOOL: snprintf(buf, len, "%s", *(const bool *)f ? "true" : "false"); break;
    case SET_CHOICE: {
        int idx = s->size == sizeof(bool) ? (int)*(const bool *)f : *(const int *)f;
        const char *p = s->choices;
        for (int i = 0; i < idx && p; i++) {
            p = strchr(p, '|');
            p = p ? p + 1 : NULL;
        }
        if (!p)
            return -1;
        snprintf(buf, len, "%.*s", (int)strcspn(p, "|"), p);
        break;
    }
    }
    return 0;
}

/* ---- documentation from the table ---------------------------------------------------- */

/* The accepted values of row s in words. */
static void describe_allowed(const setting *s, char *buf, size_t len)
{
    if (s->d.allowed) {
        snprintf(buf, len, "%s", s->d.allowed);
        return;
    }
    switch (s->type) {
    case SET_INT:
    case SET_MIB: snprintf(buf, len, "integer %.0f-%.0f", s->lo, s->hi); break;
    case SET_NUMBER:
        snprintf(buf, len, "number %s %g, at most %g", (s->flags & SET_LO_OPEN) ? ">" : ">=",
                 s->lo, s->hi);
        break;
    case SET_BOOL: snprintf(buf, len, "true|false|1|0|yes|no|on|off"); break;
    case SET_CHOICE: snprintf(buf, len, "%s", s->choices); break;
    case SET_STRING: snprintf(buf, len, "text"); break;
    }
}

/* Writes `text` as "# "-prefixed comment lines of at most 90 columns. */
static void write_wrapped_comment(FILE *f, const char *text)
{
    const char *p = text;
    while (*p) {
        size_t take = strlen(p);
        if (take > 88) {
            take = 88;
            while (take > 0 && p[take] != ' ')
                take--;
            if (take == 0)
                take = strcspn(p, " ");
        }
        fprintf(f, "# %.*s\n", (int)take, p);
        p += take;
        while (*p == ' ')
            p++;
    }
}

void svc_settings_write_env_example(FILE *f)
{
    fputs("# md-converter settings (generated from src/service/config.c by\n"
          "# `md-converter settings env`; do not edit by hand).  Copy to .env (read from the\n"
          "# working directory; another file: MDC_ENV_FILE=/path/to/file) or set them in the\n"
          "# environment, which wins over .env.  Every value is validated at start-up (serve\n"
          "# and transcribe alike): a bad value, or an unknown WHISPER_* / MDC_* name, stops\n"
          "# with a message naming the variable and the accepted values.\n"
          "# Syntax: KEY=VALUE, # comments, optional `export `, \"double\" or 'single' quotes.\n"
          "# The values below are the defaults.\n",
          f);
    const char *section = NULL;
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const setting *s = &k_settings[i];
        if (!section || strcmp(section, s->d.section) != 0) {
            section = s->d.section;
            fprintf(f, "\n# --- %s ", section);
            for (size_t k = strlen(section) + 7; k < 90; k++)
                fputc('-', f);
            fputc('\n', f);
        }
        char allowed[160], text[1200];
        describe_allowed(s, allowed, sizeof allowed);
        snprintf(text, sizeof text, "%s Accepted: %s.%s", s->d.doc, allowed,
                 (s->flags & SET_CLI) ? " Also used by `transcribe`." : "");
        write_wrapped_comment(f, text);
        fprintf(f, "%s%s=%s\n", (s->flags & SET_ENV_ONLY) ? "#" : "", s->d.name, s->d.def);
    }
}

/* Writes text into a Markdown table cell ('|' escaped). */
static void md_cell(FILE *f, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '|')
            fputs("\\|", f);
        else
            fputc(*p, f);
    }
}

void svc_settings_write_markdown(FILE *f)
{
    fputs("| variable | default | accepted | meaning |\n|---|---|---|---|\n", f);
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const setting *s = &k_settings[i];
        char allowed[160];
        describe_allowed(s, allowed, sizeof allowed);
        fprintf(f, "| `%s` | %s%s%s | ", s->d.name, *s->d.def ? "`" : "",
                *s->d.def ? s->d.def : "empty", *s->d.def ? "`" : "");
        md_cell(f, allowed);
        fputs(" | ", f);
        md_cell(f, s->d.doc);
        fputs((s->flags & SET_CLI) ? " Also used by `transcribe`. |\n" : " |\n", f);
    }
}
