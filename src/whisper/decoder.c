/*
 * decoder.c — Whisper's text decoder, row-batched: one pass decodes a batch of rows, each
 * tagged with its sequence (KV cache) and position, reading every weight once for the
 * whole batch.  See engine.h wsp__decode_batch.
 *
 * ref: OpenAI whisper/model.py TextDecoder (token + positional embedding, pre-LN blocks of
 * causal self-attention, cross-attention on the encoder output, MLP; final LN; logits =
 * x · token_embeddingᵀ); whisper.cpp whisper_build_graph_decoder / whisper_batch and
 * llama.cpp llama_batch (token, pos, seq_id, logits flag per row).
 *
 * Shapes: N rows, n = n_text_state, H = n_text_head, dh = n/H, C = n_text_ctx,
 * T = n_audio_ctx.  Two modes:
 *  - rows (N < 16, and every merged pass of wsp__decode_merged): linear layers take the
 *    type's matvec (weights read in place once for all N rows, wsp__linear_rows); q/k/v
 *    projections and attention of a head in ONE work item per head.  Every row's result
 *    is then a function of that row alone (its token, position, cache, encoder K/V): the
 *    same bits whatever other rows share the pass — what continuous batching relies on.
 *  - gemm (N >= 16 rows of one state: prompts, the DTW pass): sgemm projections and
 *    cross-attention (wsp__linear decides), ~1e-5 from the rows mode.
 */
#include "whisper/kernels.h"
#include "whisper/state.h"

#include <cblas.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#define GEMM_MIN_ROWS 16 /* as kernels_par.c: below it wsp__linear is the matvec path */

/* Attention of N query rows, split over (row, head): self-attention of row i against its
 * own sequence's cache positions [0, pos_i], or cross-attention against its state's
 * encoder K/V of layer l. */
typedef struct attn_job {
    const wsp__drow *rows; /* [N] */
    int l;
    const float *q;     /* [N][n] */
    float *o;           /* [N][n] */
    float *scratch;     /* [nth][max(T, C)] */
    size_t scratch_ld;
    int N, n, H, T;
    int cross;
    const int16_t *cap_slot; /* cross-attention capture: [H] slots (-1 = not captured) */
    float *cap;              /* [n_slots][N][T], or NULL */
} attn_job;

/* Copies the probabilities p[0..T) of query row i, head h into the capture, if asked. */
static inline void capture(float *cap, const int16_t *slot, int h, int N, int i, int T,
                           const float *p)
{
    if (cap && slot[h] >= 0)
        memcpy(cap + ((size_t)slot[h] * (size_t)N + (size_t)i) * (size_t)T, p,
               sizeof(float) * (size_t)T);
}

/* Cross-attention of head h for query rows [i, i + g) of one state (1 <= g <=
 * WSP__XATT_ROWS), against that state's encoder K/V of layer l: one multi-query kernel
 * call reads the head's keys and values once for the g rows (sc: this thread's scratch,
 * [WSP__XATT_ROWS][scratch_ld]). */
static void cross_rows(const attn_job *j, int i, int g, int h, float *sc)
{
    const wsp_state *st = j->rows[i].st;
    const int n = j->n, dh = n / j->H;
    const float scale = 1.0f / sqrtf((float)dh);
    /* keys and values stored per head transposed: [H][dh][T] */
    const size_t T = (size_t)j->T, off = (size_t)j->l * T * (size_t)n + (size_t)h * dh * T;
    wsp__kern()->attn_f16(st->cross_k + off, T, st->cross_v + off, T, j->T, dh,
                          j->q + (size_t)i * n + (size_t)h * dh, (size_t)n, g, scale, sc,
                          j->scratch_ld, j->o + (size_t)i * n + (size_t)h * dh, (size_t)n);
    for (int r = 0; r < g; r++) /* sc holds the softmax of each row */
        capture(j->cap, j->cap_slot, h, j->N, i + r, j->T, sc + (size_t)r * j->scratch_ld);
}

