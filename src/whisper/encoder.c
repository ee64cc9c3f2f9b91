/*
 * encoder.c — Whisper's audio encoder for one 30 s window, plus the cross-attention K/V
 * of every decoder layer (computed once per window).  See engine.h wsp__encode.
 *
 * ref: OpenAI whisper/model.py AudioEncoder (conv1 k3 s1 p1 + GELU, conv2 k3 s2 p1 + GELU,
 * + sinusoidal positions, pre-LN residual blocks, ln_post); whisper.cpp
 * whisper_build_graph_encoder / whisper_build_graph_cross (tanh GELU, LN eps 1e-5,
 * scores scaled by 1/sqrt(d_head) — whisper.cpp scales Q and K by d_head^-1/4 each,
 * the same product).
 *
 * Shapes: T = n_audio_ctx (1500), n = n_audio_state, H = n_audio_head, dh = n/H.
 * Activations are frame-major f32 [T][n].  Big products are OpenBLAS sgemm on f32 copies
 * of the weights (wsp__linear); attention is fused per (head, block of 64 query rows) so
 * one pool job does scores, softmax and the product with V.
 */
#include "whisper/kernels.h"
#include "whisper/state.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

static int aborted(const wsp_state *s)
{
    return s->abort_cb && s->abort_cb(s->abort_user_data);
}

/* im2col for a kernel-3 convolution with padding 1:
 * out[t][c·3 + k] = in(c, stride·t + k − 1), zero outside [0, len_in).
 * `in(c, f)` = src[c·cs + f·fs] so both [C][F] and [F][C] inputs work. */
typedef struct im2col_job {
    const float *src;
    size_t cs, fs;
    int C, len_in, len_out, stride;
    float *out;
} im2col_job;

static void im2col_task(void *p, int ith, int nth)
{
    const im2col_job *j = p;
    int b, e;
    wsp__split(j->len_out, ith, nth, &b, &e);
    for (int t = b; t < e; t++) {
        float *row = j->out + (size_t)t * (size_t)j->C * 3;
        for (int c = 0; c < j->C; c++)
            for (int k = 0; k < 3; k++) {
                const int f = j->stride * t + k - 1;
                row[c * 3 + k] = (f >= 0 && f < j->len_in)
                                     ? j->src[(size_t)c * j->cs + (size_t)f * j->fs]
                                     : 0.0f;
            }
    }
}

typedef struct pos_job {
    float *x;
    const wsp__mat *pos;
    int T, n;
} pos_job;

static void pos_task(void *p, int ith, int nth)
{
    const pos_job *j = p;
    int b, e;
    wsp__split(j->T, ith, nth, &b, &e);
    for (int t = b; t < e; t++)
        for (int c = 0; c < j->n; c++)
            j->x[(size_t)t * (size_t)j->n + (size_t)c] +=
                wsp__ldf(j->pos->data, (size_t)t * (size_t)j->n + (size_t)c);
}

/* One work item of the fused attention: rows [r0, r1) of head h.
 * scores[rows][T] = Q_h · K_hᵀ / sqrt(dh) → softmax → O_h[rows] = P · V_h. */
typedef struct attn_job {
    float *q, *k, *v, *o, *scratch;
    int T, n, H, rb; /* rb = rows per block */
} attn_job;

static void attn_task(void *p, int ith, int nth)
{
    const attn_job *j = p;
    const int dh = j->n / j->H, n_blocks = (j->T + j->rb - 1) / j->rb;
    const float scale = 1.0f / sqrtf((float)dh);
    float *sc = j->scratch + (size_t)wsp__pool_tid() * (size_t)j->rb * (size_t)j->T;
    int b, e;
    wsp__split(j->H * n_blocks, ith, nth, &b, &e);
    for (int w = b; w < e; w++) {
        const int h = w / n_blocks, r0 = (w % n_blocks) * j->rb;
        const int rows = j->T - r0 < j->rb ? j->T - r0 : j->rb;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, j->T, dh, 1.0f,
                    j->q + (size_t)r0 * j->n + (size_t)h * dh, j->n, j->k + (size_t)h * dh,
                    j->n, 0.0f, sc, j->T);
        for (int r = 0; r < rows; r++)
            wsp__softmax(sc + (size_t)r * j->T, j->T, scale);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, dh, j->T, 1.0f, sc, j->T,
                    j->v + (size_t)h * dh, j->n, 0.0f, j->o + (size_t)r0 * j->n + (size_t)h * dh,
                    j->n);
    }
}

/* Self-attention of the layer-normed input in s->e_h; result (before the output
 * projection) in s->e_o. */
static void self_attention(wsp_state *s, const wsp__block *bl, int T, int n, int H)
{
    wsp__pool *pool = s->pool;
    wsp__linear(pool, &bl->attn.q_w, &bl->attn.q_b, s->e_h, T, n, s->e_q, n, s->wbuf);
    wsp__linear(pool, &bl->attn.k_w, NULL, s->e_h, T, n, s->e_k, n, s->wbuf);
    wsp__linear(pool, &bl->attn.v_w, &bl->attn.v_b, s->e_h, T, n, s->e_v, n, s->wbuf);
    attn_job j = {.q = s->e_q, .k = s->e_k, .v = s->e_v, .o = s->e_o, .scratch = s->e_scores,
                  .T = T, .n = n, .H = H, .rb = WSP__ATT_ROWS};
    const int items = H * ((T + WSP__ATT_ROWS - 1) / WSP__ATT_ROWS);
    wsp__pool_run_n(pool, attn_task, &j, items);
}

/* f16 copies of one layer's cross K and V, both stored transposed, [n][T] = per head
 * [H][dh][T]: the decoder's attention kernel (kernels.h attn_f16) then streams each
 * head's keys and values contiguously (with V in [T][n] every head walked all of V's
 * pages, and page walks are expensive on a VM). */
