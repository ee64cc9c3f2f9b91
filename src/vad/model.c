/*
 * model.c — maps whisper.cpp's ggml Silero VAD file read-only and validates all of it.
 *
 * One function walks the file in order (magic, type string, version, window/context,
 * encoder hyperparameters, LSTM and output sizes, then tensor records until the end);
 * every size and offset is checked against the file length in 64-bit arithmetic before
 * it is read.  The f16 weights are converted once into one f32 arena (1.2 MB); the
 * mapping is released once the walk is done.
 * ref: whisper.cpp whisper_vad_init_with_params() (file layout, tensor names and
 * shapes); models/convert-silero-vad-to-ggml.py (writer).
 */
#include "vad/vad_internal.h"

#include "mdc/cursor.h"
#include "mdc/half.h"
#include "mdc/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGML_MAGIC 0x67676d6cu /* "ggml" */
#define MAX_TYPE_LEN 64
#define MAX_NAME_LEN 255
#define N_TENSORS (1 + 2 * VAD__N_LAYERS + 4 + 2) /* 15 */

/* The only layout the 16 kHz Silero v5/v6 graph of whisper.cpp computes. */
static const int k_enc_in[VAD__N_LAYERS] = {VAD__N_BINS, 128, 64, 64};
static const int k_enc_out[VAD__N_LAYERS] = {128, 64, 64, 128};
static const int k_enc_stride[VAD__N_LAYERS] = {1, 2, 2, 1}; /* whisper_vad_build_encoder_layer */

static int fail(vad_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(vad_error *err, int code, const char *fmt, ...)
{
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return code;
}

typedef struct expect {
    char name[48];
    int64_t ne[3];   /* ggml order, padded with 1 */
    float **dst;     /* where the converted data goes (NULL: the scalar out_b) */
    int found;
} expect;

static void set_expect(expect *e, const char *name, int64_t ne0, int64_t ne1, int64_t ne2,
                       float **dst)
{
    snprintf(e->name, sizeof e->name, "%s", name);
    e->ne[0] = ne0;
    e->ne[1] = ne1;
    e->ne[2] = ne2;
    e->dst = dst;
    e->found = 0;
}


/* Converts n elements of type ttype (0 f32, 1 f16) at p into dst. */
static void convert(const uint8_t *p, int ttype, size_t n, float *dst)
{
    if (ttype == 0) {
        memcpy(dst, p, n * sizeof(float));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, p + 2 * i, 2);
        dst[i] = mdc_f16_to_f32(h);
    }
}

