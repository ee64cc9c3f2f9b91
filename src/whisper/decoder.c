/*
 * decoder.c — Whisper's text decoder: N tokens per call with a per-decoder KV cache,
 * logits of the last position through the tied token embedding.  See engine.h wsp__decode.
 *
 * ref: OpenAI whisper/model.py TextDecoder (token + positional embedding, pre-LN blocks of
 * causal self-attention, cross-attention on the encoder output, MLP; final LN; logits =
 * x · token_embeddingᵀ); whisper.cpp whisper_build_graph_decoder (same, tanh GELU).
 *
 * Shapes: N tokens, n = n_text_state, H = n_text_head, dh = n/H, C = n_text_ctx,
 * T = n_audio_ctx.  Single tokens use f16 matvecs read in place (rows split across the
 * pool); batches of >= 16 use sgemm (wsp__linear decides).
 */
#include "whisper/kernels.h"
#include "whisper/state.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

/* Attention of N query rows against `len(i)` key/value rows, split over (row, head). */
typedef struct attn_job {
    const float *q;     /* [N][n] */
    const float *k, *v; /* [≥len][n] self-attention cache (f32) */
    const uint16_t *k16, *v16; /* cross-attention K, V [H][dh][len] (f16), used
                                  when set */
    float *o;           /* [N][n] */
    float *scratch;     /* [nth][max(T, C)] */
    size_t scratch_ld;
    int N, n, H, n_past;
    int causal;         /* row i sees keys [0, n_past + i]; else all `len` keys */
    int len;
    const int16_t *cap_slot; /* cross-attention capture: [H] slots (-1 = not captured) */
    float *cap;              /* [n_slots][N][len], or NULL */
} attn_job;

/* Copies the probabilities p[0..T) of query row i, head h into the capture, if asked. */
static inline void capture(float *cap, const int16_t *slot, int h, int N, int i, int T,
                           const float *p)
{
    if (cap && slot[h] >= 0)
        memcpy(cap + ((size_t)slot[h] * (size_t)N + (size_t)i) * (size_t)T, p,
               sizeof(float) * (size_t)T);
}

/* Query row i, head h of an attention job (sc: this thread's scratch row). */
static void attn_one(const attn_job *j, int i, int h, float *sc)
{
    const int dh = j->n / j->H;
    const float scale = 1.0f / sqrtf((float)dh);
    const int len = j->causal ? j->n_past + i + 1 : j->len;
    const float *q = j->q + (size_t)i * j->n + (size_t)h * dh;
    if (j->k16) {
        /* keys stored per head transposed: [H][dh][len] */
        wsp__kern()->attn_f16(j->k16 + (size_t)h * dh * (size_t)len, (size_t)len,
                              j->v16 + (size_t)h * dh * (size_t)len, (size_t)len, len, dh, q,
                              scale, sc, j->o + (size_t)i * j->n + (size_t)h * dh);
        capture(j->cap, j->cap_slot, h, j->N, i, len, sc); /* sc holds the softmax */
        return;
    }
    /* scores[len] = K_h[len][dh] · q_h, softmax, o_h = V_hᵀ · p (strided by n) */
    cblas_sgemv(CblasRowMajor, CblasNoTrans, len, dh, 1.0f, j->k + (size_t)h * dh, j->n, q, 1,
                0.0f, sc, 1);
    wsp__softmax(sc, len, scale);
    cblas_sgemv(CblasRowMajor, CblasTrans, len, dh, 1.0f, j->v + (size_t)h * dh, j->n, sc, 1,
                0.0f, j->o + (size_t)i * j->n + (size_t)h * dh, 1);
}

static void attn_task(void *p, int ith, int nth)
{
    const attn_job *j = p;
    float *sc = j->scratch + (size_t)wsp__pool_tid() * j->scratch_ld;
    int b, e;
    wsp__split(j->N * j->H, ith, nth, &b, &e);
    for (int w = b; w < e; w++)
        attn_one(j, w / j->H, w % j->H, sc);
}

