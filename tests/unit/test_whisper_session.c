/*
 * test_whisper_session.c — the streaming session (wsp_session_*) against the whole-buffer
 * call, and its log-mel clamp against whisper.cpp's whole-recording clamp.
 *
 *  - mel, every clip: for every reference clip (whisper-ref data/) and every decodable
 *    audio fixture, with the 80- and 128-band filterbanks: the session's melstream fed
 *    in odd chunks hands out exactly wsp__mel_compute's whole-buffer slices with the
 *    GLOBAL clamp (and with RUNNING where it cannot differ); and, for EVERY seek a
 *    decoder could reach, whether the RUNNING clamp (max over frames [0, seek + 3000))
 *    would change the window — the table docs/whisper.md quotes.
 *  - mel, a louder later part: quiet speech, then loud speech after the first window,
 *    is detected as differing from seek 0, and GLOBAL still gives whisper.cpp's slices.
 *  - both paths end to end: wsp_transcribe (whole buffer, whisper.cpp's clamp) vs a
 *    session fed in chunks after its wsp_mel_peak pass: identical tokens, text bytes,
 *    t0/t1 on the reference clips and fixtures, f16 and quantized, greedy and beam (and
 *    whether the RUNNING clamp would differ, printed).
 *  - chunking: a session fed 1, 511, 16000, random-sized chunks or the whole buffer gives
 *    exactly wsp_transcribe's result, segment callbacks and progress (greedy, beam, token
 *    timestamps, DTW, offset/duration).
 *  - abort mid-session, feed after end, end twice, no audio, GLOBAL refused by a session.
 *  - heap: the bytes a session holds (malloc'd heap minus the result's segments, and its
 *    own bytes_held) after N minutes equal those after 6N minutes (N = 3 here; the 10 vs
 *    60 min figure: MDC_SESSION_HEAP_MINUTES=10 this test).
 */
#include "testutil.h"

#include "mdc/audio.h"
#include "whisper/engine.h"
#include "whisper/melstream.h"

#include <dirent.h>
#include <malloc.h>
#include <math.h>

/* make test runs a cut of each matrix; MDC_SESSION_FULL=1 (tests/perf/session_equivalence.sh)
 * runs all of it: every fixture with both filterbanks, quantized and larger models, more
 * chunkings.  Under the sanitizers: the smallest cut. */
static bool full(void) { return getenv("MDC_SESSION_FULL") != NULL; }
static bool quick(void) { return getenv("MDC_SANITIZE") != NULL; }

static wsp_params base_params(wsp_sampling s)
{
    wsp_params p = wsp_default_params(s);
    p.n_threads = 2;
    p.language = "en";
    p.temperature_inc = 0.0f;
    return p;
}

/* ---- audio ------------------------------------------------------------------ */

static float *load_audio(const char *path, size_t *n)
{
    aud_init();
    aud_limits lim = {.max_seconds = 3600};
    aud_pcm pcm = {0};
    if (aud_decode_file(path, &lim, NULL, NULL, &pcm, NULL) != 0)
        return NULL;
    aud_energy_free(&pcm.energy); /* none without keep_stereo; the samples are kept */
    *n = pcm.n_samples;
    return pcm.samples;
}

/* ---- comparing results ------------------------------------------------------ */

static void same_result(const wsp_result *a, const wsp_result *b, const char *what)
{
    if (a->n_segments != b->n_segments)
        fail_msg("%s: %d vs %d segments", what, a->n_segments, b->n_segments);
    assert_string_equal(a->language, b->language);
    assert_true(a->language_prob == b->language_prob);
    assert_true(a->duration_s == b->duration_s);
    assert_int_equal(a->timings.n_windows, b->timings.n_windows);
    for (int i = 0; i < a->n_segments; i++) {
        const wsp_segment *x = &a->segments[i], *y = &b->segments[i];
        if (x->t0 != y->t0 || x->t1 != y->t1 || strcmp(x->text, y->text) != 0 ||
            x->n_tokens != y->n_tokens || x->seek != y->seek)
            fail_msg("%s: segment %d differs: [%lld, %lld] seek %d \"%s\" vs [%lld, %lld] "
                     "seek %d \"%s\"",
                     what, i, (long long)x->t0, (long long)x->t1, x->seek, x->text,
                     (long long)y->t0, (long long)y->t1, y->seek, y->text);
        assert_true(x->temperature == y->temperature && x->avg_logprob == y->avg_logprob &&
                    x->compression_ratio == y->compression_ratio &&
                    x->no_speech_prob == y->no_speech_prob);
        for (int k = 0; k < x->n_tokens; k++) {
            const wsp_token *s = &x->tokens[k], *t = &y->tokens[k];
            if (s->id != t->id || s->tid != t->tid || s->p != t->p || s->plog != t->plog ||
                s->pt != t->pt || s->ptsum != t->ptsum || s->t0 != t->t0 || s->t1 != t->t1 ||
                s->t_dtw != t->t_dtw || s->vlen != t->vlen)
                fail_msg("%s: segment %d token %d differs (id %d vs %d, t0 %lld vs %lld, "
                         "t_dtw %lld vs %lld)",
                         what, i, k, s->id, t->id, (long long)s->t0, (long long)t->t0,
                         (long long)s->t_dtw, (long long)t->t_dtw);
        }
    }
}