static int parse(vad_model *m, mdc_cursor *c, vad_error *err)
{
    int32_t magic = 0;
    if (mdc_cur_i32(c, &magic))
        return fail(err, VAD_ETRUNC, "VAD model file is %llu bytes: too short for a header",
                    (unsigned long long)c->len);
    if ((uint32_t)magic != GGML_MAGIC)
        return fail(err, VAD_EMAGIC, "bad magic 0x%08x (expected 0x%08x \"ggml\")",
                    (unsigned)magic, GGML_MAGIC);
    int32_t tlen = 0;
    if (mdc_cur_i32(c, &tlen))
        return fail(err, VAD_ETRUNC, "truncated before the model type at offset %llu",
                    (unsigned long long)c->pos);
    if (tlen <= 0 || tlen > MAX_TYPE_LEN)
        return fail(err, VAD_EHPARAMS, "model type length %d out of range 1..%d: not a Silero "
                    "VAD model (a Whisper model file? set WHISPER_VAD_MODEL to ggml-silero-*.bin)",
                    tlen, MAX_TYPE_LEN);
    const uint8_t *tp = mdc_cur_take(c, (uint64_t)tlen);
    if (!tp)
        return fail(err, VAD_ETRUNC, "truncated inside the model type at offset %llu",
                    (unsigned long long)c->pos);
    char type[MAX_TYPE_LEN + 1];
    memcpy(type, tp, (size_t)tlen);
    type[tlen] = '\0';
    for (int i = 0; i < tlen; i++)
        if ((unsigned char)type[i] < 0x20 || (unsigned char)type[i] > 0x7e)
            return fail(err, VAD_EHPARAMS, "model type holds a non-printable byte at %d", i);
    if (strncmp(type, "silero", 6) != 0)
        return fail(err, VAD_EHPARAMS, "model type \"%s\" is not a Silero VAD model "
                    "(is this a Whisper model? set WHISPER_VAD_MODEL to ggml-silero-*.bin)", type);

    int32_t hp[3 + 2 + 1 + 3 * VAD__N_LAYERS + 4];
    const char *const hp_names[] = {"version major", "version minor", "version patch",
                                    "n_window", "n_context", "n_encoder_layers"};
    for (size_t i = 0; i < 6; i++) {
        if (mdc_cur_i32(c, &hp[i]))
            return fail(err, VAD_ETRUNC, "truncated before %s", hp_names[i]);
    }
    if (hp[0] < 0 || hp[1] < 0 || hp[2] < 0 || hp[0] > 1000 || hp[1] > 1000 || hp[2] > 1000)
        return fail(err, VAD_EHPARAMS, "version %d.%d.%d out of range", hp[0], hp[1], hp[2]);
    if (hp[3] != VAD__N_WINDOW || hp[4] != VAD__N_CONTEXT)
        return fail(err, VAD_EHPARAMS, "n_window %d / n_context %d: only the 16 kHz model "
                    "(512 / 64) is supported", hp[3], hp[4]);
    if (hp[5] != VAD__N_LAYERS)
        return fail(err, VAD_EHPARAMS, "n_encoder_layers %d (expected %d)", hp[5], VAD__N_LAYERS);
    for (int l = 0; l < VAD__N_LAYERS; l++) {
        int32_t in = 0, out = 0, k = 0;
        if (mdc_cur_i32(c, &in) || mdc_cur_i32(c, &out) || mdc_cur_i32(c, &k))
            return fail(err, VAD_ETRUNC, "truncated inside encoder layer %d's sizes", l);
        if (in != k_enc_in[l] || out != k_enc_out[l] || k != VAD__KERNEL)
            return fail(err, VAD_EHPARAMS, "encoder layer %d is %d→%d kernel %d (expected "
                        "%d→%d kernel %d)", l, in, out, k, k_enc_in[l], k_enc_out[l], VAD__KERNEL);
        m->enc_cin[l] = in;
        m->enc_cout[l] = out;
        m->enc_stride[l] = k_enc_stride[l];
    }
    int32_t lstm_in = 0, lstm_hidden = 0, fin = 0, fout = 0;
    if (mdc_cur_i32(c, &lstm_in) || mdc_cur_i32(c, &lstm_hidden) || mdc_cur_i32(c, &fin) || mdc_cur_i32(c, &fout))
        return fail(err, VAD_ETRUNC, "truncated inside the LSTM/output sizes");
    if (lstm_in != VAD__HIDDEN || lstm_hidden != VAD__HIDDEN || fin != VAD__HIDDEN || fout != 1)
        return fail(err, VAD_EHPARAMS, "lstm %d/%d, final conv %d→%d (expected 128/128, 128→1)",
                    lstm_in, lstm_hidden, fin, fout);
    snprintf(m->desc, sizeof m->desc, "%s %d.%d.%d", type, hp[0], hp[1], hp[2]);

    /* The arena: every tensor converted to f32, in one block. */
    size_t n_floats = (size_t)2 * VAD__N_BINS * VAD__N_FFT + 2 * 4 * VAD__HIDDEN * VAD__HIDDEN +
                      2 * 4 * VAD__HIDDEN + VAD__HIDDEN + 1;
    for (int l = 0; l < VAD__N_LAYERS; l++)
        n_floats += (size_t)k_enc_out[l] * k_enc_in[l] * VAD__KERNEL + (size_t)k_enc_out[l];
    m->arena = malloc(n_floats * sizeof(float));
    if (!m->arena)
        return fail(err, VAD_ENOMEM, "out of memory for the VAD weights (%zu floats)", n_floats);
    float *a = m->arena;
    float *out_b_slot = NULL;
    expect ex[N_TENSORS];
    int ne = 0;
    set_expect(&ex[ne++], "_model.stft.forward_basis_buffer", VAD__N_FFT, 1, 2 * VAD__N_BINS,
               &m->basis);
    for (int l = 0; l < VAD__N_LAYERS; l++) {
        char name[48];
        snprintf(name, sizeof name, "_model.encoder.%d.reparam_conv.weight", l);
        set_expect(&ex[ne++], name, VAD__KERNEL, k_enc_in[l], k_enc_out[l], &m->enc_w[l]);
        snprintf(name, sizeof name, "_model.encoder.%d.reparam_conv.bias", l);
        set_expect(&ex[ne++], name, k_enc_out[l], 1, 1, &m->enc_b[l]);
    }
    set_expect(&ex[ne++], "_model.decoder.rnn.weight_ih", VAD__HIDDEN, 4 * VAD__HIDDEN, 1, &m->w_ih);
    set_expect(&ex[ne++], "_model.decoder.rnn.weight_hh", VAD__HIDDEN, 4 * VAD__HIDDEN, 1, &m->w_hh);
    set_expect(&ex[ne++], "_model.decoder.rnn.bias_ih", 4 * VAD__HIDDEN, 1, 1, &m->b_ih);
    set_expect(&ex[ne++], "_model.decoder.rnn.bias_hh", 4 * VAD__HIDDEN, 1, 1, &m->b_hh);
    set_expect(&ex[ne++], "_model.decoder.decoder.2.weight", VAD__HIDDEN, 1, 1, &m->out_w);
    set_expect(&ex[ne++], "_model.decoder.decoder.2.bias", 1, 1, 1, &out_b_slot);

    int n_found = 0;
    while (!mdc_cur_done(c)) {
        const uint64_t rec = c->pos;
        int32_t n_dims = 0, name_len = 0, ttype = 0;
        if (mdc_cur_i32(c, &n_dims) || mdc_cur_i32(c, &name_len) || mdc_cur_i32(c, &ttype))
            return fail(err, VAD_ETRUNC, "truncated tensor header at offset %llu",
                        (unsigned long long)rec);
        if (n_dims < 0 || n_dims > 4)
            return fail(err, VAD_ETENSOR, "tensor at offset %llu has %d dimensions (0..4)",
                        (unsigned long long)rec, n_dims);
        if (name_len <= 0 || name_len > MAX_NAME_LEN)
            return fail(err, VAD_ETENSOR, "tensor at offset %llu has a name of %d bytes",
                        (unsigned long long)rec, name_len);
        if (ttype != 0 && ttype != 1)
            return fail(err, VAD_ETYPE, "tensor at offset %llu has type %d (only f32 = 0 and "
                        "f16 = 1)", (unsigned long long)rec, ttype);
        int64_t dims[4] = {1, 1, 1, 1};
        uint64_t nel = 1;
        for (int d = 0; d < n_dims; d++) {
            int32_t v = 0;
            if (mdc_cur_i32(c, &v))
                return fail(err, VAD_ETRUNC, "truncated tensor shape at offset %llu",
                            (unsigned long long)rec);
            if (v <= 0 || v > (1 << 20))
                return fail(err, VAD_ETENSOR, "tensor at offset %llu: dimension %d is %d",
                            (unsigned long long)rec, d, v);
            dims[d] = v;
            nel *= (uint64_t)v; /* ≤ 2^80 cannot happen: checked against the table below */
            if (nel > ((uint64_t)1 << 24))
                return fail(err, VAD_ETENSOR, "tensor at offset %llu is too large",
                            (unsigned long long)rec);
        }
        const uint8_t *np = mdc_cur_take(c, (uint64_t)name_len);
        if (!np)
            return fail(err, VAD_ETRUNC, "truncated tensor name at offset %llu",
                        (unsigned long long)c->pos);
        char name[MAX_NAME_LEN + 1];
        memcpy(name, np, (size_t)name_len);
        name[name_len] = '\0';
        if (memchr(name, '\0', (size_t)name_len))
            return fail(err, VAD_ETENSOR, "tensor name at offset %llu holds a NUL byte",
                        (unsigned long long)rec);
        expect *e = NULL;
        for (int i = 0; i < ne; i++)
            if (strcmp(ex[i].name, name) == 0)
                e = &ex[i];
        if (!e)
            return fail(err, VAD_ETENSOR, "unknown tensor \"%.64s\" at offset %llu", name,
                        (unsigned long long)rec);
        if (e->found)
            return fail(err, VAD_ETENSOR, "tensor \"%s\" appears twice", name);
        if (dims[0] != e->ne[0] || dims[1] != e->ne[1] || dims[2] != e->ne[2] || dims[3] != 1)
            return fail(err, VAD_ETENSOR, "tensor \"%s\" has shape [%lld, %lld, %lld, %lld], "
                        "expected [%lld, %lld, %lld]", name, (long long)dims[0],
                        (long long)dims[1], (long long)dims[2], (long long)dims[3],
                        (long long)e->ne[0], (long long)e->ne[1], (long long)e->ne[2]);
        const uint64_t bytes = nel * (ttype == 1 ? 2u : 4u);
        const uint64_t at = c->pos;
        const uint8_t *data = mdc_cur_take(c, bytes);
        if (!data)
            return fail(err, VAD_ETRUNC, "tensor \"%s\" needs %llu bytes at offset %llu but the "
                        "file has %llu left", name, (unsigned long long)bytes,
                        (unsigned long long)at, (unsigned long long)mdc_cur_left(c));
        float *dst = a;
        a += nel;
        convert(data, ttype, (size_t)nel, dst);
        if (e->dst == &out_b_slot)
            m->out_b = dst[0];
        else
            *e->dst = dst;
        e->found = 1;
        n_found++;
    }
    for (int i = 0; i < ne; i++)
        if (!ex[i].found)
            return fail(err, VAD_ETENSOR, "tensor \"%s\" is missing (%d of %d present)",
                        ex[i].name, n_found, ne);
    return 0;
}

