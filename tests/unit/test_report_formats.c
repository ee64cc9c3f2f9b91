/* Unit tests for the SRT, WebVTT, text, json and verbose_json renderers
 * (src/report/subtitles.c, src/report/json.c): structure parsed back, times, UTF-8. */
#include "testutil.h"

#include "mdc/report.h"
#include "mdc/utf8.h"

#include <jansson.h>
#include <math.h>

static const int32_t k_tokens0[] = {50364, 2264, 4790, 13, 50489};

static const rpt_segment k_segs[] = {
    {.t0_cs = 0, .t1_cs = 250, .text = " Bom dia, reunião às 9h.", .tokens = k_tokens0,
     .n_tokens = 5, .seek = 0, .temperature = 0.0f, .avg_logprob = -0.25f,
     .compression_ratio = 1.5f, .no_speech_prob = 0.125f},
    {.t0_cs = 5999, .t1_cs = 6133, .text = " <b>tag</b> & a --> b\nsecond line", .seek = 3000,
     .temperature = 0.2f},
    {.t0_cs = 7000, .t1_cs = 7100, .text = "   "}, /* empty: no cue, still a JSON segment */
    {.t0_cs = 366107, .t1_cs = 366199, .text = " broken \xC3 and \xE2\x82 end", .seek = 366000},
};
#define N_SEGS (sizeof k_segs / sizeof *k_segs)

static char *render(rpt_format fmt, const rpt_transcript *tr)
{
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(rpt_render(fmt, tr, NULL, &out, &len), 0);
    assert_non_null(out);
    assert_int_equal(strlen(out), len);
    assert_true(mdc_utf8_valid(out, len));
    return out;
}

static rpt_transcript sample_tr(void)
{
    return (rpt_transcript){.segments = k_segs, .n_segments = N_SEGS, .language = "pt",
                            .language_prob = 0.9, .duration_s = 3662.5, .task = "transcribe"};
}

/* Splits text into lines in place; returns the count (≤ max). */
static int split_lines(char *text, char **lines, int max)
{
    int n = 0;
    char *p = text;
    while (*p && n < max) {
        lines[n++] = p;
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    return n;
}

static int64_t parse_ts(const char *s, char sep)
{
    int h, m, sec, ms;
    char c;
    if (sscanf(s, "%d:%2d:%2d%c%3d", &h, &m, &sec, &c, &ms) != 5 || c != sep)
        return -1;
    return ((int64_t)h * 3600 + m * 60 + sec) * 100 + ms / 10;
}

static void check_cues(char *text, int vtt)
{
    char *lines[64];
    int n = split_lines(text, lines, 64), i = 0;
    char sep = vtt ? '.' : ',';
    if (vtt) {
        assert_string_equal(lines[i++], "WEBVTT");
        assert_string_equal(lines[i++], "");
    }
    const size_t expect[] = {0, 1, 3}; /* the blank segment has no cue */
    for (int cue = 0; cue < 3; cue++) {
        const rpt_segment *s = &k_segs[expect[cue]];
        if (!vtt) {
            char num[16];
            snprintf(num, sizeof num, "%d", cue + 1);
            assert_string_equal(lines[i++], num); /* 1-based, consecutive */
        }
        const char *timing = lines[i++];
        assert_int_equal(strlen(timing), 29);
        assert_int_equal(parse_ts(timing, sep), s->t0_cs);
        assert_true(strncmp(timing + 12, " --> ", 5) == 0);
        assert_int_equal(parse_ts(timing + 17, sep), s->t1_cs);
        const char *body = lines[i++];
        assert_true(body[0] != '\0' && body[0] != ' ');
        assert_null(strstr(body, "-->"));
        if (cue < 2)
            assert_true(i >= n || lines[i++][0] == '\0');
    }
    assert_int_equal(i, n);
}

static void test_srt_structure(void **state)
{
    (void)state;
    rpt_transcript tr = sample_tr();
    char *srt = render(RPT_FORMAT_SRT, &tr);
    assert_non_null(strstr(srt, "1\n00:00:00,000 --> 00:00:02,500\nBom dia, reunião às 9h.\n\n2\n"
                                "00:00:59,990 --> 00:01:01,330\n"));
    assert_non_null(strstr(srt, "3\n01:01:01,070 --> 01:01:01,990\nbroken \xEF\xBF\xBD and "
                                "\xEF\xBF\xBD end\n"));
    assert_non_null(strstr(srt, "<b>tag</b> & a -> b second line\n"));
    check_cues(srt, 0);
    free(srt);
}

static void test_vtt_structure(void **state)
{
    (void)state;
    rpt_transcript tr = sample_tr();
    char *vtt = render(RPT_FORMAT_VTT, &tr);
    assert_true(strncmp(vtt, "WEBVTT\n\n00:00:00.000 --> 00:00:02.500\n", 38) == 0);
    assert_non_null(strstr(vtt, "&lt;b&gt;tag&lt;/b&gt; &amp; a --&gt; b second line\n"));
    assert_non_null(strstr(vtt, "01:01:01.070 --> 01:01:01.990\n"));
    check_cues(vtt, 1);
    free(vtt);
}

static void test_empty_transcript_formats(void **state)
{
    (void)state;
    rpt_transcript tr = {.language = "en"};
    char *out = render(RPT_FORMAT_SRT, &tr);
    assert_string_equal(out, "");
    free(out);
    out = render(RPT_FORMAT_VTT, &tr);
    assert_string_equal(out, "WEBVTT\n");
    free(out);
    out = render(RPT_FORMAT_TEXT, &tr);
    assert_string_equal(out, "");
    free(out);
    out = render(RPT_FORMAT_JSON, &tr);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "text")), "");
    json_decref(j);
    free(out);
    out = render(RPT_FORMAT_VERBOSE_JSON, &tr);
    j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "segments")), 0);
    assert_string_equal(json_string_value(json_object_get(j, "language")), "english");
    json_decref(j);
    free(out);
}

