/* Unit tests for the Markdown meeting report (src/report/markdown.c): hostile text,
 * locales, timestamps, paragraph merging, table of contents, empty transcripts. */
#include "testutil.h"

#include "mdc/report.h"
#include "mdc/utf8.h"

#include <unistd.h>

#define SEG(a, b, t) {.t0_cs = (a), .t1_cs = (b), .text = (t)}

static char *render_md(const rpt_segment *segs, size_t n, const rpt_meta *meta,
                       double duration_s)
{
    rpt_transcript tr = {.segments = segs, .n_segments = n, .language = "pt",
                         .language_prob = 0.973, .duration_s = duration_s};
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(rpt_render(RPT_FORMAT_MARKDOWN, &tr, meta, &out, &len), 0);
    assert_non_null(out);
    assert_int_equal(strlen(out), len);
    assert_true(mdc_utf8_valid(out, len));
    return out;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static int ascii_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Occurrences of c that are not backslash-escaped (a backslash escapes the next byte);
 * "_" between two ASCII letters/digits is inert in CommonMark and not counted. */
static int unescaped(const char *s, char c)
{
    int n = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            continue;
        }
        if (*p == '_' && p > s && ascii_alnum(p[-1]) && ascii_alnum(p[1]))
            continue;
        n += *p == c;
    }
    return n;
}

/* Checks that md is valid UTF-8 and contains only blocks the renderer makes itself:
 * our headings, our list items (whose content cannot open another block), paragraphs
 * starting "**[", the no-speech note; no raw HTML, entities, links or images; and no
 * unescaped Markdown punctuation outside our own "**…**" markers. */
static void assert_safe_markdown(const char *md)
{
    assert_true(mdc_utf8_valid(md, strlen(md)));
    assert_null(strchr(md, '<'));
    assert_null(strchr(md, '>'));
    assert_null(strstr(md, "!["));
    for (const char *p = md; (p = strchr(p, '&')) != NULL; p++)
        assert_true(!strncmp(p, "&amp;", 5) || !strncmp(p, "&lt;", 4) || !strncmp(p, "&gt;", 4));
    int lines = 0;
    const char *section = "";
    for (const char *l = md; *l;) {
        const char *nl = strchr(l, '\n');
        assert_non_null(nl); /* every line ends in \n */
        size_t n = (size_t)(nl - l);
        char *line = strndup(l, n);
        assert_non_null(line);
        if (lines == 0) {
            assert_true(!strncmp(line, "# ", 2));
        } else if (line[0] == '#') {
            static const char *const ours[] = {"## Participantes", "## Sumário", "## Transcrição",
                                               "## Participants", "## Contents", "## Transcript"};
            section = NULL;
            for (size_t i = 0; i < sizeof ours / sizeof *ours; i++)
                if (!strcmp(line, ours[i]))
                    section = ours[i];
            assert_non_null(section);
        } else if (n == 0) {
        } else if (!strncmp(line, "- ", 2)) {
            assert_true(!strncmp(line, "- **", 4) || strstr(section, "Particip"));
            assert_false(line[2] == '-' || line[2] == '+' || line[2] == '=' || line[2] == '#');
            size_t d = strspn(line + 2, "0123456789");
            assert_false(d > 0 && (line[2 + d] == '.' || line[2 + d] == ')'));
        } else if (line[0] == '*' && line[1] != '*') {
            assert_true(strstr(section, "Transcri") && line[n - 1] == '*'); /* no-speech note */
        } else {
            assert_true(!strncmp(line, "**[", 3)); /* a paragraph */
            assert_non_null(strstr(section, "Transcri"));
        }
        char *body = strstr(line, ":** ");
        body = body ? body + 4 : strstr(line, "]** ") ? strstr(line, "]** ") + 4 : line + 2;
        if (n > 2 && !(line[0] == '*' && line[1] != '*')) {
            const char specials[] = "`*_[]|~#$";
            for (const char *c = specials; *c; c++) {
                if (unescaped(body, *c))
                    print_message("unescaped '%c' in line: %s\n", *c, line);
                assert_int_equal(unescaped(body, *c), 0);
            }
        }
        free(line);
        lines++;
        l = nl + 1;
    }
}

