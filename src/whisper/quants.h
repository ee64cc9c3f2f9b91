/*
 * quants.h — ggml's tensor type codes and the block layouts of the quantized types the
 * engine reads (q4_0, q4_1, q5_0, q5_1, q8_0 weights; q8_0 and q8_1 activations).
 *
 * The one place these layouts are defined: the loader (model.c), the kernels
 * (quants*.c, kernels*.c) and the model quantizer use these structs.  Every block holds
 * QK = 32 consecutive weights of one row; scales are IEEE half (ggml_half).  A tensor
 * row of `cols` weights is cols / 32 consecutive blocks, so a quantized row length must be
 * a multiple of 32.  Values (q = the stored code):
 *   q4_0  w = (q − 8)·d          q: 4 bits, element j in byte j%16, low nibble for j < 16
 *   q4_1  w = q·d + m            same nibble order
 *   q5_0  w = (q − 16)·d         low 4 bits as q4_0, bit 4 of element j in bit j of qh
 *   q5_1  w = q·d + m            same as q5_0
 *   q8_0  w = q·d                q: int8
 *   q8_1  x = q·d, s = d·Σq      activation type of q4_1/q5_1 (s used for the m term)
 * ref: ggml/src/ggml-common.h (block_q4_0 … block_q8_1), ggml.h enum ggml_type;
 *      whisper-ref README-round2.md §4.  Thread-safe (definitions only).
 */
#ifndef MDC_WHISPER_QUANTS_H
#define MDC_WHISPER_QUANTS_H

#include <assert.h>
#include <stddef.h>
#include <stdint.h>

/* ggml_type codes as stored in a ggml file's tensor records (ttype). 4, 5 were q4_2/q4_3
 * (removed from ggml); 10…15 are the k-quants, which the engine does not implement. */
enum {
    WSP__T_F32 = 0,
    WSP__T_F16 = 1,
    WSP__T_Q4_0 = 2,
    WSP__T_Q4_1 = 3,
    WSP__T_Q5_0 = 6,
    WSP__T_Q5_1 = 7,
    WSP__T_Q8_0 = 8,
    WSP__T_Q8_1 = 9, /* activations only (never a weight type in a whisper file) */
    WSP__T_Q2_K = 10,
    WSP__T_Q6_K = 14,
    WSP__T_Q8_K = 15,
    WSP__N_TYPES = 10 /* codes 0 … 9 have a slot in the per-type tables */
};

#define WSP__QK 32 /* weights per block, every quantized type here (ggml QK4_0 … QK8_1) */

typedef uint16_t wsp__half; /* IEEE binary16 bits */

typedef struct { wsp__half d; uint8_t qs[WSP__QK / 2]; } wsp__block_q4_0;
typedef struct { wsp__half d, m; uint8_t qs[WSP__QK / 2]; } wsp__block_q4_1;
typedef struct { wsp__half d; uint8_t qh[4]; uint8_t qs[WSP__QK / 2]; } wsp__block_q5_0;
typedef struct { wsp__half d, m; uint8_t qh[4]; uint8_t qs[WSP__QK / 2]; } wsp__block_q5_1;
typedef struct { wsp__half d; int8_t qs[WSP__QK]; } wsp__block_q8_0;
typedef struct { wsp__half d, s; int8_t qs[WSP__QK]; } wsp__block_q8_1;

/* The file format fixes these sizes (README-round2 §4: 18, 20, 22, 24, 34 bytes). */
static_assert(sizeof(wsp__block_q4_0) == 18, "q4_0 block is 18 bytes");
static_assert(sizeof(wsp__block_q4_1) == 20, "q4_1 block is 20 bytes");
static_assert(sizeof(wsp__block_q5_0) == 22, "q5_0 block is 22 bytes");
static_assert(sizeof(wsp__block_q5_1) == 24, "q5_1 block is 24 bytes");
static_assert(sizeof(wsp__block_q8_0) == 34, "q8_0 block is 34 bytes");
static_assert(sizeof(wsp__block_q8_1) == 36, "q8_1 block is 36 bytes");

/* Size facts of one type code (same for every ISA). */
typedef struct wsp__type_info {
    const char *name; /* "f32", "q5_0", … ; NULL for codes without a slot */
    int blck;         /* elements per block (1 for f32/f16) */
    int size;         /* bytes per block */
    int weight;       /* 1 if the engine accepts it as a weight matrix type */
} wsp__type_info;

/* ggml's name of any type code ("q4_K", "bf16", …) or NULL if unknown. */
const char *wsp__type_name(int code);

/* Size facts of code (0 <= code < WSP__N_TYPES and a slot exists) or NULL. */
const wsp__type_info *wsp__type_info_of(int code);

/* Bytes of one row of `cols` elements of `code` (cols a multiple of its block size). */
static inline size_t wsp__row_bytes(const wsp__type_info *t, int cols)
{
    return (size_t)(cols / t->blck) * (size_t)t->size;
}

#endif
