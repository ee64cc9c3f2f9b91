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
    double max_seconds; /* decoded-duration limit; <= 0 = unlimited (memory then grows
                           with the decoded audio, 64 KB per second: a small file can
                           decode to hours, so set it for untrusted input) */
    uint64_t max_bytes; /* input file size limit; 0 = unlimited */
    /* Not a limit but the decoder's one output option (the struct is what every
     * decode call takes): keep_stereo = true keeps the two channels of a stream that
     * starts with exactly two (aud_pcm.left/right), for speaker turns by channel
     * energy; samples is then L + R (the sum, as whisper-cli -di transcribes it,
     * README-round2 §7), not the average.  Other channel counts decode as usual
     * (left/right NULL).  Memory: 3 × 4 bytes per sample instead of 4, also at the peak
     * (an hour of stereo: 0.69 GB instead of 0.23 GB); max_seconds bounds it. */
    bool keep_stereo;
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
    bool truncated;      /* data missing or damaged; output is the decodable part
                            (see aud_decode_file) */
} aud_info;

typedef struct aud_pcm {
    float *samples;     /* [n_samples] mono, 16 kHz, nominally in [-1, 1]; malloc'd */
    size_t n_samples;
    float *left, *right; /* [n_samples] each, 16 kHz, when keep_stereo kept two channels;
                            else NULL.  malloc'd, freed by aud_pcm_free() */
    aud_info info;
} aud_pcm;

/* Polled before probing reads, once per demuxed packet and between decoded frames;
 * return true to cancel (→ AUD_ECANCELED).  Runs on the decoding thread. */
typedef bool (*aud_abort_cb)(void *user_data);

/* Decodes the best audio stream of the file at `path` into *out (caller frees with
 * aud_pcm_free()).
 *
 * Format: probed from the bytes only (the name is never shown to libavformat);
 * probing reads at most AUD_PROBE_BYTES and AUD_PROBE_SECONDS of media.  Demuxers
 * cannot open other files or URLs (playlists, concat lists, image sequences are refused).
 * Stream: av_find_best_stream(AUDIO); video, cover art and data streams are ignored.
 * Channels: every channel is averaged with equal weight 1/N (LFE and unknown layouts
 * included), then resampled to 16 kHz (libswresample, flushed at the end).  The output
 * buffer grows geometrically; nothing is sized from a duration the container claims.
 *
 * Limits (limits may be NULL = unlimited):
 *  - max_bytes: the file size is checked with stat() before opening → AUD_ETOOLARGE.
 *  - max_seconds: checked after every decoded frame against the DECODED duration; the
 *    first frame past it stops decoding at once → AUD_ETOOLONG.  Declared durations are
 *    never trusted for limits (a header claiming 49 days over 1 s of frames decodes to
 *    that 1 s; a header claiming 1 h decodes to the data present).  declared_s reports
 *    the claim so the caller may show or refuse it.
 *
 * Damaged input (one rule, applied everywhere): the decodable part is returned when at
 * least one sample decoded, with info.truncated = true when data was missing or damaged —
 * a read error before end of file, packets the decoder rejected (skipped), or fewer
 * samples than a non-estimated declared duration (by more than 1 s + 1 %; for WAV the
 * claim is the RIFF data-chunk length, read by us since libavformat clamps it to the
 * file).  Duration estimated from the bit rate is not a claim.  When nothing
 * decodes the result is an error: AUD_ECORRUPT if the decoder rejected data,
 * AUD_ENOSAMPLES otherwise.
 *
 * Plausibility: a stream with 0 or more than 64 channels, or a sample rate below 1 kHz
 * or above 768 kHz, is AUD_ECORRUPT (a 16 Hz header found by the fuzzer turned each input
 * sample into 1000 output samples).
 *
 * Errors: AUD_EIO (cannot stat/read), AUD_EEMPTY (0 bytes; no decoder started),
 * AUD_ETOOLARGE, AUD_ENOTAUDIO (format not recognised, or no decoder for the codec),
 * AUD_ENOSTREAM (container opened but has no audio stream, e.g. a PNG), AUD_ECORRUPT
 * (invalid stream parameters such as 0 channels, or nothing decodable), AUD_ENOSAMPLES,
 * AUD_ETOOLONG, AUD_ECANCELED, AUD_ENOMEM, AUD_EINVAL (NULL path/out).
 * Returns 0 or a negative AUD_E* code with err->message filled (err may be NULL);
 * on failure *out is empty (zeroed).  No allocation survives a failed call. */