/* Copies line number `k` (0-based) of text that starts with prefix into buf. */
static const char *line_starting(const char *text, const char *prefix, char *buf, size_t len)
{
    size_t pl = strlen(prefix);
    for (const char *l = text; l && *l;) {
        const char *nl = strchr(l, '\n');
        size_t n = nl ? (size_t)(nl - l) : strlen(l);
        if (n >= pl && strncmp(l, prefix, pl) == 0) {
            snprintf(buf, len, "%.*s", (int)n, l);
            return buf;
        }
        l = nl ? nl + 1 : NULL;
    }
    return NULL;
}

static void test_hostile_text_cannot_inject(void **state)
{
    (void)state;
    const rpt_segment segs[] = {
        SEG(0, 100, "# Heading\n## Another"),
        SEG(100, 200, "<script>alert(1)</script> <img src=x onerror=y>"),
        SEG(200, 300, "[x](y) ![img](http://e/x.png) <http://auto.link>"),
        SEG(300, 400, "| a | b |\n|---|---|\n| 1 | 2 |"),
        SEG(400, 500, "`code` ```fence``` *em* **strong** _u_ ~~del~~ $x$"),
        SEG(500, 600, "&amp; &lt; &#65; \\ backslash"),
        SEG(600, 700, "line\n- list item\n> quote\n1. ordered\n    indented code\r\n===\n"),
        SEG(700, 800, "broken \xC3 and \xE2\x82 and overlong \xC0\xAF and \xED\xA0\x80 end\xFF"),
    };
    rpt_meta meta = {
        .title = "# Evil\n# title <b>bold</b> [l](u)",
        .date = "2026-11-29\n## injected",
        .participants = "- Ana, 1. Bruno, > Carla, <i>Dora</i>, [Eva](x)",
        .model = "ggml-base.bin | `x`",
        .source_name = "a\nb.mp4",
        .container = "mp4<",
        .codec = "aac*",
        .processing_s = 1.5,
    };
    char *md = render_md(segs, sizeof segs / sizeof *segs, &meta, 8);

    assert_safe_markdown(md);
    for (const char *p = md; (p = strstr(p, "](")) != NULL; p++)
        assert_true(p > md && p[-1] == '\\'); /* only the escaped form "\\](" */
    assert_non_null(strstr(md, "&lt;script&gt;"));
    assert_non_null(strstr(md, "&amp;amp;"));
    /* the text is all there, on one paragraph line, with broken bytes replaced */
    char buf[2048];
    assert_non_null(line_starting(md, "**[00:00:00]**", buf, sizeof buf));
    assert_non_null(strstr(buf, "\\# Heading \\#\\# Another"));
    assert_non_null(strstr(buf, "line - list item &gt; quote 1. ordered indented code ==="));
    assert_non_null(strstr(buf, "broken \xEF\xBF\xBD and \xEF\xBF\xBD and overlong "
                                "\xEF\xBF\xBD\xEF\xBF\xBD and"));
    assert_non_null(strstr(buf, "\\| a \\| b \\|"));
    assert_non_null(strstr(md, "# \\# Evil \\# title &lt;b&gt;bold&lt;/b&gt; \\[l\\](u)\n"));
    assert_non_null(strstr(md, "- **Data:** 2026-11-29 \\#\\# injected\n"));
    assert_non_null(strstr(md, "- \\- Ana\n- 1\\. Bruno\n- &gt; Carla\n"));
    assert_non_null(strstr(md, "- **Arquivo de origem:** a b.mp4 (mp4&lt;, aac\\*)\n"));
    free(md);
}

/* Random hostile bytes (fixed seed: reproducible) through every field. */
static uint32_t lcg(uint32_t *st)
{
    *st = *st * 1664525u + 1013904223u;
    return *st >> 8;
}

