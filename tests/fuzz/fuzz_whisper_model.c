/*
 * fuzz_whisper_model.c — libFuzzer harness for the model loader (wsp_model_load).
 *
 * Real model files are megabytes, far past what a fuzzer mutates well, so the harness
 * builds the smallest valid ggml Whisper files in memory and reads the input as edits to
 * one of them:
 *   base 0: width 4, f16 matrices (one layer each side, n_audio_ctx 1, n_text_ctx 1, the
 *           .en n_vocab 51864, a 3-token vocabulary, all tensors present, zero weights);
 *   base 1: the same at width 32 (one block per row) with quantized matrices, one of each
 *           type q4_0, q4_1, q5_0, q5_1, q8_0 in turn (token embedding q4_0), ftype q8_0;
 *   bytes 0–3   u32 little-endian: bit 31 picks the base, the rest is the cut length
 *               (taken modulo size + 1; 0 = keep everything)
 *   then records: u32 offset (modulo size), u8 n, n bytes written there.
 * Seeds / regressions: tests/fuzz/regressions/model/ (one per bad quantized file kind);
 * replay with `build-fuzz/fuzz_whisper_model FILE...` (MDC_FUZZ_VERBOSE=1 prints each
 * load's error; MDC_FUZZ_DUMP_BASE=PATH writes base 1 there, for making seeds).
 * Every header field, tensor record and length is reachable, and the loader must answer
 * every variant with an error code or a valid model — no crash, leak or out-of-bounds
 * read (ASan/UBSan).  Build: tests/fuzz/build.sh; run e.g.
 *   build-fuzz/fuzz_whisper_model -max_len=4096 -max_total_time=300
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mdc/log.h"
#include "mdc/whisper.h"
#include "whisper/engine.h"
#include "fuzz_edits.h"

static uint8_t *g_base, *g_work;
static size_t g_len, g_cap;
static uint8_t *g_bases[2];
static size_t g_lens[2];
static int g_quant, g_qnext; /* building base 1: quantize matrices, next type index */
static int g_fd = -1;
static char g_path[64];

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

/* ggml block sizes of q4_0, q4_1, q5_0, q5_1, q8_0 (32 weights per block). */
static const int q_code[5] = {2, 3, 6, 7, 8}, q_size[5] = {18, 20, 22, 24, 34};

static void tensor(const char *name, int type, int n_dims, int32_t ne0, int32_t ne1, int32_t ne2)
{
    if (g_quant && type == 1 && n_dims == 2) { /* a matrix: next quantized type */
        const int k = strcmp(name, "decoder.token_embedding.weight") == 0 ? 0 : g_qnext++ % 5;
        put32(n_dims);
        put32((int32_t)strlen(name));
        put32(q_code[k]);
        put32(ne0);
        put32(ne1);
        put(name, strlen(name));
        put(NULL, (size_t)ne0 / 32 * (size_t)ne1 * (size_t)q_size[k]);
        return;
    }
    put32(n_dims);
    put32((int32_t)strlen(name));
    put32(type);
    const int32_t ne[3] = {ne0, ne1, ne2};
    for (int d = 0; d < n_dims; d++)
        put32(ne[d]);
    put(name, strlen(name));
    put(NULL, (size_t)ne0 * (size_t)ne1 * (size_t)ne2 * (type == 1 ? 2u : 4u));
}

static void attn(const char *pre, int n)
{
    char b[96];
    static const char *const parts[] = {"query", "key", "value", "out"};
    for (int i = 0; i < 4; i++) {
        snprintf(b, sizeof b, "%s%s.weight", pre, parts[i]);
        tensor(b, 1, 2, n, n, 1);
        if (i != 1) {
            snprintf(b, sizeof b, "%s%s.bias", pre, parts[i]);
            tensor(b, 0, 1, n, 1, 1);
        }
    }
}

static void block(const char *pre, int n, int cross)
{
    char b[96];
    snprintf(b, sizeof b, "%sattn.", pre);
    attn(b, n);
    const char *lns[3] = {"attn_ln", "mlp_ln", "cross_attn_ln"};
    for (int i = 0; i < (cross ? 3 : 2); i++) {
        snprintf(b, sizeof b, "%s%s.weight", pre, lns[i]);
        tensor(b, 0, 1, n, 1, 1);
        snprintf(b, sizeof b, "%s%s.bias", pre, lns[i]);
        tensor(b, 0, 1, n, 1, 1);
    }
    snprintf(b, sizeof b, "%smlp.0.weight", pre);
    tensor(b, 1, 2, n, 4 * n, 1);
    snprintf(b, sizeof b, "%smlp.0.bias", pre);
    tensor(b, 0, 1, 4 * n, 1, 1);
    snprintf(b, sizeof b, "%smlp.2.weight", pre);
    tensor(b, 1, 2, 4 * n, n, 1);
    snprintf(b, sizeof b, "%smlp.2.bias", pre);
    tensor(b, 0, 1, n, 1, 1);
    if (cross) {
        snprintf(b, sizeof b, "%scross_attn.", pre);
        attn(b, n);
    }
}

