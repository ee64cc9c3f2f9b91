/*
 * tokenizer.c — token ids ↔ bytes; whisper.cpp's prompt tokenizer.
 * ref: whisper.cpp src/whisper.cpp tokenize() and whisper_model_load();
 *      GPT-2 encoder.py pre-split pattern (the regex whisper.cpp evaluates with
 *      std::regex in the "C" locale, so only ASCII letters/digits/spaces are classed).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mdc/log.h"
#include "whisper/tokenizer.h"

/* ---- special ids ------------------------------------------------------------ */

int wsp__vocab_set_specials(wsp__vocab *v, int32_t n_vocab)
{
    if (!v || n_vocab < 51864)
        return WSP_EVOCAB;
    /* ref: whisper.cpp whisper_vocab defaults, is_multilingual() (n_vocab >= 51865),
     * num_languages() = n_vocab − 51765 − is_multilingual; the ids from translate on
     * shift by num_languages − 98 in multilingual models. */
    const int multi = n_vocab >= 51865;
    const int32_t n_langs = n_vocab - 51765 - multi;
    const int32_t dt = multi ? n_langs - 98 : 0;
    v->n_vocab = n_vocab;
    v->n_base = 50256 + multi;
    v->eot = 50256 + multi;
    v->sot = 50257 + multi;
    v->translate = 50357 + dt;
    v->transcribe = 50358 + dt;
    v->solm = 50359 + dt;
    v->prev = 50360 + dt;
    v->nosp = 50361 + dt;
    v->notimestamps = 50362 + dt;
    v->beg = 50363 + dt;
    v->lang_first = v->sot + 1;
    v->n_langs = n_langs;
    return 0;
}

char *wsp__special_name(const wsp__vocab *v, int32_t id, char *buf, size_t size)
{
    if (id > v->beg)
        snprintf(buf, size, "[_TT_%d]", (int)(id - v->beg));
    else if (id == v->eot)
        snprintf(buf, size, "[_EOT_]");
    else if (id == v->sot)
        snprintf(buf, size, "[_SOT_]");
    else if (id == v->translate)
        snprintf(buf, size, "[_TRANSLATE_]");
    else if (id == v->transcribe)
        snprintf(buf, size, "[_TRANSCRIBE_]");
    else if (id == v->solm)
        snprintf(buf, size, "[_SOLM_]");
    else if (id == v->prev)
        snprintf(buf, size, "[_PREV_]");
    else if (id == v->nosp)
        snprintf(buf, size, "[_NOSP_]");
    else if (id == v->notimestamps)
        snprintf(buf, size, "[_NOT_]");
    else if (id == v->beg)
        snprintf(buf, size, "[_BEG_]");
    else if (id >= v->lang_first && id < v->lang_first + v->n_langs && wsp_lang_code(id - v->lang_first))
        snprintf(buf, size, "[_LANG_%s]", wsp_lang_code(id - v->lang_first));
    else
        snprintf(buf, size, "[_extra_token_%d]", (int)id);
    return buf;
}

const uint8_t *wsp__tok_bytes(const wsp__vocab *v, int32_t id, uint32_t *len)
{
    if (!v || id < 0 || id >= v->n_vocab || !v->bytes || !v->bytes[id]) {
        *len = 0;
        return (const uint8_t *)"";
    }
    *len = v->len[id];
    return v->bytes[id];
}

/* ---- bytes → id table ---------------------------------------------------------- */

struct wsp__tokenizer {
    const wsp__vocab *v;
    int32_t *slots;   /* [mask + 1] token id or -1 */
    uint32_t mask;
    uint32_t max_len; /* longest base token, bounds the greedy match */
};

/* FNV-1a, 32 bit (ref: Fowler–Noll–Vo hash, offset 2166136261, prime 16777619). */
static uint32_t fnv1a(const uint8_t *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 16777619u;
    }
    return h;
}

