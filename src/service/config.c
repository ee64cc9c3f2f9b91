/*
 * config.c — service settings from the environment and ./.env (see config.h, DESIGN §4).
 *
 * Order: defaults → the .env file → the process environment (the environment wins).
 * Every variable has one row in k_vars: its name and a parser that validates the text
 * and stores it in svc_config; a parser returns 0 or -1 with a message naming the
 * accepted values, to which the loader prepends the variable, its value and its source.
 */
#include "config.h"

#include "mdc/cpu.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

extern char **environ;

/* ---- value parsers ---------------------------------------------------------- */

typedef int (*parse_fn)(svc_config *cfg, const char *v, char *why, size_t whylen);

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

/* Parses a finite decimal number in (lo, hi] (lo exclusive when lo_open). */
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

static int bool_field(bool *dst, const char *v, char *why, size_t whylen)
{
    if (svc_config_parse_bool(v, dst) != 0) {
        snprintf(why, whylen, "expected true|false|1|0|yes|no");
        return -1;
    }
    return 0;
}

/* Copies a string into a fixed field; fails when it does not fit. */
static int str_field(char *dst, size_t cap, const char *v, bool allow_empty, char *why,
                     size_t whylen)
{
    size_t n = strlen(v);
    if (n >= cap) {
        snprintf(why, whylen, "too long (at most %zu bytes)", cap - 1);
        return -1;
    }
    if (!allow_empty && n == 0) {
        snprintf(why, whylen, "must not be empty");
        return -1;
    }
    memcpy(dst, v, n + 1);
    return 0;
}

#define INT_PARSER(fn, field, lo, hi)                                            \
    static int fn(svc_config *cfg, const char *v, char *why, size_t whylen)      \
    {                                                                            \
        long x;                                                                  \
        if (parse_int(v, lo, hi, &x, why, whylen) != 0)                          \
            return -1;                                                           \
        cfg->field = (int)x;                                                     \
        return 0;                                                                \
    }

INT_PARSER(p_port, port, 0, 65535)
INT_PARSER(p_idle, idle_unload_seconds, 0, 31536000)
INT_PARSER(p_maxconc, max_concurrent, 1, 256)
INT_PARSER(p_queue, queue_length, 0, 100000)
INT_PARSER(p_timeout, request_timeout_seconds, 1, 604800)
INT_PARSER(p_retry, load_retry_backoff_ms, 0, 3600000)

static int p_threads(svc_config *cfg, const char *v, char *why, size_t whylen)
{
    long x;
    if (parse_int(v, 0, 1024, &x, why, whylen) != 0) {
        snprintf(why, whylen, "expected an integer from 1 to 1024, or 0 for the available cores");
        return -1;
    }
    cfg->threads = x == 0 ? svc_config_default_threads() : (int)x;
    return 0;
}

static int p_upload(svc_config *cfg, const char *v, char *why, size_t whylen)
{
    long x;
    if (parse_int(v, 1, 1048576, &x, why, whylen) != 0)
        return -1;
    cfg->max_upload_bytes = (uint64_t)x * 1024 * 1024;
    return 0;
}

static int p_audio_s(svc_config *cfg, const char *v, char *why, size_t whylen)
{
    return parse_num(v, 0, 7 * 86400, true, &cfg->max_audio_seconds, why, whylen);
}

static int p_delay(svc_config *cfg, const char *v, char *why, size_t whylen)
{
    return parse_num(v, 0, 600000, false, &cfg->load_delay_ms, why, whylen);
}

static int p_preload(svc_config *cfg, const char *v, char *why, size_t whylen)
{
    return bool_field(&cfg->preload, v, why, whylen);
}

static int p_host(svc_config *cfg, const char *v, char *why, size_t whylen)
{
    for (const char *p = v; *p; p++) {
        if (isspace((unsigned char)*p)) {
            snprintf(why, whylen, "expected a host name or IP address without spaces");
            return -1;
        }
    }
    return str_field(cfg->host, sizeof cfg->host, v, false, why, whylen);
}

static int p_model(svc_config *cfg, const char *v, char *why, size_t whylen)
{
    if (str_field(cfg->model, sizeof cfg->model, v, false, why, whylen) != 0)
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

static int p_models_dir(svc_config *cfg, const char *v, char *why, size_t whylen)
{
    return str_field(cfg->models_dir, sizeof cfg->models_dir, v, false, why, whylen);
}

static int p_api_key(svc_config *cfg, const char *v, char *why, size_t whylen)
{
    for (const char *p = v; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            snprintf(why, whylen, "expected printable characters without spaces");
            return -1;
        }
    }
    return str_field(cfg->api_key, sizeof cfg->api_key, v, true, why, whylen);
}

