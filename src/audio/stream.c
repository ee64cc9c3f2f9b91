/*
 * stream.c — the pull reader (aud_stream_*): probe, pick the audio stream, decode frame
 * by frame on demand, enforce limits, hand out 16 kHz mono float32 in the caller's
 * chunk sizes.  File and memory inputs differ only in the byte source (source.c).
 *
 * Memory: the stream holds its FFmpeg objects, one demuxed packet, one decoded frame
 * and that frame's converted samples (mixer.c's pending buffer); a new frame is decoded
 * only when those are handed out.  Nothing grows with the input's length except the
 * stereo energies (channels.c, 16 bytes per 10 ms).
 *
 * Ownership: aud_stream holds every FFmpeg object; stream_free() releases them on every
 * path, so nothing FFmpeg allocated outlives aud_stream_close().
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>

#include "audio_internal.h"
#include "mdc/log.h"

/* Where the decode loop stands (next_frame). */
typedef enum pull_state {
    PULL_PACKETS = 0, /* reading packets, receiving their frames */
    PULL_DRAINING,    /* end of input: the decoder's delayed frames */
    PULL_DONE,        /* decoder and resampler flushed; pending samples are the last */
} pull_state;

typedef struct decode_ctx {
    aud__source src_store; /* the byte source, owned by the stream */
    aud__source *src;
    AVIOContext *pb;
    AVFormatContext *fmt;
    AVCodecContext *dec;
    AVPacket *pkt;
    AVFrame *frame;
    aud__mixer mix;
    aud_abort_cb abort_cb;
    void *abort_user;
    bool canceled;
    int bad_packets;   /* packets or frames the decoder rejected (skipped) */
    bool read_error;   /* demuxing ended on an error other than end of file */
    size_t delivered;  /* samples handed to the caller */
    int stream_index;  /* the decoded audio stream */
    pull_state state;
    bool need_packet;  /* the decoder wants input before it gives another frame */
    int status;        /* sticky result of a failed or ended read: 0 while running */
    bool ended;        /* the end was reached and reported (status 0) */
    aud_error status_err; /* the message of a failed read, returned again */
    aud_info info;
    aud_limits limits; /* a copy (zero = unlimited) */
    uint64_t byte_pos; /* progress: furthest packet position seen, bytes */
    aud_energy energy; /* keep_stereo with two channels: per-10 ms sums */
} decode_ctx;

struct aud_stream {
    decode_ctx c;
};

static void ctx_free(decode_ctx *c)
{
    av_frame_free(&c->frame);
    av_packet_free(&c->pkt);
    avcodec_free_context(&c->dec);
    avformat_close_input(&c->fmt); /* leaves the custom pb to us */
    aud__avio_free(&c->pb);
    aud__mixer_free(&c->mix);
}

static bool poll_abort(decode_ctx *c)
{
    if (!c->canceled && c->abort_cb && c->abort_cb(c->abort_user))
        c->canceled = true;
    return c->canceled;
}

/* AVIOInterruptCB: lets the abort callback stop probing and stream analysis too. */
static int interrupt_cb(void *opaque) { return poll_abort(opaque) ? 1 : 0; }

/* Demuxers that would open another resource (HLS/DASH playlists, concat lists, image
 * sequences, external references in MOV) are refused: an upload names no other file. */
static int io_open_refused(struct AVFormatContext *s, AVIOContext **pb, const char *url,
                           int flags, AVDictionary **options)
{
    (void)s, (void)pb, (void)flags, (void)options;
    MDC_LOG_WARN("refused the container's request to open another resource (%.64s)",
                 url ? url : "");
    return AVERROR(EPERM);
}

/* Demuxers whose input names other files, URLs or devices (playlists, manifests,
 * concat lists, session descriptions).  Matched on AVInputFormat.name. */
