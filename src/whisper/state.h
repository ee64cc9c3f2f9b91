/*
 * state.h — layout of wsp_state (internal; see include/mdc/whisper.h for the contract).
 *
 * Every buffer is allocated by wsp_state_new() as an anonymous mapping, so pages that a
 * run never touches (most of the 8 decoders' KV caches under greedy decoding, scratch of
 * threads that do not exist) are never resident.
 * Shapes: T = n_audio_ctx (1500), n = state width, C = n_text_ctx (448), L = n_text_layer.
 */
#ifndef MDC_WHISPER_STATE_H
#define MDC_WHISPER_STATE_H

#include "whisper/model.h"
#include "whisper/threadpool.h"

#define WSP__N_DECODERS 8
#define WSP__MAX_THREADS 64
#define WSP__MAX_MAPS 32 /* buffers of one state (each its own anonymous mapping) */
#define WSP__ATT_ROWS 64 /* query rows per encoder attention work item */
#define WSP__XATT_ROWS 4 /* query rows of one state per decoder cross-attention call */
#define WSP__LOGIT_ROWS 16 /* rows per pass over the vocabulary matrix (d_logits) */
#define WSP__MERGE_ROWS 64 /* rows of one merged pass across states (wsp__decode_merged) */

/* A decoder row resolved to its owner (engine.h wsp__row after the checks). */
typedef struct wsp__drow {
    const wsp_state *st; /* owner: its KV caches and encoder K/V */
    int slot;                   /* its sequence's cache slot (st->kv_slot[seq]) */
    int pos;
    int32_t token;
    float *out;                 /* logits [n_vocab] or NULL */
} wsp__drow;

struct wsp_state {
    const wsp_model *model;
    wsp__pool *pool; /* the engine's (engine != NULL), else created on first use with
                        the caller's thread count */
    wsp_engine *engine; /* NULL for wsp_state_new() states */
    int slot;           /* the engine pool this state holds */
    bool batch_member;  /* stepping in the engine's continuous batching (engine.c);
                           written by this state's own thread only, under the engine's
                           batching lock */
    struct wsp_state *batch_next; /* the engine's list of such states (under that lock) */
    wsp_abort_cb abort_cb;
    void *abort_user_data;
    int encoded;     /* a wsp__encode() has filled cross_k/cross_v */
    size_t bytes;    /* total allocated (virtual; resident only once touched) */
    struct {
        void *p;
        size_t bytes;
    } maps[WSP__MAX_MAPS];
    int n_maps;

    /* encoder outputs */
    float *conv_out; /* [T][n] */
    float *enc_out;  /* [T][n] */
    uint16_t *cross_k; /* f16 [L][n][T] (per head [H][dh][T], transposed) K of every decoder
                          layer's cross-attention (f16 like whisper.cpp: half the memory
                          and bandwidth per step) */
    uint16_t *cross_v; /* f16 [L][T][n] */

    /* encoder scratch */
    float *e_h, *e_q, *e_k, *e_v, *e_o; /* [T][n] each */
    float *e_mlp;    /* [T][4n] (also conv1 output [2T][n]) */
    float *e_scores; /* [WSP__MAX_THREADS][WSP__ATT_ROWS][T] per-thread attention rows */
    float *im2col;   /* [max(2T·3·n_mels, T·3n)] */
    float *wbuf;     /* f32 copy of one weight matrix: [max(4n·n, 3n·n, 3·n_mels·n)] */

    /* decoder */
    float *kv;       /* [WSP__N_DECODERS][L][2][C][n] self-attention K and V, by slot */
    int kv_slot[WSP__N_DECODERS]; /* decoder → cache slot (a permutation): a beam
                                     reassignment renames slots instead of copying */
    float *d_x, *d_h, *d_q, *d_k, *d_v, *d_o; /* [C][n] each */
    float *d_mlp;    /* [C][4n] */
    float *d_scores; /* [WSP__MAX_THREADS][WSP__XATT_ROWS][max(T, C)] per-thread attention rows */
    float *d_logits; /* [WSP__LOGIT_ROWS][n_vocab] logits of several rows */
    int d_out_row[WSP__LOGIT_ROWS];
    wsp__drow *d_rows; /* [max(C, WSP__MERGE_ROWS)] the rows of a pass */

