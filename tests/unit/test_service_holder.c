/*
 * test_service_holder.c — the model holder (lazy loading, DESIGN §2): nothing loaded at
 * creation, one load under a 32-thread race, shared errors, retry after the back-off,
 * corrupt files, background preload, idle unload and reload, metrics and log phrases.
 * Also run under TSan by tests/sanitize.sh.
 */
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "testutil.h"

#include "mdc/clock.h"
#include "mdc/log.h"
#include "mdc/metrics.h"
#include "service/holder.h"

/* ---- captured log lines ------------------------------------------------------ */
static pthread_mutex_t g_log_mu = PTHREAD_MUTEX_INITIALIZER;
static char g_log[32768];
static size_t g_log_len;

static void capture_sink(mdc_log_level level, const char *func, const char *msg, void *user)
{
    pthread_mutex_lock(&g_log_mu);
    int n = snprintf(g_log + g_log_len, sizeof g_log - g_log_len, "%s\n", msg);
    if (n > 0 && g_log_len + (size_t)n < sizeof g_log)
        g_log_len += (size_t)n;
    pthread_mutex_unlock(&g_log_mu);
}

static int log_contains(const char *needle)
{
    pthread_mutex_lock(&g_log_mu);
    int found = strstr(g_log, needle) != NULL;
    pthread_mutex_unlock(&g_log_mu);
    return found;
}

static void log_clear(void)
{
    pthread_mutex_lock(&g_log_mu);
    g_log[0] = '\0';
    g_log_len = 0;
    pthread_mutex_unlock(&g_log_mu);
}

/* ---- helpers ------------------------------------------------------------------ */
static char g_dir[256];

static const char *tmp_path(const char *name)
{
    static char bufs[4][512];
    static int k;
    char *b = bufs[k++ & 3];
    snprintf(b, sizeof bufs[0], "%s/%s", g_dir, name);
    return b;
}

/* Copies the first `n` bytes of src to dst (all when n == 0). */
static void copy_file(const char *src, const char *dst, size_t n)
{
    size_t len = 0;
    char *data = tu_read_file(src, &len);
    assert_non_null(data);
    if (n == 0 || n > len)
        n = len;
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", dst);
    FILE *f = fopen(tmp, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
    assert_int_equal(rename(tmp, dst), 0); /* atomic: a racing load sees old or new */
    free(data);
}

static double metric(met_registry *reg, const char *name, const char *model)
{
    /* Re-registering is not allowed, so look the value up through a rendered page. */
    char *page = NULL;
    size_t len = 0;
    assert_int_equal(met_render(reg, &page, &len), 0);
    char key[256];
    snprintf(key, sizeof key, "%s{model=\"%s\"} ", name, model);
    const char *p = strstr(page, key);
    double v = p ? strtod(p + strlen(key), NULL) : -1;
    free(page);
    return v;
}

static void sleep_ms(int ms) { usleep((useconds_t)ms * 1000); }

static int setup(void **state)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/mdc-holder-test-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    log_clear();
    mdc_log_set_sink(capture_sink, NULL);
    return 0;
}