static bool refused_format(const AVInputFormat *f)
{
    static const char *const refused[] = {"hls", "dash", "concat", "imf", "sdp", "rtsp",
                                          "rtp", "webm_dash_manifest", "image2", "tee",
                                          "lavfi", "ffmetadata"};
    if (f->flags & AVFMT_NOFILE)
        return true;
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (strcmp(f->name, refused[i]) == 0)
            return true;
    return false;
}

static const char *av_err(int rc, char *buf, size_t len)
{
    if (av_strerror(rc, buf, len) < 0)
        snprintf(buf, len, "error %d", rc);
    return buf;
}

/* Maps a failure of FFmpeg's demuxer on the input (open, stream analysis) to our code,
 * 0 when it is the input's fault and the caller names it.  ENOMEM is the input's fault
 * here too: the demuxer answers it for a header that claims an absurd size (a 133-byte
 * WAV declaring 25 600 bytes of extradata, fixture bad_wav_extradata_claim.wav), and our
 * own allocations are checked where we make them. */
static int map_av_error(decode_ctx *c, int rc)
{
    if (c->canceled || rc == AVERROR_EXIT)
        return AUD_ECANCELED;
    if (c->src->read_errno)
        return AUD_EIO;
    return 0;
}

static int open_input(decode_ctx *c, aud_error *err)
{
    char eb[128];
    c->fmt = avformat_alloc_context();
    c->pb = aud__avio_new(c->src);
    if (!c->fmt || !c->pb)
        return aud__fail(err, AUD_ENOMEM, NULL);
    c->fmt->pb = c->pb;
    c->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
    c->fmt->io_open = io_open_refused;
    c->fmt->interrupt_callback.callback = interrupt_cb;
    c->fmt->interrupt_callback.opaque = c;
    c->fmt->probesize = AUD_PROBE_BYTES;
    c->fmt->max_analyze_duration = (int64_t)AUD_PROBE_SECONDS * AV_TIME_BASE;
    /* No URL: the format is decided from the bytes alone, never from a name.  We probe
     * ourselves (the same call avformat_open_input would make) so demuxers that only
     * point at other resources can be refused before they run. */
    const AVInputFormat *ifmt = NULL;
    int rc = av_probe_input_buffer2(c->pb, &ifmt, "", NULL, 0, 0);
    if (rc >= 0 && ifmt && refused_format(ifmt)) {
        return aud__fail(err, AUD_ENOTAUDIO,
                         "not an audio or video file: a %s file refers to other resources, "
                         "which are not read", ifmt->name);
    }
    if (rc >= 0) {
        AVDictionary *opts = NULL;
        /* No nested protocol either (io_open is already refused): "none" matches none. */
        av_dict_set(&opts, "protocol_whitelist", "none", 0);
        aud__av_reason_clear();
        rc = avformat_open_input(&c->fmt, "", ifmt, &opts);
        av_dict_free(&opts);
    } else {
        avformat_free_context(c->fmt);
        c->fmt = NULL;
    }
    if (rc < 0) { /* c->fmt was freed and set to NULL; c->pb is still ours */
        int code = map_av_error(c, rc);
        if (code)
            return aud__fail(err, code, "%s", code == AUD_EIO ? "cannot read the file"
                                                              : aud_strerror(code));
        if (rc == AVERROR(ENOMEM)) /* an absurd size in the header (see map_av_error) */
            return aud__fail(err, AUD_ECORRUPT, "invalid %s header: it declares a "
                             "structure too large to read (%s)", ifmt ? ifmt->name : "file",
                             av_err(rc, eb, sizeof eb));
        if (ifmt && aud__av_reason()[0]) /* recognised, then refused: say why */
            return aud__fail(err, AUD_ECORRUPT, "invalid %s header: %s", ifmt->name,
                             aud__av_reason());
        return aud__fail(err, AUD_ENOTAUDIO,
                         "not an audio or video file that can be decoded: the format was "
                         "not recognised (%s)", av_err(rc, eb, sizeof eb));
    }
    rc = avformat_find_stream_info(c->fmt, NULL);
    if (rc < 0) {
        int code = map_av_error(c, rc);
        if (code)
            return aud__fail(err, code, NULL);
        if (rc == AVERROR(ENOMEM)) /* an absurd size in the header (see map_av_error) */
            return aud__fail(err, AUD_ECORRUPT, "invalid header: it declares a structure "
                             "too large to read (%s)", av_err(rc, eb, sizeof eb));
        /* Not fatal: the stream may still decode; the decoder has the last word. */
        MDC_LOG_WARN("stream analysis incomplete (%s)", av_err(rc, eb, sizeof eb));
    }
    return 0;
}