int vad_model_load(const char *path, vad_model **out, vad_error *err)
{
    if (err) {
        err->code = 0;
        err->message[0] = '\0';
    }
    if (!out)
        return fail(err, VAD_EINVAL, "vad_model_load: out is NULL");
    *out = NULL;
    if (!path)
        return fail(err, VAD_EINVAL, "vad_model_load: path is NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(err, VAD_EIO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fail(err, VAD_EIO, "%s is not a regular file", path);
    }
    if (st.st_size < 4) {
        close(fd);
        return fail(err, VAD_ETRUNC, "%s is %lld bytes: too short for a VAD model", path,
                    (long long)st.st_size);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return fail(err, VAD_EIO, "cannot map %s: %s", path, strerror(errno));
    vad_model *m = calloc(1, sizeof *m);
    if (!m) {
        munmap(map, (size_t)st.st_size);
        return fail(err, VAD_ENOMEM, "out of memory");
    }
    m->map = map;
    m->map_len = (uint64_t)st.st_size;
    mdc_cursor c = mdc_cur_make(map, (uint64_t)st.st_size);
    int rc = parse(m, &c, err);
    /* Every tensor now lives in the arena: the mapping is not needed after the walk (and
     * a file truncated later cannot fault a running detection). */
    munmap(m->map, (size_t)m->map_len);
    m->map = NULL;
    if (rc != 0) {
        vad_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void vad_model_free(vad_model *m)
{
    if (!m)
        return;
    if (m->map)
        munmap(m->map, (size_t)m->map_len);
    free(m->arena);
    free(m);
}

uint64_t vad_model_file_bytes(const vad_model *m) { return m ? m->map_len : 0; }
const char *vad_model_description(const vad_model *m) { return m ? m->desc : ""; }
int vad_model_n_window(const vad_model *m) { return m ? VAD__N_WINDOW : 0; }
