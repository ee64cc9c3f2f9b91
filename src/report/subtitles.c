/* subtitles.c — SRT, WebVTT and plain-text renderers.
 * ref: SubRip (cue number from 1, "HH:MM:SS,mmm --> HH:MM:SS,mmm", text, blank line);
 *      W3C WebVTT §4.1 (header "WEBVTT", timestamps "HH:MM:SS.mmm", cue text may not
 *      contain "-->", and '&' '<' '>' must be written as &amp; &lt; &gt;). */
#include "report_internal.h"

#include <stdlib.h>
#include <string.h>

/* Cue text: one line; in VTT escape & < > (which also breaks up any "-->"); in SRT
 * only "-->" is defused (it would read as a timing line). */
static void put_cue_text(mdc_buf *b, const char *s, int vtt)
{
    const char *run = s;
    for (const char *p = s; *p; p++) {
        const char *rep = NULL;
        if (vtt && *p == '&')
            rep = "&amp;";
        else if (vtt && *p == '<')
            rep = "&lt;";
        else if (vtt && *p == '>')
            rep = "&gt;";
        else if (!vtt && strncmp(p, "-->", 3) == 0)
            rep = "->";
        if (rep) {
            mdc_buf_put(b, run, (size_t)(p - run));
            mdc_buf_puts(b, rep);
            run = p + 1 + (!vtt ? 2 : 0);
            p = run - 1;
        }
    }
    mdc_buf_puts(b, run);
}

static int render_cues(const rpt_transcript *tr, mdc_buf *b, int vtt)
{
    char t0[32], t1[32];
    char sep = vtt ? '.' : ',';
    int cue = 0;
    if (vtt)
        mdc_buf_puts(b, "WEBVTT\n");
    else
        mdc_buf_puts(b, "");
    for (size_t i = 0; i < tr->n_segments; i++) {
        const rpt_segment *s = &tr->segments[i];
        char *c = rpt__clean_line(s->text);
        if (!c)
            return -1;
        if (c[0]) {
            int64_t end = s->t1_cs > s->t0_cs ? s->t1_cs : s->t0_cs;
            if (vtt)
                mdc_buf_puts(b, "\n");
            else
                mdc_buf_printf(b, "%s%d\n", cue ? "\n" : "", cue + 1);
            cue++;
            mdc_buf_printf(b, "%s --> %s\n", rpt__timestamp(s->t0_cs, sep, t0, sizeof t0),
                        rpt__timestamp(end, sep, t1, sizeof t1));
            put_cue_text(b, c, vtt);
            mdc_buf_puts(b, "\n");
        }
        free(c);
    }
    return 0;
}

int rpt__render_srt(const rpt_transcript *tr, mdc_buf *b) { return render_cues(tr, b, 0); }
int rpt__render_vtt(const rpt_transcript *tr, mdc_buf *b) { return render_cues(tr, b, 1); }

int rpt__render_text(const rpt_transcript *tr, mdc_buf *b)
{
    char *t = rpt__full_text(tr);
    if (!t)
        return -1;
    mdc_buf_puts(b, t);
    if (t[0])
        mdc_buf_puts(b, "\n");
    free(t);
    return 0;
}
