/*
 * wsp_bench — one measurement of the Whisper engine, printed as one line of key=value.
 *
 *   wsp_bench MODEL WAV [-t THREADS] [--beam N] [--segments] [--forward] [--steps N]
 *             [--session CHUNK [--running]] [--repeat K] [--rows R]
 *             [--concurrent K [--no-batching]]
 *
 * Default mode: wsp_model_load + wsp_state_new + wsp_transcribe (greedy, language en,
 * no temperature fallback — like whisper.cpp's reference run `whisper-cli -l en -bs 1
 * -bo 1 -nf`), and prints load_ms, mel_ms, encode_ms (n_windows), decode_ms (n_steps,
 * ms_per_step), total_ms (load to result) and peak_rss_mb (VmHWM).
 * --session CHUNK: the same transcription through the streaming session API, fed CHUNK
 * samples at a time, after a wsp_mel_peak pass over the same chunks (the GLOBAL clamp,
 * as a two-pass service does); with --running, no peak pass (mel_clamp running).
 * peak_ms is the first pass's time.  --repeat K: the clip K times in a row (longer audio;
 * with --forward it repeats the steps instead, see below).
 * --beam N: beam search with N beams instead of greedy (whisper-cli -bs N -nf), same
 * output; n_steps then counts decoder calls (one per live beam per step, plus the prompt
 * batches) and n_tokens the sampled tokens of the kept sequences.
 * --segments: also print each segment ("seg t0 t1 n_tokens text") to stderr.
 * --forward: the forward pass alone — mel, encode of every 30 s window, then a 3-token
 * prompt batch and N (default 32) single-token steps on window 0 feeding back the argmax;
 * --repeat R runs those N steps R times (positions 3 … N+2 each time; the figures per
 * step are over all R·N steps: steadier numbers, and a profile dominated by the decoder).
 * --rows R: the row-batched decoder step — window 0 encoded, a 3-token prompt forked to R
 * sequences, then N (default 32) passes of R rows (one per sequence, each feeding back its
 * argmax); prints the median ms per pass over the N passes (the argmax excluded).
 * --concurrent K: K transcriptions of WAV at once on one engine of K pools of THREADS
 * threads (the service's MAX_CONCURRENT_TRANSCRIPTIONS = K), greedy or --beam N, with
 * continuous batching (default) or --no-batching; prints the wall time, audio seconds per
 * wall second, and the engine's merged-pass counters.
 * Run it once per process (tests/perf/bench_engine.sh does), so peak RSS is per run.
 * WAV: PCM 16-bit mono 16 kHz.
 */
#include "mdc/clock.h"
#include "mdc/whisper.h"
#include "whisper/engine.h"
#include "whisper/state.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static float *read_wav(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(len > 0 ? (size_t)len : 1);
    if (!b || len < 12 || fread(b, 1, (size_t)len, f) != (size_t)len) {
        free(b);
        fclose(f);
        return NULL;
    }
    fclose(f);
    size_t pos = 12;
    while (pos + 8 <= (size_t)len) {
        uint32_t sz;
        memcpy(&sz, b + pos + 4, 4);
        if (memcmp(b + pos, "data", 4) == 0) {
            if (sz > (size_t)len - pos - 8)
                sz = (uint32_t)((size_t)len - pos - 8);
            *n = sz / 2;
            float *out = malloc(sizeof(float) * (*n ? *n : 1));
            for (size_t i = 0; out && i < *n; i++) {
                int16_t v;
                memcpy(&v, b + pos + 8 + 2 * i, 2);
                out[i] = (float)v / 32768.0f;
            }
            free(b);
            return out;
        }
        pos += 8 + (size_t)sz + (sz & 1);
    }
    free(b);
    return NULL;
}

static double peak_rss_mb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = strtod(line + 6, NULL);
    if (f)
        fclose(f);
    return kb / 1024.0;
}

/* User + system CPU time of the process so far, ms (less sensitive to a busy machine
 * than wall time). */
