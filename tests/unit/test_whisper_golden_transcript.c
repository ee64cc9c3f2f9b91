/*
 * test_whisper_golden_transcript.c — decoding against whisper.cpp's transcripts
 * (../shared/whisper-ref/golden/<model>/, README "How whisper.cpp was run"):
 *  - the window-0 greedy token sequence equals tf_greedy_tokens.i32 (prompt + sampled
 *    tokens except the last);
 *  - every segment of transcript_jfk.json and transcript_jfk_x5_60s.json: same token
 *    ids, same text bytes (text_hex), same t0/t1 — except micro's t0, which whisper.cpp
 *    reports as seek − 100728 (timestamps forced off, tid 0) and we report as seek.
 *  - language detection (language "auto", README-round2 §5): the detected language and
 *    its probability as whisper_lang_auto_detect gives them, and the transcript decoded
 *    with it (transcript_jfk_auto.json), for tiny-dims (golden/tiny-dims/lang/) and v3tiny.
 * Models: micro (whisper-ref/models), tiny-dims and v3tiny (large-v3 layout, build/models).
 * MDC_SANITIZE=1 runs micro on jfk.wav only.
 */
#include "testutil.h"

#include "whisper/decoding.h"
#include "whisper/engine.h"

#include <jansson.h>
#include <math.h>

static wsp_params golden_params(void)
{
    wsp_params p = wsp_default_params(WSP_SAMPLING_GREEDY);
    p.n_threads = 2;
    p.language = "en";
    p.translate = false;
    p.no_timestamps = false;
    p.temperature = 0.0f;
    p.temperature_inc = 0.0f;
    p.best_of = 1;
    p.max_initial_ts = 1.0f;
    p.suppress_blank = true;
    p.suppress_non_speech_tokens = false;
    p.length_penalty = -1.0f;
    p.entropy_thold = 2.4f;
    p.logprob_thold = -1.0f;
    p.no_speech_thold = 0.6f;
    p.n_max_text_ctx = 16384;
    return p;
}

