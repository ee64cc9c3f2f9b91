/*
 * http_basic.c — the small handlers: /health, /ready, /metrics, /v1/models, the page's
 * settings at /config and the web page's files (/, /app.js, /favicon.svg).  None of
 * them touches the model (only the holder's state), so they answer in microseconds
 * whatever the workers are doing.
 */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mdc/log.h"
#include "mdc/version.h"
#include "mdc/whisper.h"
#include "routes.h"
#include "tmpdir.h"

enum MHD_Result http_health(svc_server *srv, http_req *req)
{
    (void)srv;
    static const char body[] = "{\"status\":\"ok\"}\n";
    return http_send(req, 200, "application/json", body, sizeof body - 1, NULL, NULL);
}

const char *http_model_file_problem(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return errno == ENOENT ? "file not found" : strerror(errno);
    if (!S_ISREG(st.st_mode))
        return "not a regular file";
    if (access(path, R_OK) != 0)
        return strerror(errno);
    return NULL;
}

/* For the public /ready when API_KEY is set (issue 8 item 8: no server paths): every
 * occurrence of the model path becomes its file name, and the settings context
 * " (WHISPER_MODEL=…)" that names directories is cut. */
static void hide_paths(char *msg, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t pl = strlen(path), bl = strlen(base);
    char *hit;
    while (pl > bl && (hit = strstr(msg, path)) != NULL) {
        memmove(hit + bl, hit + pl, strlen(hit + pl) + 1);
        memcpy(hit, base, bl);
    }
    char *ctx = strstr(msg, " (WHISPER_MODEL");
    if (ctx)
        *ctx = '\0';
}

enum MHD_Result http_ready(svc_server *srv, http_req *req)
{
    holder_state st = holder_get_state(srv->holder);
    char err[512];
    holder_last_error(srv->holder, err, sizeof err);
    bool preload = srv->cfg->preload;
    bool hide = srv->cfg->api_key[0] != '\0';
    /* Ready = a transcription would not wait for a load that WHISPER_PRELOAD promised:
     * the model has loaded once (a later idle unload keeps it ready) and is not failed.
     * This does not ask whether the preload thread started: /health and /ready answer
     * from the moment the listener is up, a moment before the preload is requested.
     * Lazy mode promises nothing but needs the file: ready at once when the file can be
     * read, the first request loads.  Not loaded and the file unreadable = "missing",
     * not ready in either mode (every transcription would fail), checked on each call
     * so the replica turns ready as soon as the file appears. */
    const char *problem = NULL;
    if (st == HOLDER_UNLOADED || st == HOLDER_FAILED)
        problem = http_model_file_problem(holder_path(srv->holder));
    bool ready = !preload || (holder_loads_total(srv->holder) > 0 && st != HOLDER_FAILED);
    /* the VAD model counts the same way when requests use it by default */
    if (preload && srv->vad_default && srv->vad_holder &&
        (holder_loads_total(srv->vad_holder) == 0 ||
         holder_get_state(srv->vad_holder) == HOLDER_FAILED))
        ready = false;
    if (problem || atomic_load(&srv->stopping))
        ready = false;
    bool store_ok = jobs_healthy(srv->jobs);
    if (!store_ok)
        ready = false;
    char tmp_why[128];
    bool can_store = tmpd_check(srv->cfg->tmp_dir, tmp_why, sizeof tmp_why);
    if (!can_store)
        ready = false; /* every upload would fail: take no traffic */
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "status", ready ? "ready" : "not_ready",
                          "mode", preload ? "preload" : "lazy", "model", holder_name(srv->holder),
                          "model_state", problem ? "missing" : holder_state_name(st));
    if (o && problem) {
        json_object_set_new(o, "model_file_error", json_string(problem));
        if (!hide)
            json_object_set_new(o, "model_path", json_string(holder_path(srv->holder)));
    }
    if (o && err[0]) {
        if (hide)
            hide_paths(err, holder_path(srv->holder));
        json_object_set_new(o, "last_error", json_string(err));
    }
    if (o && !store_ok)
        json_object_set_new(o, "jobs_store", json_string("unavailable: Redis (JOBS_REDIS_URL) "
                                                         "cannot be reached"));
    if (o && !can_store)
        json_object_set_new(o, "uploads", json_string(tmp_why));
    if (o && !preload && st == HOLDER_UNLOADED && !problem)
        json_object_set_new(o, "note", json_string("lazy loading: the model loads on the first "
                                                   "transcription"));
    if (o && srv->vad_holder) {
        char verr[512];
        holder_last_error(srv->vad_holder, verr, sizeof verr);
        json_t *v = json_pack("{s:s, s:s, s:b}", "model", holder_name(srv->vad_holder), "state",
                              holder_state_name(holder_get_state(srv->vad_holder)), "default",
                              srv->vad_default);
        if (v && verr[0])
            json_object_set_new(v, "last_error", json_string(verr));
        json_object_set_new(o, "vad", v);
    }
    return http_send_json(req, ready ? 200 : 503, o);
}