/* Self-attention of query row i, head h (sc: this thread's scratch row). */
static void attn_one(const attn_job *j, int i, int h, float *sc)
{
    const wsp__drow *r = &j->rows[i];
    const int n = j->n, dh = n / j->H;
    const float scale = 1.0f / sqrtf((float)dh);
    const float *q = j->q + (size_t)i * n + (size_t)h * dh;
    float *o = j->o + (size_t)i * n + (size_t)h * dh;
    /* scores[len] = K_h[len][dh] · q_h, softmax, o_h = V_hᵀ · p (strided by n) */
    const int len = r->pos + 1;
    const float *k = wsp__kv_slot_ptr(r->st, r->slot, j->l, 0);
    const float *v = wsp__kv_slot_ptr(r->st, r->slot, j->l, 1);
    cblas_sgemv(CblasRowMajor, CblasNoTrans, len, dh, 1.0f, k + (size_t)h * dh, n, q, 1, 0.0f,
                sc, 1);
    wsp__softmax(sc, len, scale);
    cblas_sgemv(CblasRowMajor, CblasTrans, len, dh, 1.0f, v + (size_t)h * dh, n, sc, 1, 0.0f,
                o, 1);
}

static void attn_task(void *p, int ith, int nth)
{
    const attn_job *j = p;
    float *sc = j->scratch + (size_t)wsp__pool_tid() * WSP__XATT_ROWS * j->scratch_ld;
    int b, e;
    wsp__split(j->N * j->H, ith, nth, &b, &e);
    for (int w = b; w < e; w++)
        attn_one(j, w / j->H, w % j->H, sc);
}

/* Copies columns [c0, c1) of the new K and V rows (k, v: [N][n]) to each row's cache at
 * its position. */
static void store_kv(const attn_job *j, const float *k, const float *v, int c0, int c1)
{
    const size_t n = (size_t)j->n, bytes = sizeof(float) * (size_t)(c1 - c0);
    for (int i = 0; i < j->N; i++) {
        const wsp__drow *r = &j->rows[i];
        const size_t at = (size_t)r->pos * n + (size_t)c0;
        memcpy(wsp__kv_slot_ptr(r->st, r->slot, j->l, 0) + at, k + (size_t)i * n + c0, bytes);
        memcpy(wsp__kv_slot_ptr(r->st, r->slot, j->l, 1) + at, v + (size_t)i * n + c0, bytes);
    }
}

/* Rows mode: the projections a head needs (its dh rows of W_q, and of W_k, W_v for
 * self-attention, each read once for all N rows) and that head's attention for every row
 * in ONE work item per head, so q/k/v and the attention share one fork/join.  K/V of
 * every row reach the caches before any row of the head attends (causal within a
 * sequence).  Per-row arithmetic is that of wsp__linear_rows.  X: [N][n] layer-normed
 * input; k_w == NULL for cross-attention. */
typedef struct head_job {
    attn_job a;
    const float *X;
    const wsp__mat *q_w, *q_b, *k_w, *v_w, *v_b;
    float *k, *v; /* [N][n] scratch for the new K/V rows */
} head_job;

static void head_task(void *p, int ith, int nth)
{
    const head_job *j = p;
    const int n = j->a.n, N = j->a.N, dh = n / j->a.H;
    float *sc = j->a.scratch + (size_t)wsp__pool_tid() * WSP__XATT_ROWS * j->a.scratch_ld;
    int b, e;
    wsp__split(j->a.H, ith, nth, &b, &e);
    for (int h = b; h < e; h++) {
        const int r0 = h * dh, r1 = r0 + dh;
        wsp__matvec_rows(j->q_w, j->q_b, j->X, N, n, (float *)j->a.q, n, r0, r1);
        if (j->k_w) {
            wsp__matvec_rows(j->k_w, NULL, j->X, N, n, j->k, n, r0, r1);
            wsp__matvec_rows(j->v_w, j->v_b, j->X, N, n, j->v, n, r0, r1);
            store_kv(&j->a, j->k, j->v, r0, r1);
        }
        if (!j->k_w) {
            /* consecutive rows of one state (the beams or best-of candidates of a window)
             * share the head's encoder K/V */
            for (int i = 0; i < N;) {
                int g = 1;
                while (g < WSP__XATT_ROWS && i + g < N && j->a.rows[i + g].st == j->a.rows[i].st)
                    g++;
                cross_rows(&j->a, i, g, h, sc);
                i += g;
            }
        } else {
            for (int i = 0; i < N; i++)
                attn_one(&j->a, i, h, sc);
        }
    }
}

