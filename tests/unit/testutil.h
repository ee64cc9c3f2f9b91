/*
 * testutil.h — shared helpers for the cmocka unit tests.
 * Paths: MDC_SHARED_DIR (default ../shared relative to the project root, which is the
 * working directory tests/run.sh uses) holds whisper-ref/ and fixtures/audio/;
 * build/models/ holds the generated tiny-dims and base-dims models.
 */
#ifndef MDC_TESTUTIL_H
#define MDC_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

/* Path of `rel` under the shared folder, in a static rotating buffer. */
static inline const char *tu_shared(const char *rel)
{
    static char bufs[8][1024];
    static int k;
    char *b = bufs[k++ & 7];
    const char *dir = getenv("MDC_SHARED_DIR");
    snprintf(b, sizeof bufs[0], "%s/%s", dir ? dir : "../shared", rel);
    return b;
}

/* Path of a generated test model ("tiny-dims", "base-dims") under MDC_MODELS_DIR
 * (default build/models, filled by tests/data/make-models.sh), or of "micro" in
 * whisper-ref/models. */
static inline const char *tu_model(const char *preset)
{
    static char bufs[4][1024];
    static int k;
    char *b = bufs[k++ & 3];
    if (strcmp(preset, "micro") == 0)
        return tu_shared("whisper-ref/models/ggml-micro-random.bin");
    const char *dir = getenv("MDC_MODELS_DIR");
    snprintf(b, sizeof bufs[0], "%s/ggml-%s-random.bin", dir ? dir : "build/models", preset);
    return b;
}

static inline int tu_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Skips the current test with a message when `path` is absent. */
#define TU_REQUIRE_FILE(path)                                                     \
    do {                                                                          \
        if (!tu_exists(path)) {                                                   \
            print_message("SKIP: %s not found (reference data absent)\n", (path)); \
            skip();                                                               \
        }                                                                         \
    } while (0)

/* Reads a whole file; returns malloc'd bytes (NUL-terminated) and *len, or NULL. */
static inline void *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len)
            *len = (size_t)n;
    }
    return buf;
}

#endif
