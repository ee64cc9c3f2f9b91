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

/* One cue [t0, t1] with raw text (cleaned to one line; blank text writes nothing). */
static int put_cue(mdc_buf *b, int vtt, int *cue, int64_t t0, int64_t t1, const char *raw)
{
    char a[32], z[32];
    const char sep = vtt ? '.' : ',';
    char *c = rpt__clean_line(raw);
    if (!c)
        return -1;
    if (c[0]) {
        if (vtt)
            mdc_buf_puts(b, "\n");
        else
            mdc_buf_printf(b, "%s%d\n", *cue ? "\n" : "", *cue + 1);
        (*cue)++;
        mdc_buf_printf(b, "%s --> %s\n", rpt__timestamp(t0, sep, a, sizeof a),
                       rpt__timestamp(t1 > t0 ? t1 : t0, sep, z, sizeof z));
        put_cue_text(b, c, vtt);
        mdc_buf_puts(b, "\n");
    }
    free(c);
    return 0;
}

/* Cues of at most k words of one segment (word-level subtitles, like whisper-cli -ml). */
static int word_cues(mdc_buf *b, int vtt, int *cue, const rpt_segment *s, int k)
{
    for (int w0 = 0; w0 < s->n_words; w0 += k) {
        const int w1 = w0 + k < s->n_words ? w0 + k : s->n_words;
        mdc_buf txt = {0};
        for (int w = w0; w < w1; w++)
            mdc_buf_puts(&txt, s->words[w].text ? s->words[w].text : "");
        mdc_buf_puts(&txt, "");
        int rc = txt.oom ? -1 : put_cue(b, vtt, cue, s->words[w0].t0_cs, s->words[w1 - 1].t1_cs,
                                        txt.p);
        free(txt.p);
        if (rc)
            return rc;
    }
    return 0;
}

static int render_cues(const rpt_transcript *tr, mdc_buf *b, int vtt)
{
    int cue = 0;
    if (vtt)
        mdc_buf_puts(b, "WEBVTT\n");
    else
        mdc_buf_puts(b, "");
    for (size_t i = 0; i < tr->n_segments; i++) {
        const rpt_segment *s = &tr->segments[i];
        int rc = tr->max_words_per_cue > 0 && s->words && s->n_words > 0
                     ? word_cues(b, vtt, &cue, s, tr->max_words_per_cue)
                     : put_cue(b, vtt, &cue, s->t0_cs, s->t1_cs, s->text);
        if (rc)
            return rc;
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