static void random_text(uint32_t *st, char *buf, size_t cap)
{
    static const char alphabet[] = "#<>[]()!|`*_~&\\-+=.:1 9\n\r\taZ$\"'";
    size_t n = lcg(st) % (cap - 1);
    for (size_t i = 0; i < n; i++) {
        uint32_t r = lcg(st) % 8;
        if (r < 5)
            buf[i] = alphabet[lcg(st) % (sizeof alphabet - 1)];
        else if (r == 5)
            buf[i] = (char)(0x80 + lcg(st) % 0x80); /* stray or partial UTF-8 */
        else
            buf[i] = "ação "[lcg(st) % 6];
    }
    buf[n] = '\0';
}

static void test_random_hostile_text(void **state)
{
    (void)state;
    uint32_t st = 20261129;
    for (int iter = 0; iter < 400; iter++) {
        char texts[6][96];
        rpt_segment segs[5];
        size_t n = lcg(&st) % 6;
        for (size_t i = 0; i < n; i++) {
            random_text(&st, texts[i], sizeof texts[i]);
            int64_t t0 = (int64_t)(i * 30000 + lcg(&st) % 500);
            segs[i] = (rpt_segment)SEG(t0, t0 + 300, texts[i]);
        }
        char meta_t[5][96];
        for (int i = 0; i < 5; i++)
            random_text(&st, meta_t[i], sizeof meta_t[i]);
        rpt_meta meta = {.title = meta_t[0], .date = meta_t[1], .participants = meta_t[2],
                         .model = meta_t[3], .source_name = meta_t[4], .processing_s = 1,
                         .locale = iter & 1 ? RPT_LOCALE_EN : RPT_LOCALE_PT_BR};
        char *md = render_md(segs, n, &meta, n > 3 ? 1200 : 60);
        assert_safe_markdown(md);
        free(md);
    }
}

/* ---- a real CommonMark/GFM renderer as the oracle (cmark-gfm, Debian cmark-gfm) ---- */

/* Runs cmark-gfm (tables, strikethrough, tagfilter) on md; returns malloc'd HTML. */
static char *cmark_html(const char *md)
{
    char path[] = "/tmp/mdc-report-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(md, 1, strlen(md), f), strlen(md));
    fclose(f);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "cmark-gfm -e table -e strikethrough -e tagfilter %s", path);
    FILE *pp = popen(cmd, "r");
    assert_non_null(pp);
    size_t cap = strlen(md) * 4 + 4096, n = 0;
    char *html = malloc(cap);
    assert_non_null(html);
    size_t k;
    while ((k = fread(html + n, 1, cap - 1 - n, pp)) > 0)
        n += k;
    html[n] = '\0';
    assert_int_equal(pclose(pp), 0);
    unlink(path);
    return html;
}