static double cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static int forward(wsp_model *m, wsp_state *st, const float *pcm, size_t n, int threads,
                   int steps, int repeat, double t_start, double load_ms)
{
    double t = mdc_now_ms(), c = cpu_ms();
    float *mel = NULL;
    int n_frames = 0, n_len = 0;
    if (wsp__state_pool(st, threads) || wsp__mel_compute(m, pcm, n, st->pool, &mel, &n_frames, &n_len))
        return 1;
    const double mel_ms = mdc_now_ms() - t;
    t = mdc_now_ms();
    c = cpu_ms();
    int n_win = 0;
    for (int seek = 0; seek < n_len; seek += WSP_N_FRAMES_CHUNK, n_win++)
        if (wsp__encode(st, mel, n_frames, seek, threads))
            return 1;
    const double enc_ms = mdc_now_ms() - t, enc_cpu = cpu_ms() - c;
    if (wsp__encode(st, mel, n_frames, 0, threads)) /* window 0 for the decoder (not timed) */
        return 1;
    const wsp__vocab *v = wsp__model_vocab(m);
    float *logits = malloc(sizeof(float) * (size_t)v->n_vocab);
    int32_t prompt[3] = {v->sot, v->lang_first, v->transcribe};
    t = mdc_now_ms();
    wsp__row prow[3];
    for (int i = 0; i < 3; i++)
        prow[i] = (wsp__row){.token = prompt[i], .pos = i, .seq = 0,
                             .logits = i == 2 ? logits : NULL};
    if (!logits || wsp__decode_batch(st, prow, 3, threads))
        return 1;
    const double batch_ms = mdc_now_ms() - t;
    const int max_steps = wsp_model_hparams(m)->n_text_ctx - 3;
    if (steps > max_steps)
        steps = max_steps;
    t = mdc_now_ms();
    c = cpu_ms();
    for (int i = 0; i < steps * repeat; i++) {
        int32_t best = 0;
        for (int32_t k = 1; k < v->n_vocab; k++)
            if (logits[k] > logits[best])
                best = k;
        const wsp__row r = {.token = best, .pos = 3 + i % steps, .seq = 0, .logits = logits};
        if (wsp__decode_batch(st, &r, 1, threads))
            return 1;
    }
    steps *= repeat;
    const double dec_ms = mdc_now_ms() - t, dec_cpu = cpu_ms() - c;
    printf("mode=forward load_ms=%.1f mel_ms=%.1f encode_ms=%.1f n_windows=%d batch_ms=%.1f "
           "decode_ms=%.1f n_steps=%d ms_per_step=%.2f total_ms=%.1f peak_rss_mb=%.1f "
           "cpu_ms=%.0f encode_cpu_ms=%.0f step_cpu_ms=%.2f\n",
           load_ms, mel_ms, enc_ms, n_win, batch_ms, dec_ms, steps,
           steps ? dec_ms / steps : 0.0, mdc_now_ms() - t_start, peak_rss_mb(), cpu_ms(), enc_cpu,
           steps ? dec_cpu / steps : 0.0);
    free(logits);
    free(mel);
    return 0;
}

