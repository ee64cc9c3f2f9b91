/*
 * vad_internal.h — the Silero network's weights as vad_model holds them (internal to
 * src/vad/).  Shapes are row-major [rows][cols]; ggml's ne order is given in brackets.
 * ref: whisper.cpp whisper_vad_model (tensor names and ggml shapes).
 */
#ifndef MDC_VAD_INTERNAL_H
#define MDC_VAD_INTERNAL_H

#include "mdc/vad.h"

#include <stddef.h>
#include <stdint.h>

/* Fixed geometry of the 16 kHz Silero v5/v6 model (checked against the file header). */
#define VAD__N_WINDOW 512   /* samples per chunk */
#define VAD__N_CONTEXT 64   /* header field; the ggml graph pads by reflection instead */
#define VAD__PAD 64         /* reflection padding each side: 512 → 640 samples */
#define VAD__N_FFT 256      /* STFT kernel (samples) */
#define VAD__HOP 128        /* STFT stride */
#define VAD__N_FRAMES 4     /* (640 − 256) / 128 + 1 */
#define VAD__N_BINS 129     /* 256 / 2 + 1 */
#define VAD__N_LAYERS 4
#define VAD__KERNEL 3
#define VAD__HIDDEN 128     /* LSTM input and hidden size */

struct vad_model {
    void *map;               /* the file, mapped read-only while vad_model_load parses it */
    uint64_t map_len;        /* file bytes */
    char desc[96];           /* "silero-16k 6.2.0" */

    /* f32 copies of every tensor (the ggml VAD file does not align tensor data, and the
     * f16 ones are converted once: the products of f16 values are exact in f32). */
    float *basis;            /* [258][256]  ([256, 1, 258]) rows 0..128 real, 129.. imag */
    float *enc_w[VAD__N_LAYERS]; /* [cout][cin·3]  ([3, cin, cout]) */
    float *enc_b[VAD__N_LAYERS]; /* [cout] */
    int enc_cin[VAD__N_LAYERS], enc_cout[VAD__N_LAYERS], enc_stride[VAD__N_LAYERS];
    float *w_ih, *w_hh;      /* [512][128]  ([128, 512]); gate order i, f, g, o */
    float *b_ih, *b_hh;      /* [512] */
    float *out_w;            /* [128]  ([128, 1]) */
    float out_b;
    float *arena;            /* one block holding every array above */
};

/* Σ x[i]·y[i] in ggml_vec_dot_f16's order (net.c, portable SSE2), and the same with the
 * fused multiply-adds of ggml_vec_dot_f32.  n ≥ 0; x, y hold n floats. */
float vad__dot32(const float *x, const float *y, int n);
float vad__dot32_fma(const float *x, const float *y, int n);

/* AVX2 + FMA versions of net.c's dot products (dot_avx2.c); call only when
 * the CPU has AVX2 and FMA (net.c checks).  Same results as the portable ones. */
float vad__dot32_avx2(const float *x, const float *y, int n);
float vad__dot32_fma_avx2(const float *x, const float *y, int n);

/* Rounds to IEEE half and back (ggml's im2col stores conv inputs as f16). */
float vad__f16_round(float x);

#endif
