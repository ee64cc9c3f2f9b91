/* turns.c — speaker units: the pieces of transcript text the Markdown paragraphs and the
 * diarized_json segments are made of (see rpt__units in report_internal.h). */
#include "report_internal.h"

#include "mdc/strbuf.h"

#include <stdlib.h>
#include <string.h>

/* The turn a span belongs to: the one it overlaps most (ties: the earlier), else — a span
 * in a pause or of zero length — the nearest one.  NULL when there are no turns. */
static const char *turn_speaker(const rpt_transcript *tr, int64_t t0, int64_t t1)
{
    const char *best = NULL;
    int64_t best_ov = 0, best_gap = INT64_MAX;
    for (size_t k = 0; k < tr->n_turns; k++) {
        const rpt_turn *u = &tr->turns[k];
        const int64_t lo = t0 > u->t0_cs ? t0 : u->t0_cs, hi = t1 < u->t1_cs ? t1 : u->t1_cs;
        if (hi > lo) {
            if (hi - lo > best_ov) {
                best_ov = hi - lo;
                best = u->speaker;
            }
            continue;
        }
        if (best_ov > 0)
            continue;
        /* no overlap: distance between the span and the turn (0 when t0 lies inside) */
        const int64_t gap = t1 <= u->t0_cs ? u->t0_cs - t1 : (t0 >= u->t1_cs ? t0 - u->t1_cs : 0);
        if (gap < best_gap) {
            best_gap = gap;
            best = u->speaker;
        }
    }
    return best;
}

static int same(const char *a, const char *b) { return a == b || (a && b && !strcmp(a, b)); }

/* Appends a unit (takes text); returns 0 or -1 (text freed). */
static int push(rpt__unit **v, size_t *n, size_t *cap, char *text, int64_t t0, int64_t t1,
                const char *spk)
{
    if (!text[0]) {
        free(text);
        return 0;
    }
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 16;
        rpt__unit *nv = realloc(*v, nc * sizeof *nv);
        if (!nv) {
            free(text);
            return -1;
        }
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = (rpt__unit){.text = text, .t0_cs = t0, .t1_cs = t1 > t0 ? t1 : t0,
                               .speaker = spk};
    return 0;
}

/* The words [a, b) of s joined as one cleaned line (NULL on OOM). */
static char *join_words(const rpt_segment *s, int a, int b)
{
    mdc_buf buf = {0};
    mdc_buf_puts(&buf, "");
    for (int i = a; i < b; i++)
        mdc_buf_puts(&buf, s->words[i].text ? s->words[i].text : "");
    if (buf.oom) {
        free(buf.p);
        return NULL;
    }
    char *c = rpt__clean_line(buf.p);
    free(buf.p);
    return c;
}

long rpt__units(const rpt_transcript *tr, rpt__unit **out)
{
    *out = NULL;
    rpt__unit *v = NULL;
    size_t n = 0, cap = 0;
    const int turns = tr->turns && tr->n_turns > 0;
    for (size_t i = 0; i < tr->n_segments; i++) {
        const rpt_segment *s = &tr->segments[i];
        char *c = rpt__clean_line(s->text);
        if (!c)
            goto oom;
        if (!c[0]) {
            free(c);
            continue;
        }
        if (!turns) {
            if (push(&v, &n, &cap, c, s->t0_cs, s->t1_cs, s->speaker))
                goto oom;
            continue;
        }
        if (!s->words || s->n_words <= 0) {
            if (push(&v, &n, &cap, c, s->t0_cs, s->t1_cs, turn_speaker(tr, s->t0_cs, s->t1_cs)))
                goto oom;
            continue;
        }
        free(c);
        /* runs of words of one speaker */
        int a = 0;
        const char *spk = turn_speaker(tr, s->words[0].t0_cs, s->words[0].t1_cs);
        for (int k = 1; k <= s->n_words; k++) {
            const char *ks = k < s->n_words ? turn_speaker(tr, s->words[k].t0_cs,
                                                           s->words[k].t1_cs) : NULL;
            if (k < s->n_words && same(ks, spk))
                continue;
            char *t = join_words(s, a, k);
            if (!t || push(&v, &n, &cap, t, s->words[a].t0_cs, s->words[k - 1].t1_cs, spk))
                goto oom;
            a = k;
            spk = ks;
        }
    }
    *out = v;
    return (long)n;
oom:
    rpt__units_free(v, n);
    return -1;
}

void rpt__units_free(rpt__unit *u, size_t n)
{
    for (size_t i = 0; u && i < n; i++)
        free(u[i].text);
    free(u);
}
