/*
 * test_audio_stereo.c — keep_stereo decoding and whisper-cli's -di speaker rule against
 * ../shared/whisper-ref/golden/stereo/ (README-round2 §7):
 *  - stereo_diarization.wav keeps both channels; samples = L + R exactly;
 *  - the speaker of every window of speaker_grid.json ("0", "1" and "?") and of the
 *    -di transcript's segment (cli_td_stereo_di.energies.json), with the energies equal
 *    to the pack's recomputation (double sums; printed);
 *  - a mono file keeps no channels and labels "?"; without keep_stereo nothing changes;
 *  - the engine on the kept sum gives whisper.cpp's L+R transcript, labelled "0";
 *  - aud_stereo_turns: synthetic channels (alternating parties, a short backchannel, a
 *    pause, "?" crosstalk) give the documented turns; stereo_diarization.wav gives both
 *    parties, right first-active then left (printed).
 */
#include "testutil.h"

#include "mdc/audio.h"
#include "mdc/whisper.h"

#include <jansson.h>
#include <math.h>

static const char *label(int s) { return s == 0 ? "0" : (s == 1 ? "1" : "?"); }

static void check_windows(const aud_pcm *pcm, const char *rel, const char *key,
                          const char *want_key)
{
    TU_REQUIRE_FILE(tu_shared(rel));
    json_error_t jerr;
    json_t *root = json_load_file(tu_shared(rel), 0, &jerr);
    assert_non_null(root);
    json_t *arr = json_object_get(root, key);
    assert_true(json_array_size(arr) > 0);
    int seen[3] = {0};
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *w = json_array_get(arr, i);
        const int64_t t0 = json_integer_value(json_object_get(w, "t0_cs"));
        const int64_t t1 = json_integer_value(json_object_get(w, "t1_cs"));
        const double g0 = json_number_value(json_object_get(w, "energy0_left"));
        const double g1 = json_number_value(json_object_get(w, "energy1_right"));
        const char *want = json_string_value(json_object_get(w, want_key));
        double e0, e1;
        const int s = aud_stereo_speaker(pcm, t0, t1, &e0, &e1);
        print_message("[%lld, %lld] cs: speaker %s (whisper-cli %s), E0 %.6f / %.6f, "
                      "E1 %.6f / %.6f\n", (long long)t0, (long long)t1, label(s), want, e0,
                      g0, e1, g1);
        assert_string_equal(label(s), want);
        assert_true(fabs(e0 - g0) <= 1e-6 * (1.0 + g0));
        assert_true(fabs(e1 - g1) <= 1e-6 * (1.0 + g1));
        seen[s + 1]++;
    }
    if (strcmp(key, "windows") == 0) /* the grid covers all three outcomes */
        assert_true(seen[0] > 0 && seen[1] > 0 && seen[2] > 0);
    json_decref(root);
}

static void test_stereo_golden(void **state)
{
    (void)state;
    const char *wav = tu_shared("whisper-ref/data/stereo_diarization.wav");
    TU_REQUIRE_FILE(wav);
    aud_limits lim = {.max_seconds = 60, .keep_stereo = true};
    aud_pcm pcm;
    aud_error err;
    assert_int_equal(aud_decode_file(wav, &lim, NULL, NULL, &pcm, &err), 0);
    assert_non_null(pcm.left);
    assert_non_null(pcm.right);
    assert_int_equal(pcm.n_samples, 80000);
    for (size_t i = 0; i < pcm.n_samples; i++)
        assert_true(pcm.samples[i] == pcm.left[i] + pcm.right[i]);
    check_windows(&pcm, "whisper-ref/golden/stereo/speaker_grid.json", "windows", "speaker");
    check_windows(&pcm, "whisper-ref/golden/stereo/cli_td_stereo_di.energies.json", "segments",
                  "speaker_whisper_cli");
    aud_pcm_free(&pcm);
    assert_null(pcm.left);

    /* default: one averaged channel, no per-channel copies */
    lim.keep_stereo = false;
    assert_int_equal(aud_decode_file(wav, &lim, NULL, NULL, &pcm, &err), 0);
    assert_null(pcm.left);
    assert_int_equal(aud_stereo_speaker(&pcm, 0, 100, NULL, NULL), -1);
    aud_pcm_free(&pcm);
}

static void test_mono_keeps_nothing(void **state)
{
    (void)state;
    const char *wav = tu_shared("whisper-ref/data/jfk.wav");
    TU_REQUIRE_FILE(wav);
    aud_limits lim = {.max_seconds = 60, .keep_stereo = true};
    aud_pcm pcm;
    assert_int_equal(aud_decode_file(wav, &lim, NULL, NULL, &pcm, NULL), 0);
    assert_null(pcm.left);
    assert_null(pcm.right);
    assert_int_equal(pcm.n_samples, 176000);
    assert_int_equal(aud_stereo_speaker(&pcm, 0, 100, NULL, NULL), -1);
    aud_pcm_free(&pcm);
}

