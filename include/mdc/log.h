/*
 * log.h — the project's one log sink.
 *
 * Library code (whisper/, audio/, report/, metrics/) never prints: it calls
 * MDC_LOG_*(), which formats one line and hands it to the installed sink
 * (ref: whisper.cpp's whisper_log_set()).  The default sink writes a text line
 * to stderr; the service installs a JSON sink when LOG_FORMAT=json.
 *
 * Thread-safety: every function here may be called from any thread.  The sink
 * is called on the logging thread; it must be thread-safe itself.  Installing
 * a sink while other threads log is allowed (the pointer swap is atomic).
 */
#ifndef MDC_LOG_H
#define MDC_LOG_H

#include <stdarg.h>

typedef enum mdc_log_level {
    MDC_LOG_DEBUG = 0,
    MDC_LOG_INFO = 1,
    MDC_LOG_WARN = 2,
    MDC_LOG_ERROR = 3,
} mdc_log_level;

/* A sink receives one finished message (no trailing newline).  `func` is the
 * C function that logged; `msg` is valid only during the call. */
typedef void (*mdc_log_sink_fn)(mdc_log_level level, const char *func, const char *msg,
                                void *user_data);

/* Install a sink (NULL restores the default stderr text sink). */
void mdc_log_set_sink(mdc_log_sink_fn sink, void *user_data);

/* Messages below `min` are dropped before formatting.  Default: MDC_LOG_INFO. */
void mdc_log_set_level(mdc_log_level min);
mdc_log_level mdc_log_get_level(void);

/* "debug", "info", "warn", "error". */
const char *mdc_log_level_name(mdc_log_level level);

/* Parses "debug|info|warn|error" (case-insensitive); returns 0 or -1. */
int mdc_log_level_parse(const char *s, mdc_log_level *out);

/* Format and emit one message.  Messages longer than 2 KiB are truncated. */
void mdc_log_write(mdc_log_level level, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void mdc_log_vwrite(mdc_log_level level, const char *func, const char *fmt, va_list ap);

/* The default sink: "2026-11-29T17:40:00.123Z INFO  func: message" on stderr. */
void mdc_log_sink_text(mdc_log_level level, const char *func, const char *msg, void *user_data);
/* A JSON-lines sink: {"ts":"…","level":"info","func":"…","msg":"…"} on stderr. */
void mdc_log_sink_json(mdc_log_level level, const char *func, const char *msg, void *user_data);

#define MDC_LOG_DEBUG(...) mdc_log_write(MDC_LOG_DEBUG, __func__, __VA_ARGS__)
#define MDC_LOG_INFO(...) mdc_log_write(MDC_LOG_INFO, __func__, __VA_ARGS__)
#define MDC_LOG_WARN(...) mdc_log_write(MDC_LOG_WARN, __func__, __VA_ARGS__)
#define MDC_LOG_ERROR(...) mdc_log_write(MDC_LOG_ERROR, __func__, __VA_ARGS__)

#endif
