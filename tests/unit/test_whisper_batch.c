/*
 * test_whisper_batch.c — the row-batched decoder (engine.h wsp__decode_batch): a batch of
 * rows from different sequences (different lengths and positions, a prompt of several
 * positions of one sequence next to single rows of others, rows in any order) gives each
 * row the logits of decoding its sequence alone, one token at a time:
 *  - below 16 rows (the rows mode, every sampling step): the same bits (so within 1e-5):
 *    each row's arithmetic is its own, whatever the thread count (reference 1 thread,
 *    batches 2);
 *  - 16 rows or more (the gemm mode, prompts): within the batch-vs-single tolerance of
 *    test_whisper_golden_forward (1e-3 for f16/f32, the quantization noise for q*);
 * for the micro model in f16, its all-f32 copy and two quantized files; and bad rows
 * (duplicate position, sequence, token, position out of range, no encoder output) give
 * WSP_EINVAL.
 * Beam search and best-of decode all live candidates of a step in one batched pass
 * (params.batch_decoders, default): the same segments — token ids, probabilities, text
 * bytes, times, bit for bit — as one pass per candidate, over the reference models and
 * clips (beam 5 on f16 and q5_0, over 2 windows with a past prompt; best-of 5 through three
 * fallback temperatures), in fewer decoder passes.
 * Continuous batching: 4 transcriptions (greedy, beam 5, best-of 5, an offset with an
 * initial prompt) running at once on one engine and model, their steps merged into shared
 * passes, give byte-identical results to the same requests run one by one with batching
 * off.
 */
#include "testutil.h"
#include "tu_whisper.h"

#include <math.h>
#include <pthread.h>
#include <unistd.h>

#include "whisper/state.h"

enum { NSEQ = 4, LEN = 24 };
static const int g_seq[NSEQ] = {0, 1, 2, 5}; /* decoder indices (not contiguous) */
static const int g_len[NSEQ] = {21, 5, 9, 3};

/* Token p of sequence q: the task prompt, then ids spread over the text vocabulary. */
static int32_t tok(const wsp__vocab *v, int q, int p)
{
    const int32_t init[4] = {v->sot, v->lang_first, v->transcribe, v->notimestamps};
    return p < 4 ? init[p] : (int32_t)((1000 + 7919 * (q + 1) * p) % v->eot);
}

static float max_diff(const float *a, const float *b, int n)
{
    float m = 0.0f;
    for (int i = 0; i < n; i++)
        m = fabsf(a[i] - b[i]) > m ? fabsf(a[i] - b[i]) : m;
    return m;
}

/* One model: reference logits of every position of every sequence decoded alone (single
 * rows, 1 thread), then mixed batches on another state (2 threads; both encoded with 2:
 * the encoder's sgemm blocks follow the thread count, the decoder's rows mode does not). */
