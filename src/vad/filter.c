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
    free(f->pieces);
    memset(f, 0, sizeof *f);
}

int vad_filter_plan(size_t n, const vad_span *spans, size_t ns, float samples_overlap,
                    vad_filtered *out)
{
    if (!out)
        return VAD_EINVAL;
    memset(out, 0, sizeof *out);
    if ((!spans && ns) || !(samples_overlap >= 0.0f && samples_overlap <= 10.0f) ||
        n > (size_t)INT64_MAX / 4 || ns > SIZE_MAX / (4 * sizeof *out->map))
        return VAD_EINVAL;
    const int64_t overlap = (int64_t)(samples_overlap * VAD_SAMPLE_RATE);
    const int64_t last = n > 0 ? (int64_t)n - 1 : 0;
    out->map = ns ? malloc(4 * ns * sizeof *out->map) : NULL;
    out->pieces = ns ? malloc(ns * sizeof *out->pieces) : NULL;
    if (ns && (!out->map || !out->pieces)) {
        vad_filtered_free(out);
        return VAD_ENOMEM;
    }
    size_t off = 0, nm = 0, np = 0;
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
        out->pieces[np] = (vad_piece){.a = a, .b = b, .silence = 0};
        off += (size_t)(b - a);
        if (i + 1 < ns) {
            out->map[nm++] = (vad_map_point){samples_to_cs((int64_t)off), t1};
            out->map[nm++] = (vad_map_point){samples_to_cs((int64_t)off + SILENCE_SAMPLES),
                                             spans[i + 1].t0_cs};
            out->pieces[np].silence = SILENCE_SAMPLES;
            off += SILENCE_SAMPLES;
        }
        np++;
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
    out->n_pieces = np;
    out->n_samples = off;
    return 0;
}

int vad_filter_audio(const float *x, size_t n, const vad_span *spans, size_t ns,
                     float samples_overlap, vad_filtered *out)
{
    if (!out)
        return VAD_EINVAL;
    memset(out, 0, sizeof *out);
    if (!x && n)
        return VAD_EINVAL;
    int rc = vad_filter_plan(n, spans, ns, samples_overlap, out);
    if (rc)
        return rc;
    out->samples = out->n_samples ? malloc(out->n_samples * sizeof(float)) : NULL;
    if (out->n_samples && !out->samples) {
        vad_filtered_free(out);
        return VAD_ENOMEM;
    }
    size_t off = 0;
    for (size_t i = 0; i < out->n_pieces; i++) {
        const vad_piece *p = &out->pieces[i];
        memcpy(out->samples + off, x + p->a, (size_t)(p->b - p->a) * sizeof(float));
        off += (size_t)(p->b - p->a);
        memset(out->samples + off, 0, (size_t)p->silence * sizeof(float));
        off += (size_t)p->silence;
    }
    return 0;
}

/* ---- the cutter ------------------------------------------------------------------- */

struct vad_cutter {
    const vad_filtered *plan;
    size_t piece;     /* current piece */
    int64_t cur;      /* next input sample of the current piece to emit */
    int64_t pos;      /* input samples received so far */
    float *hist;      /* [cap_hist] the input samples [pos − n_hist, pos) */
    int64_t n_hist, cap_hist;
};

static const float k_zeros[SILENCE_SAMPLES];

int vad_cutter_new(const vad_filtered *plan, vad_cutter **out)
{
    if (!out)
        return VAD_EINVAL;
    *out = NULL;
    if (!plan || (plan->n_pieces && !plan->pieces))
        return VAD_EINVAL;
    /* history: how far before the furthest sample seen a later piece starts */
    int64_t need = 0, far = 0;
    for (size_t i = 0; i < plan->n_pieces; i++) {
        const vad_piece *p = &plan->pieces[i];
        if (p->a < 0 || p->b <= p->a || p->silence < 0 || p->silence > SILENCE_SAMPLES)
            return VAD_EINVAL;
        if (i > 0 && far - p->a > need)
            need = far - p->a;
        far = p->b > far ? p->b : far;
    }
    vad_cutter *c = calloc(1, sizeof *c);
    if (!c)
        return VAD_ENOMEM;
    c->plan = plan;
    c->cap_hist = need;
    if (need > 0 && !(c->hist = malloc((size_t)need * sizeof(float)))) {
        free(c);
        return VAD_ENOMEM;
    }
    c->cur = plan->n_pieces ? plan->pieces[0].a : 0;
    *out = c;
    return 0;
}

void vad_cutter_free(vad_cutter *c)
{
    if (!c)
        return;
    free(c->hist);
    free(c);
}

int vad_cutter_feed(vad_cutter *c, const float *x, size_t n, vad_emit_cb emit, void *user)
{
    if (!c || (!x && n) || !emit)
        return VAD_EINVAL;
    const vad_filtered *plan = c->plan;
    const int64_t end_in = c->pos + (int64_t)n; /* input available: [pos − n_hist, end_in) */
    int rc;
    while (c->piece < plan->n_pieces) {
        const vad_piece *p = &plan->pieces[c->piece];
        if (c->cur < c->pos - c->n_hist)
            return VAD_EINVAL; /* cannot happen: the history covers every overlap */
        if (c->cur >= end_in)
            break;
        const int64_t stop = p->b < end_in ? p->b : end_in;
        if (c->cur < c->pos) { /* from the history */
            const int64_t h_end = stop < c->pos ? stop : c->pos;
            const float *src = c->hist + (c->cur - (c->pos - c->n_hist));
            if ((rc = emit(src, (size_t)(h_end - c->cur), user)))
                return rc;
            c->cur = h_end;
        }
        if (c->cur < stop) { /* from this chunk */
            if ((rc = emit(x + (c->cur - c->pos), (size_t)(stop - c->cur), user)))
                return rc;
            c->cur = stop;
        }
        if (c->cur < p->b)
            break; /* the rest comes with later input */
        if (p->silence > 0 && (rc = emit(k_zeros, (size_t)p->silence, user)))
            return rc;
        if (++c->piece < plan->n_pieces)
            c->cur = plan->pieces[c->piece].a;
    }
    /* keep the last cap_hist input samples */
    if (c->cap_hist > 0) {
        if ((int64_t)n >= c->cap_hist) {
            memcpy(c->hist, x + (int64_t)n - c->cap_hist, (size_t)c->cap_hist * sizeof(float));
            c->n_hist = c->cap_hist;
        } else {
            int64_t keep = c->n_hist + (int64_t)n > c->cap_hist ? c->cap_hist - (int64_t)n
                                                                  : c->n_hist;
            memmove(c->hist, c->hist + (c->n_hist - keep), (size_t)keep * sizeof(float));
            memcpy(c->hist + keep, x, n * sizeof(float));
            c->n_hist = keep + (int64_t)n;
        }
    }
    c->pos = end_in;
    return 0;
}

int vad_cutter_finish(const vad_cutter *c)
{
    if (!c)
        return VAD_EINVAL;
    return c->piece == c->plan->n_pieces ? 0 : VAD_EINVAL;
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