static int teardown(void **state)
{
    const char *names[] = {"m.bin", "bad.bin", "late.bin", "m.bin.tmp", "bad.bin.tmp",
                           "late.bin.tmp"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(tmp_path(names[i]));
    rmdir(g_dir);
    mdc_log_set_sink(NULL, NULL);
    return 0;
}

/* ---- tests ---------------------------------------------------------------------- */

static void test_nothing_loaded_after_new(void **state)
{
    holder_options o = {.name = "micro", .path = tu_model("micro"), .retry_backoff_ms = 100};
    model_holder *h = holder_new(&o);
    assert_non_null(h);
    assert_int_equal(holder_get_state(h), HOLDER_UNLOADED);
    assert_int_equal(holder_loads_total(h), 0);
    assert_int_equal(holder_refs(h), 0);
    assert_int_equal(holder_preload_pending(h), 0);
    assert_string_equal(holder_state_name(holder_get_state(h)), "unloaded");
    assert_string_equal(holder_name(h), "micro");
    assert_string_equal(holder_path(h), tu_model("micro"));
    char buf[64] = "x";
    holder_last_error(h, buf, sizeof buf);
    assert_string_equal(buf, "");
    assert_false(log_contains("Lazy Loading"));
    holder_free(h);
    holder_free(NULL);
}

static void test_first_acquire_loads_second_reuses(void **state)
{
    TU_REQUIRE_FILE(tu_model("micro"));
    met_registry *reg = met_registry_new();
    holder_options o = {.name = "micro", .path = tu_model("micro"), .metrics = reg};
    model_holder *h = holder_new(&o);
    assert_int_equal(metric(reg, "mdconv_model_state", "micro"), 0);

    wsp_error err = {0};
    const wsp_model *a = holder_acquire(h, &err);
    assert_non_null(a);
    assert_int_equal(holder_get_state(h), HOLDER_READY);
    assert_int_equal(holder_refs(h), 1);
    const wsp_model *b = holder_acquire(h, &err);
    assert_ptr_equal(a, b);
    assert_int_equal(holder_refs(h), 2);
    assert_int_equal(holder_loads_total(h), 1);
    holder_release(h, a);
    holder_release(h, b);
    assert_int_equal(holder_refs(h), 0);
    assert_int_equal(holder_get_state(h), HOLDER_READY); /* no idle unload configured */
    assert_int_equal(holder_maybe_unload_idle(h), 0);

    assert_int_equal(metric(reg, "mdconv_model_state", "micro"), 2);
    assert_int_equal(metric(reg, "mdconv_model_loads_total", "micro"), 1);
    assert_int_equal(metric(reg, "mdconv_model_load_failures_total", "micro"), 0);
    assert_int_equal(metric(reg, "mdconv_model_load_seconds_count", "micro"), 1);
    assert_true(log_contains("Lazy Loading: loading model micro from "));
    assert_true(log_contains("Lazy Loading: model micro ready in "));
    assert_true(log_contains("bytes mapped"));
    holder_free(h);
    met_registry_free(reg);
}

typedef struct racer {
    model_holder *h;
    const wsp_model *got;
    wsp_error err;
    atomic_int *go;
} racer;

static void *race_main(void *arg)
{
    racer *r = arg;
    while (!atomic_load(r->go)) {
    }
    r->got = holder_acquire(r->h, &r->err);
    return NULL;
}

enum { N_RACERS = 32 };

/* Starts N_RACERS threads that acquire at once; joins them. */
static void race(model_holder *h, racer *rs)
{
    pthread_t th[N_RACERS];
    atomic_int go = 0;
    for (int i = 0; i < N_RACERS; i++) {
        rs[i] = (racer){.h = h, .go = &go};
        assert_int_equal(pthread_create(&th[i], NULL, race_main, &rs[i]), 0);
    }
    atomic_store(&go, 1);
    for (int i = 0; i < N_RACERS; i++)
        pthread_join(th[i], NULL);
}

static void test_32_threads_one_load(void **state)
{
    TU_REQUIRE_FILE(tu_model("micro"));
    met_registry *reg = met_registry_new();
    holder_options o = {.name = "micro", .path = tu_model("micro"), .load_delay_ms = 300,
                        .metrics = reg};
    model_holder *h = holder_new(&o);
    racer rs[N_RACERS];
    race(h, rs);
    for (int i = 0; i < N_RACERS; i++) {
        assert_non_null(rs[i].got);
        assert_ptr_equal(rs[i].got, rs[0].got);
    }
    assert_int_equal(holder_loads_total(h), 1);
    assert_int_equal(holder_refs(h), N_RACERS);
    assert_int_equal(metric(reg, "mdconv_model_loads_total", "micro"), 1);
    for (int i = 0; i < N_RACERS; i++)
        holder_release(h, rs[i].got);
    assert_int_equal(holder_refs(h), 0);
    holder_free(h);
    met_registry_free(reg);
}

static void test_missing_file_same_error_then_fixed(void **state)
{
    TU_REQUIRE_FILE(tu_model("micro"));
    met_registry *reg = met_registry_new();
    const char *path = tmp_path("late.bin");
    holder_options o = {.name = "late", .path = path, .load_delay_ms = 200,
                        .retry_backoff_ms = 400, .metrics = reg,
                        .context = "WHISPER_MODEL=late, WHISPER_MODELS_DIR=x"};
    model_holder *h = holder_new(&o);
    racer rs[N_RACERS];
    race(h, rs);
    for (int i = 0; i < N_RACERS; i++) {
        assert_null(rs[i].got);
        assert_int_not_equal(rs[i].err.code, 0);
        assert_string_equal(rs[i].err.message, rs[0].err.message);
    }
    assert_non_null(strstr(rs[0].err.message, path));
    assert_non_null(strstr(rs[0].err.message, "file not found"));
    assert_non_null(strstr(rs[0].err.message, "WHISPER_MODEL=late"));
    assert_int_equal(holder_get_state(h), HOLDER_FAILED);
    assert_string_equal(holder_state_name(HOLDER_FAILED), "failed");
    char kept[512];
    holder_last_error(h, kept, sizeof kept);
    assert_string_equal(kept, rs[0].err.message);
    assert_int_equal(metric(reg, "mdconv_model_state", "late"), 3);
    assert_true(log_contains("Lazy Loading: failed to load model late"));

    /* Fix the file; a request still inside the back-off gets the kept error at once
     * (no new attempt).  Then, after the back-off, the next acquire loads. */
    copy_file(tu_model("micro"), path, 0);
    wsp_error err = {0};
    double t0 = mdc_now_ms();
    const wsp_model *m = holder_acquire(h, &err);
    double dt = mdc_now_ms() - t0;
    if (dt < 150) { /* certainly inside the 400 ms back-off, before any 200 ms load */
        assert_null(m);
        assert_string_equal(err.message, kept);
        assert_int_equal(metric(reg, "mdconv_model_load_failures_total", "late"), 1);
    } else if (m) {
        holder_release(h, m); /* the machine stalled past the back-off: retried */
    }
    sleep_ms(450);
    m = holder_acquire(h, &err);
    assert_non_null(m);
    assert_int_equal(holder_get_state(h), HOLDER_READY);
    holder_last_error(h, kept, sizeof kept);
    assert_string_equal(kept, "");
    assert_int_equal(holder_loads_total(h), 1);
    assert_int_equal(metric(reg, "mdconv_model_loads_total", "late"), 1);
    holder_release(h, m);
    holder_free(h);
    met_registry_free(reg);
}

/* Retry storm: no back-off, 16 threads retry a missing model until it appears; every
 * thread ends with the one model, loaded once.  (Exercises the attempt numbering under
 * TSan.) */
typedef struct stormer {
    model_holder *h;
    const wsp_model *got;
    int failures;
} stormer;

static void *storm_main(void *arg)
{
    stormer *s = arg;
    wsp_error err;
    for (int i = 0; i < 100000 && !s->got; i++) {
        s->got = holder_acquire(s->h, &err);
        if (!s->got) {
            s->failures++;
            usleep(1000);
        }
    }
    return NULL;
}

static void test_retry_storm_then_one_load(void **state)
{
    TU_REQUIRE_FILE(tu_model("micro"));
    const char *path = tmp_path("late.bin");
    holder_options o = {.name = "storm", .path = path, .retry_backoff_ms = 0,
                        .load_delay_ms = 5};
    model_holder *h = holder_new(&o);
    wsp_error err = {0};
    assert_null(holder_acquire(h, &err)); /* missing: at least one failed attempt */
    assert_non_null(strstr(err.message, "file not found"));
    enum { N = 16 };
    stormer ss[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        ss[i] = (stormer){.h = h};
        assert_int_equal(pthread_create(&th[i], NULL, storm_main, &ss[i]), 0);
    }
    sleep_ms(100);
    copy_file(tu_model("micro"), path, 0);
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++) {
        assert_non_null(ss[i].got);
        assert_ptr_equal(ss[i].got, ss[0].got);
    }
    assert_int_equal(holder_loads_total(h), 1);
    assert_int_equal(holder_refs(h), N);
    for (int i = 0; i < N; i++)
        holder_release(h, ss[i].got);
    holder_free(h);
}