/* "1 video stream", "2 video and 1 data streams", "no streams". */
static void describe_streams(const AVFormatContext *fmt, char *buf, size_t len)
{
    static const struct { int type; const char *name; } kinds[] = {
        {AVMEDIA_TYPE_VIDEO, "video"}, {AVMEDIA_TYPE_DATA, "data"},
        {AVMEDIA_TYPE_SUBTITLE, "subtitle"}, {AVMEDIA_TYPE_ATTACHMENT, "attachment"}};
    size_t n = 0;
    unsigned total = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        unsigned count = 0;
        for (unsigned i = 0; i < fmt->nb_streams; i++)
            count += fmt->streams[i]->codecpar->codec_type == kinds[k].type;
        if (count && n < len) {
            n += (size_t)snprintf(buf + n, len - n, "%s%u %s", total ? " and " : "", count,
                                  kinds[k].name);
            total += count;
        }
    }
    if (n < len)
        snprintf(buf + n, len - n, "%s", total == 0 ? "no streams" : total == 1 ? " stream" : " streams");
}

/* Picks the audio stream, fills the source part of *info, opens its decoder. */
static int open_decoder(decode_ctx *c, aud_info *info, int *stream_index, aud_error *err)
{
    char eb[128];
    const AVCodec *codec = NULL;
    snprintf(info->container, sizeof info->container, "%s", c->fmt->iformat->name);
    int idx = av_find_best_stream(c->fmt, AVMEDIA_TYPE_AUDIO, -1, -1, &codec, 0);
    if (idx == AVERROR_STREAM_NOT_FOUND) {
        /* av_find_best_stream() passes over audio streams whose header gives no
         * channel count or rate: those are damaged audio, not "no audio". */
        for (unsigned i = 0; i < c->fmt->nb_streams; i++) {
            const AVCodecParameters *p = c->fmt->streams[i]->codecpar;
            if (p->codec_type == AVMEDIA_TYPE_AUDIO)
                return aud__fail(err, AUD_ECORRUPT,
                                 "invalid audio stream header: %d channels, %d Hz (%s in "
                                 "%s)", p->ch_layout.nb_channels, p->sample_rate,
                                 avcodec_get_name(p->codec_id), c->fmt->iformat->name);
        }
        char what[96];
        describe_streams(c->fmt, what, sizeof what);
        return aud__fail(err, AUD_ENOSTREAM,
                         "the file has no audio stream (it is a %s file with %s)",
                         c->fmt->iformat->name, what);
    }
    if (idx < 0 || !codec) {
        const char *name = "unknown";
        for (unsigned i = 0; i < c->fmt->nb_streams; i++)
            if (c->fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO)
                name = avcodec_get_name(c->fmt->streams[i]->codecpar->codec_id);
        return aud__fail(err, AUD_ENOTAUDIO, "no decoder for the audio codec (%s)", name);
    }
    AVStream *st = c->fmt->streams[idx];
    const AVCodecParameters *par = st->codecpar;
    snprintf(info->codec, sizeof info->codec, "%s", avcodec_get_name(par->codec_id));
    info->sample_rate = par->sample_rate;
    info->channels = par->ch_layout.nb_channels;
    info->bit_rate = par->bit_rate > 0 ? par->bit_rate : (c->fmt->bit_rate > 0 ? c->fmt->bit_rate : 0);
    info->declared_s = -1;
    if (c->fmt->duration != AV_NOPTS_VALUE && c->fmt->duration > 0)
        info->declared_s = (double)c->fmt->duration / AV_TIME_BASE;
    else if (st->duration != AV_NOPTS_VALUE && st->duration > 0 && st->time_base.den > 0)
        info->declared_s = (double)st->duration * av_q2d(st->time_base);
    if (par->ch_layout.nb_channels <= 0 || par->ch_layout.nb_channels > AUD__MAX_CHANNELS)
        return aud__fail(err, AUD_ECORRUPT,
                         "invalid audio stream header: %d channels (%s in %s)",
                         par->ch_layout.nb_channels, info->codec, info->container);
    if (par->sample_rate < 0 || (par->sample_rate > 0 && par->sample_rate < AUD__MIN_RATE) ||
        par->sample_rate > AUD__MAX_RATE)
        return aud__fail(err, AUD_ECORRUPT, "invalid audio stream header: %d Hz (%s)",
                         par->sample_rate, info->codec);
    /* Only the chosen stream is demuxed from here on. */
    for (unsigned i = 0; i < c->fmt->nb_streams; i++)
        if ((int)i != idx)
            c->fmt->streams[i]->discard = AVDISCARD_ALL;

    c->dec = avcodec_alloc_context3(codec);
    if (!c->dec)
        return aud__fail(err, AUD_ENOMEM, NULL);
    int rc = avcodec_parameters_to_context(c->dec, par);
    if (rc >= 0) {
        c->dec->pkt_timebase = st->time_base;
        c->dec->thread_count = 1; /* the service decodes requests in parallel already */
        rc = avcodec_open2(c->dec, codec, NULL);
    }
    if (rc < 0) {
        if (rc == AVERROR(ENOMEM))
            return aud__fail(err, AUD_ENOMEM, NULL);
        return aud__fail(err, AUD_ECORRUPT, "cannot start the %s decoder: %s", info->codec,
                         av_err(rc, eb, sizeof eb));
    }
    *stream_index = idx;
    return 0;
}