/* gemm mode: the new K/V rows to the caches, split over rows. */
typedef struct kv_job {
    const attn_job *a;
    const float *k, *v;
} kv_job;

static void kv_task(void *p, int ith, int nth)
{
    const kv_job *j = p;
    int b, e;
    wsp__split(j->a->N, ith, nth, &b, &e);
    attn_job sub = *j->a;
    sub.rows = j->a->rows + b;
    sub.N = e - b;
    const size_t off = (size_t)b * (size_t)sub.n;
    store_kv(&sub, j->k + off, j->v + off, 0, sub.n);
}

/* gemm mode: batches of >= 16 rows (prompts of later windows) attend to the encoder
 * output with sgemm: the layer's f16 K and V (both transposed, [n][T]) are widened
 * to f32 in the (idle) encoder scratch, then work items of (head, 64 query rows) do
 * scores, softmax and the product with V, as the encoder does. */
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
    const wsp__drow *rows;
    int N;
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
        wsp__mat_row(&j->m->tok_emb, j->rows[i].token, x);
        const size_t off = (size_t)j->rows[i].pos * (size_t)n;
        for (int c = 0; c < n; c++)
            x[c] += wsp__ldf(j->m->d_pos.data, off + (size_t)c);
    }
}

/* The linear layers of a pass: the matvec path in rows mode, else wsp__linear's choice. */
static void lin(wsp__pool *pool, bool rows, const wsp__mat *W, const wsp__mat *b,
                const float *X, int M, int ldx, float *Y, int ldy, float *wbuf, int gelu)
{
    if (rows)
        wsp__linear_rows(pool, W, b, X, M, ldx, Y, ldy, gelu);
    else if (gelu)
        wsp__linear_gelu(pool, W, b, X, M, ldx, Y, ldy, wbuf);
    else
        wsp__linear(pool, W, b, X, M, ldx, Y, ldy, wbuf);
}

/* The forward pass of rows[0..N) (checked, N <= n_text_ctx) on s's pool and scratch;
 * rows may belong to other states on the same model (their caches and encoder K/V are
 * read and written, s's capture is used only when every row is s's own). */
