/*
 * dtw.h — token times by dynamic time warping over the cross-attention of the
 * alignment heads (prefix wsp__dtw).  ref: whisper.cpp src/whisper.cpp
 * whisper_exp_compute_token_level_timestamps_dtw, dtw_and_backtrace, median_filter,
 * g_aheads_*; OpenAI whisper/timing.py (find_alignment, dtw); README-round2 §3.
 */
#ifndef MDC_WHISPER_DTW_H
#define MDC_WHISPER_DTW_H

#include "whisper/engine.h"

/* Alignment heads of a preset: *heads points at n pairs {layer, head} (static), in
 * whisper.cpp's order.  Returns n (0 for NONE or an unknown value). */
int wsp__dtw_heads(wsp_aheads_preset preset, const int8_t (**heads)[2]);

/* Fills slot[L·H] with each (layer, head)'s capture slot (-1 = none), slots numbered
 * in layer order then list order (the order whisper.cpp concatenates them).  Returns the
 * number of slots, or WSP_EINVAL if a head lies outside the model (n_layer × n_head). */
int wsp__dtw_slots(wsp_aheads_preset preset, int n_layer, int n_head, int16_t *slot);

/* One window's DTW.  cap: [n_heads][N][T] post-softmax cross-attention of the decode
 * of [sot, (lang), <|notimestamps|>, text tokens…, eot] (N rows, n_sot = tokens before
 * <|notimestamps|>); n_audio = n_frames/2 audio positions are used.  Sets t_dtw =
 * seek + 2·(audio index where the path enters the token's row) on the text tokens of
 * segs[0..n_segs) in order.  0, WSP_ENOMEM, or WSP_EINVAL (n_audio < 8: whisper.cpp's
 * median filter needs more positions than its width; nothing is set then). */
int wsp__dtw_window(const float *cap, int n_heads, int N, int T, int n_sot, int n_audio,
                    int seek, wsp_segment *segs, int n_segs, const wsp__vocab *v);

#endif
