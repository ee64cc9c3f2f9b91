/*
 * clock.h — monotonic and wall-clock helpers.  Thread-safe.
 */
#ifndef MDC_CLOCK_H
#define MDC_CLOCK_H

#include <stdint.h>
#include <stddef.h>

/* Monotonic time (CLOCK_MONOTONIC) in nanoseconds / milliseconds / seconds. */
int64_t mdc_now_ns(void);
double mdc_now_ms(void);
double mdc_now_s(void);

/* Wall-clock time (CLOCK_REALTIME) in seconds since the Unix epoch. */
double mdc_wall_s(void);

/* Writes the UTC wall-clock time as ISO-8601 with milliseconds
 * ("2026-11-29T17:40:00.123Z") into buf (at least 25 bytes).  Returns buf. */
char *mdc_iso8601_utc(char *buf, size_t len);

#endif