static void decode_rows(wsp_state *s, const wsp__drow *rows, int N, bool rows_mode)
{
    const wsp_model *m = s->model;
    const wsp_hparams *hp = &m->hp;
    const int n = hp->n_text_state, H = hp->n_text_head;
    const int C = hp->n_text_ctx, T = hp->n_audio_ctx;
    wsp__pool *pool = s->pool;
    float *x = s->d_x, *h = s->d_h;

    embed_job ej = {.m = m, .rows = rows, .N = N, .x = x};
    if (N == 1)
        embed_task(&ej, 0, 1);
    else
        wsp__pool_run(pool, embed_task, &ej);

    const size_t scratch_ld = (size_t)(T > C ? T : C);
    for (int l = 0; l < hp->n_text_layer; l++) {
        const wsp__block *bl = &m->d_blocks[l];
        const int16_t *cap_slot = s->xcap ? s->xcap_slot + (size_t)l * H : NULL;
        const attn_job a0 = {.rows = rows, .l = l, .q = s->d_q, .o = s->d_o,
                             .scratch = s->d_scores, .scratch_ld = scratch_ld, .N = N, .n = n,
                             .H = H, .T = T};

        /* causal self-attention */
        wsp__par_layer_norm(pool, x, h, N, n, &bl->attn_ln_w, &bl->attn_ln_b);
        if (rows_mode) {
            head_job hj = {.a = a0, .X = h, .q_w = &bl->attn.q_w, .q_b = &bl->attn.q_b,
                           .k_w = &bl->attn.k_w, .v_w = &bl->attn.v_w, .v_b = &bl->attn.v_b,
                           .k = s->d_k, .v = s->d_v};
            wsp__pool_run_n(pool, head_task, &hj, H);
        } else {
            const wsp__mat *const w3[3] = {&bl->attn.q_w, &bl->attn.k_w, &bl->attn.v_w};
            const wsp__mat *const b3[3] = {&bl->attn.q_b, NULL, &bl->attn.v_b};
            float *const y3[3] = {s->d_q, s->d_k, s->d_v};
            wsp__linear3(pool, w3, b3, h, N, n, y3, n, s->wbuf);
            kv_job kj = {.a = &a0, .k = s->d_k, .v = s->d_v};
            wsp__pool_run(pool, kv_task, &kj);
            wsp__pool_run(pool, attn_task, (void *)&a0);
        }
        lin(pool, rows_mode, &bl->attn.o_w, &bl->attn.o_b, s->d_o, N, n, h, n, s->wbuf, 0);
        wsp__par_add(pool, x, h, (size_t)N * n);

        /* cross-attention on each row's encoder output */
        wsp__par_layer_norm(pool, x, h, N, n, &bl->xattn_ln_w, &bl->xattn_ln_b);
        attn_job xa = a0;
        xa.cross = 1;
        xa.cap_slot = cap_slot;
        xa.cap = s->xcap;
        if (rows_mode) {
            head_job hj = {.a = xa, .X = h, .q_w = &bl->xattn.q_w, .q_b = &bl->xattn.q_b};
            wsp__pool_run_n(pool, head_task, &hj, H);
        } else {
            /* gemm mode: every row is s's own, one encoder output */
            wsp__linear(pool, &bl->xattn.q_w, &bl->xattn.q_b, h, N, n, s->d_q, n, s->wbuf);
            const uint16_t *k16 = s->cross_k + (size_t)l * T * n;
            const uint16_t *v16 = s->cross_v + (size_t)l * T * n;
            xcvt_job cj = {.k16 = k16, .v16 = v16, .kt = s->e_k, .v = s->e_v,
                           .count = (size_t)T * n};
            wsp__pool_run(pool, xcvt_task, &cj);
            xattn_job gj = {.q = s->d_q, .kt = s->e_k, .v = s->e_v, .o = s->d_o,
                            .scratch = s->e_scores, .N = N, .T = T, .n = n, .H = H,
                            .rb = WSP__ATT_ROWS, .cap_slot = cap_slot, .cap = s->xcap};
            wsp__pool_run_n(pool, xattn_task, &gj, H * ((N + WSP__ATT_ROWS - 1) / WSP__ATT_ROWS));
        }
        lin(pool, rows_mode, &bl->xattn.o_w, &bl->xattn.o_b, s->d_o, N, n, h, n, s->wbuf, 0);
        wsp__par_add(pool, x, h, (size_t)N * n);

        /* MLP */
        wsp__par_layer_norm(pool, x, h, N, n, &bl->mlp_ln_w, &bl->mlp_ln_b);
        lin(pool, rows_mode, &bl->mlp0_w, &bl->mlp0_b, h, N, n, s->d_mlp, 4 * n, s->wbuf, 1);
        lin(pool, rows_mode, &bl->mlp2_w, &bl->mlp2_b, s->d_mlp, N, 4 * n, h, n, s->wbuf, 0);
        wsp__par_add(pool, x, h, (size_t)N * n);
    }

    /* final LN of the rows that want logits, logits through the tied embedding
     * [n_vocab][n] (always the matvec path: the vocabulary matrix is read once per
     * WSP__LOGIT_ROWS rows and never converted); a single row writes in place */
    const int nv = hp->n_vocab;
    for (int i0 = 0; i0 < N;) {
        int k = 0, first = -1;
        for (; i0 < N && k < WSP__LOGIT_ROWS; i0++) {
            if (!rows[i0].out)
                continue;
            first = first < 0 ? i0 : first;
            s->d_out_row[k] = i0;
            float *hk = h + (size_t)k * n;
            memcpy(hk, x + (size_t)i0 * n, sizeof(float) * (size_t)n);
            wsp__layer_norm(hk, n, m->d_ln_w.data, m->d_ln_b.data);
            k++;
        }
        if (k == 0)
            break;
        if (k == 1) {
            wsp__linear_rows(pool, &m->tok_emb, NULL, h, 1, n, rows[first].out, nv, 0);
            continue;
        }
        wsp__linear_rows(pool, &m->tok_emb, NULL, h, k, n, s->d_logits, nv, 0);
        for (int r = 0; r < k; r++)
            memcpy(rows[s->d_out_row[r]].out, s->d_logits + (size_t)r * nv, sizeof(float) * nv);
    }
}