/* --session: [peak pass], begin, feeds of `chunk` samples, end. */
static int via_session(wsp_state *st, wsp_params *p, const float *pcm, size_t n, size_t chunk,
                       int running, double *peak_ms, wsp_result **out, wsp_error *err)
{
    float max = 0.0f;
    if (running) {
        p->mel_clamp = WSP_MEL_CLAMP_RUNNING;
    } else {
        const double t = mdc_now_ms();
        wsp_mel_peak *pk = NULL;
        int rc = wsp_mel_peak_new(wsp__state_model(st), &pk, err);
        for (size_t off = 0; !rc && off < n; off += chunk)
            rc = wsp_mel_peak_feed(pk, pcm + off, n - off < chunk ? n - off : chunk, err);
        if (!rc)
            rc = wsp_mel_peak_end(pk, &max, err);
        wsp_mel_peak_free(pk);
        *peak_ms = mdc_now_ms() - t;
        if (rc)
            return rc;
    }
    wsp_session *s = NULL;
    int rc = wsp_session_begin(st, p, &s, err);
    if (!rc && !running)
        rc = wsp_session_set_mel_max(s, max, err);
    for (size_t off = 0; !rc && off < n; off += chunk)
        rc = wsp_session_feed(s, pcm + off, n - off < chunk ? n - off : chunk, err);
    if (!rc)
        rc = wsp_session_end(s, out, err);
    wsp_session_free(s);
    return rc;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int rows_bench(wsp_model *m, wsp_state *st, const float *pcm, size_t n, int threads,
                      int steps, int R)
{
    float *mel = NULL;
    int n_frames = 0, n_len = 0;
    if (R < 1 || R > wsp__n_decoders(st) || wsp__state_pool(st, threads) ||
        wsp__mel_compute(m, pcm, n, st->pool, &mel, &n_frames, &n_len) ||
        wsp__encode(st, mel, n_frames, 0, threads))
        return 1;
    const wsp__vocab *v = wsp__model_vocab(m);
    const int max_steps = wsp_model_hparams(m)->n_text_ctx - 3;
    if (steps > max_steps)
        steps = max_steps;
    float *logits = malloc(sizeof(float) * (size_t)v->n_vocab * (size_t)R);
    double *ms = malloc(sizeof(double) * (size_t)(steps > 0 ? steps : 1));
    wsp__row rows[WSP__N_DECODERS];
    int32_t prompt[3] = {v->sot, v->lang_first, v->transcribe};
    for (int i = 0; i < 3; i++)
        rows[i] = (wsp__row){.token = prompt[i], .pos = i, .seq = 0,
                             .logits = i == 2 ? logits : NULL};
    if (!logits || !ms || wsp__decode_batch(st, rows, 3, threads))
        return 1;
    int zero[WSP__N_DECODERS] = {0};
    wsp__kv_reorder(st, zero, R, 3);
    for (int j = 1; j < R; j++)
        memcpy(logits + (size_t)j * v->n_vocab, logits, sizeof(float) * (size_t)v->n_vocab);
    for (int i = 0; i < steps; i++) {
        for (int j = 0; j < R; j++) {
            const float *l = logits + (size_t)j * v->n_vocab;
            int32_t best = 0;
            for (int32_t k = 1; k < v->n_vocab; k++)
                if (l[k] > l[best])
                    best = k;
            rows[j] = (wsp__row){.token = (best + j) % v->n_vocab, .pos = 3 + i, .seq = j,
                                 .logits = logits + (size_t)j * v->n_vocab};
        }
        const double t = mdc_now_ms();
        if (wsp__decode_batch(st, rows, R, threads))
            return 1;
        ms[i] = mdc_now_ms() - t;
    }
    qsort(ms, (size_t)steps, sizeof *ms, cmp_double);
    printf("mode=rows rows=%d n_steps=%d ms_per_pass=%.3f ms_per_row=%.3f peak_rss_mb=%.1f\n", R,
           steps, steps ? ms[steps / 2] : 0.0, steps ? ms[steps / 2] / R : 0.0, peak_rss_mb());
    free(ms);
    free(logits);
    free(mel);
    return 0;
}

typedef struct conc_arg {
    wsp_engine *e;
    const wsp_model *m;
    const float *pcm;
    size_t n;
    wsp_params p;
    pthread_barrier_t *start;
    int rc;
} conc_arg;

static void *conc_run(void *arg)
{
    conc_arg *a = arg;
    wsp_state *st = NULL;
    wsp_result *r = NULL;
    a->rc = wsp_state_new_on(a->e, a->m, &st, NULL);
    pthread_barrier_wait(a->start);
    if (!a->rc)
        a->rc = wsp_transcribe(st, a->pcm, a->n, &a->p, &r, NULL);
    wsp_result_free(r);
    wsp_state_free(st);
    return NULL;
}

static int concurrent(const wsp_model *m, const float *pcm, size_t n, int threads, int K,
                      int batching, int beam)
{
    enum { KMAX = 16 };
    wsp_engine *e = NULL;
    if (K < 1 || K > KMAX || wsp_engine_new(K, threads, &e, NULL))
        return 1;
    wsp_engine_set_batching(e, batching);
    conc_arg a[KMAX];
    pthread_t th[KMAX];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)K + 1);
    for (int i = 0; i < K; i++) {
        a[i] = (conc_arg){.e = e, .m = m, .pcm = pcm, .n = n, .start = &start};
        a[i].p = wsp_default_params(beam > 0 ? WSP_SAMPLING_BEAM_SEARCH : WSP_SAMPLING_GREEDY);
        a[i].p.n_threads = threads;
        a[i].p.language = "en";
        a[i].p.temperature_inc = 0;
        a[i].p.beam_size = beam > 0 ? beam : 5;
        pthread_create(&th[i], NULL, conc_run, &a[i]);
    }
    pthread_barrier_wait(&start);
    const double t = mdc_now_ms(), c = cpu_ms();
    int rc = 0;
    for (int i = 0; i < K; i++) {
        pthread_join(th[i], NULL);
        rc |= a[i].rc;
    }
    const double wall = mdc_now_ms() - t;
    wsp__batch_stats bs;
    wsp__engine_stats(e, &bs);
    printf("mode=concurrent k=%d threads=%d batching=%d beam=%d wall_ms=%.0f "
           "audio_s_per_s=%.2f cpu_ms=%.0f passes=%ld merged_passes=%ld rows_per_pass=%.2f\n",
           K, threads, batching, beam, wall, (double)K * (double)n / WSP_SAMPLE_RATE / (wall / 1e3),
           cpu_ms() - c, bs.passes, bs.merged_passes,
           bs.passes ? (double)bs.rows / (double)bs.passes : 0.0);
    pthread_barrier_destroy(&start);
    wsp_engine_free(e);
    return rc;
}

