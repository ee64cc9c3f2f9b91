/*
 * test_whisper_golden_forward.c — the forward pass against whisper.cpp's reference outputs
 * (../shared/whisper-ref/golden, see its README "Reference outputs" and "Agreement to
 * expect"): log-mel of jfk.wav, conv stem and encoder output of window 0, and
 * teacher-forced logits (tf_text, tf_greedy) for the micro and tiny-dims models, and for
 * v3tiny (large-v3 layout: 128 mel bands, 51866 tokens; README-round2 §5), whose pack has
 * the 128-band mel (gzip) and tf logits but no conv/encoder outputs or tf_text logits.
 * Tolerances: mel 1e-4 max abs; conv/encoder/logits 1e-2 max abs and 2e-3 rms; raw argmax
 * equal on every step row whose margin exceeds 0.01.  MDC_SANITIZE=1 runs micro only.
 */
#include "testutil.h"

#include "whisper/engine.h"
#include "tu_whisper.h"

#include <jansson.h>
#include <zlib.h>
#include <pthread.h>
#include <math.h>
#include <unistd.h>

#define MEL_TOL 1e-4
#define MAX_TOL 1e-2
#define RMS_TOL 2e-3
#define MARGIN_MIN 0.01


static void *read_golden(const char *rel, size_t *bytes)
{
    char path[600];
    snprintf(path, sizeof path, "whisper-ref/golden/%s", rel);
    void *p = tu_read_file(tu_shared(path), bytes);
    if (!p)
        fail_msg("cannot read golden file %s", tu_shared(path));
    return p;
}

static void diff_stats(const float *a, const float *b, size_t n, double *max_abs, double *rms)
{
    double mx = 0, ss = 0;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= mx)) /* NaN counts as a failure */
            mx = isnan(d) ? INFINITY : d;
        ss += d * d;
    }
    *max_abs = mx;
    *rms = n ? sqrt(ss / (double)n) : 0;
}

static int argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

static float *g_samples;
static size_t g_n_samples;

static int setup(void **state)
{
    (void)state;
    g_samples = tu_read_wav_pcm16(tu_shared("whisper-ref/data/jfk.wav"), &g_n_samples);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(g_samples);
    return 0;
}

static void test_mel(void **state)
{
    (void)state;
    TU_REQUIRE_FILE(tu_shared("whisper-ref/golden/jfk.mel.f32"));
    assert_non_null(g_samples);
    assert_int_equal(g_n_samples, 176000);
    wsp_model *m = NULL;
    wsp_error err;
    assert_int_equal(wsp_model_load(tu_model("micro"), &m, &err), 0);
    float *mel = NULL;
    int n_frames = 0, n_len = 0;
    assert_int_equal(wsp__mel_compute(m, g_samples, g_n_samples, NULL, &mel, &n_frames, &n_len), 0);
    assert_int_equal(n_frames, 4100);
    assert_int_equal(n_len, 1099);
    size_t bytes;
    float *ref = read_golden("jfk.mel.f32", &bytes);
    assert_int_equal(bytes, sizeof(float) * 80 * 4100);
    double mx, rms;
    diff_stats(mel, ref, 80 * 4100, &mx, &rms);
    print_message("mel vs whisper.cpp: max abs %.3g, rms %.3g (tolerance %.0e)\n", mx, rms, MEL_TOL);
    assert_true(mx <= MEL_TOL);
    free(ref);
    free(mel);
    /* clips shorter than the reflection and the window: no out-of-bounds read (ASan),
     * whisper's frame count, finite values */
    const size_t shorts[] = {0, 1, 150, 399, 401};
    for (size_t k = 0; k < sizeof shorts / sizeof shorts[0]; k++) {
        assert_int_equal(wsp__mel_compute(m, g_samples + 40000, shorts[k], NULL, &mel, &n_frames, &n_len), 0);
        assert_int_equal(n_frames, (int)((shorts[k] + 480000) / 160));
        for (int i = 0; i < 80 * n_frames; i++)
            assert_true(isfinite(mel[i]));
        free(mel);
    }
    wsp_model_free(m);
}

