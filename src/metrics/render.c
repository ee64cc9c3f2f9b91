/* render.c — Prometheus text exposition format 0.0.4 (see include/mdc/metrics.h).
 * ref: https://prometheus.io/docs/instrumenting/exposition_formats/#text-format-details */
#include "metrics_internal.h"

#include "mdc/strbuf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>



/* HELP text escapes '\' and newline; label values also escape '"'. */
static void put_escaped(mdc_buf *b, const char *s, int quote)
{
    const char *run = s;
    for (; *s; s++) {
        const char *rep = *s == '\\' ? "\\\\" : *s == '\n' ? "\\n"
                        : (quote && *s == '"') ? "\\\"" : NULL;
        if (rep) {
            mdc_buf_put(b, run, (size_t)(s - run));
            mdc_buf_puts(b, rep);
            run = s + 1;
        }
    }
    mdc_buf_put(b, run, (size_t)(s - run));
}

/* Shortest of %.15g/%.17g that reads back exactly; Go-style "+Inf", "-Inf", "NaN".
 * tmp ≥ 32 bytes. */
static const char *fmt_double(char *tmp, size_t len, double d)
{
    if (isnan(d))
        snprintf(tmp, len, "NaN");
    else if (isinf(d))
        snprintf(tmp, len, "%s", d > 0 ? "+Inf" : "-Inf");
    else {
        snprintf(tmp, len, "%.15g", d);
        if (strtod(tmp, NULL) != d)
            snprintf(tmp, len, "%.17g", d);
    }
    return tmp;
}

static void put_double(mdc_buf *b, double d)
{
    char tmp[40];
    mdc_buf_puts(b, fmt_double(tmp, sizeof tmp, d));
}

static void put_u64(mdc_buf *b, uint64_t v)
{
    char tmp[24];
    snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)v);
    mdc_buf_puts(b, tmp);
}

/* name[suffix]{l1="v1",…[,le="x"]} */
static void put_head(mdc_buf *b, const met_family *f, const met__series *s, const char *suffix,
                     const char *le)
{
    mdc_buf_puts(b, f->name);
    mdc_buf_puts(b, suffix);
    if (f->n_labels == 0 && !le)
        return;
    mdc_buf_puts(b, "{");
    for (size_t i = 0; i < f->n_labels; i++) {
        if (i)
            mdc_buf_puts(b, ",");
        mdc_buf_puts(b, f->labels[i]);
        mdc_buf_puts(b, "=\"");
        put_escaped(b, s->values[i], 1);
        mdc_buf_puts(b, "\"");
    }
    if (le) {
        if (f->n_labels)
            mdc_buf_puts(b, ",");
        mdc_buf_puts(b, "le=\"");
        mdc_buf_puts(b, le);
        mdc_buf_puts(b, "\"");
    }
    mdc_buf_puts(b, "}");
}

static void render_series(mdc_buf *b, const met_family *f, const met__series *s)
{
    if (f->type != MET_HISTOGRAM) {
        put_head(b, f, s, "", NULL);
        mdc_buf_puts(b, " ");
        put_double(b, met__dbl(atomic_load_explicit(&s->value, memory_order_relaxed)));
        mdc_buf_puts(b, "\n");
        return;
    }
    /* Buckets are stored per interval; render cumulative counts, and _count equal to the
     * +Inf bucket so the exposition stays self-consistent under concurrent updates. */
    uint64_t cum = 0;
    for (size_t i = 0; i <= f->n_bounds; i++) {
        char le[40];
        fmt_double(le, sizeof le, i < f->n_bounds ? f->bounds[i] : INFINITY);
        cum += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
        put_head(b, f, s, "_bucket", le);
        mdc_buf_puts(b, " ");
        put_u64(b, cum);
        mdc_buf_puts(b, "\n");
    }
    put_head(b, f, s, "_sum", NULL);
    mdc_buf_puts(b, " ");
    put_double(b, met__dbl(atomic_load_explicit(&s->value, memory_order_relaxed)));
    mdc_buf_puts(b, "\n");
    put_head(b, f, s, "_count", NULL);
    mdc_buf_puts(b, " ");
    put_u64(b, cum);
    mdc_buf_puts(b, "\n");
}

int met_render(met_registry *reg, char **out, size_t *out_len)
{
    if (!out)
        return -1;
    *out = NULL;
    if (!reg)
        return -1;
    met__collect_process(reg);
    pthread_mutex_lock(&reg->lock);
    met_collect_fn hook = reg->hook;
    void *user = reg->hook_user;
    pthread_mutex_unlock(&reg->lock);
    if (hook)
        hook(reg, user); /* outside the lock: the hook may register or update */

    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    mdc_buf b = {0};
    mdc_buf_puts(&b, ""); /* an empty registry still yields "" */
    pthread_mutex_lock(&reg->lock);
    for (met_family *f = reg->first; f; f = f->next) {
        mdc_buf_puts(&b, "# HELP ");
        mdc_buf_puts(&b, f->name);
        mdc_buf_puts(&b, " ");
        put_escaped(&b, f->help, 0);
        mdc_buf_puts(&b, "\n# TYPE ");
        mdc_buf_puts(&b, f->name);
        mdc_buf_puts(&b, " ");
        mdc_buf_puts(&b, type_names[f->type]);
        mdc_buf_puts(&b, "\n");
        size_t n = atomic_load_explicit(&f->n_series, memory_order_acquire);
        for (size_t i = 0; i < n; i++)
            render_series(&b, f, f->series[i]);
    }
    pthread_mutex_unlock(&reg->lock);
    if (b.oom) {
        free(b.p);
        return -1;
    }
    *out = b.p;
    if (out_len)
        *out_len = b.len;
    return 0;
}