/* Callbacks recorded: segment indices and progress percentages, in order. */
typedef struct trace {
    int seg[4096], n_seg;
    int pct[512], n_pct;
} trace;

static void on_segment(const wsp_segment *s, int idx, void *u)
{
    (void)s;
    trace *t = u;
    if (t->n_seg < 4096)
        t->seg[t->n_seg++] = idx;
}

static void on_progress(int pct, void *u)
{
    trace *t = u;
    if (t->n_pct < 512)
        t->pct[t->n_pct++] = pct;
}

static void same_trace(const trace *a, const trace *b, const char *what)
{
    if (a->n_seg != b->n_seg || memcmp(a->seg, b->seg, sizeof(int) * (size_t)a->n_seg))
        fail_msg("%s: segment callbacks differ (%d vs %d)", what, a->n_seg, b->n_seg);
    if (a->n_pct != b->n_pct || memcmp(a->pct, b->pct, sizeof(int) * (size_t)a->n_pct))
        fail_msg("%s: progress callbacks differ (%d vs %d calls)", what, a->n_pct, b->n_pct);
}

static uint32_t g_rng = 12345;
static size_t rnd(size_t lo, size_t hi)
{
    g_rng = g_rng * 1664525u + 1013904223u;
    return lo + (size_t)(g_rng >> 8) % (hi - lo + 1);
}

/* The GLOBAL clamp's first pass, over pcm in chunks of `chunk` (0: random). */
static float peak_pass(const wsp_model *m, const float *pcm, size_t n, size_t chunk)
{
    wsp_mel_peak *pk = NULL;
    wsp_error err;
    assert_int_equal(wsp_mel_peak_new(m, &pk, &err), 0);
    for (size_t off = 0; off < n;) {
        size_t c = chunk ? chunk : rnd(1, 40000);
        c = c > n - off ? n - off : c;
        assert_int_equal(wsp_mel_peak_feed(pk, pcm + off, c, &err), 0);
        off += c;
    }
    float max = 0.0f;
    assert_int_equal(wsp_mel_peak_end(pk, &max, &err), 0);
    assert_int_equal(wsp_mel_peak_end(pk, &max, &err), WSP_EINVAL);
    assert_int_equal(wsp_mel_peak_feed(pk, pcm, 1, &err), WSP_EINVAL);
    wsp_mel_peak_free(pk);
    float whole = 0.0f;
    assert_int_equal(wsp__mel_max(m, pcm, n, NULL, &whole), 0);
    assert_true(max == whole);
    return max;
}

/* Runs a session over pcm in chunks of `chunk` samples (0: random 1 … 40 000); a GLOBAL
 * one after its peak pass. */
static wsp_result *run_session(wsp_state *st, const wsp_params *p, const float *pcm, size_t n,
                               size_t chunk, bool hint)
{
    wsp_session *s = NULL;
    wsp_error err;
    if (wsp_session_begin(st, p, &s, &err))
        fail_msg("wsp_session_begin: %s", err.message);
    if (p->mel_clamp == WSP_MEL_CLAMP_GLOBAL)
        assert_int_equal(wsp_session_set_mel_max(s, peak_pass(wsp__state_model(st), pcm, n, chunk),
                                                 &err),
                         0);
    if (hint)
        wsp_session_set_expected_samples(s, n);
    for (size_t off = 0; off < n;) {
        size_t c = chunk ? chunk : rnd(1, 40000);
        if (c > n - off)
            c = n - off;
        if (wsp_session_feed(s, pcm + off, c, &err))
            fail_msg("wsp_session_feed at %zu: %s", off, err.message);
        off += c;
    }
    wsp_result *r = NULL;
    if (wsp_session_end(s, &r, &err))
        fail_msg("wsp_session_end: %s", err.message);
    wsp_session_stats stats;
    wsp_session_get_stats(s, &stats);
    assert_int_equal(stats.samples_fed, n);
    wsp_session_free(s);
    return r;
}

static wsp_result *run_whole(wsp_state *st, const wsp_params *p, const float *pcm, size_t n)
{
    wsp_result *r = NULL;
    wsp_error err;
    if (wsp_transcribe(st, pcm, n, p, &r, &err))
        fail_msg("wsp_transcribe: %s", err.message);
    return r;
}

/* ---- the clamp over every seek ----------------------------------------------- */

typedef struct clamp_report {
    int n_seeks, n_differ; /* seeks checked, seeks whose window would differ */
    int first_differ;      /* first such seek (frames), -1 none */
} clamp_report;

/* For every seek in [0, n_len_org − 10): the window [seek, seek + 3000) clamped at the
 * running max (frames [0, seek + 3000)) equals the whole-mel window clamped at the global
 * max iff the two maxima are equal or no raw value of the window lies below global − 8. */