static void test_corrupt_file_clear_error(void **state)
{
    TU_REQUIRE_FILE(tu_model("micro"));
    const char *path = tmp_path("bad.bin");
    size_t cuts[] = {3, 60, 4096, 100000};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        copy_file(tu_model("micro"), path, cuts[i]);
        holder_options o = {.name = "bad", .path = path};
        model_holder *h = holder_new(&o);
        wsp_error err = {0};
        assert_null(holder_acquire(h, &err));
        assert_int_not_equal(err.code, 0);
        assert_non_null(strstr(err.message, "cannot load model "));
        assert_non_null(strstr(err.message, path));
        assert_int_equal(holder_get_state(h), HOLDER_FAILED);
        holder_free(h);
    }
    /* a directory is not a model */
    holder_options o = {.name = "dir", .path = g_dir};
    model_holder *h = holder_new(&o);
    wsp_error err = {0};
    assert_null(holder_acquire(h, &err));
    assert_non_null(strstr(err.message, g_dir));
    holder_free(h);
}

static void test_preload_async_returns_at_once(void **state)
{
    TU_REQUIRE_FILE(tu_model("micro"));
    /* A long load (1.5 s) so that even a stalled test thread checks the state before the
     * load ends. */
    holder_options o = {.name = "micro", .path = tu_model("micro"), .load_delay_ms = 1500};
    model_holder *h = holder_new(&o);
    assert_int_equal(holder_preload_async(h), 0);
    /* Had the call blocked on the load, the load would be complete by now. */
    assert_int_equal(holder_loads_total(h), 0);
    assert_int_equal(holder_preload_pending(h), 1);
    holder_state s = holder_get_state(h);
    assert_true(s == HOLDER_UNLOADED || s == HOLDER_LOADING);
    assert_int_equal(holder_preload_async(h), 0); /* second call: no second thread */
    int seen_loading = s == HOLDER_LOADING;
    for (int i = 0; i < 6000 && holder_get_state(h) != HOLDER_READY; i++) {
        if (holder_get_state(h) == HOLDER_LOADING)
            seen_loading = 1;
        sleep_ms(10);
    }
    assert_true(seen_loading);
    assert_int_equal(holder_get_state(h), HOLDER_READY);
    assert_int_equal(holder_preload_pending(h), 0);
    assert_int_equal(holder_refs(h), 0);
    wsp_error err = {0};
    const wsp_model *m = holder_acquire(h, &err);
    assert_non_null(m);
    assert_int_equal(holder_loads_total(h), 1);
    holder_release(h, m);
    holder_free(h);
}

