/*
 * model.c — maps a ggml Whisper model file read-only and validates all of it before use.
 *
 * One function walks the file in order (header, filterbank, vocabulary, tensors); every
 * offset and size is checked against the file length in 64-bit arithmetic before it is
 * read.  Weights are never copied: the model keeps typed views into the mapping.
 * ref: whisper-ref README "The model file format"; whisper.cpp whisper_model_load().
 */
#include "whisper/model.h"
#include "whisper/quantize.h"
#include "whisper/tokenizer.h"

#include "mdc/cursor.h"
#include "mdc/log.h"
#include "mdc/mapguard.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGML_MAGIC 0x67676d6cu /* "ggml" */
#define N_FFT_BINS (WSP_N_FFT / 2 + 1) /* 201 */

/* Sanity bounds for the header (far above any released Whisper: large has n 1280,
 * 32 layers, 20 heads, n_text_ctx 448, n_audio_ctx 1500, n_vocab 51866). */
#define MAX_STATE 8192
#define MAX_HEADS 256
#define MAX_LAYERS 256
#define MAX_VOCAB (1 << 20)
#define MAX_TEXT_CTX 16384
#define MAX_TOKEN_LEN 4096
#define MAX_NAME_LEN 255

/* Which type codes a tensor may have (bit = 1 << code).  Matrices of the projections and
 * the token embedding: any weight type in any mix (whisper-quantize quantizes them and
 * keeps the rest); conv kernels (rows of 3): f16 or f32; vectors, positional embeddings:
 * f32.  ref: README-round2 §4 "Quantized: every 2-D tensor except…". */
#define T_BIT(t) (1u << (t))
#define ALLOW_F32 T_BIT(WSP__T_F32)
#define ALLOW_FLOAT (T_BIT(WSP__T_F32) | T_BIT(WSP__T_F16))
#define ALLOW_ANY (ALLOW_FLOAT | T_BIT(WSP__T_Q4_0) | T_BIT(WSP__T_Q4_1) | T_BIT(WSP__T_Q5_0) | \
                   T_BIT(WSP__T_Q5_1) | T_BIT(WSP__T_Q8_0))

/* One expected tensor: name, shape (ggml ne order, padded with 1), allowed types, destination. */
typedef struct expect {
    char name[64];
    int64_t ne[4];
    unsigned allow; /* ALLOW_* mask */
    wsp__mat *dst;
    int found;
} expect;

typedef struct expect_list {
    expect *v;
    int n, cap;
} expect_list;

static void add_expect(expect_list *l, wsp__mat *dst, unsigned allow, int64_t ne0, int64_t ne1,
                       int64_t ne2, const char *prefix, const char *suffix)
{
    expect *e = &l->v[l->n++];
    if (snprintf(e->name, sizeof e->name, "%s%s", prefix, suffix) >= (int)sizeof e->name)
        e->name[0] = '\0'; /* cannot happen: names are < 64 bytes for < 1000 layers */
    e->ne[0] = ne0;
    e->ne[1] = ne1;
    e->ne[2] = ne2;
    e->ne[3] = 1;
    e->allow = allow;
    e->dst = dst;
    e->found = 0;
}

static void add_attn(expect_list *l, wsp__attn_w *a, unsigned wt, int64_t n, const char *fmt)
{
    add_expect(l, &a->q_w, wt, n, n, 1, fmt, "query.weight");
    add_expect(l, &a->q_b, ALLOW_F32, n, 1, 1, fmt, "query.bias");
    add_expect(l, &a->k_w, wt, n, n, 1, fmt, "key.weight");
    add_expect(l, &a->v_w, wt, n, n, 1, fmt, "value.weight");
    add_expect(l, &a->v_b, ALLOW_F32, n, 1, 1, fmt, "value.bias");
    add_expect(l, &a->o_w, wt, n, n, 1, fmt, "out.weight");
    add_expect(l, &a->o_b, ALLOW_F32, n, 1, 1, fmt, "out.bias");
}

