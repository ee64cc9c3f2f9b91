/*
 * quantize.c — `md-converter model quantize`: an f16/f32 ggml Whisper file → q4_0 … q8_0,
 * byte for byte as whisper.cpp's whisper-quantize writes it.
 *
 * whisper-quantize (examples/quantize/quantize.cpp + examples/common-ggml.cpp
 * ggml_common_quantize_0, whisper.cpp 233fe1fc9) copies the header with
 * ftype = GGML_QNT_VERSION (2) · 1000 + ggml_ftype, copies filterbank and vocabulary, then
 * walks the tensors in file order: a tensor is quantized when it has exactly 2 dimensions
 * and its name is not in the skip list below; its f16 (or f32) values become f32 and go
 * through ggml_quantize_chunk(), which with no importance matrix is quantize_row_*_ref
 * over the whole tensor.  Every other tensor is copied unchanged.  The tensor header is
 * the input's with the type code replaced.
 *
 * The input is validated by wsp_model_load() (so the walk below only re-reads what the
 * loader already bounds-checked) and read through its mapping; the output goes to a
 * temporary file in the output's directory and is renamed over the output when complete.
 */
#include "whisper/model.h"
#include "whisper/quantize.h"
#include "whisper/kernels.h" /* wsp__f16_to_f32 */

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER_BYTES 48 /* magic + 11 int32 hyperparameters */
#define QNT_VERSION_FACTOR 1000 /* ref: ggml.h GGML_QNT_VERSION_FACTOR */
#define QNT_VERSION 2           /* ref: ggml.h GGML_QNT_VERSION */

/* Tensors whisper-quantize never quantizes although they are 2-D (its `to_skip`).
 * ref: whisper.cpp examples/quantize/quantize.cpp whisper_model_quantize(). */
static const char *const k_skip[] = {
    "encoder.conv1.bias",
    "encoder.conv2.bias",
    "encoder.positional_embedding",
    "decoder.positional_embedding",
};

/* ggml_ftype of each type (GGML_FTYPE_MOSTLY_*).  ref: ggml.h enum ggml_ftype. */
static int ggml_ftype_of(wsp_qtype t)
{
    switch (t) {
    case WSP_Q4_0: return 2;
    case WSP_Q4_1: return 3;
    case WSP_Q5_0: return 8;
    case WSP_Q5_1: return 9;
    case WSP_Q8_0: return 7;
    }
    return -1;
}

static const struct {
    const char *name;
    wsp_qtype type;
} k_qtypes[] = {
    {"q4_0", WSP_Q4_0}, {"q4_1", WSP_Q4_1}, {"q5_0", WSP_Q5_0}, {"q5_1", WSP_Q5_1}, {"q8_0", WSP_Q8_0},
};

int wsp_qtype_parse(const char *name, wsp_qtype *out)
{
    for (size_t i = 0; name && i < sizeof k_qtypes / sizeof k_qtypes[0]; i++)
        if (strcmp(name, k_qtypes[i].name) == 0) {
            if (out)
                *out = k_qtypes[i].type;
            return 0;
        }
    return WSP_EINVAL;
}

const char *wsp_qtype_name(wsp_qtype type)
{
    for (size_t i = 0; i < sizeof k_qtypes / sizeof k_qtypes[0]; i++)
        if (k_qtypes[i].type == type)
            return k_qtypes[i].name;
    return "?";
}

const char *wsp__ftype_name(int32_t ftype)
{
    /* ref: ggml.h enum ggml_ftype; the header stores qntvr·1000 + ftype. */
    static const char *const names[] = {
        [0] = "f32",   [1] = "f16",   [2] = "q4_0",  [3] = "q4_1",  [4] = "q4_1_some_f16",
        [7] = "q8_0",  [8] = "q5_0",  [9] = "q5_1",  [10] = "q2_k", [11] = "q3_k",
        [12] = "q4_k", [13] = "q5_k", [14] = "q6_k",
    };
    if (ftype < 0)
        return "unknown";
    const int32_t base = ftype % QNT_VERSION_FACTOR;
    if (base < (int32_t)(sizeof names / sizeof names[0]) && names[base] &&
        (ftype < QNT_VERSION_FACTOR || base >= 2))
        return names[base];
    return "unknown";
}

