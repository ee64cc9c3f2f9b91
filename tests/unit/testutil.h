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
    if (strncmp(preset, "micro-", 6) == 0) { /* the pack's quantized micro files */
        char rel[128];
        snprintf(rel, sizeof rel, "whisper-ref/models/ggml-micro-random-%s.bin", preset + 6);
        snprintf(b, sizeof bufs[0], "%s", tu_shared(rel));
        return b;
    }
    const char *dir = getenv("MDC_MODELS_DIR");
    const char *q = strstr(preset, "-q"); /* "tiny-dims-q8_0" → ggml-tiny-dims-random-q8_0.bin */
    if (q)
        snprintf(b, sizeof bufs[0], "%s/ggml-%.*s-random%s.bin", dir ? dir : "build/models",
                 (int)(q - preset), preset, q);
    else
        snprintf(b, sizeof bufs[0], "%s/ggml-%s-random.bin", dir ? dir : "build/models", preset);
    return b;
}

/* xorshift32: a small deterministic generator for random chunk sizes; *s != 0. */
static inline uint32_t tu_xorshift32(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
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

/* Offset of the first tensor record of a ggml Whisper file in memory: after the 48-byte
 * header, the filterbank (n_mel, n_fft, floats) and the vocabulary (len + bytes each).
 * ref: whisper-ref README "The model file format".  The file must be well formed. */
static inline size_t tu_ggml_first_tensor(const uint8_t *b)
{
    int32_t n_mel, n_fft, n_tok, l;
    size_t p = 48;
    memcpy(&n_mel, b + p, 4);
    memcpy(&n_fft, b + p + 4, 4);
    p += 8 + (size_t)n_mel * (size_t)n_fft * 4;
    memcpy(&n_tok, b + p, 4);
    p += 4;
    for (int32_t i = 0; i < n_tok; i++) {
        memcpy(&l, b + p, 4);
        p += 4 + (size_t)l;
    }
    return p;
}

/* Tiny RIFF reader for the reference clips: PCM 16-bit mono → malloc'd float32 samples
 * = int16/32768 (as whisper.cpp reads them), *n of them.  NULL when not that format. */
static inline float *tu_read_wav_pcm16(const char *path, size_t *n)
{
    size_t len;
    uint8_t *b = tu_read_file(path, &len);
    if (!b || len < 12 || memcmp(b, "RIFF", 4) || memcmp(b + 8, "WAVE", 4)) {
        free(b);
        return NULL;
    }
    int pcm16_mono = 0;
    for (size_t pos = 12; pos + 8 <= len;) {
        uint32_t sz;
        memcpy(&sz, b + pos + 4, 4);
        const uint8_t *body = b + pos + 8;
        if (memcmp(b + pos, "fmt ", 4) == 0 && sz >= 16 && pos + 8 + 16 <= len) {
            uint16_t fmt, ch, bits;
            memcpy(&fmt, body, 2);
            memcpy(&ch, body + 2, 2);
            memcpy(&bits, body + 14, 2);
            pcm16_mono = fmt == 1 && ch == 1 && bits == 16;
        } else if (memcmp(b + pos, "data", 4) == 0 && pcm16_mono) {
            if (sz > len - pos - 8)
                sz = (uint32_t)(len - pos - 8);
            *n = sz / 2;
            float *out = malloc(sizeof(float) * (*n ? *n : 1));
            for (size_t i = 0; out && i < *n; i++) {
                int16_t s;
                memcpy(&s, body + 2 * i, 2);
                out[i] = (float)s / 32768.0f;
            }
            free(b);
            return out;
        }
        pos += 8 + (size_t)sz + (sz & 1);
    }
    free(b);
    return NULL;
}

#endif