static void check_model(const char *path, double gemm_tol)
{
    TU_REQUIRE_FILE(path);
    TU_REQUIRE_FILE(tu_shared("whisper-ref/data/jfk.wav"));
    wsp_model *m = NULL;
    wsp_state *ref = NULL, *st = NULL;
    wsp_error err;
    assert_int_equal(wsp_model_load(path, &m, &err), 0);
    assert_int_equal(wsp_state_new(m, &ref, &err), 0);
    assert_int_equal(wsp_state_new(m, &st, &err), 0);
    const wsp__vocab *v = wsp__model_vocab(m);
    const int nv = v->n_vocab;
    size_t ns = 0;
    float *pcm = tu_read_wav_pcm16(tu_shared("whisper-ref/data/jfk.wav"), &ns);
    float *mel = NULL;
    int nf = 0;
    assert_non_null(pcm);
    assert_int_equal(wsp__mel_compute(m, pcm, ns, NULL, &mel, &nf, NULL), 0);

    /* not encoded yet: refused */
    float *out = malloc(sizeof(float) * (size_t)nv * NSEQ * LEN);
    float *want = malloc(sizeof(float) * (size_t)nv * NSEQ * LEN);
    assert_non_null(out);
    assert_non_null(want);
    wsp__row r1 = {.token = v->sot, .pos = 0, .seq = 0, .logits = out};
    assert_int_equal(wsp__decode_batch(st, &r1, 1, 2), WSP_EINVAL);
    assert_int_equal(wsp__encode(ref, mel, nf, 0, 2), 0);
    assert_int_equal(wsp__encode(st, mel, nf, 0, 2), 0);

#define AT(buf, q, p) ((buf) + ((size_t)(q) * LEN + (size_t)(p)) * (size_t)nv)
    for (int q = 0; q < NSEQ; q++)
        for (int p = 0; p < g_len[q]; p++) {
            const wsp__row r = {.token = tok(v, q, p), .pos = p, .seq = g_seq[q],
                                .logits = AT(want, q, p)};
            assert_int_equal(wsp__decode_batch(ref, &r, 1, 1), 0);
        }

    /* three passes: rows mode (13 rows, then 8), then gemm mode (17 rows); [q, p0, p1) */
    static const int plan[3][NSEQ][2] = {
        {{0, 7}, {0, 1}, {0, 3}, {0, 2}},
        {{7, 8}, {1, 5}, {3, 4}, {2, 3}},
        {{8, 21}, {5, 5}, {4, 8}, {3, 3}},
    };
    wsp__row rows[64];
    for (int pass = 0; pass < 3; pass++) {
        int n = 0;
        /* interleaved: one row of each sequence in turn, sequence 2 first */
        for (int k = 0, more = 1; more; k++) {
            more = 0;
            for (int qq = 0; qq < NSEQ; qq++) {
                const int q = (qq + 2) % NSEQ, p = plan[pass][q][0] + k;
                if (p >= plan[pass][q][1])
                    continue;
                more = 1;
                rows[n++] = (wsp__row){.token = tok(v, q, p), .pos = p, .seq = g_seq[q],
                                       .logits = AT(out, q, p)};
            }
        }
        assert_int_equal(wsp__decode_batch(st, rows, n, 2), 0);
        float mx = 0.0f;
        for (int i = 0; i < n; i++) {
            int q = 0;
            while (g_seq[q] != rows[i].seq)
                q++;
            const float d = max_diff(rows[i].logits, AT(want, q, rows[i].pos), nv);
            mx = d > mx ? d : mx;
        }
        print_message("%s: pass %d, %d rows (%s mode): max |logit − alone| = %.3g\n", path,
                      pass, n, n < 16 ? "rows" : "gemm", (double)mx);
        if (n < 16)
            assert_true(mx == 0.0f); /* what continuous batching relies on */
        else
            assert_true(mx <= gemm_tol);
    }

    /* a row without logits writes none; bad rows are refused before any work */
    memset(out, 0x7f, sizeof(float) * (size_t)nv);
    wsp__row r2 = {.token = tok(v, 1, 5), .pos = 5, .seq = g_seq[1], .logits = NULL};
    assert_int_equal(wsp__decode_batch(st, &r2, 1, 2), 0);
    assert_true(out[0] == out[nv - 1]);
    wsp__row bad[2] = {{.token = v->sot, .pos = 3, .seq = 4, .logits = out},
                       {.token = v->sot, .pos = 3, .seq = 4, .logits = NULL}};
    assert_int_equal(wsp__decode_batch(st, bad, 2, 2), WSP_EINVAL); /* (seq, pos) twice */
    bad[1].pos = 4;
    assert_int_equal(wsp__decode_batch(st, bad, 2, 2), 0);
    bad[0].seq = wsp__n_decoders(st);
    assert_int_equal(wsp__decode_batch(st, bad, 1, 2), WSP_EINVAL);
    bad[0].seq = 0;
    bad[0].token = nv;
    assert_int_equal(wsp__decode_batch(st, bad, 1, 2), WSP_EINVAL);
    bad[0].token = -1;
    assert_int_equal(wsp__decode_batch(st, bad, 1, 2), WSP_EINVAL);
    bad[0].token = v->sot;
    bad[0].pos = wsp_model_hparams(m)->n_text_ctx;
    assert_int_equal(wsp__decode_batch(st, bad, 1, 2), WSP_EINVAL);
    bad[0].pos = -1;
    assert_int_equal(wsp__decode_batch(st, bad, 1, 2), WSP_EINVAL);
    assert_int_equal(wsp__decode_batch(st, bad, 0, 2), WSP_EINVAL);
    assert_int_equal(wsp__decode_batch(st, NULL, 1, 2), WSP_EINVAL);
#undef AT
    free(out);
    free(want);
    free(mel);
    free(pcm);
    wsp_state_free(st);
    wsp_state_free(ref);
    wsp_model_free(m);
}

static void test_batch_f16(void **state)
{
    (void)state;
    check_model(tu_model("micro"), 1e-3);
}