/* Checks a batch against the state's model; fills out[0..n) (s's own rows) unless NULL. */
static int make_rows(const wsp_state *s, const wsp__row *rows, int n_rows, wsp__drow *out)
{
    const wsp_hparams *hp = &s->model->hp;
    if (!rows || n_rows < 1 || n_rows > hp->n_text_ctx || !s->encoded)
        return WSP_EINVAL;
    for (int i = 0; i < n_rows; i++) {
        const wsp__row *r = &rows[i];
        if (r->token < 0 || r->token >= hp->n_vocab || r->pos < 0 || r->pos >= hp->n_text_ctx ||
            r->seq < 0 || r->seq >= WSP__N_DECODERS)
            return WSP_EINVAL;
        for (int k = 0; k < i; k++)
            if (rows[k].seq == r->seq && rows[k].pos == r->pos)
                return WSP_EINVAL; /* the same cache position twice */
        if (out)
        out[i] = (wsp__drow){.st = s, .slot = s->kv_slot[r->seq], .pos = r->pos,
                             .token = r->token, .out = r->logits};
    }
    return 0;
}

int wsp__decode_batch(wsp_state *s, const wsp__row *rows, int n_rows, int n_threads)
{
    if (!s)
        return WSP_EINVAL;
    wsp__engine_leave(s); /* not a continuous-batching step (engine.c) */
    int rc = make_rows(s, rows, n_rows, s->d_rows);
    if (rc)
        return rc;
    if (s->abort_cb && s->abort_cb(s->abort_user_data))
        return WSP_ECANCELED;
    rc = wsp__state_pool(s, n_threads);
    if (rc)
        return rc;
    decode_rows(s, s->d_rows, n_rows, n_rows < GEMM_MIN_ROWS);
    return 0;
}

int wsp__decode_check(const wsp_state *s, const wsp__row *rows, int n_rows)
{
    if (!s)
        return WSP_EINVAL;
    return make_rows(s, rows, n_rows, NULL);
}

int wsp__decode_merged(wsp_state *run, wsp_state *const *st, const wsp__row *const *rows,
                       const int *n_rows, int k)
{
    int N = 0;
    for (int q = 0; q < k; q++) {
        if (st[q]->model != run->model || st[q]->xcap || N + n_rows[q] > WSP__MERGE_ROWS)
            return WSP_EINVAL;
        int rc = make_rows(st[q], rows[q], n_rows[q], run->d_rows + N);
        if (rc)
            return rc;
        N += n_rows[q];
    }
    if (N == 0)
        return WSP_EINVAL;
    float *cap = run->xcap;
    run->xcap = NULL; /* row indices of a merged pass are not the capture's */
    decode_rows(run, run->d_rows, N, true);
    run->xcap = cap;
    return 0;
}