/* prefix: "encoder.blocks.3." */
static void add_block_common(expect_list *l, wsp__block *b, unsigned wt, int64_t n, const char *fmt)
{
    char afmt[64];
    snprintf(afmt, sizeof afmt, "%sattn.", fmt);
    add_attn(l, &b->attn, wt, n, afmt);
    add_expect(l, &b->attn_ln_w, ALLOW_F32, n, 1, 1, fmt, "attn_ln.weight");
    add_expect(l, &b->attn_ln_b, ALLOW_F32, n, 1, 1, fmt, "attn_ln.bias");
    add_expect(l, &b->mlp0_w, wt, n, 4 * n, 1, fmt, "mlp.0.weight");
    add_expect(l, &b->mlp0_b, ALLOW_F32, 4 * n, 1, 1, fmt, "mlp.0.bias");
    add_expect(l, &b->mlp2_w, wt, 4 * n, n, 1, fmt, "mlp.2.weight");
    add_expect(l, &b->mlp2_b, ALLOW_F32, n, 1, 1, fmt, "mlp.2.bias");
    add_expect(l, &b->mlp_ln_w, ALLOW_F32, n, 1, 1, fmt, "mlp_ln.weight");
    add_expect(l, &b->mlp_ln_b, ALLOW_F32, n, 1, 1, fmt, "mlp_ln.bias");
}

/* Fills the list of every tensor the hparams imply (11 + 15·enc + 24·dec).
 * ref: whisper-ref README tensor table; whisper.cpp whisper_model_load() tensor map. */
static int build_expectations(wsp_model *m, expect_list *l)
{
    const wsp_hparams *hp = &m->hp;
    const int64_t n = hp->n_audio_state;
    const unsigned wt = ALLOW_ANY, ct = ALLOW_FLOAT;
    l->cap = 11 + 15 * hp->n_audio_layer + 24 * hp->n_text_layer;
    l->v = calloc((size_t)l->cap, sizeof *l->v);
    if (!l->v)
        return -1;
    add_expect(l, &m->e_pos, ALLOW_F32, n, hp->n_audio_ctx, 1, "encoder.", "positional_embedding");
    add_expect(l, &m->conv1_w, ct, 3, hp->n_mels, n, "encoder.", "conv1.weight");
    add_expect(l, &m->conv1_b, ALLOW_F32, 1, n, 1, "encoder.", "conv1.bias");
    add_expect(l, &m->conv2_w, ct, 3, n, n, "encoder.", "conv2.weight");
    add_expect(l, &m->conv2_b, ALLOW_F32, 1, n, 1, "encoder.", "conv2.bias");
    add_expect(l, &m->e_ln_w, ALLOW_F32, n, 1, 1, "encoder.", "ln_post.weight");
    add_expect(l, &m->e_ln_b, ALLOW_F32, n, 1, 1, "encoder.", "ln_post.bias");
    char pre[64];
    for (int i = 0; i < hp->n_audio_layer; i++) {
        snprintf(pre, sizeof pre, "encoder.blocks.%d.", i);
        add_block_common(l, &m->e_blocks[i], wt, n, pre);
    }
    add_expect(l, &m->d_pos, ALLOW_F32, n, hp->n_text_ctx, 1, "decoder.", "positional_embedding");
    add_expect(l, &m->tok_emb, wt, n, hp->n_vocab, 1, "decoder.", "token_embedding.weight");
    add_expect(l, &m->d_ln_w, ALLOW_F32, n, 1, 1, "decoder.", "ln.weight");
    add_expect(l, &m->d_ln_b, ALLOW_F32, n, 1, 1, "decoder.", "ln.bias");
    for (int i = 0; i < hp->n_text_layer; i++) {
        wsp__block *b = &m->d_blocks[i];
        snprintf(pre, sizeof pre, "decoder.blocks.%d.", i);
        add_block_common(l, b, wt, n, pre);
        char xpre[80];
        snprintf(xpre, sizeof xpre, "%scross_attn.", pre);
        add_attn(l, &b->xattn, wt, n, xpre);
        add_expect(l, &b->xattn_ln_w, ALLOW_F32, n, 1, 1, pre, "cross_attn_ln.weight");
        add_expect(l, &b->xattn_ln_b, ALLOW_F32, n, 1, 1, pre, "cross_attn_ln.bias");
    }
    return l->n == l->cap ? 0 : -1;
}

static int cmp_expect(const void *a, const void *b)
{
    return strcmp(((const expect *)a)->name, ((const expect *)b)->name);
}

/* 1 if the engine reads header ftype (ggml_ftype + 1000 · quantization version 2):
 * f32, f16, q4_0, q4_1, q8_0, q5_0, q5_1.  Names: wsp__ftype_name (quantize.c).
 * ref: ggml.h enum ggml_ftype; whisper.cpp whisper_model_load (GGML_QNT_VERSION_FACTOR). */