static void test_preload_retries_until_the_file_appears(void **state)
{
    TU_REQUIRE_FILE(tu_model("micro"));
    const char *path = tmp_path("preload-late.bin");
    holder_options o = {.name = "late", .path = path, .retry_backoff_ms = 100};
    model_holder *h = holder_new(&o);
    assert_int_equal(holder_preload_async(h), 0);
    for (int i = 0; i < 500 && holder_get_state(h) != HOLDER_FAILED; i++)
        sleep_ms(10);
    assert_int_equal(holder_get_state(h), HOLDER_FAILED);
    assert_int_equal(holder_preload_pending(h), 1);
    /* The file appears (volume mounted late); no request arrives: the preload thread
     * itself must retry and make the holder ready. */
    copy_file(tu_model("micro"), path, 0);
    for (int i = 0; i < 1000 && holder_get_state(h) != HOLDER_READY; i++)
        sleep_ms(10);
    assert_int_equal(holder_get_state(h), HOLDER_READY);
    assert_int_equal(holder_preload_pending(h), 0);
    assert_int_equal(holder_loads_total(h), 1);
    assert_true(log_contains("will retry"));
    holder_free(h);
}

static void test_free_wakes_a_preload_waiting_to_retry(void **state)
{
    holder_options o = {.name = "never", .path = tmp_path("never.bin"),
                        .retry_backoff_ms = 30000};
    model_holder *h = holder_new(&o);
    assert_int_equal(holder_preload_async(h), 0);
    for (int i = 0; i < 500 && holder_get_state(h) != HOLDER_FAILED; i++)
        sleep_ms(10);
    assert_int_equal(holder_get_state(h), HOLDER_FAILED);
    double t0 = mdc_now_ms();
    holder_free(h); /* must not wait out the 30 s back-off */
    assert_true(mdc_now_ms() - t0 < 10000);
}

static void test_preload_then_free_at_once(void **state)
{
    TU_REQUIRE_FILE(tu_model("micro"));
    holder_options o = {.name = "micro", .path = tu_model("micro"), .load_delay_ms = 100};
    model_holder *h = holder_new(&o);
    assert_int_equal(holder_preload_async(h), 0);
    holder_free(h); /* joins the preload thread; no leak, no race */
}

