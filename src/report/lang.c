/* lang.c — language names for the report header and for verbose_json.
 * ref: Whisper's language table (openai/whisper tokenizer.py LANGUAGES: code → lower-case
 * English name, which OpenAI's verbose_json returns); Portuguese names as in pt-BR usage. */
#include "report_internal.h"

#include <stddef.h>
#include <strings.h>

typedef struct {
    const char *code, *en, *pt;
} lang;

static const lang k_langs[] = {
    {"en", "English", "Inglês"},          {"pt", "Portuguese", "Português"},
    {"es", "Spanish", "Espanhol"},        {"fr", "French", "Francês"},
    {"de", "German", "Alemão"},           {"it", "Italian", "Italiano"},
    {"nl", "Dutch", "Holandês"},          {"ru", "Russian", "Russo"},
    {"zh", "Chinese", "Chinês"},          {"ja", "Japanese", "Japonês"},
    {"ko", "Korean", "Coreano"},          {"ar", "Arabic", "Árabe"},
    {"hi", "Hindi", "Hindi"},             {"tr", "Turkish", "Turco"},
    {"pl", "Polish", "Polonês"},          {"uk", "Ukrainian", "Ucraniano"},
    {"sv", "Swedish", "Sueco"},           {"ca", "Catalan", "Catalão"},
    {"id", "Indonesian", "Indonésio"},    {"vi", "Vietnamese", "Vietnamita"},
    {"he", "Hebrew", "Hebraico"},         {"el", "Greek", "Grego"},
    {"cs", "Czech", "Tcheco"},            {"ro", "Romanian", "Romeno"},
    {"da", "Danish", "Dinamarquês"},      {"hu", "Hungarian", "Húngaro"},
    {"fi", "Finnish", "Finlandês"},       {"no", "Norwegian", "Norueguês"},
    {"th", "Thai", "Tailandês"},          {"ms", "Malay", "Malaio"},
    {"gl", "Galician", "Galego"},         {"eu", "Basque", "Basco"},
    {"fa", "Persian", "Persa"},           {"ta", "Tamil", "Tâmil"},
    {"ur", "Urdu", "Urdu"},               {"bn", "Bengali", "Bengali"},
    {"sk", "Slovak", "Eslovaco"},         {"bg", "Bulgarian", "Búlgaro"},
    {"hr", "Croatian", "Croata"},         {"sr", "Serbian", "Sérvio"},
    {"la", "Latin", "Latim"},             {"af", "Afrikaans", "Africâner"},
    {"sw", "Swahili", "Suaíli"},          {"tl", "Tagalog", "Tagalo"},
    {"cy", "Welsh", "Galês"},             {"et", "Estonian", "Estoniano"},
    {"lt", "Lithuanian", "Lituano"},      {"lv", "Latvian", "Letão"},
    {"sl", "Slovenian", "Esloveno"},      {"is", "Icelandic", "Islandês"},
};

static const lang *find(const char *code)
{
    if (!code)
        return NULL;
    size_t n = 0;
    while (code[n] && code[n] != '-' && code[n] != '_')
        n++;
    for (size_t i = 0; i < sizeof k_langs / sizeof *k_langs; i++)
        if (n == 2 && strncasecmp(code, k_langs[i].code, 2) == 0)
            return &k_langs[i];
    return NULL;
}

const char *rpt__lang_name(const char *code, rpt_locale loc)
{
    const lang *l = find(code);
    return l ? (loc == RPT_LOCALE_EN ? l->en : l->pt) : NULL;
}

const char *rpt__lang_openai_name(const char *code)
{
    /* Whisper's names are the English ones in lower case; keep a lower-case copy. */
    static const char *const lower[] = {
        "english",  "portuguese", "spanish",   "french",    "german",   "italian",
        "dutch",    "russian",    "chinese",   "japanese",  "korean",   "arabic",
        "hindi",    "turkish",    "polish",    "ukrainian", "swedish",  "catalan",
        "indonesian", "vietnamese", "hebrew",  "greek",     "czech",    "romanian",
        "danish",   "hungarian",  "finnish",   "norwegian", "thai",     "malay",
        "galician", "basque",     "persian",   "tamil",     "urdu",     "bengali",
        "slovak",   "bulgarian",  "croatian",  "serbian",   "latin",    "afrikaans",
        "swahili",  "tagalog",    "welsh",     "estonian",  "lithuanian", "latvian",
        "slovenian", "icelandic",
    };
    _Static_assert(sizeof lower / sizeof *lower == sizeof k_langs / sizeof *k_langs,
                   "one lower-case name per language");
    const lang *l = find(code);
    return l ? lower[l - k_langs] : NULL;
}

const char *rpt_language_name(const char *code, rpt_locale loc)
{
    return rpt__lang_name(code, loc);
}