/* Logit tolerances: f16 goldens MAX_TOL / RMS_TOL; quantized goldens README-round2 §4
 * (the spread of two whisper.cpp builds on quantized models): micro 0.03 / 0.005. */
typedef struct tol {
    double max, rms;
} tol;
static const tol F16_TOL = {MAX_TOL, RMS_TOL};
static const tol QMICRO_TOL = {0.03, 0.005};
static const tol QTINY_TOL = {0.1, 0.02};

/* Teacher forcing (README "Teacher forcing"): row 0 after the prompt batch, then one
 * token per row; compares the stored full rows and the argmax of every row. */
static void check_tf(wsp_state *st, const char *preset, const char *kind, int n_threads, tol t)
{
    char rel[128];
    size_t bytes;
    snprintf(rel, sizeof rel, "%s/tf_%s_tokens.i32", preset, kind);
    int32_t *tok = read_golden(rel, &bytes);
    const int L = (int)(bytes / 4);
    snprintf(rel, sizeof rel, "%s/tf_%s_steps.json", preset, kind);
    char path[600];
    snprintf(path, sizeof path, "whisper-ref/golden/%s", rel);
    json_error_t jerr;
    json_t *steps = json_load_file(tu_shared(path), 0, &jerr);
    assert_non_null(steps);
    const int P = (int)json_integer_value(json_object_get(steps, "n_prompt"));
    const int rows = (int)json_integer_value(json_object_get(steps, "rows"));
    const int full = (int)json_integer_value(json_object_get(steps, "rows_with_full_logits"));
    const int n_vocab = (int)json_integer_value(json_object_get(steps, "n_vocab"));
    json_t *arr = json_object_get(steps, "steps");
    assert_int_equal(rows, L - P + 1);
    assert_int_equal((int)json_array_size(arr), rows);
    snprintf(rel, sizeof rel, "%s/tf_%s_logits.f32", preset, kind);
    snprintf(path, sizeof path, "whisper-ref/golden/%s", rel);
    float *ref = NULL;
    if (tu_exists(tu_shared(path))) {
        ref = read_golden(rel, &bytes);
        assert_int_equal(bytes, sizeof(float) * (size_t)full * (size_t)n_vocab);
    } else { /* not shipped (v3tiny tf_text): the argmax of every row is still checked */
        print_message("%s: not in the pack, logits not compared\n", rel);
    }

    float *logits = malloc(sizeof(float) * (size_t)rows * (size_t)n_vocab);
    assert_int_equal(tu_decode_seq(st, 0, tok, P, 0, n_threads, logits), 0);
    for (int r = 1; r < rows; r++)
        assert_int_equal(tu_decode_seq(st, 0, &tok[P - 1 + r], 1, P - 1 + r, n_threads,
                                     logits + (size_t)r * n_vocab),
                         0);
    double mx = 0, rms = 0;
    if (ref) {
        diff_stats(logits, ref, (size_t)full * (size_t)n_vocab, &mx, &rms);
        print_message("%s tf_%s logits (%d rows): max abs %.3g, rms %.3g (tolerance %.3g / %.3g)\n",
                      preset, kind, full, mx, rms, t.max, t.rms);
    }
    int checked = 0, wrong = 0;
    for (int r = 0; r < rows; r++) {
        json_t *row = json_array_get(arr, (size_t)r);
        const double margin = json_real_value(json_object_get(row, "margin"));
        const int want = (int)json_integer_value(json_object_get(row, "argmax"));
        const int got = argmax(logits + (size_t)r * n_vocab, n_vocab);
        if (margin > MARGIN_MIN) {
            checked++;
            if (got != want) {
                wrong++;
                print_message("%s tf_%s row %d: argmax %d, whisper.cpp %d (margin %.4f)\n",
                              preset, kind, r, got, want, margin);
            }
        }
    }
    print_message("%s tf_%s argmax: %d of %d rows with margin > %.2f agree\n", preset, kind,
                  checked - wrong, checked, MARGIN_MIN);
    if (L - P >= 16) {
        /* The batch path (sgemm projections and cross-attention for >= 16 tokens) must give
         * the logits the one-token-at-a-time path gives: the whole sequence in one call on
         * decoder 1, and prompt + one batch of the rest on decoder 2. */
        float *batch = malloc(sizeof(float) * (size_t)n_vocab);
        const float *want = logits + (size_t)(L - P) * n_vocab;
        double bmx, brms, cmx, crms;
        assert_int_equal(tu_decode_seq(st, 1, tok, L, 0, n_threads, batch), 0);
        diff_stats(batch, want, (size_t)n_vocab, &bmx, &brms);
        assert_int_equal(tu_decode_seq(st, 2, tok, P, 0, n_threads, batch), 0);
        assert_int_equal(tu_decode_seq(st, 2, tok + P, L - P, P, n_threads, batch), 0);
        diff_stats(batch, want, (size_t)n_vocab, &cmx, &crms);
        print_message("%s tf_%s batch of %d vs single steps: max abs %.3g; %d after the prompt: "
                      "max abs %.3g\n", preset, kind, L, bmx, L - P, cmx);
        /* quantized weights: a 1e-7 change of an activation flips some of its int8 codes,
         * so the two paths differ by the quantization noise itself (README-round2 §9: two
         * whisper.cpp builds differ by the same amount); f16/f32: 1e-3 */
        const double btol = t.max > MAX_TOL ? t.max : 1e-3;
        assert_true(bmx <= btol && cmx <= btol);
        free(batch);
    }
    assert_true(mx <= t.max);
    assert_true(rms <= t.rms);
    assert_int_equal(wrong, 0);
    free(logits);
    free(ref);
    free(tok);
    json_decref(steps);
}

