/*
 * net.c — the Silero VAD v6 forward pass, computed as whisper.cpp's ggml graph computes
 * it on the CPU, down to the order of every sum.
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
 *
 * Numerics (why the probabilities equal whisper.cpp's bit for bit on the reference
 * clips, test_vad_golden):
 *  - ggml's conv1d stores its im2col input as f16 (ggml_conv_1d → ggml_im2col(…, F16)):
 *    every conv input (padded samples, magnitudes, each layer's activations, the ReLU'd
 *    LSTM output) is rounded to f16 here too; the products of two f16 values are exact
 *    in f32;
 *  - each output is one ggml_vec_dot_f16 / ggml_vec_dot_f32 of its row (ref: ggml-cpu
 *    vec.cpp, the GGML_SIMD path with 8-float vectors: GGML_F16/F32_STEP 32, four
 *    accumulators): dot32() below keeps four 8-lane accumulators over blocks of 32,
 *    reduces them as GGML_F32x8_REDUCE does, and adds the tail (n % 32) in double;
 *  - the f32 LSTM products use FMA there (GGML_F32_VEC_FMA): fused here as
 *    (double)a·b + c rounded once to float (the product is exact in double; the sum is
 *    rounded twice, which can differ from a true FMA only at a double-rounding tie);
 *  - sigmoid is 1 / (1 + expf(−x)) and tanh is tanhf (ggml_vec_sigmoid_f32/tanh_f32).
 * The binary targets baseline x86-64: the portable dot products use SSE2 and emulate the
 * FMA; on an AVX2 + FMA CPU dot_avx2.c does the same with 8-wide vectors and a true FMA.
 */
#include "vad/vad_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define G4 (4 * VAD__HIDDEN)
#define POLL_CHUNKS 64 /* abort_cb is polled every 64 chunks (2.05 s of audio) */

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

/* ggml's reduction of four 8-lane accumulators (GGML_F32x8_REDUCE on AVX), acc[8·j + l]
 * = lane l of accumulator j: acc0 += acc2, acc1 += acc3; acc0 += acc1; then lanes
 * lo + hi, and two hadds. */
static float reduce32(float acc[32])
{
    for (int l = 0; l < 8; l++) {
        acc[l] += acc[16 + l];
        acc[8 + l] += acc[24 + l];
    }
    for (int l = 0; l < 8; l++)
        acc[l] += acc[8 + l];
    float t[4];
    for (int i = 0; i < 4; i++)
        t[i] = acc[i] + acc[4 + i];
    const float h0 = t[0] + t[1], h1 = t[2] + t[3];
    return h0 + h1;
}

/* Σ x[i]·y[i] in ggml_vec_dot_f16's order (operands already f16 values: exact products).
 * Element i + q of each block of 32 goes to lane q; the 32 sums are independent, so SSE2
 * (part of baseline x86-64) computes them 4 at a time without changing any of them. */
float vad__dot32(const float *x, const float *y, int n)
{
    float acc[32];
    const int np = n & ~31;
#ifdef __SSE2__
    __m128 a[8];
    for (int r = 0; r < 8; r++)
        a[r] = _mm_setzero_ps();
    for (int i = 0; i < np; i += 32)
        for (int r = 0; r < 8; r++)
            a[r] = _mm_add_ps(a[r], _mm_mul_ps(_mm_loadu_ps(x + i + 4 * r), _mm_loadu_ps(y + i + 4 * r)));
    for (int r = 0; r < 8; r++)
        _mm_storeu_ps(acc + 4 * r, a[r]);
#else
    memset(acc, 0, sizeof acc);
    for (int i = 0; i < np; i += 32)
        for (int q = 0; q < 32; q++)
            acc[q] += x[i + q] * y[i + q];
#endif
    double s = (double)reduce32(acc);
    for (int i = np; i < n; i++)
        s += (double)(x[i] * y[i]);
    return (float)s;
}

/* The same with fused multiply-adds (ggml_vec_dot_f32: products of f32 values): each
 * lane is (float)((double)x·y + acc), the product exact in double. */