static clamp_report clamp_check(const wsp_model *m, const float *pcm, size_t n)
{
    const int M = wsp_model_hparams(m)->n_mels, W = WSP_N_FRAMES_CHUNK;
    const int nf = (int)((n + WSP_N_SAMPLES_CHUNK) / WSP_HOP_LENGTH);
    const int n_len = (int)(1 + ((long)n + 200 - 400) / 160);
    float *raw = malloc(sizeof(float) * (size_t)M * (size_t)nf);
    float *fmax = malloc(sizeof(float) * (size_t)nf), *fmin = malloc(sizeof(float) * (size_t)nf);
    float *pre = malloc(sizeof(float) * ((size_t)nf + 1));
    assert_non_null(raw);
    assert_non_null(fmax);
    assert_non_null(fmin);
    assert_non_null(pre);
    float g;
    assert_int_equal(wsp__mel_frames(m, pcm, 0, n, n, 0, nf, NULL, raw, (size_t)nf, fmax, &g), 0);
    for (int t = 0; t < nf; t++) {
        fmin[t] = INFINITY;
        for (int b = 0; b < M; b++)
            fmin[t] = fminf(fmin[t], raw[(size_t)b * (size_t)nf + (size_t)t]);
    }
    pre[0] = -INFINITY;
    for (int t = 0; t < nf; t++)
        pre[t + 1] = fmaxf(pre[t], fmax[t]);
    clamp_report rep = {0, 0, -1};
    const float floor_g = g - 8.0f;
    /* sliding minimum over [seek, seek + W): monotone deque */
    int *dq = malloc(sizeof(int) * (size_t)nf), h = 0, tl = 0, next = 0;
    assert_non_null(dq);
    for (int seek = 0; seek + 10 < n_len; seek++) {
        const int end = seek + W < nf ? seek + W : nf;
        for (; next < end; next++) {
            while (tl > h && fmin[dq[tl - 1]] >= fmin[next])
                tl--;
            dq[tl++] = next;
        }
        while (dq[h] < seek)
            h++;
        rep.n_seeks++;
        const bool same = pre[end] == g || fmin[dq[h]] >= floor_g;
        if (!same) {
            rep.n_differ++;
            if (rep.first_differ < 0)
                rep.first_differ = seek;
        }
    }
    free(dq);
    free(raw);
    free(fmax);
    free(fmin);
    free(pre);
    return rep;
}

/* The melstream fed in odd chunks hands out, at a walk of seeks, exactly the slices of
 * wsp__mel_compute's whole-buffer mel (clamp: fixed_max = the global max, or running). */
static void melstream_slices(const wsp_model *m, const float *pcm, size_t n, bool global)
{
    float *mel = NULL, g = 0.0f;
    int nf = 0, n_len = 0;
    assert_int_equal(wsp__mel_compute(m, pcm, n, NULL, &mel, &nf, &n_len), 0);
    assert_int_equal(wsp__mel_max(m, pcm, n, NULL, &g), 0);
    wsp__melstream *ms = NULL;
    assert_int_equal(wsp__ms_new(m, 0, 0, &ms), 0);
    const int M = ms->n_mels, W = ms->width;
    float *win = malloc(sizeof(float) * (size_t)M * (size_t)W);
    assert_non_null(win);
    size_t off = 0;
    int seek = 0, n_windows = 0;
    while (seek + 10 < n_len) {
        /* push until the window's frames are there (as the session, which also waits
         * for the look-ahead) */
        while (!wsp__ms_has_frames(ms, (int64_t)seek + W) && off < n) {
            int rc = 0;
            size_t c = rnd(1, 20000);
            c = c > n - off ? n - off : c;
            const size_t took = wsp__ms_push(ms, pcm + off, c, NULL, &rc);
            assert_int_equal(rc, 0);
            off += took;
            if (took == 0)
                break;
        }
        if (!wsp__ms_has_frames(ms, (int64_t)seek + W)) {
            assert_true(off == n);
            wsp__ms_end(ms);
        }
        assert_int_equal(wsp__ms_window(ms, seek, global ? &g : NULL, NULL, win), 0);
        for (int b = 0; b < M; b++)
            if (memcmp(win + (size_t)b * (size_t)W, mel + (size_t)b * (size_t)nf + (size_t)seek,
                       sizeof(float) * (size_t)W) != 0)
                fail_msg("melstream window at seek %d, band %d differs from the whole mel",
                         seek, b);
        n_windows++;
        seek += (int)rnd(1, 3000);
        wsp__ms_release(ms, seek); /* as the session after each window */
    }
    assert_true(n_windows > 0);
    /* one window's frames and samples (3.9 MB at 80 bands, 5.5 at 128), whatever the
     * clip's length (test_heap_flat measures that) */
    assert_true(ms->bytes < (size_t)6 << 20);
    free(win);
    free(mel);
    wsp__ms_free(ms);
}

static const char *const k_ref_clips[] = {"jfk.wav", "jfk_x5_60s.wav", "stereo_diarization.wav",
                                          "multilingual.mp3"};

