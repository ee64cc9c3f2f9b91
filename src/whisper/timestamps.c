/*
 * timestamps.c — token-level times from the timestamp-token probabilities (see
 * timestamps.h).  A straight port of the rules of whisper.cpp's experimental
 * whisper_exp_compute_token_level_timestamps (README-round2 §3), including its quirks:
 * the energy index of a time is taken relative to the segment's t0 (and the time of an
 * index adds t0 back) although the energy array starts at sample 0 of the input, so a
 * segment that does not start at 0 is refined against the wrong stretch of audio;
 * interval splits truncate toward zero.
 */
#include <math.h>
#include <stdlib.h>

#include "whisper/timestamps.h"
#include "whisper/tokenizer.h"

float *wsp__tt_energy(const float *x, size_t n, int hw)
{
    if (n == 0)
        return NULL;
    float *e = malloc(sizeof(float) * n);
    if (!e)
        return NULL;
    const long long nn = (long long)n;
    for (long long i = 0; i < nn; i++) {
        float sum = 0.0f;
        for (long long j = -hw; j <= hw; j++)
            if (i + j >= 0 && i + j < nn)
                sum += fabsf(x[i + j]);
        e[i] = sum / (float)(2 * hw + 1);
    }
    return e;
}

float wsp__tt_voice_length(const uint8_t *b, uint32_t len)
{
    float r = 0.0f;
    for (uint32_t i = 0; i < len; i++) {
        const uint8_t c = b[i];
        if ((c & 0xC0) == 0x80)
            continue; /* continuation byte: counted with its lead byte */
        if (c == ' ')
            r += 0.01f;
        else if (c == ',')
            r += 2.00f;
        else if (c == '.' || c == '!' || c == '?' || (c >= '0' && c <= '9'))
            r += 3.00f;
        else if (c == 0xE2 && i + 2 < len && b[i + 1] == 0x80 && b[i + 2] == 0xA6)
            r += 3.00f; /* U+2026 … */
        else
            r += 1.00f;
    }
    return r;
}

/* Energy index of time t (centiseconds), clamped to [0, n): whisper.cpp's
 * timestamp_to_sample applied to t − seg_t0 (the quirk, see the file comment). */
static int to_sample(int64_t t, int64_t seg_t0, int n)
{
    const long long s = (long long)(((t - seg_t0) * WSP_SAMPLE_RATE) / 100);
    return (int)(s < 0 ? 0 : (s > n - 1 ? n - 1 : s));
}

/* Time of energy index k: whisper.cpp's sample_to_timestamp plus the segment's t0 (the
 * inverse of to_sample). */
static int64_t to_time(int k, int64_t seg_t0) { return (100LL * k) / WSP_SAMPLE_RATE + seg_t0; }

void wsp__tt_segment(wsp_segment *seg, const wsp__vocab *v, const float *e, int n_e,
                     float thold_pt, float thold_ptsum, wsp__tt_state *st)
{
    wsp_token *tk = seg->tokens;
    const int n = seg->n_tokens;
    const int64_t t0 = seg->t0, t1 = seg->t1;
    if (n == 0 || n_e <= 0)
        return;
    for (int j = 0; j < n; j++) {
        uint32_t len;
        const uint8_t *b = wsp__tok_bytes(v, tk[j].id, &len);
        tk[j].vlen = wsp__tt_voice_length(b, len);
    }
    if (n == 1) {
        tk[0].t0 = t0;
        tk[0].t1 = t1;
        return;
    }
    /* times where the timestamp token is confident */
    for (int j = 0; j < n; j++) {
        if (j == 0) {
            if (tk[0].id == v->beg) {
                tk[0].t0 = tk[0].t1 = tk[1].t0 = t0;
                st->t_beg = st->t_last = t0;
                st->tid_last = v->beg;
            } else {
                tk[0].t0 = st->t_last;
            }
        }
        const int64_t tt = st->t_beg + 2 * (int64_t)(tk[j].tid - v->beg);
        if (tk[j].pt > thold_pt && tk[j].ptsum > thold_ptsum && tk[j].tid > st->tid_last &&
            tt <= t1) {
            if (j > 0)
                tk[j - 1].t1 = tt;
            tk[j].t0 = tt;
            st->tid_last = tk[j].tid;
        }
    }
    tk[n - 2].t1 = t1;
    tk[n - 1].t0 = tk[n - 1].t1 = t1;
    st->t_last = t1;

    /* runs of unknown ends: split the run's time in proportion to the voice lengths */
    for (int p0 = 0, p1 = 0;;) {
        while (p1 < n && tk[p1].t1 < 0)
            p1++;
        if (p1 >= n)
            p1--;
        if (p1 > p0) {
            double psum = 0.0;
            for (int j = p0; j <= p1; j++)
                psum += tk[j].vlen;
            const double dt = (double)(tk[p1].t1 - tk[p0].t0);
            for (int j = p0 + 1; j <= p1; j++) {
                const double ct = (double)tk[j - 1].t0 + dt * tk[j - 1].vlen / psum;
                tk[j - 1].t1 = (int64_t)ct;
                tk[j].t0 = (int64_t)ct;
            }
        }
        p1++;
        p0 = p1;
        if (p1 >= n)
            break;
    }
    /* fix-up of overlaps */
    for (int j = 0; j < n - 1; j++) {
        if (tk[j].t1 < 0)
            tk[j + 1].t0 = tk[j].t1;
        if (j > 0 && tk[j - 1].t1 > tk[j].t0) {
            tk[j].t0 = tk[j - 1].t1;
            if (tk[j].t1 < tk[j].t0)
                tk[j].t1 = tk[j].t0;
        }
    }
    /* expand or contract each text token against the energy (±1/8 s window) */
    const int hw = WSP_SAMPLE_RATE / 8;
    for (int j = 0; j < n; j++) {
        if (tk[j].id >= v->eot)
            continue;
        int s0 = to_sample(tk[j].t0, t0, n_e);
        int s1 = to_sample(tk[j].t1, t0, n_e);
        const int ss0 = s0 - hw > 0 ? s0 - hw : 0;
        const int ss1 = s1 + hw < n_e ? s1 + hw : n_e;
        const int ns = ss1 - ss0;
        float sum = 0.0f;
        for (int k = ss0; k < ss1; k++)
            sum += e[k];
        const float thold = (float)(0.5 * sum / ns);
        int k = s0;
        if (e[k] > thold && j > 0) {
            while (k > 0 && e[k] > thold)
                k--;
            tk[j].t0 = to_time(k, t0);
            if (tk[j].t0 < tk[j - 1].t1)
                tk[j].t0 = tk[j - 1].t1;
            else
                s0 = k;
        } else {
            while (e[k] < thold && k < s1)
                k++;
            s0 = k;
            tk[j].t0 = to_time(k, t0);
        }
        k = s1;
        if (e[k] > thold) {
            while (k < n_e - 1 && e[k] > thold)
                k++;
            tk[j].t1 = to_time(k, t0);
            if (j < n - 1 && tk[j].t1 > tk[j + 1].t0)
                tk[j].t1 = tk[j + 1].t0;
            else
                s1 = k;
        } else {
            while (e[k] < thold && k > s0)
                k--;
            s1 = k;
            tk[j].t1 = to_time(k, t0);
        }
    }
}
