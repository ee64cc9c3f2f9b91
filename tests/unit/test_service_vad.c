/*
 * test_service_vad.c — transcribing only speech (issue 13), through pipeline_run():
 *  - whisper.cpp's --vad golden: tiny-dims on jfk_x5_60s.wav with the real Silero model
 *    gives whisper-cli --vad's 21 segments (golden/vad/whisper-cli/cli_td_x5_vad.json):
 *    the same token ids (as the harness's transcript of the filtered audio,
 *    transcript_jfk_x5_60s_vad_filtered.json) and the same mapped-back times;
 *  - no speech (edge_silence_1s.wav): 200, no segment, zero encoder windows and decoder
 *    steps, the Whisper model never loaded, and the report says no speech was detected;
 *  - vad = false with a VAD holder present: byte-identical output to a run without one;
 *  - a missing VAD model: 503 model_unavailable naming the VAD model's path;
 *  - the holder of kind VAD: its state, and the shared mdconv_model_state family;
 *  - vad / chunking_strategy parsing (svc_vad_options) and the WHISPER_VAD* settings.
 * MDC_SANITIZE=1 skips the tiny-dims golden (minutes under ASan).
 */
#include <jansson.h>
#include <float.h>
#include <math.h>

#include "testutil.h"

#include "mdc/log.h"
#include "service/config.h"
#include "service/pipeline.h"
#include "service/vad_options.h"

static const char *silero(void) { return tu_shared("whisper-ref/models/ggml-silero-v6.2.0.bin"); }

static model_holder *vad_holder(const char *path, met_registry *reg)
{
    holder_options o = {.kind = &holder_kind_vad, .name = "silero-v6.2.0", .path = path,
                        .metrics = reg};
    model_holder *h = holder_new(&o);
    assert_non_null(h);
    return h;
}

static model_holder *whisper_holder(const char *preset, met_registry *reg)
{
    holder_options o = {.name = preset, .path = tu_model(preset), .metrics = reg};
    model_holder *h = holder_new(&o);
    assert_non_null(h);
    return h;
}

static pipeline_request base_request(const char *path, model_holder *vh)
{
    pipeline_request r = {.audio_path = path, .language = "en", .temperature = 0,
                          .no_fallback = true, .n_threads = 2, .format = RPT_FORMAT_VERBOSE_JSON,
                          .meta = {.processing_s = -1, .locale = RPT_LOCALE_EN},
                          .vad = vh != NULL, .vad_holder = vh, .vad_params = vad_default_params()};
    return r;
}

typedef struct live {
    int n;
    double t0[64], t1[64];
} live;

static void on_segment(const pipeline_segment *sg, void *user)
{
    live *l = user;
    if (l->n < 64) {
        l->t0[l->n] = sg->t0_s;
        l->t1[l->n] = sg->t1_s;
    }
    l->n++;
}

