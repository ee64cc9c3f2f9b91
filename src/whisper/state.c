/* state.c — per-transcription working memory; see state.h and include/mdc/whisper.h. */
#include "whisper/state.h"
#include "whisper/kernels.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Every buffer is an anonymous private mapping: pages are zero and cost nothing until
 * touched, whatever malloc's dynamic mmap threshold has become (after large frees glibc
 * may serve calloc from recycled heap memory, which it then memsets — making unused
 * scratch and the idle decoders' KV caches resident). */
#if defined(__SANITIZE_ADDRESS__)
#define USE_HEAP 1 /* ASan: heap buffers get redzones, mappings would not */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define USE_HEAP 1
#endif
#endif
#ifndef USE_HEAP
#define USE_HEAP 0
#endif

static float *alloc_f(wsp_state *s, size_t n, int *ok)
{
    const size_t bytes = (n ? n : 1) * sizeof(float);
    if (s->n_maps >= WSP__MAX_MAPS) {
        *ok = 0;
        return NULL;
    }
    void *p = USE_HEAP ? calloc(1, bytes)
                       : mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!p || p == MAP_FAILED) {
        *ok = 0;
        return NULL;
    }
    s->maps[s->n_maps].p = p;
    s->maps[s->n_maps].bytes = bytes;
    s->n_maps++;
    s->bytes += bytes;
    return p;
}

int wsp_state_new_on(wsp_engine *engine, const wsp_model *model, wsp_state **out,
                     wsp_error *err)
{
    if (out)
        *out = NULL;
    if (!engine)
        return wsp__fail(err, WSP_EINVAL, "wsp_state_new_on: NULL engine");
    int rc = wsp_state_new(model, out, err);
    if (rc)
        return rc;
    (*out)->engine = engine;
    (*out)->slot = wsp__engine_take(engine, &(*out)->pool);
    return 0;
}

int wsp_state_new(const wsp_model *model, wsp_state **out, wsp_error *err)
{
    if (out)
        *out = NULL;
    if (!model || !out)
        return wsp__fail(err, WSP_EINVAL, "wsp_state_new: NULL argument");
    wsp_state *s = calloc(1, sizeof *s);
    if (!s)
        return wsp__fail(err, WSP_ENOMEM, "out of memory for the state");
    s->model = model;
    s->bytes = sizeof *s;
    for (int d = 0; d < WSP__N_DECODERS; d++)
        s->kv_slot[d] = d;
    const wsp_hparams *hp = &model->hp;
    const size_t T = (size_t)hp->n_audio_ctx, n = (size_t)hp->n_audio_state;
    const size_t L = (size_t)hp->n_text_layer, C = (size_t)hp->n_text_ctx;
    const size_t M = (size_t)hp->n_mels;
    int ok = 1;
    s->conv_out = alloc_f(s, T * n, &ok);
    s->enc_out = alloc_f(s, T * n, &ok);
    s->cross_k = (uint16_t *)alloc_f(s, (L * T * n + 1) / 2, &ok);
    s->cross_v = (uint16_t *)alloc_f(s, (L * T * n + 1) / 2, &ok);
    s->e_h = alloc_f(s, T * n, &ok);
    s->e_q = alloc_f(s, T * n, &ok);
    s->e_k = alloc_f(s, T * n, &ok);
    s->e_v = alloc_f(s, T * n, &ok);
    s->e_o = alloc_f(s, T * n, &ok);
    s->e_mlp = alloc_f(s, T * 4 * n, &ok);
    s->e_scores = alloc_f(s, (size_t)WSP__MAX_THREADS * WSP__ATT_ROWS * T, &ok);
    const size_t ic = 2 * T * 3 * M > T * 3 * n ? 2 * T * 3 * M : T * 3 * n;
    s->im2col = alloc_f(s, ic, &ok);
    size_t wb = 4 * n * n;
    if (3 * M * n > wb)
        wb = 3 * M * n;
    /* quantized matrices: + a block of activations quantized and widened (wsp__linear) */
    if (model->n_quant)
        wb += (size_t)WSP__QGEMM_ROWS * 4 * n;
    s->wbuf = alloc_f(s, wb, &ok);
    s->kv = alloc_f(s, (size_t)WSP__N_DECODERS * L * 2 * C * n, &ok);
    s->d_x = alloc_f(s, C * n, &ok);
    s->d_h = alloc_f(s, C * n, &ok);
    s->d_q = alloc_f(s, C * n, &ok);
    s->d_k = alloc_f(s, C * n, &ok);
    s->d_v = alloc_f(s, C * n, &ok);
    s->d_o = alloc_f(s, C * n, &ok);
    s->d_mlp = alloc_f(s, C * 4 * n, &ok);
    s->d_scores = alloc_f(s, (size_t)WSP__MAX_THREADS * WSP__XATT_ROWS * (T > C ? T : C), &ok);
    s->d_logits = alloc_f(s, (size_t)WSP__LOGIT_ROWS * (size_t)hp->n_vocab, &ok);
    const size_t nr = C > WSP__MERGE_ROWS ? C : WSP__MERGE_ROWS;
    s->d_rows = (wsp__drow *)alloc_f(s, (nr * sizeof(wsp__drow) + 3) / sizeof(float), &ok);
    if (!ok) {
        wsp_state_free(s);
        return wsp__fail(err, WSP_ENOMEM, "out of memory for the state buffers");
    }
    *out = s;
    return 0;
}

