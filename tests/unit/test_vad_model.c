/*
 * test_vad_model.c — the Silero VAD loader refuses every malformed file with a clear
 * error and never crashes (the same discipline as the Whisper loader):
 *  - the real model loads; its description and window;
 *  - truncated at every offset of the header and around every tensor boundary, and at
 *    200 pseudo-random offsets: VAD_ETRUNC (or another clean error), never a success;
 *  - corrupted fields: magic, type length/string, version, window/context, encoder
 *    sizes, LSTM sizes, tensor dims/name/type, an unknown, a duplicate and a missing
 *    tensor — each with the expected code and a message naming the problem;
 *  - regressions from tests/fuzz/regressions/vad_model (if any) load or fail cleanly.
 */
#include "testutil.h"

#include "mdc/vad.h"
#include "../fuzz/fuzz_edits.h"

#include <dirent.h>
#include <unistd.h>

static const char *silero(void) { return tu_shared("whisper-ref/models/ggml-silero-v6.2.0.bin"); }

static uint8_t *g_file;
static size_t g_len;
static char g_tmp[256];

static int setup(void **state)
{
    (void)state;
    g_file = tu_read_file(silero(), &g_len);
    snprintf(g_tmp, sizeof g_tmp, "/tmp/mdc_vad_model_%d.bin", (int)getpid());
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(g_file);
    unlink(g_tmp);
    return 0;
}

/* Writes bytes to the temp file and loads it; returns the code, fills msg. */
static int load_bytes(const uint8_t *b, size_t n, char *msg, size_t msglen)
{
    FILE *f = fopen(g_tmp, "wb");
    assert_non_null(f);
    if (n)
        assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
    vad_model *m = NULL;
    vad_error err = {0};
    int rc = vad_model_load(g_tmp, &m, &err);
    if (rc == 0) {
        assert_non_null(m);
        vad_model_free(m);
    } else {
        assert_null(m);
        assert_int_equal(err.code, rc);
        assert_true(err.message[0] != '\0');
    }
    if (msg)
        snprintf(msg, msglen, "%s", err.message);
    return rc;
}

static void test_real_model_loads(void **state)
{
    (void)state;
    TU_REQUIRE_FILE(silero());
    vad_model *m = NULL;
    vad_error err = {0};
    assert_int_equal(vad_model_load(silero(), &m, &err), 0);
    assert_string_equal(vad_model_description(m), "silero-16k 6.2.0");
    assert_int_equal(vad_model_n_window(m), 512);
    assert_int_equal(vad_model_file_bytes(m), 885098);
    vad_model_free(m);
    vad_model_free(NULL);
    assert_int_equal(vad_model_load("/nonexistent/x.bin", &m, &err), VAD_EIO);
    assert_null(m);
    assert_non_null(strstr(err.message, "/nonexistent/x.bin"));
    assert_int_equal(vad_model_load(NULL, &m, &err), VAD_EINVAL);
    assert_int_equal(vad_model_load("/tmp", &m, &err), VAD_EIO);
    assert_string_equal(vad_err_name(VAD_ETRUNC), "VAD_ETRUNC");
    assert_string_equal(vad_strerror(12345), "unknown VAD error");
}

/* Offsets where each tensor record starts (walk of the known layout). */
static size_t tensor_offsets(size_t *out, size_t cap)
{
    size_t n = 0, p = 4;
    int32_t v;
    memcpy(&v, g_file + p, 4);
    p += 4 + (size_t)v + 4 * (3 + 2 + 1 + 12 + 4);
    while (p + 12 <= g_len && n < cap) {
        out[n++] = p;
        int32_t nd, nl, tt;
        memcpy(&nd, g_file + p, 4);
        memcpy(&nl, g_file + p + 4, 4);
        memcpy(&tt, g_file + p + 8, 4);
        size_t nel = 1;
        for (int d = 0; d < nd; d++) {
            memcpy(&v, g_file + p + 12 + 4 * (size_t)d, 4);
            nel *= (size_t)v;
        }
        p += 12 + 4 * (size_t)nd + (size_t)nl + nel * (tt == 1 ? 2 : 4);
    }
    return n;
}

