/*
 * decode.c — probe, pick the audio stream, decode, enforce limits (aud_decode_file,
 * aud_decode_memory).  Both entry points reach decode_source(); they differ only in
 * the byte source (source.c).  Shapes: output is float32 [n_samples], 16 kHz mono.
 *
 * Ownership inside one call: decode_ctx holds every FFmpeg object; ctx_free() releases
 * them on every path (success included), so nothing FFmpeg allocated outlives the call.
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

typedef struct decode_ctx {
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
} decode_ctx;

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

/* Pulls every frame the decoder has ready into the mixer. */
static int drain_frames(decode_ctx *c)
{
    for (;;) {
        int rc = avcodec_receive_frame(c->dec, c->frame);
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
            return 0;
        if (rc == AVERROR(ENOMEM))
            return AUD_ENOMEM;
        if (rc < 0) {
            c->bad_packets++;
            return 0;
        }
        rc = aud__mixer_push(&c->mix, c->frame);
        av_frame_unref(c->frame);
        if (rc)
            return rc;
    }
}

static int decode_loop(decode_ctx *c, int idx)
{
    int rc;
    c->pkt = av_packet_alloc();
    c->frame = av_frame_alloc();
    if (!c->pkt || !c->frame)
        return AUD_ENOMEM;
    for (;;) {
        if (poll_abort(c))
            return AUD_ECANCELED;
        rc = av_read_frame(c->fmt, c->pkt);
        if (rc < 0) {
            if (c->canceled || rc == AVERROR_EXIT)
                return AUD_ECANCELED;
            if (rc == AVERROR(ENOMEM))
                return AUD_ENOMEM;
            if (rc != AVERROR_EOF)
                c->read_error = true;
            break;
        }
        if (c->pkt->stream_index != idx) {
            av_packet_unref(c->pkt);
            continue;
        }
        rc = avcodec_send_packet(c->dec, c->pkt);
        av_packet_unref(c->pkt);
        if (rc == AVERROR(ENOMEM))
            return AUD_ENOMEM;
        if (rc < 0 && rc != AVERROR(EAGAIN)) {
            c->bad_packets++; /* damaged packet: skipped, decoding goes on */
            continue;
        }
        if ((rc = drain_frames(c)))
            return rc;
    }
    /* End of input: flush the decoder's delayed frames, then the resampler. */
    if (avcodec_send_packet(c->dec, NULL) >= 0 && (rc = drain_frames(c)))
        return rc;
    return aud__mixer_flush(&c->mix);
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

/* Interleaved L R frames in out->samples → left, right and samples = L + R (float).
 * Peak memory 3 floats per frame: right is compacted inside the interleaved buffer. */
static int split_stereo(aud_pcm *out)
{
    const size_t n = out->n_samples;
    float *lr = out->samples;
    out->samples = NULL;
    out->left = malloc(sizeof(float) * n);
    if (!out->left) {
        out->samples = lr;
        return AUD_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        out->left[i] = lr[2 * i];
    for (size_t i = 0; i < n; i++) /* 2i + 1 >= i: reads stay ahead of writes */
        lr[i] = lr[2 * i + 1];
    float *r = realloc(lr, sizeof(float) * n);
    out->right = r ? r : lr;
    out->samples = malloc(sizeof(float) * n);
    if (!out->samples)
        return AUD_ENOMEM;
    for (size_t i = 0; i < n; i++)
        out->samples[i] = out->left[i] + out->right[i];
    return 0;
}

static int decode_source(aud__source *src, const aud_limits *limits, aud_abort_cb abort_cb,
                         void *abort_user, aud_pcm *out, aud_error *err)
{
    decode_ctx c;
    memset(&c, 0, sizeof c);
    c.src = src;
    c.abort_cb = abort_cb;
    c.abort_user = abort_user;
    aud__mixer_init(&c.mix, max_samples_for(limits));
    c.mix.keep_stereo = limits && limits->keep_stereo;
    aud_info info;
    memset(&info, 0, sizeof info);
    info.declared_s = -1;
    int idx = -1;

    int rc = open_input(&c, err);
    if (!rc)
        rc = open_decoder(&c, &info, &idx, err);
    if (!rc) {
        rc = decode_loop(&c, idx);
        double at = (double)c.mix.n / AUD_SAMPLE_RATE;
        if (rc == AUD_ETOOLONG)
            aud__fail(err, rc,
                      "the audio is longer than the maximum of %.0f s (decoding stopped at "
                      "%.1f s)", limits->max_seconds, at);
        else if (rc == AUD_ECORRUPT)
            aud__fail(err, rc, "the audio data is corrupt: the %s stream has parameters "
                      "that cannot be converted (channels or sample rate out of range, at "
                      "%.1f s)", info.codec, at);
        else if (rc)
            aud__fail(err, rc, NULL);
    }
    if (!rc && c.mix.n == 0) {
        if (c.bad_packets || c.read_error)
            rc = aud__fail(err, AUD_ECORRUPT,
                           "the %s audio in this %s file is corrupt: nothing could be "
                           "decoded (%d damaged packets)", info.codec, info.container,
                           c.bad_packets);
        else
            rc = aud__fail(err, AUD_ENOSAMPLES, "the %s audio stream contains no samples",
                           info.codec);
    }
    if (!rc) {
        out->samples = aud__mixer_take(&c.mix, &out->n_samples);
        if (c.mix.out_ch == 2 && split_stereo(out) != 0)
            rc = aud__fail(err, AUD_ENOMEM, "out of memory for the two channels");
    }
    if (!rc) {
        info.duration_s = (double)out->n_samples / AUD_SAMPLE_RATE;
        bool estimated = c.fmt->duration_estimation_method == AVFMT_DURATION_FROM_BITRATE;
        if (strcmp(info.container, "wav") == 0) {
            double claim = aud__riff_declared_seconds(c.src);
            if (claim > 0 && (info.declared_s < 0 || estimated ||
                              claim > info.declared_s + 1.0)) {
                info.declared_s = claim; /* the header's own claim, exact */
                estimated = false;
            }
        }
        bool short_of_claim = !estimated && info.declared_s > 0 &&
                              info.duration_s < info.declared_s * 0.99 - 1.0;
        info.truncated = c.read_error || c.bad_packets > 0 || short_of_claim;
        if (info.truncated)
            MDC_LOG_WARN("damaged or truncated %s/%s input: decoded %.2f s (declared %.2f s, "
                         "%d damaged packets%s)", info.container, info.codec,
                         info.duration_s, info.declared_s, c.bad_packets,
                         c.read_error ? ", read error" : "");
        out->info = info;
        if (err) {
            err->code = 0;
            err->message[0] = '\0';
        }
    }
    if (rc)
        aud_pcm_free(out); /* nothing survives a failed call */
    ctx_free(&c);
    return rc;
}

int aud_decode_file(const char *path, const aud_limits *limits, aud_abort_cb abort_cb,
                    void *abort_user_data, aud_pcm *out, aud_error *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!path || !out)
        return aud__fail(err, AUD_EINVAL, NULL);
    aud_init();
    aud__source src;
    int rc = aud__source_open_file(&src, path, limits ? limits->max_bytes : 0, err);
    if (rc)
        return rc;
    rc = decode_source(&src, limits, abort_cb, abort_user_data, out, err);
    aud__source_close(&src);
    return rc;
}

int aud_decode_memory(const void *data, size_t len, const aud_limits *limits,
                      aud_abort_cb abort_cb, void *abort_user_data, aud_pcm *out,
                      aud_error *err)
{
    if (out)
        memset(out, 0, sizeof *out);
    if (!out || (!data && len))
        return aud__fail(err, AUD_EINVAL, NULL);
    aud_init();
    if (len == 0)
        return aud__fail(err, AUD_EEMPTY, "the file is empty (0 bytes)");
    if (limits && limits->max_bytes > 0 && (uint64_t)len > limits->max_bytes)
        return aud__fail(err, AUD_ETOOLARGE,
                         "the file is %zu bytes, more than the maximum of %llu bytes", len,
                         (unsigned long long)limits->max_bytes);
    aud__source src;
    aud__source_memory(&src, data, len);
    return decode_source(&src, limits, abort_cb, abort_user_data, out, err);
}

void aud_pcm_free(aud_pcm *pcm)
{
    if (!pcm)
        return;
    free(pcm->samples);
    free(pcm->left);
    free(pcm->right);
    memset(pcm, 0, sizeof *pcm);
}
