/*
 * test_service_pipeline.c — recording → report: error tables, every error path (bad
 * language, bad audio, limits, missing model, cancel) with the right HTTP status and JSON
 * code, lazy loading (bad audio never loads the model), segments_json, and a full run of
 * the micro model on jfk.wav in every format with monotonic progress and the new-segment
 * callback (called as segments are produced, with the result's clamped times and text).
 */
#include <jansson.h>
#include <math.h>
#include <unistd.h>

#include "testutil.h"

#include "mdc/log.h"
#include "service/pipeline.h"

static const char *jfk(void) { return tu_shared("whisper-ref/data/jfk.wav"); }
static const char *fixture(const char *name)
{
    static char b[4][1024];
    static int k;
    char *p = b[k++ & 3];
    snprintf(p, sizeof b[0], "%s", tu_shared("fixtures/audio/"));
    strncat(p, name, sizeof b[0] - strlen(p) - 1);
    return p;
}

static void quiet(mdc_log_level l, const char *f, const char *m, void *u) {}

static model_holder *micro_holder(void)
{
    holder_options o = {.name = "micro", .path = tu_model("micro")};
    model_holder *h = holder_new(&o);
    assert_non_null(h);
    return h;
}

static void test_error_tables(void **state)
{
    const char *c = NULL;
    assert_int_equal(pipeline_http_status_for_audio(AUD_EEMPTY, &c), 422);
    assert_string_equal(c, "unprocessable_audio");
    assert_int_equal(pipeline_http_status_for_audio(AUD_ENOSTREAM, &c), 422);
    assert_int_equal(pipeline_http_status_for_audio(AUD_ENOSAMPLES, &c), 422);
    assert_int_equal(pipeline_http_status_for_audio(AUD_ENOTAUDIO, &c), 415);
    assert_string_equal(c, "unsupported_media");
    assert_int_equal(pipeline_http_status_for_audio(AUD_ECORRUPT, &c), 415);
    assert_int_equal(pipeline_http_status_for_audio(AUD_ETOOLONG, &c), 413);
    assert_string_equal(c, "payload_too_large");
    assert_int_equal(pipeline_http_status_for_audio(AUD_ETOOLARGE, &c), 413);
    assert_int_equal(pipeline_http_status_for_audio(AUD_ECANCELED, &c),
                     PIPELINE_STATUS_CLIENT_CLOSED);
    assert_string_equal(c, "client_closed");
    assert_int_equal(pipeline_http_status_for_audio(AUD_ENOMEM, &c), 500);
    assert_string_equal(c, "internal_error");
    assert_int_equal(pipeline_http_status_for_audio(AUD_EIO, NULL), 500);
    assert_int_equal(pipeline_http_status_for_audio(-999, &c), 500);

    assert_int_equal(pipeline_http_status_for_whisper(WSP_ECANCELED, &c),
                     PIPELINE_STATUS_CLIENT_CLOSED);
    assert_string_equal(c, "client_closed");
    assert_int_equal(pipeline_http_status_for_whisper(WSP_ENOMEM, &c), 500);
    assert_string_equal(c, "internal_error");
    assert_int_equal(pipeline_http_status_for_whisper(WSP_EINTERNAL, &c), 500);
    assert_int_equal(pipeline_http_status_for_whisper(WSP_ELANG, &c), 400);
    assert_string_equal(c, "bad_request");
}

static void test_segments_json(void **state)
{
    rpt_segment segs[] = {
        {.t0_cs = 0, .t1_cs = 123, .text = " Olá, \"mundo\" <b>"},
        {.t0_cs = 123, .t1_cs = 1080000, .text = "broken \xE2\x82 utf8"},
    };
    char *s = pipeline_segments_json(segs, 2, true);
    assert_non_null(s);
    json_error_t je;
    json_t *a = json_loads(s, 0, &je);
    assert_non_null(a);
    assert_int_equal(json_array_size(a), 2);
    json_t *o = json_array_get(a, 0);
    assert_true(json_real_value(json_object_get(o, "start")) == 0.0);
    assert_true(json_real_value(json_object_get(o, "end")) == 1.23);
    assert_string_equal(json_string_value(json_object_get(o, "text")), " Olá, \"mundo\" <b>");
    o = json_array_get(a, 1);
    assert_true(json_real_value(json_object_get(o, "end")) == 10800.0);
    assert_non_null(strstr(json_string_value(json_object_get(o, "text")), "\xEF\xBF\xBD"));
    json_decref(a);
    free(s);
    s = pipeline_segments_json(NULL, 0, false);
    assert_string_equal(s, "[]");
    free(s);
}