/* One model's forward pass against its goldens.  A quantized model (README-round2 §4):
 * the pack ships tf_greedy logits only (no conv / encoder dumps, no tf_text logits); the
 * batch-vs-single check inside check_tf compares the dequantize + sgemm path with the
 * integer matvec path. */
static void check_model(const char *preset, tol t)
{
    const char *path = tu_model(preset);
    const char *qtype = strstr(preset, "-q");
    TU_REQUIRE_FILE(tu_shared("whisper-ref/golden/jfk.mel.f32"));
    TU_REQUIRE_FILE(path);
    assert_non_null(g_samples);
    wsp_model *m = NULL;
    wsp_error err;
    int rc = wsp_model_load(path, &m, &err);
    if (rc)
        fail_msg("load %s: %s", path, err.message);
    if (qtype)
        assert_string_equal(wsp_model_ftype_name(m), qtype + 1);
    const int n = wsp_model_hparams(m)->n_audio_state, T = wsp_model_hparams(m)->n_audio_ctx;
    wsp_state *st = NULL;
    assert_int_equal(wsp_state_new(m, &st, &err), 0);
    float *mel = NULL;
    int n_frames = 0;
    assert_int_equal(wsp__mel_compute(m, g_samples, g_n_samples, NULL, &mel, &n_frames, NULL), 0);
    assert_int_equal(wsp__encode(st, mel, n_frames, 0, 2), 0);

    const char *names[2] = {"conv_out", "encoder_out"};
    const float *outs[2] = {wsp__conv_output(st), wsp__encoder_output(st)};
    for (int k = 0; k < 2; k++) {
        char rel[128];
        size_t bytes;
        snprintf(rel, sizeof rel, "%s/%s.f32", preset, names[k]);
        char grel[600];
        snprintf(grel, sizeof grel, "whisper-ref/golden/%s", rel);
        if (!tu_exists(tu_shared(grel))) { /* v3tiny's pack has none */
            print_message("%s: not in the pack, not compared\n", rel);
            continue;
        }
        float *ref = read_golden(rel, &bytes);
        assert_int_equal(bytes, sizeof(float) * (size_t)T * (size_t)n);
        double mx, rms;
        diff_stats(outs[k], ref, (size_t)T * (size_t)n, &mx, &rms);
        print_message("%s %s: max abs %.3g, rms %.3g (tolerance %.0e / %.0e)\n", preset,
                      names[k], mx, rms, MAX_TOL, RMS_TOL);
        assert_true(mx <= MAX_TOL);
        assert_true(rms <= RMS_TOL);
        free(ref);
    }
    if (!qtype)
        check_tf(st, preset, "text", 2, t);
    check_tf(st, preset, "greedy", 2, t);
    /* the same rows with one thread must agree too (thread split must not matter) */
    check_tf(st, preset, "greedy", 1, t);
    free(mel);
    wsp_state_free(st);
    wsp_model_free(m);
}

