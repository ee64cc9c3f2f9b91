/* registry.c — families, series and atomic updates (see include/mdc/metrics.h). */
#include "metrics_internal.h"

#include "mdc/utf8.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ref: https://prometheus.io/docs/concepts/data_model/ — metric names match
 * [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* (no leading "__"). */
static int valid_name(const char *s, int allow_colon)
{
    if (!s || !*s)
        return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (allow_colon && c == ':') || (p != s && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return allow_colon || strncmp(s, "__", 2) != 0;
}

static char *dup_utf8(const char *s)
{
    if (!s)
        s = "";
    return mdc_utf8_sanitize(s, strlen(s), MDC_UTF8_DROP_NUL, NULL);
}

static void series_free(met__series *s)
{
    if (!s)
        return;
    for (int i = 0; i < MET__MAX_LABELS; i++)
        free(s->values[i]);
    free(s->buckets);
    free(s);
}

static void family_free(met_family *f)
{
    if (!f)
        return;
    size_t n = atomic_load(&f->n_series);
    for (size_t i = 0; i < n; i++)
        series_free(f->series[i]);
    for (int i = 0; i < MET__MAX_LABELS; i++)
        free(f->labels[i]);
    free(f->name);
    free(f->help);
    free(f->bounds);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

static met__series *series_new(met_family *f, const char *const *values)
{
    met__series *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    for (size_t i = 0; i < f->n_labels; i++) {
        s->values[i] = dup_utf8(values ? values[i] : NULL);
        if (!s->values[i])
            goto fail;
    }
    atomic_init(&s->value, met__bits(0.0));
    if (f->type == MET_HISTOGRAM) {
        s->buckets = calloc(f->n_bounds + 1, sizeof *s->buckets);
        if (!s->buckets)
            goto fail;
        for (size_t i = 0; i <= f->n_bounds; i++)
            atomic_init(&s->buckets[i], 0);
    }
    return s;
fail:
    series_free(s);
    return NULL;
}

/* Compares stored (sanitised) values with the caller's raw values.  A raw value with
 * invalid UTF-8 never matches and takes the slow path, which compares sanitised forms. */
static int series_match(const met_family *f, const met__series *s, const char *const *values)
{
    for (size_t i = 0; i < f->n_labels; i++) {
        const char *v = values && values[i] ? values[i] : "";
        if (strcmp(s->values[i], v) != 0)
            return 0;
    }
    return 1;
}

static met__series *find_published(met_family *f, const char *const *values)
{
    size_t n = atomic_load_explicit(&f->n_series, memory_order_acquire);
    for (size_t i = 0; i < n; i++)
        if (series_match(f, f->series[i], values))
            return f->series[i];
    return NULL;
}

/* Finds or creates the series; NULL when the cap is reached (counted) or on OOM. */
static met__series *get_series(met_family *f, const char *const *values, int create)
{
    if (f->n_labels && !values)
        return NULL;
    met__series *s = find_published(f, values);
    if (s || !create)
        return s;
    /* Slow path: sanitise the values so a broken-UTF-8 label finds its earlier series. */
    const char *clean[MET__MAX_LABELS] = {0};
    char *owned[MET__MAX_LABELS] = {0};
    int oom = 0;
    for (size_t i = 0; i < f->n_labels; i++) {
        owned[i] = dup_utf8(values[i]);
        oom |= owned[i] == NULL;
        clean[i] = owned[i];
    }
    int dropped = 0;
    if (!oom) {
        pthread_mutex_lock(&f->lock);
        s = find_published(f, clean);
        if (!s) {
            size_t n = atomic_load_explicit(&f->n_series, memory_order_relaxed);
            if (n >= MET__MAX_SERIES) {
                dropped = 1;
            } else if ((s = series_new(f, clean)) != NULL) {
                f->series[n] = s;
                atomic_store_explicit(&f->n_series, n + 1, memory_order_release);
            }
        }
        pthread_mutex_unlock(&f->lock);
    }
    for (size_t i = 0; i < f->n_labels; i++)
        free(owned[i]);
    if (dropped && f->reg->dropped && f != f->reg->dropped)
        met_inc(f->reg->dropped, NULL, 1);
    return s;
}

static void atomic_add_double(_Atomic uint64_t *a, double delta)
{
    uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(a, &old, met__bits(met__dbl(old) + delta),
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
}

met_registry *met_registry_new(void)
{
    met_registry *reg = calloc(1, sizeof *reg);
    if (!reg)
        return NULL;
    pthread_mutex_init(&reg->lock, NULL);
    reg->dropped = met_register(reg, MET_COUNTER, "mdconv_metrics_dropped_series_total",
                                "Metric updates dropped because a family reached its series cap.",
                                NULL, NULL, 0);
    if (!reg->dropped) {
        met_registry_free(reg);
        return NULL;
    }
    return reg;
}

void met_registry_free(met_registry *reg)
{
    if (!reg)
        return;
    met_family *f = reg->first;
    while (f) {
        met_family *next = f->next;
        family_free(f);
        f = next;
    }
    pthread_mutex_destroy(&reg->lock);
    free(reg);
}

met_family *met_register(met_registry *reg, met_type type, const char *name, const char *help,
                         const char *const *label_names, const double *buckets, size_t n_buckets)
{
    if (!reg || !valid_name(name, 1) || (type != MET_COUNTER && type != MET_GAUGE &&
                                         type != MET_HISTOGRAM))
        return NULL;
    if (type == MET_HISTOGRAM ? (n_buckets > 0 && !buckets) : n_buckets != 0)
        return NULL;
    for (size_t i = 0; i < n_buckets; i++)
        if (!isfinite(buckets[i]) || (i > 0 && !(buckets[i] > buckets[i - 1])))
            return NULL;
    size_t nl = 0;
    while (label_names && label_names[nl]) {
        if (nl == MET__MAX_LABELS || !valid_name(label_names[nl], 0) ||
            (type == MET_HISTOGRAM && strcmp(label_names[nl], "le") == 0))
            return NULL;
        for (size_t j = 0; j < nl; j++)
            if (strcmp(label_names[j], label_names[nl]) == 0)
                return NULL;
        nl++;
    }
    met_family *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    pthread_mutex_init(&f->lock, NULL);
    atomic_init(&f->n_series, 0);
    f->reg = reg;
    f->type = type;
    f->n_labels = nl;
    f->name = strdup(name);
    f->help = dup_utf8(help ? help : name);
    int ok = f->name && f->help;
    for (size_t i = 0; i < nl && ok; i++)
        ok = (f->labels[i] = strdup(label_names[i])) != NULL;
    if (ok && n_buckets) {
        f->bounds = malloc(n_buckets * sizeof *f->bounds);
        ok = f->bounds != NULL;
        if (ok)
            memcpy(f->bounds, buckets, n_buckets * sizeof *f->bounds);
        f->n_bounds = n_buckets;
    }
    /* A family without labels has exactly one series: create it now so it renders 0. */
    if (ok && nl == 0)
        ok = get_series(f, NULL, 1) != NULL;
    if (!ok) {
        family_free(f);
        return NULL;
    }
    pthread_mutex_lock(&reg->lock);
    int dup = 0;
    for (met_family *g = reg->first; g; g = g->next)
        dup |= strcmp(g->name, name) == 0;
    if (!dup) {
        if (reg->last)
            reg->last->next = f;
        else
            reg->first = f;
        reg->last = f;
    }
    pthread_mutex_unlock(&reg->lock);
    if (dup) {
        family_free(f);
        return NULL;
    }
    return f;
}

met_family *met_find(met_registry *reg, const char *name)
{
    if (!reg || !name)
        return NULL;
    met_family *found = NULL;
    pthread_mutex_lock(&reg->lock);
    for (met_family *g = reg->first; g && !found; g = g->next)
        if (strcmp(g->name, name) == 0)
            found = g;
    pthread_mutex_unlock(&reg->lock);
    return found;
}

void met_inc(met_family *f, const char *const *label_values, double delta)
{
    if (!f || f->type == MET_HISTOGRAM || isnan(delta) || (f->type == MET_COUNTER && delta < 0))
        return;
    met__series *s = get_series(f, label_values, 1);
    if (s)
        atomic_add_double(&s->value, delta);
}

void met_set(met_family *f, const char *const *label_values, double value)
{
    if (!f || f->type == MET_HISTOGRAM)
        return;
    met__series *s = get_series(f, label_values, 1);
    if (s)
        atomic_store_explicit(&s->value, met__bits(value), memory_order_relaxed);
}

void met_observe(met_family *f, const char *const *label_values, double value)
{
    if (!f || f->type != MET_HISTOGRAM || isnan(value))
        return;
    met__series *s = get_series(f, label_values, 1);
    if (!s)
        return;
    size_t b = 0;
    while (b < f->n_bounds && value > f->bounds[b])
        b++;
    atomic_add_double(&s->value, value);
    atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
}

double met_get(met_family *f, const char *const *label_values)
{
    met__series *s = f ? get_series(f, label_values, 0) : NULL;
    if (!s)
        return 0;
    if (f->type != MET_HISTOGRAM)
        return met__dbl(atomic_load_explicit(&s->value, memory_order_relaxed));
    uint64_t n = 0;
    for (size_t i = 0; i <= f->n_bounds; i++)
        n += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
    return (double)n;
}

void met_set_collect_hook(met_registry *reg, met_collect_fn fn, void *user_data)
{
    if (!reg)
        return;
    pthread_mutex_lock(&reg->lock);
    reg->hook = fn;
    reg->hook_user = user_data;
    pthread_mutex_unlock(&reg->lock);
}