/* keep_stereo with the duration limit: still refused, nothing left allocated. */
static void test_stereo_limit(void **state)
{
    (void)state;
    const char *wav = tu_shared("whisper-ref/data/stereo_diarization.wav");
    TU_REQUIRE_FILE(wav);
    aud_limits lim = {.max_seconds = 2, .keep_stereo = true};
    aud_pcm pcm;
    aud_error err;
    assert_int_equal(aud_decode_file(wav, &lim, NULL, NULL, &pcm, &err), AUD_ETOOLONG);
    assert_null(pcm.samples);
    assert_null(pcm.left);
}

/* What -di transcribes: the engine on samples (= L + R) gives whisper.cpp's transcript of
 * the int16 sum (golden/stereo/transcript_LplusR.json: token ids, t0/t1), whose one
 * segment whisper-cli labels "0" (cli_td_stereo_di.json). */
static void test_stereo_sum_transcript(void **state)
{
    (void)state;
    const char *wav = tu_shared("whisper-ref/data/stereo_diarization.wav");
    const char *gold = tu_shared("whisper-ref/golden/stereo/transcript_LplusR.json");
    const char *mpath = tu_model("tiny-dims");
    TU_REQUIRE_FILE(wav);
    TU_REQUIRE_FILE(gold);
    TU_REQUIRE_FILE(mpath);
    const char *s = getenv("MDC_SANITIZE");
    if (s && strcmp(s, "1") == 0)
        skip();
    aud_limits lim = {.max_seconds = 60, .keep_stereo = true};
    aud_pcm pcm;
    assert_int_equal(aud_decode_file(wav, &lim, NULL, NULL, &pcm, NULL), 0);
    wsp_model *m;
    wsp_state *st;
    wsp_error err;
    assert_int_equal(wsp_model_load(mpath, &m, &err), 0);
    assert_int_equal(wsp_state_new(m, &st, &err), 0);
    wsp_params p = wsp_default_params(WSP_SAMPLING_GREEDY);
    p.n_threads = 2;
    p.language = "en";
    p.temperature_inc = 0.0f;
    wsp_result *r = NULL;
    assert_int_equal(wsp_transcribe(st, pcm.samples, pcm.n_samples, &p, &r, &err), 0);
    json_error_t jerr;
    json_t *root = json_load_file(gold, 0, &jerr);
    assert_non_null(root);
    json_t *segs = json_object_get(root, "segments");
    assert_int_equal(r->n_segments, (int)json_array_size(segs));
    for (int i = 0; i < r->n_segments; i++) {
        json_t *g = json_array_get(segs, (size_t)i);
        json_t *gt = json_object_get(g, "tokens");
        assert_int_equal(r->segments[i].t0, json_integer_value(json_object_get(g, "t0")));
        assert_int_equal(r->segments[i].t1, json_integer_value(json_object_get(g, "t1")));
        assert_int_equal(r->segments[i].n_tokens, (int)json_array_size(gt));
        for (int k = 0; k < r->segments[i].n_tokens; k++)
            assert_int_equal(r->segments[i].tokens[k].id,
                             json_integer_value(json_object_get(json_array_get(gt, (size_t)k), "id")));
        const int spk = aud_stereo_speaker(&pcm, r->segments[i].t0, r->segments[i].t1, NULL, NULL);
        print_message("segment %d [%lld, %lld]: speaker %s\n", i, (long long)r->segments[i].t0,
                      (long long)r->segments[i].t1, label(spk));
        assert_string_equal(label(spk), "0");
    }
    json_decref(root);
    wsp_result_free(r);
    wsp_state_free(st);
    wsp_model_free(m);
    aud_pcm_free(&pcm);
}

/* L and R of n_cs centiseconds; amp(t) per channel filled by the caller. */
static void synth(aud_pcm *pcm, int64_t n_cs)
{
    memset(pcm, 0, sizeof *pcm);
    pcm->n_samples = (size_t)(n_cs * 160);
    pcm->left = calloc(pcm->n_samples, sizeof(float));
    pcm->right = calloc(pcm->n_samples, sizeof(float));
    pcm->samples = calloc(pcm->n_samples, sizeof(float));
    assert_non_null(pcm->left);
    assert_non_null(pcm->right);
    assert_non_null(pcm->samples);
}

static void put(float *ch, int64_t t0_cs, int64_t t1_cs, float amp)
{
    for (int64_t j = t0_cs * 160; j < t1_cs * 160; j++)
        ch[j] = (j & 1) ? amp : -amp;
}