/* The GLOBAL windows are whisper.cpp's everywhere; the RUNNING clamp's differences are
 * counted and listed (docs/whisper.md "The log-mel clamp" quotes this table). */
static void check_clip(const wsp_model *m, const char *name, const float *pcm, size_t n,
                       int *n_clips)
{
    clamp_report r = clamp_check(m, pcm, n);
    print_message("  %-44s %7.1f s  %6d seeks: running clamp changes %d (first %d)\n", name,
                  n / 16000.0, r.n_seeks, r.n_differ, r.first_differ);
    melstream_slices(m, pcm, n, true);
    if (r.n_differ == 0)
        melstream_slices(m, pcm, n, false);
    (*n_clips)++;
}

static void test_mel_clamp_every_clip(void **state)
{
    (void)state;
    TU_REQUIRE_FILE(tu_model("micro"));
    const char *models[] = {tu_model("micro"), tu_model("v3tiny")};
    /* make test: the reference clips and three fixtures (one where the running clamp
     * differs); MDC_SESSION_FULL: every fixture, 80 and 128 bands */
    const char *some[] = {"meeting_ptbr_16k_mono_s16.wav", "meeting_en_16k_mono_s16.wav",
                          "edge_35s_word_across_30s.wav"};
    int n_clips = 0;
    for (int mi = 0; mi < (full() ? 2 : 1); mi++) {
        if (!tu_exists(models[mi]))
            continue;
        wsp_model *m = NULL;
        wsp_error err;
        assert_int_equal(wsp_model_load(models[mi], &m, &err), 0);
        print_message("%d mel bands:\n", wsp_model_hparams(m)->n_mels);
        for (size_t i = 0; i < sizeof k_ref_clips / sizeof k_ref_clips[0]; i++) {
            char rel[256];
            snprintf(rel, sizeof rel, "whisper-ref/data/%s", k_ref_clips[i]);
            size_t n = 0;
            float *pcm = load_audio(tu_shared(rel), &n);
            if (!pcm)
                fail_msg("cannot decode %s", rel);
            check_clip(m, k_ref_clips[i], pcm, n, &n_clips);
            free(pcm);
            if (quick())
                break;
        }
        DIR *d = opendir(tu_shared("fixtures/audio"));
        if (d) {
            struct dirent *e;
            while ((e = readdir(d))) {
                const char *x = strrchr(e->d_name, '.');
                if (e->d_name[0] == '.' || !x || !strcmp(x, ".md") || !strcmp(x, ".txt") ||
                    !strcmp(x, ".multipart"))
                    continue;
                bool pick = full();
                for (size_t k = 0; !pick && !quick() && k < sizeof some / sizeof some[0]; k++)
                    pick = strcmp(e->d_name, some[k]) == 0;
                if (!pick)
                    continue;
                char rel[512];
                snprintf(rel, sizeof rel, "fixtures/audio/%s", e->d_name);
                size_t n = 0;
                float *pcm = load_audio(tu_shared(rel), &n);
                if (!pcm || n == 0) { /* the bad_* files that do not decode */
                    free(pcm);
                    continue;
                }
                check_clip(m, e->d_name, pcm, n, &n_clips);
                free(pcm);
            }
            closedir(d);
        }
        wsp_model_free(m);
    }
    assert_true(n_clips >= (quick() ? 1 : 4));
}

/* Quiet speech (gain 0.01), silence, then the same speech at full level after the first
 * window: the running clamp of window 0 is 4 (log10) lower than whisper.cpp's.  Returns
 * the clip (46 s). */
static float *quiet_then_loud(size_t *n_out)
{
    size_t n = 0;
    float *jfk = load_audio(tu_shared("whisper-ref/data/jfk.wav"), &n);
    assert_non_null(jfk);
    const size_t total = 46 * 16000;
    float *x = calloc(total, sizeof(float));
    assert_non_null(x);
    for (size_t i = 0; i < n && i < total; i++)
        x[i] = 0.01f * jfk[i];
    for (size_t i = 0; i < n && 35 * 16000 + i < total; i++)
        x[35 * 16000 + i] = jfk[i];
    free(jfk);
    *n_out = total;
    return x;
}

