/* Unit tests for the metrics module (src/metrics/): atomic updates under contention,
 * exposition rendering (parsed back), escaping, series cap, process metrics, promtool. */
#include "testutil.h"

#include "mdc/metrics.h"
#include "mdc/utf8.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

/* ---- a small exposition parser: finds the value of one sample line ---- */

/* Returns the value of the sample whose text before the value equals `head` exactly
 * (e.g. `x_total{a="b"}`), or NAN when absent. */
static double sample(const char *text, const char *head)
{
    size_t hl = strlen(head);
    const char *line = text;
    while (line && *line) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (line[0] != '#' && len > hl && strncmp(line, head, hl) == 0 && line[hl] == ' ')
            return strtod(line + hl + 1, NULL);
        line = nl ? nl + 1 : NULL;
    }
    return NAN;
}

static int count_lines_starting(const char *text, const char *prefix)
{
    int n = 0;
    size_t pl = strlen(prefix);
    for (const char *line = text; line && *line;) {
        if (strncmp(line, prefix, pl) == 0)
            n++;
        const char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : NULL;
    }
    return n;
}

/* Every non-comment line is "name[{…}] value" with a parsable value; every family has
 * HELP then TYPE; returns the number of samples or -1. */
static int check_wellformed(const char *text)
{
    int samples = 0;
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        if (!nl)
            return -1; /* every line ends in \n */
        if (line[0] != '#') {
            const char *sp = NULL;
            int in_q = 0;
            for (const char *p = line; p < nl; p++) {
                if (*p == '\\' && in_q) {
                    p++;
                    continue;
                }
                if (*p == '"')
                    in_q = !in_q;
                if (*p == ' ' && !in_q)
                    sp = p;
            }
            if (!sp || in_q)
                return -1;
            char *end;
            strtod(sp + 1, &end);
            if (end != nl)
                return -1;
            samples++;
        }
        line = nl + 1;
    }
    return samples;
}

static void render(met_registry *reg, char **out)
{
    size_t len = 0;
    assert_int_equal(met_render(reg, out, &len), 0);
    assert_non_null(*out);
    assert_int_equal(strlen(*out), len);
}

/* ---- concurrency ---- */

typedef struct {
    met_family *counter, *gauge, *hist;
    int id;
    atomic_int *stop;
    met_registry *reg;
    int renders, bad_renders;
} worker_arg;

#define N_THREADS 8
#define N_INCS 100000

static void *worker(void *p)
{
    worker_arg *a = p;
    const char *lv[] = {a->id & 1 ? "odd" : "even", NULL};
    const char *shared[] = {"all", NULL};
    for (int i = 0; i < N_INCS; i++) {
        met_inc(a->counter, shared, 1);
        if (i % 10 == 0)
            met_inc(a->counter, lv, 0.5);
        met_inc(a->gauge, NULL, (i & 1) ? -1 : 1);
        if (i % 100 == 0)
            met_observe(a->hist, NULL, (double)(i % 7));
    }
    return NULL;
}

static void *renderer(void *p)
{
    worker_arg *a = p;
    while (!atomic_load(a->stop)) {
        char *text = NULL;
        if (met_render(a->reg, &text, NULL) != 0) {
            a->bad_renders++;
            continue;
        }
        double inf = sample(text, "mt_hist_seconds_bucket{le=\"+Inf\"}");
        double cnt = sample(text, "mt_hist_seconds_count");
        if (isnan(inf) || inf != cnt || check_wellformed(text) < 0)
            a->bad_renders++;
        a->renders++;
        free(text);
    }
    return NULL;
}