static int ftype_supported(int32_t f)
{
    return f == 0 || f == 1 || f == 2002 || f == 2003 || f == 2007 || f == 2008 || f == 2009;
}

static int check_hparams(const wsp_hparams *hp, wsp_error *err)
{
    const int32_t *v = &hp->n_vocab;
    static const char *const names[] = {"n_vocab",      "n_audio_ctx",  "n_audio_state",
                                        "n_audio_head", "n_audio_layer", "n_text_ctx",
                                        "n_text_state", "n_text_head",  "n_text_layer",
                                        "n_mels"};
    static const int32_t max[] = {MAX_VOCAB, WSP_N_FRAMES_CHUNK / 2, MAX_STATE, MAX_HEADS,
                                  MAX_LAYERS, MAX_TEXT_CTX, MAX_STATE, MAX_HEADS,
                                  MAX_LAYERS, 128};
    for (int i = 0; i < 10; i++)
        if (v[i] <= 0 || v[i] > max[i])
            return wsp__fail(err, WSP_EHPARAMS, "hparam %s = %d is outside 1…%d", names[i],
                             (int)v[i], (int)max[i]);
    if (!ftype_supported(hp->ftype)) {
        const int base = hp->ftype % 1000, ver = hp->ftype / 1000;
        if (hp->ftype > 0 && base >= 10 && base <= 14)
            return wsp__fail(err, WSP_ETYPE,
                             "k-quant models are not supported (ftype %d = %s); use a q4_0, "
                             "q4_1, q5_0, q5_1, q8_0, f16 or f32 model",
                             (int)hp->ftype, wsp__ftype_name(hp->ftype));
        if (hp->ftype > 0 && ftype_supported(base + 2000) && ver != 2)
            return wsp__fail(err, WSP_ETYPE,
                             "ftype %d: quantization version %d is not supported (ggml's "
                             "current block layout is version 2)",
                             (int)hp->ftype, ver);
        return wsp__fail(err, WSP_ETYPE,
                         "unsupported ftype %d (expected 0 = f32, 1 = f16, or 2002 q4_0, 2003 "
                         "q4_1, 2007 q8_0, 2008 q5_0, 2009 q5_1)",
                         (int)hp->ftype);
    }
    if (hp->n_mels != 80 && hp->n_mels != 128)
        return wsp__fail(err, WSP_EHPARAMS, "n_mels = %d (expected 80 or 128)", (int)hp->n_mels);
    if (hp->n_audio_state != hp->n_text_state)
        return wsp__fail(err, WSP_EHPARAMS, "n_audio_state (%d) != n_text_state (%d)",
                         (int)hp->n_audio_state, (int)hp->n_text_state);
    if (hp->n_audio_state % hp->n_audio_head || hp->n_text_state % hp->n_text_head)
        return wsp__fail(err, WSP_EHPARAMS, "state width %d not divisible by heads (%d, %d)",
                         (int)hp->n_audio_state, (int)hp->n_audio_head, (int)hp->n_text_head);
    /* Special tokens are derived from n_vocab; it must leave room for them. */
    if (hp->n_vocab < 51864)
        return wsp__fail(err, WSP_EHPARAMS,
                         "n_vocab = %d is too small for Whisper's special tokens (>= 51864)",
                         (int)hp->n_vocab);
    return 0;
}

/* Language codes in token order (ref: OpenAI whisper/tokenizer.py LANGUAGES; the 100th,
 * "yue", exists only in large-v3).  Duplicated from the tokenizer so the loader has no
 * dependency on it. */

/* Derives special token ids and names from n_vocab, as whisper.cpp does.
 * ref: whisper-ref README "Special token ids"; whisper.cpp whisper_model_load(). */
