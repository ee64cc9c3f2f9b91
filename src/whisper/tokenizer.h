/*
 * tokenizer.h — Whisper token ids ↔ bytes (prefix wsp__tok / wsp__tokenizer).
 *
 * id → bytes reads the model's vocabulary (wsp__vocab: the file's base tokens plus the
 * special tokens whisper.cpp derives from n_vocab).  text → ids (initial prompts) follows
 * whisper.cpp's whisper_tokenize: a regex-like pre-split of the text into words, then a
 * greedy longest match of each word against the base vocabulary (not BPE merges).
 * ref: whisper.cpp src/whisper.cpp tokenize(), whisper_model_load() (special ids);
 *      ../shared/whisper-ref/README.md "Special token ids".
 *
 * Thread-safety: a built wsp__tokenizer is read-only and may be shared by threads.
 */
#ifndef MDC_WHISPER_TOKENIZER_H
#define MDC_WHISPER_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "whisper/engine.h"

/* Fills the special-token fields of *v (eot, sot, translate, transcribe, solm, prev,
 * nosp, notimestamps, beg, lang_first, n_langs, n_base) from n_vocab, as whisper.cpp
 * does: multilingual models (n_vocab >= 51865) have eot = 50257, sot = 50258, and the
 * ids from <|translate|> on shifted by n_langs − 98 where n_langs = n_vocab − 51766;
 * English-only models (51864) have eot = 50256 … beg = 50363 (their 99 language ids
 * between sot and translate are still suppressed, as whisper.cpp does).
 * Leaves bytes/len alone.  Returns 0, or WSP_EVOCAB when n_vocab < 51864.
 * ref: whisper.cpp whisper_model_load (token_* fields, num_languages()). */
int wsp__vocab_set_specials(wsp__vocab *v, int32_t n_vocab);

/* The name whisper.cpp gives a special id (>= n_base) — "[_EOT_]", "[_SOT_]",
 * "[_LANG_pt]", "[_TRANSCRIBE_]", "[_BEG_]", "[_TT_279]", "[_extra_token_N]" — written
 * NUL-terminated into buf (>= 32 bytes).  Returns buf.  ref: whisper.cpp
 * whisper_model_load ("adding extra tokens"). */
char *wsp__special_name(const wsp__vocab *v, int32_t id, char *buf, size_t size);

/* Bytes of token `id` (not NUL-terminated; may end inside a UTF-8 character) and their
 * count in *len.  Out-of-range ids give "" (len 0).  Valid while the vocabulary lives. */
const uint8_t *wsp__tok_bytes(const wsp__vocab *v, int32_t id, uint32_t *len);

/* True for ids that contribute text (below <|endoftext|>). */
static inline bool wsp__tok_is_text(const wsp__vocab *v, int32_t id)
{
    return id >= 0 && id < v->eot;
}

/* Lookup table bytes → id over the base tokens, built once and then read-only. */
typedef struct wsp__tokenizer wsp__tokenizer;

/* Builds the table (open addressing, ~2 × n_base slots; a few ms for 50 257 tokens).
 * On success *out owns it (free with wsp__tokenizer_free).  WSP_ENOMEM / WSP_EINVAL. */
int wsp__tokenizer_new(const wsp__vocab *v, wsp__tokenizer **out);
void wsp__tokenizer_free(wsp__tokenizer *t);

/* Id of the base token whose bytes are exactly s[0..n), or -1.  When the file holds the
 * same bytes twice the later id wins (whisper.cpp's token_to_id map). */
int32_t wsp__tokenizer_find(const wsp__tokenizer *t, const uint8_t *s, size_t n);

/* Splits `text` (NUL-terminated bytes, any encoding) into ids as whisper_tokenize does.
 * Writes up to `max` ids to out (may be NULL when max is 0) and returns the number of ids
 * the whole text needs (call again with a bigger buffer when it exceeds max), or
 * WSP_EINVAL.  Bytes that match no token (cannot happen with a byte-level vocabulary)
 * are skipped with a warning, as whisper.cpp does. */
int wsp__tokenize(const wsp__tokenizer *t, const char *text, int32_t *out, int max);

/* Builds the model-only tables of *t from v (tokenizer table, blank id, non-speech ids;
 * ref: OpenAI tokenizer.py non_speech_tokens, whisper.cpp non_speech_tokens).  0 or
 * WSP_ENOMEM (then *t is left empty).  Free with wsp__model_tables_free. */
int wsp__model_tables_build(const wsp__vocab *v, wsp__model_tables *t);
void wsp__model_tables_free(wsp__model_tables *t);

#endif