/* ---- the walk --------------------------------------------------------------------- */

typedef struct qjob {
    const uint8_t *base;
    uint64_t len, pos;
    FILE *out;
    const char *out_path;
    wsp_qtype type;
    float *row;       /* [max row length] */
    uint8_t *blocks;  /* [max row length / 32 · block bytes] */
    size_t row_cap;
    uint64_t done, total;
    uint64_t released; /* input bytes [0, released) given back (page-aligned) */
    int last_pct;
    wsp_progress_cb cb;
    void *cb_user;
    wsp_abort_cb abort_cb;
    void *abort_user;
    wsp_error *err;
} qjob;

static int32_t ld_i32(const qjob *j, uint64_t at)
{
    int32_t v;
    memcpy(&v, j->base + at, 4);
    return v;
}

static int put(qjob *j, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, j->out) != n)
        return wsp__fail(j->err, WSP_EIO, "cannot write '%s': %s", j->out_path, strerror(errno));
    return 0;
}

static void progress(qjob *j, uint64_t bytes)
{
    j->done += bytes;
    if (!j->cb || j->total == 0)
        return;
    const int pct = (int)(j->done * 100u / j->total);
    if (pct != j->last_pct) {
        j->last_pct = pct;
        j->cb(pct, j->cb_user);
    }
}

static int is_skipped(const char *name)
{
    for (size_t i = 0; i < sizeof k_skip / sizeof k_skip[0]; i++)
        if (strcmp(name, k_skip[i]) == 0)
            return 1;
    return 0;
}

/* Drops the input pages before `upto` from our resident set once a tensor is written:
 * the mapping is read-only and file-backed, so MADV_DONTNEED only unmaps them (they stay
 * in the page cache) and peak RSS stays near one tensor instead of the whole file. */
static void release_input(qjob *j, uint64_t upto)
{
    const uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    const uint64_t end = upto / page * page;
    if (end > j->released) {
        (void)madvise((void *)(j->base + j->released), (size_t)(end - j->released), MADV_DONTNEED);
        j->released = end;
    }
}

/* Quantizes one [rows][cols] tensor of input type `ttype` whose data starts at j->pos. */
static int quantize_tensor(qjob *j, const char *name, int ttype, uint64_t rows, uint64_t cols)
{
    if (cols % WSP__QK != 0)
        return wsp__fail(j->err, WSP_ETENSOR,
                         "tensor '%s' has rows of %llu values, not a multiple of %d: it cannot be "
                         "quantized",
                         name, (unsigned long long)cols, WSP__QK);
    if (cols > j->row_cap) {
        float *r = realloc(j->row, cols * sizeof *r);
        if (!r)
            return wsp__fail(j->err, WSP_ENOMEM, "out of memory for a row of %llu values",
                             (unsigned long long)cols);
        j->row = r;
        uint8_t *b = realloc(j->blocks, cols / WSP__QK * wsp__qblock_bytes(j->type));
        if (!b)
            return wsp__fail(j->err, WSP_ENOMEM, "out of memory for a row of %llu values",
                             (unsigned long long)cols);
        j->blocks = b;
        j->row_cap = cols;
    }
    const size_t esz = ttype == WSP__T_F16 ? 2 : 4;
    for (uint64_t r = 0; r < rows; r++) {
        const uint8_t *src = j->base + j->pos + r * cols * esz;
        for (uint64_t c = 0; c < cols; c++) {
            float v;
            if (esz == 2) {
                uint16_t h;
                memcpy(&h, src + 2 * c, 2);
                v = wsp__f16_to_f32(h);
            } else {
                memcpy(&v, src + 4 * c, 4);
            }
            if (!isfinite(v))
                return wsp__fail(j->err, WSP_ETENSOR,
                                 "tensor '%s' has a non-finite weight at row %llu, column %llu; "
                                 "refusing to quantize it",
                                 name, (unsigned long long)r, (unsigned long long)c);
            j->row[c] = v;
        }
        const size_t n = wsp__quantize_row(j->type, j->row, j->blocks, (int64_t)cols);
        int rc = put(j, j->blocks, n);
        if (rc)
            return rc;
        progress(j, cols * esz);
        if (((r + 1) * cols * esz) % (4u << 20) < cols * esz) /* every ~4 MiB of input */
            release_input(j, j->pos + (r + 1) * cols * esz);
        if (j->abort_cb && j->abort_cb(j->abort_user))
            return wsp__fail(j->err, WSP_ECANCELED, "quantization cancelled");
    }
    return 0;
}