static int build_vocab(wsp_model *m, int32_t n_file, wsp_error *err)
{
    wsp__vocab *v = &m->vocab;
    const int32_t n_vocab = m->hp.n_vocab;
    if (wsp__vocab_set_specials(v, n_vocab) != 0)
        return wsp__fail(err, WSP_EVOCAB, "n_vocab %d is too small for Whisper's special tokens",
                         (int)n_vocab);
    v->n_base = n_file;
    if (v->beg >= n_vocab || n_file > v->eot)
        return wsp__fail(err, WSP_EVOCAB, "vocabulary of %d tokens does not fit n_vocab %d",
                         (int)n_file, (int)n_vocab);

    const int32_t n_extra = n_vocab - n_file;
    m->special_names = malloc((size_t)n_extra * 24 + 1);
    if (!m->special_names)
        return wsp__fail(err, WSP_ENOMEM, "out of memory for %d special tokens", (int)n_extra);
    char *p = m->special_names;
    for (int32_t i = n_file; i < n_vocab; i++) {
        char *s = p;
        size_t k = strlen(wsp__special_name(v, i, s, 24)); /* at most 23 */
        m->tok_bytes[i] = (const uint8_t *)s;
        m->tok_len[i] = (uint32_t)k;
        p += k + 1;
    }
    v->bytes = m->tok_bytes;
    v->len = m->tok_len;
    return 0;
}

static const char *allow_str(unsigned a)
{
    return a == ALLOW_F32 ? "f32" : a == ALLOW_FLOAT ? "f16 or f32" : "f32, f16, q4_0…q8_0";
}

