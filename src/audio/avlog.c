/*
 * avlog.c — FFmpeg's av_log routed to mdc_log.
 *
 * Only warnings and errors pass (av_log_set_level(AV_LOG_WARNING) also spares FFmpeg
 * the formatting of the rest).  FFmpeg's AV_LOG_ERROR is about the input data (a bad
 * frame, a malformed tag: "Incorrect BOM value" on every lame UTF-16 comment), not about
 * the service, and the decode result already says whether the upload failed, so it is
 * logged as MDC_LOG_WARN; only AV_LOG_FATAL/PANIC become MDC_LOG_ERROR.  A damaged upload can make a decoder complain once per
 * packet, so lines are rate-limited process-wide: at most AUD_LOG_BURST per
 * AUD_LOG_WINDOW_S seconds; the count of dropped lines is logged when the next window
 * opens.  FFmpeg may call the callback from any thread, so the window is guarded by a
 * mutex (taken only for lines that pass the level filter).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libavutil/log.h>

#include "audio_internal.h"
#include "mdc/clock.h"
#include "mdc/log.h"

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static double g_window_start = -1e300; /* mdc_now_s() when the window opened */
static int g_in_window;                /* lines passed in this window */
static unsigned long g_dropped;        /* lines dropped since the last report */
static unsigned long g_total_passed, g_total_dropped; /* since start, for tests */
static _Thread_local char t_reason[160];       /* see aud__av_reason() */

/* Returns true when this line may be logged; *dropped gets the number of lines to
 * report as suppressed first (0 if none). */
static int rate_allow(unsigned long *dropped)
{
    double now = mdc_now_s();
    int ok;
    pthread_mutex_lock(&g_lock);
    *dropped = 0;
    if (now - g_window_start >= AUD_LOG_WINDOW_S) {
        g_window_start = now;
        g_in_window = 0;
        *dropped = g_dropped;
        g_dropped = 0;
    }
    ok = g_in_window < AUD_LOG_BURST;
    if (ok) {
        g_in_window++;
        g_total_passed++;
    } else {
        g_dropped++;
        g_total_dropped++;
    }
    pthread_mutex_unlock(&g_lock);
    return ok;
}

static void av_log_bridge(void *avcl, int level, const char *fmt, va_list vl)
{
    if (level > AV_LOG_WARNING)
        return;
    if (level <= AV_LOG_ERROR) {
        int no_prefix = 0;
        va_list rp;
        va_copy(rp, vl);
        av_log_format_line2(avcl, level, fmt, rp, t_reason, sizeof t_reason, &no_prefix);
        va_end(rp);
        size_t rl = strlen(t_reason);
        while (rl > 0 && (t_reason[rl - 1] == '\n' || t_reason[rl - 1] == '\r' ||
                          t_reason[rl - 1] == '.'))
            t_reason[--rl] = '\0';
    }
    char line[1024];
    int print_prefix = 1; /* local: av_log_format_line2 is then reentrant */
    va_list ap;
    va_copy(ap, vl);
    av_log_format_line2(avcl, level, fmt, ap, line, sizeof line, &print_prefix);
    va_end(ap);
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    if (len == 0)
        return;
    for (size_t i = 0; i < len; i++) /* one log line per message */
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    unsigned long dropped;
    int ok = rate_allow(&dropped);
    if (dropped)
        mdc_log_write(MDC_LOG_WARN, "ffmpeg",
                      "%lu FFmpeg log lines suppressed in the last %d s (rate limit)",
                      dropped, AUD_LOG_WINDOW_S);
    if (ok)
        mdc_log_write(level <= AV_LOG_FATAL ? MDC_LOG_ERROR : MDC_LOG_WARN, "ffmpeg", "%s",
                      line);
}

static void init_once(void)
{
    av_log_set_level(AV_LOG_WARNING);
    av_log_set_callback(av_log_bridge);
}

void aud__log_stats(unsigned long *passed, unsigned long *dropped)
{
    pthread_mutex_lock(&g_lock);
    *passed = g_total_passed;
    *dropped = g_total_dropped;
    pthread_mutex_unlock(&g_lock);
}

const char *aud__av_reason(void) { return t_reason; }

void aud__av_reason_clear(void) { t_reason[0] = '\0'; }

void aud_init(void) { pthread_once(&g_once, init_once); }
