/*
 * mixer.c — decoded frames (any sample format, rate, channel count) → 16 kHz mono
 * float32 (or interleaved L R), one frame at a time into a small pending buffer that the
 * stream (stream.c) drains before the next frame is converted.
 *
 * Downmix: a custom swresample matrix gives every input channel the weight 1/N, so
 * every channel reaches the output (a call with one speaker per channel keeps both; a
 * stereo file with speech on one side keeps it at half level) and the sum of weights is
 * 1, so the output stays within [-1, 1] for full-scale input.  swresample's default
 * matrix would drop LFE and channels it cannot place, and does not normalise for float
 * output (ref: libswresample/rematrix.c, swr_build_matrix).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/channel_layout.h>
#include <libavutil/samplefmt.h>
#include <libswresample/swresample.h>

#include "audio_internal.h"
#include "mdc/log.h"

void aud__mixer_init(aud__mixer *m, size_t max_samples)
{
    memset(m, 0, sizeof *m);
    m->in_format = -1;
    m->max_samples = max_samples;
    m->out_ch = 1;
}

void aud__mixer_free(aud__mixer *m)
{
    if (!m)
        return;
    swr_free(&m->swr);
    free(m->buf);
    m->buf = NULL;
    m->off = m->n = m->cap = 0;
}

/* Makes room for `extra` more pending samples.  The buffer holds one frame's output
 * (a few thousand samples), so it only grows to the largest frame seen. */
static int reserve(aud__mixer *m, size_t extra)
{
    const size_t k = (size_t)m->out_ch;
    if (extra > SIZE_MAX / sizeof(float) / 2 - m->n)
        return AUD_ENOMEM;
    size_t need = m->n + extra;
    if (need <= m->cap)
        return 0;
    size_t cap = m->cap ? m->cap : AUD__INITIAL_CAP;
    while (cap < need)
        cap = cap > SIZE_MAX / sizeof(float) / 4 ? need : cap * 2;
    float *nb = realloc(m->buf, cap * k * sizeof(float));
    if (!nb)
        return AUD_ENOMEM;
    m->buf = nb;
    m->cap = cap;
    return 0;
}

static int configure(aud__mixer *m, const AVFrame *f)
{
    int nch = f->ch_layout.nb_channels;
    if (nch <= 0 || nch > AUD__MAX_CHANNELS || f->sample_rate < AUD__MIN_RATE ||
        f->sample_rate > AUD__MAX_RATE || f->format < 0) {
        MDC_LOG_WARN("unsupported frame: %d channels, %d Hz, format %d", nch,
                     f->sample_rate, f->format);
        return AUD_ECORRUPT;
    }
    swr_free(&m->swr);
    /* two output channels only if asked and the stream starts as stereo (a later
     * change of layout keeps two outputs, each the average of all channels) */
    if (m->keep_stereo && m->in_format < 0 && nch == 2)
        m->out_ch = 2;
    /* The layout only has to carry the channel count: the matrix below ignores
     * positions. */
    AVChannelLayout in_layout = {0};
    av_channel_layout_default(&in_layout, nch);
    AVChannelLayout out_layout = AV_CHANNEL_LAYOUT_MONO;
    if (m->out_ch == 2)
        out_layout = (AVChannelLayout)AV_CHANNEL_LAYOUT_STEREO;
    int rc = swr_alloc_set_opts2(&m->swr, &out_layout, AV_SAMPLE_FMT_FLT, AUD_SAMPLE_RATE,
                                 &in_layout, (enum AVSampleFormat)f->format, f->sample_rate,
                                 0, NULL);
    av_channel_layout_uninit(&in_layout);
    if (rc < 0 || !m->swr)
        return rc == AVERROR(ENOMEM) ? AUD_ENOMEM : AUD_ECORRUPT;
    double matrix[2 * AUD__MAX_CHANNELS]; /* [out_ch outputs][nch inputs] */
    for (int o = 0; o < m->out_ch; o++)
        for (int c = 0; c < nch; c++)
            matrix[o * nch + c] = m->out_ch == 2 && nch == 2 ? (c == o ? 1.0 : 0.0) : 1.0 / nch;
    rc = swr_set_matrix(m->swr, matrix, nch);
    if (rc >= 0)
        rc = swr_init(m->swr);
    if (rc < 0) {
        swr_free(&m->swr);
        return rc == AVERROR(ENOMEM) ? AUD_ENOMEM : AUD_ECORRUPT;
    }
    m->in_format = f->format;
    m->in_rate = f->sample_rate;
    m->in_channels = nch;
    return 0;
}

static int check_limit(const aud__mixer *m)
{
    return m->total > m->max_samples ? AUD_ETOOLONG : 0;
}

int aud__mixer_flush(aud__mixer *m)
{
    if (!m->swr)
        return 0;
    for (;;) {
        int room = swr_get_out_samples(m->swr, 0);
        if (room <= 0)
            return 0;
        int rc = reserve(m, (size_t)room);
        if (rc)
            return rc;
        uint8_t *out = (uint8_t *)(m->buf + m->n * (size_t)m->out_ch);
        int got = swr_convert(m->swr, &out, room, NULL, 0);
        if (got < 0)
            return AUD_ECORRUPT;
        if (got == 0)
            return 0;
        m->n += (size_t)got;
        m->total += (size_t)got;
        if ((rc = check_limit(m)))
            return rc;
    }
}

int aud__mixer_push(aud__mixer *m, const AVFrame *f)
{
    if (f->nb_samples <= 0)
        return 0;
    int rc;
    if (!m->swr || f->format != m->in_format || f->sample_rate != m->in_rate ||
        f->ch_layout.nb_channels != m->in_channels) {
        /* Parameters changed mid-stream (or first frame): drain the old resampler so
         * no sample is lost, then build one for the new parameters. */
        if ((rc = aud__mixer_flush(m)))
            return rc;
        if ((rc = configure(m, f)))
            return rc;
    }
    int room = swr_get_out_samples(m->swr, f->nb_samples);
    if (room < 0)
        return AUD_ECORRUPT;
    /* Under a limit, ask for no more than one sample past it: swresample keeps the rest
     * of the frame buffered, and the limit then trips without converting it. */
    if (m->max_samples != SIZE_MAX && m->total <= m->max_samples &&
        (size_t)room > m->max_samples - m->total + 1)
        room = (int)(m->max_samples - m->total + 1);
    if ((rc = reserve(m, (size_t)room)))
        return rc;
    uint8_t *out = (uint8_t *)(m->buf + m->n * (size_t)m->out_ch);
    int got = swr_convert(m->swr, &out, room, (const uint8_t **)f->extended_data,
                          f->nb_samples);
    if (got < 0)
        return AUD_ECORRUPT;
    m->n += (size_t)got;
    m->total += (size_t)got;
    return check_limit(m);
}

void aud__mixer_drained(aud__mixer *m)
{
    m->n = m->off = 0;
}