/* Decodes until the mixer holds pending samples or the input is done (state DONE).
 * Same sequence of decoder and resampler calls as a whole-file loop (every packet sent,
 * every frame received and converted in order, then the decoder and the resampler
 * flushed), so the samples do not depend on how the caller chunks its reads.
 * Returns 0 or an AUD_E* code. */
static int next_frames(decode_ctx *c)
{
    int rc;
    while (c->mix.off == c->mix.n && c->state != PULL_DONE) {
        aud__mixer_drained(&c->mix);
        if (poll_abort(c))
            return AUD_ECANCELED;
        if (!c->need_packet) {
            rc = avcodec_receive_frame(c->dec, c->frame);
            if (rc == 0) {
                rc = aud__mixer_push(&c->mix, c->frame);
                av_frame_unref(c->frame);
                if (rc)
                    return rc;
                continue;
            }
            if (rc == AVERROR(ENOMEM))
                return AUD_ENOMEM;
            if (rc != AVERROR(EAGAIN) && rc != AVERROR_EOF)
                c->bad_packets++; /* a frame the decoder rejected: skipped */
            if (c->state == PULL_DRAINING) { /* delayed frames done: the resampler's */
                c->state = PULL_DONE;
                if ((rc = aud__mixer_flush(&c->mix)))
                    return rc;
                continue;
            }
            c->need_packet = true;
        }
        rc = av_read_frame(c->fmt, c->pkt);
        if (rc < 0) {
            if (c->canceled || rc == AVERROR_EXIT)
                return AUD_ECANCELED;
            if (rc == AVERROR(ENOMEM))
                return AUD_ENOMEM;
            if (rc != AVERROR_EOF)
                c->read_error = true;
            /* End of input: flush the decoder's delayed frames, then the resampler. */
            c->state = PULL_DRAINING;
            c->need_packet = avcodec_send_packet(c->dec, NULL) < 0;
            if (c->need_packet) { /* nothing to drain */
                c->state = PULL_DONE;
                if ((rc = aud__mixer_flush(&c->mix)))
                    return rc;
            }
            continue;
        }
        if (c->pkt->stream_index != c->stream_index) {
            av_packet_unref(c->pkt);
            continue;
        }
        if (c->pkt->pos > 0 && (uint64_t)c->pkt->pos > c->byte_pos)
            c->byte_pos = (uint64_t)c->pkt->pos;
        rc = avcodec_send_packet(c->dec, c->pkt);
        av_packet_unref(c->pkt);
        if (rc == AVERROR(ENOMEM))
            return AUD_ENOMEM;
        if (rc < 0 && rc != AVERROR(EAGAIN)) {
            c->bad_packets++; /* damaged packet: skipped, decoding goes on */
            continue;
        }
        c->need_packet = false;
    }
    return 0;
}