typedef struct cvt_job {
    const float *k, *v;
    uint16_t *k16, *v16;
    int T, n;
} cvt_job;

static void cvt_task(void *p, int ith, int nth)
{
    const cvt_job *j = p;
    int b, e;
    wsp__split(j->T, ith, nth, &b, &e);
    /* column c (channel h·dh + d) becomes row c: Kt[c][t] = K[t][c], same for V */
    for (int t0 = b; t0 < e; t0 += 16) {
        const int t1 = t0 + 16 < e ? t0 + 16 : e;
        for (int c = 0; c < j->n; c++)
            for (int t = t0; t < t1; t++) {
                const size_t src = (size_t)t * j->n + c, dst = (size_t)c * j->T + (size_t)t;
                j->k16[dst] = wsp__f32_to_f16(j->k[src]);
                j->v16[dst] = wsp__f32_to_f16(j->v[src]);
            }
    }
}

int wsp__encode(wsp_state *s, const float *mel, int n_frames, int seek, int n_threads)
{
    if (!s || !mel || n_frames <= 0 || seek < 0 || seek >= n_frames)
        return WSP_EINVAL;
    wsp__engine_leave(s); /* no longer stepping: continuous batching stops waiting for it */
    const wsp_model *m = s->model;
    const wsp_hparams *hp = &m->hp;
    const int T = hp->n_audio_ctx, n = hp->n_audio_state, H = hp->n_audio_head;
    const int M = hp->n_mels;
    int rc = wsp__state_pool(s, n_threads);
    if (rc)
        return rc;
    wsp__pool *pool = s->pool;
    s->encoded = 0;

    /* conv1: [2T][M·3] · W1ᵀ → [2T][n]; frames past the end of the mel are zero
     * (cannot happen with whisper's 30 s tail padding unless seek is near the end). */
    int avail = n_frames - seek;
    im2col_job c1 = {.src = mel + seek, .cs = (size_t)n_frames, .fs = 1, .C = M,
                     .len_in = avail < 2 * T ? avail : 2 * T, .len_out = 2 * T, .stride = 1,
                     .out = s->im2col};
    wsp__pool_run(pool, im2col_task, &c1);
    /* conv weights [n][C][3] viewed as [n][C·3] (ggml ne = [3, C, n]) */
    wsp__mat w1 = m->conv1_w, w2 = m->conv2_w;
    w1.rows = n;
    w1.cols = 3 * M;
    w2.rows = n;
    w2.cols = 3 * n;
    float *y1 = s->e_mlp; /* [2T][n] */
    wsp__linear_gelu(pool, &w1, &m->conv1_b, s->im2col, 2 * T, 3 * M, y1, n, s->wbuf);

    /* conv2: stride 2 → [T][n] */
    im2col_job c2 = {.src = y1, .cs = 1, .fs = (size_t)n, .C = n, .len_in = 2 * T,
                     .len_out = T, .stride = 2, .out = s->im2col};
    wsp__pool_run(pool, im2col_task, &c2);
    wsp__linear_gelu(pool, &w2, &m->conv2_b, s->im2col, T, 3 * n, s->conv_out, n, s->wbuf);

    float *x = s->enc_out; /* residual stream [T][n] */
    memcpy(x, s->conv_out, sizeof(float) * (size_t)T * n);
    pos_job pj = {.x = x, .pos = &m->e_pos, .T = T, .n = n};
    wsp__pool_run(pool, pos_task, &pj);

    for (int l = 0; l < hp->n_audio_layer; l++) {
        if (aborted(s))
            return WSP_ECANCELED;
        const wsp__block *bl = &m->e_blocks[l];
        wsp__par_layer_norm(pool, x, s->e_h, T, n, &bl->attn_ln_w, &bl->attn_ln_b);
        self_attention(s, bl, T, n, H);
        wsp__linear(pool, &bl->attn.o_w, &bl->attn.o_b, s->e_o, T, n, s->e_h, n, s->wbuf);
        wsp__par_add(pool, x, s->e_h, (size_t)T * n);

        wsp__par_layer_norm(pool, x, s->e_h, T, n, &bl->mlp_ln_w, &bl->mlp_ln_b);
        wsp__linear_gelu(pool, &bl->mlp0_w, &bl->mlp0_b, s->e_h, T, n, s->e_mlp, 4 * n, s->wbuf);
        wsp__linear(pool, &bl->mlp2_w, &bl->mlp2_b, s->e_mlp, T, 4 * n, s->e_h, n, s->wbuf);
        wsp__par_add(pool, x, s->e_h, (size_t)T * n);
    }
    wsp__par_layer_norm(pool, x, x, T, n, &m->e_ln_w, &m->e_ln_b);

    /* cross-attention K and V of every decoder layer (ref: whisper_build_graph_cross) */
    for (int l = 0; l < hp->n_text_layer; l++) {
        if (aborted(s))
            return WSP_ECANCELED;
        const wsp__block *bl = &m->d_blocks[l];
        wsp__linear(pool, &bl->xattn.k_w, NULL, x, T, n, s->e_k, n, s->wbuf);
        wsp__linear(pool, &bl->xattn.v_w, &bl->xattn.v_b, x, T, n, s->e_v, n, s->wbuf);
        cvt_job cj = {.k = s->e_k, .v = s->e_v, .k16 = s->cross_k + (size_t)l * T * n,
                      .v16 = s->cross_v + (size_t)l * T * n, .T = T, .n = n};
        wsp__pool_run(pool, cvt_task, &cj);
    }
    s->encoded = 1;
    return 0;
}
