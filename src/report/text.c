/* text.c — buffers, text cleaning, timestamps and paragraph grouping for the renderers. */
#include "report_internal.h"

#include "mdc/utf8.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *rpt__clean_line(const char *s)
{
    if (!s)
        s = "";
    size_t n;
    char *u = mdc_utf8_sanitize(s, strlen(s), MDC_UTF8_DROP_NUL, &n);
    if (!u)
        return NULL;
    /* In place: the output never grows (C1 controls are 2 bytes → 1 space). */
    size_t o = 0, i = 0;
    int space = 1; /* drops leading spaces */
    while (i < n) {
        uint32_t cp;
        int k = mdc_utf8_decode(u + i, n - i, &cp); /* u is valid: k > 0 */
        int blank = cp == ' ' || cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) ||
                    cp == 0x2028 || cp == 0x2029;
        if (blank) {
            if (!space)
                u[o++] = ' ';
            space = 1;
        } else {
            memmove(u + o, u + i, (size_t)k);
            o += (size_t)k;
            space = 0;
        }
        i += (size_t)k;
    }
    if (o && u[o - 1] == ' ')
        o--;
    u[o] = '\0';
    return u;
}

char *rpt__timestamp(int64_t cs, char sep, char *buf, size_t len)
{
    if (cs < 0)
        cs = 0;
    int64_t s = cs / 100;
    int64_t h = s / 3600, m = s / 60 % 60, sec = s % 60;
    if (sep)
        snprintf(buf, len, "%02" PRId64 ":%02" PRId64 ":%02" PRId64 "%c%03" PRId64, h, m, sec,
                 sep, cs % 100 * 10);
    else
        snprintf(buf, len, "%02" PRId64 ":%02" PRId64 ":%02" PRId64, h, m, sec);
    return buf;
}

long rpt__paragraphs(const rpt__unit *u, size_t n_units, rpt__para **out)
{
    *out = NULL;
    rpt__para *v = malloc((n_units ? n_units : 1) * sizeof *v);
    if (!v)
        return -1;
    long n = 0;
    for (size_t i = 0; i < n_units; i++) {
        rpt__para *p = n ? &v[n - 1] : NULL;
        /* a change of speaker always starts a new paragraph */
        const char *ps = p ? u[p->last].speaker : NULL, *s = u[i].speaker;
        const int same_speaker = !p || ps == s || (ps && s && !strcmp(ps, s));
        if (p && same_speaker && u[i].t0_cs - p->t1_cs < RPT__PAUSE_CS &&
            p->t1_cs - p->t0_cs < RPT__PARA_MAX_CS) {
            p->last = i;
            if (u[i].t1_cs > p->t1_cs)
                p->t1_cs = u[i].t1_cs;
        } else {
            v[n++] = (rpt__para){.first = i, .last = i, .t0_cs = u[i].t0_cs, .t1_cs = u[i].t1_cs};
        }
    }
    *out = v;
    return n;
}

char *rpt__full_text(const rpt_transcript *tr)
{
    mdc_buf b = {0};
    mdc_buf_puts(&b, "");
    for (size_t i = 0; i < tr->n_segments; i++) {
        char *c = rpt__clean_line(tr->segments[i].text);
        if (!c) {
            b.oom = 1;
            break;
        }
        if (c[0]) {
            if (b.len)
                mdc_buf_puts(&b, " ");
            mdc_buf_puts(&b, c);
        }
        free(c);
    }
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

char *rpt_clean_line(const char *text)
{
    return rpt__clean_line(text);
}

long rpt_usage_seconds(double duration_s)
{
    if (!(duration_s > 0) || !isfinite(duration_s))
        return 0;
    return (long)ceil(duration_s);
}