static void test_idle_unload_and_reload(void **state)
{
    TU_REQUIRE_FILE(tu_model("micro"));
    met_registry *reg = met_registry_new();
    holder_options o = {.name = "micro", .path = tu_model("micro"), .idle_unload_seconds = 1,
                        .metrics = reg};
    model_holder *h = holder_new(&o);
    assert_int_equal(holder_maybe_unload_idle(h), 0); /* nothing loaded */
    wsp_error err = {0};
    const wsp_model *m = holder_acquire(h, &err);
    assert_non_null(m);
    sleep_ms(1200);
    assert_int_equal(holder_maybe_unload_idle(h), 0); /* a reference is held */
    assert_int_equal(holder_get_state(h), HOLDER_READY);
    holder_release(h, m);
    sleep_ms(1200);
    assert_int_equal(holder_maybe_unload_idle(h), 1);
    assert_int_equal(holder_get_state(h), HOLDER_UNLOADED);
    assert_int_equal(holder_maybe_unload_idle(h), 0);
    assert_int_equal(metric(reg, "mdconv_model_unloads_total", "micro"), 1);
    assert_int_equal(metric(reg, "mdconv_model_state", "micro"), 0);
    assert_true(log_contains("Lazy Loading: unloaded model micro"));

    m = holder_acquire(h, &err);
    assert_non_null(m);
    assert_int_equal(holder_loads_total(h), 2);
    assert_int_equal(metric(reg, "mdconv_model_loads_total", "micro"), 2);
    holder_release(h, m);
    holder_free(h);
    met_registry_free(reg);
}

typedef struct reload_waiter {
    model_holder *h;
    const wsp_model *got;
    atomic_int done;
} reload_waiter;

static void *acquire_thread(void *arg)
{
    reload_waiter *w = arg;
    wsp_error err = {0};
    w->got = holder_acquire(w->h, &err);
    atomic_store(&w->done, 1);
    return NULL;
}

/* holder_request_reload (SIGHUP): never drops a held model; drops at the last release;
 * an acquire after the request waits for that and maps the file again (a replaced file
 * is what it maps); idle → dropped at once; FAILED → back-off skipped. */
static void test_reload_waits_for_the_running_job(void **state)
{
    TU_REQUIRE_FILE(tu_model("micro"));
    copy_file(tu_model("micro"), tmp_path("m.bin"), 0);
    holder_options o = {.name = "m", .path = tmp_path("m.bin"), .retry_backoff_ms = 60000};
    model_holder *h = holder_new(&o);
    assert_int_equal(holder_request_reload(h), 2); /* nothing mapped */
    wsp_error err = {0};
    const wsp_model *job = holder_acquire(h, &err);
    assert_non_null(job);
    assert_int_equal(holder_request_reload(h), 0); /* deferred: the job holds it */
    assert_int_equal(holder_get_state(h), HOLDER_READY);

    reload_waiter w = {.h = h};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, acquire_thread, &w), 0);
    sleep_ms(100);
    assert_int_equal(atomic_load(&w.done), 0); /* new work waits for the running job */
    assert_int_equal(holder_loads_total(h), 1);
    assert_int_equal(wsp_model_n_tensors(job) > 0, 1); /* the held model is intact */
    holder_release(h, job);
    pthread_join(t, NULL);
    assert_non_null(w.got);
    assert_int_equal(holder_loads_total(h), 2); /* mapped again */
    assert_true(log_contains("Lazy Loading: reload: unloaded model m"));
    holder_release(h, w.got);

    /* idle: dropped at once; a replaced (broken) file is what the next acquire maps */
    copy_file(tu_model("micro"), tmp_path("m.bin"), 1000);
    assert_int_equal(holder_request_reload(h), 1);
    assert_int_equal(holder_get_state(h), HOLDER_UNLOADED);
    assert_null(holder_acquire(h, &err));
    assert_int_equal(holder_get_state(h), HOLDER_FAILED);
    /* FAILED with a 60 s back-off: a reload lets the next acquire retry at once */
    copy_file(tu_model("micro"), tmp_path("m.bin"), 0);
    assert_null(holder_acquire(h, &err)); /* still in the back-off */
    assert_int_equal(holder_request_reload(h), 2);
    const wsp_model *m = holder_acquire(h, &err);
    assert_non_null(m);
    assert_int_equal(holder_loads_total(h), 3);
    holder_release(h, m);
    holder_free(h);
}

