/*
 * filter.c — the audio whisper.cpp transcribes with VAD on, and the table that maps its
 * times back to the input (ref: whisper.cpp whisper_full → whisper_vad(): the filtered
 * buffer and state->vad_mapping_table; map_processed_to_original_time();
 * whisper-ref tools/vad_ref_harness.c and tools/vad_mapping_check.py, which reproduce
 * them and check them against whisper-cli --vad).
 */
#include "mdc/vad.h"

#include <stdlib.h>
#include <string.h>

#define SILENCE_SAMPLES (VAD_SAMPLE_RATE / 10) /* (int)(0.1 · 16000): gap between spans */

/* (int)(cs / 100 · 16000 + 0.5), ref: whisper.cpp cs_to_samples */
static int64_t cs_to_samples(int64_t cs)
{
    return (int64_t)((cs / 100.0) * VAD_SAMPLE_RATE + 0.5);
}

static int64_t samples_to_cs(int64_t samples)
{
    return (int64_t)((samples / (double)VAD_SAMPLE_RATE) * 100.0 + 0.5);
}

void vad_filtered_free(vad_filtered *f)
{
    if (!f)
        return;
    free(f->samples);
    free(f->map);
    memset(f, 0, sizeof *f);
}

int vad_filter_audio(const float *x, size_t n, const vad_span *spans, size_t ns,
                     float samples_overlap, vad_filtered *out)
{
    if (!out)
        return VAD_EINVAL;
    memset(out, 0, sizeof *out);
    if ((!x && n) || (!spans && ns) || !(samples_overlap >= 0.0f && samples_overlap <= 10.0f) ||
        n > (size_t)INT64_MAX / 4)
        return VAD_EINVAL;
    const int64_t overlap = (int64_t)(samples_overlap * VAD_SAMPLE_RATE);
    const int64_t last = n > 0 ? (int64_t)n - 1 : 0;
    /* Output size: every span contributes at most its length + overlap + silence. */
    size_t cap = 0;
    for (size_t i = 0; i < ns; i++) {
        int64_t a = cs_to_samples(spans[i].t0_cs), b = cs_to_samples(spans[i].t1_cs);
        a = a < last ? a : last;
        b = b < last ? b : last;
        if (i + 1 < ns)
            b = b + overlap < last ? b + overlap : last;
        if (b > a)
            cap += (size_t)(b - a) + SILENCE_SAMPLES;
    }
    out->samples = cap ? malloc(cap * sizeof(float)) : NULL;
    out->map = ns ? malloc(4 * ns * sizeof *out->map) : NULL;
    if ((cap && !out->samples) || (ns && !out->map)) {
        vad_filtered_free(out);
        return VAD_ENOMEM;
    }
    size_t off = 0, nm = 0;
    for (size_t i = 0; i < ns; i++) {
        const int64_t t0 = spans[i].t0_cs, t1 = spans[i].t1_cs;
        int64_t a = cs_to_samples(t0), b = cs_to_samples(t1);
        a = a < last ? a : last;
        b = b < last ? b : last;
        const int64_t orig_len = b - a;
        if (i + 1 < ns)
            b = b + overlap < last ? b + overlap : last;
        if (b - a <= 0)
            continue;
        out->map[nm++] = (vad_map_point){samples_to_cs((int64_t)off), t0};
        out->map[nm++] = (vad_map_point){samples_to_cs((int64_t)off + orig_len), t1};
        memcpy(out->samples + off, x + a, (size_t)(b - a) * sizeof(float));
        off += (size_t)(b - a);
        if (i + 1 < ns) {
            out->map[nm++] = (vad_map_point){samples_to_cs((int64_t)off), t1};
            out->map[nm++] = (vad_map_point){samples_to_cs((int64_t)off + SILENCE_SAMPLES),
                                             spans[i + 1].t0_cs};
            memset(out->samples + off, 0, SILENCE_SAMPLES * sizeof(float));
            off += SILENCE_SAMPLES;
        }
    }
    /* stable sort by processed time (insertion sort: the table is nearly sorted), then
     * keep the first entry of each processed time */
    for (size_t i = 1; i < nm; i++) {
        const vad_map_point k = out->map[i];
        size_t j = i;
        while (j > 0 && out->map[j - 1].processed_cs > k.processed_cs) {
            out->map[j] = out->map[j - 1];
            j--;
        }
        out->map[j] = k;
    }
    size_t nu = 0;
    for (size_t i = 0; i < nm; i++)
        if (nu == 0 || out->map[i].processed_cs != out->map[nu - 1].processed_cs)
            out->map[nu++] = out->map[i];
    out->n_map = nu;
    out->n_samples = off;
    return 0;
}

int64_t vad_map_time(const vad_filtered *f, int64_t t)
{
    if (!f || f->n_map == 0)
        return t;
    const vad_map_point *m = f->map;
    const size_t n = f->n_map;
    if (t <= m[0].processed_cs)
        return m[0].original_cs;
    if (t >= m[n - 1].processed_cs)
        return m[n - 1].original_cs;
    size_t lo = 0, hi = n - 1; /* first entry with processed >= t, in (0, n − 1] */
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (m[mid].processed_cs < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (m[lo].processed_cs == t)
        return m[lo].original_cs;
    const vad_map_point a = m[lo - 1], b = m[lo];
    const int64_t pd = b.processed_cs - a.processed_cs;
    if (pd == 0)
        return a.original_cs;
    /* C's integer division truncates toward zero, as whisper.cpp's */
    return a.original_cs + (t - a.processed_cs) * (b.original_cs - a.original_cs) / pd;
}

void vad_map_segment(const vad_filtered *f, int64_t *t0, int64_t *t1)
{
    const int64_t a = vad_map_time(f, *t0);
    int64_t b = vad_map_time(f, *t1);
    if (b < a + 10)
        b = a + 10; /* whisper_full_get_segment_t1: at least 10 cs */
    *t0 = a;
    *t1 = b;
}
