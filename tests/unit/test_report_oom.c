/* Allocation-failure tests for the report renderers (ref: SQLite test_malloc.c): fail the
 * Nth allocation, for N = 0, 1, … until rpt_render succeeds without a failed
 * allocation; every failing call returns -1 with *out = NULL and leaves nothing
 * allocated, and every successful one yields the complete report.
 *
 * tests/unit/tu_failalloc.h replaces the allocator; under ASan/TSan the test skips. */
#include "testutil.h"

#include "mdc/report.h"

#include <stdatomic.h>

#include "tu_failalloc.h"
#define OOM_AVAILABLE TU_FAILALLOC_AVAILABLE

static void run_oom_loop(rpt_format fmt, int turns)
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
    /* logprobs too (json emits them; a token may end inside a character) */
    static const rpt_logprob k_lps[] = {{" Bom", 4, -0.5f}, {" reuni\xC3", 7, -1.25f}, {"\xA3o", 2, -2}};
    /* with turns: words, speakers and speaker turns (Markdown and diarized_json split the
     * second segment at its words) */
    static const rpt_word k_words[] = {{350, 400, " Broken"}, {400, 600, " \xC3 text."}};
    static const rpt_segment k_spk[] = {
        {.t0_cs = 0, .t1_cs = 300, .text = " Bom dia, reunião às 9h.", .speaker = "0"},
        {.t0_cs = 350, .t1_cs = 600, .text = " Broken \xC3 text.", .words = k_words,
         .n_words = 2, .speaker = "1"},
        {.t0_cs = 70000, .t1_cs = 70500, .text = " Depois da pausa, ações.", .speaker = "?"},
    };
    static const rpt_turn k_turns[] = {{0, 390, "0"}, {390, 600, "1"}, {69000, 71000, "0"}};
    rpt_transcript tr = {.segments = turns ? k_spk : k_segs, .n_segments = 3, .language = "pt",
                         .language_prob = 0.8, .duration_s = 700, .task = "transcribe",
                         .logprobs = k_lps, .n_logprobs = 3, .with_logprobs = 1,
                         .turns = turns ? k_turns : NULL, .n_turns = turns ? 3 : 0};
    rpt_meta meta = {.title = "Título", .date = "hoje", .participants = "Ana, Bruno",
                     .model = "ggml-base.bin", .source_name = "a.mp4", .processing_s = 3};
    /* warm-up: one-time initialisation (jansson's hash seed reads /dev/urandom); the
     * output is the reference every later success must match */
    char *ref = NULL;
    assert_int_equal(rpt_render(fmt, &tr, &meta, &ref, NULL), 0);
    for (long n = 0;; n++) {
        assert_true(n < 100000);
        long live0 = tu_live();
        tu_fail_arm(n);
        char *out = (char *)1;
        int rc = rpt_render(fmt, &tr, &meta, &out, NULL);
        int failed = tu_fail_disarm();
        if (rc != 0) {
            assert_int_equal(rc, -1);
            assert_true(failed);
            assert_null(out);
            assert_int_equal(tu_live(), live0); /* nothing leaked */
            continue;
        }
        /* success: either no failure was injected, or a library recovered from it (jansson
         * tolerates some internal failures) — the output must then be complete anyway */
        assert_non_null(out);
        assert_string_equal(out, ref);
        free(out);
        assert_int_equal(tu_live(), live0);
        if (!failed) {
            assert_true(n > 0);
            break;
        }
    }
    free(ref);
#endif
}

static void test_oom_markdown(void **state) { (void)state; run_oom_loop(RPT_FORMAT_MARKDOWN, 0); }
static void test_oom_text(void **state) { (void)state; run_oom_loop(RPT_FORMAT_TEXT, 0); }
static void test_oom_srt(void **state) { (void)state; run_oom_loop(RPT_FORMAT_SRT, 0); }
static void test_oom_vtt(void **state) { (void)state; run_oom_loop(RPT_FORMAT_VTT, 0); }
static void test_oom_json(void **state) { (void)state; run_oom_loop(RPT_FORMAT_JSON, 0); }
static void test_oom_verbose_json(void **state)
{
    (void)state;
    run_oom_loop(RPT_FORMAT_VERBOSE_JSON, 0);
}
static void test_oom_markdown_turns(void **state)
{
    (void)state;
    run_oom_loop(RPT_FORMAT_MARKDOWN, 1);
}
static void test_oom_diarized(void **state)
{
    (void)state;
    run_oom_loop(RPT_FORMAT_DIARIZED_JSON, 0);
    run_oom_loop(RPT_FORMAT_DIARIZED_JSON, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oom_markdown), cmocka_unit_test(test_oom_text),
        cmocka_unit_test(test_oom_srt),      cmocka_unit_test(test_oom_vtt),
        cmocka_unit_test(test_oom_json),     cmocka_unit_test(test_oom_verbose_json),
        cmocka_unit_test(test_oom_markdown_turns), cmocka_unit_test(test_oom_diarized),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
