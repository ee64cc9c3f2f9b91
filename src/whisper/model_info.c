/*
 * model_info.c — what a loaded model holds, per tensor type (`model info`, /v1/models).
 *
 * Visits every tensor view of the model (the same set the loader's expectation table
 * lists) and sums elements and data bytes per ggml type code.  Byte sizes: f32 4, f16 2,
 * q-types (cols / 32) blocks of wsp__qblock_bytes() per row.
 */
#include "whisper/model.h"
#include "whisper/quantize.h"

#include <string.h>

#define N_CODES 40 /* ggml type codes are < 40 */

typedef struct acc {
    int n[N_CODES];
    uint64_t weights[N_CODES], bytes[N_CODES];
} acc;

static uint64_t mat_bytes(const wsp__mat *m)
{
    const uint64_t rows = (uint64_t)m->rows, cols = (uint64_t)m->cols;
    switch (m->type) {
    case WSP__T_F32: return rows * cols * 4;
    case WSP__T_F16: return rows * cols * 2;
    default: return rows * (cols / WSP__QK) * wsp__qblock_bytes((wsp_qtype)m->type);
    }
}

static void add(acc *a, const wsp__mat *m)
{
    if (!m->data || m->type < 0 || m->type >= N_CODES)
        return;
    a->n[m->type]++;
    a->weights[m->type] += (uint64_t)m->rows * (uint64_t)m->cols;
    a->bytes[m->type] += mat_bytes(m);
}

static void add_attn(acc *a, const wsp__attn_w *w)
{
    const wsp__mat *v[] = {&w->q_w, &w->q_b, &w->k_w, &w->v_w, &w->v_b, &w->o_w, &w->o_b};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        add(a, v[i]);
}

static void add_block(acc *a, const wsp__block *b)
{
    const wsp__mat *v[] = {&b->attn_ln_w, &b->attn_ln_b, &b->xattn_ln_w, &b->xattn_ln_b,
                           &b->mlp_ln_w,  &b->mlp_ln_b,  &b->mlp0_w,     &b->mlp0_b,
                           &b->mlp2_w,    &b->mlp2_b};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        add(a, v[i]);
    add_attn(a, &b->attn);
    add_attn(a, &b->xattn); /* empty (data NULL) in encoder blocks */
}

static void collect(const wsp_model *m, acc *a)
{
    memset(a, 0, sizeof *a);
    const wsp__mat *v[] = {&m->e_pos, &m->conv1_w, &m->conv1_b, &m->conv2_w, &m->conv2_b,
                           &m->e_ln_w, &m->e_ln_b, &m->d_pos, &m->tok_emb, &m->d_ln_w,
                           &m->d_ln_b};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        add(a, v[i]);
    for (int i = 0; i < m->hp.n_audio_layer; i++)
        add_block(a, &m->e_blocks[i]);
    for (int i = 0; i < m->hp.n_text_layer; i++)
        add_block(a, &m->d_blocks[i]);
}

static const char *code_name(int t)
{
    return t == WSP__T_F32 ? "f32" : t == WSP__T_F16 ? "f16" : wsp_qtype_name((wsp_qtype)t);
}

int wsp_model_tensor_types(const wsp_model *m, wsp_tensor_type_stats *out, int cap)
{
    acc a;
    collect(m, &a);
    int k = 0;
    for (int t = 0; t < N_CODES; t++) {
        if (!a.n[t])
            continue;
        if (out && k < cap)
            out[k] = (wsp_tensor_type_stats){.name = code_name(t), .type = t, .n_tensors = a.n[t],
                                             .n_weights = a.weights[t], .n_bytes = a.bytes[t]};
        k++;
    }
    return k;
}

const char *wsp_model_weight_type(const wsp_model *m)
{
    acc a;
    collect(m, &a);
    int best = WSP__T_F32;
    for (int t = 0; t < N_CODES; t++)
        if (a.bytes[t] > a.bytes[best])
            best = t;
    return code_name(best);
}