static void test_mel_clamp_louder_later(void **state)
{
    (void)state;
    TU_REQUIRE_FILE(tu_model("micro"));
    wsp_model *m = NULL;
    wsp_error err;
    assert_int_equal(wsp_model_load(tu_model("micro"), &m, &err), 0);
    size_t n;
    float *x = quiet_then_loud(&n);
    clamp_report r = clamp_check(m, x, n);
    print_message("quiet-then-loud: %d of %d seeks differ (first %d)\n", r.n_differ, r.n_seeks,
                  r.first_differ);
    assert_int_equal(r.first_differ, 0); /* window 0 does not see the loud part */
    melstream_slices(m, x, n, true);     /* GLOBAL: whisper.cpp's slices even here */
    /* end to end: report whether the tokens change (they may: the encoder input does) */
    wsp_state *st = NULL;
    assert_int_equal(wsp_state_new(m, &st, &err), 0);
    wsp_params p = base_params(WSP_SAMPLING_GREEDY);
    wsp_result *a = run_whole(st, &p, x, n);
    p.mel_clamp = WSP_MEL_CLAMP_RUNNING;
    wsp_result *b = run_whole(st, &p, x, n);
    int differ = a->n_segments != b->n_segments;
    for (int i = 0; !differ && i < a->n_segments; i++)
        differ = strcmp(a->segments[i].text, b->segments[i].text) != 0 ||
                 a->segments[i].n_tokens != b->segments[i].n_tokens;
    print_message("quiet-then-loud, micro greedy: transcripts %s\n",
                  differ ? "DIFFER (running vs global clamp)" : "identical");
    wsp_result_free(a);
    wsp_result_free(b);
    wsp_state_free(st);
    wsp_model_free(m);
    free(x);
}

/* ---- a GLOBAL session vs the whole-buffer call ------------------------------------ */

/* wsp_transcribe (whole buffer, whisper.cpp's clamp) vs a session fed in 16 000- and
 * random-sized chunks after its peak pass: identical.  Also prints whether the RUNNING
 * clamp would have changed the transcript. */
static void both_paths(const char *model, const char *clip_rel, wsp_sampling strat,
                       bool running_too)
{
    if (!tu_exists(model)) {
        print_message("  (%s absent)\n", model);
        return;
    }
    wsp_model *m = NULL;
    wsp_state *st = NULL;
    wsp_error err;
    assert_int_equal(wsp_model_load(model, &m, &err), 0);
    assert_int_equal(wsp_state_new(m, &st, &err), 0);
    size_t n = 0;
    float *pcm = load_audio(tu_shared(clip_rel), &n);
    assert_non_null(pcm);
    wsp_params p = base_params(strat);
    wsp_result *a = run_whole(st, &p, pcm, n);
    char what[512];
    snprintf(what, sizeof what, "%s %s %s", strrchr(model, '/') + 1, strrchr(clip_rel, '/') + 1,
             strat == WSP_SAMPLING_GREEDY ? "greedy" : "beam");
    wsp_result *b = run_session(st, &p, pcm, n, 0, false);
    same_result(a, b, what);
    wsp_result_free(b);
    const char *running = "not run";
    if (running_too) {
        p.mel_clamp = WSP_MEL_CLAMP_RUNNING;
        b = run_whole(st, &p, pcm, n);
        int differ = a->n_segments != b->n_segments;
        for (int i = 0; !differ && i < a->n_segments; i++)
            differ = strcmp(a->segments[i].text, b->segments[i].text) != 0 ||
                     a->segments[i].t0 != b->segments[i].t0 ||
                     a->segments[i].t1 != b->segments[i].t1;
        running = differ ? "DIFFERS" : "same";
        wsp_result_free(b);
    }
    print_message("  %-62s %3d segments identical (running clamp: %s)\n", what, a->n_segments,
                  running);
    wsp_result_free(a);
    free(pcm);
    wsp_state_free(st);
    wsp_model_free(m);
}

static void test_session_vs_whole(void **state)
{
    (void)state;
    TU_REQUIRE_FILE(tu_model("micro"));
    const char *clips[] = {"whisper-ref/data/jfk.wav", "whisper-ref/data/jfk_x5_60s.wav",
                           "whisper-ref/data/multilingual.mp3",
                           "fixtures/audio/meeting_ptbr_opus_24k.opus"};
    const wsp_sampling G = WSP_SAMPLING_GREEDY, B = WSP_SAMPLING_BEAM_SEARCH;
    if (quick()) {
        both_paths(tu_model("micro"), clips[0], G, true);
        return;
    }
    if (!full()) { /* make test */
        both_paths(tu_model("micro"), clips[1], G, true);
        both_paths(tu_model("micro"), clips[2], B, true);
        both_paths(tu_model("micro-q5_0"), clips[1], B, false);
        both_paths(tu_model("tiny-dims-q8_0"), clips[0], G, false);
        return;
    }
    for (size_t ci = 0; ci < 4; ci++) {
        both_paths(tu_model("micro"), clips[ci], G, true);
        both_paths(tu_model("micro"), clips[ci], B, true);
    }
    for (size_t ci = 1; ci < 3; ci++) {
        both_paths(tu_model("micro-q5_0"), clips[ci], G, false);
        both_paths(tu_model("micro-q5_0"), clips[ci], B, false);
        both_paths(tu_model("micro-q8_0"), clips[ci], B, false);
    }
    both_paths(tu_model("micro-q4_1"), clips[3], G, false);
    both_paths(tu_model("tiny-dims"), clips[0], G, false);
    both_paths(tu_model("tiny-dims"), clips[0], B, false);
    both_paths(tu_model("tiny-dims-q5_1"), clips[0], G, false);
    both_paths(tu_model("v3tiny"), clips[0], G, false);
    both_paths(tu_model("micro"), "fixtures/audio/edge_35s_word_across_30s.wav", G, false);
}