static size_t max_samples_for(const aud_limits *limits)
{
    if (!limits || !(limits->max_seconds > 0))
        return SIZE_MAX;
    double s = floor(limits->max_seconds * AUD_SAMPLE_RATE);
    if (s >= (double)(SIZE_MAX / sizeof(float) / 4))
        return SIZE_MAX;
    return (size_t)s;
}

static void stream_free(aud_stream *st)
{
    if (!st)
        return;
    ctx_free(&st->c);
    aud__source_close(&st->c.src_store);
    aud_energy_free(&st->c.energy);
    free(st);
}

void aud_stream_close(aud_stream *st) { stream_free(st); }

/* Opens the decoder over st->c.src_store (already set up by the caller). */
static int stream_start(aud_stream *st, const aud_limits *limits, aud_abort_cb abort_cb,
                        void *abort_user, aud_error *err)
{
    decode_ctx *c = &st->c;
    c->src = &c->src_store;
    c->abort_cb = abort_cb;
    c->abort_user = abort_user;
    if (limits)
        c->limits = *limits;
    aud__mixer_init(&c->mix, max_samples_for(limits));
    c->mix.keep_stereo = limits && limits->keep_stereo;
    c->info.declared_s = -1;
    c->stream_index = -1;
    c->need_packet = true;
    int rc = open_input(c, err);
    if (!rc)
        rc = open_decoder(c, &c->info, &c->stream_index, err);
    if (!rc) {
        c->pkt = av_packet_alloc();
        c->frame = av_frame_alloc();
        if (!c->pkt || !c->frame)
            rc = aud__fail(err, AUD_ENOMEM, NULL);
    }
    return rc;
}

static int stream_new(aud_stream **out, aud_error *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return aud__fail(err, AUD_ENOMEM, NULL);
    (*out)->c.src_store.fd = -1;
    return 0;
}

int aud_stream_open(const char *path, const aud_limits *limits, aud_abort_cb abort_cb,
                    void *abort_user_data, aud_stream **out, aud_error *err)
{
    if (out)
        *out = NULL;
    if (!path || !out)
        return aud__fail(err, AUD_EINVAL, NULL);
    aud_init();
    aud_stream *st;
    int rc = stream_new(&st, err);
    if (rc)
        return rc;
    rc = aud__source_open_file(&st->c.src_store, path, limits ? limits->max_bytes : 0, err);
    if (!rc)
        rc = stream_start(st, limits, abort_cb, abort_user_data, err);
    if (rc) {
        stream_free(st);
        return rc;
    }
    *out = st;
    return 0;
}