static void test_batch_f32(void **state)
{
    (void)state;
    TU_REQUIRE_FILE(tu_model("micro"));
    char dir[] = "/tmp/mdc-batch-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/micro-f32.bin", dir);
    assert_int_equal(tu_write_f32_copy(tu_model("micro"), path), 0);
    check_model(path, 1e-3);
    unlink(path);
    rmdir(dir);
}

/* quantized: gemm mode quantizes activations in blocks, so a 1e-7 change of an input
 * flips int8 codes (README-round2 §9; test_whisper_golden_forward QMICRO_TOL) */
static void test_batch_q8_0(void **state)
{
    (void)state;
    check_model(tu_model("micro-q8_0"), 0.03);
}

static void test_batch_q4_1(void **state)
{
    (void)state;
    check_model(tu_model("micro-q4_1"), 0.03);
}

/* Equal results, bit for bit (floats compared as bytes). */
static void assert_same_result(const wsp_result *a, const wsp_result *b)
{
    assert_string_equal(a->language, b->language);
    assert_int_equal(a->n_segments, b->n_segments);
    for (int i = 0; i < a->n_segments; i++) {
        const wsp_segment *x = &a->segments[i], *y = &b->segments[i];
        assert_int_equal(x->t0, y->t0);
        assert_int_equal(x->t1, y->t1);
        assert_string_equal(x->text, y->text);
        assert_int_equal(x->seek, y->seek);
        assert_memory_equal(&x->temperature, &y->temperature, sizeof(float));
        assert_memory_equal(&x->avg_logprob, &y->avg_logprob, sizeof(float));
        assert_memory_equal(&x->compression_ratio, &y->compression_ratio, sizeof(float));
        assert_memory_equal(&x->no_speech_prob, &y->no_speech_prob, sizeof(float));
        assert_int_equal(x->n_tokens, y->n_tokens);
        for (int k = 0; k < x->n_tokens; k++) {
            const wsp_token *s1 = &x->tokens[k], *s2 = &y->tokens[k];
            assert_int_equal(s1->id, s2->id);
            assert_int_equal(s1->tid, s2->tid);
            assert_memory_equal(&s1->p, &s2->p, sizeof(float));
            assert_memory_equal(&s1->plog, &s2->plog, sizeof(float));
            assert_memory_equal(&s1->pt, &s2->pt, sizeof(float));
            assert_memory_equal(&s1->ptsum, &s2->ptsum, sizeof(float));
        }
    }
}

static void check_batched_equals_unbatched(const char *preset, const char *clip, wsp_params p)
{
    char rel[128];
    snprintf(rel, sizeof rel, "whisper-ref/data/%s.wav", clip);
    TU_REQUIRE_FILE(tu_model(preset));
    TU_REQUIRE_FILE(tu_shared(rel));
    wsp_model *m = NULL;
    wsp_state *st = NULL;
    wsp_error err;
    assert_int_equal(wsp_model_load(tu_model(preset), &m, &err), 0);
    assert_int_equal(wsp_state_new(m, &st, &err), 0);
    size_t ns = 0;
    float *pcm = tu_read_wav_pcm16(tu_shared(rel), &ns);
    assert_non_null(pcm);
    wsp_result *r[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++) {
        p.batch_decoders = k == 0;
        if (wsp_transcribe(st, pcm, ns, &p, &r[k], &err) != 0)
            fail_msg("%s %s: %s", preset, clip, err.message);
    }
    print_message("%s %s %s: %d windows, %d segments; %d decoder passes batched, %d "
                  "unbatched; decode %.0f vs %.0f ms\n", preset, clip,
                  p.strategy == WSP_SAMPLING_BEAM_SEARCH ? "beam" : "best-of",
                  r[0]->timings.n_windows, r[0]->n_segments, r[0]->timings.n_decode_steps,
                  r[1]->timings.n_decode_steps, r[0]->timings.decode_ms,
                  r[1]->timings.decode_ms);
    assert_same_result(r[0], r[1]);
    assert_true(r[0]->n_segments > 0);
    assert_true(r[0]->timings.n_decode_steps < r[1]->timings.n_decode_steps);
    wsp_result_free(r[0]);
    wsp_result_free(r[1]);
    free(pcm);
    wsp_state_free(st);
    wsp_model_free(m);
}

/* TSan (tests/sanitize.sh) runs this file for the engine's batching threads only. */
#if defined(__SANITIZE_THREAD__)
#define SKIP_UNDER_TSAN() skip()
#else
#define SKIP_UNDER_TSAN() (void)0
#endif