static void test_vad_transcript_golden(void **state)
{
    (void)state;
    TU_REQUIRE_FILE(silero());
    TU_REQUIRE_FILE(tu_model("tiny-dims"));
    if (getenv("MDC_SANITIZE")) { /* 60 s through tiny-dims is minutes under ASan */
        print_message("SKIP under MDC_SANITIZE: the tiny-dims --vad golden\n");
        skip();
    }
    const char *clip = tu_shared("whisper-ref/data/jfk_x5_60s.wav");
    TU_REQUIRE_FILE(clip);
    json_error_t je;
    char *cli_text = tu_read_file(tu_shared("whisper-ref/golden/vad/whisper-cli/cli_td_x5_vad.json"), NULL);
    assert_non_null(cli_text);
    /* whisper-cli's JSON strings may hold raw control bytes: parse leniently */
    json_t *cli = json_loads(cli_text, JSON_ALLOW_NUL | JSON_DISABLE_EOF_CHECK, &je);
    free(cli_text);
    json_t *filt = json_load_file(tu_shared("whisper-ref/golden/vad/transcript_jfk_x5_60s_vad_filtered.json"), 0, &je);
    if (!cli || !filt)
        fail_msg("cannot parse the --vad goldens: %s", je.text);

    model_holder *wh = whisper_holder("tiny-dims", NULL);
    model_holder *vh = vad_holder(silero(), NULL);
    pipeline_request req = base_request(clip, vh);
    live lv = {0};
    req.segment_cb = on_segment;
    req.user = &lv;
    pipeline_result res;
    pipeline_run(wh, &req, &res);
    if (res.http_status != 200)
        fail_msg("pipeline: %d %s", res.http_status, res.error_message);
    json_t *out = json_loads(res.body, 0, &je);
    assert_non_null(out);
    json_t *segs = json_object_get(out, "segments");
    json_t *gcli = json_object_get(cli, "transcription");
    json_t *gf = json_object_get(filt, "segments");
    print_message("--vad: %zu segments (whisper-cli %zu), %d windows, %d decoder steps, "
                  "%.1f s of speech of %.1f s\n", json_array_size(segs), json_array_size(gcli),
                  res.encoder_windows, res.decoder_steps, res.speech_seconds, res.audio_seconds);
    assert_int_equal(json_array_size(segs), json_array_size(gcli));
    assert_int_equal(json_array_size(segs), json_array_size(gf));
    assert_int_equal(lv.n, (int)json_array_size(segs));
    assert_true(res.vad_used);
    for (size_t i = 0; i < json_array_size(segs); i++) {
        json_t *s = json_array_get(segs, i);
        json_t *c = json_object_get(json_array_get(gcli, i), "offsets");
        const long long t0 = llround(json_number_value(json_object_get(s, "start")) * 100);
        const long long t1 = llround(json_number_value(json_object_get(s, "end")) * 100);
        const long long c0 = json_integer_value(json_object_get(c, "from")) / 10;
        const long long c1 = json_integer_value(json_object_get(c, "to")) / 10;
        if (t0 != c0 || t1 != c1)
            fail_msg("segment %zu: [%lld, %lld] cs, whisper-cli --vad [%lld, %lld]", i, t0, t1, c0, c1);
        /* the live segment event carried the same mapped-back times */
        assert_true(i < (size_t)lv.n);
        assert_int_equal(llround(lv.t0[i] * 100), t0);
        assert_int_equal(llround(lv.t1[i] * 100), t1);
        json_t *ids = json_object_get(s, "tokens");
        json_t *gt = json_object_get(json_array_get(gf, i), "tokens");
        assert_int_equal(json_array_size(ids), json_array_size(gt));
        for (size_t k = 0; k < json_array_size(ids); k++)
            assert_int_equal(json_integer_value(json_array_get(ids, k)),
                             json_integer_value(json_object_get(json_array_get(gt, k), "id")));
    }
    json_decref(out);
    pipeline_result_free(&res);
    holder_free(wh);
    holder_free(vh);
    json_decref(cli);
    json_decref(filt);
}

static void test_vad_silence_skips_decoder(void **state)
{
    (void)state;
    TU_REQUIRE_FILE(silero());
    const char *clip = tu_shared("fixtures/audio/edge_silence_1s.wav");
    TU_REQUIRE_FILE(clip);
    model_holder *wh = whisper_holder("micro", NULL);
    model_holder *vh = vad_holder(silero(), NULL);
    pipeline_request req = base_request(clip, vh);
    req.format = RPT_FORMAT_MARKDOWN;
    req.meta.locale = RPT_LOCALE_PT_BR;
    pipeline_result res;
    pipeline_run(wh, &req, &res);
    assert_int_equal(res.http_status, 200);
    assert_int_equal(res.encoder_windows, 0);
    assert_int_equal(res.decoder_steps, 0);
    assert_true(res.vad_used);
    assert_true(res.speech_seconds == 0);
    assert_string_equal(res.segments_json, "[]");
    assert_non_null(strstr(res.body, "Nenhuma fala detectada."));
    assert_non_null(strstr(res.body, "- **Fala detectada:** 00:00:00"));
    assert_int_equal(holder_loads_total(wh), 0); /* no speech: the Whisper model never loaded */
    assert_int_equal(holder_loads_total(vh), 1);
    pipeline_result_free(&res);
    /* the same clip in English, text format: empty */
    req.format = RPT_FORMAT_TEXT;
    pipeline_run(wh, &req, &res);
    assert_int_equal(res.http_status, 200);
    assert_int_equal(res.body_len, 0);
    pipeline_result_free(&res);
    holder_free(wh);
    holder_free(vh);
}