int aud_stream_open_memory(const void *data, size_t len, const aud_limits *limits,
                           aud_abort_cb abort_cb, void *abort_user_data, aud_stream **out,
                           aud_error *err)
{
    if (out)
        *out = NULL;
    if (!out || (!data && len))
        return aud__fail(err, AUD_EINVAL, NULL);
    aud_init();
    if (len == 0)
        return aud__fail(err, AUD_EEMPTY, "the file is empty (0 bytes)");
    if (limits && limits->max_bytes > 0 && (uint64_t)len > limits->max_bytes)
        return aud__fail(err, AUD_ETOOLARGE,
                         "the file is %zu bytes, more than the maximum of %llu bytes", len,
                         (unsigned long long)limits->max_bytes);
    aud_stream *st;
    int rc = stream_new(&st, err);
    if (rc)
        return rc;
    aud__source_memory(&st->c.src_store, data, len);
    rc = stream_start(st, limits, abort_cb, abort_user_data, err);
    if (rc) {
        stream_free(st);
        return rc;
    }
    *out = st;
    return 0;
}

/* The decode failed with rc: the message the whole-file decoder gave, kept sticky. */
static int read_failed(decode_ctx *c, int rc)
{
    const double at = (double)c->mix.total / AUD_SAMPLE_RATE;
    aud_error *e = &c->status_err;
    if (rc == AUD_ETOOLONG)
        aud__fail(e, rc, "the audio is longer than the maximum of %.0f s (decoding stopped at "
                  "%.1f s)", c->limits.max_seconds, at);
    else if (rc == AUD_ECORRUPT)
        aud__fail(e, rc, "the audio data is corrupt: the %s stream has parameters that "
                  "cannot be converted (channels or sample rate out of range, at %.1f s)",
                  c->info.codec, at);
    else
        aud__fail(e, rc, NULL);
    c->status = rc;
    return rc;
}

/* End of input: nothing decoded is an error; else the final info (declared duration,
 * truncation), as the whole-file decoder decided it. */
static int read_ended(decode_ctx *c)
{
    if (c->mix.total == 0) {
        int rc;
        if (c->bad_packets || c->read_error)
            rc = aud__fail(&c->status_err, AUD_ECORRUPT,
                           "the %s audio in this %s file is corrupt: nothing could be decoded "
                           "(%d damaged packets)", c->info.codec, c->info.container,
                           c->bad_packets);
        else
            rc = aud__fail(&c->status_err, AUD_ENOSAMPLES,
                           "the %s audio stream contains no samples", c->info.codec);
        c->status = rc;
        return rc;
    }
    aud_info *info = &c->info;
    bool estimated = c->fmt->duration_estimation_method == AVFMT_DURATION_FROM_BITRATE;
    if (strcmp(info->container, "wav") == 0) {
        double claim = aud__riff_declared_seconds(c->src);
        if (claim > 0 && (info->declared_s < 0 || estimated || claim > info->declared_s + 1.0)) {
            info->declared_s = claim; /* the header's own claim, exact */
            estimated = false;
        }
    }
    bool short_of_claim = !estimated && info->declared_s > 0 &&
                          info->duration_s < info->declared_s * 0.99 - 1.0;
    info->truncated = c->read_error || c->bad_packets > 0 || short_of_claim;
    if (info->truncated)
        MDC_LOG_WARN("damaged or truncated %s/%s input: decoded %.2f s (declared %.2f s, "
                     "%d damaged packets%s)", info->container, info->codec, info->duration_s,
                     info->declared_s, c->bad_packets, c->read_error ? ", read error" : "");
    c->ended = true;
    c->byte_pos = c->src->size;
    return 0;
}

