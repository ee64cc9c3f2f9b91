/* markdown.c — the Markdown meeting report (DESIGN §6).
 *
 * Escaping (ref: CommonMark 0.31 §2.4 backslash escapes, §6.6 entity references, GFM
 * tables/strikethrough): every piece of user or transcript text is first made one line
 * of valid UTF-8 (rpt__clean_line: no line break can start a new block), then
 *   & < >                      → &amp; &lt; &gt;   (HTML, entities, block quotes, autolinks)
 *   \ ` * _ [ ] | ~ # $        → backslash-escaped (code, emphasis, links/images, tables,
 *                                strikethrough, headings, math); "_" is left alone
 *                                between two ASCII letters/digits (intraword: inert)
 *   - + = or "12." "12)" first → the marker is backslash-escaped (list items, setext)
 * so text can only ever be literal inline text. */
#include "report_internal.h"

#include "mdc/utf8.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *title, *date, *duration, *language, *model, *processing, *source;
    const char *participants, *toc, *transcript, *no_speech, *unknown, *probability;
    const char *speakers, *speaker, *unknown_speaker;
    const char *speech, *vad, *no_speech_vad;
    char decimal;
} strings;

static const strings k_pt = {
    .title = "Relatório da reunião",
    .date = "Data",
    .duration = "Duração",
    .language = "Idioma",
    .model = "Modelo",
    .processing = "Tempo de processamento",
    .source = "Arquivo de origem",
    .participants = "Participantes",
    .toc = "Sumário",
    .transcript = "Transcrição",
    .no_speech = "Nenhuma fala detectada na gravação.",
    .speech = "Fala detectada",
    .vad = "detecção de atividade de voz",
    .no_speech_vad = "Nenhuma fala detectada. O detector de atividade de voz não encontrou fala "
                     "na gravação; nada foi transcrito.",
    .unknown = "desconhecido",
    .probability = "probabilidade",
    .speakers = "Tempo de fala",
    .speaker = "Falante",
    .unknown_speaker = "indefinido",
    .decimal = ',',
};
static const strings k_en = {
    .title = "Meeting report",
    .date = "Date",
    .duration = "Duration",
    .language = "Language",
    .model = "Model",
    .processing = "Processing time",
    .source = "Source file",
    .participants = "Participants",
    .toc = "Contents",
    .transcript = "Transcript",
    .no_speech = "No speech detected in the recording.",
    .speech = "Speech detected",
    .vad = "voice-activity detection",
    .no_speech_vad = "No speech detected. The voice-activity detector found no speech in the "
                     "recording; nothing was transcribed.",
    .unknown = "unknown",
    .probability = "probability",
    .speakers = "Talk time",
    .speaker = "Speaker",
    .unknown_speaker = "undetermined",
    .decimal = '.',
};

/* Meetings longer than this get a table of contents, one entry per TOC_STEP_CS. */
#define TOC_MIN_CS (10 * 60 * 100)
#define TOC_STEP_CS (5 * 60 * 100)
#define TOC_PREVIEW_BYTES 60

static int ascii_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Appends an already-cleaned line, Markdown-escaped (see the top of this file). */
static void put_md(mdc_buf *b, const char *s)
{
    const char *p = s;
    /* Block-start markers: a field may begin a list item or a heading's content. */
    if (*p == '-' || *p == '+' || *p == '=') {
        mdc_buf_puts(b, "\\");
        mdc_buf_put(b, p, 1);
        p++;
    } else {
        size_t d = strspn(p, "0123456789");
        if (d > 0 && d <= 9 && (p[d] == '.' || p[d] == ')')) {
            mdc_buf_put(b, p, d);
            mdc_buf_puts(b, "\\");
            mdc_buf_put(b, p + d, 1);
            p += d + 1;
        }
    }
    const char *run = p;
    for (; *p; p++) {
        const char *rep = NULL;
        char esc[3] = {'\\', *p, '\0'};
        switch (*p) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '_':
            /* Between two ASCII letters/digits "_" is inert (it is then both left- and
             * right-flanking, CommonMark §6.2 rules 2 and 4): keep snake_case readable. */
            if (!(p > s && ascii_alnum(p[-1]) && ascii_alnum(p[1])))
                rep = esc;
            break;
        case '\\': case '`': case '*': case '[': case ']': case '|': case '~': case '#':
        case '$':
            rep = esc;
            break;
        default: break;
        }
        if (rep) {
            mdc_buf_put(b, run, (size_t)(p - run));
            mdc_buf_puts(b, rep);
            run = p + 1;
        }
    }
    mdc_buf_put(b, run, (size_t)(p - run));
}

/* Cleans then escapes raw text; returns 0, or -1 on OOM. */
static int put_md_raw(mdc_buf *b, const char *raw)
{
    char *c = rpt__clean_line(raw);
    if (!c)
        return -1;
    put_md(b, c);
    free(c);
    return 0;
}

/* 1 if s has something rpt__clean_line() keeps: a byte other than C0 controls, space
 * and DEL, and other than a C1 control (C2 80…C2 9F). */
