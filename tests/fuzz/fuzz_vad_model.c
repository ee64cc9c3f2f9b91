/*
 * fuzz_vad_model.c — libFuzzer harness for the Silero VAD loader (vad_model_load) and,
 * for every file that loads, one vad_detect() over a short fixed signal (weights may
 * then be any float: NaN, inf, huge).
 *
 * The harness builds a valid ggml Silero file in memory with the layout of whisper.cpp's
 * ggml-silero-v6.2.0.bin (same header, same tensor order, names, shapes and types; zero
 * weights) and reads the input as edits to it, like fuzz_whisper_model:
 *   bytes 0–3   cut length (little-endian, modulo size + 1; 0 = keep everything)
 *   then records: u32 offset (modulo size), u8 n, n bytes written there.
 * Because the layout equals the real file's, test_vad_model replays the kept inputs
 * (tests/fuzz/regressions/vad_model/) as edits to the real model.
 * Build: tests/fuzz/build.sh fuzz_vad_model; run: tests/fuzz/run.sh vad_model 300
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mdc/log.h"
#include "mdc/vad.h"
#include "fuzz_edits.h"

static uint8_t *g_base, *g_work;
static size_t g_len, g_cap;
static int g_fd = -1;
static char g_path[64];
static float g_signal[1500];

static void put(const void *p, size_t n)
{
    if (g_len + n > g_cap) {
        g_cap = (g_len + n) * 2;
        g_base = realloc(g_base, g_cap);
    }
    if (p)
        memcpy(g_base + g_len, p, n);
    else
        memset(g_base + g_len, 0, n);
    g_len += n;
}

static void put32(int32_t v) { put(&v, 4); }

static void tensor(const char *name, int type, int n_dims, int32_t ne0, int32_t ne1, int32_t ne2)
{
    put32(n_dims);
    put32((int32_t)strlen(name));
    put32(type);
    const int32_t ne[3] = {ne0, ne1, ne2};
    for (int d = 0; d < n_dims; d++)
        put32(ne[d]);
    put(name, strlen(name));
    put(NULL, (size_t)ne0 * (size_t)ne1 * (size_t)ne2 * (type == 1 ? 2u : 4u));
}

/* The header and tensor order of ggml-silero-v6.2.0.bin. */
static void build_model(void)
{
    put32(0x67676d6c);
    put32(10);
    put("silero-16k", 10);
    const int32_t hp[] = {6, 2, 0, 512, 64, 4, 129, 128, 3, 128, 64, 3, 64, 64, 3, 64, 128, 3,
                          128, 128, 128, 1};
    for (size_t i = 0; i < sizeof hp / sizeof hp[0]; i++)
        put32(hp[i]);
    const int32_t in[4] = {129, 128, 64, 64}, out[4] = {128, 64, 64, 128};
    for (int l = 0; l < 4; l++) {
        char b[64];
        snprintf(b, sizeof b, "_model.encoder.%d.reparam_conv.weight", l);
        tensor(b, 1, 3, 3, in[l], out[l]);
        snprintf(b, sizeof b, "_model.encoder.%d.reparam_conv.bias", l);
        tensor(b, 0, 1, out[l], 1, 1);
    }
    tensor("_model.decoder.rnn.weight_ih", 0, 2, 128, 512, 1);
    tensor("_model.decoder.rnn.weight_hh", 0, 2, 128, 512, 1);
    tensor("_model.decoder.rnn.bias_ih", 0, 1, 512, 1, 1);
    tensor("_model.decoder.rnn.bias_hh", 0, 1, 512, 1, 1);
    tensor("_model.decoder.decoder.2.weight", 1, 1, 128, 1, 1);
    tensor("_model.decoder.decoder.2.bias", 0, 0, 1, 1, 1);
    tensor("_model.stft.forward_basis_buffer", 1, 3, 256, 1, 258);
}

static void discard_sink(mdc_log_level level, const char *func, const char *msg, void *u)
{
    (void)level, (void)func, (void)msg, (void)u;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    mdc_log_set_sink(discard_sink, NULL);
    build_model();
    g_work = malloc(g_len);
    for (size_t i = 0; i < sizeof g_signal / sizeof g_signal[0]; i++)
        g_signal[i] = (float)sin((double)i * 0.05) * 0.3f;
    g_fd = memfd_create("fuzz-vad", MFD_CLOEXEC);
    snprintf(g_path, sizeof g_path, "/proc/self/fd/%d", g_fd);
    if (g_fd < 0 || pwrite(g_fd, g_base, g_len, 0) != (ssize_t)g_len)
        abort();
    vad_model *m = NULL;
    if (vad_model_load(g_path, &m, NULL) != 0) /* the unmodified file must load */
        abort();
    vad_model_free(m);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const size_t len = fuzz_apply_edits(g_base, g_len, data, size, g_work);
    if (ftruncate(g_fd, 0) != 0 || pwrite(g_fd, g_work, len, 0) != (ssize_t)len)
        return 0;
    vad_model *m = NULL;
    vad_error err;
    if (vad_model_load(g_path, &m, &err) == 0) {
        float *probs = NULL;
        size_t np = 0;
        if (vad_detect(m, g_signal, sizeof g_signal / sizeof g_signal[0], &probs, &np, NULL,
                       NULL, &err) != 0 || np != 3)
            abort();
        vad_params vp = vad_default_params();
        vad_span *s = NULL;
        size_t ns = 0;
        /* probabilities may be NaN with garbage weights: the rules must still behave */
        if (vad_segments_from_probs(probs, np, 512, &vp, &s, &ns) != 0)
            abort();
        free(s);
        free(probs);
        vad_model_free(m);
    } else if (m != NULL || err.message[0] == '\0') {
        abort();
    }
    return 0;
}