static void test_beam_batched_equals_unbatched(void **state)
{
    (void)state;
    SKIP_UNDER_TSAN();
    wsp_params p = wsp_default_params(WSP_SAMPLING_BEAM_SEARCH);
    p.language = "en";
    p.n_threads = 2;
    p.beam_size = 5;
    p.temperature_inc = 0.0f; /* the pack's beam runs (README-round2 §2) */
    check_batched_equals_unbatched("tiny-dims", "jfk", p);
    if (getenv("MDC_SANITIZE"))
        return; /* tests/sanitize.sh: one run is enough (minutes under ASan) */
    p.duration_ms = 33000; /* 2 windows: the second with the first's tokens as prompt */
    check_batched_equals_unbatched("tiny-dims", "jfk_x5_60s", p);
    p.duration_ms = 0;
    check_batched_equals_unbatched("tiny-dims-q5_0", "jfk", p); /* integer kernels */
}

static void test_bestof_batched_equals_unbatched(void **state)
{
    (void)state;
    SKIP_UNDER_TSAN();
    wsp_params p = wsp_default_params(WSP_SAMPLING_GREEDY);
    p.language = "en";
    p.n_threads = 2;
    p.best_of = 5;
    p.temperature_inc = 0.2f;
    p.condition_on_previous_text = false; /* the pack's best-of run … */
    p.temperature = 0.6f; /* … from its 4th temperature: 0.6, 0.8, 1.0 all tried */
    p.seed = 12345;
    check_batched_equals_unbatched("tiny-dims", "jfk", p);
}

enum { NREQ = 4 };
typedef struct req {
    const wsp_model *m;
    wsp_engine *e;
    const float *pcm;
    size_t n;
    wsp_params p;
    pthread_barrier_t *start;
    wsp_result *r;
    int rc;
} req;

static void *req_run(void *arg)
{
    req *q = arg;
    wsp_state *st = NULL;
    wsp_error err;
    q->rc = wsp_state_new_on(q->e, q->m, &st, &err);
    if (q->start)
        pthread_barrier_wait(q->start);
    if (!q->rc)
        q->rc = wsp_transcribe(st, q->pcm, q->n, &q->p, &q->r, &err);
    wsp_state_free(st);
    return NULL;
}

/* Runs the n requests of q one by one with batching off (their results into want[]),
 * then all at once with batching on (their results stay in q[i].r); *before / *after:
 * the engine's batching counters around the concurrent run. */
static void run_alone_then_together(wsp_engine *e, req *q, int n, wsp_result **want,
                                    wsp__batch_stats *before, wsp__batch_stats *after)
{
    wsp_engine_set_batching(e, false);
    for (int i = 0; i < n; i++) {
        req_run(&q[i]);
        assert_int_equal(q[i].rc, 0);
        want[i] = q[i].r;
        q[i].r = NULL;
    }
    wsp_engine_set_batching(e, true);
    wsp__engine_stats(e, before);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)n);
    pthread_t th[NREQ];
    assert_true(n <= NREQ);
    for (int i = 0; i < n; i++) {
        q[i].start = &start;
        assert_int_equal(pthread_create(&th[i], NULL, req_run, &q[i]), 0);
    }
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start);
    wsp__engine_stats(e, after);
}