static int has_text(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    for (; p && *p; p++) {
        if (*p == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F) {
            p++;
            continue;
        }
        if (*p > 0x20 && *p != 0x7F)
            return 1;
    }
    return 0;
}

/* v with `digits` decimals and the locale's decimal separator, then `suffix`. */
static void put_decimal(mdc_buf *b, double v, int digits, const char *suffix, char decimal)
{
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%.*f%s", digits, v, suffix);
    char *dot = strchr(tmp, '.');
    if (dot)
        *dot = decimal;
    mdc_buf_puts(b, tmp);
}

static int put_header(mdc_buf *b, const rpt_transcript *tr, const rpt_meta *m,
                      const strings *S, int64_t duration_cs)
{
    int rc = 0;
    char ts[32];
    mdc_buf_puts(b, "# ");
    if (has_text(m->title))
        rc |= put_md_raw(b, m->title);
    else
        mdc_buf_puts(b, S->title);
    mdc_buf_puts(b, "\n\n");
    if (has_text(m->date)) {
        mdc_buf_printf(b, "- **%s:** ", S->date);
        rc |= put_md_raw(b, m->date);
        mdc_buf_puts(b, "\n");
    }
    mdc_buf_printf(b, "- **%s:** %s\n", S->duration, rpt__timestamp(duration_cs, 0, ts, sizeof ts));
    if (tr->vad_used) {
        const double sp = tr->speech_s > 0 && isfinite(tr->speech_s) ? tr->speech_s : 0;
        mdc_buf_printf(b, "- **%s:** %s (%s)\n", S->speech,
                       rpt__timestamp((int64_t)llround(sp * 100), 0, ts, sizeof ts), S->vad);
    }
    mdc_buf_printf(b, "- **%s:** ", S->language);
    const char *name = rpt__lang_name(tr->language, m->locale);
    if (has_text(tr->language)) {
        if (name)
            mdc_buf_printf(b, "%s (", name);
        rc |= put_md_raw(b, tr->language);
        if (tr->language_prob >= 0 && tr->language_prob <= 1) {
            mdc_buf_printf(b, "; %s ", S->probability);
            put_decimal(b, tr->language_prob * 100, 0, "%", S->decimal);
        }
        if (name)
            mdc_buf_puts(b, ")");
    } else {
        mdc_buf_puts(b, S->unknown);
    }
    mdc_buf_puts(b, "\n");
    if (has_text(m->model)) {
        mdc_buf_printf(b, "- **%s:** ", S->model);
        rc |= put_md_raw(b, m->model);
        mdc_buf_puts(b, "\n");
    }
    if (m->processing_s >= 0 && isfinite(m->processing_s)) {
        mdc_buf_printf(b, "- **%s:** ", S->processing);
        put_decimal(b, m->processing_s, 1, " s", S->decimal);
        mdc_buf_puts(b, "\n");
    }
    if (has_text(m->source_name) || has_text(m->container) || has_text(m->codec)) {
        mdc_buf_printf(b, "- **%s:** ", S->source);
        int open = 0;
        if (has_text(m->source_name))
            rc |= put_md_raw(b, m->source_name);
        const char *const extra[] = {m->container, m->codec};
        for (int i = 0; i < 2; i++) {
            if (!has_text(extra[i]))
                continue;
            mdc_buf_puts(b, open ? ", " : has_text(m->source_name) ? " (" : "(");
            open = 1;
            rc |= put_md_raw(b, extra[i]);
        }
        if (open)
            mdc_buf_puts(b, ")");
        mdc_buf_puts(b, "\n");
    }
    return rc;
}

/* "Speaker 0" / "Falante 1" / "Speaker ?" label of a segment's speaker. */
static void put_speaker(mdc_buf *b, const char *spk, const strings *S)
{
    mdc_buf_printf(b, "%s ", S->speaker);
    if (!strcmp(spk, "?"))
        mdc_buf_puts(b, S->unknown_speaker);
    else
        put_md(b, spk);
}

/* Talk time per speaker, in first-seen order: with speaker turns the sum of the turns'
 * spans (what the channels show, however the text was cut), else the sum of the
 * labelled units' spans: "- **Talk time:** Speaker 0 00:00:09, Speaker 1 00:00:03". */
static void put_talk_time(mdc_buf *b, const rpt_transcript *tr, const rpt__unit *u, size_t nu,
                          const strings *S)
{
    enum { MAX_SPK = 16 };
    const char *name[MAX_SPK];
    int64_t cs[MAX_SPK];
    int n = 0;
    const int turns = tr->turns && tr->n_turns > 0;
    const size_t count = turns ? tr->n_turns : nu;
    for (size_t i = 0; i < count; i++) {
        const char *spk = turns ? tr->turns[i].speaker : u[i].speaker;
        const int64_t t0 = turns ? tr->turns[i].t0_cs : u[i].t0_cs;
        const int64_t t1 = turns ? tr->turns[i].t1_cs : u[i].t1_cs;
        if (!spk)
            continue;
        int k = 0;
        while (k < n && strcmp(name[k], spk))
            k++;
        if (k == n) {
            if (n == MAX_SPK)
                continue;
            name[n] = spk;
            cs[n++] = 0;
        }
        cs[k] += t1 > t0 ? t1 - t0 : 0;
    }
    if (n == 0)
        return;
    char ts[32];
    mdc_buf_printf(b, "- **%s:** ", S->speakers);
    for (int k = 0; k < n; k++) {
        if (k)
            mdc_buf_puts(b, ", ");
        put_speaker(b, name[k], S);
        mdc_buf_printf(b, " %s", rpt__timestamp(cs[k], 0, ts, sizeof ts));
    }
    mdc_buf_puts(b, "\n");
}

