/*
 * vad_options.h — a request's voice-activity-detection fields → on/off and the segment
 * rules: md-converter's `vad=true|false` and OpenAI's `chunking_strategy`.
 *
 * chunking_strategy (ref: OpenAI API reference, audio/createTranscription): "auto", or a
 * JSON object {"type": "server_vad", "threshold": 0..1, "silence_duration_ms": int,
 * "prefix_padding_ms": int} (every field but type optional).  Mapping onto whisper.cpp's
 * rules: threshold → threshold, silence_duration_ms → min_silence_duration_ms,
 * prefix_padding_ms → speech_pad_ms (whisper.cpp pads both ends by the same amount);
 * fields left out keep the server's WHISPER_VAD_* settings.  OpenAI's "auto" also
 * normalises loudness first; we do not (the Silero model is level-robust; documented).
 * Unset: the server default (WHISPER_VAD).
 *
 * Thread-safety: pure.
 */
#ifndef MDC_SERVICE_VAD_OPTIONS_H
#define MDC_SERVICE_VAD_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "mdc/vad.h"

/* Resolves the fields (each NULL or "" when absent) against the server's default.
 * *on and *params are set on success (params start from `server_params`).  Returns 0,
 * or -1 with why naming the field and the problem (for a 400 "invalid_field"):
 * a bad boolean, chunking_strategy neither "auto" nor a server_vad object, an unknown
 * key, a value of the wrong type or out of range, or vad=false with a chunking_strategy.
 * has_model = a VAD model is configured; asking for VAD without one fails too. */
int svc_vad_options(const char *vad_field, const char *chunking_field, bool server_default,
                    bool has_model, const vad_params *server_params, bool *on, vad_params *params,
                    char *why, size_t whylen);

#endif