/* Single-token step: the projections a head needs (its dh rows of W_q, and of W_k, W_v
 * for self-attention) and that head's attention in ONE work item per head, so q/k/v and
 * the attention share one fork/join.  Per-row arithmetic is that of wsp__linear's matvec
 * path, so results are identical.  X: [1][n] layer-normed input; k_w == NULL for
 * cross-attention (keys/values come from the encoder). */
typedef struct head_job {
    attn_job a;
    const float *X;
    const wsp__mat *q_w, *q_b, *k_w, *v_w, *v_b;
    float *k_new, *v_new; /* self-attention: cache rows of position n_past */
} head_job;

static void head_task(void *p, int ith, int nth)
{
    const head_job *j = p;
    const int n = j->a.n, dh = n / j->a.H;
    float *sc = j->a.scratch + (size_t)wsp__pool_tid() * j->a.scratch_ld;
    int b, e;
    wsp__split(j->a.H, ith, nth, &b, &e);
    for (int h = b; h < e; h++) {
        const int r0 = h * dh, r1 = r0 + dh;
        wsp__matvec_rows(j->q_w, j->q_b, j->X, 1, n, (float *)j->a.q, n, r0, r1);
        if (j->k_w) {
            wsp__matvec_rows(j->k_w, NULL, j->X, 1, n, j->k_new, n, r0, r1);
            wsp__matvec_rows(j->v_w, j->v_b, j->X, 1, n, j->v_new, n, r0, r1);
        }
        attn_one(&j->a, 0, h, sc);
    }
}

/* Batches of >= XATTN_GEMM_MIN tokens (prompts of later windows) attend to the encoder
 * output with sgemm: the layer's f16 K and V (both transposed, [n][T]) are widened
 * to f32 in the (idle) encoder scratch, then work items of (head, 64 query rows) do
 * scores, softmax and the product with V, as the encoder does. */
#define XATTN_GEMM_MIN 16

typedef struct xcvt_job {
    const uint16_t *k16, *v16;
    float *kt, *v;
    size_t count;
} xcvt_job;

static void xcvt_task(void *p, int ith, int nth)
{
    const xcvt_job *j = p;
    const size_t q = j->count / (size_t)nth;
    const size_t b = q * (size_t)ith, e = ith == nth - 1 ? j->count : b + q;
    wsp__kern()->cvt_f16(j->k16 + b, j->kt + b, e - b);
    wsp__kern()->cvt_f16(j->v16 + b, j->v + b, e - b);
}

typedef struct xattn_job {
    const float *q, *kt, *v;
    float *o, *scratch;
    int N, T, n, H, rb;
    const int16_t *cap_slot; /* as attn_job */
    float *cap;
} xattn_job;

static void xattn_task(void *p, int ith, int nth)
{
    const xattn_job *j = p;
    const int dh = j->n / j->H, nb = (j->N + j->rb - 1) / j->rb;
    const float scale = 1.0f / sqrtf((float)dh);
    float *sc = j->scratch + (size_t)wsp__pool_tid() * (size_t)j->rb * (size_t)j->T;
    int b, e;
    wsp__split(j->H * nb, ith, nth, &b, &e);
    for (int w = b; w < e; w++) {
        const int h = w / nb, r0 = (w % nb) * j->rb;
        const int rows = j->N - r0 < j->rb ? j->N - r0 : j->rb;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, j->T, dh, 1.0f,
                    j->q + (size_t)r0 * j->n + (size_t)h * dh, j->n,
                    j->kt + (size_t)h * dh * (size_t)j->T, j->T, 0.0f, sc, j->T);
        for (int r = 0; r < rows; r++) {
            wsp__softmax(sc + (size_t)r * j->T, j->T, scale);
            capture(j->cap, j->cap_slot, h, j->N, r0 + r, j->T, sc + (size_t)r * j->T);
        }
        /* values stored transposed, Vt_h [dh][T]: O = P · Vt_hᵀ */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, dh, j->T, 1.0f, sc, j->T,
                    j->v + (size_t)h * dh * (size_t)j->T, j->T, 0.0f,
                    j->o + (size_t)r0 * j->n + (size_t)h * dh, j->n);
    }
}