/* ---- chunking ------------------------------------------------------------------- */

static void chunks_case(wsp_state *st, wsp_params p, const float *pcm, size_t n,
                        const size_t *chunks, int n_chunks, const char *name)
{
    trace t0 = {0};
    p.segment_cb = on_segment;
    p.segment_user_data = &t0;
    p.progress_cb = on_progress;
    p.progress_user_data = &t0;
    wsp_result *ref = run_whole(st, &p, pcm, n);
    assert_true(t0.n_pct > 0);
    for (int i = 0; i < n_chunks; i++) {
        trace t1 = {0};
        p.segment_user_data = &t1;
        p.progress_user_data = &t1;
        wsp_result *r = run_session(st, &p, pcm, n, chunks[i], true);
        char what[160];
        snprintf(what, sizeof what, "%s, chunks of %zu", name, chunks[i]);
        same_result(ref, r, what);
        same_trace(&t0, &t1, what);
        wsp_result_free(r);
    }
    print_message("  %-40s %d segments, %d windows: identical for %d chunkings\n", name,
                  ref->n_segments, ref->timings.n_windows, n_chunks);
    wsp_result_free(ref);
}

/* The micro model, a state on it and jfk_x5_60s.wav's samples (*n of them, owned by the
 * caller): the set-up of the chunking, lifecycle and heap tests. */
static float *open_micro_x5(wsp_model **m, wsp_state **st, size_t *n)
{
    wsp_error err;
    assert_int_equal(wsp_model_load(tu_model("micro"), m, &err), 0);
    assert_int_equal(wsp_state_new(*m, st, &err), 0);
    float *pcm = load_audio(tu_shared("whisper-ref/data/jfk_x5_60s.wav"), n);
    assert_non_null(pcm);
    return pcm;
}

static void test_chunking(void **state)
{
    (void)state;
    TU_REQUIRE_FILE(tu_model("micro"));
    wsp_model *m = NULL;
    wsp_state *st = NULL;
    wsp_error err;
    size_t n = 0;
    float *pcm = open_micro_x5(&m, &st, &n);
    const size_t all[] = {16000, 511, 0, 0, 1}; /* 0: random sizes */
    const int k = quick() ? 1 : full() ? 5 : 2;      /* chunkings per case */
    wsp_params p = base_params(WSP_SAMPLING_GREEDY);
    const size_t greedy[] = {16000, 511, 0, 1};
    chunks_case(st, p, pcm, n, full() ? all : greedy, quick() ? 2 : full() ? 5 : 4, "micro greedy");
    p = base_params(WSP_SAMPLING_BEAM_SEARCH);
    chunks_case(st, p, pcm, n, all + 1, k, "micro beam");
    p = base_params(WSP_SAMPLING_GREEDY);
    p.distil_no_timestamps_heuristic = false; /* timestamps on for the token times */
    p.token_timestamps = true;
    chunks_case(st, p, pcm, n, all, k, "micro token timestamps");
    p = base_params(WSP_SAMPLING_GREEDY);
    p.offset_ms = 4500;
    p.duration_ms = 41000;
    chunks_case(st, p, pcm, n, all + 1, k, "micro offset 4.5 s, duration 41 s");
    p = base_params(WSP_SAMPLING_GREEDY);
    p.mel_clamp = WSP_MEL_CLAMP_RUNNING;
    chunks_case(st, p, pcm, n, all + 2, k, "micro running clamp");
    p = base_params(WSP_SAMPLING_GREEDY);
    p.language = "auto";
    chunks_case(st, p, pcm, 16000 * 11, all, k, "micro auto language, 11 s");
    /* a short clip (one window, ends inside it) and a clip shorter than a frame */
    chunks_case(st, base_params(WSP_SAMPLING_GREEDY), pcm, 16000 * 7 + 123, all, k, "micro 7 s");
    const size_t tiny_chunks[] = {1, 7};
    chunks_case(st, base_params(WSP_SAMPLING_GREEDY), pcm, 150, tiny_chunks, 2, "150 samples");
    wsp_state_free(st);
    wsp_model_free(m);
    /* DTW token times (the tiny preset's heads) on tiny-dims */
    if (full() && tu_exists(tu_model("tiny-dims"))) {
        assert_int_equal(wsp_model_load(tu_model("tiny-dims"), &m, &err), 0);
        assert_int_equal(wsp_state_new(m, &st, &err), 0);
        p = base_params(WSP_SAMPLING_GREEDY);
        p.dtw_aheads_preset = WSP_AHEADS_TINY;
        const size_t dtw_chunks[] = {16000, 0};
        chunks_case(st, p, pcm, 16000 * 11, dtw_chunks, 2, "tiny-dims DTW, 11 s");
        wsp_state_free(st);
        wsp_model_free(m);
    }
    free(pcm);
}

/* ---- errors and lifecycle ---------------------------------------------------------- */