static void test_vad_false_unchanged(void **state)
{
    (void)state;
    TU_REQUIRE_FILE(silero());
    const char *clip = tu_shared("whisper-ref/data/jfk.wav");
    model_holder *wh = whisper_holder("micro", NULL);
    model_holder *vh = vad_holder(silero(), NULL);
    pipeline_request a = base_request(clip, NULL);
    pipeline_request b = base_request(clip, vh);
    b.vad = false; /* a holder present but VAD off for this request */
    pipeline_result ra, rb;
    pipeline_run(wh, &a, &ra);
    pipeline_run(wh, &b, &rb);
    assert_int_equal(ra.http_status, 200);
    assert_int_equal(rb.http_status, 200);
    assert_int_equal(ra.body_len, rb.body_len);
    assert_memory_equal(ra.body, rb.body, ra.body_len);
    assert_string_equal(ra.segments_json, rb.segments_json);
    assert_false(rb.vad_used);
    assert_true(rb.encoder_windows > 0);
    assert_int_equal(holder_loads_total(vh), 0); /* never touched */
    pipeline_result_free(&ra);
    pipeline_result_free(&rb);
    holder_free(wh);
    holder_free(vh);
}

static void quiet(mdc_log_level l, const char *f, const char *m, void *u) {}

static void test_vad_model_missing_is_503(void **state)
{
    (void)state;
    mdc_log_set_sink(quiet, NULL);
    met_registry *reg = met_registry_new();
    model_holder *wh = whisper_holder("micro", reg);
    model_holder *vh = vad_holder("/nonexistent/ggml-silero-v6.2.0.bin", reg);
    pipeline_request req = base_request(tu_shared("whisper-ref/data/jfk.wav"), vh);
    pipeline_result res;
    pipeline_run(wh, &req, &res);
    assert_int_equal(res.http_status, 503);
    assert_string_equal(res.error_code, "model_unavailable");
    assert_non_null(strstr(res.error_message, "/nonexistent/ggml-silero-v6.2.0.bin"));
    assert_non_null(strstr(res.error_message, "file not found"));
    assert_int_equal(holder_get_state(vh), HOLDER_FAILED);
    pipeline_result_free(&res);
    /* a Whisper file given as the VAD model: a clear load error, not a crash */
    model_holder *bad = vad_holder(tu_model("micro"), reg);
    wsp_error err = {0};
    assert_null(holder_acquire_vad(bad, &err));
    assert_non_null(strstr(err.message, "not a Silero VAD model"));
    /* both holders' states in the one shared family */
    char *text = NULL;
    size_t tlen = 0;
    assert_int_equal(met_render(reg, &text, &tlen), 0);
    assert_non_null(strstr(text, "mdconv_model_state{model=\"micro\"} 0"));
    assert_non_null(strstr(text, "mdconv_model_state{model=\"silero-v6.2.0\"} 3"));
    free(text);
    holder_free(bad);
    holder_free(wh);
    holder_free(vh);
    met_registry_free(reg);
    mdc_log_set_sink(NULL, NULL);
}

