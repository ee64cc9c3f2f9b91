/*
 * test_whisper_model.c — model loading: accessors on the good micro/tiny-dims/base-dims
 * models, and every kind of bad file built from a corrupted copy of micro in a temp dir
 * (truncations at several offsets, wrong magic, absurd hparams, missing / duplicated /
 * unknown / misshapen tensors, unknown ttype, data past the end).  Each bad file must give
 * the right code and a message naming the problem, no crash, no leak (ASan run).
 */
#include "testutil.h"

#include "whisper/engine.h"

#include <unistd.h>

/* Byte layout of a model file, found by walking it (independently of the loader). */
typedef struct rec {
    size_t hdr, ttype_off, ne0_off, name_off, data;
    int name_len, n_dims, ttype;
    size_t nbytes;
    char name[96];
} rec;

typedef struct layout {
    uint8_t *b;
    size_t len;
    size_t filters, vocab, tensors; /* offsets of the three sections */
    rec *r;
    int n;
} layout;

static int32_t rd(const uint8_t *b, size_t off)
{
    int32_t v;
    memcpy(&v, b + off, 4);
    return v;
}

static void wr(uint8_t *b, size_t off, int32_t v) { memcpy(b + off, &v, 4); }

static layout g_micro;
static char g_dir[256];

static int parse(layout *L)
{
    size_t p = 48;
    L->filters = p;
    p += 8 + (size_t)rd(L->b, p) * (size_t)rd(L->b, p + 4) * 4;
    L->vocab = p;
    const int n_tok = rd(L->b, p);
    p += 4;
    for (int i = 0; i < n_tok; i++)
        p += 4 + (size_t)rd(L->b, p);
    L->tensors = p;
    L->r = calloc(2000, sizeof *L->r);
    while (p < L->len) {
        rec *r = &L->r[L->n++];
        r->hdr = p;
        r->n_dims = rd(L->b, p);
        r->name_len = rd(L->b, p + 4);
        r->ttype_off = p + 8;
        r->ttype = rd(L->b, p + 8);
        r->ne0_off = p + 12;
        size_t nel = 1;
        for (int d = 0; d < r->n_dims; d++)
            nel *= (size_t)rd(L->b, p + 12 + 4 * (size_t)d);
        r->name_off = p + 12 + 4 * (size_t)r->n_dims;
        memcpy(r->name, L->b + r->name_off, (size_t)r->name_len);
        r->data = r->name_off + (size_t)r->name_len;
        /* ggml block sizes: f32, f16, q4_0, q4_1, -, -, q5_0, q5_1, q8_0 */
        static const int blck[9] = {1, 1, 32, 32, 0, 0, 32, 32, 32};
        static const int bsz[9] = {4, 2, 18, 20, 0, 0, 22, 24, 34};
        if (r->ttype < 0 || r->ttype > 8 || !blck[r->ttype])
            return -1;
        r->nbytes = nel / (size_t)blck[r->ttype] * (size_t)bsz[r->ttype];
        p = r->data + r->nbytes;
    }
    return p == L->len ? 0 : -1;
}

static int setup(void **state)
{
    (void)state;
    const char *path = tu_model("micro");
    if (!tu_exists(path))
        return 0; /* tests skip */
    g_micro.b = tu_read_file(path, &g_micro.len);
    if (!g_micro.b || parse(&g_micro))
        return -1;
    snprintf(g_dir, sizeof g_dir, "/tmp/mdc-test-model-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(g_micro.b);
    free(g_micro.r);
    if (g_dir[0])
        rmdir(g_dir);
    return 0;
}

/* Writes `len` bytes to a temp file, loads it, expects `code` and `needle` in the message. */
static void expect_load(const char *what, const uint8_t *b, size_t len, int code, const char *needle)
{
    char path[300];
    snprintf(path, sizeof path, "%s/bad.bin", g_dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, len, f), len);
    fclose(f);
    wsp_model *m = (wsp_model *)&path; /* must be reset to NULL on failure */
    wsp_error err = {0};
    int rc = wsp_model_load(path, &m, &err);
    print_message("%-34s -> %s: %s\n", what, wsp_err_name(rc), err.message);
    unlink(path);
    if (rc == 0)
        wsp_model_free(m);
    assert_int_equal(rc, code);
    assert_null(m);
    assert_int_equal(err.code, code);
    if (needle && !strstr(err.message, needle))
        fail_msg("%s: message \"%s\" does not name \"%s\"", what, err.message, needle);
}

