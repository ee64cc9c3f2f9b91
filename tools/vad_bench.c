/*
 * vad_bench — the Silero VAD's own cost: vad_detect() time per hour of audio.
 *
 *   vad_bench [-r RUNS] [-m SILERO.bin] FILE...
 *
 * For each file: decodes it once (aud_decode_file), then runs vad_detect() RUNS times
 * (default 5) and prints one line: decoded seconds, chunks, the median and minimum wall
 * time (ms), the median process CPU time (ms), and both per hour of audio (s/h), plus the
 * speech the default rules keep.  Output is a whitespace-separated table (header first)
 * that tests/perf/bench_vad.sh reads.  Model default:
 * $MDC_SHARED_DIR/whisper-ref/models/ggml-silero-v6.2.0.bin (../shared when unset).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mdc/audio.h"
#include "mdc/clock.h"
#include "mdc/vad.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    int runs = 5;
    char model[1024];
    const char *sh = getenv("MDC_SHARED_DIR");
    snprintf(model, sizeof model, "%s/whisper-ref/models/ggml-silero-v6.2.0.bin", sh ? sh : "../shared");
    int opt;
    while ((opt = getopt(argc, argv, "r:m:")) != -1) {
        if (opt == 'r')
            runs = (int)strtol(optarg, NULL, 10);
        else if (opt == 'm')
            snprintf(model, sizeof model, "%s", optarg);
        else {
            fprintf(stderr, "usage: vad_bench [-r RUNS] [-m SILERO.bin] FILE...\n");
            return 2;
        }
    }
    if (runs < 1 || runs > 1000 || optind >= argc) {
        fprintf(stderr, "usage: vad_bench [-r RUNS] [-m SILERO.bin] FILE...\n");
        return 2;
    }
    vad_model *m = NULL;
    vad_error err = {0};
    if (vad_model_load(model, &m, &err) != 0) {
        fprintf(stderr, "vad_bench: %s\n", err.message);
        return 1;
    }
    printf("%-34s %9s %7s %10s %10s %10s %9s %9s %9s\n", "file", "audio_s", "chunks", "med_ms",
           "min_ms", "cpu_ms", "wall_s/h", "cpu_s/h", "speech_s");
    double *t = calloc((size_t)runs, sizeof *t), *cpu = calloc((size_t)runs, sizeof *cpu);
    for (int f = optind; f < argc; f++) {
        aud_pcm pcm = {0};
        aud_error aerr = {0};
        const char *base = strrchr(argv[f], '/');
        base = base ? base + 1 : argv[f];
        if (aud_decode_file(argv[f], NULL, NULL, NULL, &pcm, &aerr) != 0) {
            printf("%-34s error: %s\n", base, aerr.message);
            continue;
        }
        size_t np = 0;
        float *probs = NULL;
        for (int r = 0; r < runs; r++) {
            free(probs);
            probs = NULL;
            double c0 = cpu_ms(), t0 = mdc_now_ms();
            if (vad_detect(m, pcm.samples, pcm.n_samples, &probs, &np, NULL, NULL, &err) != 0) {
                fprintf(stderr, "vad_bench: %s\n", err.message);
                return 1;
            }
            t[r] = mdc_now_ms() - t0;
            cpu[r] = cpu_ms() - c0;
        }
        vad_params p = vad_default_params();
        vad_span *s = NULL;
        size_t ns = 0;
        double speech = 0;
        if (vad_segments_from_probs(probs, np, 512, &p, &s, &ns) == 0)
            for (size_t i = 0; i < ns; i++)
                speech += (double)(s[i].t1_cs - s[i].t0_cs) / 100.0;
        free(s);
        free(probs);
        qsort(t, (size_t)runs, sizeof *t, cmp_double);
        qsort(cpu, (size_t)runs, sizeof *cpu, cmp_double);
        const double sec = (double)pcm.n_samples / 16000.0;
        const double med = t[runs / 2], cmed = cpu[runs / 2];
        printf("%-34s %9.1f %7zu %10.1f %10.1f %10.1f %9.2f %9.2f %9.1f\n", base, sec, np, med,
               t[0], cmed, med / sec * 3600.0 / 1000.0, cmed / sec * 3600.0 / 1000.0, speech);
        aud_pcm_free(&pcm);
    }
    free(t);
    free(cpu);
    vad_model_free(m);
    return 0;
}