/* The HTML cmark writes for literal text: & < > " escaped. */
static char *html_text(const char *s)
{
    char *out = malloc(strlen(s) * 6 + 1), *o = out;
    assert_non_null(out);
    for (; *s; s++) {
        const char *rep = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;"
                        : *s == '"' ? "&quot;" : NULL;
        if (rep) {
            memcpy(o, rep, strlen(rep));
            o += strlen(rep);
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return out;
}

/* Renders one segment as Markdown and checks that cmark-gfm turns its paragraph back
 * into exactly the cleaned text (the TEXT format) as literal characters. */
static void check_literal_roundtrip(const char *raw)
{
    const rpt_segment seg[] = {SEG(0, 100, raw)};
    rpt_transcript tr = {.segments = seg, .n_segments = 1, .language = "pt"};
    char *txt;
    assert_int_equal(rpt_render(RPT_FORMAT_TEXT, &tr, NULL, &txt, NULL), 0);
    size_t tl = strlen(txt);
    if (tl == 0) {
        free(txt);
        return; /* blank: no paragraph */
    }
    txt[tl - 1] = '\0'; /* drop the final newline */
    char *md = render_md(seg, 1, NULL, 1);
    char *html = cmark_html(md);
    char *want_text = html_text(txt);
    size_t wl = strlen(want_text) + 64;
    char *want = malloc(wl);
    assert_non_null(want);
    snprintf(want, wl, "<p><strong>[00:00:00]</strong> %s</p>\n", want_text);
    if (!strstr(html, want))
        print_message("input  %s\nmd     %s\nhtml   %s\nwanted %s\n", raw, md, html, want);
    assert_non_null(strstr(html, want));
    /* and nothing else became markup: exactly our blocks and inline tags */
    static const char *const banned[] = {"<a ", "<img", "<code", "<pre", "<table", "<del",
                                         "<blockquote", "<ol", "<h3", "<hr", "<em>", "<br",
                                         "<script", "<b>", "<i>"};
    for (size_t i = 0; i < sizeof banned / sizeof *banned; i++)
        assert_null(strstr(html, banned[i]));
    assert_int_equal(count(html, "<h1>"), 1);
    assert_int_equal(count(html, "<h2>"), 1);
    assert_int_equal(count(html, "<p>"), 1);
    assert_int_equal(count(html, "<strong>"), 3); /* Duração, Idioma + the timestamp */
    free(want);
    free(want_text);
    free(html);
    free(md);
    free(txt);
}

static void test_commonmark_renders_text_literally(void **state)
{
    (void)state;
    if (system("command -v cmark-gfm >/dev/null 2>&1") != 0) {
        print_message("SKIP: cmark-gfm not installed (Debian package cmark-gfm)\n");
        skip();
    }
    static const char *const hostile[] = {
        "# Heading", "## h2 ##", "<script>alert(1)</script>", "<img src=x onerror=y>",
        "[x](y)", "![img](http://e/x.png)", "<http://auto.link>", "[ref]: http://x",
        "| a | b |\n|---|---|\n| 1 | 2 |", "`code`", "```fence```", "~~~tilde", "*em*",
        "**strong**", "_u_", "__uu__", "~~del~~", "&amp; &lt; &#65; &copy;", "\\ back\\",
        "line\n- list\n> quote\n1. ordered\n    code", "- item", "+ item", "* item",
        "1. one", "2) two", "> quote", "===", "---", "***", "<!-- c -->", "<div>x</div>",
        "a  \nb", "end\\", "x\\\ny", "snake_case_name", "a_b _c_ d_", "3 * 4 = 12",
        "10 > 9 < 11", "\"quoted\" 'single'", "$x$ $$y$$", "ação à às reunião",
        "broken \xC3 and \xE2\x82 end\xFF",
    };
    for (size_t i = 0; i < sizeof hostile / sizeof *hostile; i++)
        check_literal_roundtrip(hostile[i]);
    uint32_t st = 777;
    for (int i = 0; i < 60; i++) {
        char t[96];
        random_text(&st, t, sizeof t);
        check_literal_roundtrip(t);
    }

    /* metadata: the title is one literal <h1>, each participant one literal <li> */
    const rpt_segment seg[] = {SEG(0, 100, "ok")};
    rpt_meta meta = {.title = "# Evil\n# title <b>bold</b> [l](u) *x*",
                     .participants = "- Ana, 1. Bruno, > Carla, <i>Dora</i>, [Eva](x), `c`",
                     .model = "m_1 | *y*", .date = "## 29/11", .processing_s = -1};
    char *md = render_md(seg, 1, &meta, 1);
    char *html = cmark_html(md);
    const char *want[] = {
        "<h1># Evil # title &lt;b&gt;bold&lt;/b&gt; [l](u) *x*</h1>\n",
        "<li><strong>Data:</strong> ## 29/11</li>\n",
        "<li><strong>Modelo:</strong> m_1 | *y*</li>\n",
        "<ul>\n<li>- Ana</li>\n<li>1. Bruno</li>\n<li>&gt; Carla</li>\n"
        "<li>&lt;i&gt;Dora&lt;/i&gt;</li>\n<li>[Eva](x)</li>\n<li>`c`</li>\n</ul>\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        if (!strstr(html, want[i]))
            print_message("md:\n%s\nhtml:\n%s\nwanted: %s\n", md, html, want[i]);
        assert_non_null(strstr(html, want[i]));
    }
    assert_int_equal(count(html, "<h1>"), 1);
    assert_int_equal(count(html, "<h2>"), 2);
    assert_int_equal(count(html, "<ul>"), 2);
    assert_null(strstr(html, "<ol"));
    assert_null(strstr(html, "<a "));
    assert_null(strstr(html, "<code"));
    assert_null(strstr(html, "<em>"));
    assert_null(strstr(html, "<table"));
    free(html);
    free(md);
}

static void test_headings_pt_br_and_en(void **state)
{
    (void)state;
    const rpt_segment segs[] = {SEG(0, 300, " Bom dia.")};
    rpt_meta pt = {.date = "29/11/2026", .participants = "Ana, Bruno", .model = "ggml-v3_turbo",
                   .source_name = "reuniao_01 _final_.mp4",
                   .processing_s = 12.34, .locale = RPT_LOCALE_PT_BR};
    char *md = render_md(segs, 1, &pt, 75.5);
    const char *want_pt[] = {
        "# Relatório da reunião\n", "- **Data:** 29/11/2026\n", "- **Duração:** 00:01:15\n",
        "- **Idioma:** Português (pt; probabilidade 97%)\n", "- **Modelo:** ggml-v3_turbo\n",
        "- **Arquivo de origem:** reuniao_01 \\_final\\_.mp4\n",
        "- **Tempo de processamento:** 12,3 s\n", "## Participantes\n\n- Ana\n- Bruno\n",
        "## Transcrição\n\n**[00:00:00]** Bom dia.\n",
    };
    for (size_t i = 0; i < sizeof want_pt / sizeof *want_pt; i++) {
        if (!strstr(md, want_pt[i]))
            print_message("missing %s in:\n%s\n", want_pt[i], md);
        assert_non_null(strstr(md, want_pt[i]));
    }
    assert_true(strncmp(md, "# Relatório da reunião\n", 23) == 0);
    free(md);

    rpt_meta en = pt;
    en.locale = RPT_LOCALE_EN;
    en.title = "Weekly sync";
    md = render_md(segs, 1, &en, 75.5);
    const char *want_en[] = {
        "# Weekly sync\n", "- **Date:** 29/11/2026\n", "- **Duration:** 00:01:15\n",
        "- **Language:** Portuguese (pt; probability 97%)\n", "- **Model:** ggml-v3_turbo\n",
        "- **Processing time:** 12.3 s\n", "## Participants\n\n- Ana\n- Bruno\n",
        "## Transcript\n\n**[00:00:00]** Bom dia.\n",
    };
    for (size_t i = 0; i < sizeof want_en / sizeof *want_en; i++)
        assert_non_null(strstr(md, want_en[i]));
    assert_null(strstr(md, "Transcrição"));
    free(md);

    /* fields with nothing printable count as absent */
    rpt_meta blank = {.title = " \x01\t", .participants = " , ,\x02", .model = "\xC2\x85",
                      .processing_s = -1};
    md = render_md(segs, 1, &blank, 3);
    assert_true(strncmp(md, "# Relatório da reunião\n", 23) == 0);
    assert_null(strstr(md, "Participantes"));
    assert_null(strstr(md, "Modelo"));
    free(md);

    /* defaults: NULL meta is pt-BR without optional lines */
    md = render_md(segs, 1, NULL, 3);
    assert_true(strncmp(md, "# Relatório da reunião\n", 23) == 0);
    assert_null(strstr(md, "Participantes"));
    assert_null(strstr(md, "Tempo de processamento"));
    free(md);
}

static void test_language_line_variants(void **state)
{
    (void)state;
    const rpt_segment segs[] = {SEG(0, 100, "Hi.")};
    rpt_transcript tr = {.segments = segs, .n_segments = 1, .language = "xx",
                         .language_prob = -1};
    rpt_meta en = {.locale = RPT_LOCALE_EN, .processing_s = -1};
    char *out;
    assert_int_equal(rpt_render(RPT_FORMAT_MARKDOWN, &tr, &en, &out, NULL), 0);
    assert_non_null(strstr(out, "- **Language:** xx\n"));
    free(out);
    tr.language = NULL;
    assert_int_equal(rpt_render(RPT_FORMAT_MARKDOWN, &tr, &en, &out, NULL), 0);
    assert_non_null(strstr(out, "- **Language:** unknown\n"));
    free(out);
    tr.language = "EN";
    tr.language_prob = 0.5;
    assert_int_equal(rpt_render(RPT_FORMAT_MARKDOWN, &tr, NULL, &out, NULL), 0);
    assert_non_null(strstr(out, "- **Idioma:** Inglês (EN; probabilidade 50%)\n"));
    free(out);
    assert_string_equal(rpt_language_name("pt", RPT_LOCALE_PT_BR), "Português");
    assert_string_equal(rpt_language_name("pt-BR", RPT_LOCALE_EN), "Portuguese");
    assert_string_equal(rpt_language_name("ES", RPT_LOCALE_PT_BR), "Espanhol");
    assert_string_equal(rpt_language_name("ja", RPT_LOCALE_EN), "Japanese");
    assert_null(rpt_language_name("xx", RPT_LOCALE_EN));
    assert_null(rpt_language_name("por", RPT_LOCALE_EN));
    assert_null(rpt_language_name(NULL, RPT_LOCALE_EN));
}

static void test_timestamps(void **state)
{
    (void)state;
    const rpt_segment segs[] = {
        SEG(0, 50, "zero"), SEG(5999, 6100, "fifty-nine"), SEG(366100, 366200, "hour"),
        SEG(36000000, 36000100, "hundred hours"),
    };
    char *md = render_md(segs, 4, NULL, 0);
    assert_non_null(strstr(md, "**[00:00:00]** zero\n"));
    assert_non_null(strstr(md, "**[00:00:59]** fifty-nine\n"));
    assert_non_null(strstr(md, "**[01:01:01]** hour\n"));
    assert_non_null(strstr(md, "**[100:00:00]** hundred hours\n"));
    /* duration unknown → the end of the last segment */
    assert_non_null(strstr(md, "- **Duração:** 100:00:01\n"));
    free(md);
}

static void test_paragraphs_merge_at_pauses(void **state)
{
    (void)state;
    const rpt_segment segs[] = {
        SEG(0, 200, " Primeira frase."), SEG(250, 400, " Segunda frase."),   /* gap 0.5 s */
        SEG(400, 500, "   "),                                             /* empty: skipped */
        SEG(700, 900, " Depois da pausa."),                               /* gap 3 s */
        SEG(1090, 1200, " Quase pausa."),                                 /* gap 1.9 s */
    };
    char *md = render_md(segs, 5, NULL, 12);
    assert_non_null(strstr(md, "**[00:00:00]** Primeira frase. Segunda frase.\n\n"
                               "**[00:00:07]** Depois da pausa. Quase pausa.\n"));
    assert_int_equal(count(md, "**["), 2);
    free(md);

    /* 40 back-to-back 3 s segments: paragraphs close once they span 60 s */
    rpt_segment many[40];
    for (int i = 0; i < 40; i++)
        many[i] = (rpt_segment)SEG(i * 300, i * 300 + 300, "fala contínua.");
    md = render_md(many, 40, NULL, 120);
    assert_int_equal(count(md, "**["), 2);
    assert_non_null(strstr(md, "**[00:00:00]** fala"));
    assert_non_null(strstr(md, "**[00:01:00]** fala"));
    assert_int_equal(count(md, "fala contínua."), 40);
    free(md);
}

static void test_toc_only_for_long_meetings(void **state)
{
    (void)state;
    /* one paragraph a minute (3 s pause between them) */
    rpt_segment segs[30];
    char texts[30][32];
    for (int i = 0; i < 30; i++) {
        snprintf(texts[i], sizeof texts[i], "Minuto %d.", i);
        segs[i] = (rpt_segment)SEG(i * 6000, i * 6000 + 5700, texts[i]);
    }
    char *md = render_md(segs, 9, NULL, 9 * 60);
    assert_null(strstr(md, "## Sumário"));
    free(md);

    md = render_md(segs, 30, NULL, 30 * 60);
    assert_non_null(strstr(md, "## Sumário"));
    const char *toc = strstr(md, "## Sumário"), *body = strstr(md, "## Transcrição");
    assert_true(toc < body);
    const char *want[] = {"- **[00:00:00]** Minuto 0.\n", "- **[00:05:00]** Minuto 5.\n",
                          "- **[00:10:00]** Minuto 10.\n", "- **[00:25:00]** Minuto 25.\n"};
    for (size_t i = 0; i < 4; i++) {
        const char *p = strstr(md, want[i]);
        assert_true(p && p < body);
    }
    int entries = 0;
    for (const char *p = toc; (p = strstr(p, "\n- **[")) != NULL && p < body; p++)
        entries++;
    assert_int_equal(entries, 6);
    assert_int_equal(count(body, "**["), 30);
    free(md);

    /* en heading */
    rpt_meta en = {.locale = RPT_LOCALE_EN, .processing_s = -1};
    md = render_md(segs, 30, &en, 30 * 60);
    assert_non_null(strstr(md, "## Contents"));
    free(md);
}

static void test_no_speech_note(void **state)
{
    (void)state;
    char *md = render_md(NULL, 0, NULL, 42);
    assert_non_null(strstr(md, "## Transcrição\n\n*Nenhuma fala detectada na gravação.*\n"));
    assert_non_null(strstr(md, "- **Duração:** 00:00:42\n"));
    free(md);
    const rpt_segment blank[] = {SEG(0, 100, " "), SEG(100, 200, "\n\t"), SEG(200, 300, NULL)};
    rpt_meta en = {.locale = RPT_LOCALE_EN, .processing_s = -1};
    md = render_md(blank, 3, &en, 3);
    assert_non_null(strstr(md, "*No speech detected in the recording.*"));
    assert_int_equal(count(md, "**["), 0);
    free(md);
}

/* With voice-activity detection the report says how much speech was kept, and when none
 * was found it says so in both locales (the decoder did not run). */
static void test_vad_no_speech_and_speech_time(void **state)
{
    (void)state;
    rpt_transcript tr = {.duration_s = 600, .vad_used = true, .speech_s = 0, .language_prob = -1};
    rpt_meta pt = {.locale = RPT_LOCALE_PT_BR, .processing_s = -1};
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(rpt_render(RPT_FORMAT_MARKDOWN, &tr, &pt, &out, &len), 0);
    assert_non_null(strstr(out, "- **Fala detectada:** 00:00:00 (detecção de atividade de voz)\n"));
    assert_non_null(strstr(out, "## Transcrição\n\n*Nenhuma fala detectada. O detector"));
    free(out);
    rpt_meta en = {.locale = RPT_LOCALE_EN, .processing_s = -1};
    assert_int_equal(rpt_render(RPT_FORMAT_MARKDOWN, &tr, &en, &out, &len), 0);
    assert_non_null(strstr(out, "*No speech detected. The voice-activity detector found no speech"));
    free(out);
    const rpt_segment segs[] = {SEG(6199, 6621, "Hello there.")};
    tr.segments = segs;
    tr.n_segments = 1;
    tr.speech_s = 42.2;
    assert_int_equal(rpt_render(RPT_FORMAT_MARKDOWN, &tr, &en, &out, &len), 0);
    assert_non_null(strstr(out, "- **Speech detected:** 00:00:42 (voice-activity detection)\n"));
    assert_null(strstr(out, "No speech"));
    assert_non_null(strstr(out, "**[00:01:01]** Hello there."));
    free(out);
    /* without VAD: no speech row, the old sentence */
    tr.vad_used = false;
    tr.n_segments = 0;
    assert_int_equal(rpt_render(RPT_FORMAT_MARKDOWN, &tr, &en, &out, &len), 0);
    assert_null(strstr(out, "Speech detected"));
    assert_non_null(strstr(out, "*No speech detected in the recording.*"));
    free(out);
}

static void test_portuguese_words_byte_identical(void **state)
{
    (void)state;
    static const char *const words =
        "Na reunião de hoje, a ação principal foi revisar as decisões; a próxima será às "
        "14h, com atenção à migração e à função de exportação. Ótimo, pessoal.";
    const rpt_segment segs[] = {SEG(0, 900, words)};
    char *md = render_md(segs, 1, NULL, 9);
    assert_non_null(strstr(md, words));
    free(md);
    for (rpt_format f = RPT_FORMAT_TEXT; f <= RPT_FORMAT_VERBOSE_JSON; f++) {
        rpt_transcript tr = {.segments = segs, .n_segments = 1, .language = "pt"};
        char *out;
        assert_int_equal(rpt_render(f, &tr, NULL, &out, NULL), 0);
        if (!strstr(out, words))
            print_message("format %d lost the words:\n%s\n", (int)f, out);
        assert_non_null(strstr(out, words));
        free(out);
    }
}

static void test_parse_helpers(void **state)
{
    (void)state;
    rpt_format f;
    assert_int_equal(rpt_format_parse("md", &f), 0);
    assert_int_equal(f, RPT_FORMAT_MARKDOWN);
    assert_int_equal(rpt_format_parse("VERBOSE_JSON", &f), 0);
    assert_int_equal(f, RPT_FORMAT_VERBOSE_JSON);
    assert_int_equal(rpt_format_parse("txt", &f), 0);
    assert_int_equal(f, RPT_FORMAT_TEXT);
    assert_int_equal(rpt_format_parse("docx", &f), -1);
    assert_int_equal(rpt_format_parse(NULL, &f), -1);
    rpt_locale l;
    assert_int_equal(rpt_locale_parse("pt-br", &l), 0);
    assert_int_equal(l, RPT_LOCALE_PT_BR);
    assert_int_equal(rpt_locale_parse("EN", &l), 0);
    assert_int_equal(l, RPT_LOCALE_EN);
    assert_int_equal(rpt_locale_parse("fr", &l), -1);
    assert_string_equal(rpt_locale_name(RPT_LOCALE_PT_BR), "pt-BR");
    assert_string_equal(rpt_locale_name(RPT_LOCALE_EN), "en");
    assert_null(rpt_locale_name((rpt_locale)7));
    for (int k = RPT_LOCALE_PT_BR; k <= RPT_LOCALE_EN; k++) { /* the name parses back */
        assert_int_equal(rpt_locale_parse(rpt_locale_name((rpt_locale)k), &l), 0);
        assert_int_equal(l, k);
    }
    assert_string_equal(rpt_format_mime(RPT_FORMAT_MARKDOWN), "text/markdown; charset=utf-8");
    assert_string_equal(rpt_format_mime(RPT_FORMAT_VERBOSE_JSON), "application/json");
    char *out = (char *)1;
    assert_int_equal(rpt_render(RPT_FORMAT_MARKDOWN, NULL, NULL, &out, NULL), -1);
    assert_null(out);
    rpt_transcript bad = {.segments = NULL, .n_segments = 2};
    assert_int_equal(rpt_render(RPT_FORMAT_SRT, &bad, NULL, &out, NULL), -1);
    assert_int_equal(rpt_render((rpt_format)99, &bad, NULL, &out, NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_text_cannot_inject),
        cmocka_unit_test(test_random_hostile_text),
        cmocka_unit_test(test_commonmark_renders_text_literally),
        cmocka_unit_test(test_headings_pt_br_and_en),
        cmocka_unit_test(test_language_line_variants),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_paragraphs_merge_at_pauses),
        cmocka_unit_test(test_toc_only_for_long_meetings),
        cmocka_unit_test(test_no_speech_note),
        cmocka_unit_test(test_vad_no_speech_and_speech_time),
        cmocka_unit_test(test_portuguese_words_byte_identical),
        cmocka_unit_test(test_parse_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