/* Walks the tensor records after the vocabulary.  ref: README "The model file format" 5. */
static int read_tensors(wsp_model *m, mdc_cursor *c, int fd, expect_list *l, wsp_error *err)
{
    /* Headers are read with pread, not through the mapping: they sit between weights,
     * and touching them would fault in (and make resident) the surrounding weight pages —
     * a page fault per tensor was most of the load time. */
    uint8_t hb[12 + 16 + MAX_NAME_LEN];
    while (!mdc_cur_done(c)) {
        const uint64_t hdr = c->pos;
        const uint64_t left = mdc_cur_left(c);
        const size_t want = left < sizeof hb ? (size_t)left : sizeof hb;
        const ssize_t got = pread(fd, hb, want, (off_t)hdr);
        if (got != (ssize_t)want)
            return wsp__fail(err, WSP_EIO, "cannot read the tensor header at offset %llu: %s",
                             (unsigned long long)hdr, got < 0 ? strerror(errno) : "short read");
        mdc_cursor h = mdc_cur_make(hb, want); /* same checks, on the copy */
        int32_t n_dims, name_len, ttype;
        if (mdc_cur_i32(&h, &n_dims) || mdc_cur_i32(&h, &name_len) || mdc_cur_i32(&h, &ttype))
            return wsp__fail(err, WSP_ETRUNC, "file truncated inside a tensor header at offset %llu",
                             (unsigned long long)hdr);
        if (n_dims < 1 || n_dims > 4 || name_len < 1 || name_len > MAX_NAME_LEN)
            return wsp__fail(err, WSP_ETENSOR,
                             "corrupt tensor header at offset %llu (n_dims %d, name_len %d)",
                             (unsigned long long)hdr, (int)n_dims, (int)name_len);
        int64_t ne[4] = {1, 1, 1, 1};
        for (int d = 0; d < n_dims; d++) {
            int32_t x;
            if (mdc_cur_i32(&h, &x))
                return wsp__fail(err, WSP_ETRUNC, "file truncated inside a tensor header at offset %llu",
                                 (unsigned long long)hdr);
            if (x < 1)
                return wsp__fail(err, WSP_ETENSOR, "tensor at offset %llu has dimension %d = %d",
                                 (unsigned long long)hdr, d, (int)x);
            ne[d] = x;
        }
        const uint8_t *np = mdc_cur_take(&h, (uint64_t)name_len);
        if (!np)
            return wsp__fail(err, WSP_ETRUNC, "file truncated inside a tensor name at offset %llu",
                             (unsigned long long)(hdr + h.pos));
        char name[MAX_NAME_LEN + 1];
        memcpy(name, np, (size_t)name_len);
        name[name_len] = '\0';
        mdc_cur_take(c, h.pos); /* the header, read from the copy: within the file's length */
        for (int i = 0; i < name_len; i++)
            if ((unsigned char)name[i] < 0x20 || (unsigned char)name[i] > 0x7e)
                name[i] = '?';

        const wsp__type_info *ti = wsp__type_info_of(ttype);
        if (!ti || !ti->weight) {
            const char *tn = wsp__type_name(ttype);
            if (!tn)
                return wsp__fail(err, WSP_ETYPE, "tensor '%s' has unknown type code %d", name,
                                 (int)ttype);
            return wsp__fail(err, WSP_ETYPE,
                             "tensor '%s' has type %s (code %d), which is not supported%s; "
                             "supported: f32, f16, q4_0, q4_1, q5_0, q5_1, q8_0",
                             name, tn, (int)ttype,
                             ttype >= WSP__T_Q2_K && ttype <= WSP__T_Q8_K ? " (a k-quant)" : "");
        }
        if (ne[0] % ti->blck)
            return wsp__fail(err, WSP_ETENSOR,
                             "tensor '%s' (%s) has rows of %lld elements, not a multiple of its "
                             "block size %d",
                             name, ti->name, (long long)ne[0], ti->blck);
        expect key;
        expect *e = NULL;
        if ((size_t)name_len < sizeof key.name) {
            memcpy(key.name, name, (size_t)name_len + 1);
            e = bsearch(&key, l->v, (size_t)l->n, sizeof *l->v, cmp_expect);
        }
        if (!e)
            return wsp__fail(err, WSP_ETENSOR, "unknown tensor '%s' at offset %llu", name,
                             (unsigned long long)hdr);
        if (e->found)
            return wsp__fail(err, WSP_ETENSOR, "tensor '%s' appears twice (again at offset %llu)",
                             name, (unsigned long long)hdr);
        if (memcmp(ne, e->ne, sizeof ne) != 0)
            return wsp__fail(err, WSP_ETENSOR,
                             "tensor '%s' has shape [%lld, %lld, %lld], expected [%lld, %lld, %lld] "
                             "(ggml order)",
                             name, (long long)ne[0], (long long)ne[1], (long long)ne[2],
                             (long long)e->ne[0], (long long)e->ne[1], (long long)e->ne[2]);
        if (!(e->allow & T_BIT(ttype)))
            return wsp__fail(err, WSP_ETYPE, "tensor '%s' has type %s, expected %s", name,
                             ti->name, allow_str(e->allow));
        /* ne values are < 2^31 each and the shape matched the hparams, so the product of
         * at most three of them times 4 fits easily in 64 bits (bounded hparams). */
        const uint64_t nel = (uint64_t)ne[0] * (uint64_t)ne[1] * (uint64_t)ne[2] * (uint64_t)ne[3];
        const uint64_t nblocks = nel / (uint64_t)ti->blck; /* rows are whole blocks */
        const uint64_t nbytes = nblocks * (uint64_t)ti->size;
        const uint64_t at = c->pos;
        const uint8_t *data = mdc_cur_take(c, nbytes);
        if (!data)
            return wsp__fail(err, WSP_ETRUNC,
                             "tensor '%s' data [%llu, %llu) runs past the end of the file (%llu "
                             "bytes): %llu %s blocks of %d bytes, %llu bytes left",
                             name, (unsigned long long)at,
                             (unsigned long long)(at + nbytes), (unsigned long long)c->len,
                             (unsigned long long)nblocks, ti->name, ti->size,
                             (unsigned long long)mdc_cur_left(c));
        e->found = 1;
        e->dst->data = data;
        e->dst->type = ttype;
        e->dst->cols = (int)ne[0];
        e->dst->rows = (int)(nel / (uint64_t)ne[0]);
        m->n_tensors++;
        m->tensor_bytes += nbytes;
        m->n_quant += ti->blck > 1;
    }
    for (int i = 0; i < l->n; i++)
        if (!l->v[i].found)
            return wsp__fail(err, WSP_ETENSOR, "tensor '%s' is missing (%d of %d tensors found)",
                             l->v[i].name, m->n_tensors, l->n);
    return 0;
}