static void test_truncations(void **state)
{
    (void)state;
    TU_REQUIRE_FILE(silero());
    int n_checked = 0;
    for (size_t len = 0; len < 200; len++, n_checked++)
        assert_int_not_equal(load_bytes(g_file, len, NULL, 0), 0);
    size_t offs[32];
    size_t nt = tensor_offsets(offs, 32);
    assert_int_equal(nt, 15);
    for (size_t i = 0; i < nt; i++)
        for (int d = -3; d <= 40; d++, n_checked++) {
            size_t len = offs[i] + (size_t)d;
            if (len < g_len)
                assert_int_not_equal(load_bytes(g_file, len, NULL, 0), 0);
        }
    uint32_t x = 12345;
    for (int i = 0; i < 200; i++, n_checked++) {
        x = x * 1103515245u + 12345u;
        size_t len = (size_t)(x % (uint32_t)g_len);
        assert_int_not_equal(load_bytes(g_file, len, NULL, 0), 0);
    }
    char msg[512];
    assert_int_equal(load_bytes(g_file, g_len - 1, msg, sizeof msg), VAD_ETRUNC);
    assert_non_null(strstr(msg, "forward_basis_buffer"));
    print_message("  %d truncated files refused\n", n_checked);
}

/* A copy of the file with `n` bytes at `off` replaced. */
static int patched(size_t off, const void *bytes, size_t n, char *msg, size_t msglen)
{
    uint8_t *c = malloc(g_len);
    memcpy(c, g_file, g_len);
    memcpy(c + off, bytes, n);
    int rc = load_bytes(c, g_len, msg, msglen);
    free(c);
    return rc;
}

static void put32(int32_t v, uint8_t out[4]) { memcpy(out, &v, 4); }

static void test_corrupt_fields(void **state)
{
    (void)state;
    TU_REQUIRE_FILE(silero());
    char msg[512];
    uint8_t b[4];
    /* magic */
    assert_int_equal(patched(0, "lmgX", 4, msg, sizeof msg), VAD_EMAGIC);
    /* type length 0, huge, negative */
    put32(0, b);
    assert_int_equal(patched(4, b, 4, msg, sizeof msg), VAD_EHPARAMS);
    put32(1 << 30, b);
    assert_int_equal(patched(4, b, 4, msg, sizeof msg), VAD_EHPARAMS);
    put32(-5, b);
    assert_int_equal(patched(4, b, 4, msg, sizeof msg), VAD_EHPARAMS);
    /* type not silero; non-printable */
    assert_int_equal(patched(8, "whisp", 5, msg, sizeof msg), VAD_EHPARAMS);
    assert_non_null(strstr(msg, "not a Silero"));
    assert_int_equal(patched(9, "\x01", 1, msg, sizeof msg), VAD_EHPARAMS);
    /* header after "silero-16k" (10 bytes): 8 + 10 = 18 */
    const size_t h = 18;
    put32(-1, b);
    assert_int_equal(patched(h, b, 4, msg, sizeof msg), VAD_EHPARAMS); /* version major */
    put32(1024, b);
    assert_int_equal(patched(h + 12, b, 4, msg, sizeof msg), VAD_EHPARAMS); /* n_window */
    assert_non_null(strstr(msg, "n_window 1024"));
    put32(0, b);
    assert_int_equal(patched(h + 16, b, 4, msg, sizeof msg), VAD_EHPARAMS); /* n_context */
    put32(5, b);
    assert_int_equal(patched(h + 20, b, 4, msg, sizeof msg), VAD_EHPARAMS); /* n_layers */
    put32(130, b);
    assert_int_equal(patched(h + 24, b, 4, msg, sizeof msg), VAD_EHPARAMS); /* layer 0 in */
    assert_non_null(strstr(msg, "encoder layer 0"));
    put32(5, b);
    assert_int_equal(patched(h + 24 + 8, b, 4, msg, sizeof msg), VAD_EHPARAMS); /* kernel */
    put32(64, b);
    assert_int_equal(patched(h + 24 + 48 + 4, b, 4, msg, sizeof msg), VAD_EHPARAMS); /* hidden */

    size_t offs[32];
    tensor_offsets(offs, 32);
    const size_t t0 = offs[0]; /* encoder.0.reparam_conv.weight, 3 dims */
    put32(7, b);
    assert_int_equal(patched(t0, b, 4, msg, sizeof msg), VAD_ETENSOR); /* n_dims */
    put32(0, b);
    assert_int_equal(patched(t0 + 4, b, 4, msg, sizeof msg), VAD_ETENSOR); /* name length */
    put32(99999, b);
    assert_int_equal(patched(t0 + 4, b, 4, msg, sizeof msg), VAD_ETENSOR);
    put32(2, b);
    assert_int_equal(patched(t0 + 8, b, 4, msg, sizeof msg), VAD_ETYPE); /* q4_0 */
    put32(4, b);
    assert_int_equal(patched(t0 + 12, b, 4, msg, sizeof msg), VAD_ETENSOR); /* shape */
    assert_non_null(strstr(msg, "has shape"));
    put32(0, b);
    assert_int_equal(patched(t0 + 12, b, 4, msg, sizeof msg), VAD_ETENSOR); /* dim 0 */
    put32(-1, b);
    assert_int_equal(patched(t0 + 16, b, 4, msg, sizeof msg), VAD_ETENSOR);
    /* unknown name: change one letter of "_model.encoder.0…" */
    assert_int_equal(patched(t0 + 24 + 1, "X", 1, msg, sizeof msg), VAD_ETENSOR);
    assert_non_null(strstr(msg, "unknown tensor"));
    assert_int_equal(patched(t0 + 24 + 3, "\0", 1, msg, sizeof msg), VAD_ETENSOR); /* NUL */
    /* duplicate: rename tensor 2 (encoder.1.weight) as encoder.0's name → its shape
     * differs, so rename encoder.1.bias (64) to encoder.2.bias (64): a duplicate later */
    const size_t t3 = offs[3]; /* _model.encoder.1.reparam_conv.bias */
    assert_int_equal(patched(t3 + 16 + 15, "2", 1, msg, sizeof msg), VAD_ETENSOR);
    assert_non_null(strstr(msg, "twice"));
    /* missing: the file without its last tensor */
    assert_int_equal(load_bytes(g_file, offs[14], msg, sizeof msg), VAD_ETENSOR);
    assert_non_null(strstr(msg, "missing"));
    /* trailing garbage after the last tensor: a truncated tensor header */
    uint8_t *c = malloc(g_len + 5);
    memcpy(c, g_file, g_len);
    memset(c + g_len, 0x7f, 5);
    assert_int_equal(load_bytes(c, g_len + 5, msg, sizeof msg), VAD_ETRUNC);
    free(c);
}

