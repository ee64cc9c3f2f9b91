/*
 * net.c — the Silero VAD v6 forward pass, as whisper.cpp's ggml graph computes it.
 *
 * Per 512-sample chunk (ref: whisper.cpp whisper_vad_build_graph and its
 * whisper_vad_build_{stft,encoder,lstm}_layer):
 *   1. reflection padding 64 | 512 | 64 → 640 samples (ggml_pad_reflect_1d: the edge
 *      sample is not repeated);
 *   2. STFT as a convolution with the stored basis [258][256], stride 128 → 4 frames;
 *      magnitude sqrt(re² + im²) of the 129 bins → [129][4];
 *   3. four conv1d layers, kernel 3, padding 1, strides 1, 2, 2, 1, bias + ReLU:
 *      [129][4] → [128][4] → [64][2] → [64][1] → [128][1];
 *   4. one LSTM step on that 128-vector (gates i, f, g, o; state h, c carried from the
 *      previous chunk, zero at the start of vad_detect);
 *   5. ReLU(h) · w + b (a 1×1 conv to one channel) → sigmoid = the speech probability.
 * ggml's conv1d stores its im2col input as f16 (ggml_conv_1d → ggml_im2col(…, F16)), so
 * every conv input (the padded samples, the magnitudes, each layer's activations and the
 * ReLU'd LSTM output) is rounded to f16 here too; the products of two f16 values are exact
 * in f32 and the sums are f32 (BLAS), as in ggml_vec_dot_f16.  The LSTM matrices are f32.
 *
 * Steps 1–3 and the input half of step 4 do not depend on the LSTM state, so they run
 * for a block of chunks at once as matrix products; only h·W_hh is sequential.
 */
#include "vad/vad_internal.h"

#include <cblas.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 64 /* chunks per batched block (2.05 s of audio) */
#define G4 (4 * VAD__HIDDEN)

/* The nearest IEEE half value (ties to even, as F16C's _cvtss_sh(x, 0)), as a float. */
float vad__f16_round(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    const uint32_t a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) /* inf, NaN */
        return x;
    if (a >= 0x477ff000u) /* rounds to >= 65520: overflow to ±inf */
        return (u >> 31) ? -INFINITY : INFINITY;
    if (a < 0x38800000u) /* below 2^-14: multiples of 2^-24 (exact scaling, RNE rint) */
        return nearbyintf(x * 0x1p24f) * 0x1p-24f;
    u += 0x0fffu + ((u >> 13) & 1u); /* drop 13 mantissa bits, ties to even */
    u &= ~0x1fffu;
    float r;
    memcpy(&r, &u, 4);
    return r;
}

typedef struct scratch {
    float *frames; /* [4B][256]   f16-rounded STFT frames */
    float *spec;   /* [4B][258]   re | im */
    float *col;    /* [4B][387]   im2col of the current layer (largest: layer 0) */
    float *act0;   /* [B][129][4] magnitudes, channel-major per chunk */
    float *act1;   /* [4B][128] layer outputs, row = output position */
    float *act2;   /* [2B][64] */
    float *act3;   /* [B][64] */
    float *act4;   /* [B][128] */
    float *xg;     /* [B][512]   W_ih x + b_ih */
} scratch;

static void scratch_free(scratch *s)
{
    free(s->frames);
    free(s->spec);
    free(s->col);
    free(s->act0);
    free(s->act1);
    free(s->act2);
    free(s->act3);
    free(s->act4);
    free(s->xg);
}

static int scratch_new(scratch *s)
{
    memset(s, 0, sizeof *s);
    const size_t F = (size_t)VAD__N_FRAMES * BLOCK;
    s->frames = malloc(F * VAD__N_FFT * sizeof(float));
    s->spec = malloc(F * 2 * VAD__N_BINS * sizeof(float));
    s->col = malloc(F * VAD__N_BINS * VAD__KERNEL * sizeof(float));
    s->act0 = malloc(F * VAD__N_BINS * sizeof(float));
    s->act1 = malloc(F * 128 * sizeof(float));
    s->act2 = malloc((size_t)2 * BLOCK * 64 * sizeof(float));
    s->act3 = malloc((size_t)BLOCK * 64 * sizeof(float));
    s->act4 = malloc((size_t)BLOCK * 128 * sizeof(float));
    s->xg = malloc((size_t)BLOCK * G4 * sizeof(float));
    if (!s->frames || !s->spec || !s->col || !s->act0 || !s->act1 || !s->act2 || !s->act3 ||
        !s->act4 || !s->xg) {
        scratch_free(s);
        return -1;
    }
    return 0;
}