static bool abort_after_first_segment(void *u) { return *(int *)u > 0; }
static void count_segment(const wsp_segment *s, int idx, void *u)
{
    (void)s;
    (void)idx;
    (*(int *)u)++;
}

static void test_lifecycle(void **state)
{
    (void)state;
    TU_REQUIRE_FILE(tu_model("micro"));
    wsp_model *m = NULL;
    wsp_state *st = NULL;
    wsp_error err;
    size_t n = 0;
    float *pcm = open_micro_x5(&m, &st, &n);
    wsp_params p = base_params(WSP_SAMPLING_GREEDY);
    wsp_session *s = NULL;
    wsp_result *r = NULL;

    /* abort mid-session: after the first window's segments */
    int n_segs = 0;
    p.segment_cb = count_segment;
    p.segment_user_data = &n_segs;
    p.abort_cb = abort_after_first_segment;
    p.abort_user_data = &n_segs;
    assert_int_equal(wsp_session_begin(st, &p, &s, &err), 0);
    int rc = 0;
    size_t off = 0;
    assert_int_equal(wsp_session_set_mel_max(s, 1.0f, &err), 0);
    for (; off < 3 * n && rc == 0; off += 16000) /* 3 min: windows run during the feeds */
        rc = wsp_session_feed(s, pcm + off % n, 16000, &err);
    assert_int_equal(rc, WSP_ECANCELED);
    assert_true(off < 3 * n); /* cancelled before the audio was all fed */
    assert_non_null(strstr(err.message, "cancel"));
    const int segs_at_abort = n_segs;
    assert_int_equal(wsp_session_feed(s, pcm, 16000, &err), WSP_EINVAL);
    assert_non_null(strstr(err.message, "failed"));
    assert_int_equal(wsp_session_end(s, &r, &err), WSP_EINVAL);
    assert_null(r);
    assert_int_equal(n_segs, segs_at_abort); /* no callback after the failure */
    wsp_session_free(s);

    /* the state is reusable after an abandoned session, and gives the same result */
    p = base_params(WSP_SAMPLING_GREEDY);
    wsp_result *ref = run_whole(st, &p, pcm, n);
    assert_int_equal(wsp_session_begin(st, &p, &s, &err), 0);
    assert_int_equal(wsp_session_set_mel_max(s, 1.0f, &err), 0);
    assert_int_equal(wsp_session_feed(s, pcm, n / 2, &err), 0);
    wsp_session_free(s); /* abandoned mid-stream */
    r = run_session(st, &p, pcm, n, 100000, false);
    same_result(ref, r, "after an abandoned session");
    wsp_result_free(r);
    wsp_result_free(ref);

    /* GLOBAL without its maximum: refused, not silently RUNNING */
    assert_int_equal(wsp_session_begin(st, &p, &s, &err), 0);
    assert_int_equal(wsp_session_feed(s, pcm, 16000, &err), WSP_EINVAL);
    assert_non_null(strstr(err.message, "wsp_session_set_mel_max"));
    wsp_session_free(s);
    assert_int_equal(wsp_session_begin(st, &p, &s, &err), 0);
    assert_int_equal(wsp_session_set_mel_max(s, NAN, &err), WSP_EINVAL);
    assert_int_equal(wsp_session_set_mel_max(s, 0.5f, &err), 0);
    assert_int_equal(wsp_session_feed(s, pcm, 16000, &err), 0);
    assert_int_equal(wsp_session_set_mel_max(s, 0.5f, &err), WSP_EINVAL); /* after a feed */
    wsp_session_free(s);
    p.mel_clamp = WSP_MEL_CLAMP_RUNNING;
    assert_int_equal(wsp_session_begin(st, &p, &s, &err), 0);
    assert_int_equal(wsp_session_set_mel_max(s, 0.5f, &err), WSP_EINVAL);
    wsp_session_free(s);

    /* feed after end, end twice, no audio, bad arguments */
    assert_int_equal(wsp_session_begin(st, &p, &s, &err), 0);
    assert_int_equal(wsp_session_feed(s, pcm, 0, &err), 0);
    assert_int_equal(wsp_session_feed(s, NULL, 0, &err), 0);
    assert_int_equal(wsp_session_feed(s, NULL, 5, &err), WSP_EINVAL);
    assert_int_equal(wsp_session_feed(s, pcm, 16000, &err), 0);
    assert_int_equal(wsp_session_end(s, &r, &err), 0);
    assert_non_null(r);
    wsp_result_free(r);
    r = NULL;
    assert_int_equal(wsp_session_feed(s, pcm, 16000, &err), WSP_EINVAL);
    assert_non_null(strstr(err.message, "already ended"));
    assert_int_equal(wsp_session_end(s, &r, &err), WSP_EINVAL);
    assert_null(r);
    wsp_session_free(s);
    assert_int_equal(wsp_session_begin(st, &p, &s, &err), 0);
    assert_int_equal(wsp_session_end(s, &r, &err), WSP_ENOAUDIO);
    assert_null(r);
    wsp_session_free(s);
    wsp_session_free(NULL);
    assert_int_equal(wsp_session_feed(NULL, pcm, 1, &err), WSP_EINVAL);
    assert_int_equal(wsp_session_begin(NULL, &p, &s, &err), WSP_EINVAL);
    assert_null(s);
    p.mel_clamp = (wsp_mel_clamp)7;
    assert_int_equal(wsp_session_begin(st, &p, &s, &err), WSP_EINVAL);
    assert_null(s);
    p = base_params(WSP_SAMPLING_GREEDY);
    p.language = "xx";
    assert_int_equal(wsp_session_begin(st, &p, &s, &err), WSP_ELANG);
    assert_null(s);
    free(pcm);
    wsp_state_free(st);
    wsp_model_free(m);
}

