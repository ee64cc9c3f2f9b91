/*
 * words.h — the word part of the transcript stage: engine tokens → report words
 * (prefix trw_).  transcript.c maps their times and adds the speakers.
 */
#ifndef MDC_SERVICE_WORDS_H
#define MDC_SERVICE_WORDS_H

#include <stdbool.h>

#include "mdc/audio.h"
#include "mdc/report.h"
#include "mdc/whisper.h"

/* Words of a whole result, one block owned by the caller (trw_free). */
typedef struct trw_words {
    rpt_word *words;  /* [n] in transcript order */
    size_t n;
    char *pool;       /* NUL-terminated word texts the words point into */
    int *first;       /* [n_segments + 1]: words of segment i are [first[i], first[i+1]) */
} trw_words;

/* Joins each segment's text tokens into words as whisper.cpp's -ml 1 -sow does (a token
 * beginning with a space starts a word; other tokens — punctuation, word pieces —
 * attach to the word before; special and timestamp tokens are skipped); a word's time
 * is [t0 of its first token, t1 of its last] from token_timestamps (wsp_token t0/t1);
 * with dtw, [t_dtw of its first token, t_dtw of the next text token in the same 30 s
 * window] (whisper.cpp gives DTW a token's start only; the window's last word ends at
 * its segment's t1) — the engine must have run with a dtw_aheads_preset; then
 * clamped into [0, end_cs] and made monotonic (t0 >= the previous word's t0, t1 >= t0,
 * t1 <= the next word's t0 is not forced).  Word text is the tokens' bytes, repaired to
 * valid UTF-8.  Needs the model (token bytes), so call it before the model is released.
 * Returns 0 or -1 (out of memory; *out then empty). */
int trw_words_build(const wsp_model *model, const wsp_result *r, int64_t end_cs, bool dtw,
                    trw_words *out);
void trw_free(trw_words *w);

#endif