static void test_continuous_batching_changes_nothing(void **state)
{
    (void)state;
    /* under the sanitizers (TSan: tests/sanitize.sh) the small micro model, fewer beams */
    const bool san = getenv("MDC_SANITIZE") != NULL;
    const char *preset = san ? "micro" : "tiny-dims";
    TU_REQUIRE_FILE(tu_model(preset));
    TU_REQUIRE_FILE(tu_shared("whisper-ref/data/jfk.wav"));
    wsp_model *m = NULL;
    wsp_engine *e = NULL;
    wsp_error err;
    assert_int_equal(wsp_model_load(tu_model(preset), &m, &err), 0);
    assert_int_equal(wsp_engine_new(NREQ, 1, &e, &err), 0);
    assert_true(wsp_engine_batching(e)); /* the default */
    size_t ns = 0;
    float *pcm = tu_read_wav_pcm16(tu_shared("whisper-ref/data/jfk.wav"), &ns);
    assert_non_null(pcm);
    req q[NREQ];
    for (int i = 0; i < NREQ; i++) {
        q[i] = (req){.m = m, .e = e, .pcm = pcm, .n = ns};
        q[i].p = wsp_default_params(i == 1 ? WSP_SAMPLING_BEAM_SEARCH : WSP_SAMPLING_GREEDY);
        q[i].p.language = "en";
        q[i].p.n_threads = 1;
        q[i].p.temperature_inc = 0.0f;
    }
    q[1].p.beam_size = san ? 2 : 5;
    q[2].p.temperature = 0.6f; /* best-of 5 sampling, fallback to 0.8, 1.0 */
    q[2].p.temperature_inc = san ? 0.0f : 0.2f;
    q[2].p.best_of = san ? 2 : 5;
    q[2].p.seed = 7;
    q[3].p.offset_ms = 2000;
    q[3].p.initial_prompt = "The president speaks to the nation.";

    wsp_result *want[NREQ];
    wsp__batch_stats s0, s1;
    run_alone_then_together(e, q, NREQ, want, &s0, &s1);
    print_message("4 concurrent: %ld batched passes, %ld held >= 2 transcriptions, %ld steps, "
                  "%ld rows (%.2f rows a pass)\n", s1.passes - s0.passes,
                  s1.merged_passes - s0.merged_passes, s1.steps - s0.steps, s1.rows - s0.rows,
                  (double)(s1.rows - s0.rows) / (double)(s1.passes - s0.passes));
    for (int i = 0; i < NREQ; i++) {
        assert_int_equal(q[i].rc, 0);
        print_message("request %d: %d segments, %d decoder passes: identical\n", i,
                      q[i].r->n_segments, q[i].r->timings.n_decode_steps);
        assert_same_result(q[i].r, want[i]);
        wsp_result_free(q[i].r);
        wsp_result_free(want[i]);
    }
    assert_true(s1.merged_passes > s0.merged_passes); /* steps really were shared */
    free(pcm);
    wsp_engine_free(e);
    wsp_model_free(m);
}

/* Two models on one engine at once: steps are merged only with the same model's (and a
 * member of the other model is not waited for); results unchanged. */
static void test_continuous_batching_two_models(void **state)
{
    (void)state;
    SKIP_UNDER_TSAN();
    TU_REQUIRE_FILE(tu_model("tiny-dims"));
    TU_REQUIRE_FILE(tu_model("micro"));
    TU_REQUIRE_FILE(tu_shared("whisper-ref/data/jfk.wav"));
    wsp_model *m[2] = {NULL, NULL};
    wsp_engine *e = NULL;
    wsp_error err;
    assert_int_equal(wsp_model_load(tu_model("tiny-dims"), &m[0], &err), 0);
    assert_int_equal(wsp_model_load(tu_model("micro"), &m[1], &err), 0);
    assert_int_equal(wsp_engine_new(3, 1, &e, &err), 0);
    size_t ns = 0;
    float *pcm = tu_read_wav_pcm16(tu_shared("whisper-ref/data/jfk.wav"), &ns);
    assert_non_null(pcm);
    enum { N = 3 };
    req q[N];
    wsp_result *want[N];
    for (int i = 0; i < N; i++) {
        q[i] = (req){.m = m[i == 2], .e = e, .pcm = pcm, .n = ns};
        q[i].p = wsp_default_params(WSP_SAMPLING_BEAM_SEARCH);
        q[i].p.language = "en";
        q[i].p.n_threads = 1;
        q[i].p.temperature_inc = 0.0f;
        q[i].p.beam_size = 2 + i;
    }
    wsp__batch_stats s0, s1;
    run_alone_then_together(e, q, N, want, &s0, &s1);
    print_message("tiny-dims x2 + micro: %ld passes, %ld merged\n", s1.passes - s0.passes,
                  s1.merged_passes - s0.merged_passes);
    for (int i = 0; i < N; i++) {
        assert_int_equal(q[i].rc, 0);
        assert_same_result(q[i].r, want[i]);
        wsp_result_free(q[i].r);
        wsp_result_free(want[i]);
    }
    free(pcm);
    wsp_engine_free(e);
    wsp_model_free(m[0]);
    wsp_model_free(m[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_f16),
        cmocka_unit_test(test_batch_f32),
        cmocka_unit_test(test_batch_q8_0),
        cmocka_unit_test(test_batch_q4_1),
        cmocka_unit_test(test_beam_batched_equals_unbatched),
        cmocka_unit_test(test_bestof_batched_equals_unbatched),
        cmocka_unit_test(test_continuous_batching_changes_nothing),
        cmocka_unit_test(test_continuous_batching_two_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