/* vad=true|false and OpenAI's chunking_strategy → on/off + parameters, or a 400 reason. */
static void test_vad_options(void **state)
{
    (void)state;
    const vad_params srv = vad_default_params();
    bool on = false;
    vad_params p;
    char why[300];
#define OPT(v, c, def, model) svc_vad_options(v, c, def, model, &srv, &on, &p, why, sizeof why)
    /* absent: the server default, either way */
    assert_int_equal(OPT(NULL, NULL, false, true), 0);
    assert_false(on);
    assert_int_equal(OPT("", "", true, true), 0);
    assert_true(on);
    /* vad */
    assert_int_equal(OPT("true", NULL, false, true), 0);
    assert_true(on);
    assert_int_equal(OPT("off", NULL, true, true), 0);
    assert_false(on);
    assert_int_equal(OPT("maybe", NULL, false, true), -1);
    assert_non_null(strstr(why, "vad must be true or false"));
    /* VAD asked for without a model on the server */
    assert_int_equal(OPT("true", NULL, false, false), -1);
    assert_non_null(strstr(why, "WHISPER_VAD_MODEL"));
    assert_int_equal(OPT("false", NULL, false, false), 0); /* off is always fine */
    /* chunking_strategy "auto" (bare or as a JSON string) */
    assert_int_equal(OPT(NULL, "auto", false, true), 0);
    assert_true(on);
    assert_true(p.threshold == srv.threshold);
    assert_int_equal(OPT(NULL, "\"auto\"", false, true), 0);
    assert_true(on);
    assert_int_equal(OPT(NULL, "auto", false, false), -1);
    assert_non_null(strstr(why, "chunking_strategy asks"));
    /* server_vad with every field, mapped onto whisper.cpp's rules */
    assert_int_equal(OPT("true", "{\"type\":\"server_vad\",\"threshold\":0.6,"
                                "\"silence_duration_ms\":500,\"prefix_padding_ms\":300}",
                         false, true), 0);
    assert_true(on);
    assert_true(fabsf(p.threshold - 0.6f) < 1e-6f);
    assert_int_equal(p.min_silence_duration_ms, 500);
    assert_int_equal(p.speech_pad_ms, 300);
    assert_int_equal(p.min_speech_duration_ms, srv.min_speech_duration_ms); /* kept */
    /* only type: the server's parameters */
    assert_int_equal(OPT(NULL, " {\"type\": \"server_vad\"}", false, true), 0);
    assert_int_equal(p.min_silence_duration_ms, srv.min_silence_duration_ms);
    /* errors, each naming the field */
    static const struct { const char *v; const char *needle; } bad[] = {
        {"manual", "must be \"auto\" or a JSON object"},
        {"{", "JSON object"},
        {"[1,2]", "JSON object"},
        {"{\"type\":\"client_vad\"}", "type must be \"server_vad\""},
        {"{\"threshold\":0.5}", "type must be \"server_vad\""},
        {"{\"type\":\"server_vad\",\"threshold\":1.5}", "threshold must be > 0 and <= 1"},
        {"{\"type\":\"server_vad\",\"threshold\":0}", "threshold must be > 0"},
        {"{\"type\":\"server_vad\",\"threshold\":\"high\"}", "threshold must be a number"},
        {"{\"type\":\"server_vad\",\"silence_duration_ms\":-1}", "silence_duration_ms must be"},
        {"{\"type\":\"server_vad\",\"silence_duration_ms\":1.5}", "whole number"},
        {"{\"type\":\"server_vad\",\"prefix_padding_ms\":\"300\"}", "prefix_padding_ms must be"},
        {"{\"type\":\"server_vad\",\"prefix_padding_ms\":99999999}", "prefix_padding_ms must be"},
        {"{\"type\":\"server_vad\",\"min_speech_ms\":10}", "unknown field \"min_speech_ms\""},
        {"{\"type\":\"server_vad\",\"type\":\"server_vad\"}", "JSON object"}, /* duplicate key */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = '\0';
        if (OPT(NULL, bad[i].v, false, true) != -1 || !strstr(why, bad[i].needle))
            fail_msg("chunking_strategy=%s: got \"%s\", want \"%s\"", bad[i].v, why, bad[i].needle);
    }
    /* contradiction */
    assert_int_equal(OPT("false", "auto", false, true), -1);
    assert_non_null(strstr(why, "contradicts"));
#undef OPT
}