static void build_min_model(int quant)
{
    const int n = quant ? 32 : 4, n_vocab = 51864;
    g_quant = quant;
    g_qnext = 0;
    g_base = NULL;
    g_len = g_cap = 0;
    put32(0x67676d6c);
    const int32_t hp[11] = {n_vocab, 1, n, 1, 1, 1, n, 1, 1, 80, quant ? 2007 : 1};
    for (int i = 0; i < 11; i++)
        put32(hp[i]);
    put32(80);
    put32(201);
    put(NULL, 80 * 201 * 4);
    put32(3);
    static const char *const toks[3] = {"!", "hello", ""};
    for (int i = 0; i < 3; i++) {
        put32((int32_t)strlen(toks[i]));
        put(toks[i], strlen(toks[i]));
    }
    tensor("encoder.positional_embedding", 0, 2, n, 1, 1);
    tensor("encoder.conv1.weight", 1, 3, 3, 80, n);
    tensor("encoder.conv1.bias", 0, 2, 1, n, 1);
    tensor("encoder.conv2.weight", 1, 3, 3, n, n);
    tensor("encoder.conv2.bias", 0, 2, 1, n, 1);
    block("encoder.blocks.0.", n, 0);
    tensor("encoder.ln_post.weight", 0, 1, n, 1, 1);
    tensor("encoder.ln_post.bias", 0, 1, n, 1, 1);
    tensor("decoder.positional_embedding", 0, 2, n, 1, 1);
    tensor("decoder.token_embedding.weight", 1, 2, n, n_vocab, 1);
    block("decoder.blocks.0.", n, 1);
    tensor("decoder.ln.weight", 0, 1, n, 1, 1);
    tensor("decoder.ln.bias", 0, 1, n, 1, 1);
}

static void discard_sink(mdc_log_level level, const char *func, const char *msg, void *u)
{
    (void)level, (void)func, (void)msg, (void)u;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    mdc_log_set_sink(discard_sink, NULL);
    g_fd = memfd_create("fuzz-model", MFD_CLOEXEC);
    snprintf(g_path, sizeof g_path, "/proc/self/fd/%d", g_fd);
    for (int q = 0; q < 2; q++) {
        build_min_model(q);
        g_bases[q] = g_base;
        g_lens[q] = g_len;
        /* the unmodified file must load: otherwise the harness tests nothing */
        if (g_fd < 0 || ftruncate(g_fd, 0) != 0 || pwrite(g_fd, g_base, g_len, 0) != (ssize_t)g_len)
            abort();
        wsp_model *m = NULL;
        if (wsp_model_load(g_path, &m, NULL) != 0)
            abort();
        wsp_model_free(m);
    }
    const char *dump = getenv("MDC_FUZZ_DUMP_BASE");
    if (dump) {
        FILE *f = fopen(dump, "wb");
        if (!f || fwrite(g_bases[1], 1, g_lens[1], f) != g_lens[1] || fclose(f) != 0)
            abort();
    }
    g_work = malloc(g_lens[1] > g_lens[0] ? g_lens[1] : g_lens[0]);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint32_t pick = fuzz_cut_word(data, size) >> 31;
    g_base = g_bases[pick];
    g_len = g_lens[pick];
    const size_t len = fuzz_apply_edits_masked(g_base, g_len, data, size, g_work, 0x7fffffffu);
    if (ftruncate(g_fd, 0) != 0 || pwrite(g_fd, g_work, len, 0) != (ssize_t)len)
        return 0;
    wsp_model *m = NULL;
    wsp_error err;
    const int rc = wsp_model_load(g_path, &m, &err);
    if (rc == 0) {
        /* a model that loads must be consistent */
        const wsp__vocab *v = wsp__model_vocab(m);
        volatile size_t sum = 0;
        for (int32_t id = 0; id < v->n_vocab; id += 97) /* every text must be readable */
            sum = sum + strlen(wsp_token_text(m, id)) + v->len[id];
        sum = sum + strlen(wsp_token_text(m, v->n_vocab - 1));
        (void)sum;
        (void)wsp_model_type_name(m);
        if (!wsp_model_ftype_name(m))
            abort(); /* a loaded model has a known weight type */
        /* the per-type table (model info, /v1/models) adds up to the loader's totals */
        wsp_tensor_type_stats ts[WSP_MAX_TENSOR_TYPES];
        const int nt = wsp_model_tensor_types(m, ts, WSP_MAX_TENSOR_TYPES);
        uint64_t bytes = 0;
        int tensors = 0;
        for (int i = 0; i < nt && i < WSP_MAX_TENSOR_TYPES; i++) {
            bytes += ts[i].n_bytes;
            tensors += ts[i].n_tensors;
        }
        if (nt > WSP_MAX_TENSOR_TYPES || bytes != wsp_model_tensor_bytes(m) ||
            tensors != wsp_model_n_tensors(m) || !wsp_model_weight_type(m))
            abort();
        wsp_model_free(m);
    } else {
        if (m != NULL || err.message[0] == '\0')
            abort(); /* a failure leaves no model behind and always explains itself */
        if (getenv("MDC_FUZZ_VERBOSE"))
            fprintf(stderr, "load: %s\n", err.message);
    }
    return 0;
}
