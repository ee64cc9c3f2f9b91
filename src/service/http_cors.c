/*
 * http_cors.c — Cross-Origin Resource Sharing for browser apps on other origins
 * (CORS_ALLOW_ORIGINS; off by default).
 * ref: WHATWG Fetch standard §3.2 "CORS protocol" (preflight = OPTIONS with
 * Access-Control-Request-Method; the answer's Allow-Origin/-Methods/-Headers/-Max-Age).
 *
 * What CORS changes and what it does not: it only lets a browser hand our answers to a
 * page of an admitted origin.  The API key is checked exactly as without CORS: a
 * preflight needs none (browsers never send credentials on it, and it reaches no
 * handler), the actual request still needs `Authorization: Bearer KEY`.  No
 * Access-Control-Allow-Credentials: the key travels in a header, never in a cookie.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "routes.h"

/* Seconds a browser may cache a preflight answer (Chromium caps it at 7200). */
#define CORS__MAX_AGE "600"
/* Response headers a page may read besides the CORS-safelisted ones. */
#define CORS__EXPOSE "Retry-After, Location, WWW-Authenticate, Content-Disposition"
/* Request headers always allowed: what our API and the official SDKs send (the OpenAI
 * SDKs add X-Stainless-* headers, so the requested list is reflected when it is made of
 * plain header names, see allowed_headers()). */
#define CORS__HEADERS "Authorization, Content-Type, Accept"

/* True when origin is admitted by CORS_ALLOW_ORIGINS ("*" or an exact, case-insensitive
 * match with one entry of the list). */
static bool origin_allowed(const char *list, const char *origin)
{
    if (!list[0] || !origin || !origin[0])
        return false;
    if (strcmp(list, "*") == 0)
        return true;
    size_t ol = strlen(origin);
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        if (n == ol && strncasecmp(p, origin, n) == 0)
            return true;
        p += n;
        if (*p == ',')
            p++;
    }
    return false;
}

void http_cors_headers(http_req *req, struct MHD_Response *r)
{
    const char *list = req->srv->cfg->cors_allow_origins;
    if (!list[0] || !r)
        return;
    /* the answer depends on Origin: caches must keep one copy per origin */
    MHD_add_response_header(r, "Vary", "Origin");
    const char *origin = http_header(req, "Origin");
    if (!origin_allowed(list, origin))
        return;
    MHD_add_response_header(r, "Access-Control-Allow-Origin", origin);
    MHD_add_response_header(r, "Access-Control-Expose-Headers", CORS__EXPOSE);
}

void http_cors_raw_headers(http_req *req, char *buf, size_t len)
{
    const char *list = req->srv->cfg->cors_allow_origins;
    const char *origin = http_header(req, "Origin");
    buf[0] = '\0';
    if (!list[0])
        return;
    /* an admitted origin is echoed as sent: only token characters reach here (MHD keeps
     * header values free of CR/LF) and it matched a configured origin exactly */
    if (origin_allowed(list, origin) && strlen(origin) < 256)
        snprintf(buf, len,
                 "Vary: Origin\r\nAccess-Control-Allow-Origin: %s\r\n"
                 "Access-Control-Expose-Headers: " CORS__EXPOSE "\r\n",
                 origin);
    else
        snprintf(buf, len, "Vary: Origin\r\n");
}

bool http_cors_is_preflight(svc_server *srv, const char *method)
{
    return srv->cfg->cors_allow_origins[0] && strcmp(method, "OPTIONS") == 0;
}

/* The requested header list when it is only header names (RFC 9110 token characters),
 * commas and spaces, and short; else the fixed list. */
static const char *allowed_headers(const char *requested)
{
    if (!requested || !requested[0] || strlen(requested) > 1024)
        return CORS__HEADERS;
    for (const char *p = requested; *p; p++) {
        unsigned char c = (unsigned char)*p;
        bool tchar = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     strchr("!#$%&'*+-.^_`|~", c) != NULL;
        if (!tchar && c != ',' && c != ' ')
            return CORS__HEADERS;
    }
    return requested;
}

enum MHD_Result http_cors_preflight(svc_server *srv, http_req *req, const char *url)
{
    req->early_response = true;
    char routed[48], methods[64];
    routes_allowed(url, routed, sizeof routed);
    if (!routed[0])
        return http_send_error(req, 404, "not_found", "no route for OPTIONS %.100s", url);
    snprintf(methods, sizeof methods, "%s, OPTIONS", routed);
    const char *origin = http_header(req, "Origin");
    bool allowed = origin_allowed(srv->cfg->cors_allow_origins, origin);
    if (origin && !allowed)
        return http_send_error(req, 403, "cors_origin_refused",
                               "origin \"%.100s\" is not in CORS_ALLOW_ORIGINS", origin);
    /* without Origin it is a plain OPTIONS (RFC 9110 §9.3.7): Allow only */
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, methods);
    if (allowed) {
        MHD_add_response_header(r, "Access-Control-Allow-Methods", methods);
        MHD_add_response_header(r, "Access-Control-Allow-Headers",
                                allowed_headers(http_header(req, "Access-Control-Request-Headers")));
        MHD_add_response_header(r, "Access-Control-Max-Age", CORS__MAX_AGE);
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    return http_send_response(req, 204, r); /* adds Allow-Origin and Vary */
}
