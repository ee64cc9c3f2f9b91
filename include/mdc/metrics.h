/*
 * metrics.h — lock-free counters, gauges and histograms with labels, exposed in the
 * Prometheus text exposition format 0.0.4 (prefix met_).
 * ref: https://prometheus.io/docs/instrumenting/exposition_formats/
 *
 * A registry holds metric families; each family holds up to a fixed number of label
 * combinations (series), created on first use.  Updates are atomic and never block;
 * met_render() may run concurrently with updates.
 *
 * Thread-safety: all functions are thread-safe, except met_registry_free(), which must
 * not run concurrently with any other call on that registry or its families.
 * Implementation: series are created under a per-family mutex and published with
 * release/acquire; values are IEEE-754 bit patterns in atomic uint64 updated by CAS.
 */
#ifndef MDC_METRICS_H
#define MDC_METRICS_H

#include <stddef.h>

typedef struct met_registry met_registry;
typedef struct met_family met_family;

typedef enum met_type { MET_COUNTER, MET_GAUGE, MET_HISTOGRAM } met_type;

met_registry *met_registry_new(void);
void met_registry_free(met_registry *reg); /* accepts NULL */

/* Registers a family.  name must match [a-zA-Z_:][a-zA-Z0-9_:]* and be unique in reg;
 * help may be NULL (then the name is used).  label_names: NULL-terminated array of up
 * to 4 label names (NULL for none; "le" is reserved for histograms).  buckets: upper
 * bounds for histograms, finite, strictly ascending, n_buckets of them (+Inf is
 * implicit); NULL/0 for counters and gauges.  Returns NULL on bad arguments, a duplicate
 * name, or OOM.  The registry owns the family (valid until met_registry_free). */
met_family *met_register(met_registry *reg, met_type type, const char *name, const char *help,
                         const char *const *label_names, const double *buckets, size_t n_buckets);
/* The family registered under `name`, or NULL (reg NULL, or no such family).  For a
 * second user of a family registered elsewhere (the model holders share theirs). */
met_family *met_find(met_registry *reg, const char *name);

/* Updates the series with the given label values (same count and order as the family's
 * label names; NULL when the family has no labels).  Series are created on first use;
 * past the per-family series cap (64) the update is dropped and counted in
 * mdconv_metrics_dropped_series_total (a counter every registry has from creation).
 * Label values are stored as valid UTF-8 (invalid bytes → U+FFFD, NUL dropped) and
 * escaped on output; a NULL value counts as "". */
void met_inc(met_family *f, const char *const *label_values, double delta); /* counter/gauge */
/* met_set also accepts counters mirrored from an outside total (e.g. CPU seconds read
 * from /proc); met_inc ignores negative or NaN deltas on counters. */
void met_set(met_family *f, const char *const *label_values, double value);  /* gauge */
void met_observe(met_family *f, const char *const *label_values, double value); /* histogram */
/* Reads a counter/gauge value, or a histogram's observation count (0 if the series does
 * not exist; never creates it). */
double met_get(met_family *f, const char *const *label_values);

/* Called at the start of met_render() so gauges computed on demand (RSS, CPU …) can be
 * refreshed.  One hook per registry; NULL removes it.  It runs on the rendering thread,
 * without registry locks held (it may update or register); concurrent renders may run
 * it concurrently. */
typedef void (*met_collect_fn)(met_registry *reg, void *user_data);
void met_set_collect_hook(met_registry *reg, met_collect_fn fn, void *user_data);

/* Renders every family in registration order ("# HELP", "# TYPE", then one line per
 * series; histograms as cumulative _bucket{le=…} lines ending with le="+Inf", _sum and
 * _count, where _count equals the +Inf bucket).  *out is malloc'd, NUL-terminated;
 * caller frees.  Returns 0, or -1 on OOM with *out = NULL.  Serve it with
 * Content-Type "text/plain; version=0.0.4; charset=utf-8". */
int met_render(met_registry *reg, char **out, size_t *out_len);

/* Process metrics from /proc/self (resident set size in bytes, CPU seconds, start time
 * in Unix seconds).  Return -1 if unavailable. */
double met_process_rss_bytes(void);
double met_process_cpu_seconds(void);
double met_process_start_time_seconds(void);

/* Registers process_resident_memory_bytes, process_cpu_seconds_total and
 * process_start_time_seconds in reg; they are refreshed at every met_render() (before
 * the collect hook).  Returns 0, or -1 on OOM or if already registered. */
int met_register_process_metrics(met_registry *reg);

#endif