static int load_mapped(wsp_model *m, int fd, wsp_error *err)
{
    mdc_cursor c = mdc_cur_make(m->map, m->map_len);
    int32_t magic;
    if (mdc_cur_i32(&c, &magic))
        return wsp__fail(err, WSP_ETRUNC, "file is %llu bytes, too short for a header",
                         (unsigned long long)c.len);
    if ((uint32_t)magic != GGML_MAGIC)
        return wsp__fail(err, WSP_EMAGIC, "bad magic 0x%08x (expected 0x%08x \"ggml\")",
                         (unsigned)magic, GGML_MAGIC);
    int32_t *hv = &m->hp.n_vocab;
    for (int i = 0; i < 11; i++)
        if (mdc_cur_i32(&c, &hv[i]))
            return wsp__fail(err, WSP_ETRUNC, "file truncated inside the hyperparameters");
    int rc = check_hparams(&m->hp, err);
    if (rc)
        return rc;

    /* mel filterbank */
    int32_t n_mel, n_fft;
    if (mdc_cur_i32(&c, &n_mel) || mdc_cur_i32(&c, &n_fft))
        return wsp__fail(err, WSP_ETRUNC, "file truncated inside the mel filterbank header");
    if (n_mel != m->hp.n_mels || n_fft != N_FFT_BINS)
        return wsp__fail(err, WSP_EVOCAB, "mel filterbank is %d x %d, expected %d x %d",
                         (int)n_mel, (int)n_fft, (int)m->hp.n_mels, N_FFT_BINS);
    const uint64_t fb_bytes = (uint64_t)n_mel * (uint64_t)n_fft * 4u;
    m->filters = mdc_cur_take(&c, fb_bytes);
    if (!m->filters)
        return wsp__fail(err, WSP_ETRUNC, "file truncated inside the mel filterbank");
    m->n_fft_bins = n_fft;

    /* vocabulary */
    int32_t n_tok;
    if (mdc_cur_i32(&c, &n_tok))
        return wsp__fail(err, WSP_ETRUNC, "file truncated before the vocabulary size");
    if (n_tok < 1 || n_tok > m->hp.n_vocab)
        return wsp__fail(err, WSP_EVOCAB, "vocabulary has %d tokens (expected 1…%d)", (int)n_tok,
                         (int)m->hp.n_vocab);
    m->tok_bytes = calloc((size_t)m->hp.n_vocab, sizeof *m->tok_bytes);
    m->tok_len = calloc((size_t)m->hp.n_vocab, sizeof *m->tok_len);
    if (!m->tok_bytes || !m->tok_len)
        return wsp__fail(err, WSP_ENOMEM, "out of memory for the vocabulary");
    const uint64_t vocab_start = c.pos;
    for (int32_t i = 0; i < n_tok; i++) {
        int32_t len;
        if (mdc_cur_i32(&c, &len))
            return wsp__fail(err, WSP_ETRUNC, "file truncated inside the vocabulary (token %d)", (int)i);
        if (len < 0 || len > MAX_TOKEN_LEN)
            return wsp__fail(err, WSP_EVOCAB, "token %d has length %d", (int)i, (int)len);
        m->tok_bytes[i] = mdc_cur_take(&c, (uint64_t)len);
        if (!m->tok_bytes[i])
            return wsp__fail(err, WSP_ETRUNC, "file truncated inside the vocabulary (token %d)", (int)i);
        m->tok_len[i] = (uint32_t)len;
    }
    /* NUL-terminated copy of the token texts (each record has a 4-byte length header, so
     * len + 1 per token fits in the region's size) for wsp_token_text(). */
    m->text_pool = malloc((size_t)(c.pos - vocab_start) + 1);
    if (!m->text_pool)
        return wsp__fail(err, WSP_ENOMEM, "out of memory for the vocabulary");
    char *tp = m->text_pool;
    for (int32_t i = 0; i < n_tok; i++) {
        memcpy(tp, m->tok_bytes[i], m->tok_len[i]);
        tp[m->tok_len[i]] = '\0';
        m->tok_bytes[i] = (const uint8_t *)tp;
        tp += m->tok_len[i] + 1;
    }
    rc = build_vocab(m, n_tok, err);
    if (rc)
        return rc;

    /* tensors */
    m->e_blocks = calloc((size_t)m->hp.n_audio_layer, sizeof *m->e_blocks);
    m->d_blocks = calloc((size_t)m->hp.n_text_layer, sizeof *m->d_blocks);
    if (!m->e_blocks || !m->d_blocks)
        return wsp__fail(err, WSP_ENOMEM, "out of memory for the layer table");
    expect_list l = {0};
    if (build_expectations(m, &l)) {
        free(l.v);
        return wsp__fail(err, WSP_ENOMEM, "out of memory for the tensor table");
    }
    qsort(l.v, (size_t)l.n, sizeof *l.v, cmp_expect);
    rc = read_tensors(m, &c, fd, &l, err);
    free(l.v);
    return rc;
}

