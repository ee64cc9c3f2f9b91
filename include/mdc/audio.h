/*
 * audio.h — any audio/video container → 16 kHz mono float32 PCM (prefix aud_).
 *
 * Decoding uses FFmpeg's libraries (libavformat probes the bytes — never the file
 * name or a client's Content-Type — libavcodec decodes, libswresample downmixes every
 * channel and resamples to 16 kHz).  Input is a seekable file (uploads are spooled to a
 * private temp file first), so MP4/M4A with the moov atom at the end works.
 *
 * Limits are enforced while decoding: decoding stops as soon as the decoded duration
 * passes max_seconds (AUD_ETOOLONG), and no buffer is ever sized from a duration the
 * container claims.  Truncated files: see aud_decode_file().
 *
 * Thread-safety: all functions are thread-safe; calls are independent.
 * FFmpeg's own log is routed to mdc_log (warnings and errors only, rate-limited).
 */
#ifndef MDC_AUDIO_H
#define MDC_AUDIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUD_SAMPLE_RATE 16000 /* Hz, what the Whisper engine takes */

/* Error table (X-macro).  The service maps these to HTTP in one table:
 * EMPTY/NOSTREAM/NOSAMPLES → 422, NOTAUDIO/CORRUPT → 415, TOOLONG/TOOLARGE → 413. */
#define AUD_ERRNO_MAP(X)                                                              \
    X(OK, 0, "success")                                                               \
    X(EINVAL, -1, "invalid argument")                                                 \
    X(ENOMEM, -2, "out of memory")                                                    \
    X(EIO, -3, "cannot read the file")                                                \
    X(EEMPTY, -4, "the file is empty")                                                \
    X(ENOTAUDIO, -5, "not an audio or video file that can be decoded")                \
    X(ENOSTREAM, -6, "the file has no audio stream")                                  \
    X(ENOSAMPLES, -7, "the audio stream contains no decodable samples")               \
    X(ETOOLONG, -8, "the audio is longer than the configured maximum duration")       \
    X(ETOOLARGE, -9, "the file is larger than the configured maximum size")           \
    X(ECORRUPT, -10, "the audio data is corrupt and cannot be decoded")               \
    X(ECANCELED, -11, "decoding was cancelled")

typedef enum aud_errno {
#define AUD__ENUM(name, code, msg) AUD_##name = code,
    AUD_ERRNO_MAP(AUD__ENUM)
#undef AUD__ENUM
} aud_errno;

const char *aud_strerror(int code); /* static text, never NULL */
const char *aud_err_name(int code); /* "AUD_ETOOLONG", never NULL */

typedef struct aud_error {
    int code;
    char message[512]; /* for users: names what is wrong ("declared 3600 s …") */
} aud_error;

typedef struct aud_limits {
    double max_seconds; /* decoded-duration limit; <= 0 = unlimited */
    uint64_t max_bytes; /* input file size limit; 0 = unlimited */
} aud_limits;

/* What the report shows about the source. */
typedef struct aud_info {
    char container[64];  /* libavformat short name, e.g. "mov,mp4,m4a,3gp,3g2,mj2", "wav" */
    char codec[64];      /* e.g. "aac", "opus", "pcm_s16le" */
    int sample_rate;     /* of the source stream, Hz */
    int channels;        /* of the source stream */
    double duration_s;   /* decoded duration (n_samples / 16000), seconds */
    double declared_s;   /* duration the container claims, or -1 if none */
    int64_t bit_rate;    /* bits/s if known, else 0 */
    bool truncated;      /* decoding stopped early on damaged data (see aud_decode_file) */
} aud_info;

typedef struct aud_pcm {
    float *samples;     /* [n_samples] mono, 16 kHz, nominally in [-1, 1]; malloc'd */
    size_t n_samples;
    aud_info info;
} aud_pcm;

/* Polled during decoding; return true to cancel (→ AUD_ECANCELED). */
typedef bool (*aud_abort_cb)(void *user_data);

/* Decodes the best audio stream of the file at `path` into *out (caller frees with
 * aud_pcm_free()).  Truncated or partly corrupt files yield the decodable part
 * (info.truncated = true) when at least one sample decoded; otherwise an error.
 * Returns 0 or a negative AUD_E* code with err->message filled; *out is then empty. */
int aud_decode_file(const char *path, const aud_limits *limits, aud_abort_cb abort_cb,
                    void *abort_user_data, aud_pcm *out, aud_error *err);

/* Releases out->samples and zeroes *out.  Accepts NULL and an empty struct. */
void aud_pcm_free(aud_pcm *pcm);

/* Routes FFmpeg's av_log to mdc_log.  Idempotent; called by aud_decode_file(). */
void aud_init(void);

#endif