static void test_release_misuse_is_harmless(void **state)
{
    TU_REQUIRE_FILE(tu_model("micro"));
    holder_options o = {.name = "micro", .path = tu_model("micro")};
    model_holder *h = holder_new(&o);
    holder_release(h, NULL);
    wsp_error err = {0};
    const wsp_model *m = holder_acquire(h, &err);
    holder_release(h, m);
    holder_release(h, m); /* one too many: logged, refcount stays 0 */
    assert_int_equal(holder_refs(h), 0);
    assert_null(holder_acquire(NULL, &err));
    assert_null(holder_new(NULL));
    holder_free(h);
}

/* The file's identity is checked before each hand-out and by holder_model_intact():
 * a replaced file retires the model (freed at its last release) and the next acquire
 * loads the new file; a second change while the older copy is still in use answers an
 * error instead of loading a third copy. */
static void test_file_change_retires_model(void **state)
{
    TU_REQUIRE_FILE(tu_model("micro"));
    met_registry *reg = met_registry_new();
    const char *path = tmp_path("m.bin");
    copy_file(tu_model("micro"), path, 0);
    holder_options o = {.name = "m", .path = path, .metrics = reg};
    model_holder *h = holder_new(&o);
    wsp_error err = {0};
    const wsp_model *a = holder_acquire(h, &err);
    assert_non_null(a);
    char why[256];
    assert_true(holder_model_intact(h, a, why, sizeof why));

    copy_file(tu_model("micro"), path, 0); /* rename over it: a new inode */
    /* a's mapped inode is untouched, so a's results stand; a is retired all the same */
    assert_true(holder_model_intact(h, a, why, sizeof why));
    assert_int_equal(holder_get_state(h), HOLDER_UNLOADED);
    assert_true(log_contains("replaced"));
    const wsp_model *b = holder_acquire(h, &err); /* loads the new file; a still in use */
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    assert_int_equal(holder_loads_total(h), 2);
    assert_true(holder_model_intact(h, a, why, sizeof why)); /* a stays retired, intact */

    copy_file(tu_model("micro"), path, 0); /* again, while a and b are both held */
    const wsp_model *c = holder_acquire(h, &err);
    assert_null(c);
    assert_non_null(strstr(err.message, "replaced"));
    holder_release(h, a); /* the retired copy's last user: unmapped now */
    c = holder_acquire(h, &err); /* b retires (still held), the newest file loads */
    assert_non_null(c);
    assert_int_equal(holder_loads_total(h), 3);
    holder_release(h, b);
    assert_true(holder_model_intact(h, c, why, sizeof why));
    holder_release(h, c);
    assert_int_equal(holder_refs(h), 0);
    assert_int_equal(metric(reg, "mdconv_model_retired_total", "m"), 2);
    assert_true(log_contains("retired"));

    /* truncated in place (same inode, new size) while in use: the bytes under the
     * mapping changed, so the user's results are discarded (intact false) */
    const wsp_model *d = holder_acquire(h, &err);
    assert_non_null(d);
    assert_int_equal(truncate(path, 1000), 0);
    assert_false(holder_model_intact(h, d, why, sizeof why));
    assert_non_null(strstr(why, "changed on disk"));
    assert_false(holder_model_intact(h, d, why, sizeof why)); /* retired and unsafe */
    holder_release(h, d);
    assert_null(holder_acquire(h, &err)); /* the reload fails: too short */
    assert_int_equal(metric(reg, "mdconv_model_retired_total", "m"), 3);
    holder_free(h);
    met_registry_free(reg);
}

