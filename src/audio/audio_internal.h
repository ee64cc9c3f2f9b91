/*
 * audio_internal.h — private contracts between the files of src/audio/ (prefix aud__).
 *
 *   errors.c   error table → aud_strerror / aud_err_name, aud__fail (fills aud_error)
 *   avlog.c    aud_init: av_log → mdc_log bridge, rate-limited
 *   source.c   byte sources (file descriptor or memory) as seekable AVIOContexts
 *   riff.c     the data length a WAV header declares (libavformat clamps it)
 *   mixer.c    downmix (equal-weight average of all channels) + resample to 16 kHz
 *              mono float, one frame at a time into a small pending buffer
 *   channels.c per-10 ms channel energies (aud_energy) and the -di speaker rule
 *   stream.c   probe → pick stream → pull decode → limits (aud_stream_*)
 *   decode.c   whole-file decode: the stream read to its end into one aud_pcm
 */
#ifndef MDC_AUDIO_INTERNAL_H
#define MDC_AUDIO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <libavformat/avio.h>
#include <libavutil/frame.h>

#include "mdc/audio.h"

/* Fills err (may be NULL) with code and a printf-style message; returns code. */
int aud__fail(aud_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- avlog.c ----------------------------------------------------------------- */

/* FFmpeg log lines passed to mdc_log and dropped by the rate limit since start. */
void aud__log_stats(unsigned long *passed, unsigned long *dropped);
/* The last AV_LOG_ERROR-or-worse message FFmpeg logged on this thread since
 * aud__av_reason_clear() ("Invalid sample rate: 0"), without its "[wav @ 0x…]" prefix,
 * or "" — the reason behind a bare AVERROR_INVALIDDATA.  Thread-local, so parallel
 * decodes do not see each other's messages (FFmpeg's demuxers log on the caller's
 * thread); not subject to the log rate limit. */
const char *aud__av_reason(void);
void aud__av_reason_clear(void);

/* ---- source.c ---------------------------------------------------------------- */

/* A readable, seekable byte source: either an open file descriptor (owned) or a
 * borrowed memory buffer. */
typedef struct aud__source {
    int fd;                 /* -1 for memory */
    const uint8_t *mem;     /* borrowed; NULL for a file */
    uint64_t size;          /* bytes */
    uint64_t pos;           /* read offset */
    int read_errno;         /* last errno from read(2), 0 if none */
} aud__source;

void aud__source_memory(aud__source *src, const void *data, size_t len);
/* Opens path read-only; returns 0 or an AUD_E* code (EIO/EEMPTY/ETOOLARGE). */
int aud__source_open_file(aud__source *src, const char *path, uint64_t max_bytes,
                          aud_error *err);
void aud__source_close(aud__source *src);
/* Copies up to len bytes at offset into buf without moving src->pos; returns the
 * number copied (0 at or past the end, or on a read error). */
size_t aud__source_peek(const aud__source *src, uint64_t offset, void *buf, size_t len);
/* A seekable AVIOContext reading src (src must outlive it); NULL on ENOMEM.
 * Free with aud__avio_free(). */
AVIOContext *aud__avio_new(aud__source *src);
void aud__avio_free(AVIOContext **pb);

/* ---- riff.c ------------------------------------------------------------------ */

/* Seconds of audio a RIFF/WAVE header's data chunk declares (size / nAvgBytesPerSec),
 * or -1 when src is not a WAV or declares no length. */
double aud__riff_declared_seconds(const aud__source *src);

/* ---- mixer.c ----------------------------------------------------------------- */

/* Converts decoded frames of any format/rate/channel count to 16 kHz mono float.
 * Reconfigures itself (after flushing) when a frame's parameters change.  Output goes
 * to a pending buffer (one frame's worth) that the caller hands out from off to n and
 * then resets with aud__mixer_drained() before the next push. */
typedef struct aud__mixer {
    struct SwrContext *swr;
    int in_format, in_rate, in_channels; /* parameters swr was built for */
    float *buf;             /* [cap · out_ch] pending output samples, malloc'd */
    size_t off, n, cap;     /* handed out, written, capacity (frames of out_ch) */
    size_t total;           /* samples converted since init (the limit counts these) */
    size_t max_samples;     /* stop once total exceeds it; SIZE_MAX = unlimited */
    bool keep_stereo;       /* asked: keep two channels when the first frame has two */
    int out_ch;             /* 1, or 2 (buf interleaved L R; n counts frames) */
} aud__mixer;

#define AUD__MAX_CHANNELS 64     /* more is refused as corrupt */
#define AUD__MAX_RATE 768000     /* Hz; larger source rates are refused as corrupt */
#define AUD__MIN_RATE 1000       /* Hz; lower rates are refused as corrupt: no real
                                    recording has them, and upsampling 16 Hz to 16 kHz
                                    (found by the fuzzer) costs 1000x per input byte */
#define AUD__INITIAL_CAP 8192    /* samples (0.5 s): first pending buffer, doubled when a
                                    frame converts to more */

void aud__mixer_init(aud__mixer *m, size_t max_samples);
/* Converts one frame, appending to the pending samples.  Returns 0, AUD_ETOOLONG
 * (total > max_samples), AUD_ENOMEM or AUD_ECORRUPT (parameters swresample cannot
 * take). */
int aud__mixer_push(aud__mixer *m, const AVFrame *frame);
/* Drains the resampler's delay line into the pending samples; same returns as push. */
int aud__mixer_flush(aud__mixer *m);
/* The pending samples were handed out: off = n = 0 (the buffer is kept). */
void aud__mixer_drained(aud__mixer *m);
void aud__mixer_free(aud__mixer *m);

/* ---- channels.c -------------------------------------------------------------- */

/* Adds n interleaved L R frames to the per-10 ms sums.  0 or AUD_ENOMEM (e unchanged
 * for the frame that failed; earlier frames stay added). */
int aud__energy_add(aud_energy *e, const float *lr, size_t n);

#endif