static void test_f32_model(void **state)
{
    (void)state;
    TU_REQUIRE_FILE(tu_model("micro"));
    assert_non_null(g_samples);
    char dir[] = "/tmp/mdc-f32-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/micro-f32.bin", dir);
    assert_int_equal(tu_write_f32_copy(tu_model("micro"), path), 0);
    wsp_model *m16 = NULL, *m32 = NULL;
    wsp_state *s16 = NULL, *s32 = NULL;
    wsp_error err;
    assert_int_equal(wsp_model_load(tu_model("micro"), &m16, &err), 0);
    int rc = wsp_model_load(path, &m32, &err);
    unlink(path);
    rmdir(dir);
    if (rc)
        fail_msg("f32 copy: %s", err.message);
    assert_string_equal(wsp_model_ftype_name(m32), "f32");
    assert_int_equal(wsp_state_new(m16, &s16, &err), 0);
    assert_int_equal(wsp_state_new(m32, &s32, &err), 0);
    float *mel = NULL;
    int n_frames = 0;
    assert_int_equal(wsp__mel_compute(m16, g_samples, g_n_samples, NULL, &mel, &n_frames, NULL), 0);
    assert_int_equal(wsp__encode(s16, mel, n_frames, 0, 2), 0);
    assert_int_equal(wsp__encode(s32, mel, n_frames, 0, 2), 0);
    const wsp_hparams *hp = wsp_model_hparams(m16);
    double mx, rms;
    diff_stats(wsp__encoder_output(s16), wsp__encoder_output(s32),
               (size_t)hp->n_audio_ctx * (size_t)hp->n_audio_state, &mx, &rms);
    print_message("f32 copy of micro vs f16: encoder_out max abs %.3g\n", mx);
    assert_true(mx <= 1e-4);
    size_t bytes;
    int32_t *tok = read_golden("micro/tf_text_tokens.i32", &bytes);
    const int L = (int)(bytes / 4);
    float *a = malloc(sizeof(float) * (size_t)hp->n_vocab), *b = malloc(sizeof(float) * (size_t)hp->n_vocab);
    /* the whole sequence as one batch, then one more single token (GEMM and matvec paths) */
    assert_int_equal(tu_decode_seq(s16, 0, tok, L - 1, 0, 2, a), 0);
    assert_int_equal(tu_decode_seq(s32, 0, tok, L - 1, 0, 2, b), 0);
    diff_stats(a, b, (size_t)hp->n_vocab, &mx, &rms);
    assert_true(mx <= 1e-4);
    assert_int_equal(tu_decode_seq(s16, 0, tok + L - 1, 1, L - 1, 2, a), 0);
    assert_int_equal(tu_decode_seq(s32, 0, tok + L - 1, 1, L - 1, 2, b), 0);
    double mx1;
    diff_stats(a, b, (size_t)hp->n_vocab, &mx1, &rms);
    print_message("f32 copy of micro vs f16: logits max abs %.3g (batch), %.3g (single)\n", mx, mx1);
    assert_true(mx1 <= 1e-4);
    free(a);
    free(b);
    free(tok);
    free(mel);
    wsp_state_free(s16);
    wsp_state_free(s32);
    wsp_model_free(m16);
    wsp_model_free(m32);
}