enum MHD_Result http_metrics(svc_server *srv, http_req *req)
{
    char *txt = NULL;
    size_t len = 0;
    if (met_render(srv->registry, &txt, &len) != 0)
        return http_send_error(req, 500, "internal_error", "cannot render metrics");
    return http_send_owned(req, 200, "text/plain; version=0.0.4; charset=utf-8", txt, len);
}

/* OpenAI's alias for its Whisper model: clients configured for OpenAI ask for it. */
#define HTTP__OPENAI_MODEL_ID "whisper-1"

bool http_model_known(svc_server *srv, const char *id)
{
    return strcmp(id, HTTP__OPENAI_MODEL_ID) == 0 || strcmp(id, holder_name(srv->holder)) == 0;
}

/* OpenAI's model object {id, object: "model", created, owned_by} (ref: the official Node
 * SDK's resources/models.d.ts `Model`) plus ours: state, file, loads_total, weight_type
 * (null until the first load).  `created` is the model file's modification time (Unix
 * seconds), 0 when it cannot be read. */
static json_t *model_object(svc_server *srv, const char *id)
{
    holder_state st = holder_get_state(srv->holder);
    const char *path = holder_path(srv->holder);
    const char *base = path ? strrchr(path, '/') : NULL;
    struct stat sb;
    json_int_t created = path && stat(path, &sb) == 0 ? (json_int_t)sb.st_mtime : 0;
    json_t *m = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:I}", "id", id, "object", "model",
                          "created", created, "owned_by", "md-converter", "state",
                          holder_state_name(st), "file", base ? base + 1 : (path ? path : ""),
                          "loads_total", (json_int_t)holder_loads_total(srv->holder));
    const char *wt = holder_weight_type(srv->holder); /* null until the first load */
    if (m)
        json_object_set_new(m, "weight_type", wt ? json_string(wt) : json_null());
    return m;
}

enum MHD_Result http_models(svc_server *srv, http_req *req)
{
    const char *name = holder_name(srv->holder);
    json_t *data = json_array();
    if (data)
        json_array_append_new(data, model_object(srv, name));
    if (data && strcmp(name, HTTP__OPENAI_MODEL_ID) != 0)
        json_array_append_new(data, model_object(srv, HTTP__OPENAI_MODEL_ID));
    json_t *o = data ? json_pack("{s:s, s:o}", "object", "list", "data", data) : NULL;
    if (!o)
        return http_send_error(req, 500, "internal_error", "out of memory");
    return http_send_json(req, 200, o);
}

enum MHD_Result http_model_get(svc_server *srv, http_req *req)
{
    if (!http_model_known(srv, req->id))
        return http_send_model_not_found(req, req->id);
    json_t *o = model_object(srv, req->id);
    if (!o)
        return http_send_error(req, 500, "internal_error", "out of memory");
    return http_send_json(req, 200, o);
}

enum MHD_Result http_send_model_not_found(http_req *req, const char *id)
{
    /* OpenAI's answer for a model it does not have: 404, code model_not_found */
    return http_send_error_param(req, 404, "model_not_found", "model",
                                 "the model \"%.64s\" does not exist: this server runs \"%.64s\" "
                                 "(also available as \"" HTTP__OPENAI_MODEL_ID "\"; GET /v1/models "
                                 "lists both)",
                                 id, holder_name(req->srv->holder));
}

/* ---- the page's settings ------------------------------------------------------ */

/* GET /config (public, like the page itself): what the page needs to build its form —
 *   {"version":"0.1.0", "report_locale":"pt-BR" (REPORT_LOCALE), "report_locales":
 *    ["pt-BR","en"], "languages":[{"code":"en","name":"english"},…] (the engine's
 *    language table, Whisper's order; "auto" is not listed), "limits":{"max_upload_mb",
 *    "max_upload_bytes", "max_audio_seconds" (0 = no limit)}, "api_key_required":bool}.
 * Never the key, paths or the model file. */