int aud_decode_file(const char *path, const aud_limits *limits, aud_abort_cb abort_cb,
                    void *abort_user_data, aud_pcm *out, aud_error *err);

/* The same decoder over `len` bytes in memory (the buffer is only read and must stay
 * valid during the call; it is seekable, so moov-at-end MP4 works).  Shares every step
 * of aud_decode_file() after the size check (max_bytes applies to len); used by the
 * fuzz harness and by callers that hold an upload in memory. */
int aud_decode_memory(const void *data, size_t len, const aud_limits *limits,
                      aud_abort_cb abort_cb, void *abort_user_data, aud_pcm *out,
                      aud_error *err);

/* Releases out->samples (and left/right) and zeroes *out.  Accepts NULL and an empty
 * struct. */
void aud_pcm_free(aud_pcm *pcm);

/* Speaker of the span [t0, t1] (centiseconds) of a stereo decode by channel energy,
 * exactly as whisper-cli -di (examples/cli estimate_diarization_speaker, README-round2
 * §7): is0/is1 = clamp(t·16000/100, 0, n − 1), E0 = Σ_{is0 ≤ j < is1} |L[j]|, E1 the
 * same over R, in double; 0 if E0 > 1.1·E1, 1 if E1 > 1.1·E0, else -1 ("?").  The
 * energies go to *e0 / *e1 when non-NULL.  -1 as well when pcm holds no channels. */
int aud_stereo_speaker(const aud_pcm *pcm, int64_t t0_cs, int64_t t1_cs, double *e0,
                       double *e1);

/* Speaker turns of a stereo decode measured on the channels' activity, independent of
 * how the engine cut its segments (a recording where each party has its own channel:
 * phone calls, two-microphone interviews).  md-converter's own rule, not whisper.cpp's:
 *  1. frames of AUD_TURN_FRAME_CS; a frame is silent when the mean |x| of both channels
 *     is below AUD_TURN_SILENCE, else it takes whisper-cli -di's label over the frame
 *     (0 if E0 > 1.1·E1, 1 if E1 > 1.1·E0, else "?": E = Σ|x| in double, as
 *     aud_stereo_speaker);
 *  2. debouncing: the current state (silence, speaker 0 or 1) changes only when another
 *     state holds for AUD_TURN_MIN_CS of frames in a row ("?" frames belong to nobody:
 *     they neither extend nor break a run); the change is dated at the run's first frame;
 *  3. a turn = a stretch of one speaker between changes; silence is no turn.
 * So a turn lasts at least AUD_TURN_MIN_CS (the last one may be cut by the end) and
 * crosstalk or a short backchannel does not split the other party's turn.
 * *out: malloc'd [*n] turns in time order, non-overlapping, in [0, n_samples/160] cs
 * (caller frees; NULL with *n = 0 when there are none).  Returns 0, or -1 when pcm holds
 * no channels or on out-of-memory (*out NULL, *n 0). */
typedef struct aud_turn {
    int64_t t0_cs, t1_cs; /* [t0, t1), centiseconds from the start of the recording */
    int speaker;          /* 0 = left channel, 1 = right */
} aud_turn;
#define AUD_TURN_FRAME_CS 10   /* 100 ms frames */
#define AUD_TURN_MIN_CS 30     /* a change of speaker must hold 300 ms */
#define AUD_TURN_SILENCE 1e-3f /* mean |x| below −60 dBFS on both channels: silence */
int aud_stereo_turns(const aud_pcm *pcm, aud_turn **out, size_t *n);

/* Routes FFmpeg's av_log to mdc_log: warnings and errors only, at most
 * AUD_LOG_BURST lines per AUD_LOG_WINDOW_S seconds (process-wide; the number of
 * dropped lines is reported once the window reopens).  Idempotent (pthread_once);
 * called by the decode functions. */
void aud_init(void);

#define AUD_PROBE_BYTES 5000000 /* avformat probesize, bytes (FFmpeg's default) */
#define AUD_PROBE_SECONDS 10    /* avformat analyzeduration, seconds */
#define AUD_LOG_BURST 20        /* FFmpeg log lines let through per window */
#define AUD_LOG_WINDOW_S 10     /* seconds */

#endif