/* Walks the tensor records from j->pos to the end of the input, writing each one. */
static int walk_tensors(qjob *j)
{
    while (j->pos < j->len) {
        /* The loader checked every header and data range; re-check only what we index. */
        if (j->len - j->pos < 12)
            return wsp__fail(j->err, WSP_EINTERNAL, "tensor header past the end of the input");
        const int32_t n_dims = ld_i32(j, j->pos), name_len = ld_i32(j, j->pos + 4);
        const int32_t ttype = ld_i32(j, j->pos + 8);
        if (n_dims < 1 || n_dims > 4 || name_len < 1 || name_len > 255 ||
            j->len - j->pos < 12 + 4 * (uint64_t)n_dims + (uint64_t)name_len)
            return wsp__fail(j->err, WSP_EINTERNAL, "corrupt tensor header at offset %llu",
                             (unsigned long long)j->pos);
        uint64_t ne[4] = {1, 1, 1, 1};
        for (int d = 0; d < n_dims; d++)
            ne[d] = (uint64_t)(uint32_t)ld_i32(j, j->pos + 12 + 4 * (uint64_t)d);
        const uint64_t hdr_len = 12 + 4 * (uint64_t)n_dims + (uint64_t)name_len;
        char name[256];
        memcpy(name, j->base + j->pos + 12 + 4 * (uint64_t)n_dims, (size_t)name_len);
        name[name_len] = '\0';
        if (ttype != WSP__T_F32 && ttype != WSP__T_F16)
            return wsp__fail(j->err, WSP_ETYPE,
                             "tensor '%s' is already of type %d (not f32/f16); model quantize "
                             "needs an f16 or f32 model",
                             name, (int)ttype);
        const uint64_t nel = ne[0] * ne[1] * ne[2] * ne[3];
        const uint64_t nbytes = nel * (ttype == WSP__T_F16 ? 2u : 4u);
        if (j->len - j->pos - hdr_len < nbytes)
            return wsp__fail(j->err, WSP_EINTERNAL, "tensor '%s' data past the end of the input",
                             name);
        const int quant = n_dims == 2 && !is_skipped(name);

        /* header: the input's, with the new type code */
        int rc = put(j, j->base + j->pos, 8);
        const int32_t out_type = quant ? (int32_t)j->type : ttype;
        if (!rc)
            rc = put(j, &out_type, 4);
        if (!rc)
            rc = put(j, j->base + j->pos + 12, (size_t)(hdr_len - 12));
        if (rc)
            return rc;
        j->pos += hdr_len;
        if (quant) {
            rc = quantize_tensor(j, name, ttype, ne[1], ne[0]);
        } else {
            rc = put(j, j->base + j->pos, (size_t)nbytes);
            progress(j, nbytes);
        }
        if (rc)
            return rc;
        j->pos += nbytes;
        release_input(j, j->pos);
    }
    return 0;
}

/* Header (ftype replaced), filterbank and vocabulary: copied; j->pos ends at the first
 * tensor.  The layout was validated by the loader. */
static int copy_head(qjob *j)
{
    uint64_t p = HEADER_BYTES;
    const uint64_t n_mel = (uint32_t)ld_i32(j, p), n_fft = (uint32_t)ld_i32(j, p + 4);
    p += 8 + n_mel * n_fft * 4;
    const int32_t n_tok = ld_i32(j, p);
    p += 4;
    for (int32_t i = 0; i < n_tok; i++)
        p += 4 + (uint64_t)(uint32_t)ld_i32(j, p);
    const int32_t ftype = QNT_VERSION * QNT_VERSION_FACTOR + ggml_ftype_of(j->type);
    int rc = put(j, j->base, HEADER_BYTES - 4);
    if (!rc)
        rc = put(j, &ftype, 4);
    if (!rc)
        rc = put(j, j->base + HEADER_BYTES, (size_t)(p - HEADER_BYTES));
    j->pos = p;
    return rc;
}

