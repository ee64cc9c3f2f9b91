/*
 * bench_audio — decode time of aud_decode_file() per audio minute, and its ratio to
 * the Whisper engine's time for the same audio.
 *
 *   bench_audio [-r RUNS] [-e MODEL [-t THREADS] [-s SECONDS] [-n ENGINE_RUNS]] FILE...
 *
 * For each file: decodes it RUNS times (default 5) and prints one line with the
 * container, codec, source rate/channels, decoded seconds, the median wall time (ms) and
 * the median time per minute of audio (ms/min, wall and process CPU), or the error.  With -e, the first
 * SECONDS (default 60) of the first file's decoded audio are transcribed with the
 * engine (THREADS threads, default 2; language "pt", temperature fallback off so the
 * work per window is fixed) ENGINE_RUNS times (default 1); the engine's median time is
 * printed per audio minute and each file gets the ratio decode/engine, in wall time and
 * in process CPU time (the latter varies less with other load on a shared machine).  Output is a
 * whitespace-separated table (header line first) that tests/perf/bench_audio.sh reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mdc/audio.h"
#include "mdc/clock.h"
#include "mdc/whisper.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* CPU time of the whole process (all threads), ms: less sensitive to other load on a
 * shared machine than wall time. */
static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double median(double *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

/* Median engine time (ms) for samples[0..n); < 0 on error. */
static double engine_ms(const char *model_path, int threads, int runs, const float *samples,
                        size_t n, double *cpu_out)
{
    wsp_model *model = NULL;
    wsp_state *st = NULL;
    wsp_error err;
    double res = -1;
    if (wsp_model_load(model_path, &model, &err) != 0) {
        fprintf(stderr, "engine: %s\n", err.message);
        return -1;
    }
    if (wsp_state_new(model, &st, &err) != 0) {
        fprintf(stderr, "engine: %s\n", err.message);
        wsp_model_free(model);
        return -1;
    }
    wsp_params p = wsp_default_params(WSP_SAMPLING_GREEDY);
    p.n_threads = threads;
    p.language = "pt";
    p.temperature_inc = 0;
    double *t = calloc((size_t)runs * 2, sizeof *t);
    int r;
    for (r = 0; t && r < runs; r++) {
        wsp_result *out = NULL;
        double t0 = mdc_now_ms(), c0 = cpu_ms();
        int rc = wsp_transcribe(st, samples, n, &p, &out, &err);
        t[r] = mdc_now_ms() - t0;
        t[runs + r] = cpu_ms() - c0;
        if (rc != 0) {
            fprintf(stderr, "engine: %s\n", err.message);
            break;
        }
        fprintf(stderr, "engine run %d: %.0f ms wall, %.0f ms CPU, %d windows, %d decode steps\n",
                r + 1, t[r], t[runs + r], out->timings.n_windows, out->timings.n_decode_steps);
        wsp_result_free(out);
    }
    if (t && r == runs) {
        res = median(t, runs);
        *cpu_out = median(t + runs, runs);
    }
    free(t);
    wsp_state_free(st);
    wsp_model_free(model);
    return res;
}

int main(int argc, char **argv)
{
    int runs = 5, threads = 2, engine_runs = 1, i = 1;
    double seconds = 60;
    const char *model = NULL;
    for (; i + 1 < argc && argv[i][0] == '-' && argv[i][1] && !argv[i][2]; i += 2) {
        switch (argv[i][1]) {
        case 'r': runs = (int)strtol(argv[i + 1], NULL, 10); break;
        case 'e': model = argv[i + 1]; break;
        case 't': threads = (int)strtol(argv[i + 1], NULL, 10); break;
        case 's': seconds = strtod(argv[i + 1], NULL); break;
        case 'n': engine_runs = (int)strtol(argv[i + 1], NULL, 10); break;
        default: i = argc; break;
        }
    }
    if (i >= argc || runs < 1 || runs > 1000 || threads < 1 || engine_runs < 1 ||
        !(seconds > 0)) {
        fprintf(stderr, "usage: %s [-r RUNS] [-e MODEL [-t THREADS] [-s SECONDS] "
                        "[-n ENGINE_RUNS]] FILE...\n", argv[0]);
        return 2;
    }
    double eng_per_min = -1, eng_cpu_per_min = -1;
    if (model) {
        aud_pcm pcm = {0};
        aud_error err;
        if (aud_decode_file(argv[i], NULL, NULL, NULL, &pcm, &err) != 0) {
            fprintf(stderr, "%s: %s\n", argv[i], err.message);
            return 1;
        }
        size_t n = pcm.n_samples;
        if ((double)n > seconds * AUD_SAMPLE_RATE)
            n = (size_t)(seconds * AUD_SAMPLE_RATE);
        double cpu = 0;
        double ms = engine_ms(model, threads, engine_runs, pcm.samples, n, &cpu);
        aud_pcm_free(&pcm);
        if (ms < 0)
            return 1;
        eng_per_min = ms / ((double)n / AUD_SAMPLE_RATE / 60.0);
        eng_cpu_per_min = cpu / ((double)n / AUD_SAMPLE_RATE / 60.0);
        printf("# engine: %s, %d threads, first %.1f s: median %.0f ms wall = %.0f ms per "
               "audio minute; %.0f ms CPU = %.0f ms CPU per audio minute\n", model, threads,
               (double)n / AUD_SAMPLE_RATE, ms, eng_per_min, cpu, eng_cpu_per_min);
    }
    printf("%-44s %-10s %-10s %6s %3s %9s %10s %10s %10s %5s%s\n", "file", "container",
           "codec", "rate", "ch", "audio_s", "median_ms", "ms_per_min", "cpu_per_min", "trunc",
           model ? "  ratio_wall ratio_cpu" : "");
    int status = 0;
    for (; i < argc; i++) {
        const char *base = strrchr(argv[i], '/');
        base = base ? base + 1 : argv[i];
        double *t = calloc((size_t)runs * 2, sizeof *t);
        if (!t)
            return 1;
        aud_pcm pcm = {0};
        aud_error err = {0};
        int rc = 0;
        for (int r = 0; r < runs && rc == 0; r++) {
            aud_pcm_free(&pcm);
            double t0 = mdc_now_ms(), c0 = cpu_ms();
            rc = aud_decode_file(argv[i], NULL, NULL, NULL, &pcm, &err);
            t[r] = mdc_now_ms() - t0;
            t[runs + r] = cpu_ms() - c0;
        }
        if (rc) {
            printf("%-44s error %s: %s\n", base, aud_err_name(rc), err.message);
            status = 1;
        } else {
            double med = median(t, runs), cmed = median(t + runs, runs);
            const aud_info *in = &pcm.info;
            double mins = in->duration_s / 60.0;
            double per_min = mins > 0 ? med / mins : 0.0, cpu_per_min = mins > 0 ? cmed / mins : 0.0;
            printf("%-44s %-10.10s %-10s %6d %3d %9.3f %10.2f %10.2f %10.2f %5s", base,
                   in->container, in->codec, in->sample_rate, in->channels, in->duration_s,
                   med, per_min, cpu_per_min, in->truncated ? "yes" : "no");
            if (model)
                printf("  %10.5f %9.5f", per_min / eng_per_min, cpu_per_min / eng_cpu_per_min);
            printf("\n");
        }
        aud_pcm_free(&pcm);
        free(t);
    }
    return status;
}