static void test_concurrent_increments_exact(void **state)
{
    (void)state;
    met_registry *reg = met_registry_new();
    assert_non_null(reg);
    const char *ln[] = {"kind", NULL};
    const double b[] = {1, 2, 4};
    worker_arg base = {
        .counter = met_register(reg, MET_COUNTER, "mt_ops_total", "Ops.", ln, NULL, 0),
        .gauge = met_register(reg, MET_GAUGE, "mt_level", "Level.", NULL, NULL, 0),
        .hist = met_register(reg, MET_HISTOGRAM, "mt_hist_seconds", "Hist.", NULL, b, 3),
        .reg = reg,
    };
    assert_non_null(base.counter);
    assert_non_null(base.gauge);
    assert_non_null(base.hist);
    atomic_int stop = 0;
    base.stop = &stop;
    pthread_t th[N_THREADS], rt;
    worker_arg args[N_THREADS], rarg = base;
    assert_int_equal(pthread_create(&rt, NULL, renderer, &rarg), 0);
    for (int i = 0; i < N_THREADS; i++) {
        args[i] = base;
        args[i].id = i;
        assert_int_equal(pthread_create(&th[i], NULL, worker, &args[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(th[i], NULL);
    atomic_store(&stop, 1);
    pthread_join(rt, NULL);
    assert_int_equal(rarg.bad_renders, 0);
    assert_true(rarg.renders >= 1);

    const char *all[] = {"all", NULL}, *odd[] = {"odd", NULL}, *even[] = {"even", NULL};
    assert_true(met_get(base.counter, all) == (double)N_THREADS * N_INCS);
    assert_true(met_get(base.counter, odd) == (N_THREADS / 2) * (N_INCS / 10) * 0.5);
    assert_true(met_get(base.counter, even) == (N_THREADS / 2) * (N_INCS / 10) * 0.5);
    assert_true(met_get(base.gauge, NULL) == 0.0);
    assert_true(met_get(base.hist, NULL) == (double)N_THREADS * (N_INCS / 100));

    char *text;
    render(reg, &text);
    assert_true(sample(text, "mt_ops_total{kind=\"all\"}") == (double)N_THREADS * N_INCS);
    assert_true(sample(text, "mt_hist_seconds_count") == (double)N_THREADS * (N_INCS / 100));
    /* i%100==0 → i%7 over i = 0,100,…: the sum is deterministic; recompute it here. */
    double sum = 0;
    for (int i = 0; i < N_INCS; i += 100)
        sum += (double)(i % 7);
    assert_true(fabs(sample(text, "mt_hist_seconds_sum") - sum * N_THREADS) < 1e-6);
    free(text);
    met_registry_free(reg);
}

/* ---- rendering ---- */

static void test_render_counter_gauge_histogram(void **state)
{
    (void)state;
    met_registry *reg = met_registry_new();
    const char *ln[] = {"endpoint", "status", NULL};
    met_family *c = met_register(reg, MET_COUNTER, "mt_requests_total", "Requests handled.",
                                 ln, NULL, 0);
    met_family *g = met_register(reg, MET_GAUGE, "mt_queue_depth", "Queued jobs.", NULL, NULL, 0);
    const double b[] = {0.1, 1, 10};
    met_family *h = met_register(reg, MET_HISTOGRAM, "mt_duration_seconds", "Durations.", NULL,
                                 b, 3);
    assert_non_null(c);
    assert_non_null(g);
    assert_non_null(h);
    const char *v1[] = {"/relatorio", "200"}, *v2[] = {"/relatorio", "503"};
    met_inc(c, v1, 1);
    met_inc(c, v1, 2);
    met_inc(c, v2, 1);
    met_inc(c, v2, -5); /* counters never go down */
    met_set(g, NULL, 7);
    met_inc(g, NULL, -2.5);
    const double obs[] = {0.05, 0.1, 0.5, 5, 50};
    for (size_t i = 0; i < 5; i++)
        met_observe(h, NULL, obs[i]);

    char *text;
    render(reg, &text);
    assert_true(check_wellformed(text) > 0);
    assert_non_null(strstr(text, "# HELP mt_requests_total Requests handled.\n"
                                 "# TYPE mt_requests_total counter\n"));
    assert_non_null(strstr(text, "# TYPE mt_queue_depth gauge\n"));
    assert_non_null(strstr(text, "# TYPE mt_duration_seconds histogram\n"));
    assert_true(sample(text, "mt_requests_total{endpoint=\"/relatorio\",status=\"200\"}") == 3);
    assert_true(sample(text, "mt_requests_total{endpoint=\"/relatorio\",status=\"503\"}") == 1);
    assert_true(sample(text, "mt_queue_depth") == 4.5);
    /* cumulative; le is inclusive (0.1 falls in le="0.1") */
    assert_true(sample(text, "mt_duration_seconds_bucket{le=\"0.1\"}") == 2);
    assert_true(sample(text, "mt_duration_seconds_bucket{le=\"1\"}") == 3);
    assert_true(sample(text, "mt_duration_seconds_bucket{le=\"10\"}") == 4);
    assert_true(sample(text, "mt_duration_seconds_bucket{le=\"+Inf\"}") == 5);
    assert_true(sample(text, "mt_duration_seconds_count") == 5);
    assert_true(fabs(sample(text, "mt_duration_seconds_sum") - 55.65) < 1e-9);
    /* families come out in registration order (the built-in dropped counter first) */
    const char *p0 = strstr(text, "# HELP mdconv_metrics_dropped_series_total");
    const char *p1 = strstr(text, "# HELP mt_requests_total");
    const char *p2 = strstr(text, "# HELP mt_queue_depth");
    const char *p3 = strstr(text, "# HELP mt_duration_seconds");
    assert_true(p0 && p1 && p2 && p3 && p0 < p1 && p1 < p2 && p2 < p3);
    free(text);
    met_registry_free(reg);
}

static void test_label_escaping_and_utf8(void **state)
{
    (void)state;
    met_registry *reg = met_registry_new();
    const char *ln[] = {"path", NULL};
    met_family *c = met_register(reg, MET_COUNTER, "mt_esc_total", "Help with \\ and\nnewline.",
                                 ln, NULL, 0);
    const char *v[] = {"a\"b\\c\nd"}, *bad[] = {"x\xC3y\xE2\x82"}, *acc[] = {"reunião"};
    met_inc(c, v, 1);
    met_inc(c, bad, 1);
    met_inc(c, bad, 1); /* the same broken value finds the same series */
    met_inc(c, acc, 1);
    char *text;
    render(reg, &text);
    assert_true(mdc_utf8_valid(text, strlen(text)));
    assert_non_null(strstr(text, "# HELP mt_esc_total Help with \\\\ and\\nnewline.\n"));
    assert_true(sample(text, "mt_esc_total{path=\"a\\\"b\\\\c\\nd\"}") == 1);
    assert_true(sample(text, "mt_esc_total{path=\"x\xEF\xBF\xBDy\xEF\xBF\xBD\"}") == 2);
    assert_true(sample(text, "mt_esc_total{path=\"reunião\"}") == 1);
    assert_int_equal(count_lines_starting(text, "mt_esc_total{"), 3);
    free(text);
    met_registry_free(reg);
}

static void test_series_cap_counts_drops(void **state)
{
    (void)state;
    met_registry *reg = met_registry_new();
    const char *ln[] = {"id", NULL};
    met_family *c = met_register(reg, MET_COUNTER, "mt_cap_total", "Cap.", ln, NULL, 0);
    for (int i = 0; i < 70; i++) {
        char id[16];
        snprintf(id, sizeof id, "s%d", i);
        const char *v[] = {id};
        met_inc(c, v, 1);
    }
    char *text;
    render(reg, &text);
    assert_int_equal(count_lines_starting(text, "mt_cap_total{"), 64);
    assert_true(sample(text, "mdconv_metrics_dropped_series_total") == 6);
    const char *last[] = {"s69"}, *first[] = {"s0"};
    assert_true(met_get(c, last) == 0);
    assert_true(met_get(c, first) == 1);
    free(text);
    met_registry_free(reg);
}

static void test_register_rejects_bad_arguments(void **state)
{
    (void)state;
    met_registry *reg = met_registry_new();
    const double up[] = {1, 2}, down[] = {2, 1}, inf[] = {1, INFINITY};
    const char *le[] = {"le", NULL}, *five[] = {"a", "b", "c", "d", "e", NULL};
    const char *dupl[] = {"a", "a", NULL}, *badl[] = {"1x", NULL}, *res[] = {"__x", NULL};
    assert_null(met_register(reg, MET_COUNTER, "1bad", "h", NULL, NULL, 0));
    assert_null(met_register(reg, MET_COUNTER, "bad-name", "h", NULL, NULL, 0));
    assert_null(met_register(reg, MET_COUNTER, "", "h", NULL, NULL, 0));
    assert_null(met_register(reg, MET_COUNTER, NULL, "h", NULL, NULL, 0));
    assert_null(met_register(reg, MET_HISTOGRAM, "h1", "h", le, up, 2));
    assert_null(met_register(reg, MET_HISTOGRAM, "h2", "h", NULL, down, 2));
    assert_null(met_register(reg, MET_HISTOGRAM, "h3", "h", NULL, inf, 2));
    assert_null(met_register(reg, MET_COUNTER, "c1", "h", five, NULL, 0));
    assert_null(met_register(reg, MET_COUNTER, "c2", "h", dupl, NULL, 0));
    assert_null(met_register(reg, MET_COUNTER, "c3", "h", badl, NULL, 0));
    assert_null(met_register(reg, MET_COUNTER, "c4", "h", res, NULL, 0));
    assert_null(met_register(reg, MET_COUNTER, "c5", "h", NULL, up, 2));
    assert_null(met_register(NULL, MET_COUNTER, "c6", "h", NULL, NULL, 0));
    assert_non_null(met_register(reg, MET_COUNTER, "ok:name_total", "h", NULL, NULL, 0));
    assert_null(met_register(reg, MET_GAUGE, "ok:name_total", "h", NULL, NULL, 0));
    /* wrong-type updates are ignored, NULL family is harmless */
    met_family *g = met_register(reg, MET_GAUGE, "g", "h", NULL, NULL, 0);
    met_observe(g, NULL, 1);
    assert_true(met_get(g, NULL) == 0);
    met_inc(NULL, NULL, 1);
    met_set(NULL, NULL, 1);
    met_observe(NULL, NULL, 1);
    assert_true(met_get(NULL, NULL) == 0);
    met_registry_free(reg);
    met_registry_free(NULL);
}

static int hook_calls;
static void hook(met_registry *reg, void *user)
{
    (void)reg;
    hook_calls++;
    met_set((met_family *)user, NULL, 42);
}

static void test_collect_hook_and_process_metrics(void **state)
{
    (void)state;
    double rss = met_process_rss_bytes(), cpu = met_process_cpu_seconds();
    double start = met_process_start_time_seconds();
    double now = (double)time(NULL);
    assert_true(rss > 64 * 1024 && rss < 64.0 * 1024 * 1024 * 1024);
    assert_true(cpu >= 0 && cpu < 1e6);
    assert_true(start > now - 24 * 3600 && start <= now + 2);

    met_registry *reg = met_registry_new();
    met_family *g = met_register(reg, MET_GAUGE, "mt_hooked", "Hooked.", NULL, NULL, 0);
    assert_int_equal(met_register_process_metrics(reg), 0);
    assert_int_equal(met_register_process_metrics(reg), -1);
    met_set_collect_hook(reg, hook, g);
    hook_calls = 0;
    char *text;
    render(reg, &text);
    assert_int_equal(hook_calls, 1);
    assert_true(sample(text, "mt_hooked") == 42);
    assert_true(sample(text, "process_resident_memory_bytes") > 64 * 1024);
    assert_true(sample(text, "process_cpu_seconds_total") >= 0);
    assert_true(fabs(sample(text, "process_start_time_seconds") - start) < 2);
    assert_non_null(strstr(text, "# TYPE process_cpu_seconds_total counter\n"));
    free(text);
    met_set_collect_hook(reg, NULL, NULL);
    render(reg, &text);
    assert_int_equal(hook_calls, 1);
    free(text);
    met_registry_free(reg);
}

/* ---- allocation failures (ref: SQLite test_malloc.c) ----
 * tests/unit/tu_failalloc.h replaces the allocator; under ASan/TSan these tests skip. */
#include "tu_failalloc.h"
#define OOM_AVAILABLE TU_FAILALLOC_AVAILABLE
#if OOM_AVAILABLE


/* Builds a registry with every metric kind; returns NULL if any step failed. */
static met_registry *build_sample(void)
{
    met_registry *reg = met_registry_new();
    const char *ln[] = {"model", NULL};
    const double b[] = {0.5, 1};
    met_family *c = met_register(reg, MET_COUNTER, "mt_oom_total", "c", ln, NULL, 0);
    met_family *h = met_register(reg, MET_HISTOGRAM, "mt_oom_seconds", "h", ln, b, 2);
    met_family *g = met_register(reg, MET_GAUGE, "mt_oom_bytes", "g", NULL, NULL, 0);
    const char *v[] = {"base \"x\""};
    met_inc(c, v, 1);
    met_observe(h, v, 0.7);
    met_set(g, NULL, 3);
    if (!reg || !c || !h || !g || met_get(c, v) != 1 || met_get(h, v) != 1) {
        met_registry_free(reg);
        return NULL;
    }
    return reg;
}
#endif

static void test_oom_build_and_render(void **state)
{
    (void)state;
    if (!OOM_AVAILABLE) {
        print_message("SKIP: allocator owned by a sanitizer\n");
        skip();
    }
#if OOM_AVAILABLE
    met_registry *reg0 = build_sample();
    assert_non_null(reg0);
    char *ref;
    render(reg0, &ref);
    met_registry_free(reg0);
    /* 1. construction: any failure leaves nothing behind */
    for (long n = 0;; n++) {
        assert_true(n < 100000);
        long live0 = tu_live();
        tu_fail_arm(n);
        met_registry *reg = build_sample();
        int failed = tu_fail_disarm();
        met_registry_free(reg);
        assert_int_equal(tu_live(), live0);
        if (!failed) {
            assert_non_null(reg);
            break;
        }
    }
    /* 2. rendering: fails cleanly (-1, *out NULL) until it succeeds, then is complete */
    met_registry *reg = build_sample();
    assert_non_null(reg);
    for (long n = 0;; n++) {
        assert_true(n < 100000);
        long live0 = tu_live();
        char *out = (char *)1;
        tu_fail_arm(n);
        int rc = met_render(reg, &out, NULL);
        int failed = tu_fail_disarm();
        if (rc != 0) {
            assert_true(failed);
            assert_null(out);
            assert_int_equal(tu_live(), live0);
            continue;
        }
        assert_string_equal(out, ref);
        free(out);
        if (!failed)
            break;
    }
    met_registry_free(reg);
    free(ref);
#endif
}

/* ---- promtool ---- */

static void test_promtool_accepts_output(void **state)
{
    (void)state;
    if (system("command -v promtool >/dev/null 2>&1") != 0) {
        print_message("SKIP: promtool not installed\n");
        skip();
    }
    met_registry *reg = met_registry_new();
    met_register_process_metrics(reg);
    const char *model[] = {"model", NULL}, *ep[] = {"endpoint", "status", NULL};
    const char *pc[] = {"path", "code", NULL};
    const double lb[] = {0.1, 0.5, 1, 2.5, 5, 10, 30, 60};
    const double rf[] = {0.05, 0.1, 0.25, 0.5, 1, 2};
    met_family *st = met_register(reg, MET_GAUGE, "mdconv_startup_seconds",
                                  "Seconds from exec to listening.", NULL, NULL, 0);
    met_family *ms = met_register(reg, MET_GAUGE, "mdconv_model_state",
                                  "Model state: 0 unloaded, 1 loading, 2 ready, 3 failed.", model,
                                  NULL, 0);
    met_family *ml = met_register(reg, MET_HISTOGRAM, "mdconv_model_load_seconds",
                                  "Model load time in seconds.", NULL, lb, 8);
    met_family *tr = met_register(reg, MET_COUNTER, "mdconv_transcriptions_total",
                                  "Transcriptions by endpoint and status.", ep, NULL, 0);
    met_family *rt = met_register(reg, MET_HISTOGRAM, "mdconv_realtime_factor",
                                  "Processing time divided by audio duration.", NULL, rf, 6);
    met_family *hr = met_register(reg, MET_COUNTER, "mdconv_http_requests_total",
                                  "HTTP requests by path and status code.", pc, NULL, 0);
    assert_true(st && ms && ml && tr && rt && hr);
    met_set(st, NULL, 0.004);
    const char *m[] = {"base \"q\" \\ x\ny"};
    met_set(ms, m, 2);
    met_observe(ml, NULL, 1.7);
    const char *e[] = {"/relatorio/process-meeting", "ok"};
    met_inc(tr, e, 3);
    met_observe(rt, NULL, 0.3);
    const char *p[] = {"/health", "200"};
    met_inc(hr, p, 1e6);

    char *text;
    render(reg, &text);
    char path[] = "/tmp/mdc-metrics-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s 2>&1", path);
    FILE *pp = popen(cmd, "r");
    assert_non_null(pp);
    char out[4096];
    size_t n = fread(out, 1, sizeof out - 1, pp);
    out[n] = '\0';
    int rc = pclose(pp);
    unlink(path);
    if (n || rc != 0)
        print_message("promtool (rc %d) said:\n%s\non:\n%s\n", rc, out, text);
    assert_int_equal(n, 0);
    assert_int_equal(rc, 0);
    free(text);
    met_registry_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_increments_exact),
        cmocka_unit_test(test_render_counter_gauge_histogram),
        cmocka_unit_test(test_label_escaping_and_utf8),
        cmocka_unit_test(test_series_cap_counts_drops),
        cmocka_unit_test(test_register_rejects_bad_arguments),
        cmocka_unit_test(test_collect_hook_and_process_metrics),
        cmocka_unit_test(test_oom_build_and_render),
        cmocka_unit_test(test_promtool_accepts_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