static int hexval(char c)
{
    return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* Decodes hex into a malloc'd NUL-terminated buffer. */
static char *unhex(const char *h, size_t *n)
{
    size_t l = strlen(h) / 2;
    char *s = malloc(l + 1);
    for (size_t i = 0; i < l; i++)
        s[i] = (char)(hexval(h[2 * i]) << 4 | hexval(h[2 * i + 1]));
    s[l] = '\0';
    *n = l;
    return s;
}

typedef struct lmctx {
    wsp_state *st;
} lmctx;
static int lm_dec(void *c, int d, const int32_t *t, int n, int np, float *l)
{
    return wsp__decode(((lmctx *)c)->st, d, t, n, np, 2, l);
}
static void lm_copy(void *c, const int *parent, int n, int np)
{
    wsp__kv_reorder(((lmctx *)c)->st, parent, n, np);
}

/* Window 0 of jfk.wav decoded with the transcription's own window decoder. */
static void check_window0(const char *preset)
{
    const char *mpath = tu_model(preset);
    TU_REQUIRE_FILE(mpath);
    TU_REQUIRE_FILE(tu_shared("whisper-ref/data/jfk.wav"));
    char rel[256];
    snprintf(rel, sizeof rel, "whisper-ref/golden/%s/tf_greedy_tokens.i32", preset);
    size_t gbytes = 0;
    int32_t *gold = tu_read_file(tu_shared(rel), &gbytes);
    assert_non_null(gold);
    const int n_gold = (int)(gbytes / 4);

    wsp_model *m = NULL;
    wsp_state *st = NULL;
    wsp_error err;
    assert_int_equal(wsp_model_load(mpath, &m, &err), 0);
    assert_int_equal(wsp_state_new(m, &st, &err), 0);
    const wsp__vocab *v = wsp__model_vocab(m);
    const wsp_hparams *hp = wsp_model_hparams(m);
    size_t ns = 0;
    float *pcm = tu_read_wav_pcm16(tu_shared("whisper-ref/data/jfk.wav"), &ns);
    assert_non_null(pcm);
    float *mel = NULL;
    int n_frames, n_len_org;
    assert_int_equal(wsp__mel_compute(m, pcm, ns, NULL, &mel, &n_frames, &n_len_org), 0);
    assert_int_equal(n_len_org, 1099);
    assert_int_equal(wsp__encode(st, mel, n_frames, 0, 2), 0);

    const bool no_ts = hp->n_text_layer == 2; /* distil heuristic (micro) */
    int32_t init[4] = {v->sot, v->lang_first, v->transcribe, v->notimestamps};
    const int n_init = no_ts ? 4 : 3;
    float temp = 0.0f;
    lmctx c = {st};
    wsp__lm lm = {lm_dec, lm_copy, &c, wsp__n_decoders(st), hp->n_text_ctx};
    wsp__window_opts o = {
        .strategy = WSP_SAMPLING_GREEDY, .best_of = 1, .beam_size = 1, .patience = 1.0f,
        .length_penalty = -1.0f, .temperatures = &temp, .n_temperatures = 1,
        .entropy_thold = 2.4f, .logprob_thold = -1.0f, .no_speech_thold = 0.6f,
        .compression_ratio_threshold = 2.4f,
        .filter = {.suppress_blank = true, .no_timestamps = no_ts, .max_initial_ts = 1.0f,
                   .n_audio_ctx = hp->n_audio_ctx, .blank_id = 220},
        .seek = 0, .seek_end = n_len_org, .n_max_text_ctx = 16384, .init = init,
        .n_init = n_init};
    wsp__dws *ws = NULL;
    assert_int_equal(wsp__dws_new(v, hp->n_text_ctx, lm.n_decoders, 1, &ws), 0);
    wsp__window_out w;
    assert_int_equal(wsp__decode_window(ws, &lm, &o, &w), 0);

    for (int i = 0; i < n_init; i++)
        assert_int_equal(gold[i], init[i]);
    const int n_cmp = n_gold - n_init; /* all sampled tokens but the last */
    print_message("%s window 0: %d tokens (golden %d + last)\n", preset, w.n_tokens, n_cmp);
    assert_true(w.n_tokens >= n_cmp + 1);
    for (int i = 0; i < n_cmp; i++) {
        if (w.tokens[i].id != gold[n_init + i])
            fail_msg("%s window 0 token %d: got %d, whisper.cpp %d", preset, i, w.tokens[i].id,
                     gold[n_init + i]);
    }
    wsp__dws_free(ws);
    free(mel);
    free(pcm);
    free(gold);
    wsp_state_free(st);
    wsp_model_free(m);
}

/* Decodes whisper-ref/data/<clip>.wav with `language` and compares every segment with
 * golden/<gdir>/<gfile>.  When lang_json is set (language "auto"), the detected language
 * must be its detected_code and the probability within 1e-2 relative of detected_prob.
 * fragile_from >= 0: the transcripts may part at a choice between two timestamp tokens in
 * segment fragile_from or later (a decision measured as noise, see the caller); before it
 * everything must be equal, after it nothing is compared.  -1: equal in full. */
static void check_transcript_as(const char *preset, const char *clip, const char *gdir,
                                const char *gfile, const char *language, const char *lang_json,
                                int fragile_from)
{
    const char *mpath = tu_model(preset);
    TU_REQUIRE_FILE(mpath);
    char rel[256];
    snprintf(rel, sizeof rel, "whisper-ref/data/%s.wav", clip);
    TU_REQUIRE_FILE(tu_shared(rel));
    size_t ns = 0;
    float *pcm = tu_read_wav_pcm16(tu_shared(rel), &ns);
    assert_non_null(pcm);
    snprintf(rel, sizeof rel, "whisper-ref/golden/%s/%s", gdir, gfile);
    TU_REQUIRE_FILE(tu_shared(rel));
    json_error_t jerr;
    json_t *root = json_load_file(tu_shared(rel), 0, &jerr);
    assert_non_null(root);
    json_t *segs = json_object_get(root, "segments");
    const bool micro = strcmp(preset, "micro") == 0;

    wsp_model *m = NULL;
    wsp_state *st = NULL;
    wsp_error err;
    assert_int_equal(wsp_model_load(mpath, &m, &err), 0);
    assert_int_equal(wsp_state_new(m, &st, &err), 0);
    wsp_params p = golden_params();
    p.language = language;
    wsp_result *r = NULL;
    int rc = wsp_transcribe(st, pcm, ns, &p, &r, &err);
    if (rc)
        fail_msg("wsp_transcribe: %s", err.message);
    print_message("%s %s: %d segments (golden %d), %d windows, %d decoder calls, "
                  "mel %.0f ms, encode %.0f ms, decode %.0f ms, total %.0f ms\n",
                  preset, clip, r->n_segments, (int)json_array_size(segs), r->timings.n_windows,
                  r->timings.n_decode_steps, r->timings.mel_ms, r->timings.encode_ms,
                  r->timings.decode_ms, r->timings.total_ms);
    if (lang_json) {
        snprintf(rel, sizeof rel, "whisper-ref/golden/%s/%s", gdir, lang_json);
        json_t *ld = json_load_file(tu_shared(rel), 0, &jerr);
        assert_non_null(ld);
        const char *want = json_string_value(json_object_get(ld, "detected_code"));
        const double wp = json_real_value(json_object_get(ld, "detected_prob"));
        print_message("%s detected %s p = %.6f; whisper.cpp %s p = %.6f (relative %.2g)\n", preset,
                      r->language, (double)r->language_prob, want, wp,
                      fabs(r->language_prob - wp) / wp);
        assert_string_equal(r->language, want);
        assert_true(fabs(r->language_prob - wp) <= 1e-2 * wp);
        json_decref(ld);
    } else {
        assert_string_equal(r->language, language);
    }
    const int n_gold = (int)json_array_size(segs);
    int n_cmp = r->n_segments;
    if (fragile_from >= 0) { /* find where the token streams part */
        const int32_t beg = wsp_token_beg(m);
        for (int i = 0; i < r->n_segments && i < n_gold && n_cmp == r->n_segments; i++) {
            json_t *gt = json_object_get(json_array_get(segs, (size_t)i), "tokens");
            for (int k = 0; k < r->segments[i].n_tokens && k < (int)json_array_size(gt); k++) {
                const int gid = (int)json_integer_value(json_object_get(json_array_get(gt, (size_t)k), "id"));
                const int id = r->segments[i].tokens[k].id;
                if (id == gid)
                    continue;
                print_message("%s %s: parts from whisper.cpp at segment %d token %d (%d vs %d)\n",
                              preset, clip, i, k, id, gid);
                assert_true(i >= fragile_from);
                assert_true(id >= beg && gid >= beg); /* a timestamp choice, not text */
                n_cmp = i; /* segments before it are compared in full below */
                break;
            }
        }
    }
    if (n_cmp == r->n_segments)
        assert_int_equal(r->n_segments, n_gold);
    for (int i = 0; i < n_cmp; i++) {
        const wsp_segment *s = &r->segments[i];
        json_t *g = json_array_get(segs, (size_t)i);
        json_t *gt = json_object_get(g, "tokens");
        if (s->n_tokens != (int)json_array_size(gt))
            fail_msg("%s %s segment %d: %d tokens, whisper.cpp %d", preset, clip, i, s->n_tokens,
                     (int)json_array_size(gt));
        for (int k = 0; k < s->n_tokens; k++) {
            json_t *tk = json_array_get(gt, (size_t)k);
            int gid = (int)json_integer_value(json_object_get(tk, "id"));
            if (s->tokens[k].id != gid)
                fail_msg("%s %s segment %d token %d: %d vs %d", preset, clip, i, k,
                         s->tokens[k].id, gid);
            /* probabilities follow the logits (≈1e-2 agreement): loose check */
            double gplog = json_real_value(json_object_get(tk, "plog"));
            if (fabs(s->tokens[k].plog - gplog) > 0.1)
                fail_msg("%s %s segment %d token %d: plog %f vs %f", preset, clip, i, k,
                         (double)s->tokens[k].plog, gplog);
        }
        size_t tl;
        char *text = unhex(json_string_value(json_object_get(g, "text_hex")), &tl);
        assert_int_equal(strlen(s->text), tl);
        assert_memory_equal(s->text, text, tl);
        free(text);
        const int64_t g0 = json_integer_value(json_object_get(g, "t0"));
        const int64_t g1 = json_integer_value(json_object_get(g, "t1"));
        if (micro) /* whisper.cpp artifact: seek − 100728; ours: the window start */
            assert_int_equal(s->t0, s->seek);
        else
            assert_int_equal(s->t0, g0);
        assert_int_equal(s->t1, g1);
    }
    wsp_result_free(r);
    json_decref(root);
    free(pcm);
    wsp_state_free(st);
    wsp_model_free(m);
}

static void check_transcript(const char *preset, const char *clip)
{
    char gfile[128];
    snprintf(gfile, sizeof gfile, "transcript_%s.json", clip);
    check_transcript_as(preset, clip, preset, gfile, "en", NULL, -1);
}

static bool sanitize(void)
{
    const char *s = getenv("MDC_SANITIZE");
    return s && strcmp(s, "1") == 0;
}

static void test_micro_window0(void **state) { (void)state; check_window0("micro"); }
static void test_micro_jfk(void **state) { (void)state; check_transcript("micro", "jfk"); }
static void test_micro_x5(void **state)
{
    (void)state;
    if (sanitize())
        skip();
    check_transcript("micro", "jfk_x5_60s");
}
static void test_tiny_window0(void **state)
{
    (void)state;
    if (sanitize())
        skip();
    check_window0("tiny-dims");
}
static void test_tiny_jfk(void **state)
{
    (void)state;
    if (sanitize())
        skip();
    check_transcript("tiny-dims", "jfk");
}
static void test_tiny_x5(void **state)
{
    (void)state;
    if (sanitize())
        skip();
    check_transcript("tiny-dims", "jfk_x5_60s");
}

/* large-v3 layout (128 mel bands, 51866 tokens, prompt 50258 50259 50360, timestamps on) */
static void test_v3tiny_window0(void **state)
{
    (void)state;
    if (sanitize())
        skip();
    check_window0("v3tiny");
}
static void test_v3tiny_jfk(void **state)
{
    (void)state;
    if (sanitize())
        skip();
    check_transcript("v3tiny", "jfk");
}
/* Equal up to segment 84 of 85.  There, at step ~200 of window 1 (a 220-token window of
 * repeated text), whisper.cpp closes with <|28.62|> (51796) where we repeat <|28.10|>
 * (51770): our log-probs of the two differ by 0.00014 nat (measured by printing the
 * top-2 timestamps at each timestamp step), 20× below the 3e-3 logit spread between two
 * correct whisper.cpp builds (README-round2 §1) — a coin toss, not a rule difference.
 * The pack's steps files cover window 0 only, so the margin is ours, not whisper.cpp's. */
static void test_v3tiny_x5(void **state)
{
    (void)state;
    if (sanitize())
        skip();
    check_transcript_as("v3tiny", "jfk_x5_60s", "v3tiny", "transcript_jfk_x5_60s.json", "en",
                        NULL, 84);
}
/* Language detection: tiny-dims (99 languages: whisper.cpp's 100-entry softmax also reads
 * <|translate|> as entry 99, README-round2 §5) detects fr, v3tiny (100) detects mr. */
static void test_tiny_lang_auto(void **state)
{
    (void)state;
    if (sanitize())
        skip();
    check_transcript_as("tiny-dims", "jfk", "tiny-dims/lang", "transcript_jfk_auto.json", "auto",
                        "lang_detect_jfk.json", -1);
}
static void test_v3tiny_lang_auto(void **state)
{
    (void)state;
    if (sanitize())
        skip();
    check_transcript_as("v3tiny", "jfk", "v3tiny", "transcript_jfk_auto.json", "auto",
                        "lang_detect_jfk.json", -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_micro_window0), cmocka_unit_test(test_micro_jfk),
        cmocka_unit_test(test_micro_x5),      cmocka_unit_test(test_tiny_window0),
        cmocka_unit_test(test_tiny_jfk),      cmocka_unit_test(test_tiny_x5),
        cmocka_unit_test(test_v3tiny_window0), cmocka_unit_test(test_v3tiny_jfk),
        cmocka_unit_test(test_v3tiny_x5),     cmocka_unit_test(test_tiny_lang_auto),
        cmocka_unit_test(test_v3tiny_lang_auto),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