static const char *k_full =
    "Bom dia, reunião às 9h. <b>tag</b> & a --> b second line broken \xEF\xBF\xBD and "
    "\xEF\xBF\xBD end";

static void test_text_and_json(void **state)
{
    (void)state;
    rpt_transcript tr = sample_tr();
    char *txt = render(RPT_FORMAT_TEXT, &tr);
    char want[256];
    snprintf(want, sizeof want, "%s\n", k_full);
    assert_string_equal(txt, want);
    free(txt);

    char *js = render(RPT_FORMAT_JSON, &tr);
    json_error_t err;
    json_t *j = json_loads(js, 0, &err);
    assert_non_null(j);
    assert_int_equal(json_object_size(j), 2); /* text, usage; no logprobs unless asked */
    assert_string_equal(json_string_value(json_object_get(j, "text")), k_full);
    json_t *u = json_object_get(j, "usage");
    assert_string_equal(json_string_value(json_object_get(u, "type")), "duration");
    assert_int_equal(json_integer_value(json_object_get(u, "seconds")), 3663); /* ceil(3662.5) */
    json_decref(j);
    free(js);

    /* include[]=logprobs: token (repaired UTF-8), raw bytes, logprob */
    static const char tok_a[] = " Ol\xc3\xa1", tok_b[] = "\xc3"; /* "b" ends mid-character */
    const rpt_logprob lps[] = {{tok_a, sizeof tok_a - 1, -0.25f}, {tok_b, 1, -1.5f}};
    tr.logprobs = lps;
    tr.n_logprobs = 2;
    tr.with_logprobs = 1;
    js = render(RPT_FORMAT_JSON, &tr);
    j = json_loads(js, 0, &err);
    assert_non_null(j);
    json_t *arr = json_object_get(j, "logprobs");
    assert_int_equal(json_array_size(arr), 2);
    json_t *a = json_array_get(arr, 0), *b = json_array_get(arr, 1);
    assert_string_equal(json_string_value(json_object_get(a, "token")), " Ol\xc3\xa1");
    assert_int_equal(json_array_size(json_object_get(a, "bytes")), 5);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(a, "bytes"), 3)), 0xc3);
    assert_true(fabs(json_number_value(json_object_get(a, "logprob")) + 0.25) < 1e-9);
    assert_string_equal(json_string_value(json_object_get(b, "token")), "\xef\xbf\xbd");
    assert_int_equal(json_integer_value(json_array_get(json_object_get(b, "bytes"), 0)), 0xc3);
    json_decref(j);
    free(js);
    /* asked for, none produced: an empty array, not a missing key */
    tr.n_logprobs = 0;
    js = render(RPT_FORMAT_JSON, &tr);
    j = json_loads(js, 0, &err);
    assert_true(json_is_array(json_object_get(j, "logprobs")));
    assert_int_equal(json_array_size(json_object_get(j, "logprobs")), 0);
    json_decref(j);
    free(js);
    /* verbose_json never carries logprobs (OpenAI: json only) but has usage */
    tr.with_logprobs = 1;
    js = render(RPT_FORMAT_VERBOSE_JSON, &tr);
    j = json_loads(js, 0, &err);
    assert_null(json_object_get(j, "logprobs"));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "usage"), "seconds")),
                     3663);
    json_decref(j);
    free(js);
}