static void expect_error(model_holder *h, pipeline_request *req, int status, const char *code,
                         const char *in_message)
{
    pipeline_result res;
    pipeline_run(h, req, &res);
    print_message("  %d %s: %s\n", res.http_status, res.error_code, res.error_message);
    assert_int_equal(res.http_status, status);
    assert_string_equal(res.error_code, code);
    assert_null(res.body);
    assert_null(res.segments_json);
    if (in_message)
        assert_non_null(strstr(res.error_message, in_message));
    pipeline_result_free(&res);
    pipeline_result_free(&res); /* twice is safe */
}

static void test_bad_input_never_loads_the_model(void **state)
{
    TU_REQUIRE_FILE(jfk());
    TU_REQUIRE_FILE(fixture("bad_meeting_notes.txt"));
    model_holder *h = micro_holder();
    pipeline_request req = {.audio_path = jfk(), .language = "klingon"};
    expect_error(h, &req, 400, "bad_request", "klingon");

    req = (pipeline_request){.audio_path = fixture("bad_meeting_notes.txt")};
    expect_error(h, &req, 415, "unsupported_media", NULL);
    req.audio_path = fixture("bad_empty_0_bytes.wav");
    expect_error(h, &req, 422, "unprocessable_audio", NULL);
    /* a PNG named .wav: the MANIFEST accepts 415 or 422 (no audio stream) */
    req.audio_path = fixture("bad_png_image_named.wav");
    pipeline_result res;
    pipeline_run(h, &req, &res);
    assert_true(res.http_status == 415 || res.http_status == 422);
    pipeline_result_free(&res);
    req.audio_path = jfk();
    req.limits.max_seconds = 2; /* jfk.wav is 11 s */
    expect_error(h, &req, 413, "payload_too_large", NULL);
    req.limits = (aud_limits){.max_bytes = 1000};
    expect_error(h, &req, 413, "payload_too_large", NULL);
    req = (pipeline_request){.audio_path = "/nonexistent/recording.wav"};
    expect_error(h, &req, 500, "internal_error", NULL);

    /* none of these touched the model: lazy loading */
    assert_int_equal(holder_get_state(h), HOLDER_UNLOADED);
    assert_int_equal(holder_loads_total(h), 0);
    holder_free(h);
}

static void test_missing_model_is_503(void **state)
{
    TU_REQUIRE_FILE(jfk());
    holder_options o = {.name = "base", .path = "/nonexistent/models/ggml-base.bin",
                        .context = "WHISPER_MODEL=base, WHISPER_MODELS_DIR=/nonexistent/models"};
    model_holder *h = holder_new(&o);
    pipeline_request req = {.audio_path = jfk()};
    expect_error(h, &req, 503, "model_unavailable", "/nonexistent/models/ggml-base.bin");
    expect_error(h, &req, 503, "model_unavailable", "file not found");
    assert_int_equal(holder_get_state(h), HOLDER_FAILED);
    holder_free(h);
}

static bool always_abort(void *user) { return true; }

static void test_cancel_is_client_closed(void **state)
{
    TU_REQUIRE_FILE(jfk());
    model_holder *h = micro_holder();
    pipeline_request req = {.audio_path = jfk(), .abort_cb = always_abort};
    expect_error(h, &req, PIPELINE_STATUS_CLIENT_CLOSED, "client_closed", NULL);
    holder_free(h);
}

typedef struct progress_log {
    int values[256];
    int n;
    model_holder *cancel_in_engine; /* set: cancel once the model reference is held */
    struct {
        double start, end;
        char text[512];
        int progress_before; /* last progress value seen when the segment came */
    } segs[32];
    int n_segs;
} progress_log;

