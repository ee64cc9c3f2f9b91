/* metrics_internal.h — private to the files of src/metrics (prefix met__). */
#ifndef MDC_METRICS_INTERNAL_H
#define MDC_METRICS_INTERNAL_H

#include "mdc/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#define MET__MAX_LABELS 4
#define MET__MAX_SERIES 64

/* One label combination.  Immutable after publication except the atomics.
 * Doubles are stored as their IEEE-754 bit patterns in atomic uint64 (CAS to add). */
typedef struct met__series {
    char *values[MET__MAX_LABELS]; /* owned copies, sanitised to UTF-8 */
    _Atomic uint64_t value;        /* counter/gauge: double bits; histogram: sum bits */
    _Atomic uint64_t *buckets;     /* histogram: n_buckets + 1 per-bucket counts (last = +Inf) */
} met__series;

struct met_family {
    met_registry *reg;
    met_type type;
    char *name, *help;
    size_t n_labels;
    char *labels[MET__MAX_LABELS];
    double *bounds; /* histogram upper bounds, ascending, finite */
    size_t n_bounds;
    pthread_mutex_t lock;               /* serialises series creation */
    met__series *series[MET__MAX_SERIES]; /* slots [0, n_series) are published */
    atomic_size_t n_series;
    struct met_family *next;
};

struct met_registry {
    pthread_mutex_t lock; /* family list + hook */
    met_family *first, *last;
    met_collect_fn hook;
    void *hook_user;
    met_family *dropped; /* mdconv_metrics_dropped_series_total */
    met_family *proc_rss, *proc_cpu, *proc_start; /* NULL unless registered */
};

/* Double ↔ bits. */
static inline uint64_t met__bits(double d)
{
    union { double d; uint64_t u; } x = {.d = d};
    return x.u;
}
static inline double met__dbl(uint64_t u)
{
    union { uint64_t u; double d; } x = {.u = u};
    return x.d;
}

/* Refreshes the process_* gauges if met_register_process_metrics() was called. */
void met__collect_process(met_registry *reg);

#endif