typedef struct embed_job {
    const wsp_model *m;
    const int32_t *tokens;
    int N, n_past;
    float *x;
} embed_job;

static void embed_task(void *p, int ith, int nth)
{
    const embed_job *j = p;
    const int n = j->m->hp.n_text_state;
    int b, e;
    wsp__split(j->N, ith, nth, &b, &e);
    for (int i = b; i < e; i++) {
        float *x = j->x + (size_t)i * n;
        wsp__mat_row(&j->m->tok_emb, j->tokens[i], x);
        const size_t off = (size_t)(j->n_past + i) * (size_t)n;
        for (int c = 0; c < n; c++)
            x[c] += wsp__ldf(j->m->d_pos.data, off + (size_t)c);
    }
}

int wsp__decode(wsp_state *s, int decoder, const int32_t *tokens, int n_tokens, int n_past,
                int n_threads, float *logits)
{
    if (!s || !tokens || !logits || n_tokens < 1 || n_past < 0)
        return WSP_EINVAL;
    const wsp_model *m = s->model;
    const wsp_hparams *hp = &m->hp;
    const int N = n_tokens, n = hp->n_text_state, H = hp->n_text_head;
    const int C = hp->n_text_ctx, T = hp->n_audio_ctx;
    if (!s->encoded || decoder < 0 || decoder >= WSP__N_DECODERS || n_past + N > C)
        return WSP_EINVAL;
    for (int i = 0; i < N; i++)
        if (tokens[i] < 0 || tokens[i] >= hp->n_vocab)
            return WSP_EINVAL;
    if (s->abort_cb && s->abort_cb(s->abort_user_data))
        return WSP_ECANCELED;
    int rc = wsp__state_pool(s, n_threads);
    if (rc)
        return rc;
    wsp__pool *pool = s->pool;
    float *x = s->d_x, *h = s->d_h;

    embed_job ej = {.m = m, .tokens = tokens, .N = N, .n_past = n_past, .x = x};
    if (N == 1)
        embed_task(&ej, 0, 1);
    else
        wsp__pool_run(pool, embed_task, &ej);

    const size_t scratch_ld = (size_t)(T > C ? T : C);
    for (int l = 0; l < hp->n_text_layer; l++) {
        const wsp__block *bl = &m->d_blocks[l];
        float *kc = wsp__kv_ptr(s, decoder, l, 0), *vc = wsp__kv_ptr(s, decoder, l, 1);

        /* causal self-attention; K and V of the new positions go straight to the cache */
        wsp__par_layer_norm(pool, x, h, N, n, &bl->attn_ln_w, &bl->attn_ln_b);
        if (N == 1) {
            head_job hj = {.a = {.q = s->d_q, .k = kc, .v = vc, .o = s->d_o,
                                 .scratch = s->d_scores, .scratch_ld = scratch_ld, .N = 1,
                                 .n = n, .H = H, .n_past = n_past, .causal = 1},
                           .X = h, .q_w = &bl->attn.q_w, .q_b = &bl->attn.q_b,
                           .k_w = &bl->attn.k_w, .v_w = &bl->attn.v_w, .v_b = &bl->attn.v_b,
                           .k_new = kc + (size_t)n_past * n, .v_new = vc + (size_t)n_past * n};
            wsp__pool_run_n(pool, head_task, &hj, H);
            goto self_out;
        }
        const wsp__mat *const w3[3] = {&bl->attn.q_w, &bl->attn.k_w, &bl->attn.v_w};
        const wsp__mat *const b3[3] = {&bl->attn.q_b, NULL, &bl->attn.v_b};
        float *const y3[3] = {s->d_q, kc + (size_t)n_past * n, vc + (size_t)n_past * n};
        wsp__linear3(pool, w3, b3, h, N, n, y3, n, s->wbuf);
        attn_job aj = {.q = s->d_q, .k = kc, .v = vc, .o = s->d_o, .scratch = s->d_scores,
                       .scratch_ld = scratch_ld, .N = N, .n = n, .H = H, .n_past = n_past,
                       .causal = 1};
        wsp__pool_run(pool, attn_task, &aj);
    self_out:
        wsp__linear(pool, &bl->attn.o_w, &bl->attn.o_b, s->d_o, N, n, h, n, s->wbuf);
        wsp__par_add(pool, x, h, (size_t)N * n);

        /* cross-attention on this window's encoder output */
        wsp__par_layer_norm(pool, x, h, N, n, &bl->xattn_ln_w, &bl->xattn_ln_b);
        const uint16_t *k16 = s->cross_k + (size_t)l * T * n, *v16 = s->cross_v + (size_t)l * T * n;
        const int16_t *cap_slot = s->xcap ? s->xcap_slot + (size_t)l * H : NULL;
        if (N == 1) {
            head_job hj = {.a = {.q = s->d_q, .k16 = k16, .v16 = v16, .o = s->d_o,
                                 .scratch = s->d_scores, .scratch_ld = scratch_ld, .N = 1,
                                 .n = n, .H = H, .causal = 0, .len = T,
                                 .cap_slot = cap_slot, .cap = s->xcap},
                           .X = h, .q_w = &bl->xattn.q_w, .q_b = &bl->xattn.q_b};
            wsp__pool_run_n(pool, head_task, &hj, H);
            goto cross_out;
        }
        wsp__linear(pool, &bl->xattn.q_w, &bl->xattn.q_b, h, N, n, s->d_q, n, s->wbuf);
        if (N >= XATTN_GEMM_MIN) {
            xcvt_job cj = {.k16 = k16, .v16 = v16, .kt = s->e_k, .v = s->e_v, .count = (size_t)T * n};
            wsp__pool_run(pool, xcvt_task, &cj);
            xattn_job gj = {.q = s->d_q, .kt = s->e_k, .v = s->e_v, .o = s->d_o,
                            .scratch = s->e_scores, .N = N, .T = T, .n = n, .H = H,
                            .rb = WSP__ATT_ROWS, .cap_slot = cap_slot, .cap = s->xcap};
            wsp__pool_run_n(pool, xattn_task, &gj, H * ((N + WSP__ATT_ROWS - 1) / WSP__ATT_ROWS));
        } else {
            attn_job xj = {.q = s->d_q, .k16 = k16, .v16 = v16, .o = s->d_o,
                           .scratch = s->d_scores, .scratch_ld = scratch_ld, .N = N, .n = n,
                           .H = H, .causal = 0, .len = T, .cap_slot = cap_slot,
                           .cap = s->xcap};
            wsp__pool_run(pool, attn_task, &xj);
        }
    cross_out:
        wsp__linear(pool, &bl->xattn.o_w, &bl->xattn.o_b, s->d_o, N, n, h, n, s->wbuf);
        wsp__par_add(pool, x, h, (size_t)N * n);

        /* MLP */
        wsp__par_layer_norm(pool, x, h, N, n, &bl->mlp_ln_w, &bl->mlp_ln_b);
        wsp__linear_gelu(pool, &bl->mlp0_w, &bl->mlp0_b, h, N, n, s->d_mlp, 4 * n, s->wbuf);
        wsp__linear(pool, &bl->mlp2_w, &bl->mlp2_b, s->d_mlp, N, 4 * n, h, n, s->wbuf);
        wsp__par_add(pool, x, h, (size_t)N * n);
    }

    /* final LN of the last position, logits through the tied embedding [n_vocab][n] */
    const float *last = x + (size_t)(N - 1) * n;
    wsp__par_layer_norm(pool, last, h, 1, n, &m->d_ln_w, &m->d_ln_b);
    wsp__linear(pool, &m->tok_emb, NULL, h, 1, n, logits, hp->n_vocab, s->wbuf);
    return 0;
}