static void on_segment(const pipeline_segment *seg, void *user)
{
    progress_log *pl = user;
    assert_int_equal(seg->index, pl->n_segs); /* in order, none skipped */
    if (pl->n_segs < 32) {
        pl->segs[pl->n_segs].start = seg->t0_s;
        pl->segs[pl->n_segs].end = seg->t1_s;
        snprintf(pl->segs[pl->n_segs].text, sizeof pl->segs[0].text, "%s", seg->text);
        pl->segs[pl->n_segs].progress_before = pl->n ? pl->values[pl->n - 1] : -1;
    }
    pl->n_segs++;
}

static void on_progress(int p, void *user)
{
    progress_log *pl = user;
    if (pl->n < 256)
        pl->values[pl->n++] = p;
}

/* True only inside the engine: the pipeline holds the model reference only there. */
static bool abort_in_engine(void *user)
{
    progress_log *pl = user;
    return pl->cancel_in_engine && holder_refs(pl->cancel_in_engine) > 0;
}

static void test_micro_jfk_every_format(void **state)
{
    TU_REQUIRE_FILE(jfk());
    TU_REQUIRE_FILE(tu_model("micro"));
    model_holder *h = micro_holder();
    /* The random-weight micro model never ends a window (220 tokens, README), so each
     * run costs seconds: three formats here; the renderers have their own tests and
     * tests/integration/test_cli.sh runs every format through the binary. */
    const rpt_format formats[] = {RPT_FORMAT_MARKDOWN, RPT_FORMAT_VERBOSE_JSON, RPT_FORMAT_SRT};
    /* Under the sanitizers (MDC_SANITIZE=1, tests/sanitize.sh) one run is enough. */
    size_t n_formats = getenv("MDC_SANITIZE") ? 1 : sizeof formats / sizeof formats[0];
    for (size_t f = 0; f < n_formats; f++) {
        progress_log pl = {0};
        pipeline_request req = {
            .audio_path = jfk(),
            .source_name = "jfk.wav",
            .language = f == 1 ? "auto" : "en",
            .temperature = -1,
            .no_fallback = true, /* as the goldens: no temperature fallback */
            .n_threads = 2,
            .format = formats[f],
            .meta = {.title = "Test meeting", .participants = "Ana, Bruno",
                     .locale = RPT_LOCALE_EN},
            .progress_cb = on_progress,
            .segment_cb = on_segment,
            .user = &pl,
        };
        pipeline_result res;
        pipeline_run(h, &req, &res);
        print_message("  format %zu: %d %s %s\n", f, res.http_status, res.error_code,
                      res.error_message);
        assert_int_equal(res.http_status, 200);
        assert_string_equal(res.error_code, "");
        assert_non_null(res.body);
        assert_int_equal(strlen(res.body), res.body_len);
        assert_true(res.audio_seconds > 10.9 && res.audio_seconds < 11.1);
        assert_true(res.processing_seconds > 0);
        assert_true(res.language[0] != '\0');
        if (f == 0) {
            assert_string_equal(res.language, "en");
            assert_non_null(strstr(res.body, "Test meeting"));
            assert_non_null(strstr(res.body, "Ana"));
            assert_non_null(strstr(res.body, "Bruno"));
            assert_non_null(strstr(res.body, "ggml-micro-random.bin"));
        }
        if (formats[f] == RPT_FORMAT_VERBOSE_JSON || formats[f] == RPT_FORMAT_JSON) {
            json_error_t je;
            json_t *j = json_loads(res.body, 0, &je);
            assert_non_null(j);
            assert_non_null(json_object_get(j, "text"));
            if (formats[f] == RPT_FORMAT_VERBOSE_JSON) {
                assert_non_null(json_object_get(j, "segments"));
                assert_non_null(json_object_get(j, "duration"));
                assert_string_equal(json_string_value(json_object_get(j, "task")), "transcribe");
            }
            json_decref(j);
        }
        json_error_t je;
        json_t *segs = json_loads(res.segments_json, 0, &je);
        assert_non_null(segs);
        assert_true(json_is_array(segs));
        for (size_t i = 0; i < json_array_size(segs); i++) {
            json_t *o = json_array_get(segs, i);
            assert_true(json_is_number(json_object_get(o, "start")));
            assert_true(json_is_number(json_object_get(o, "end")));
            assert_true(json_is_string(json_object_get(o, "text")));
            /* micro runs without timestamps: whisper.cpp ends its segment at seek + 30 s,
             * past jfk.wav's 11 s; the report clamps to the audio (OpenAI's rule) */
            double start = json_number_value(json_object_get(o, "start"));
            double end = json_number_value(json_object_get(o, "end"));
            assert_true(start >= 0 && start <= end);
            assert_true(end <= res.audio_seconds + 0.005);
        }
        assert_true(json_array_size(segs) > 0);
        /* the callback saw every segment of the result, with its times and text, while
         * the transcription ran (before the final 100 %) */
        assert_int_equal(pl.n_segs, (int)json_array_size(segs));
        for (int i = 0; i < pl.n_segs && i < 32; i++) {
            json_t *o = json_array_get(segs, (size_t)i);
            assert_true(fabs(json_number_value(json_object_get(o, "start")) - pl.segs[i].start) < 1e-9);
            assert_true(fabs(json_number_value(json_object_get(o, "end")) - pl.segs[i].end) < 1e-9);
            if (strlen(json_string_value(json_object_get(o, "text"))) < sizeof pl.segs[0].text - 1)
                assert_string_equal(json_string_value(json_object_get(o, "text")), pl.segs[i].text);
            assert_true(pl.segs[i].progress_before >= 5 && pl.segs[i].progress_before < 100);
        }
        json_decref(segs);
        /* progress: starts at 0, decode ends at 5, never decreases, ends at 100 */
        assert_true(pl.n >= 3);
        assert_int_equal(pl.values[0], 0);
        assert_int_equal(pl.values[1], 5);
        for (int i = 1; i < pl.n; i++)
            assert_true(pl.values[i] > pl.values[i - 1]);
        assert_int_equal(pl.values[pl.n - 1], 100);
        pipeline_result_free(&res);
    }
    assert_int_equal(holder_loads_total(h), 1); /* the model loaded once, then reused */
    assert_int_equal(holder_refs(h), 0);        /* every run released its reference */

    /* cancelled inside the engine: 499, reference released */
    progress_log pl = {.cancel_in_engine = h};
    pipeline_request req = {.audio_path = jfk(), .temperature = -1, .no_fallback = true,
                            .progress_cb = on_progress, .abort_cb = abort_in_engine,
                            .user = &pl};
    expect_error(h, &req, PIPELINE_STATUS_CLIENT_CLOSED, "client_closed", "transcription");
    assert_int_equal(holder_refs(h), 0);
    holder_free(h);
}