/* Threads of this process (entries of /proc/self/task). */
static int task_count(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

#define ENG_SLOTS 2
#define ENG_THREADS 2
#define ENG_USERS 4
#define ENG_ROUNDS 3

typedef struct eng_user {
    model_holder *h;
    const float *pcm;
    size_t n;
    int failures;
    char first_text[256];
    bool mismatch;
} eng_user;

/* One worker's life: acquire, lease, transcribe, return, release — ENG_ROUNDS times. */
static void *eng_user_main(void *arg)
{
    eng_user *u = arg;
    for (int r = 0; r < ENG_ROUNDS; r++) {
        wsp_error err = {0};
        const wsp_model *m = holder_acquire(u->h, &err);
        wsp_state *st = NULL;
        if (!m || holder_lease_state(u->h, m, &st, &err) != 0) {
            u->failures++;
            holder_release(u->h, m);
            continue;
        }
        wsp_params p = wsp_default_params(WSP_SAMPLING_GREEDY);
        p.language = "en";
        p.temperature_inc = 0;
        wsp_result *res = NULL;
        int rc = wsp_transcribe(st, u->pcm, u->n, &p, &res, &err);
        if (rc != 0) {
            u->failures++;
        } else {
            char text[256] = "";
            for (int s = 0; s < res->n_segments; s++)
                strncat(text, res->segments[s].text, sizeof text - strlen(text) - 1);
            if (r == 0)
                snprintf(u->first_text, sizeof u->first_text, "%s", text);
            else if (strcmp(text, u->first_text) != 0)
                u->mismatch = true; /* a reused state must give the same result */
        }
        wsp_result_free(res);
        holder_return_state(u->h, m, st, rc == 0);
        holder_release(u->h, m);
    }
    return NULL;
}

/* The engine's pools are started once: with 4 users on 2 pools of 2 threads, the thread
 * count grows by exactly 2 (each pool's caller is the user's thread) when the engine is
 * created and never again; states are reused across requests (at most one per pool),
 * equal inputs give equal text on a reused state, and an idle unload frees them. */
static void test_engine_states_leased_and_reused(void **state)
{
    TU_REQUIRE_FILE(tu_model("micro"));
    const int base = task_count();
    wsp_engine *e = NULL;
    assert_int_equal(wsp_engine_new(ENG_SLOTS, ENG_THREADS, &e, NULL), 0);
    const int with_engine = task_count();
    assert_int_equal(with_engine - base, ENG_SLOTS * (ENG_THREADS - 1));
    holder_options o = {.name = "micro", .path = tu_model("micro"), .engine = e,
                        .idle_unload_seconds = 1};
    model_holder *h = holder_new(&o);
    const size_t n = 16000; /* 1 s of a chirp-ish tone */
    float *pcm = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++)
        pcm[i] = 0.3f * sinf((float)i * (0.05f + (float)i * 1e-6f));
    eng_user us[ENG_USERS];
    pthread_t th[ENG_USERS];
    for (int i = 0; i < ENG_USERS; i++) {
        us[i] = (eng_user){.h = h, .pcm = pcm, .n = n};
        assert_int_equal(pthread_create(&th[i], NULL, eng_user_main, &us[i]), 0);
    }
    for (int i = 0; i < ENG_USERS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < ENG_USERS; i++) {
        assert_int_equal(us[i].failures, 0);
        assert_false(us[i].mismatch);
        assert_string_equal(us[i].first_text, us[0].first_text);
    }
    /* no thread started by any request.  The users' own threads are joined, but a joined
     * thread can stay listed in /proc/self/task for a moment (the kernel wakes the joiner
     * before the task is released), so let the count settle first (up to 2 s). */
    for (int i = 0; i < 200 && task_count() != with_engine; i++)
        usleep(10 * 1000);
    assert_int_equal(task_count(), with_engine);
    assert_true(holder_idle_states(h) >= 1 && holder_idle_states(h) <= ENG_SLOTS);
    /* sequential requests get the same state back */
    wsp_error err = {0};
    const wsp_model *m = holder_acquire(h, &err);
    wsp_state *a = NULL, *b = NULL;
    assert_int_equal(holder_lease_state(h, m, &a, &err), 0);
    holder_return_state(h, m, a, true);
    assert_int_equal(holder_lease_state(h, m, &b, &err), 0);
    assert_ptr_equal(a, b);
    holder_return_state(h, m, b, false); /* not reusable: freed */
    holder_release(h, m);
    assert_true(holder_idle_states(h) <= ENG_SLOTS - 1);
    /* idle unload drops the kept states with the model */
    usleep(1100 * 1000);
    assert_int_equal(holder_maybe_unload_idle(h), 1);
    assert_int_equal(holder_idle_states(h), 0);
    holder_free(h);
    assert_int_equal(task_count(), with_engine);
    wsp_engine_free(e);
    assert_int_equal(task_count(), base);
    free(pcm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nothing_loaded_after_new, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_acquire_loads_second_reuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_32_threads_one_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file_same_error_then_fixed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_storm_then_one_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_file_clear_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_preload_async_returns_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_preload_then_free_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_preload_retries_until_the_file_appears, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_free_wakes_a_preload_waiting_to_retry, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_idle_unload_and_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_waits_for_the_running_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_misuse_is_harmless, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_change_retires_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_states_leased_and_reused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