static void test_verbose_json_fields(void **state)
{
    (void)state;
    rpt_transcript tr = sample_tr();
    char *js = render(RPT_FORMAT_VERBOSE_JSON, &tr);
    json_error_t err;
    json_t *j = json_loads(js, 0, &err);
    if (!j)
        print_message("parse error %s at %d:\n%s\n", err.text, err.line, js);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "task")), "transcribe");
    assert_string_equal(json_string_value(json_object_get(j, "language")), "portuguese");
    assert_true(fabs(json_number_value(json_object_get(j, "duration")) - 3662.5) < 1e-9);
    assert_string_equal(json_string_value(json_object_get(j, "text")), k_full);
    json_t *segs = json_object_get(j, "segments");
    assert_true(json_is_array(segs));
    assert_int_equal(json_array_size(segs), N_SEGS);
    for (size_t i = 0; i < N_SEGS; i++) {
        const rpt_segment *s = &k_segs[i];
        json_t *o = json_array_get(segs, i);
        assert_int_equal(json_integer_value(json_object_get(o, "id")), (json_int_t)i);
        assert_int_equal(json_integer_value(json_object_get(o, "seek")), s->seek);
        assert_true(json_is_real(json_object_get(o, "start")));
        assert_true(fabs(json_real_value(json_object_get(o, "start")) - s->t0_cs / 100.0) < 1e-9);
        assert_true(fabs(json_real_value(json_object_get(o, "end")) - s->t1_cs / 100.0) < 1e-9);
        const char *t = json_string_value(json_object_get(o, "text"));
        assert_non_null(t);
        assert_true(mdc_utf8_valid(t, strlen(t)));
        json_t *tok = json_object_get(o, "tokens");
        assert_true(json_is_array(tok));
        assert_int_equal(json_array_size(tok), (size_t)s->n_tokens);
        for (int k = 0; k < s->n_tokens; k++)
            assert_int_equal(json_integer_value(json_array_get(tok, (size_t)k)), s->tokens[k]);
        const char *fk[] = {"temperature", "avg_logprob", "compression_ratio", "no_speech_prob"};
        const float fv[] = {s->temperature, s->avg_logprob, s->compression_ratio,
                            s->no_speech_prob};
        for (int k = 0; k < 4; k++) {
            json_t *v = json_object_get(o, fk[k]);
            assert_true(json_is_number(v));
            assert_true(fabs(json_number_value(v) - (double)fv[k]) < 1e-6);
        }
    }
    /* segment text keeps Whisper's leading space and internal newline, like OpenAI */
    assert_string_equal(json_string_value(json_object_get(json_array_get(segs, 0), "text")),
                        " Bom dia, reunião às 9h.");
    assert_string_equal(json_string_value(json_object_get(json_array_get(segs, 1), "text")),
                        " <b>tag</b> & a --> b\nsecond line");
    /* 0.2f prints as 0.2, not 0.200000003 */
    assert_non_null(strstr(js, "\"temperature\": 0.2,"));
    json_decref(j);
    free(js);

    /* translate task; unknown language → its code; no language → null */
    tr.task = "translate";
    tr.language = "xx";
    js = render(RPT_FORMAT_VERBOSE_JSON, &tr);
    j = json_loads(js, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(j, "task")), "translate");
    assert_string_equal(json_string_value(json_object_get(j, "language")), "xx");
    json_decref(j);
    free(js);
    tr.language = NULL;
    js = render(RPT_FORMAT_VERBOSE_JSON, &tr);
    j = json_loads(js, 0, NULL);
    assert_true(json_is_null(json_object_get(j, "language")));
    json_decref(j);
    free(js);
}

static void test_usage_seconds_and_clean_line(void **state)
{
    (void)state;
    assert_int_equal(rpt_usage_seconds(8.47), 9); /* OpenAI's verbose_json example */
    assert_int_equal(rpt_usage_seconds(11.0), 11);
    assert_int_equal(rpt_usage_seconds(0.01), 1);
    assert_int_equal(rpt_usage_seconds(0), 0);
    assert_int_equal(rpt_usage_seconds(-3), 0);
    assert_int_equal(rpt_usage_seconds(NAN), 0);
    assert_int_equal(rpt_usage_seconds(INFINITY), 0);
    char *c = rpt_clean_line("  Ol\xc3\xa1,\n  mundo \t ");
    assert_string_equal(c, "Ol\xc3\xa1, mundo");
    free(c);
    c = rpt_clean_line(NULL);
    assert_string_equal(c, "");
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_srt_structure),
        cmocka_unit_test(test_vtt_structure),
        cmocka_unit_test(test_empty_transcript_formats),
        cmocka_unit_test(test_text_and_json),
        cmocka_unit_test(test_verbose_json_fields),
        cmocka_unit_test(test_usage_seconds_and_clean_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