int aud_stream_read(aud_stream *st, float *dst, size_t max, size_t *n_read, aud_error *err)
{
    if (n_read)
        *n_read = 0;
    if (!st || !n_read || (!dst && max))
        return aud__fail(err, AUD_EINVAL, NULL);
    decode_ctx *c = &st->c;
    if (c->status) {
        if (err)
            *err = c->status_err;
        return c->status;
    }
    size_t got = 0;
    while (got < max && !c->ended) {
        if (c->mix.off == c->mix.n) {
            if (c->state == PULL_DONE) {
                if (read_ended(c))
                    break;
                continue;
            }
            int rc = next_frames(c);
            if (rc) {
                read_failed(c, rc);
                break;
            }
            continue;
        }
        size_t k = c->mix.n - c->mix.off;
        if (k > max - got)
            k = max - got;
        const float *src = c->mix.buf + c->mix.off * (size_t)c->mix.out_ch;
        if (c->mix.out_ch == 2) {
            if (aud__energy_add(&c->energy, src, k)) {
                read_failed(c, AUD_ENOMEM);
                break;
            }
            for (size_t i = 0; i < k; i++)
                dst[got + i] = src[2 * i] + src[2 * i + 1]; /* L + R, as whisper-cli -di */
        } else {
            memcpy(dst + got, src, k * sizeof(float));
        }
        c->mix.off += k;
        got += k;
        c->delivered += k;
        c->info.duration_s = (double)c->delivered / AUD_SAMPLE_RATE;
    }
    if (c->status) {
        /* samples decoded before the failure in this call are not handed out: the
         * caller sees the error at once (the stream is over either way) */
        if (err)
            *err = c->status_err;
        return c->status;
    }
    *n_read = got;
    if (err) {
        err->code = 0;
        err->message[0] = '\0';
    }
    return 0;
}

const aud_info *aud_stream_info(const aud_stream *st) { return st ? &st->c.info : NULL; }

double aud_stream_progress(const aud_stream *st)
{
    if (!st)
        return 0.0;
    const decode_ctx *c = &st->c;
    if (c->ended || c->src->size == 0)
        return 1.0;
    const double f = (double)c->byte_pos / (double)c->src->size;
    return f < 1.0 ? f : 1.0;
}

void aud_stream_take_energy(aud_stream *st, aud_energy *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!st)
        return;
    *out = st->c.energy;
    memset(&st->c.energy, 0, sizeof st->c.energy);
}

int aud_measure_file(const char *path, const aud_limits *limits, aud_abort_cb abort_cb,
                     void *abort_user_data, double *seconds, aud_error *err)
{
    if (seconds)
        *seconds = -1;
    if (!seconds)
        return aud__fail(err, AUD_EINVAL, NULL);
    aud_stream *st = NULL;
    int rc = aud_stream_open(path, limits, abort_cb, abort_user_data, &st, err);
    if (rc)
        return rc;
    decode_ctx *c = &st->c;
    const AVStream *as = c->fmt->streams[c->stream_index];
    const double tb = av_q2d(as->time_base);
    const double max = limits && limits->max_seconds > 0 ? limits->max_seconds + AUD_MEASURE_SLACK_S
                                                         : -1;
    double sum = 0;
    bool known = tb > 0;
    for (;;) {
        if (poll_abort(c)) {
            rc = aud__fail(err, AUD_ECANCELED, NULL);
            break;
        }
        int r = av_read_frame(c->fmt, c->pkt);
        if (r < 0) {
            if (c->canceled || r == AVERROR_EXIT)
                rc = aud__fail(err, AUD_ECANCELED, NULL);
            else if (r == AVERROR(ENOMEM))
                rc = aud__fail(err, AUD_ENOMEM, NULL);
            break; /* end of input (or a read error: the decoder will judge the data) */
        }
        if (c->pkt->stream_index == c->stream_index) {
            if (c->pkt->duration > 0)
                sum += (double)c->pkt->duration * tb;
            else
                known = false;
        }
        av_packet_unref(c->pkt);
        if (known && max > 0 && sum > max) {
            rc = aud__fail(err, AUD_ETOOLONG,
                           "the audio is longer than the maximum of %.0f s (its packets add "
                           "up to more than %.0f s)", limits->max_seconds, max);
            break;
        }
    }
    if (!rc)
        *seconds = known ? sum : -1;
    aud_stream_close(st);
    return rc;
}