/* fuzz_vad_model's input (fuzz_edits.h), applied here to the real model (the harness's
 * zero-weight file has its layout). */
static int apply_edits(const uint8_t *data, size_t size)
{
    uint8_t *w = malloc(g_len);
    const size_t len = fuzz_apply_edits(g_file, g_len, data, size, w);
    int rc = load_bytes(w, len, NULL, 0);
    if (rc == 0) { /* what loads must also run: NaN/inf weights included */
        vad_model *m = NULL;
        assert_int_equal(vad_model_load(g_tmp, &m, NULL), 0);
        float x[1500];
        for (int i = 0; i < 1500; i++)
            x[i] = (float)(i % 50) / 100.0f;
        float *probs = NULL;
        size_t np = 0;
        assert_int_equal(vad_detect(m, x, 1500, &probs, &np, NULL, NULL, NULL), 0);
        assert_int_equal(np, 3);
        vad_params vp = vad_default_params();
        vad_span *sp = NULL;
        size_t ns = 0;
        assert_int_equal(vad_segments_from_probs(probs, np, 512, &vp, &sp, &ns), 0);
        free(sp);
        free(probs);
        vad_model_free(m);
    }
    free(w);
    return rc;
}

/* Inputs kept from fuzz_vad_model (tests/fuzz/regressions/vad_model) load or fail cleanly. */
static void test_fuzz_regressions(void **state)
{
    (void)state;
    DIR *d = opendir("tests/fuzz/regressions/vad_model");
    if (!d)
        skip();
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[512];
        snprintf(p, sizeof p, "tests/fuzz/regressions/vad_model/%s", e->d_name);
        size_t len = 0;
        uint8_t *b = tu_read_file(p, &len);
        assert_non_null(b);
        (void)apply_edits(b, len);
        free(b);
        n++;
    }
    closedir(d);
    print_message("  %d regression files replayed\n", n);
    assert_true(n > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_model_loads),
        cmocka_unit_test(test_truncations),
        cmocka_unit_test(test_corrupt_fields),
        cmocka_unit_test(test_fuzz_regressions),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
