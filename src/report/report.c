/* report.c — public entry points of the report module (see include/mdc/report.h). */
#include "report_internal.h"

#include "mdc/utf8.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    rpt_format fmt;
} k_formats[] = {
    {"md", RPT_FORMAT_MARKDOWN},   {"markdown", RPT_FORMAT_MARKDOWN},
    {"txt", RPT_FORMAT_TEXT},      {"text", RPT_FORMAT_TEXT},
    {"srt", RPT_FORMAT_SRT},       {"vtt", RPT_FORMAT_VTT},
    {"json", RPT_FORMAT_JSON},     {"verbose_json", RPT_FORMAT_VERBOSE_JSON},
    {"diarized_json", RPT_FORMAT_DIARIZED_JSON},
};

int rpt_format_parse(const char *s, rpt_format *out)
{
    for (size_t i = 0; s && i < sizeof k_formats / sizeof *k_formats; i++) {
        if (strcasecmp(s, k_formats[i].name) == 0) {
            *out = k_formats[i].fmt;
            return 0;
        }
    }
    return -1;
}

int rpt_locale_parse(const char *s, rpt_locale *out)
{
    if (!s)
        return -1;
    if (!strcasecmp(s, "pt-BR") || !strcasecmp(s, "pt_BR") || !strcasecmp(s, "pt")) {
        *out = RPT_LOCALE_PT_BR;
        return 0;
    }
    if (!strcasecmp(s, "en") || !strcasecmp(s, "en-US") || !strcasecmp(s, "en_US")) {
        *out = RPT_LOCALE_EN;
        return 0;
    }
    return -1;
}

const char *rpt_locale_name(rpt_locale loc)
{
    switch (loc) {
    case RPT_LOCALE_PT_BR: return "pt-BR";
    case RPT_LOCALE_EN: return "en";
    }
    return NULL;
}

const char *rpt_format_mime(rpt_format fmt)
{
    switch (fmt) {
    case RPT_FORMAT_MARKDOWN: return "text/markdown; charset=utf-8";
    case RPT_FORMAT_TEXT: return "text/plain; charset=utf-8";
    case RPT_FORMAT_SRT: return "application/x-subrip; charset=utf-8";
    case RPT_FORMAT_VTT: return "text/vtt; charset=utf-8";
    case RPT_FORMAT_JSON:
    case RPT_FORMAT_VERBOSE_JSON:
    case RPT_FORMAT_DIARIZED_JSON: return "application/json";
    }
    return "application/octet-stream";
}

int rpt_render(rpt_format fmt, const rpt_transcript *tr, const rpt_meta *meta, char **out,
               size_t *out_len)
{
    if (!out) {
        errno = EINVAL;
        return -1;
    }
    *out = NULL;
    if (!tr || (tr->n_segments && !tr->segments)) {
        errno = EINVAL;
        return -1;
    }
    const rpt_meta defaults = {.processing_s = -1, .locale = RPT_LOCALE_PT_BR};
    mdc_buf b = {0};
    int rc;
    switch (fmt) {
    case RPT_FORMAT_MARKDOWN: rc = rpt__render_markdown(tr, meta ? meta : &defaults, &b); break;
    case RPT_FORMAT_TEXT: rc = rpt__render_text(tr, &b); break;
    case RPT_FORMAT_SRT: rc = rpt__render_srt(tr, &b); break;
    case RPT_FORMAT_VTT: rc = rpt__render_vtt(tr, &b); break;
    case RPT_FORMAT_JSON: rc = rpt__render_json(tr, 0, &b); break;
    case RPT_FORMAT_VERBOSE_JSON: rc = rpt__render_json(tr, 1, &b); break;
    case RPT_FORMAT_DIARIZED_JSON: rc = rpt__render_json(tr, 2, &b); break;
    default: errno = EINVAL; return -1;
    }
    mdc_buf_puts(&b, ""); /* an empty result is still a valid string */
    if (rc || b.oom) {
        free(b.p);
        errno = ENOMEM;
        return -1;
    }
    *out = b.p;
    if (out_len)
        *out_len = b.len;
    return 0;
}