int main(int argc, char **argv)
{
    const char *model_path = NULL, *wav = NULL;
    int threads = 2, steps = 32, fwd = 0, running = 0, repeat = 1, beam = 0, segs = 0, nrows = 0,
        conc = 0, batching = 1;
    long chunk = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-t") == 0 && i + 1 < argc)
            threads = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc)
            steps = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
            repeat = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--beam") == 0 && i + 1 < argc)
            beam = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--segments") == 0)
            segs = 1;
        else if (strcmp(argv[i], "--forward") == 0)
            fwd = 1;
        else if (strcmp(argv[i], "--session") == 0 && i + 1 < argc)
            chunk = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--running") == 0)
            running = 1;
        else if (strcmp(argv[i], "--rows") == 0 && i + 1 < argc)
            nrows = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--concurrent") == 0 && i + 1 < argc)
            conc = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--no-batching") == 0)
            batching = 0;
        else if (!model_path)
            model_path = argv[i];
        else
            wav = argv[i];
    }
    if (!model_path || !wav || threads < 1 || chunk < 0 || repeat < 1 || (running && !chunk) ||
        beam < 0 || (beam > 0 && fwd)) {
        fprintf(stderr, "usage: wsp_bench MODEL WAV [-t THREADS] [--beam N] [--segments] "
                        "[--forward] [--steps N] [--session CHUNK [--running]] [--repeat K] "
                        "[--rows R] [--concurrent K [--no-batching]]\n");
        return 2;
    }
    size_t n = 0;
    float *pcm = read_wav(wav, &n);
    if (!pcm) {
        fprintf(stderr, "wsp_bench: cannot read %s (PCM16 WAV expected)\n", wav);
        return 1;
    }
    if (repeat > 1 && !fwd) { /* --forward repeats its steps instead */
        float *r = malloc(sizeof(float) * n * (size_t)repeat);
        if (!r)
            return 1;
        for (int k = 0; k < repeat; k++)
            memcpy(r + (size_t)k * n, pcm, sizeof(float) * n);
        free(pcm);
        pcm = r;
        n *= (size_t)repeat;
    }
    const double t_start = mdc_now_ms();
    wsp_model *m = NULL;
    wsp_error err;
    if (wsp_model_load(model_path, &m, &err)) {
        fprintf(stderr, "wsp_bench: %s\n", err.message);
        return 1;
    }
    const double load_ms = mdc_now_ms() - t_start;
    wsp_state *st = NULL;
    if (wsp_state_new(m, &st, &err)) {
        fprintf(stderr, "wsp_bench: %s\n", err.message);
        return 1;
    }
    int rc;
    if (conc > 0) {
        rc = concurrent(m, pcm, n, threads, conc, batching, beam);
    } else if (nrows > 0) {
        rc = rows_bench(m, st, pcm, n, threads, steps, nrows);
    } else if (fwd) {
        rc = forward(m, st, pcm, n, threads, steps, repeat, t_start, load_ms);
    } else {
        wsp_params p = wsp_default_params(beam > 0 ? WSP_SAMPLING_BEAM_SEARCH : WSP_SAMPLING_GREEDY);
        if (beam > 0)
            p.beam_size = beam;
        p.n_threads = threads;
        p.language = "en";
        p.temperature = 0;
        p.temperature_inc = 0;
        p.best_of = 1;
        wsp_result *r = NULL;
        double peak_ms = 0.0;
        if (chunk)
            rc = via_session(st, &p, pcm, n, (size_t)chunk, running, &peak_ms, &r, &err);
        else
            rc = wsp_transcribe(st, pcm, n, &p, &r, &err);
        if (rc) {
            fprintf(stderr, "wsp_bench: transcribe: %s\n", err.message);
        } else {
            const wsp_timings *tm = &r->timings;
            int n_tokens = 0;
            for (int s = 0; s < r->n_segments; s++) {
                n_tokens += r->segments[s].n_tokens;
                if (segs)
                    fprintf(stderr, "seg %lld %lld %d %s\n", (long long)r->segments[s].t0,
                            (long long)r->segments[s].t1, r->segments[s].n_tokens,
                            r->segments[s].text);
            }
            printf("mode=%s load_ms=%.1f mel_ms=%.1f encode_ms=%.1f n_windows=%d "
                   "decode_ms=%.1f n_steps=%d ms_per_step=%.2f total_ms=%.1f peak_rss_mb=%.1f "
                   "segments=%d n_tokens=%d cpu_ms=%.0f peak_ms=%.1f\n",
                   beam > 0 ? "beam" : "transcribe", load_ms, tm->mel_ms, tm->encode_ms,
                   tm->n_windows, tm->decode_ms, tm->n_decode_steps,
                   tm->n_decode_steps ? tm->decode_ms / tm->n_decode_steps : 0.0,
                   mdc_now_ms() - t_start, peak_rss_mb(), r->n_segments, n_tokens, cpu_ms(),
                   peak_ms);
            wsp_result_free(r);
        }
    }
    wsp_state_free(st);
    wsp_model_free(m);
    free(pcm);
    return rc ? 1 : 0;
}