static int put_participants(mdc_buf *b, const char *list, const strings *S)
{
    if (!has_text(list))
        return 0;
    char *c = rpt__clean_line(list);
    if (!c)
        return -1;
    if (!c[strspn(c, ", ")]) { /* only separators: no section */
        free(c);
        return 0;
    }
    mdc_buf_printf(b, "\n## %s\n\n", S->participants);
    for (char *p = c; *p;) {
        char *end = strchr(p, ',');
        if (end)
            *end = '\0';
        while (*p == ' ')
            p++;
        size_t n = strlen(p);
        while (n && p[n - 1] == ' ')
            p[--n] = '\0';
        if (n) {
            mdc_buf_puts(b, "- ");
            put_md(b, p);
            mdc_buf_puts(b, "\n");
        }
        p = end ? end + 1 : p + strlen(p);
    }
    free(c);
    return 0;
}

/* The first words of a paragraph, cut at a space (or a character boundary). */
static void put_preview(mdc_buf *b, const char *text)
{
    size_t n = strlen(text);
    if (n <= TOC_PREVIEW_BYTES) {
        put_md(b, text);
        return;
    }
    size_t cut = TOC_PREVIEW_BYTES;
    while (cut > TOC_PREVIEW_BYTES / 2 && text[cut] != ' ')
        cut--;
    if (text[cut] != ' ')
        cut = mdc_utf8_complete_prefix(text, TOC_PREVIEW_BYTES);
    char tmp[TOC_PREVIEW_BYTES + 1];
    memcpy(tmp, text, cut);
    tmp[cut] = '\0';
    put_md(b, tmp);
    mdc_buf_puts(b, "…");
}

int rpt__render_markdown(const rpt_transcript *tr, const rpt_meta *m, mdc_buf *b)
{
    const strings *S = m->locale == RPT_LOCALE_EN ? &k_en : &k_pt;
    rpt__unit *u = NULL;
    rpt__para *par = NULL;
    long np = -1;
    int rc = -1;
    const long nu = rpt__units(tr, &u);
    if (nu < 0)
        return -1;
    if ((np = rpt__paragraphs(u, (size_t)nu, &par)) < 0)
        goto out;

    int64_t dur_cs = tr->duration_s > 0 && isfinite(tr->duration_s)
                         ? (int64_t)llround(tr->duration_s * 100) : 0;
    if (np > 0 && par[np - 1].t1_cs > dur_cs && dur_cs == 0)
        dur_cs = par[np - 1].t1_cs;
    if (put_header(b, tr, m, S, dur_cs))
        goto out;
    put_talk_time(b, tr, u, (size_t)nu, S);
    if (put_participants(b, m->participants, S))
        goto out;

    char ts[32];
    if (dur_cs > TOC_MIN_CS && np > 1) {
        mdc_buf_printf(b, "\n## %s\n\n", S->toc);
        int64_t next = 0;
        for (long i = 0; i < np; i++) {
            if (par[i].t0_cs < next)
                continue;
            mdc_buf_printf(b, "- **[%s]** ", rpt__timestamp(par[i].t0_cs, 0, ts, sizeof ts));
            put_preview(b, u[par[i].first].text);
            mdc_buf_puts(b, "\n");
            next = (par[i].t0_cs / TOC_STEP_CS + 1) * TOC_STEP_CS;
        }
    }

    mdc_buf_printf(b, "\n## %s\n\n", S->transcript);
    if (np == 0)
        mdc_buf_printf(b, "*%s*\n", tr->vad_used ? S->no_speech_vad : S->no_speech);
    for (long i = 0; i < np; i++) {
        if (i)
            mdc_buf_puts(b, "\n");
        mdc_buf_printf(b, "**[%s]**", rpt__timestamp(par[i].t0_cs, 0, ts, sizeof ts));
        if (u[par[i].first].speaker) {
            mdc_buf_puts(b, " **");
            put_speaker(b, u[par[i].first].speaker, S);
            mdc_buf_puts(b, ":**");
        }
        for (size_t k = par[i].first; k <= par[i].last; k++) {
            mdc_buf_puts(b, " ");
            put_md(b, u[k].text);
        }
        mdc_buf_puts(b, "\n");
    }
    rc = 0;
out:
    rpt__units_free(u, (size_t)nu);
    free(par);
    return rc;
}
