/*
 * timestamps.h — token-level times (prefix wsp__tt): whisper.cpp's experimental
 * heuristic from the timestamp-token probabilities plus an energy refinement.
 * ref: whisper.cpp src/whisper.cpp whisper_exp_compute_token_level_timestamps,
 * get_signal_energy, voice_length, timestamp_to_sample; ../shared/whisper-ref/
 * README-round2.md §3 (rules and quirks, golden/tiny-dims/timestamps/).
 */
#ifndef MDC_WHISPER_TIMESTAMPS_H
#define MDC_WHISPER_TIMESTAMPS_H

#include "whisper/engine.h"

/* State carried from segment to segment of one wsp_transcribe() call (whisper.cpp's
 * state.t_beg / t_last / tid_last); zero-initialise per call. */
typedef struct wsp__tt_state {
    int64_t t_beg, t_last; /* centiseconds */
    int32_t tid_last;
} wsp__tt_state;

/* Smoothed signal energy e[i] = Σ_{j=-hw..hw} |x[i+j]| / (2·hw + 1), out-of-range
 * samples skipped, summed as float in increasing j (whisper.cpp get_signal_energy with
 * hw = 32).  Returns a malloc'd float [n] (caller frees) or NULL (out of memory, n = 0). */
float *wsp__tt_energy(const float *x, size_t n, int hw);

/* whisper.cpp's voice length of a token's text, per UTF-8 character (the reference
 * commit of README-round2 counts characters, not bytes: " algu\u00e9m" is 6.01):
 * ' ' 0.01, ',' 2, '.' '!' '?' '…' and digits 3, any other character 1; continuation
 * bytes (also those of a character split across tokens) count 0. */
float wsp__tt_voice_length(const uint8_t *bytes, uint32_t len);

/* Fills t0, t1 and vlen of every token of *seg (times in centiseconds) from the token
 * and timestamp probabilities, the segment's t0/t1 and the energy e[0..n_energy) of the
 * whole input; st carries across segments.  Never fails; n_energy must be > 0. */
void wsp__tt_segment(wsp_segment *seg, const wsp__vocab *v, const float *energy,
                     int n_energy, float thold_pt, float thold_ptsum, wsp__tt_state *st);

#endif
