/*
 * test_report_words.c — words and speakers in the report formats:
 * verbose_json words[] (top level, with timestamp granularities) and per segment,
 * diarized_json shape, word-level SRT/VTT cues, Markdown speaker paragraphs and talk time.
 */
#include "testutil.h"

#include "mdc/report.h"

#include <jansson.h>

static const rpt_word k_w0[] = {{0, 40, " Hello"}, {40, 90, " world."}};
static const rpt_word k_w1[] = {{120, 150, " And"}, {150, 200, " you,"}, {200, 260, " friend?"}};

static rpt_transcript make(rpt_segment *segs)
{
    segs[0] = (rpt_segment){.t0_cs = 0, .t1_cs = 90, .text = " Hello world.", .words = k_w0,
                            .n_words = 2, .speaker = "0"};
    segs[1] = (rpt_segment){.t0_cs = 120, .t1_cs = 260, .text = " And you, friend?",
                            .words = k_w1, .n_words = 3, .speaker = "1"};
    return (rpt_transcript){.segments = segs, .n_segments = 2, .language = "en",
                            .language_prob = 1, .duration_s = 3.0, .task = "transcribe"};
}

static json_t *render_json(rpt_format f, const rpt_transcript *tr)
{
    char *out = NULL;
    assert_int_equal(rpt_render(f, tr, NULL, &out, NULL), 0);
    json_error_t e;
    json_t *j = json_loads(out, 0, &e);
    if (!j)
        fail_msg("not JSON: %s\n%s", e.text, out);
    free(out);
    return j;
}

static void test_verbose_words(void **state)
{
    (void)state;
    rpt_segment segs[2];
    rpt_transcript tr = make(segs);
    tr.want_words = 1;
    json_t *j = render_json(RPT_FORMAT_VERBOSE_JSON, &tr);
    json_t *w = json_object_get(j, "words");
    assert_int_equal(json_array_size(w), 5);
    assert_null(json_object_get(j, "segments")); /* word only: as OpenAI */
    double last = 0;
    for (size_t i = 0; i < json_array_size(w); i++) {
        json_t *x = json_array_get(w, i);
        assert_true(json_is_string(json_object_get(x, "word")));
        const double s = json_number_value(json_object_get(x, "start"));
        const double e = json_number_value(json_object_get(x, "end"));
        assert_true(s >= last && e >= s);
        last = e;
    }
    assert_string_equal(json_string_value(json_object_get(json_array_get(w, 4), "word")),
                        " friend?");
    json_decref(j);
    tr.want_segments = 1;
    j = render_json(RPT_FORMAT_VERBOSE_JSON, &tr);
    json_t *sg = json_object_get(j, "segments");
    assert_int_equal(json_array_size(sg), 2);
    assert_int_equal(json_array_size(json_object_get(json_array_get(sg, 1), "words")), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(sg, 1), "speaker")), "1");
    json_decref(j);
}

static void test_diarized(void **state)
{
    (void)state;
    rpt_segment segs[2];
    rpt_transcript tr = make(segs);
    segs[1].speaker = NULL;
    json_t *j = render_json(RPT_FORMAT_DIARIZED_JSON, &tr);
    assert_string_equal(json_string_value(json_object_get(j, "task")), "transcribe");
    assert_true(json_is_number(json_object_get(j, "duration")));
    assert_string_equal(json_string_value(json_object_get(j, "text")),
                        "Hello world. And you, friend?");
    json_t *sg = json_object_get(j, "segments");
    assert_int_equal(json_array_size(sg), 2);
    json_t *s0 = json_array_get(sg, 0);
    assert_string_equal(json_string_value(json_object_get(s0, "type")), "transcript.text.segment");
    assert_string_equal(json_string_value(json_object_get(s0, "id")), "seg_0");
    assert_string_equal(json_string_value(json_object_get(s0, "speaker")), "0");
    assert_true(json_number_value(json_object_get(s0, "end")) == 0.9);
    assert_string_equal(json_string_value(json_object_get(json_array_get(sg, 1), "speaker")), "?");
    json_decref(j);
    rpt_format f;
    assert_int_equal(rpt_format_parse("diarized_json", &f), 0);
    assert_int_equal(f, RPT_FORMAT_DIARIZED_JSON);
}

static void test_word_cues(void **state)
{
    (void)state;
    rpt_segment segs[2];
    rpt_transcript tr = make(segs);
    tr.max_words_per_cue = 2;
    char *out = NULL;
    assert_int_equal(rpt_render(RPT_FORMAT_SRT, &tr, NULL, &out, NULL), 0);
    assert_string_equal(out, "1\n00:00:00,000 --> 00:00:00,900\nHello world.\n\n"
                             "2\n00:00:01,200 --> 00:00:02,000\nAnd you,\n\n"
                             "3\n00:00:02,000 --> 00:00:02,600\nfriend?\n");
    free(out);
    tr.max_words_per_cue = 1;
    assert_int_equal(rpt_render(RPT_FORMAT_VTT, &tr, NULL, &out, NULL), 0);
    assert_non_null(strstr(out, "00:00:00.400 --> 00:00:00.900\nworld.\n"));
    free(out);
}

static void test_markdown_speakers(void **state)
{
    (void)state;
    rpt_segment segs[2];
    rpt_transcript tr = make(segs);
    rpt_meta m = {.locale = RPT_LOCALE_EN, .processing_s = -1};
    char *out = NULL;
    assert_int_equal(rpt_render(RPT_FORMAT_MARKDOWN, &tr, &m, &out, NULL), 0);
    /* 0.3 s apart, but a speaker change starts a new paragraph */
    assert_non_null(strstr(out, "**[00:00:00]** **Speaker 0:** Hello world.\n"));
    assert_non_null(strstr(out, "**[00:00:01]** **Speaker 1:** And you, friend?\n"));
    assert_non_null(strstr(out, "- **Talk time:** Speaker 0 00:00:00, Speaker 1 00:00:01\n"));
    free(out);
    segs[1].speaker = "0";
    assert_int_equal(rpt_render(RPT_FORMAT_MARKDOWN, &tr, &m, &out, NULL), 0);
    assert_non_null(strstr(out, "**Speaker 0:** Hello world. And you, friend?\n"));
    free(out);
    segs[0].speaker = segs[1].speaker = NULL; /* no speakers: no labels, no talk time */
    assert_int_equal(rpt_render(RPT_FORMAT_MARKDOWN, &tr, &m, &out, NULL), 0);
    assert_null(strstr(out, "Speaker"));
    assert_null(strstr(out, "Talk time"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verbose_words),
        cmocka_unit_test(test_diarized),
        cmocka_unit_test(test_word_cues),
        cmocka_unit_test(test_markdown_speakers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