    /* optional cross-attention capture (DTW alignment heads; see engine.h
     * wsp__set_xattn_capture): NULL = off, the decoder then only tests the pointer */
    const int16_t *xcap_slot; /* [L][H]: capture slot of (layer, head), or -1 */
    float *xcap;              /* [n_slots][N][T] post-softmax rows of the last decode */
};

/* Makes sure the pool has n_threads threads (recreates it if not).  An engine state
 * keeps its engine pool: n_threads must then be <= 0 or the pool's size, else
 * WSP_EINVAL.  0 or error code. */
int wsp__state_pool(wsp_state *s, int n_threads);

/* One-time library set-up (OpenBLAS single-threaded, the mel's FFTW plan), run once
 * per process however many callers race (pthread_once).  0 or WSP_ENOMEM. */
int wsp__lib_init(void);

/* Checks rows as wsp__decode_batch does, without decoding.  0 or WSP_EINVAL. */
int wsp__decode_check(const wsp_state *s, const wsp__row *rows, int n_rows);

/* One rows-mode pass (decoder.c) over the batches rows[q][0..n_rows[q]) of states st[q]
 * (q < k; same model as run, no capture set, <= WSP__MERGE_ROWS rows in all), on run's
 * pool and scratch.  Each row's result is bit-identical to decoding its batch alone (the
 * rows mode of wsp__decode_batch), which is what makes merging safe.  The callers of
 * st[q] (q != run) must not touch them meanwhile.  0 or WSP_EINVAL. */
int wsp__decode_merged(wsp_state *run, wsp_state *const *st, const wsp__row *const *rows,
                       const int *n_rows, int k);

/* Continuous batching (engine.c).  wsp__engine_decode: as wsp__decode_batch, but a
 * step of < 16 rows on an engine state with batching on goes through one batched pass
 * with the concurrent steps of the engine's other states on the same model (each row's
 * result the same bits as alone); anything else runs alone.  0 or a WSP_E* code.
 * wsp__engine_leave: s is no longer stepping (it encodes, runs another batch, or is
 * done): the others stop waiting for it.  No-op for states without an engine. */
int wsp__engine_decode(wsp_state *s, const wsp__row *rows, int n_rows, int n_threads);
void wsp__engine_leave(wsp_state *s);

/* Counters of the merged passes since the engine started. */
typedef struct wsp__batch_stats {
    long passes;        /* batched passes run by wsp__engine_decode */
    long merged_passes; /* of which held the steps of >= 2 states */
    long steps, rows;   /* steps (one state's batch) and rows they held */
} wsp__batch_stats;
void wsp__engine_stats(wsp_engine *e, wsp__batch_stats *out);

/* Takes a free pool of the engine (waits while all are taken); returns its slot index
 * for wsp__engine_give.  Thread-safe. */
int wsp__engine_take(wsp_engine *e, wsp__pool **pool);
void wsp__engine_give(wsp_engine *e, int slot);

/* K (kv = 0) or V (kv = 1) cache stored in slot `slot`, layer l: [C][n]. */
static inline float *wsp__kv_slot_ptr(const wsp_state *s, int slot, int l, int kv)
{
    const wsp_hparams *hp = &s->model->hp;
    const size_t per = (size_t)hp->n_text_ctx * (size_t)hp->n_text_state;
    return s->kv + (((size_t)slot * (size_t)hp->n_text_layer + (size_t)l) * 2 + (size_t)kv) * per;
}

/* K or V cache of decoder d (through its slot, see kv_slot), layer l: [C][n]. */
static inline float *wsp__kv_ptr(const wsp_state *s, int d, int l, int kv)
{
    return wsp__kv_slot_ptr(s, s->kv_slot[d], l, kv);
}

#endif
