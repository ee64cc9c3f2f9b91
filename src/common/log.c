/* log.c — see include/mdc/log.h. */
#include "mdc/log.h"
#include "mdc/clock.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef struct {
    mdc_log_sink_fn fn;
    void *user;
} sink_pair;

static _Atomic(sink_pair *) g_sink;
static sink_pair g_slots[2];
static atomic_int g_slot;
static atomic_int g_level = MDC_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

const char *mdc_log_level_name(mdc_log_level level)
{
    return (level >= MDC_LOG_DEBUG && level <= MDC_LOG_ERROR) ? level_names[level] : "?";
}

int mdc_log_level_parse(const char *s, mdc_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (s && strcasecmp(s, level_names[i]) == 0) {
            *out = (mdc_log_level)i;
            return 0;
        }
    }
    return -1;
}

void mdc_log_set_sink(mdc_log_sink_fn sink, void *user_data)
{
    /* Two slots so a reader holding the old pair never sees it half-written. */
    int slot = atomic_fetch_add(&g_slot, 1) & 1;
    g_slots[slot].fn = sink;
    g_slots[slot].user = user_data;
    atomic_store(&g_sink, sink ? &g_slots[slot] : NULL);
}

void mdc_log_set_level(mdc_log_level min) { atomic_store(&g_level, (int)min); }
mdc_log_level mdc_log_get_level(void) { return (mdc_log_level)atomic_load(&g_level); }

void mdc_log_sink_text(mdc_log_level level, const char *func, const char *msg, void *user_data)
{
    (void)user_data;
    char ts[32];
    static const char *const upper[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};
    const char *lv = (level >= MDC_LOG_DEBUG && level <= MDC_LOG_ERROR) ? upper[level] : "?    ";
    /* One fprintf per line: stdio locks the stream, so lines never interleave. */
    fprintf(stderr, "%s %s %s: %s\n", mdc_iso8601_utc(ts, sizeof ts), lv, func ? func : "-", msg);
}

/* Appends s to dst as a JSON string body (without quotes). */
static size_t json_escape(char *dst, size_t cap, const char *s)
{
    size_t n = 0;
    for (; *s && n + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            dst[n++] = '\\';
            dst[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(dst + n, cap - n, "\\u%04x", c);
        } else {
            dst[n++] = (char)c;
        }
    }
    dst[n] = '\0';
    return n;
}

void mdc_log_sink_json(mdc_log_level level, const char *func, const char *msg, void *user_data)
{
    (void)user_data;
    char ts[32];
    char emsg[4096];
    char efunc[128];
    json_escape(emsg, sizeof emsg, msg);
    json_escape(efunc, sizeof efunc, func ? func : "-");
    fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"func\":\"%s\",\"msg\":\"%s\"}\n",
            mdc_iso8601_utc(ts, sizeof ts), mdc_log_level_name(level), efunc, emsg);
}

void mdc_log_vwrite(mdc_log_level level, const char *func, const char *fmt, va_list ap)
{
    if ((int)level < atomic_load(&g_level))
        return;
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);
    sink_pair *s = atomic_load(&g_sink);
    if (s && s->fn)
        s->fn(level, func, msg, s->user);
    else
        mdc_log_sink_text(level, func, msg, NULL);
}

void mdc_log_write(mdc_log_level level, const char *func, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mdc_log_vwrite(level, func, fmt, ap);
    va_end(ap);
}
