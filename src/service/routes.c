/*
 * routes.c — the one flat route table of the service (DESIGN §3) and its matcher.
 */
#include "routes.h"

#include <stdio.h>
#include <string.h>

static const http_route k_routes[] = {
    /* method  pattern                        handler                 flags        endpoint */
    {"GET", "/health", http_health, ROUTE_PUBLIC | ROUTE_PROBE, NULL},
    {"GET", "/ready", http_ready, ROUTE_PUBLIC | ROUTE_PROBE, NULL},
    {"GET", "/", http_web_file, ROUTE_PUBLIC, NULL},
    {"GET", "/app.js", http_web_file, ROUTE_PUBLIC, NULL},
    {"GET", "/favicon.svg", http_web_file, ROUTE_PUBLIC, NULL},
    {"GET", "/config", http_config, ROUTE_PUBLIC, NULL},
    {"GET", "/metrics", http_metrics, ROUTE_PROBE, NULL},
    {"POST", "/relatorio/process-meeting", http_process_meeting, ROUTE_UPLOAD, "process-meeting"},
    {"POST", "/v1/audio/transcriptions", http_openai_transcribe, ROUTE_UPLOAD, "transcriptions"},
    {"POST", "/v1/audio/translations", http_openai_transcribe, ROUTE_UPLOAD, "translations"},
    {"GET", "/v1/models", http_models, 0, NULL},
    {"GET", "/v1/models/{id}", http_model_get, 0, NULL},
    {"POST", "/jobs", http_jobs_create, ROUTE_UPLOAD | ROUTE_STORE, "jobs"},
    {"GET", "/jobs", http_jobs_list, ROUTE_STORE, NULL},
    {"DELETE", "/jobs/{id}", http_jobs_delete, ROUTE_STORE, NULL},
    {"GET", "/jobs/{id}", http_jobs_status, ROUTE_STORE, NULL},
    {"GET", "/jobs/{id}/events", http_jobs_events, ROUTE_STORE, NULL},
    {"GET", "/jobs/{id}/result", http_jobs_result, ROUTE_STORE, NULL},
};

/* Matches url against pattern; "{id}" takes one non-empty segment.  The query string
 * is not part of url (MHD strips it). */
static bool path_match(const char *pattern, const char *url, char *id, size_t idlen)
{
    while (*pattern && *url) {
        if (strncmp(pattern, "{id}", 4) == 0) {
            size_t n = strcspn(url, "/");
            if (n == 0 || n >= idlen)
                return false;
            memcpy(id, url, n);
            id[n] = '\0';
            url += n;
            pattern += 4;
            continue;
        }
        if (*pattern != *url)
            return false;
        pattern++;
        url++;
    }
    /* tolerate one trailing slash ("/health/") except on "/" itself */
    if (!*pattern && url[0] == '/' && url[1] == '\0')
        return true;
    return !*pattern && !*url;
}

const http_route *routes_match(const char *method, const char *url, char *id, size_t idlen,
                               bool *path_known)
{
    char tmp[64];
    *path_known = false;
    bool head = strcmp(method, "HEAD") == 0;
    for (size_t i = 0; i < sizeof k_routes / sizeof k_routes[0]; i++) {
        const http_route *r = &k_routes[i];
        if (!path_match(r->pattern, url, tmp, sizeof tmp))
            continue;
        if (strcmp(r->method, method) == 0 || (head && strcmp(r->method, "GET") == 0)) {
            snprintf(id, idlen, "%s", strstr(r->pattern, "{id}") ? tmp : "");
            return r;
        }
        *path_known = true;
    }
    return NULL;
}

void routes_allowed(const char *url, char *out, size_t outlen)
{
    char tmp[64];
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof k_routes / sizeof k_routes[0]; i++) {
        const http_route *r = &k_routes[i];
        if (!path_match(r->pattern, url, tmp, sizeof tmp))
            continue;
        bool get = strcmp(r->method, "GET") == 0;
        int n = snprintf(out + o, outlen - o, "%s%s%s", o ? ", " : "", r->method, get ? ", HEAD" : "");
        if (n < 0 || (size_t)n >= outlen - o)
            break;
        o += (size_t)n;
    }
}