/* in: per chunk, input position t of channel c at in[(b·t_in + t)·cin + c] when
 * in_chunk_major is 0, or at in[(b·cin + c)·t_in + t] when it is 1 (the magnitudes).
 * out: [nb·t_out][cout], bias added, ReLU applied. */
static void conv_layer(const vad_model *m, int l, const float *in, int in_chunk_major, int nb,
                       int t_in, float *col, float *out)
{
    const int cin = m->enc_cin[l], cout = m->enc_cout[l], stride = m->enc_stride[l];
    const int t_out = (t_in + 2 - VAD__KERNEL) / stride + 1;
    const int kc = cin * VAD__KERNEL;
    for (int b = 0; b < nb; b++) {
        for (int t = 0; t < t_out; t++) {
            float *row = col + ((size_t)b * t_out + t) * kc;
            for (int c = 0; c < cin; c++) {
                for (int k = 0; k < VAD__KERNEL; k++) {
                    const int ti = t * stride + k - 1; /* padding 1 */
                    float v = 0.0f;
                    if (ti >= 0 && ti < t_in)
                        v = in_chunk_major ? in[((size_t)b * cin + c) * t_in + ti]
                                           : in[((size_t)b * t_in + ti) * cin + c];
                    row[c * VAD__KERNEL + k] = vad__f16_round(v);
                }
            }
        }
    }
    const int rows = nb * t_out;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, cout, kc, 1.0f, col, kc,
                m->enc_w[l], kc, 0.0f, out, cout);
    for (int r = 0; r < rows; r++) {
        float *o = out + (size_t)r * cout;
        for (int j = 0; j < cout; j++) {
            const float v = o[j] + m->enc_b[l][j];
            o[j] = v > 0.0f ? v : 0.0f;
        }
    }
}

static float sigmoidf(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

/* Chunks [first, first + nb) of the input: everything up to W_ih x + b_ih, into s->xg. */
static void encode_block(const vad_model *m, const float *x, size_t n, size_t first, int nb,
                         scratch *s)
{
    /* 1. reflection-padded, f16-rounded frames */
    for (int b = 0; b < nb; b++) {
        float chunk[VAD__N_WINDOW];
        const size_t start = (first + (size_t)b) * VAD__N_WINDOW;
        for (int i = 0; i < VAD__N_WINDOW; i++)
            chunk[i] = start + (size_t)i < n ? x[start + (size_t)i] : 0.0f; /* last: zeros */
        float padded[VAD__N_WINDOW + 2 * VAD__PAD];
        for (int i = 0; i < VAD__PAD; i++) {
            padded[i] = chunk[VAD__PAD - i];                                   /* x[64..1] */
            padded[VAD__PAD + VAD__N_WINDOW + i] = chunk[VAD__N_WINDOW - 2 - i]; /* x[510..447] */
        }
        memcpy(padded + VAD__PAD, chunk, sizeof chunk);
        for (int t = 0; t < VAD__N_FRAMES; t++) {
            float *row = s->frames + ((size_t)b * VAD__N_FRAMES + t) * VAD__N_FFT;
            for (int k = 0; k < VAD__N_FFT; k++)
                row[k] = vad__f16_round(padded[t * VAD__HOP + k]);
        }
    }
    /* 2. STFT: [4nb][256] · basis[258][256]ᵀ → [4nb][258]; magnitudes */
    const int nf = nb * VAD__N_FRAMES;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nf, 2 * VAD__N_BINS, VAD__N_FFT, 1.0f,
                s->frames, VAD__N_FFT, m->basis, VAD__N_FFT, 0.0f, s->spec, 2 * VAD__N_BINS);
    for (int b = 0; b < nb; b++)
        for (int t = 0; t < VAD__N_FRAMES; t++) {
            const float *sp = s->spec + ((size_t)b * VAD__N_FRAMES + t) * 2 * VAD__N_BINS;
            for (int c = 0; c < VAD__N_BINS; c++) {
                const float re = sp[c], im = sp[VAD__N_BINS + c];
                s->act0[((size_t)b * VAD__N_BINS + c) * VAD__N_FRAMES + t] = sqrtf(re * re + im * im);
            }
        }
    /* 3. the encoder */
    conv_layer(m, 0, s->act0, 1, nb, VAD__N_FRAMES, s->col, s->act1); /* → [4nb][128] */
    conv_layer(m, 1, s->act1, 0, nb, 4, s->col, s->act2);             /* → [2nb][64] */
    conv_layer(m, 2, s->act2, 0, nb, 2, s->col, s->act3);             /* → [nb][64] */
    conv_layer(m, 3, s->act3, 0, nb, 1, s->col, s->act4);             /* → [nb][128] */
    /* 4a. input half of the LSTM gates */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, G4, VAD__HIDDEN, 1.0f, s->act4,
                VAD__HIDDEN, m->w_ih, VAD__HIDDEN, 0.0f, s->xg, G4);
    for (int b = 0; b < nb; b++)
        for (int j = 0; j < G4; j++)
            s->xg[(size_t)b * G4 + j] += m->b_ih[j];
}