/* ---- heap ---------------------------------------------------------------------------- */

/* Heap bytes in use (every arena, mmapped chunks included). */
static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

typedef struct seg_bytes {
    const wsp_segment *base; /* segments array (segment 0) */
    size_t texts_tokens;     /* usable bytes of every segment's text and tokens */
} seg_bytes;

static void on_seg_bytes(const wsp_segment *s, int idx, void *u)
{
    seg_bytes *b = u;
    b->base = s - idx;
    b->texts_tokens += malloc_usable_size(s->text) + malloc_usable_size(s->tokens);
}

/* Feeds `minutes` of jfk_x5_60s repeated and returns the heap the session holds (heap in
 * use minus before-begin minus the result's segments); *held = its bytes_held. */
static size_t session_heap(wsp_state *st, const float *pcm, size_t n, int minutes, size_t *held,
                           int *n_windows)
{
    wsp_params p = base_params(WSP_SAMPLING_GREEDY);
    p.mel_clamp = WSP_MEL_CLAMP_RUNNING; /* (a GLOBAL session holds the same buffers) */
    seg_bytes sb = {0};
    p.segment_cb = on_seg_bytes;
    p.segment_user_data = &sb;
    wsp_error err;
    wsp_session *s = NULL;
    malloc_trim(0);
    const size_t before = heap_in_use();
    assert_int_equal(wsp_session_begin(st, &p, &s, &err), 0);
    for (int k = 0; k < minutes; k++)
        for (size_t off = 0; off < n; off += 48000) {
            const size_t c = n - off < 48000 ? n - off : 48000;
            if (wsp_session_feed(s, pcm + off, c, &err))
                fail_msg("feed: %s", err.message);
        }
    const size_t seg_array = sb.base ? malloc_usable_size((void *)sb.base) : 0;
    const size_t now = heap_in_use();
    wsp_session_stats stats;
    wsp_session_get_stats(s, &stats);
    *held = stats.bytes_held;
    *n_windows = stats.n_windows;
    wsp_session_free(s);
    return now - before - seg_array - sb.texts_tokens;
}

static void test_heap_flat(void **state)
{
    (void)state;
    TU_REQUIRE_FILE(tu_model("micro"));
    if (getenv("MDC_SANITIZE")) {
        print_message("SKIP: heap accounting needs glibc malloc (not the sanitizers')\n");
        skip();
    }
    const char *env = getenv("MDC_SESSION_HEAP_MINUTES");
    const long env_min = env ? strtol(env, NULL, 10) : 0;
    const int a = env_min > 0 && env_min < 1000 ? (int)env_min : 1, b = 6 * a;
    wsp_model *m = NULL;
    wsp_state *st = NULL;
    size_t n = 0;
    float *pcm = open_micro_x5(&m, &st, &n);
    size_t held_a, held_b;
    int win_a, win_b;
    /* warm-up: one-time allocations of the libraries (FFTW plan, BLAS buffers, the
     * state's lazily built pool) are not the session's */
    (void)session_heap(st, pcm, n, 1, &held_a, &win_a);
    const size_t ha = session_heap(st, pcm, n, a, &held_a, &win_a);
    const size_t hb = session_heap(st, pcm, n, b, &held_b, &win_b);
    print_message("session heap after %d min (%d windows): %zu bytes (bytes_held %zu); after %d "
                  "min (%d windows): %zu bytes (bytes_held %zu)\n",
                  a, win_a, ha, held_a, b, win_b, hb, held_b);
    assert_true(win_b > 5 * win_a);
    assert_int_equal(held_a, held_b);
    /* allow allocator slack (a few pages), not growth: 6× the audio, the same heap */
    const size_t d = ha > hb ? ha - hb : hb - ha;
    assert_true(d < 64 * 1024);
    assert_true(hb < 16u << 20);
    free(pcm);
    wsp_state_free(st);
    wsp_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mel_clamp_every_clip), cmocka_unit_test(test_mel_clamp_louder_later),
        cmocka_unit_test(test_session_vs_whole),     cmocka_unit_test(test_chunking),
        cmocka_unit_test(test_lifecycle),            cmocka_unit_test(test_heap_flat),
    };
    if (getenv("MDC_TEST_FILTER")) /* e.g. MDC_TEST_FILTER=test_chunking */
        cmocka_set_test_filter(getenv("MDC_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
