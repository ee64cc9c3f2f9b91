/*
 * fuzz_audio_decode.c — libFuzzer harness for the audio decode entry point.
 *
 * Feeds the input to aud_decode_memory(), which shares every step after the size check
 * with aud_decode_file() (same custom AVIOContext, probing, stream choice, decode loop,
 * mixer, limits).  The decoded-duration limit keeps each execution short (a 64 KiB
 * input can legitimately describe hours of audio); the abort callback is exercised on
 * a byte of the input so the cancel path is fuzzed too.  Logs go to a discarding sink
 * (the rate limiter still runs).  Build: tests/fuzz/build.sh; run: tests/fuzz/run.sh.
 */
#include <stddef.h>
#include <stdint.h>

#include "mdc/audio.h"
#include "mdc/log.h"

static void discard_sink(mdc_log_level level, const char *func, const char *msg, void *u)
{
    (void)level, (void)func, (void)msg, (void)u;
}

typedef struct {
    unsigned polls, cancel_after; /* cancel_after 0 = never */
} abort_state;

static bool abort_after(void *user)
{
    abort_state *a = user;
    return a->cancel_after && ++a->polls >= a->cancel_after;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    mdc_log_set_sink(discard_sink, NULL);
    aud_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    aud_limits limits = {.max_seconds = 120, .max_bytes = 0};
    /* Inputs ending in 0xCA cancel after a number of polls taken from the byte before
     * (rare enough not to hide the normal path). */
    abort_state ab = {0, 0};
    if (size >= 2 && data[size - 1] == 0xCA)
        ab.cancel_after = 1u + data[size - 2];
    aud_pcm pcm;
    aud_error err;
    int rc = aud_decode_memory(data, size, &limits, abort_after, &ab, &pcm, &err);
    if (rc == 0) {
        /* Touch every sample so ASan sees reads past a wrong n_samples. */
        volatile float acc = 0;
        for (size_t i = 0; i < pcm.n_samples; i++)
            acc += pcm.samples[i];
        (void)acc;
    }
    aud_pcm_free(&pcm);
    return 0;
}