/* The WHISPER_VAD* rows of the settings table. */
static void test_vad_settings(void **state)
{
    (void)state;
    svc_config c;
    char err[600];
    svc_config_defaults(&c);
    assert_int_equal(c.vad_mode, SVC_VAD_AUTO);
    assert_string_equal(c.vad_model, "");
    assert_string_equal(c.vad_model_path, "");
    assert_false(svc_config_vad_default_on(&c)); /* auto without a model: off */
    vad_params p = svc_config_vad_params(&c);
    const vad_params d = vad_default_params();
    assert_true(p.threshold == d.threshold && p.max_speech_duration_s == FLT_MAX);
    assert_int_equal(p.min_speech_duration_ms, 250);
    assert_int_equal(p.min_silence_duration_ms, 100);
    assert_int_equal(p.speech_pad_ms, 30);
    /* a name resolves like WHISPER_MODEL */
    assert_int_equal(svc_config_set(&c, "WHISPER_MODELS_DIR", "/models", "test", err, sizeof err), 0);
    assert_int_equal(svc_config_set(&c, "WHISPER_VAD_MODEL", "silero-v6.2.0", "test", err, sizeof err), 0);
    assert_string_equal(c.vad_model_path, "/models/ggml-silero-v6.2.0.bin");
    assert_false(svc_config_vad_default_on(&c)); /* auto, file absent */
    assert_int_equal(svc_config_set(&c, "WHISPER_VAD_MODEL", silero(), "test", err, sizeof err), 0);
    assert_string_equal(c.vad_model_path, silero());
    if (tu_exists(silero()))
        assert_true(svc_config_vad_default_on(&c)); /* auto, file present */
    assert_int_equal(svc_config_set(&c, "WHISPER_VAD", "false", "test", err, sizeof err), 0);
    assert_false(svc_config_vad_default_on(&c));
    assert_int_equal(svc_config_set(&c, "WHISPER_VAD", "true", "test", err, sizeof err), 0);
    assert_true(svc_config_vad_default_on(&c));
    /* bad values */
    assert_int_equal(svc_config_set(&c, "WHISPER_VAD", "sometimes", "test", err, sizeof err), -1);
    assert_non_null(strstr(err, "WHISPER_VAD"));
    assert_int_equal(svc_config_set(&c, "WHISPER_VAD_MODEL", "silero", "test", err, sizeof err), -1);
    assert_non_null(strstr(err, "silero-v6.2.0"));
    assert_int_equal(svc_config_set(&c, "WHISPER_VAD_MODEL", "base", "test", err, sizeof err), -1);
    assert_int_equal(svc_config_set(&c, "WHISPER_VAD_THRESHOLD", "0", "test", err, sizeof err), -1);
    assert_int_equal(svc_config_set(&c, "WHISPER_VAD_THRESHOLD", "1.2", "test", err, sizeof err), -1);
    assert_int_equal(svc_config_set(&c, "WHISPER_VAD_MIN_SILENCE_MS", "-5", "test", err, sizeof err), -1);
    /* the thresholds reach the parameters */
    assert_int_equal(svc_config_set(&c, "WHISPER_VAD_THRESHOLD", "0.6", "test", err, sizeof err), 0);
    assert_int_equal(svc_config_set(&c, "WHISPER_VAD_MIN_SPEECH_MS", "100", "test", err, sizeof err), 0);
    assert_int_equal(svc_config_set(&c, "WHISPER_VAD_MIN_SILENCE_MS", "500", "test", err, sizeof err), 0);
    assert_int_equal(svc_config_set(&c, "WHISPER_VAD_SPEECH_PAD_MS", "0", "test", err, sizeof err), 0);
    assert_int_equal(svc_config_set(&c, "WHISPER_VAD_MAX_SPEECH_S", "15", "test", err, sizeof err), 0);
    p = svc_config_vad_params(&c);
    assert_true(fabsf(p.threshold - 0.6f) < 1e-6f);
    assert_int_equal(p.min_speech_duration_ms, 100);
    assert_int_equal(p.min_silence_duration_ms, 500);
    assert_int_equal(p.speech_pad_ms, 0);
    assert_true(p.max_speech_duration_s == 15.0f);
    /* WHISPER_VAD=true without a model: refused */
    svc_config_defaults(&c);
    assert_int_equal(svc_config_set(&c, "WHISPER_VAD", "true", "test", err, sizeof err), -1);
    assert_non_null(strstr(err, "no WHISPER_VAD_MODEL"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vad_silence_skips_decoder),
        cmocka_unit_test(test_vad_false_unchanged),
        cmocka_unit_test(test_vad_model_missing_is_503),
        cmocka_unit_test(test_vad_options),
        cmocka_unit_test(test_vad_settings),
        cmocka_unit_test(test_vad_transcript_golden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
