/*
 * bench_multipart — throughput of the multipart parser (src/service/multipart.c) and of
 * the upload form on top of it (upload.c, which also writes the file part to a temp
 * file in TMPDIR), on a form with three short fields and one file part of random bytes.
 *
 *   bench_multipart [-m FILE_MB] [-r RUNS] [-c CHUNK_BYTES]...
 *
 * Defaults: 64 MB, 5 runs, chunks of 1448 (one TCP segment), 16384 and 65536 bytes.
 * For each chunk size prints one line: the parser alone (MB/s median over the runs and
 * the number of data events per MB) and the whole form (MB/s, temp file included).
 * Random bytes hold a CR every ~256 bytes, each a delimiter candidate to reject.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdc/clock.h"
#include "service/multipart.h"
#include "service/upload.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static size_t g_events;
static int on_data(void *u, const char *b, size_t n)
{
    (void)u, (void)b, (void)n;
    g_events++;
    return 0;
}

static const char k_boundary[] = "----formdata-undici-012345678901";

/* The whole body in memory (caller frees); *len its size. */
static char *make_body(size_t file_bytes, size_t *len)
{
    char head[1024];
    int h = snprintf(head, sizeof head,
                     "--%s\r\nContent-Disposition: form-data; name=\"language\"\r\n\r\npt\r\n"
                     "--%s\r\nContent-Disposition: form-data; name=\"response_format\"\r\n\r\nsrt\r\n"
                     "--%s\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nT\r\n"
                     "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n"
                     "Content-Type: application/octet-stream\r\n\r\n",
                     k_boundary, k_boundary, k_boundary, k_boundary);
    char tail[128];
    int t = snprintf(tail, sizeof tail, "\r\n--%s--\r\n", k_boundary);
    char *b = malloc((size_t)h + file_bytes + (size_t)t);
    if (!b)
        return NULL;
    memcpy(b, head, (size_t)h);
    uint32_t x = 12345;
    for (size_t i = 0; i < file_bytes; i++) {
        x = x * 1103515245u + 12345u;
        b[h + i] = (char)(x >> 24);
    }
    memcpy(b + h + file_bytes, tail, (size_t)t);
    *len = (size_t)h + file_bytes + (size_t)t;
    return b;
}

int main(int argc, char **argv)
{
    size_t mb = 64, chunks[8] = {0};
    int runs = 5, nc = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-m") == 0 && i + 1 < argc)
            mb = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "-r") == 0 && i + 1 < argc)
            runs = (int)strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc && nc < 8)
            chunks[nc++] = strtoul(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: bench_multipart [-m FILE_MB] [-r RUNS] [-c CHUNK_BYTES]...\n");
            return 2;
        }
    }
    if (nc == 0) {
        chunks[0] = 1448, chunks[1] = 16384, chunks[2] = 65536;
        nc = 3;
    }
    if (runs < 1 || runs > 99 || mb < 1)
        return 2;
    size_t len = 0;
    char *body = make_body(mb << 20, &len);
    if (!body)
        return 1;
    const char *tmp = getenv("TMPDIR");
    double mbs = (double)len / (1 << 20);
    printf("chunk_bytes parser_MB_s data_events_per_MB form_MB_s (file %zu MB, %d runs, median)\n", mb, runs);
    for (int c = 0; c < nc; c++) {
        double tp[99], tf[99];
        size_t events = 0;
        for (int r = 0; r < runs; r++) {
            mp_callbacks cb = {NULL, on_data, NULL};
            mp_parser *p = mp_new(k_boundary, &cb, NULL);
            g_events = 0;
            double t0 = mdc_now_s();
            for (size_t i = 0; i < len; i += chunks[c])
                mp_feed(p, body + i, len - i < chunks[c] ? len - i : chunks[c]);
            int rc = mp_finish(p);
            tp[r] = mdc_now_s() - t0;
            mp_free(p);
            events = g_events;
            if (rc != 0) {
                fprintf(stderr, "parser error %d\n", rc);
                return 1;
            }
            char ct[128];
            snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", k_boundary);
            upl_error err;
            upl_form *f = upl_new(ct, 0, tmp, &err);
            if (!f)
                return 1;
            t0 = mdc_now_s();
            for (size_t i = 0; i < len; i += chunks[c])
                upl_feed(f, body + i, len - i < chunks[c] ? len - i : chunks[c]);
            rc = upl_finish(f);
            tf[r] = mdc_now_s() - t0;
            if (rc != 0 || upl_file_bytes(f) != mb << 20) {
                fprintf(stderr, "form error: %s\n", upl_error_get(f)->message);
                return 1;
            }
            upl_free(f);
        }
        qsort(tp, (size_t)runs, sizeof tp[0], cmp_double);
        qsort(tf, (size_t)runs, sizeof tf[0], cmp_double);
        printf("%zu %.0f %.1f %.0f\n", chunks[c], mbs / tp[runs / 2], (double)events / mbs,
               mbs / tf[runs / 2]);
    }
    free(body);
    return 0;
}