static void test_language_forms(void **state)
{
    (void)state;
    static const struct {
        const char *in, *code;
    } ok[] = {
        {"pt", "pt"},         {"PT", "pt"},        {"pt-BR", "pt"},      {"pt_br", "pt"},
        {"PT-br", "pt"},      {"en-US", "en"},     {"zh-Hant-TW", "zh"}, {"portuguese", "pt"},
        {"Portuguese", "pt"}, {" en ", "en"},      {"haitian creole", "ht"}, {"castilian", "es"},
        {"Mandarin", "zh"},   {"yue", "yue"},      {"auto", ""},         {"AUTO", ""},
        {"", ""},
    };
    char code[8];
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int rc = pipeline_language_parse(ok[i].in, code, sizeof code);
        if (rc != 0 || strcmp(code, ok[i].code) != 0)
            fail_msg("\"%s\": rc %d code \"%s\", want \"%s\"", ok[i].in, rc, code, ok[i].code);
    }
    assert_int_equal(pipeline_language_parse(NULL, code, sizeof code), 0);
    assert_string_equal(code, "");
    static const char *const bad[] = {"xx", "klingon", "p", "pt-", "-BR", "xx-BR", "ptBR",
                                      "english-US", "a-very-long-language-name-that-is-not-one"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (pipeline_language_parse(bad[i], code, sizeof code) != -1 || code[0])
            fail_msg("\"%s\" accepted as \"%s\"", bad[i], code);
    }
}

int main(void)
{
    mdc_log_set_sink(quiet, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_tables),
        cmocka_unit_test(test_language_forms),
        cmocka_unit_test(test_segments_json),
        cmocka_unit_test(test_bad_input_never_loads_the_model),
        cmocka_unit_test(test_missing_model_is_503),
        cmocka_unit_test(test_cancel_is_client_closed),
        cmocka_unit_test(test_micro_jfk_every_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