static void test_turns_synthetic(void **state)
{
    (void)state;
    aud_pcm pcm;
    synth(&pcm, 1000);
    put(pcm.left, 0, 300, 0.2f);     /* left talks 0–3 s */
    put(pcm.right, 150, 170, 0.5f);  /* a 0.2 s backchannel on the right: no turn */
    put(pcm.right, 300, 600, 0.2f);  /* right 3–6 s */
    put(pcm.left, 300, 600, 0.01f);  /* with crosstalk well below it */
    /* 6–7 s: silence; 7–8 s both equally loud ("?"): belongs to nobody */
    put(pcm.left, 700, 800, 0.1f);
    put(pcm.right, 700, 800, 0.1f);
    put(pcm.left, 800, 1000, 0.3f);  /* left 8–10 s */
    aud_turn *t = NULL;
    size_t n = 0;
    assert_int_equal(aud_stereo_turns(&pcm, &t, &n), 0);
    for (size_t i = 0; i < n; i++)
        print_message("turn %zu: [%lld, %lld) speaker %d\n", i, (long long)t[i].t0_cs,
                      (long long)t[i].t1_cs, t[i].speaker);
    assert_int_equal(n, 3);
    assert_int_equal(t[0].speaker, 0);
    assert_int_equal(t[0].t0_cs, 0);
    assert_int_equal(t[0].t1_cs, 300);
    assert_int_equal(t[1].speaker, 1);
    assert_int_equal(t[1].t0_cs, 300);
    assert_int_equal(t[1].t1_cs, 600);
    assert_int_equal(t[2].speaker, 0);
    assert_int_equal(t[2].t0_cs, 800);
    assert_int_equal(t[2].t1_cs, 1000);
    free(t);
    /* all silent: no turns */
    memset(pcm.left, 0, pcm.n_samples * sizeof(float));
    memset(pcm.right, 0, pcm.n_samples * sizeof(float));
    assert_int_equal(aud_stereo_turns(&pcm, &t, &n), 0);
    assert_int_equal(n, 0);
    assert_null(t);
    /* a mono decode has no channels */
    float *l = pcm.left;
    pcm.left = NULL;
    assert_int_equal(aud_stereo_turns(&pcm, &t, &n), -1);
    pcm.left = l;
    aud_pcm_free(&pcm);
}

/* The reference recording: the right party is active from ~0.4 s to ~2.1 s over the left
 * one's crosstalk, then the left party alone to the end (channel energies in 100 ms
 * frames: README-round2 §7's grid at a finer step).  Both parties get turns. */
static void test_turns_reference(void **state)
{
    (void)state;
    const char *wav = tu_shared("whisper-ref/data/stereo_diarization.wav");
    TU_REQUIRE_FILE(wav);
    aud_limits lim = {.max_seconds = 60, .keep_stereo = true};
    aud_pcm pcm;
    assert_int_equal(aud_decode_file(wav, &lim, NULL, NULL, &pcm, NULL), 0);
    aud_turn *t = NULL;
    size_t n = 0;
    assert_int_equal(aud_stereo_turns(&pcm, &t, &n), 0);
    int64_t talk[2] = {0, 0}, last = 0;
    for (size_t i = 0; i < n; i++) {
        print_message("turn %zu: [%lld, %lld) speaker %d\n", i, (long long)t[i].t0_cs,
                      (long long)t[i].t1_cs, t[i].speaker);
        assert_true(t[i].t0_cs >= last && t[i].t1_cs > t[i].t0_cs);
        assert_true(t[i].t1_cs - t[i].t0_cs >= AUD_TURN_MIN_CS || i == n - 1);
        assert_true(i == 0 || t[i].speaker != t[i - 1].speaker || t[i].t0_cs > t[i - 1].t1_cs);
        talk[t[i].speaker] += t[i].t1_cs - t[i].t0_cs;
        last = t[i].t1_cs;
    }
    assert_true(last <= 500);
    print_message("talk time: left %lld cs, right %lld cs\n", (long long)talk[0],
                  (long long)talk[1]);
    assert_true(talk[0] >= 250 && talk[1] >= 50 && talk[0] > talk[1]);
    assert_true(n >= 2 && t[n - 1].speaker == 0 && t[n - 1].t1_cs >= 450);
    free(t);
    aud_pcm_free(&pcm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stereo_golden),
        cmocka_unit_test(test_mono_keeps_nothing),
        cmocka_unit_test(test_stereo_limit),
        cmocka_unit_test(test_stereo_sum_transcript),
        cmocka_unit_test(test_turns_synthetic),
        cmocka_unit_test(test_turns_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
