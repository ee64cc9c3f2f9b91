/*
 * http_basic.c — the small handlers: /health, /ready, /metrics, /v1/models and the web
 * page at /.  None of them touches the model (only the holder's state), so they answer
 * in microseconds whatever the workers are doing.
 */
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mdc/log.h"
#include "routes.h"

enum MHD_Result http_health(svc_server *srv, http_req *req)
{
    (void)srv;
    static const char body[] = "{\"status\":\"ok\"}\n";
    return http_send(req, 200, "application/json", body, sizeof body - 1, NULL, NULL);
}

enum MHD_Result http_ready(svc_server *srv, http_req *req)
{
    holder_state st = holder_get_state(srv->holder);
    char err[512];
    holder_last_error(srv->holder, err, sizeof err);
    bool preload = srv->cfg->preload;
    /* Ready = a transcription would not wait for a load that WHISPER_PRELOAD promised:
     * the model has loaded once (a later idle unload keeps it ready) and is not failed.
     * This does not ask whether the preload thread started: /health and /ready answer
     * from the moment the listener is up, a moment before the preload is requested.
     * Lazy mode promises nothing: ready at once, the first request loads. */
    bool ready = !preload || (holder_loads_total(srv->holder) > 0 && st != HOLDER_FAILED);
    if (atomic_load(&srv->stopping))
        ready = false;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "status", ready ? "ready" : "not_ready",
                          "mode", preload ? "preload" : "lazy", "model", holder_name(srv->holder),
                          "model_state", holder_state_name(st));
    if (o && err[0])
        json_object_set_new(o, "last_error", json_string(err));
    if (o && !preload && st == HOLDER_UNLOADED)
        json_object_set_new(o, "note", json_string("lazy loading: the model loads on the first "
                                                   "transcription"));
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
 * SDK's resources/models.d.ts `Model`) plus ours: state, file, loads_total.  `created` is
 * the model file's modification time (Unix seconds), 0 when it cannot be read. */
static json_t *model_object(svc_server *srv, const char *id)
{
    holder_state st = holder_get_state(srv->holder);
    const char *path = holder_path(srv->holder);
    const char *base = path ? strrchr(path, '/') : NULL;
    struct stat sb;
    json_int_t created = path && stat(path, &sb) == 0 ? (json_int_t)sb.st_mtime : 0;
    return json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:I}", "id", id, "object", "model",
                     "created", created, "owned_by", "md-converter", "state",
                     holder_state_name(st), "file", base ? base + 1 : (path ? path : ""),
                     "loads_total", (json_int_t)holder_loads_total(srv->holder));
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

/* ---- the web page ------------------------------------------------------------- */

static const char k_fallback_page[] =
    "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>md-converter</title>"
    "<h1>md-converter</h1><p>The upload page (web/index.html) was not found; set WEB_DIR. "
    "The API works: <code>curl -F file=@meeting.m4a http://HOST/relatorio/process-meeting"
    "</code></p></html>\n";

static pthread_once_t page_once = PTHREAD_ONCE_INIT;
static char *page_body;
static size_t page_len;

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

/* WEB_DIR for load_page (set by http_index, on the one MHD thread, before the once). */
static const char *page_web_dir;

/* Looks for index.html in $WEB_DIR, then next to the binary in the build tree
 * (<bin>/../web) and in an installed layout (<bin>/../share/md-converter/web). */
static void load_page(void)
{
    char cands[4][PATH_MAX + 64];
    int n = 0;
    const char *env = page_web_dir;
    if (env && *env)
        snprintf(cands[n++], sizeof cands[0], "%s/index.html", env);
    char exe[PATH_MAX];
    ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (l > 0) {
        exe[l] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        snprintf(cands[n++], sizeof cands[0], "%s/../web/index.html", exe);
        snprintf(cands[n++], sizeof cands[0], "%s/../share/md-converter/web/index.html", exe);
        snprintf(cands[n++], sizeof cands[0], "%s/web/index.html", exe);
    }
    for (int i = 0; i < n && !page_body; i++) {
        page_body = read_small_file(cands[i], &page_len);
        if (page_body)
            MDC_LOG_INFO("web page: %s", cands[i]);
    }
    if (!page_body)
        MDC_LOG_WARN("web page index.html not found (set WEB_DIR); serving a placeholder");
}

enum MHD_Result http_index(svc_server *srv, http_req *req)
{
    page_web_dir = srv->cfg->web_dir;
    pthread_once(&page_once, load_page);
    if (page_body)
        return http_send(req, 200, "text/html; charset=utf-8", page_body, page_len, NULL, NULL);
    return http_send(req, 200, "text/html; charset=utf-8", k_fallback_page,
                     sizeof k_fallback_page - 1, NULL, NULL);
}
