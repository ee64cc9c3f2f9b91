/*
 * params.c — wsp_default_params(): every field of wsp_params at its documented default.
 * ref: whisper.cpp whisper_full_default_params() (sampling, thresholds, timestamp rules),
 *      OpenAI whisper/transcribe.py (temperature fallback, condition_on_previous_text).
 *
 * Thread-safety: pure function, thread-safe.
 */
#include "mdc/cpu.h"
#include "mdc/whisper.h"

/* Defaults for `strategy`.  language NULL means "detect" (never a silent "en").
 * ref: whisper.cpp whisper_full_default_params (best_of 5, beam_size 5, temperature_inc
 * 0.2, entropy_thold 2.4, logprob_thold -1, no_speech_thold 0.6, max_initial_ts 1.0,
 * length_penalty -1, n_max_text_ctx 16384, suppress_blank true, suppress_nst false);
 * OpenAI transcribe.py (compression_ratio_threshold 2.4, patience 1.0,
 * condition_on_previous_text true). */
wsp_params wsp_default_params(wsp_sampling strategy)
{
    wsp_params p = {
        .strategy = strategy,
        .n_threads = mdc_available_cores(),
        .language = NULL,
        .translate = false,
        .no_timestamps = false,
        .initial_prompt = NULL,
        .condition_on_previous_text = true,
        .n_max_text_ctx = 16384,
        .offset_ms = 0,
        .duration_ms = 0,
        .temperature = 0.0f,
        .temperature_inc = 0.2f,
        .best_of = 5,
        .beam_size = 5,
        .patience = 1.0f,
        .length_penalty = -1.0f,
        .batch_decoders = true,
        .compression_ratio_threshold = 2.4f,
        .entropy_thold = 2.4f,
        .logprob_thold = -1.0f,
        .no_speech_thold = 0.6f,
        .max_initial_ts = 1.0f,
        .suppress_blank = true,
        .suppress_non_speech_tokens = false,
        .distil_no_timestamps_heuristic = true,
        .token_timestamps = false,
        .thold_pt = 0.01f,
        .thold_ptsum = 0.01f,
        .dtw_aheads_preset = WSP_AHEADS_NONE,
        .mel_clamp = WSP_MEL_CLAMP_GLOBAL,
        .progress_cb = NULL,
        .progress_user_data = NULL,
        .segment_cb = NULL,
        .segment_user_data = NULL,
        .abort_cb = NULL,
        .abort_user_data = NULL,
    };
    return p;
}