/* Reads the input's header alone, so an already-quantized file gets a message that says
 * so whatever the loader thinks of quantized tensors. */
static int check_input_header(const char *in, wsp_error *err)
{
    int fd = open(in, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return wsp__fail(err, WSP_EIO, "cannot open '%s': %s", in, strerror(errno));
    int32_t h[12];
    const ssize_t got = pread(fd, h, sizeof h, 0);
    close(fd);
    if (got != (ssize_t)sizeof h)
        return 0; /* too short, unreadable: let the loader say what is wrong */
    if ((uint32_t)h[0] == 0x67676d6cu && h[11] != 0 && h[11] != 1)
        return wsp__fail(err, WSP_ETYPE,
                         "'%s' is already quantized (ftype %d = %s); model quantize needs an f16 "
                         "or f32 model",
                         in, (int)h[11], wsp__ftype_name(h[11]));
    return 0;
}

int wsp_model_quantize(const char *in_path, const char *out_path, wsp_qtype type,
                       const wsp_quantize_params *params, wsp_error *err)
{
    const wsp_quantize_params none = {0};
    const wsp_quantize_params *qp = params ? params : &none;
    if (!in_path || !out_path)
        return wsp__fail(err, WSP_EINVAL, "wsp_model_quantize: NULL path");
    if (wsp__qblock_bytes(type) == 0)
        return wsp__fail(err, WSP_EINVAL, "unknown quantization type %d (q4_0|q4_1|q5_0|q5_1|q8_0)",
                         (int)type);
    int rc = check_input_header(in_path, err);
    if (rc)
        return rc;
    wsp_model *m = NULL;
    wsp_error lerr = {0};
    rc = wsp_model_load(in_path, &m, &lerr);
    if (rc)
        return wsp__fail(err, rc, "cannot load '%s': %s", in_path,
                         lerr.message[0] ? lerr.message : wsp_strerror(rc));

    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", out_path) >= (int)sizeof tmp) {
        wsp_model_free(m);
        return wsp__fail(err, WSP_EINVAL, "output path is too long");
    }
    const int fd = mkstemp(tmp);
    if (fd < 0) {
        const int e = errno;
        wsp_model_free(m);
        return wsp__fail(err, WSP_EIO, "cannot create '%s' (a temporary file in its directory): %s",
                         out_path, strerror(e));
    }
    (void)fchmod(fd, 0644); /* mkstemp creates 0600; a model file is not secret */
    qjob j = {
        .base = m->map, .len = m->map_len, .out = fdopen(fd, "wb"), .out_path = out_path,
        .type = type, .total = wsp_model_tensor_bytes(m), .last_pct = -1,
        .cb = qp->progress_cb, .cb_user = qp->progress_user_data, .abort_cb = qp->abort_cb,
        .abort_user = qp->abort_user_data, .err = err,
    };
    if (!j.out) {
        close(fd);
        rc = wsp__fail(err, WSP_ENOMEM, "out of memory for the output stream");
    } else {
        setvbuf(j.out, NULL, _IOFBF, 1 << 20);
        rc = copy_head(&j);
        if (!rc)
            rc = walk_tensors(&j);
        if (!rc && (fflush(j.out) != 0 || fsync(fileno(j.out)) != 0))
            rc = wsp__fail(err, WSP_EIO, "cannot write '%s': %s", out_path, strerror(errno));
        if (fclose(j.out) != 0 && !rc)
            rc = wsp__fail(err, WSP_EIO, "cannot write '%s': %s", out_path, strerror(errno));
    }
    if (!rc && rename(tmp, out_path) != 0)
        rc = wsp__fail(err, WSP_EIO, "cannot rename '%s' to '%s': %s", tmp, out_path,
                       strerror(errno));
    if (rc)
        unlink(tmp);
    free(j.row);
    free(j.blocks);
    wsp_model_free(m);
    if (!rc && err) {
        err->code = 0;
        err->message[0] = '\0';
    }
    return rc;
}
