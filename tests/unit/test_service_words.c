/*
 * test_service_words.c — words of the transcript stage against whisper-cli's word-level
 * output (../shared/whisper-ref/golden/tiny-dims/timestamps/whisper-cli/
 * cli_td_{jfk,x5}_ml1sow.json: `-ml 1 -sow -ojf`, one segment per word, README-round2 §3):
 * every word's text equals the CLI segment's text, and its start/end equal the CLI's
 * token offsets (first text token's "from", last text token's "to", ms = cs·10).
 * Also: times are monotonic; clamped to the audio's end for the report.
 * DTW words (the same run with dtw_aheads_preset tiny, which changes no token): each
 * word starts at its first token's t_dtw in the pack's DTW golden
 * (transcript_{jfk,jfk_x5_60s}_dtw.json) and ends where the next word of the window
 * starts — a different source of times than the heuristic's.
 */
#include "testutil.h"

#include "service/words.h"

#include <jansson.h>

/* The words' starts with DTW equal the golden's t_dtw of each word's first text token
 * (a word starts at a text token beginning with ' ', or at a segment's first). */
static void check_dtw_words(const wsp_model *m, const wsp_result *r, const char *clip,
                            const trw_words *heur)
{
    char rel[256];
    snprintf(rel, sizeof rel, "whisper-ref/golden/tiny-dims/timestamps/transcript_%s_dtw.json",
             clip);
    TU_REQUIRE_FILE(tu_shared(rel));
    json_error_t jerr;
    json_t *root = json_load_file(tu_shared(rel), 0, &jerr);
    assert_non_null(root);
    const int32_t eot = wsp_token_eot(m);
    int64_t want[4096];
    size_t n_want = 0;
    json_t *segs = json_object_get(root, "segments");
    for (size_t i = 0; i < json_array_size(segs); i++) {
        json_t *toks = json_object_get(json_array_get(segs, i), "tokens");
        int first = 1;
        for (size_t k = 0; k < json_array_size(toks); k++) {
            json_t *t = json_array_get(toks, k);
            const int32_t id = (int32_t)json_integer_value(json_object_get(t, "id"));
            if (id >= eot)
                continue;
            if ((first || wsp_token_text(m, id)[0] == ' ') && n_want < 4096)
                want[n_want++] = json_integer_value(json_object_get(t, "t_dtw"));
            first = 0;
        }
    }
    trw_words w;
    assert_int_equal(trw_words_build(m, r, INT64_MAX / 4, true, &w), 0);
    assert_int_equal(w.n, n_want);
    size_t differ = 0;
    for (size_t i = 0; i < w.n; i++) {
        if (w.words[i].t0_cs != want[i])
            fail_msg("%s DTW word %zu \"%s\": starts %lld cs, golden t_dtw %lld", clip, i,
                     w.words[i].text, (long long)w.words[i].t0_cs, (long long)want[i]);
        assert_true(w.words[i].t0_cs <= w.words[i].t1_cs);
        differ += w.words[i].t0_cs != heur->words[i].t0_cs;
    }
    print_message("%s: %zu DTW words start at the golden t_dtw; %zu of them differ from the "
                  "heuristic's start\n", clip, w.n, differ);
    assert_true(differ > 0);
    trw_free(&w);
    json_decref(root);
}