int vad_detect(const vad_model *m, const float *x, size_t n, float **probs, size_t *n_probs,
               vad_abort_cb abort_cb, void *abort_user, vad_error *err)
{
    if (probs)
        *probs = NULL;
    if (n_probs)
        *n_probs = 0;
    if (!m || !probs || !n_probs || (!x && n > 0)) {
        if (err) {
            err->code = VAD_EINVAL;
            snprintf(err->message, sizeof err->message, "vad_detect: invalid argument");
        }
        return VAD_EINVAL;
    }
    const size_t nc = (n + VAD__N_WINDOW - 1) / VAD__N_WINDOW;
    if (nc == 0)
        return 0;
    float *p = malloc(nc * sizeof *p);
    scratch s;
    if (!p || scratch_new(&s) != 0) {
        free(p);
        if (err) {
            err->code = VAD_ENOMEM;
            snprintf(err->message, sizeof err->message, "out of memory for %zu VAD chunks", nc);
        }
        return VAD_ENOMEM;
    }
    float h[VAD__HIDDEN] = {0}, c[VAD__HIDDEN] = {0}, g[G4];
    for (size_t first = 0; first < nc; first += BLOCK) {
        if (abort_cb && abort_cb(abort_user)) {
            scratch_free(&s);
            free(p);
            if (err) {
                err->code = VAD_ECANCELED;
                snprintf(err->message, sizeof err->message, "%s", vad_strerror(VAD_ECANCELED));
            }
            return VAD_ECANCELED;
        }
        const int nb = nc - first < BLOCK ? (int)(nc - first) : BLOCK;
        encode_block(m, x, n, first, nb, &s);
        for (int b = 0; b < nb; b++) {
            /* 4b. gates = (W_ih x + b_ih) + (W_hh h + b_hh) */
            cblas_sgemv(CblasRowMajor, CblasNoTrans, G4, VAD__HIDDEN, 1.0f, m->w_hh, VAD__HIDDEN,
                        h, 1, 0.0f, g, 1);
            const float *xg = s.xg + (size_t)b * G4;
            for (int j = 0; j < G4; j++)
                g[j] = xg[j] + (g[j] + m->b_hh[j]);
            float out = 0.0f;
            for (int j = 0; j < VAD__HIDDEN; j++) {
                const float ig = sigmoidf(g[j]);
                const float fg = sigmoidf(g[VAD__HIDDEN + j]);
                const float gg = tanhf(g[2 * VAD__HIDDEN + j]);
                const float og = sigmoidf(g[3 * VAD__HIDDEN + j]);
                c[j] = fg * c[j] + ig * gg;
                h[j] = og * tanhf(c[j]);
                /* 5. ReLU → f16 (conv input) · f16 weight */
                const float r = h[j] > 0.0f ? h[j] : 0.0f;
                out += vad__f16_round(r) * m->out_w[j];
            }
            p[first + (size_t)b] = sigmoidf(out + m->out_b);
        }
    }
    scratch_free(&s);
    *probs = p;
    *n_probs = nc;
    return 0;
}