int wsp__tokenizer_new(const wsp__vocab *v, wsp__tokenizer **out)
{
    if (!out)
        return WSP_EINVAL;
    *out = NULL;
    if (!v || !v->bytes || !v->len || v->n_base <= 0 || v->n_base > v->n_vocab)
        return WSP_EINVAL;
    wsp__tokenizer *t = calloc(1, sizeof *t);
    if (!t)
        return WSP_ENOMEM;
    uint32_t cap = 1;
    while (cap < (uint32_t)v->n_base * 2u)
        cap <<= 1;
    t->slots = malloc(sizeof *t->slots * cap);
    if (!t->slots) {
        free(t);
        return WSP_ENOMEM;
    }
    memset(t->slots, 0xff, sizeof *t->slots * cap); /* all -1 */
    t->mask = cap - 1;
    t->v = v;
    for (int32_t id = 0; id < v->n_base; id++) {
        const uint8_t *b = v->bytes[id];
        uint32_t n = v->len[id];
        if (!b || n == 0)
            continue;
        if (n > t->max_len)
            t->max_len = n;
        uint32_t h = fnv1a(b, n) & t->mask;
        for (;;) {
            int32_t cur = t->slots[h];
            if (cur < 0) {
                t->slots[h] = id;
                break;
            }
            if (v->len[cur] == n && memcmp(v->bytes[cur], b, n) == 0) {
                t->slots[h] = id; /* later id wins, as a std::map assignment */
                break;
            }
            h = (h + 1) & t->mask;
        }
    }
    *out = t;
    return 0;
}

void wsp__tokenizer_free(wsp__tokenizer *t)
{
    if (!t)
        return;
    free(t->slots);
    free(t);
}

int32_t wsp__tokenizer_find(const wsp__tokenizer *t, const uint8_t *s, size_t n)
{
    if (!t || n == 0 || n > t->max_len)
        return -1;
    const wsp__vocab *v = t->v;
    uint32_t h = fnv1a(s, n) & t->mask;
    for (;;) {
        int32_t cur = t->slots[h];
        if (cur < 0)
            return -1;
        if (v->len[cur] == n && memcmp(v->bytes[cur], s, n) == 0)
            return cur;
        h = (h + 1) & t->mask;
    }
}

/* ---- pre-split ------------------------------------------------------------------ */