enum MHD_Result http_config(svc_server *srv, http_req *req)
{
    const svc_config *cfg = srv->cfg;
    json_t *langs = json_array();
    for (int id = 0; langs && wsp_lang_code(id); id++)
        json_array_append_new(langs, json_pack("{s:s, s:s}", "code", wsp_lang_code(id), "name",
                                               wsp_lang_name(id) ? wsp_lang_name(id) : ""));
    json_t *locales = json_array();
    for (int l = RPT_LOCALE_PT_BR; locales && l <= RPT_LOCALE_EN; l++)
        json_array_append_new(locales, json_string(rpt_locale_name((rpt_locale)l)));
    const char *def = rpt_locale_name(cfg->report_locale);
    json_t *o = json_pack("{s:s, s:s, s:o, s:o, s:{s:I, s:I, s:f}, s:b}", "version", MDC_VERSION,
                          "report_locale", def ? def : "pt-BR", "report_locales", locales,
                          "languages", langs, "limits", "max_upload_mb",
                          (json_int_t)(cfg->max_upload_bytes / (1024 * 1024)), "max_upload_bytes",
                          (json_int_t)cfg->max_upload_bytes, "max_audio_seconds",
                          cfg->max_audio_seconds, "api_key_required", cfg->api_key[0] != '\0');
    if (!o)
        return http_send_error(req, 500, "internal_error", "out of memory");
    /* voice-activity detection: whether a VAD model is configured (vad=true allowed) and
     * whether requests use it when they do not say */
    json_object_set_new(o, "vad", json_pack("{s:b, s:b}", "available", srv->vad_holder != NULL,
                                            "default", srv->vad_default));
    return http_send_json(req, 200, o);
}

/* ---- the web page ------------------------------------------------------------- */

static const char k_fallback_page[] =
    "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>md-converter</title>"
    "<h1>md-converter</h1><p>The upload page (web/index.html) was not found; set WEB_DIR. "
    "The API works: <code>curl -F file=@meeting.m4a http://HOST/relatorio/process-meeting"
    "</code></p></html>\n";

/* The page's files: route path → file in the web directory.  Loaded once, on the first
 * request for any of them, from the directory where index.html was found. */
typedef struct web_file {
    const char *url, *name, *mime;
    char *body;
    size_t len;
} web_file;

static web_file g_web_files[] = {
    {"/", "index.html", "text/html; charset=utf-8", NULL, 0},
    {"/app.js", "app.js", "text/javascript; charset=utf-8", NULL, 0},
    {"/favicon.svg", "favicon.svg", "image/svg+xml", NULL, 0},
};
#define N_WEB_FILES (sizeof g_web_files / sizeof g_web_files[0])

static pthread_once_t page_once = PTHREAD_ONCE_INIT;

static char *read_small_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 > cap) {
            if (cap >= (1u << 20)) { /* a page, not a file server */
                free(buf);
                fclose(f);
                return NULL;
            }
            cap = cap ? cap * 2 : 16384;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* WEB_DIR for load_page (set by http_web_file, on the one MHD thread, before the once). */
static const char *page_web_dir;

/* Looks for index.html in $WEB_DIR, then next to the binary in the build tree
 * (<bin>/../web) and in an installed layout (<bin>/../share/md-converter/web); the other
 * files come from the same directory. */
static void load_page(void)
{
    char cands[4][PATH_MAX + 64];
    int n = 0;
    const char *env = page_web_dir;
    if (env && *env)
        snprintf(cands[n++], sizeof cands[0], "%s", env);
    char exe[PATH_MAX];
    ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (l > 0) {
        exe[l] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        snprintf(cands[n++], sizeof cands[0], "%s/../web", exe);
        snprintf(cands[n++], sizeof cands[0], "%s/../share/md-converter/web", exe);
        snprintf(cands[n++], sizeof cands[0], "%s/web", exe);
    }
    char path[sizeof cands[0] + 32];
    for (int i = 0; i < n && !g_web_files[0].body; i++) {
        snprintf(path, sizeof path, "%.*s/%s", (int)sizeof cands[0], cands[i],
                 g_web_files[0].name);
        g_web_files[0].body = read_small_file(path, &g_web_files[0].len);
        if (!g_web_files[0].body)
            continue;
        MDC_LOG_INFO("web page: %s", path);
        for (size_t k = 1; k < N_WEB_FILES; k++) {
            snprintf(path, sizeof path, "%.*s/%s", (int)sizeof cands[0], cands[i],
                     g_web_files[k].name);
            g_web_files[k].body = read_small_file(path, &g_web_files[k].len);
            if (!g_web_files[k].body)
                MDC_LOG_WARN("web page file %s not found (404)", path);
        }
    }
    if (!g_web_files[0].body)
        MDC_LOG_WARN("web page index.html not found (set WEB_DIR); serving a placeholder");
}

/* GET /, /app.js, /favicon.svg: the page's files (the route's pattern picks the file). */
enum MHD_Result http_web_file(svc_server *srv, http_req *req)
{
    page_web_dir = srv->cfg->web_dir;
    pthread_once(&page_once, load_page);
    for (size_t k = 0; k < N_WEB_FILES; k++) {
        const web_file *f = &g_web_files[k];
        if (strcmp(f->url, req->route->pattern) != 0)
            continue;
        if (f->body)
            return http_send(req, 200, f->mime, f->body, f->len, NULL, NULL);
        if (k == 0)
            return http_send(req, 200, "text/html; charset=utf-8", k_fallback_page,
                             sizeof k_fallback_page - 1, NULL, NULL);
        break;
    }
    return http_send_error(req, 404, "not_found", "no such file (the web directory lacks it)");
}
