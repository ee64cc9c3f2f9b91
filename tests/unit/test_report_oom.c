/* Allocation-failure tests for the report renderers (ref: SQLite test_malloc.c): fail the
 * Nth allocation, for N = 0, 1, … until rpt_render succeeds without a failed
 * allocation; every failing call returns -1 with *out = NULL and leaves nothing
 * allocated, and every successful one yields the complete report.
 *
 * The test replaces malloc/calloc/realloc/free with counting wrappers around glibc's
 * __libc_* entry points; under ASan/TSan (which own the allocator) it is skipped. */
#include "testutil.h"

#include "mdc/report.h"

#include <stdatomic.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define OOM_AVAILABLE 0
#else
#define OOM_AVAILABLE 1
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

static atomic_long g_fail_at = -1; /* index of the allocation to fail; -1 = never */
static atomic_long g_count;        /* allocations attempted since arming */
static atomic_long g_live;         /* successful allocations not yet freed */
static atomic_int g_failed;        /* an allocation was failed on purpose */

static int should_fail(void)
{
    long at = atomic_load(&g_fail_at);
    if (at < 0)
        return 0;
    if (atomic_fetch_add(&g_count, 1) == at) {
        atomic_store(&g_failed, 1);
        return 1;
    }
    return 0;
}

void *malloc(size_t n)
{
    if (should_fail())
        return NULL;
    void *p = __libc_malloc(n);
    if (p)
        atomic_fetch_add(&g_live, 1);
    return p;
}

void *calloc(size_t n, size_t size)
{
    if (should_fail())
        return NULL;
    void *p = __libc_calloc(n, size);
    if (p)
        atomic_fetch_add(&g_live, 1);
    return p;
}

void *realloc(void *old, size_t n)
{
    if (!old)
        return malloc(n);
    if (n == 0) {
        free(old);
        return NULL;
    }
    if (should_fail())
        return NULL;
    return __libc_realloc(old, n);
}

void free(void *p)
{
    if (p)
        atomic_fetch_sub(&g_live, 1);
    __libc_free(p);
}
#endif

static void run_oom_loop(rpt_format fmt)
{
    if (!OOM_AVAILABLE) {
        print_message("SKIP: allocator owned by a sanitizer\n");
        skip();
    }
#if OOM_AVAILABLE
    static const rpt_segment k_segs[] = {
        {.t0_cs = 0, .t1_cs = 300, .text = " Bom dia, reunião às 9h. <b>x</b> | [a](b)"},
        {.t0_cs = 350, .t1_cs = 600, .text = " Broken \xC3 text."},
        {.t0_cs = 70000, .t1_cs = 70500, .text = " Depois da pausa, ações."},
    };
    rpt_transcript tr = {.segments = k_segs, .n_segments = 3, .language = "pt",
                         .language_prob = 0.8, .duration_s = 700, .task = "transcribe"};
    rpt_meta meta = {.title = "Título", .date = "hoje", .participants = "Ana, Bruno",
                     .model = "ggml-base.bin", .source_name = "a.mp4", .processing_s = 3};
    /* warm-up: one-time initialisation (jansson's hash seed reads /dev/urandom); the
     * output is the reference every later success must match */
    char *ref = NULL;
    assert_int_equal(rpt_render(fmt, &tr, &meta, &ref, NULL), 0);
    for (long n = 0;; n++) {
        assert_true(n < 100000);
        long live0 = atomic_load(&g_live);
        atomic_store(&g_count, 0);
        atomic_store(&g_failed, 0);
        atomic_store(&g_fail_at, n);
        char *out = (char *)1;
        int rc = rpt_render(fmt, &tr, &meta, &out, NULL);
        atomic_store(&g_fail_at, -1);
        int failed = atomic_load(&g_failed);
        if (rc != 0) {
            assert_int_equal(rc, -1);
            assert_true(failed);
            assert_null(out);
            assert_int_equal(atomic_load(&g_live), live0); /* nothing leaked */
            continue;
        }
        /* success: either no failure was injected, or a library recovered from it (jansson
         * tolerates some internal failures) — the output must then be complete anyway */
        assert_non_null(out);
        assert_string_equal(out, ref);
        free(out);
        assert_int_equal(atomic_load(&g_live), live0);
        if (!failed) {
            assert_true(n > 0);
            break;
        }
    }
    free(ref);
#endif
}

static void test_oom_markdown(void **state) { (void)state; run_oom_loop(RPT_FORMAT_MARKDOWN); }
static void test_oom_text(void **state) { (void)state; run_oom_loop(RPT_FORMAT_TEXT); }
static void test_oom_srt(void **state) { (void)state; run_oom_loop(RPT_FORMAT_SRT); }
static void test_oom_vtt(void **state) { (void)state; run_oom_loop(RPT_FORMAT_VTT); }
static void test_oom_json(void **state) { (void)state; run_oom_loop(RPT_FORMAT_JSON); }
static void test_oom_verbose_json(void **state)
{
    (void)state;
    run_oom_loop(RPT_FORMAT_VERBOSE_JSON);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oom_markdown), cmocka_unit_test(test_oom_text),
        cmocka_unit_test(test_oom_srt),      cmocka_unit_test(test_oom_vtt),
        cmocka_unit_test(test_oom_json),     cmocka_unit_test(test_oom_verbose_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
