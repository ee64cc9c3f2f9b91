/*
 * words.c — see words.h.  ref: whisper.cpp whisper_wrap_segment (max_len with
 * split_on_word) for the joining rule.
 */
#include "words.h"

#include <stdlib.h>
#include <string.h>

#include "mdc/utf8.h"

void trw_free(trw_words *w)
{
    if (!w)
        return;
    free(w->words);
    free(w->pool);
    free(w->first);
    memset(w, 0, sizeof *w);
}

static int64_t clamp(int64_t t, int64_t lo, int64_t hi) { return t < lo ? lo : (t > hi ? hi : t); }

/* DTW: the t_dtw of the first text token after token k of segment i, in the same 30 s
 * window (seek); -1 when there is none (the window's last word). */
static int64_t next_dtw(const wsp_result *r, int i, int k, int32_t eot)
{
    const int seek = r->segments[i].seek;
    for (; i < r->n_segments && r->segments[i].seek == seek; i++, k = -1)
        for (int j = k + 1; j < r->segments[i].n_tokens; j++)
            if (r->segments[i].tokens[j].id < eot)
                return r->segments[i].tokens[j].t_dtw;
    return -1;
}

int trw_words_build(const wsp_model *model, const wsp_result *r, int64_t end_cs, bool dtw,
                    trw_words *out)
{
    memset(out, 0, sizeof *out);
    const int32_t eot = wsp_token_eot(model);
    size_t n_tok = 0, bytes = 0;
    for (int i = 0; i < r->n_segments; i++)
        for (int k = 0; k < r->segments[i].n_tokens; k++) {
            const int32_t id = r->segments[i].tokens[k].id;
            if (id < eot) {
                n_tok++;
                bytes += strlen(wsp_token_text(model, id));
            }
        }
    /* each word is at most its bytes repaired (U+FFFD is 3 bytes for 1) + NUL */
    out->words = calloc(n_tok ? n_tok : 1, sizeof *out->words);
    out->pool = malloc(3 * bytes + n_tok + 1);
    out->first = calloc((size_t)r->n_segments + 1, sizeof *out->first);
    char *raw = malloc(bytes + 1);
    if (!out->words || !out->pool || !out->first || !raw) {
        free(raw);
        trw_free(out);
        return -1;
    }
    size_t pos = 0;
    int64_t last_t0 = 0;
    for (int i = 0; i < r->n_segments; i++) {
        const wsp_segment *s = &r->segments[i];
        out->first[i] = (int)out->n;
        int k = 0;
        while (k < s->n_tokens) {
            if (s->tokens[k].id >= eot) {
                k++;
                continue;
            }
            /* one word: this token, then following text tokens not starting with ' ' */
            size_t rl = 0;
            const int k0 = k;
            int kl = k;
            for (; k < s->n_tokens; k++) {
                const int32_t id = s->tokens[k].id;
                if (id >= eot)
                    continue;
                const char *t = wsp_token_text(model, id);
                if (k > k0 && t[0] == ' ')
                    break;
                const size_t l = strlen(t);
                memcpy(raw + rl, t, l);
                rl += l;
                kl = k;
            }
            size_t cl = 0;
            char *clean = mdc_utf8_sanitize(raw, rl, MDC_UTF8_DROP_NUL, &cl);
            if (!clean) {
                free(raw);
                trw_free(out);
                return -1;
            }
            memcpy(out->pool + pos, clean, cl + 1);
            free(clean);
            rpt_word *w = &out->words[out->n++];
            w->text = out->pool + pos;
            pos += cl + 1;
            int64_t t0, t1;
            if (dtw) {
                const int64_t nx = next_dtw(r, i, kl, eot);
                t0 = s->tokens[k0].t_dtw >= 0 ? s->tokens[k0].t_dtw : s->t0;
                t1 = nx >= 0 ? nx : s->t1;
            } else {
                t0 = s->tokens[k0].t0 >= 0 ? s->tokens[k0].t0 : s->t0;
                t1 = s->tokens[kl].t1 >= 0 ? s->tokens[kl].t1 : s->t1;
            }
            t0 = clamp(t0, last_t0, end_cs);
            t1 = clamp(t1, t0, end_cs);
            w->t0_cs = t0;
            w->t1_cs = t1;
            last_t0 = t0;
        }
    }
    out->first[r->n_segments] = (int)out->n;
    free(raw);
    return 0;
}
