/*
 * quantize.h — ggml's reference weight quantizers (the rounding whisper-quantize uses to
 * write q4_0 … q8_0 model files), writing block bytes directly.  Not installed.
 *
 * Block layouts (32 weights per block, little-endian, no padding; ggml-common.h):
 *   q4_0 18 B: f16 d, 16 B nibbles             w = (q − 8)·d
 *   q4_1 20 B: f16 d, f16 m, 16 B nibbles      w = q·d + m
 *   q5_0 22 B: f16 d, u32 high bits, 16 B      w = (q − 16)·d
 *   q5_1 24 B: f16 d, f16 m, u32 high bits, 16 B  w = q·d + m
 *   q8_0 34 B: f16 d, 32 × int8                w = q·d
 * Nibble byte j holds weight j (low 4 bits) and weight j + 16 (high 4 bits); high-bit
 * word bit j is bit 4 of weight j.
 * ref: ggml/src/ggml-quants.c quantize_row_q{4_0,4_1,5_0,5_1,8_0}_ref (whisper.cpp
 * 233fe1fc9); whisper-ref README-round2.md §4.
 *
 * Thread-safe (pure functions).
 */
#ifndef MDC_WHISPER_QUANTIZE_H
#define MDC_WHISPER_QUANTIZE_H

#include "mdc/whisper.h"
#include "whisper/quants.h" /* WSP__QK and the block structs: the one layout definition */

#include <stddef.h>
#include <stdint.h>

/* Bytes of one block of `type`, or 0 for a type that is not one of the five. */
size_t wsp__qblock_bytes(wsp_qtype type);

/* Quantizes x[k] (k a multiple of 32, every value finite) into k/32 blocks of `type` at
 * dst (wsp__qblock_bytes(type)·k/32 bytes, any alignment), bit for bit as ggml's
 * quantize_row_*_ref does: same scale, same rounding, same tie-breaking, f16 scales
 * rounded to nearest even.  Returns the bytes written, or 0 if type is unknown or k is
 * not a multiple of 32 (nothing written then). */
size_t wsp__quantize_row(wsp_qtype type, const float *x, void *dst, int64_t k);

/* Name of a header ftype ("f16", "q5_0" for 2008, "q4_k" for 2012 …), "unknown" otherwise.
 * ref: ggml.h enum ggml_ftype; the header stores GGML_QNT_VERSION·1000 + ftype. */
const char *wsp__ftype_name(int32_t ftype);

#endif
