/*
 * decode.c — whole-file decode (aud_decode_file, aud_decode_memory): the pull reader of
 * stream.c read to its end into one geometrically grown buffer.  Used by the CLI's
 * tools, the tests and the fuzz harness; the service streams instead.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audio_internal.h"

#define WHOLE_INITIAL_CAP 65536 /* samples (4.1 s): first allocation, then doubling */
#define WHOLE_READ 16384        /* samples asked per read */

/* Reads st to its end into *out; 0 or an AUD_E* code (err filled, *out freed). */
static int read_all(aud_stream *st, aud_pcm *out, aud_error *err)
{
    size_t cap = 0, n = 0;
    float *buf = NULL;
    int rc;
    for (;;) {
        if (cap - n < WHOLE_READ) {
            size_t ncap = cap ? cap * 2 : WHOLE_INITIAL_CAP;
            if (ncap > SIZE_MAX / sizeof(float) / 2) {
                rc = aud__fail(err, AUD_ENOMEM, NULL);
                break;
            }
            float *nb = realloc(buf, ncap * sizeof(float));
            if (!nb) {
                rc = aud__fail(err, AUD_ENOMEM, NULL);
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = 0;
        rc = aud_stream_read(st, buf + n, cap - n, &got, err);
        if (rc || got == 0)
            break;
        n += got;
    }
    if (rc) {
        free(buf);
        return rc;
    }
    if (cap > n) {
        float *shrunk = realloc(buf, n * sizeof(float));
        if (shrunk)
            buf = shrunk;
    }
    out->samples = buf;
    out->n_samples = n;
    out->info = *aud_stream_info(st);
    aud_stream_take_energy(st, &out->energy);
    return 0;
}

int aud_decode_file(const char *path, const aud_limits *limits, aud_abort_cb abort_cb,
                    void *abort_user_data, aud_pcm *out, aud_error *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!out)
        return aud__fail(err, AUD_EINVAL, NULL);
    aud_stream *st = NULL;
    int rc = aud_stream_open(path, limits, abort_cb, abort_user_data, &st, err);
    if (!rc)
        rc = read_all(st, out, err);
    aud_stream_close(st);
    return rc;
}

int aud_decode_memory(const void *data, size_t len, const aud_limits *limits,
                      aud_abort_cb abort_cb, void *abort_user_data, aud_pcm *out,
                      aud_error *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!out)
        return aud__fail(err, AUD_EINVAL, NULL);
    aud_stream *st = NULL;
    int rc = aud_stream_open_memory(data, len, limits, abort_cb, abort_user_data, &st, err);
    if (!rc)
        rc = read_all(st, out, err);
    aud_stream_close(st);
    return rc;
}

void aud_pcm_free(aud_pcm *pcm)
{
    if (!pcm)
        return;
    free(pcm->samples);
    aud_energy_free(&pcm->energy);
    memset(pcm, 0, sizeof *pcm);
}