/* A modifiable copy of micro. */
static uint8_t *copy(void)
{
    uint8_t *c = malloc(g_micro.len);
    memcpy(c, g_micro.b, g_micro.len);
    return c;
}

#define NEED_MICRO() TU_REQUIRE_FILE(tu_model("micro"))

static void test_good_models(void **state)
{
    (void)state;
    static const struct { const char *preset, *type; int n_tensors, n; } want[] = {
        {"micro", "unknown", 89, 64}, {"tiny-dims", "tiny", 167, 384}, {"base-dims", "base", 245, 512}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *path = tu_model(want[i].preset);
        TU_REQUIRE_FILE(path);
        wsp_model *m = NULL;
        wsp_error err;
        int rc = wsp_model_load(path, &m, &err);
        if (rc)
            fail_msg("%s: %s", path, err.message);
        const wsp_hparams *hp = wsp_model_hparams(m);
        assert_int_equal(wsp_model_n_tensors(m), want[i].n_tensors);
        assert_string_equal(wsp_model_type_name(m), want[i].type);
        assert_string_equal(wsp_model_ftype_name(m), "f16");
        assert_true(wsp_model_is_multilingual(m));
        assert_int_equal(hp->n_vocab, 51865);
        assert_int_equal(hp->n_audio_state, want[i].n);
        assert_int_equal(hp->n_mels, 80);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(wsp_model_file_bytes(m), (uint64_t)st.st_size);
        assert_true(wsp_model_tensor_bytes(m) < wsp_model_file_bytes(m));
        assert_true(wsp_model_tensor_bytes(m) > wsp_model_file_bytes(m) / 2);
        /* special tokens (README "Special token ids") */
        const wsp__vocab *v = wsp__model_vocab(m);
        assert_int_equal(v->eot, 50257);
        assert_int_equal(v->sot, 50258);
        assert_int_equal(v->lang_first, 50259);
        assert_int_equal(v->translate, 50358);
        assert_int_equal(v->transcribe, 50359);
        assert_int_equal(v->solm, 50360);
        assert_int_equal(v->prev, 50361);
        assert_int_equal(v->nosp, 50362);
        assert_int_equal(v->notimestamps, 50363);
        assert_int_equal(v->beg, 50364);
        assert_int_equal(v->n_langs, 99);
        assert_int_equal(v->n_base, 50257);
        assert_int_equal(wsp_token_beg(m), 50364);
        assert_int_equal(wsp_token_eot(m), 50257);
        assert_string_equal(wsp_token_text(m, 50258), "[_SOT_]");
        assert_string_equal(wsp_token_text(m, 50259), "[_LANG_en]");
        assert_string_equal(wsp_token_text(m, 50364), "[_BEG_]");
        assert_string_equal(wsp_token_text(m, 51864), "[_TT_1500]");
        assert_string_equal(wsp_token_text(m, 0), "!");
        assert_int_equal(v->len[0], 1);
        assert_string_equal(wsp_token_text(m, 50256), ""); /* the empty base token */
        assert_string_equal(wsp_token_text(m, -1), "");
        assert_string_equal(wsp_token_text(m, 51865), "");
        wsp_model_free(m);
    }
}

static void test_errors_table(void **state)
{
    (void)state;
    assert_string_equal(wsp_err_name(WSP_ETRUNC), "WSP_ETRUNC");
    assert_string_equal(wsp_strerror(WSP_ETRUNC), "model file is truncated");
    assert_string_equal(wsp_err_name(0), "WSP_OK");
    assert_non_null(wsp_strerror(-999));
    assert_non_null(wsp_err_name(-999));
    wsp_model_free(NULL);
    wsp_model *m = (wsp_model *)&m;
    wsp_error err;
    assert_int_equal(wsp_model_load("/nonexistent/model.bin", &m, &err), WSP_EIO);
    assert_null(m);
    assert_non_null(strstr(err.message, "/nonexistent/model.bin"));
    assert_int_equal(wsp_model_load("/tmp", &m, &err), WSP_EIO);
    assert_int_equal(wsp_model_load(NULL, &m, NULL), WSP_EINVAL);
}

