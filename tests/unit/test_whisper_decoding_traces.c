/*
 * test_whisper_decoding_traces.c — the structure of best-of / temperature fallback and
 * beam search against whisper.cpp's traces (../shared/whisper-ref/golden/tiny-dims/
 * decoding/, README-round2.md §2).  Sampled tokens cannot match (whisper.cpp samples its
 * beams; any last-bit logit difference moves a draw), so what is compared is what the
 * pack calls structural: windows, attempts, the chosen temperature, segment count
 * (seed reproducibility: tests/integration/test_http_api.py).
 */
#include "testutil.h"

#include <math.h>

#include <jansson.h>

#include "mdc/whisper.h"

#define DEC_DIR "whisper-ref/golden/tiny-dims/decoding/"

typedef struct run {
    int n_windows, n_segments;
    float temperature0; /* temperature of the first segment */
    char text[4096];
} run;

static void transcribe(const char *wav, wsp_params p, run *out)
{
    wsp_model *m = NULL;
    wsp_state *st = NULL;
    wsp_error err;
    assert_int_equal(wsp_model_load(tu_model("tiny-dims"), &m, &err), 0);
    assert_int_equal(wsp_state_new(m, &st, &err), 0);
    size_t ns = 0;
    float *pcm = tu_read_wav_pcm16(tu_shared(wav), &ns);
    assert_non_null(pcm);
    wsp_result *r = NULL;
    if (wsp_transcribe(st, pcm, ns, &p, &r, &err) != 0)
        fail_msg("%s", err.message);
    memset(out, 0, sizeof *out);
    out->n_windows = r->timings.n_windows;
    out->n_segments = r->n_segments;
    out->temperature0 = r->n_segments ? r->segments[0].temperature : -1.0f;
    for (int i = 0; i < r->n_segments; i++)
        strncat(out->text, r->segments[i].text, sizeof out->text - strlen(out->text) - 1);
    wsp_result_free(r);
    free(pcm);
    wsp_state_free(st);
    wsp_model_free(m);
}

/* whisper.cpp greedy best_of 5, temperature_inc 0.2 on the random tiny-dims model: window
 * 0 tries all 6 temperatures and keeps T = 1.0 (every attempt fails the thresholds), one
 * window, one segment.  Ours must show the same structure. */
static void test_bestof_fallback_structure(void **state)
{
    (void)state;
    TU_REQUIRE_FILE(tu_model("tiny-dims"));
    TU_REQUIRE_FILE(tu_shared(DEC_DIR "transcript_jfk_bestof5_fallback.json"));
    json_error_t e;
    json_t *g = json_load_file(tu_shared(DEC_DIR "transcript_jfk_bestof5_fallback.json"), 0, &e);
    assert_non_null(g);
    json_t *w0 = json_array_get(json_object_get(g, "windows"), 0);
    const int want_windows = (int)json_array_size(json_object_get(g, "windows"));
    const int want_attempts = (int)json_integer_value(json_object_get(w0, "n_attempts"));
    const double want_t = json_number_value(json_object_get(w0, "chosen_temperature"));
    const int want_segments = (int)json_array_size(json_object_get(g, "segments"));
    assert_int_equal(want_attempts, 6);

    wsp_params p = wsp_default_params(WSP_SAMPLING_GREEDY);
    p.language = "en";
    p.n_threads = 2;
    p.best_of = 5;
    p.temperature_inc = 0.2f;
    p.condition_on_previous_text = false; /* the harness's no_context */
    run a;
    transcribe("whisper-ref/data/jfk.wav", p, &a);
    assert_int_equal(a.n_windows, want_windows);
    assert_int_equal(a.n_segments, want_segments);
    /* the 6th temperature of the float schedule 0, 0.2, … (t += 0.2f): all 5 earlier
     * attempts were rejected, as in whisper.cpp */
    assert_true(fabsf(a.temperature0 - (float)want_t) < 1e-6f);
    json_decref(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bestof_fallback_structure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