static int p_locale(svc_config *cfg, const char *v, char *why, size_t whylen)
{
    if (strcasecmp(v, "pt-BR") == 0 || strcasecmp(v, "pt_BR") == 0 || strcasecmp(v, "pt") == 0)
        v = "pt-BR";
    else if (strcasecmp(v, "en") == 0)
        v = "en";
    else {
        snprintf(why, whylen, "expected pt-BR|en");
        return -1;
    }
    snprintf(cfg->report_locale, sizeof cfg->report_locale, "%s", v);
    return 0;
}

static int p_log_format(svc_config *cfg, const char *v, char *why, size_t whylen)
{
    if (strcasecmp(v, "text") == 0)
        cfg->log_json = false;
    else if (strcasecmp(v, "json") == 0)
        cfg->log_json = true;
    else {
        snprintf(why, whylen, "expected text|json");
        return -1;
    }
    return 0;
}

static int p_log_level(svc_config *cfg, const char *v, char *why, size_t whylen)
{
    static const char *const levels[] = {"debug", "info", "warn", "error"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, levels[i]) == 0) {
            snprintf(cfg->log_level, sizeof cfg->log_level, "%s", levels[i]);
            return 0;
        }
    }
    snprintf(why, whylen, "expected debug|info|warn|error");
    return -1;
}

static int p_tmpdir(svc_config *cfg, const char *v, char *why, size_t whylen)
{
    return str_field(cfg->tmp_dir, sizeof cfg->tmp_dir, v, false, why, whylen);
}

/* "*" alone, or a comma-separated list of origins scheme://host[:port] (RFC 6454: no path,
 * no query).  Stored without spaces or a trailing '/', so it compares with a browser's
 * Origin header as is. */
static int p_cors(svc_config *cfg, const char *v, char *why, size_t whylen)
{
    char out[sizeof cfg->cors_allow_origins];
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
    snprintf(cfg->cors_allow_origins, sizeof cfg->cors_allow_origins, "%s", out);
    return 0;
}

/* Read elsewhere (MDC_ENV_FILE by the loader itself); accepted, not stored. */
static int p_ignore(svc_config *cfg, const char *v, char *why, size_t whylen) { return 0; }

typedef struct var_def {
    const char *name;
    parse_fn parse;
} var_def;

/* Every variable the service reads.  MODEL before MODELS_DIR does not matter: the
 * path is resolved after all of them are parsed. */
static const var_def k_vars[] = {
    {"HOST", p_host},
    {"PORT", p_port},
    {"WHISPER_MODEL", p_model},
    {"WHISPER_MODELS_DIR", p_models_dir},
    {"WHISPER_PRELOAD", p_preload},
    {"WHISPER_IDLE_UNLOAD_SECONDS", p_idle},
    {"WHISPER_THREADS", p_threads},
    {"WHISPER_LOAD_RETRY_MS", p_retry},
    {"MAX_CONCURRENT_TRANSCRIPTIONS", p_maxconc},
    {"QUEUE_LENGTH", p_queue},
    {"MAX_UPLOAD_MB", p_upload},
    {"MAX_AUDIO_SECONDS", p_audio_s},
    {"REQUEST_TIMEOUT_SECONDS", p_timeout},
    {"API_KEY", p_api_key},
    {"REPORT_LOCALE", p_locale},
    {"LOG_FORMAT", p_log_format},
    {"LOG_LEVEL", p_log_level},
    {"MDC_TEST_LOAD_DELAY_MS", p_delay},
    {"TMPDIR", p_tmpdir},
    {"CORS_ALLOW_ORIGINS", p_cors},
    {"MDC_ENV_FILE", p_ignore},
};
#define N_VARS (sizeof k_vars / sizeof k_vars[0])

/* MDC_* names that belong to the test harness (tests/run.sh), to other modules
 * (MDC_AUDIO_PLUGIN: src/audio/plugin/loader.c; MDC_KERNELS: the engine's kernel choice)
 * or other tools; never reported as unknown.  Any MDC_TEST_* is also tolerated. */
static const char *const k_foreign_mdc[] = {"MDC_SHARED_DIR", "MDC_BUILD_DIR", "MDC_MODELS_DIR",
                                           "MDC_SANITIZE",   "MDC_AUDIO_PLUGIN", "MDC_KERNELS"};