/* One shared model, one state per thread, all at once: the model is read-only, FFTW
 * planning is serialized, so every thread must get the single-threaded result exactly. */
typedef struct race_arg {
    const wsp_model *m;
    const int32_t *tok;
    int n_tok;
    float *logits; /* [n_vocab] out */
    int rc;
} race_arg;

static void *race_worker(void *p)
{
    race_arg *a = p;
    wsp_state *st = NULL;
    float *mel = NULL;
    int n_frames = 0;
    a->rc = wsp_state_new(a->m, &st, NULL);
    if (!a->rc)
        a->rc = wsp__mel_compute(a->m, g_samples, g_n_samples, NULL, &mel, &n_frames, NULL);
    if (!a->rc)
        a->rc = wsp__encode(st, mel, n_frames, 0, 2);
    if (!a->rc)
        a->rc = tu_decode_seq(st, 0, a->tok, a->n_tok, 0, 2, a->logits);
    free(mel);
    wsp_state_free(st);
    return NULL;
}

static void test_shared_model_threads(void **state)
{
    (void)state;
    TU_REQUIRE_FILE(tu_model("micro"));
    assert_non_null(g_samples);
    wsp_model *m = NULL;
    assert_int_equal(wsp_model_load(tu_model("micro"), &m, NULL), 0);
    size_t bytes;
    int32_t *tok = read_golden("micro/tf_text_tokens.i32", &bytes);
    const int n_vocab = wsp_model_hparams(m)->n_vocab;
    enum { NT = 3 };
    race_arg args[NT + 1];
    pthread_t th[NT];
    for (int i = 0; i <= NT; i++)
        args[i] = (race_arg){.m = m, .tok = tok, .n_tok = 6,
                             .logits = malloc(sizeof(float) * (size_t)n_vocab)};
    race_worker(&args[NT]); /* reference, alone */
    for (int i = 0; i < NT; i++)
        assert_int_equal(pthread_create(&th[i], NULL, race_worker, &args[i]), 0);
    for (int i = 0; i < NT; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i <= NT; i++)
        assert_int_equal(args[i].rc, 0);
    for (int i = 0; i < NT; i++)
        assert_memory_equal(args[i].logits, args[NT].logits, sizeof(float) * (size_t)n_vocab);
    print_message("%d threads sharing one model: logits identical to a lone run\n", NT);
    for (int i = 0; i <= NT; i++)
        free(args[i].logits);
    free(tok);
    wsp_model_free(m);
}

/* The 128-band log-mel of jfk.wav with the filterbank stored in v3tiny (OpenAI mel_128),
 * against whisper.cpp's (gzip of float32 [128][4100]).  ref: README-round2.md §5. */
static void test_mel_v3tiny(void **state)
{
    (void)state;
    const char *gz = tu_shared("whisper-ref/golden/v3tiny/jfk.mel128.f32.gz");
    TU_REQUIRE_FILE(gz);
    TU_REQUIRE_FILE(tu_model("v3tiny"));
    assert_non_null(g_samples);
    wsp_model *m = NULL;
    wsp_error err;
    assert_int_equal(wsp_model_load(tu_model("v3tiny"), &m, &err), 0);
    assert_int_equal(wsp_model_hparams(m)->n_mels, 128);
    float *mel = NULL;
    int n_frames = 0, n_len = 0;
    assert_int_equal(wsp__mel_compute(m, g_samples, g_n_samples, NULL, &mel, &n_frames, &n_len), 0);
    assert_int_equal(n_frames, 4100);
    assert_int_equal(n_len, 1099);
    const size_t n = 128 * 4100;
    float *ref = malloc(sizeof(float) * (n + 1));
    gzFile f = gzopen(gz, "rb");
    assert_non_null(f);
    const int got = gzread(f, ref, (unsigned)(sizeof(float) * (n + 1)));
    gzclose(f);
    assert_int_equal(got, (int)(sizeof(float) * n)); /* 2 099 200 bytes, no more */
    double mx, rms;
    diff_stats(mel, ref, n, &mx, &rms);
    print_message("v3tiny 128-band mel vs whisper.cpp: max abs %.3g, rms %.3g (tolerance %.0e)\n",
                  mx, rms, MEL_TOL);
    assert_true(mx <= MEL_TOL);
    free(ref);
    free(mel);
    wsp_model_free(m);
}

