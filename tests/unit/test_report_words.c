/*
 * test_report_words.c — words and speakers in the report formats:
 * verbose_json words[] (top level, with timestamp granularities) and per segment,
 * diarized_json shape and OpenAI's speaker letters, word-level SRT/VTT cues, Markdown
 * speaker paragraphs and talk time; speaker turns measured on the audio (rpt_turn)
 * splitting a segment at its words, in Markdown and diarized_json.
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
    assert_string_equal(json_string_value(json_object_get(s0, "speaker")), "A"); /* channel 0 */
    assert_string_equal(json_string_value(json_object_get(s0, "text")), "Hello world.");
    assert_true(json_number_value(json_object_get(s0, "end")) == 0.9);
    /* no label → "unknown"; "?" too; channel 1 → "B"; a name stays */
    assert_string_equal(json_string_value(json_object_get(json_array_get(sg, 1), "speaker")),
                        "unknown");
    json_decref(j);
    const char *const in[] = {"?", "1", "Alice", "26"}, *const want[] = {"unknown", "B", "Alice",
                                                                        "26"};
    for (int k = 0; k < 4; k++) {
        segs[1].speaker = in[k];
        j = render_json(RPT_FORMAT_DIARIZED_JSON, &tr);
        sg = json_object_get(j, "segments");
        assert_string_equal(json_string_value(json_object_get(json_array_get(sg, 1), "speaker")),
                            want[k]);
        json_decref(j);
    }
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

/* Turns measured on the audio: left 0–1.5 s, right 1.5–2.6 s.  The second segment's
 * words " And" (1.2–1.5) fall in the left turn, " you, friend?" in the right one. */
static void test_turns(void **state)
{
    (void)state;
    rpt_segment segs[2];
    rpt_transcript tr = make(segs);
    static const rpt_turn turns[] = {{0, 150, "0"}, {150, 260, "1"}};
    tr.turns = turns;
    tr.n_turns = 2;
    rpt_meta m = {.locale = RPT_LOCALE_EN, .processing_s = -1};
    char *out = NULL;
    assert_int_equal(rpt_render(RPT_FORMAT_MARKDOWN, &tr, &m, &out, NULL), 0);
    assert_non_null(strstr(out, "**[00:00:00]** **Speaker 0:** Hello world. And\n"));
    assert_non_null(strstr(out, "**[00:00:01]** **Speaker 1:** you, friend?\n"));
    /* talk time = the turns' spans (1.5 s and 1.1 s), not the segments' */
    assert_non_null(strstr(out, "- **Talk time:** Speaker 0 00:00:01, Speaker 1 00:00:01\n"));
    free(out);
    json_t *j = render_json(RPT_FORMAT_DIARIZED_JSON, &tr);
    json_t *sg = json_object_get(j, "segments");
    assert_int_equal(json_array_size(sg), 3);
    const char *const text[] = {"Hello world.", "And", "you, friend?"};
    const char *const spk[] = {"A", "A", "B"};
    const double t0[] = {0, 1.2, 1.5}, t1[] = {0.9, 1.5, 2.6};
    for (size_t i = 0; i < 3; i++) {
        json_t *x = json_array_get(sg, i);
        assert_string_equal(json_string_value(json_object_get(x, "text")), text[i]);
        assert_string_equal(json_string_value(json_object_get(x, "speaker")), spk[i]);
        assert_true(json_number_value(json_object_get(x, "start")) == t0[i]);
        assert_true(json_number_value(json_object_get(x, "end")) == t1[i]);
    }
    json_decref(j);
    /* a segment without words takes the turn it overlaps most (1.2–2.6: right) */
    segs[1].words = NULL;
    segs[1].n_words = 0;
    assert_int_equal(rpt_render(RPT_FORMAT_MARKDOWN, &tr, &m, &out, NULL), 0);
    assert_non_null(strstr(out, "**[00:00:01]** **Speaker 1:** And you, friend?\n"));
    free(out);
    /* a word in a pause takes the nearest turn */
    static const rpt_turn late[] = {{200, 260, "1"}};
    tr.turns = late;
    tr.n_turns = 1;
    assert_int_equal(rpt_render(RPT_FORMAT_MARKDOWN, &tr, &m, &out, NULL), 0);
    assert_non_null(strstr(out, "**Speaker 1:** Hello world. And you, friend?\n"));
    assert_non_null(strstr(out, "- **Talk time:** Speaker 1 00:00:00\n"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verbose_words),
        cmocka_unit_test(test_diarized),
        cmocka_unit_test(test_word_cues),
        cmocka_unit_test(test_markdown_speakers),
        cmocka_unit_test(test_turns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
