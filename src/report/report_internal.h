/* report_internal.h — private to the files of src/report (prefix rpt__). */
#ifndef MDC_REPORT_INTERNAL_H
#define MDC_REPORT_INTERNAL_H

#include "mdc/report.h"
#include "mdc/strbuf.h"

#include <stddef.h>
#include <stdint.h>

/* Renderers append to an mdc_buf (include/mdc/strbuf.h). */

/* Returns a malloc'd copy of s (NULL → "") as one line of valid UTF-8: invalid bytes →
 * U+FFFD, NUL dropped, control characters (C0, DEL, C1) and line breaks → space, runs of
 * spaces collapsed, leading/trailing spaces removed.  NULL on OOM. */
char *rpt__clean_line(const char *s);

/* Centiseconds → "HH:MM:SS" (sep 0), "HH:MM:SS,mmm" (sep ','), "HH:MM:SS.mmm" (sep '.').
 * Negative times clamp to 0; hours widen past 99.  buf ≥ 32 bytes.  Returns buf. */
char *rpt__timestamp(int64_t cs, char sep, char *buf, size_t len);

/* Language table: display name in the report locale, and Whisper/OpenAI's lower-case
 * English name ("portuguese").  Codes match case-insensitively and ignore a region
 * ("pt-BR" → pt).  Return NULL when the code is unknown. */
const char *rpt__lang_name(const char *code, rpt_locale loc);
const char *rpt__lang_openai_name(const char *code);

/* A unit of transcript text with one speaker: a non-blank segment, or — with speaker
 * turns (tr->turns) and word times — a run of a segment's words that fall in one turn.
 * speaker: the segment's own label without turns; with turns, the turn the span
 * overlaps most (ties: the earlier one; no overlap: the nearest turn).  text is cleaned
 * (rpt__clean_line), malloc'd and never empty. */
typedef struct rpt__unit {
    char *text;
    int64_t t0_cs, t1_cs;     /* t0 <= t1 */
    const char *speaker;      /* NULL = none */
} rpt__unit;

/* The units of tr in transcript order; *out is malloc'd (free with rpt__units_free).
 * Returns the count, or -1 on OOM (*out NULL). */
long rpt__units(const rpt_transcript *tr, rpt__unit **out);
void rpt__units_free(rpt__unit *u, size_t n);

/* A paragraph: units [first, last] merged at pauses (see markdown.c). */
typedef struct rpt__para {
    size_t first, last;
    int64_t t0_cs, t1_cs;
} rpt__para;

/* Groups units into paragraphs: a new one starts at a change of speaker, after a pause of
 * at least RPT__PAUSE_CS or once the current one spans RPT__PARA_MAX_CS.  *out is
 * malloc'd (caller frees); returns the count, or -1 on OOM. */
#define RPT__PAUSE_CS 200
#define RPT__PARA_MAX_CS 6000
long rpt__paragraphs(const rpt__unit *u, size_t n_units, rpt__para **out);

/* The whole transcript text: the cleaned segment texts joined by single spaces
 * (malloc'd; NULL on OOM). */
char *rpt__full_text(const rpt_transcript *tr);

int rpt__render_markdown(const rpt_transcript *tr, const rpt_meta *meta, mdc_buf *b);
int rpt__render_text(const rpt_transcript *tr, mdc_buf *b);
int rpt__render_srt(const rpt_transcript *tr, mdc_buf *b);
int rpt__render_vtt(const rpt_transcript *tr, mdc_buf *b);
int rpt__render_json(const rpt_transcript *tr, int verbose, mdc_buf *b);

#endif
