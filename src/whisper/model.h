/*
 * model.h — the loaded model's internal layout (not installed).
 *
 * A wsp_model is the model file mapped read-only plus a table of typed views into the
 * mapping.  Tensor data in ggml files is NOT aligned (the first tensor's data starts at an
 * odd offset), so every view is a `const void *` and readers load through memcpy or
 * unaligned SIMD loads (see kernels.h).  Immutable after wsp_model_load().
 * ref: whisper-ref README "The model file format"; whisper.cpp whisper_model_load().
 */
#ifndef MDC_WHISPER_MODEL_H
#define MDC_WHISPER_MODEL_H

#include "whisper/engine.h"
#include "whisper/quants.h"

#include <stddef.h>
#include <stdint.h>

/* A view of one tensor in the mapping.  Matrices are [rows][cols] row-major with
 * cols = ggml ne[0] (fastest axis) and rows = the product of the other axes; a vector
 * has rows = 1.  `data` is unaligned. */
typedef struct wsp__mat {
    const void *data;
    int type; /* ggml type code: WSP__T_F32, WSP__T_F16 or a quantized type (quants.h) */
    int rows, cols;
} wsp__mat;

/* One attention sub-layer: q/k/v/out projections [n][n] and biases [n] (key has none). */
typedef struct wsp__attn_w {
    wsp__mat q_w, q_b, k_w, v_w, v_b, o_w, o_b;
} wsp__attn_w;

/* One residual block.  Encoder blocks leave the cross-attention members empty. */
typedef struct wsp__block {
    wsp__mat attn_ln_w, attn_ln_b;   /* [n] f32 */
    wsp__attn_w attn;                /* self-attention */
    wsp__mat xattn_ln_w, xattn_ln_b; /* decoder only: [n] f32 */
    wsp__attn_w xattn;               /* decoder only: cross-attention */
    wsp__mat mlp_ln_w, mlp_ln_b;     /* [n] f32 */
    wsp__mat mlp0_w, mlp0_b;         /* [4n][n], [4n] */
    wsp__mat mlp2_w, mlp2_b;         /* [n][4n], [n] */
} wsp__block;

struct wsp_model {
    void *map;          /* whole file, PROT_READ */
    size_t map_len;
    int guard_slot;     /* mdc_mapguard slot of the mapping, -1 when unguarded */
    wsp_hparams hp;

    const void *filters; /* f32 [n_mels][201] row-major (unaligned) */
    int n_fft_bins;      /* 201 */

    wsp__vocab vocab;
    const uint8_t **tok_bytes; /* [n_vocab] NUL-terminated (text_pool / special_names) */
    uint32_t *tok_len;         /* [n_vocab] */
    char *special_names;       /* storage of the synthesized special-token names */
    char *text_pool;           /* NUL-terminated copies of the file's token texts */

    /* encoder */
    wsp__mat e_pos;              /* [n_audio_ctx][n] f32 */
    wsp__mat conv1_w, conv1_b;   /* [n][n_mels*3] (PyTorch [n, n_mels, 3]), bias [n] */
    wsp__mat conv2_w, conv2_b;   /* [n][n*3], [n] */
    wsp__block *e_blocks;        /* [n_audio_layer] */
    wsp__mat e_ln_w, e_ln_b;     /* ln_post [n] */
    /* decoder */
    wsp__mat d_pos;              /* [n_text_ctx][n] f32 */
    wsp__mat tok_emb;            /* [n_vocab][n] (also the output projection) */
    wsp__block *d_blocks;        /* [n_text_layer] */
    wsp__mat d_ln_w, d_ln_b;     /* [n] */

    int n_tensors;
    uint64_t tensor_bytes;
    int n_quant;                 /* tensors of a quantized type */
};

#endif