float vad__dot32_fma(const float *x, const float *y, int n)
{
    float acc[32];
    const int np = n & ~31;
#ifdef __SSE2__
    __m128d a[16];
    for (int r = 0; r < 16; r++)
        a[r] = _mm_setzero_pd();
    for (int i = 0; i < np; i += 32)
        for (int r = 0; r < 8; r++) {
            const __m128 xv = _mm_loadu_ps(x + i + 4 * r), yv = _mm_loadu_ps(y + i + 4 * r);
            const __m128d xl = _mm_cvtps_pd(xv), yl = _mm_cvtps_pd(yv);
            const __m128d xh = _mm_cvtps_pd(_mm_movehl_ps(xv, xv));
            const __m128d yh = _mm_cvtps_pd(_mm_movehl_ps(yv, yv));
            /* round the accumulators to float after every step, as the f32 FMA does */
            a[2 * r] = _mm_cvtps_pd(_mm_cvtpd_ps(_mm_add_pd(_mm_mul_pd(xl, yl), a[2 * r])));
            a[2 * r + 1] = _mm_cvtps_pd(_mm_cvtpd_ps(_mm_add_pd(_mm_mul_pd(xh, yh), a[2 * r + 1])));
        }
    for (int r = 0; r < 8; r++) {
        const __m128 lo = _mm_cvtpd_ps(a[2 * r]), hi = _mm_cvtpd_ps(a[2 * r + 1]);
        _mm_storeu_ps(acc + 4 * r, _mm_movelh_ps(lo, hi));
    }
#else
    memset(acc, 0, sizeof acc);
    for (int i = 0; i < np; i += 32)
        for (int q = 0; q < 32; q++)
            acc[q] = (float)((double)x[i + q] * (double)y[i + q] + (double)acc[q]);
#endif
    double s = (double)reduce32(acc);
    for (int i = np; i < n; i++)
        s += (double)(x[i] * y[i]);
    return (float)s;
}

typedef float (*dot_fn)(const float *x, const float *y, int n);

/* The dot products for this CPU: AVX2 + FMA when present (dot_avx2.c, a true FMA for the
 * f32 rows as ggml uses on such a CPU), else the portable SSE2 ones above.  MDC_KERNELS=
 * scalar forces the portable ones (the engine's switch, for comparisons). */
typedef struct dot_ops {
    dot_fn dot, dot_fma;
} dot_ops;

static dot_ops g_ops;
static pthread_once_t g_ops_once = PTHREAD_ONCE_INIT;

static void pick_ops(void)
{
    const char *force = getenv("MDC_KERNELS");
    g_ops = (dot_ops){vad__dot32, vad__dot32_fma};
    if (force && strcmp(force, "scalar") == 0)
        return;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        g_ops = (dot_ops){vad__dot32_avx2, vad__dot32_fma_avx2};
}

