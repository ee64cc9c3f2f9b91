/*
 * languages.c — Whisper's language table: id ↔ code ↔ English name.
 *
 * The id is the offset of the language token from <|en|> (id 0 = "en" = token 50259 in
 * the multilingual vocabulary).  Order and names: ref OpenAI whisper/tokenizer.py
 * LANGUAGES (same order as whisper.cpp's g_lang).  The first 99 entries exist in every
 * multilingual model; "yue" (id 99) only in large-v3 (n_vocab 51866).
 *
 * Thread-safety: read-only data, thread-safe.
 */
#include <string.h>

#include "mdc/whisper.h"

typedef struct {
    const char *code;
    const char *name;
} lang_entry;

/* [100] ids 0…99 (ref: OpenAI whisper/tokenizer.py LANGUAGES). */
static const lang_entry g_langs[] = {
    {"en", "english"}, {"zh", "chinese"}, {"de", "german"}, {"es", "spanish"},
    {"ru", "russian"}, {"ko", "korean"}, {"fr", "french"}, {"ja", "japanese"},
    {"pt", "portuguese"}, {"tr", "turkish"}, {"pl", "polish"}, {"ca", "catalan"},
    {"nl", "dutch"}, {"ar", "arabic"}, {"sv", "swedish"}, {"it", "italian"},
    {"id", "indonesian"}, {"hi", "hindi"}, {"fi", "finnish"}, {"vi", "vietnamese"},
    {"he", "hebrew"}, {"uk", "ukrainian"}, {"el", "greek"}, {"ms", "malay"},
    {"cs", "czech"}, {"ro", "romanian"}, {"da", "danish"}, {"hu", "hungarian"},
    {"ta", "tamil"}, {"no", "norwegian"}, {"th", "thai"}, {"ur", "urdu"},
    {"hr", "croatian"}, {"bg", "bulgarian"}, {"lt", "lithuanian"}, {"la", "latin"},
    {"mi", "maori"}, {"ml", "malayalam"}, {"cy", "welsh"}, {"sk", "slovak"},
    {"te", "telugu"}, {"fa", "persian"}, {"lv", "latvian"}, {"bn", "bengali"},
    {"sr", "serbian"}, {"az", "azerbaijani"}, {"sl", "slovenian"}, {"kn", "kannada"},
    {"et", "estonian"}, {"mk", "macedonian"}, {"br", "breton"}, {"eu", "basque"},
    {"is", "icelandic"}, {"hy", "armenian"}, {"ne", "nepali"}, {"mn", "mongolian"},
    {"bs", "bosnian"}, {"kk", "kazakh"}, {"sq", "albanian"}, {"sw", "swahili"},
    {"gl", "galician"}, {"mr", "marathi"}, {"pa", "punjabi"}, {"si", "sinhala"},
    {"km", "khmer"}, {"sn", "shona"}, {"yo", "yoruba"}, {"so", "somali"},
    {"af", "afrikaans"}, {"oc", "occitan"}, {"ka", "georgian"}, {"be", "belarusian"},
    {"tg", "tajik"}, {"sd", "sindhi"}, {"gu", "gujarati"}, {"am", "amharic"},
    {"yi", "yiddish"}, {"lo", "lao"}, {"uz", "uzbek"}, {"fo", "faroese"},
    {"ht", "haitian creole"}, {"ps", "pashto"}, {"tk", "turkmen"}, {"nn", "nynorsk"},
    {"mt", "maltese"}, {"sa", "sanskrit"}, {"lb", "luxembourgish"}, {"my", "myanmar"},
    {"bo", "tibetan"}, {"tl", "tagalog"}, {"mg", "malagasy"}, {"as", "assamese"},
    {"tt", "tatar"}, {"haw", "hawaiian"}, {"ln", "lingala"}, {"ha", "hausa"},
    {"ba", "bashkir"}, {"jw", "javanese"}, {"su", "sundanese"}, {"yue", "cantonese"},
};

#define N_LANGS ((int)(sizeof g_langs / sizeof g_langs[0]))

/* Id for a code ("pt" → 8); also accepts the English name ("portuguese").  -1 when
 * unknown or NULL. */
int wsp_lang_id(const char *code)
{
    if (!code)
        return -1;
    for (int i = 0; i < N_LANGS; i++)
        if (strcmp(g_langs[i].code, code) == 0)
            return i;
    for (int i = 0; i < N_LANGS; i++)
        if (strcmp(g_langs[i].name, code) == 0)
            return i;
    return -1;
}

/* Code for an id, or NULL when out of range. */
const char *wsp_lang_code(int id)
{
    return id >= 0 && id < N_LANGS ? g_langs[id].code : NULL;
}

/* English name for an id, or NULL when out of range. */
const char *wsp_lang_name(int id)
{
    return id >= 0 && id < N_LANGS ? g_langs[id].name : NULL;
}