void wsp_state_free(wsp_state *s)
{
    if (!s)
        return;
    wsp__engine_leave(s);
    if (s->engine)
        wsp__engine_give(s->engine, s->slot);
    else
        wsp__pool_free(s->pool);
    for (int i = 0; i < s->n_maps; i++) {
        if (USE_HEAP)
            free(s->maps[i].p);
        else
            munmap(s->maps[i].p, s->maps[i].bytes);
    }
    free(s);
}

size_t wsp_state_bytes(const wsp_state *s) { return s ? s->bytes : 0; }

int wsp__state_pool(wsp_state *s, int n_threads)
{
    if (s->engine)
        return n_threads <= 0 || n_threads == wsp__pool_size(s->pool) ? 0 : WSP_EINVAL;
    if (n_threads < 1)
        n_threads = 1;
    if (n_threads > WSP__MAX_THREADS)
        n_threads = WSP__MAX_THREADS;
    if (s->pool && wsp__pool_size(s->pool) == n_threads)
        return 0;
    int rc = wsp__lib_init();
    if (rc)
        return rc;
    wsp__pool_free(s->pool);
    s->pool = wsp__pool_new(n_threads);
    return s->pool ? 0 : WSP_ENOMEM;
}

const float *wsp__conv_output(const wsp_state *s) { return s->conv_out; }
const float *wsp__encoder_output(const wsp_state *s) { return s->enc_out; }
int wsp__n_decoders(const wsp_state *s) { return WSP__N_DECODERS; }
const wsp_model *wsp__state_model(const wsp_state *s) { return s->model; }

void wsp__set_abort(wsp_state *s, wsp_abort_cb cb, void *user_data)
{
    s->abort_cb = cb;
    s->abort_user_data = user_data;
}

void wsp__kv_reorder(wsp_state *s, const int *parent, int n, int n_past)
{
    enum { N = WSP__N_DECODERS };
    const wsp_hparams *hp = &s->model->hp;
    if (n > N)
        n = N;
    if (n_past > hp->n_text_ctx)
        n_past = hp->n_text_ctx;
    int old[N], neu[N];
    bool slot_used[N] = {0}, done[N] = {0};
    memcpy(old, s->kv_slot, sizeof old);
    /* the first child of each parent takes the parent's slot: no copy */
    for (int j = 0; j < n; j++) {
        const int p = parent[j];
        if (p < 0 || p >= N || slot_used[old[p]])
            continue;
        neu[j] = old[p];
        slot_used[old[p]] = done[j] = true;
    }
    /* further children of a parent copy into a slot nobody keeps (every parent's slot is
     * taken by its first child by now, so no source is overwritten) */
    const size_t bytes = (size_t)(n_past > 0 ? n_past : 0) * (size_t)hp->n_text_state * sizeof(float);
    for (int j = 0; j < n; j++) {
        const int p = parent[j];
        if (p < 0 || p >= N || done[j])
            continue;
        int f = 0;
        while (slot_used[f])
            f++;
        for (int l = 0; l < hp->n_text_layer && bytes; l++)
            for (int kv = 0; kv < 2; kv++)
                memcpy(wsp__kv_slot_ptr(s, f, l, kv), wsp__kv_slot_ptr(s, old[p], l, kv), bytes);
        neu[j] = f;
        slot_used[f] = done[j] = true;
    }
    /* decoders without a parent get the remaining slots (contents unspecified) */
    for (int j = 0; j < N; j++) {
        if (done[j])
            continue;
        int f = 0;
        while (slot_used[f])
            f++;
        neu[j] = f;
        slot_used[f] = true;
    }
    memcpy(s->kv_slot, neu, sizeof neu);
}

void wsp__set_xattn_capture(wsp_state *s, const int16_t *slot, float *cap)
{
    s->xcap_slot = cap ? slot : NULL;
    s->xcap = slot ? cap : NULL;
}
