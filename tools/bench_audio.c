/*
 * bench_audio — decode time of aud_decode_file() per audio minute.
 *
 *   bench_audio [-r RUNS] FILE...
 *
 * For each file: decodes it RUNS times (default 5) and prints one line with the
 * container, codec, source rate/channels, decoded seconds, the median wall time (ms) and
 * the median time per minute of audio (ms/min), or the error.  Output is a
 * whitespace-separated table (header line first) that tests/perf/bench_audio.sh reads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdc/audio.h"
#include "mdc/clock.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int runs = 5, first = 1;
    if (argc > 2 && strcmp(argv[1], "-r") == 0) {
        runs = (int)strtol(argv[2], NULL, 10);
        first = 3;
    }
    if (first >= argc || runs < 1 || runs > 1000) {
        fprintf(stderr, "usage: %s [-r RUNS] FILE...\n", argv[0]);
        return 2;
    }
    printf("%-44s %-10s %-10s %6s %3s %9s %10s %10s %5s\n", "file", "container", "codec",
           "rate", "ch", "audio_s", "median_ms", "ms_per_min", "trunc");
    int status = 0;
    for (int i = first; i < argc; i++) {
        const char *base = strrchr(argv[i], '/');
        base = base ? base + 1 : argv[i];
        double *t = calloc((size_t)runs, sizeof *t);
        if (!t)
            return 1;
        aud_pcm pcm = {0};
        aud_error err = {0};
        int rc = 0;
        for (int r = 0; r < runs && rc == 0; r++) {
            aud_pcm_free(&pcm);
            double t0 = mdc_now_ms();
            rc = aud_decode_file(argv[i], NULL, NULL, NULL, &pcm, &err);
            t[r] = mdc_now_ms() - t0;
        }
        if (rc) {
            printf("%-44s error %s: %s\n", base, aud_err_name(rc), err.message);
            status = 1;
        } else {
            qsort(t, (size_t)runs, sizeof *t, cmp_double);
            double med = runs % 2 ? t[runs / 2] : (t[runs / 2 - 1] + t[runs / 2]) / 2;
            const aud_info *in = &pcm.info;
            printf("%-44s %-10.10s %-10s %6d %3d %9.3f %10.2f %10.2f %5s\n", base, in->container,
                   in->codec, in->sample_rate, in->channels, in->duration_s, med,
                   in->duration_s > 0 ? med / (in->duration_s / 60.0) : 0.0,
                   in->truncated ? "yes" : "no");
        }
        aud_pcm_free(&pcm);
        free(t);
    }
    return status;
}
