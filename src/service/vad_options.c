/*
 * vad_options.c — request fields for voice-activity detection (see vad_options.h).
 */
#include "vad_options.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "config.h"

#define MAX_MS 3600000 /* the WHISPER_VAD_*_MS bounds */

static int bad(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *why, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return -1;
}

/* An integer number of milliseconds 0..MAX_MS (JSON integer, or a real with no fraction). */
static int get_ms(json_t *v, const char *key, int *out, char *why, size_t len)
{
    double d;
    if (json_is_integer(v))
        d = (double)json_integer_value(v);
    else if (json_is_real(v))
        d = json_real_value(v);
    else
        return bad(why, len, "chunking_strategy.%s must be a number of milliseconds", key);
    if (!(d >= 0 && d <= MAX_MS) || d != floor(d))
        return bad(why, len, "chunking_strategy.%s must be a whole number of milliseconds from 0 "
                             "to %d (got %g)", key, MAX_MS, d);
    *out = (int)d;
    return 0;
}

static int parse_server_vad(const char *text, vad_params *p, char *why, size_t len)
{
    json_error_t je;
    json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        return bad(why, len, "chunking_strategy must be \"auto\" or a JSON object "
                             "{\"type\": \"server_vad\", …}%s%s", o ? "" : ": ", o ? "" : je.text);
    }
    int rc = 0;
    json_t *type = json_object_get(o, "type");
    if (!json_is_string(type) || strcmp(json_string_value(type), "server_vad") != 0)
        rc = bad(why, len, "chunking_strategy.type must be \"server_vad\"");
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        if (rc != 0)
            break;
        if (strcmp(key, "type") == 0)
            continue;
        if (strcmp(key, "threshold") == 0) {
            if (!json_is_number(v))
                rc = bad(why, len, "chunking_strategy.threshold must be a number from 0 to 1");
            else {
                double t = json_number_value(v);
                /* OpenAI: 0.0 to 1.0; whisper.cpp needs > 0 (speech starts at p >= it) */
                if (!(t > 0 && t <= 1))
                    rc = bad(why, len, "chunking_strategy.threshold must be > 0 and <= 1 (got %g)", t);
                else
                    p->threshold = (float)t;
            }
        } else if (strcmp(key, "silence_duration_ms") == 0) {
            rc = get_ms(v, key, &p->min_silence_duration_ms, why, len);
        } else if (strcmp(key, "prefix_padding_ms") == 0) {
            rc = get_ms(v, key, &p->speech_pad_ms, why, len);
        } else {
            rc = bad(why, len, "chunking_strategy has an unknown field \"%.40s\" (known: type, "
                               "threshold, silence_duration_ms, prefix_padding_ms)", key);
        }
    }
    json_decref(o);
    return rc;
}

int svc_vad_options(const char *vad_field, const char *chunking_field, bool server_default,
                    bool has_model, const vad_params *server_params, bool *on, vad_params *params,
                    char *why, size_t whylen)
{
    *params = *server_params;
    *on = server_default;
    bool vad_given = vad_field && *vad_field, chunk_given = chunking_field && *chunking_field;
    bool want = false;
    if (vad_given) {
        if (svc_config_parse_bool(vad_field, &want) != 0)
            return bad(why, whylen, "vad must be true or false (got \"%.20s\")", vad_field);
        *on = want;
    }
    if (chunk_given) {
        if (vad_given && !want)
            return bad(why, whylen, "vad=false contradicts chunking_strategy (which asks for "
                                    "voice-activity detection): send one of them");
        const char *s = chunking_field;
        while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
            s++;
        if (strcasecmp(s, "auto") == 0 || strcmp(s, "\"auto\"") == 0) {
            *on = true;
        } else if (*s == '{') {
            if (parse_server_vad(s, params, why, whylen) != 0)
                return -1;
            *on = true;
        } else {
            return bad(why, whylen, "chunking_strategy must be \"auto\" or a JSON object "
                                    "{\"type\": \"server_vad\", …} (got \"%.40s\")", chunking_field);
        }
    }
    if (*on && !has_model)
        return bad(why, whylen, "%s asks for voice-activity detection but this server has no "
                                "VAD model (set WHISPER_VAD_MODEL, e.g. silero-v6.2.0)",
                   chunk_given ? "chunking_strategy" : "vad=true");
    if (*on && vad_params_validate(params, NULL) != 0)
        return bad(why, whylen, "invalid voice-activity detection parameters");
    return 0;
}