static void check_words(const char *clip, const char *gfile)
{
    const char *mpath = tu_model("tiny-dims");
    TU_REQUIRE_FILE(mpath);
    char rel[256];
    snprintf(rel, sizeof rel, "whisper-ref/golden/tiny-dims/timestamps/whisper-cli/%s", gfile);
    TU_REQUIRE_FILE(tu_shared(rel));
    json_error_t jerr;
    json_t *root = json_load_file(tu_shared(rel), 0, &jerr);
    assert_non_null(root);
    json_t *cli = json_object_get(root, "transcription");
    snprintf(rel, sizeof rel, "whisper-ref/data/%s.wav", clip);
    size_t ns = 0;
    float *pcm = tu_read_wav_pcm16(tu_shared(rel), &ns);
    assert_non_null(pcm);
    wsp_model *m;
    wsp_state *st;
    wsp_error err;
    assert_int_equal(wsp_model_load(mpath, &m, &err), 0);
    assert_int_equal(wsp_state_new(m, &st, &err), 0);
    wsp_params p = wsp_default_params(WSP_SAMPLING_GREEDY);
    p.n_threads = 2;
    p.language = "en";
    p.temperature_inc = 0.0f; /* -nf */
    p.token_timestamps = true;
    p.dtw_aheads_preset = WSP_AHEADS_TINY; /* changes no token (README-round2 §3) */
    wsp_result *r = NULL;
    if (wsp_transcribe(st, pcm, ns, &p, &r, &err))
        fail_msg("wsp_transcribe: %s", err.message);
    /* golden: unclamped (whisper.cpp's token times can pass the end of the audio: jfk's
     * last word ends at 18.69 s of 11 s) */
    const int64_t end_cs = (int64_t)ns * 100 / 16000;
    trw_words w;
    assert_int_equal(trw_words_build(m, r, INT64_MAX / 4, false, &w), 0);
    assert_int_equal(w.n, json_array_size(cli));
    for (size_t i = 0; i < w.n; i++) {
        json_t *g = json_array_get(cli, i);
        assert_string_equal(w.words[i].text, json_string_value(json_object_get(g, "text")));
        json_t *gt = json_object_get(g, "tokens");
        int64_t from = -1, to = -1;
        for (size_t k = 0; k < json_array_size(gt); k++) {
            json_t *t = json_array_get(gt, k);
            const char *tx = json_string_value(json_object_get(t, "text"));
            if (tx && strncmp(tx, "[_", 2) == 0)
                continue; /* special / timestamp token */
            json_t *off = json_object_get(t, "offsets");
            if (from < 0)
                from = json_integer_value(json_object_get(off, "from"));
            to = json_integer_value(json_object_get(off, "to"));
        }
        if (w.words[i].t0_cs * 10 != from || w.words[i].t1_cs * 10 != to)
            fail_msg("%s word %zu \"%s\": %lld–%lld cs, whisper-cli %lld–%lld ms", clip, i,
                     w.words[i].text, (long long)w.words[i].t0_cs, (long long)w.words[i].t1_cs,
                     (long long)from, (long long)to);
        assert_true(w.words[i].t0_cs <= w.words[i].t1_cs);
        if (i)
            assert_true(w.words[i - 1].t0_cs <= w.words[i].t0_cs);
    }
    /* the report's words are clamped to the audio, like its segments */
    trw_words wc;
    assert_int_equal(trw_words_build(m, r, end_cs, false, &wc), 0);
    assert_int_equal(wc.n, w.n);
    for (size_t i = 0; i < wc.n; i++) {
        assert_true(wc.words[i].t0_cs <= wc.words[i].t1_cs && wc.words[i].t1_cs <= end_cs);
        assert_int_equal(wc.words[i].t1_cs, w.words[i].t1_cs < end_cs ? w.words[i].t1_cs : end_cs);
    }
    trw_free(&wc);
    check_dtw_words(m, r, clip, &w);
    print_message("%s: %zu words identical to whisper-cli -ml 1 -sow (text and times)\n", clip,
                  w.n);
    trw_free(&w);
    wsp_result_free(r);
    wsp_state_free(st);
    wsp_model_free(m);
    free(pcm);
    json_decref(root);
}

static void test_words_jfk(void **state)
{
    (void)state;
    check_words("jfk", "cli_td_jfk_ml1sow.json");
}

static void test_words_x5(void **state)
{
    (void)state;
    const char *s = getenv("MDC_SANITIZE");
    if (s && strcmp(s, "1") == 0)
        skip();
    check_words("jfk_x5_60s", "cli_td_x5_ml1sow.json");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_words_jfk),
        cmocka_unit_test(test_words_x5),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