static void test_v3tiny(void **state)
{
    (void)state;
    const char *san = getenv("MDC_SANITIZE");
    if (san && strcmp(san, "1") == 0) {
        print_message("SKIP: v3tiny under MDC_SANITIZE=1 (too slow with ASan)\n");
        skip();
    }
    check_model("v3tiny", F16_TOL);
}

static void test_micro(void **state)
{
    (void)state;
    check_model("micro", F16_TOL);
}

static void test_micro_q4_0(void **state) { (void)state; check_model("micro-q4_0", QMICRO_TOL); }
static void test_micro_q4_1(void **state) { (void)state; check_model("micro-q4_1", QMICRO_TOL); }
static void test_micro_q5_0(void **state) { (void)state; check_model("micro-q5_0", QMICRO_TOL); }
static void test_micro_q5_1(void **state) { (void)state; check_model("micro-q5_1", QMICRO_TOL); }
static void test_micro_q8_0(void **state) { (void)state; check_model("micro-q8_0", QMICRO_TOL); }

/* tiny-dims quantized by our `model quantize` (tests/data/make-models.sh; sha256 equal
 * to whisper-ref/models/QUANTIZED.json); skipped when absent or under ASan. */
static void tiny_quant(const char *preset)
{
    const char *san = getenv("MDC_SANITIZE");
    if (san && strcmp(san, "1") == 0)
        skip();
    check_model(preset, QTINY_TOL);
}
static void test_tiny_q4_0(void **state) { (void)state; tiny_quant("tiny-dims-q4_0"); }
static void test_tiny_q4_1(void **state) { (void)state; tiny_quant("tiny-dims-q4_1"); }
static void test_tiny_q5_0(void **state) { (void)state; tiny_quant("tiny-dims-q5_0"); }
static void test_tiny_q5_1(void **state) { (void)state; tiny_quant("tiny-dims-q5_1"); }
static void test_tiny_q8_0(void **state) { (void)state; tiny_quant("tiny-dims-q8_0"); }

static void test_tiny_dims(void **state)
{
    (void)state;
    const char *san = getenv("MDC_SANITIZE");
    if (san && strcmp(san, "1") == 0) {
        print_message("SKIP: tiny-dims under MDC_SANITIZE=1 (too slow with ASan)\n");
        skip();
    }
    check_model("tiny-dims", F16_TOL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mel),
        cmocka_unit_test(test_micro),
        cmocka_unit_test(test_micro_q4_0),
        cmocka_unit_test(test_micro_q4_1),
        cmocka_unit_test(test_micro_q5_0),
        cmocka_unit_test(test_micro_q5_1),
        cmocka_unit_test(test_micro_q8_0),
        cmocka_unit_test(test_f32_model),
        cmocka_unit_test(test_shared_model_threads),
        cmocka_unit_test(test_tiny_dims),
        cmocka_unit_test(test_tiny_q4_0),
        cmocka_unit_test(test_tiny_q4_1),
        cmocka_unit_test(test_tiny_q5_0),
        cmocka_unit_test(test_tiny_q5_1),
        cmocka_unit_test(test_tiny_q8_0),
        cmocka_unit_test(test_mel_v3tiny),
        cmocka_unit_test(test_v3tiny),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