static float sigmoidf(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

/* One conv1d layer (kernel 3, padding 1): in[c][t_in] → out[o][t_out], bias + ReLU. */
static void conv_layer(const vad_model *m, int l, const float *in, int t_in, float *out)
{
    const int cin = m->enc_cin[l], cout = m->enc_cout[l], stride = m->enc_stride[l];
    const int t_out = (t_in + 2 - VAD__KERNEL) / stride + 1;
    const int kc = cin * VAD__KERNEL;
    float col[VAD__N_BINS * VAD__KERNEL]; /* one im2col row, f16 values */
    for (int t = 0; t < t_out; t++) {
        for (int c = 0; c < cin; c++)
            for (int k = 0; k < VAD__KERNEL; k++) {
                const int ti = t * stride + k - 1;
                col[c * VAD__KERNEL + k] =
                    ti >= 0 && ti < t_in ? vad__f16_round(in[c * t_in + ti]) : 0.0f;
            }
        for (int o = 0; o < cout; o++) {
            const float v = g_ops.dot(col, m->enc_w[l] + (size_t)o * kc, kc) + m->enc_b[l][o];
            out[o * t_out + t] = v > 0.0f ? v : 0.0f;
        }
    }
}

/* Steps 1–5 for one chunk of 512 samples; h, c: the LSTM state, updated. */
static float chunk_prob(const vad_model *m, const float *chunk, float *h, float *c)
{
    /* 1–2. reflection padding, f16 frames, STFT magnitudes [129][4] */
    float padded[VAD__N_WINDOW + 2 * VAD__PAD];
    for (int i = 0; i < VAD__PAD; i++) {
        padded[i] = chunk[VAD__PAD - i];                                   /* x[64..1] */
        padded[VAD__PAD + VAD__N_WINDOW + i] = chunk[VAD__N_WINDOW - 2 - i]; /* x[510..447] */
    }
    memcpy(padded + VAD__PAD, chunk, VAD__N_WINDOW * sizeof(float));
    float mag[VAD__N_BINS * VAD__N_FRAMES];
    for (int t = 0; t < VAD__N_FRAMES; t++) {
        float frame[VAD__N_FFT];
        for (int k = 0; k < VAD__N_FFT; k++)
            frame[k] = vad__f16_round(padded[t * VAD__HOP + k]);
        for (int b = 0; b < VAD__N_BINS; b++) {
            const float re = g_ops.dot(frame, m->basis + (size_t)b * VAD__N_FFT, VAD__N_FFT);
            const float im = g_ops.dot(frame, m->basis + (size_t)(VAD__N_BINS + b) * VAD__N_FFT,
                                       VAD__N_FFT);
            const float re2 = re * re, im2 = im * im;
            mag[b * VAD__N_FRAMES + t] = sqrtf(re2 + im2);
        }
    }
    /* 3. the encoder */
    float a1[128 * 4], a2[64 * 2], a3[64], a4[128];
    conv_layer(m, 0, mag, VAD__N_FRAMES, a1); /* [128][4] */
    conv_layer(m, 1, a1, 4, a2);             /* [64][2] */
    conv_layer(m, 2, a2, 2, a3);             /* [64][1] */
    conv_layer(m, 3, a3, 1, a4);             /* [128][1] */
    /* 4. gates = (W_ih x + b_ih) + (W_hh h + b_hh) */
    float g[G4];
    for (int j = 0; j < G4; j++) {
        const float ih = g_ops.dot_fma(m->w_ih + (size_t)j * VAD__HIDDEN, a4, VAD__HIDDEN) + m->b_ih[j];
        const float hh = g_ops.dot_fma(m->w_hh + (size_t)j * VAD__HIDDEN, h, VAD__HIDDEN) + m->b_hh[j];
        g[j] = ih + hh;
    }
    float r[VAD__HIDDEN];
    for (int j = 0; j < VAD__HIDDEN; j++) {
        const float ig = sigmoidf(g[j]);
        const float fg = sigmoidf(g[VAD__HIDDEN + j]);
        const float gg = tanhf(g[2 * VAD__HIDDEN + j]);
        const float og = sigmoidf(g[3 * VAD__HIDDEN + j]);
        const float fc = fg * c[j], igg = ig * gg;
        c[j] = fc + igg;
        h[j] = og * tanhf(c[j]);
        r[j] = vad__f16_round(h[j] > 0.0f ? h[j] : 0.0f); /* 5. ReLU → f16 conv input */
    }
    return sigmoidf(g_ops.dot(r, m->out_w, VAD__HIDDEN) + m->out_b);
}

struct vad_detector {
    const vad_model *model;
    float h[VAD__HIDDEN], c[VAD__HIDDEN]; /* LSTM state, zero at the start */
    float part[VAD__N_WINDOW];            /* the incomplete chunk's samples */
    size_t n_part;
    float *probs;                         /* [cap] one per completed chunk, malloc'd */
    size_t n_probs, cap;
    vad_abort_cb abort_cb;
    void *abort_user;
    int failed;                           /* sticky error */
};

static int det_fail(vad_detector *d, vad_error *err, int code, const char *msg)
{
    if (d)
        d->failed = code;
    if (err) {
        err->code = code;
        snprintf(err->message, sizeof err->message, "%s", msg);
    }
    return code;
}

int vad_detector_new(const vad_model *m, vad_abort_cb abort_cb, void *abort_user,
                     vad_detector **out, vad_error *err)
{
    if (out)
        *out = NULL;
    if (!m || !out)
        return det_fail(NULL, err, VAD_EINVAL, "vad_detector_new: invalid argument");
    pthread_once(&g_ops_once, pick_ops);
    vad_detector *d = calloc(1, sizeof *d);
    if (!d)
        return det_fail(NULL, err, VAD_ENOMEM, "out of memory for the VAD detector");
    d->model = m;
    d->abort_cb = abort_cb;
    d->abort_user = abort_user;
    *out = d;
    return 0;
}

void vad_detector_free(vad_detector *d)
{
    if (!d)
        return;
    free(d->probs);
    free(d);
}

/* One complete chunk → one probability (polling abort every POLL_CHUNKS chunks). */
static int det_chunk(vad_detector *d, const float *chunk, vad_error *err)
{
    if (d->n_probs % POLL_CHUNKS == 0 && d->abort_cb && d->abort_cb(d->abort_user))
        return det_fail(d, err, VAD_ECANCELED, vad_strerror(VAD_ECANCELED));
    if (d->n_probs == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 1024; /* 1024 chunks = 33 s */
        float *np = realloc(d->probs, cap * sizeof *np);
        if (!np)
            return det_fail(d, err, VAD_ENOMEM, "out of memory for the VAD probabilities");
        d->probs = np;
        d->cap = cap;
    }
    d->probs[d->n_probs++] = chunk_prob(d->model, chunk, d->h, d->c);
    return 0;
}

int vad_detector_feed(vad_detector *d, const float *x, size_t n, vad_error *err)
{
    if (!d || (!x && n > 0))
        return det_fail(NULL, err, VAD_EINVAL, "vad_detector_feed: invalid argument");
    if (d->failed)
        return det_fail(d, err, d->failed, "the VAD detector failed before");
    size_t i = 0;
    int rc;
    if (d->n_part > 0) { /* complete the pending chunk first */
        size_t k = VAD__N_WINDOW - d->n_part;
        k = k < n ? k : n;
        memcpy(d->part + d->n_part, x, k * sizeof(float));
        d->n_part += k;
        i = k;
        if (d->n_part < VAD__N_WINDOW)
            return 0;
        d->n_part = 0;
        if ((rc = det_chunk(d, d->part, err)))
            return rc;
    }
    for (; i + VAD__N_WINDOW <= n; i += VAD__N_WINDOW)
        if ((rc = det_chunk(d, x + i, err)))
            return rc;
    memcpy(d->part, x + i, (n - i) * sizeof(float));
    d->n_part = n - i;
    return 0;
}

int vad_detector_finish(vad_detector *d, float **probs, size_t *n_probs, vad_error *err)
{
    if (probs)
        *probs = NULL;
    if (n_probs)
        *n_probs = 0;
    if (!d || !probs || !n_probs)
        return det_fail(NULL, err, VAD_EINVAL, "vad_detector_finish: invalid argument");
    if (d->failed)
        return det_fail(d, err, d->failed, "the VAD detector failed before");
    int rc;
    if (d->n_part > 0) { /* the last chunk, zero-padded */
        memset(d->part + d->n_part, 0, (VAD__N_WINDOW - d->n_part) * sizeof(float));
        d->n_part = 0;
        if ((rc = det_chunk(d, d->part, err)))
            return rc;
    }
    *probs = d->probs;
    *n_probs = d->n_probs;
    d->probs = NULL;
    d->n_probs = d->cap = 0;
    d->failed = VAD_EINVAL; /* finished: nothing more to feed */
    return 0;
}

int vad_detect(const vad_model *m, const float *x, size_t n, float **probs, size_t *n_probs,
               vad_abort_cb abort_cb, void *abort_user, vad_error *err)
{
    if (probs)
        *probs = NULL;
    if (n_probs)
        *n_probs = 0;
    if (!m || !probs || !n_probs || (!x && n > 0))
        return det_fail(NULL, err, VAD_EINVAL, "vad_detect: invalid argument");
    vad_detector *d = NULL;
    int rc = vad_detector_new(m, abort_cb, abort_user, &d, err);
    if (!rc)
        rc = vad_detector_feed(d, x, n, err);
    if (!rc)
        rc = vad_detector_finish(d, probs, n_probs, err);
    vad_detector_free(d);
    return rc;
}