static const var_def *find_var(const char *name, size_t len)
{
    for (size_t i = 0; i < N_VARS; i++)
        if (strlen(k_vars[i].name) == len && strncmp(k_vars[i].name, name, len) == 0)
            return &k_vars[i];
    return NULL;
}

/* True for WHISPER_* / MDC_* names we do not know (typos such as WHISPER_PRELAOD). */
static bool is_unknown_ours(const char *name, size_t len)
{
    bool ours = (len > 8 && strncmp(name, "WHISPER_", 8) == 0) ||
                (len > 4 && strncmp(name, "MDC_", 4) == 0);
    if (!ours || find_var(name, len))
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
    for (size_t i = 0; i < N_VARS && off < len; i++) {
        if (strncmp(k_vars[i].name, "WHISPER_", 8) != 0 && strncmp(k_vars[i].name, "MDC_", 4) != 0)
            continue;
        int n = snprintf(buf + off, len - off, "%s%s", off ? ", " : "", k_vars[i].name);
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
    static const char *const quants[] = {"-q4_0", "-q4_1", "-q5_0", "-q5_1", "-q8_0"};
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
        for (size_t q = 0; q < sizeof quants / sizeof quants[0]; q++)
            if (strcmp(rest, quants[q]) == 0)
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
    snprintf(cfg->host, sizeof cfg->host, "0.0.0.0");
    cfg->port = 8080;
    snprintf(cfg->model, sizeof cfg->model, "base");
    snprintf(cfg->models_dir, sizeof cfg->models_dir, "models");
    cfg->preload = false;
    cfg->idle_unload_seconds = 0;
    cfg->threads = svc_config_default_threads();
    cfg->max_concurrent = 1;
    cfg->queue_length = 8;
    cfg->max_upload_bytes = (uint64_t)200 * 1024 * 1024;
    cfg->max_audio_seconds = 10800;
    cfg->request_timeout_seconds = 3600;
    snprintf(cfg->report_locale, sizeof cfg->report_locale, "pt-BR");
    cfg->log_json = false;
    snprintf(cfg->log_level, sizeof cfg->log_level, "info");
    cfg->load_delay_ms = 0;
    cfg->load_retry_backoff_ms = 2000;
    snprintf(cfg->tmp_dir, sizeof cfg->tmp_dir, "/tmp");
    svc_config_resolve_model(cfg->model, cfg->models_dir, cfg->model_path,
                             sizeof cfg->model_path);
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
        if (is_unknown_ours(ef.v[i].key, strlen(ef.v[i].key)))
            rc = fail(errmsg, errlen, "unknown setting %s (%s:%d); known: %s", ef.v[i].key,
                      env_path, ef.v[i].line, known);
    }
    for (char **e = environ; e && *e && rc == 0; e++) {
        const char *eq = strchr(*e, '=');
        if (eq && is_unknown_ours(*e, (size_t)(eq - *e)))
            rc = fail(errmsg, errlen, "unknown setting %.*s (environment); known: %s",
                      (int)(eq - *e > 100 ? 100 : eq - *e), *e, known);
    }

    for (size_t i = 0; i < N_VARS && rc == 0; i++) {
        const char *v = getenv(k_vars[i].name);
        char where[600];
        snprintf(where, sizeof where, "environment");
        if (!v) {
            const env_entry *e = env_file_get(&ef, k_vars[i].name);
            if (!e)
                continue;
            v = e->value;
            snprintf(where, sizeof where, "%.500s:%d", env_path, e->line);
        }
        char why[400];
        why[0] = '\0';
        if (k_vars[i].parse(cfg, v, why, sizeof why) != 0) {
            bool secret = strcmp(k_vars[i].name, "API_KEY") == 0; /* never echo a secret */
            rc = fail(errmsg, errlen, "invalid %s=\"%.200s\" (%s): %s", k_vars[i].name,
                      secret ? "(hidden)" : v, where, why);
        }
    }
    env_file_free(&ef);
    if (rc != 0)
        return rc;

    svc_config_resolve_model(cfg->model, cfg->models_dir, cfg->model_path,
                             sizeof cfg->model_path);
    if (strlen(cfg->model_path) + 1 >= sizeof cfg->model_path)
        return fail(errmsg, errlen, "invalid WHISPER_MODELS_DIR: the model path is too long");
    return 0;
}