static void test_truncated(void **state)
{
    (void)state;
    NEED_MICRO();
    const layout *L = &g_micro;
    const rec *t5 = &L->r[5], *last = &L->r[L->n - 1];
    struct { const char *what; size_t len; const char *needle; } cases[] = {
        {"empty file", 0, "too short"},
        {"inside magic", 2, "too short"},
        {"inside hparams", 20, "hyperparameters"},
        {"inside filterbank", L->filters + 1000, "filterbank"},
        {"inside vocabulary", L->vocab + 5000, "vocabulary"},
        {"inside a tensor header", t5->hdr + 6, "tensor header"},
        {"inside a tensor name", t5->name_off + 3, "tensor name"},
        {"inside a tensor's data", t5->data + 10, t5->name},
        {"inside the last tensor's data", last->data + last->nbytes - 1, "past the end"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_load(cases[i].what, L->b, cases[i].len, WSP_ETRUNC, cases[i].needle);
    /* cut exactly at a record boundary: the following tensors are missing */
    expect_load("cut between tensors", L->b, last->hdr, WSP_ETENSOR, last->name);
}

static void test_bad_header(void **state)
{
    (void)state;
    NEED_MICRO();
    uint8_t *c = copy();
    wr(c, 0, 0x12345678);
    expect_load("wrong magic", c, g_micro.len, WSP_EMAGIC, "magic");
    free(c);

    /* hparams: index into the eleven int32 after the magic */
    struct { const char *what; int idx; int32_t value; int code; const char *needle; } hp[] = {
        {"negative n_vocab", 0, -5, WSP_EHPARAMS, "n_vocab"},
        {"zero n_audio_ctx", 1, 0, WSP_EHPARAMS, "n_audio_ctx"},
        {"huge n_audio_state", 2, 1 << 30, WSP_EHPARAMS, "n_audio_state"},
        {"negative n_audio_head", 3, -1, WSP_EHPARAMS, "n_audio_head"},
        {"huge n_audio_layer", 4, 1 << 30, WSP_EHPARAMS, "n_audio_layer"},
        {"huge n_text_ctx", 5, INT32_MAX, WSP_EHPARAMS, "n_text_ctx"},
        {"n_audio_state != n_text_state", 6, 128, WSP_EHPARAMS, "n_text_state"},
        {"heads do not divide width", 3, 3, WSP_EHPARAMS, "divisible"},
        {"n_mels 81", 9, 81, WSP_EHPARAMS, "n_mels"},
        {"k-quant ftype (q4_K)", 10, 2012, WSP_ETYPE, "q4_k"},
        {"quantization version 1 (q5_0)", 10, 1008, WSP_ETYPE, "version 1"},
        {"unknown ftype", 10, 7777, WSP_ETYPE, "ftype"},
        {"n_vocab too small", 0, 1000, WSP_EHPARAMS, "n_vocab"},
        {"n_vocab 51866 vs embedding", 0, 51866, WSP_ETENSOR, "decoder.token_embedding.weight"},
        {"more layers than tensors", 8, 3, WSP_ETENSOR, "decoder.blocks.2"},
    };
    for (size_t i = 0; i < sizeof hp / sizeof hp[0]; i++) {
        c = copy();
        wr(c, 4 + 4 * (size_t)hp[i].idx, hp[i].value);
        expect_load(hp[i].what, c, g_micro.len, hp[i].code, hp[i].needle);
        free(c);
    }

    c = copy();
    wr(c, g_micro.filters + 4, 200);
    expect_load("filterbank 80 x 200", c, g_micro.len, WSP_EVOCAB, "filterbank");
    free(c);
    c = copy();
    wr(c, g_micro.vocab, -1);
    expect_load("vocabulary size -1", c, g_micro.len, WSP_EVOCAB, "vocabulary");
    free(c);
    c = copy();
    wr(c, g_micro.vocab, 60000);
    expect_load("vocabulary larger than n_vocab", c, g_micro.len, WSP_EVOCAB, "vocabulary");
    free(c);
    c = copy();
    wr(c, g_micro.vocab + 4, 1 << 30);
    expect_load("token length 2^30", c, g_micro.len, WSP_EVOCAB, "token 0");
    free(c);
}

static void test_bad_tensors(void **state)
{
    (void)state;
    NEED_MICRO();
    const layout *L = &g_micro;
    const rec *t = &L->r[7];
    const size_t rec_len = t->data + t->nbytes - t->hdr;

    /* missing: the file without record 7 */
    uint8_t *c = malloc(L->len + rec_len);
    memcpy(c, L->b, t->hdr);
    memcpy(c + t->hdr, L->b + t->hdr + rec_len, L->len - t->hdr - rec_len);
    expect_load("missing tensor", c, L->len - rec_len, WSP_ETENSOR, t->name);
    /* duplicated: record 7 appended again */
    memcpy(c, L->b, L->len);
    memcpy(c + L->len, L->b + t->hdr, rec_len);
    expect_load("duplicated tensor", c, L->len + rec_len, WSP_ETENSOR, "twice");
    free(c);

    c = copy();
    wr(c, t->ttype_off, 12);
    expect_load("k-quant ttype 12 (q4_K)", c, L->len, WSP_ETYPE, "q4_K");
    free(c);
    c = copy();
    wr(c, t->ttype_off, 99);
    expect_load("unknown ttype 99", c, L->len, WSP_ETYPE, "type code 99");
    free(c);
    c = copy();
    /* a bias (f32 only) typed f16 */
    const rec *w = NULL;
    for (int i = 0; i < L->n && !w; i++)
        if (L->r[i].n_dims == 1)
            w = &L->r[i];
    assert_non_null(w);
    wr(c, w->ttype_off, 1);
    expect_load("vector tensor typed f16", c, L->len, WSP_ETYPE, w->name);
    free(c);

    c = copy();
    c[t->name_off] = 'X';
    expect_load("unknown tensor name", c, L->len, WSP_ETENSOR, "unknown tensor");
    free(c);
    c = copy();
    wr(c, t->ne0_off, rd(L->b, t->ne0_off) + 1);
    expect_load("wrong shape", c, L->len, WSP_ETENSOR, t->name);
    free(c);
    c = copy();
    wr(c, t->ne0_off, -64);
    expect_load("negative dimension", c, L->len, WSP_ETENSOR, "dimension");
    free(c);
    c = copy();
    wr(c, t->hdr, 9);
    expect_load("n_dims 9", c, L->len, WSP_ETENSOR, "n_dims");
    free(c);
    c = copy();
    wr(c, t->hdr + 4, 100000);
    expect_load("name_len 100000", c, L->len, WSP_ETENSOR, "name_len");
    free(c);
    /* a record whose data would run past the end: the last tensor declared larger rows */
    const rec *last = &L->r[L->n - 1];
    c = copy();
    wr(c, last->ttype_off, last->ttype == 1 ? 0 : 1);
    expect_load("last tensor retyped", c, L->len, last->ttype == 1 ? WSP_ETYPE : WSP_ETYPE, last->name);
    free(c);
    /* trailing garbage after the last tensor: an incomplete header */
    c = malloc(L->len + 5);
    memcpy(c, L->b, L->len);
    memset(c + L->len, 0xff, 5);
    expect_load("5 bytes of trailing garbage", c, L->len + 5, WSP_ETRUNC, "tensor header");
    free(c);
}


/* The pack's quantized micro files: each loads with its type, and bad variants of
 * micro-q5_0 (README-round2 §4 layouts) each give a clear error. */
static void test_quantized(void **state)
{
    (void)state;
    static const char *const types[] = {"q4_0", "q4_1", "q5_0", "q5_1", "q8_0"};
    char preset[32];
    for (int i = 0; i < 5; i++) {
        snprintf(preset, sizeof preset, "micro-%s", types[i]);
        TU_REQUIRE_FILE(tu_model(preset));
        wsp_model *m = NULL;
        wsp_error err;
        if (wsp_model_load(tu_model(preset), &m, &err))
            fail_msg("%s: %s", preset, err.message);
        assert_string_equal(wsp_model_ftype_name(m), types[i]);
        assert_int_equal(wsp_model_n_tensors(m), 89);
        print_message("%s: %d tensors, %llu tensor bytes of %llu\n", preset, wsp_model_n_tensors(m),
                      (unsigned long long)wsp_model_tensor_bytes(m),
                      (unsigned long long)wsp_model_file_bytes(m));
        wsp_model_free(m);
    }
    layout q = {0};
    q.b = tu_read_file(tu_model("micro-q5_0"), &q.len);
    assert_non_null(q.b);
    assert_int_equal(parse(&q), 0);
    const rec *t = NULL; /* the first quantized matrix */
    for (int i = 0; i < q.n && !t; i++)
        if (q.r[i].ttype == 6)
            t = &q.r[i];
    assert_non_null(t);
    uint8_t *c = malloc(q.len);
    /* the file ends inside a block of the last quantized tensor */
    const rec *lq = NULL;
    for (int i = q.n - 1; i >= 0 && !lq; i--)
        if (q.r[i].ttype == 6)
            lq = &q.r[i];
    memcpy(c, q.b, q.len);
    const size_t cut = lq->data + lq->nbytes - 11; /* half a 22-byte block short */
    expect_load("quantized tensor not whole blocks", c, cut, WSP_ETRUNC, "q5_0 blocks of 22 bytes");
    /* a quantized row length that is not a multiple of 32 */
    memcpy(c, q.b, q.len);
    wr(c, t->ne0_off, rd(q.b, t->ne0_off) - 16);
    expect_load("q5_0 row of 48 elements", c, q.len, WSP_ETENSOR, "not a multiple of its block size 32");
    /* an unknown type code, and a k-quant, on a quantized tensor */
    memcpy(c, q.b, q.len);
    wr(c, t->ttype_off, 42);
    expect_load("q5_0 tensor with type code 42", c, q.len, WSP_ETYPE, "unknown type code 42");
    memcpy(c, q.b, q.len);
    wr(c, t->ttype_off, 14);
    expect_load("q5_0 tensor typed q6_K", c, q.len, WSP_ETYPE, "q6_K (code 14)");
    /* a k-quant file: header ftype q6_K (2014) */
    memcpy(c, q.b, q.len);
    wr(c, 44, 2014);
    expect_load("k-quant file (ftype 2014)", c, q.len, WSP_ETYPE, "q6_k");
    /* a quantized conv kernel (rows of 3 elements) and a quantized bias */
    const rec *conv = NULL, *bias = NULL;
    for (int i = 0; i < q.n; i++) {
        if (!conv && strcmp(q.r[i].name, "encoder.conv1.weight") == 0)
            conv = &q.r[i];
        if (!bias && q.r[i].n_dims == 1 && rd(q.b, q.r[i].ne0_off) % 32 == 0)
            bias = &q.r[i];
    }
    assert_non_null(conv);
    assert_non_null(bias);
    memcpy(c, q.b, q.len);
    wr(c, conv->ttype_off, 8);
    expect_load("conv kernel typed q8_0", c, q.len, WSP_ETENSOR, "rows of 3 elements");
    memcpy(c, q.b, q.len);
    wr(c, bias->ttype_off, 8);
    expect_load("bias typed q8_0", c, q.len, WSP_ETYPE, bias->name);
    free(c);
    free(q.b);
    free(q.r);
}

/* Growable byte buffer for rebuilding model files. */
typedef struct obuf {
    uint8_t *b;
    size_t len, cap;
} obuf;

static void put(obuf *o, const void *p, size_t n)
{
    if (o->len + n > o->cap) {
        o->cap = (o->len + n) * 2;
        o->b = realloc(o->b, o->cap);
    }
    if (p)
        memcpy(o->b + o->len, p, n);
    else
        memset(o->b + o->len, 0, n);
    o->len += n;
}

static void put32(obuf *o, int32_t v) { put(o, &v, 4); }

/* micro rewritten with another n_vocab / n_mels / vocabulary size: the filterbank, the
 * token embedding and conv1 are resized (new rows zero), everything else copied. */
static obuf rebuild(int32_t n_vocab, int32_t n_mels, int32_t n_tok)
{
    const layout *L = &g_micro;
    obuf o = {0};
    put(&o, L->b, 4);
    for (int i = 0; i < 11; i++)
        put32(&o, i == 0 ? n_vocab : i == 9 ? n_mels : rd(L->b, 4 + 4 * (size_t)i));
    put32(&o, n_mels);
    put32(&o, 201);
    const int32_t old_mels = rd(L->b, L->filters);
    put(&o, L->b + L->filters + 8, (size_t)(n_mels < old_mels ? n_mels : old_mels) * 201 * 4);
    if (n_mels > old_mels)
        put(&o, NULL, (size_t)(n_mels - old_mels) * 201 * 4);
    put32(&o, n_tok);
    size_t p = L->vocab + 4;
    for (int i = 0; i < n_tok; i++) {
        const size_t len = 4 + (size_t)rd(L->b, p);
        put(&o, L->b + p, len);
        p += len;
    }
    for (int r = 0; r < L->n; r++) {
        const rec *t = &L->r[r];
        int is_emb = strcmp(t->name, "decoder.token_embedding.weight") == 0;
        int is_conv1 = strcmp(t->name, "encoder.conv1.weight") == 0;
        if (!is_emb && !is_conv1) {
            put(&o, L->b + t->hdr, t->data + t->nbytes - t->hdr);
            continue;
        }
        put(&o, L->b + t->hdr, t->ne0_off - t->hdr); /* n_dims, name_len, ttype */
        int32_t ne[3] = {rd(L->b, t->ne0_off), rd(L->b, t->ne0_off + 4), 1};
        if (t->n_dims > 2)
            ne[2] = rd(L->b, t->ne0_off + 8);
        ne[1] = is_emb ? n_vocab : n_mels;
        for (int d = 0; d < t->n_dims; d++)
            put32(&o, ne[d]);
        put(&o, t->name, (size_t)t->name_len);
        const size_t want = (size_t)ne[0] * (size_t)ne[1] * (size_t)ne[2] * 2;
        if (is_emb) { /* same rows, one row more or fewer */
            put(&o, L->b + t->data, want < t->nbytes ? want : t->nbytes);
            if (want > t->nbytes)
                put(&o, NULL, want - t->nbytes);
        } else {
            put(&o, NULL, want);
        }
    }
    return o;
}

static void test_special_token_variants(void **state)
{
    (void)state;
    NEED_MICRO();
    char path[300];
    snprintf(path, sizeof path, "%s/variant.bin", g_dir);
    struct {
        const char *what;
        int32_t n_vocab, n_mels, n_tok;
        int multi, eot, sot, translate, transcribe, notimestamps, beg, n_langs;
        int32_t lang_id;
        const char *lang_text;
    } v[] = {
        /* ref: whisper-ref README "Special token ids"; whisper.cpp whisper_model_load */
        {"multilingual", 51865, 80, 50257, 1, 50257, 50258, 50358, 50359, 50363, 50364, 99, 50357, "[_LANG_su]"},
        {".en (gpt2 vocabulary)", 51864, 80, 50256, 0, 50256, 50257, 50357, 50358, 50362, 50363, 99, -1, NULL},
        {"large-v3 (128 mels, yue)", 51866, 128, 50257, 1, 50257, 50258, 50359, 50360, 50364, 50365, 100, 50358, "[_LANG_yue]"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        obuf o = rebuild(v[i].n_vocab, v[i].n_mels, v[i].n_tok);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(o.b, 1, o.len, f), o.len);
        fclose(f);
        free(o.b);
        wsp_model *m = NULL;
        wsp_error err;
        int rc = wsp_model_load(path, &m, &err);
        unlink(path);
        if (rc)
            fail_msg("%s: %s", v[i].what, err.message);
        const wsp__vocab *w = wsp__model_vocab(m);
        print_message("%-26s eot %d sot %d translate %d transcribe %d notimestamps %d beg %d langs %d\n",
                      v[i].what, w->eot, w->sot, w->translate, w->transcribe, w->notimestamps,
                      w->beg, w->n_langs);
        assert_int_equal(wsp_model_is_multilingual(m), v[i].multi);
        assert_int_equal(wsp_model_hparams(m)->n_mels, v[i].n_mels);
        assert_int_equal(w->eot, v[i].eot);
        assert_int_equal(w->sot, v[i].sot);
        assert_int_equal(w->translate, v[i].translate);
        assert_int_equal(w->transcribe, v[i].transcribe);
        assert_int_equal(w->solm, v[i].transcribe + 1);
        assert_int_equal(w->prev, v[i].transcribe + 2);
        assert_int_equal(w->nosp, v[i].transcribe + 3);
        assert_int_equal(w->notimestamps, v[i].notimestamps);
        assert_int_equal(w->beg, v[i].beg);
        assert_int_equal(w->n_langs, v[i].n_langs);
        assert_int_equal(w->n_base, v[i].n_tok);
        assert_string_equal(wsp_token_text(m, w->eot), "[_EOT_]");
        assert_string_equal(wsp_token_text(m, w->beg), "[_BEG_]");
        assert_string_equal(wsp_token_text(m, v[i].n_vocab - 1), "[_TT_1500]");
        if (v[i].lang_text)
            assert_string_equal(wsp_token_text(m, v[i].lang_id), v[i].lang_text);
        wsp_model_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_models),
        cmocka_unit_test(test_errors_table),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_bad_header),
        cmocka_unit_test(test_bad_tensors),
        cmocka_unit_test(test_quantized),
        cmocka_unit_test(test_special_token_variants),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