int wsp_model_load(const char *path, wsp_model **out, wsp_error *err)
{
    if (out)
        *out = NULL;
    if (!path || !out)
        return wsp__fail(err, WSP_EINVAL, "wsp_model_load: NULL argument");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return wsp__fail(err, WSP_EIO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        const int e = errno;
        close(fd);
        return wsp__fail(err, WSP_EIO, "cannot stat '%s': %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return wsp__fail(err, WSP_EIO, "'%s' is not a regular file", path);
    }
    if (st.st_size < 4) {
        close(fd);
        return wsp__fail(err, WSP_ETRUNC, "'%s' is %lld bytes, too short for a header", path,
                         (long long)st.st_size);
    }
    wsp_model *m = calloc(1, sizeof *m);
    if (!m) {
        close(fd);
        return wsp__fail(err, WSP_ENOMEM, "out of memory");
    }
    m->guard_slot = -1;
    m->map_len = (size_t)st.st_size;
    m->map = mmap(NULL, m->map_len, PROT_READ, MAP_SHARED, fd, 0);
    if (m->map == MAP_FAILED) {
        const int e = errno;
        m->map = NULL;
        close(fd);
        wsp_model_free(m);
        return wsp__fail(err, WSP_EIO, "cannot map '%s': %s", path, strerror(e));
    }
    /* A truncated file raises SIGBUS on access; the guard (when the service installed
     * it) turns that into zero pages and a flag (wsp_model_mapping_lost). */
    m->guard_slot = mdc_mapguard_register(m->map, m->map_len, PROT_READ);
    int rc = load_mapped(m, fd, err);
    close(fd);
    if (!rc && wsp__model_tables_build(&m->vocab, &m->tables) != 0)
        rc = wsp__fail(err, WSP_ENOMEM, "out of memory for the tokenizer tables");
    if (rc) {
        wsp_model_free(m);
        return rc;
    }
    if (err) {
        err->code = 0;
        err->message[0] = '\0';
    }
    *out = m;
    return 0;
}

void wsp_model_free(wsp_model *m)
{
    if (!m)
        return;
    mdc_mapguard_unregister(m->guard_slot); /* no thread uses the model any more */
    if (m->map)
        munmap(m->map, m->map_len);
    wsp__model_tables_free(&m->tables);
    free(m->tok_bytes);
    free(m->tok_len);
    free(m->special_names);
    free(m->text_pool);
    free(m->e_blocks);
    free(m->d_blocks);
    free(m);
}

const wsp_hparams *wsp_model_hparams(const wsp_model *m) { return &m->hp; }

const char *wsp_model_type_name(const wsp_model *m)
{
    switch (m->hp.n_audio_layer) {
    case 4: return "tiny";
    case 6: return "base";
    case 12: return "small";
    case 24: return "medium";
    case 32: /* large-v3 has the 128-band front end; turbo keeps 4 of its 32 decoder layers */
        if (m->hp.n_mels != 128)
            return "large";
        return m->hp.n_text_layer == 4 ? "large-v3-turbo" : "large-v3";
    default: return "unknown";
    }
}

const char *wsp_model_ftype_name(const wsp_model *m) { return wsp__ftype_name(m->hp.ftype); }
bool wsp_model_is_multilingual(const wsp_model *m) { return m->hp.n_vocab >= 51865; }
uint64_t wsp_model_file_bytes(const wsp_model *m) { return m->map_len; }
bool wsp_model_mapping_lost(const wsp_model *m) { return m && mdc_mapguard_lost(m->guard_slot); }
int wsp_model_n_tensors(const wsp_model *m) { return m->n_tensors; }
uint64_t wsp_model_tensor_bytes(const wsp_model *m) { return m->tensor_bytes; }
const wsp__vocab *wsp__model_vocab(const wsp_model *m) { return &m->vocab; }
const wsp__model_tables *wsp__model_tables_of(const wsp_model *m) { return &m->tables; }

const char *wsp_token_text(const wsp_model *m, int32_t id)
{
    if (!m || id < 0 || id >= m->hp.n_vocab)
        return "";
    return (const char *)m->tok_bytes[id]; /* NUL-terminated copies (text_pool) */
}

int32_t wsp_token_beg(const wsp_model *m) { return m->vocab.beg; }
int32_t wsp_token_eot(const wsp_model *m) { return m->vocab.eot; }
const char *wsp_version(void) { return "0.1.0"; }