/* Character classes of std::regex in the "C" locale: ASCII only. */
static bool c_alpha(uint8_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static bool c_digit(uint8_t c) { return c >= '0' && c <= '9'; }
static bool c_space(uint8_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
static bool c_other(uint8_t c) { return c != 0 && !c_alpha(c) && !c_digit(c) && !c_space(c); }

/* Length of the word starting at s[0] (s non-empty, NUL-terminated), trying the
 * alternatives of 's|'t|'re|'ve|'m|'ll|'d| ?[[:alpha:]]+| ?[[:digit:]]+|
 * ?[^\s[:alpha:][:digit:]]+|\s+(?!\S)|\s+ in order, as an ECMAScript regex does
 * (first alternative that matches wins; quantifiers greedy with backtracking).
 * ref: whisper.cpp tokenize(); GPT-2 encoder.py. */
static size_t word_len(const uint8_t *s)
{
    if (s[0] == '\'') {
        static const char *const contractions[] = {"s", "t", "re", "ve", "m", "ll", "d"};
        for (size_t k = 0; k < sizeof contractions / sizeof contractions[0]; k++) {
            size_t n = strlen(contractions[k]);
            if (strncmp((const char *)s + 1, contractions[k], n) == 0)
                return 1 + n;
        }
    }
    bool (*const classes[3])(uint8_t) = {c_alpha, c_digit, c_other};
    for (int k = 0; k < 3; k++) {
        size_t i = 0;
        if (s[0] == ' ' && classes[k](s[1]))
            i = 1;
        if (!classes[k](s[i]))
            continue;
        while (classes[k](s[i]))
            i++;
        return i;
    }
    /* whitespace run: \s+(?!\S) gives the run minus one when a non-space follows
     * (so the next word keeps its leading space); \s+ the whole run otherwise. */
    size_t run = 0;
    while (c_space(s[run]))
        run++;
    if (run == 0)
        return 1; /* unreachable for non-empty input: every byte is in some class */
    if (s[run] != 0 && run > 1)
        return run - 1;
    return run;
}

int wsp__tokenize(const wsp__tokenizer *t, const char *text, int32_t *out, int max)
{
    if (!t || !text || max < 0 || (max > 0 && !out))
        return WSP_EINVAL;
    const uint8_t *s = (const uint8_t *)text;
    int n_out = 0;
    while (*s) {
        size_t wl = word_len(s);
        /* greedy longest match inside the word (ref: whisper.cpp tokenize()) */
        size_t i = 0;
        while (i < wl) {
            size_t j = wl - i > t->max_len ? i + t->max_len : wl;
            int32_t id = -1;
            for (; j > i; j--) {
                id = wsp__tokenizer_find(t, s + i, j - i);
                if (id >= 0)
                    break;
            }
            if (id < 0) {
                MDC_LOG_WARN("unknown token at byte 0x%02x, skipped", s[i]);
                i++;
                continue;
            }
            if (n_out < max)
                out[n_out] = id;
            n_out++;
            i = j;
        }
        s += wl;
    }
    return n_out;
}

/* Non-speech tokens suppressed when suppress_non_speech_tokens is set, each also with a
 * leading space, plus " -" and " '" (ref: OpenAI tokenizer.py non_speech_tokens;
 * whisper.cpp non_speech_tokens). */
static const char *const k_non_speech[] = {
    "\"", "#", "(", ")", "*", "+", "/", ":", ";", "<", "=", ">", "@", "[", "\\", "]", "^",
    "_", "`", "{", "|", "}", "~", "「", "」", "『", "』", "<<", ">>", "<<<", ">>>", "--",
    "---", "-(", "-[", "('", "(\"", "((", "))", "(((", ")))", "[[", "]]", "{{", "}}", "♪♪",
    "♪♪♪", "♩", "♪", "♫", "♬", "♭", "♮", "♯"};

int wsp__model_tables_build(const wsp__vocab *v, wsp__model_tables *t)
{
    memset(t, 0, sizeof *t);
    t->blank_id = -1;
    int rc = wsp__tokenizer_new(v, &t->tok);
    if (rc)
        return rc;
    /* the lowest id spelled " " (a scan, as before the table existed: a vocabulary with
     * duplicates keeps the same blank id) */
    for (int32_t i = 0; i < v->n_base && t->blank_id < 0; i++)
        if (v->bytes && v->bytes[i] && v->len[i] == 1 && v->bytes[i][0] == ' ')
            t->blank_id = i;
    const int n_ns = (int)(sizeof k_non_speech / sizeof k_non_speech[0]);
    t->non_speech = malloc(sizeof(int32_t) * (size_t)(2 * n_ns + 2));
    if (!t->non_speech) {
        wsp__model_tables_free(t);
        return WSP_ENOMEM;
    }
    char buf[32];
    for (int i = 0; i < n_ns; i++) {
        int32_t id = wsp__tokenizer_find(t->tok, (const uint8_t *)k_non_speech[i],
                                         strlen(k_non_speech[i]));
        if (id >= 0)
            t->non_speech[t->n_non_speech++] = id;
        snprintf(buf, sizeof buf, " %s", k_non_speech[i]);
        id = wsp__tokenizer_find(t->tok, (const uint8_t *)buf, strlen(buf));
        if (id >= 0)
            t->non_speech[t->n_non_speech++] = id;
    }
    static const char *const extra[2] = {" -", " '"};
    for (int i = 0; i < 2; i++) {
        int32_t id = wsp__tokenizer_find(t->tok, (const uint8_t *)extra[i], 2);
        if (id >= 0)
            t->non_speech[t->n_non_speech++] = id;
    }
    return 0;
}

void wsp__model_tables_free(wsp__model_tables *t)
{
    wsp__tokenizer_free(t->tok);
    free(t->non_speech);
    memset(t, 0, sizeof *t);
    t->blank_id = -1;
}
