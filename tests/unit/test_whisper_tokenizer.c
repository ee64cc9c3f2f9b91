/*
 * test_whisper_tokenizer.c — tokenizer (ids ↔ bytes, whisper.cpp's prompt tokenizer),
 * special ids from n_vocab, language table, and the UTF-8 carry of segment text.
 * The vocabulary is OpenAI's multilingual.tiktoken from whisper-ref/data (the same
 * bytes the model files store), decoded here so the test needs no model.
 */
#include "testutil.h"

#include "whisper/result.h"
#include "whisper/tokenizer.h"

typedef struct tvocab {
    wsp__vocab v;
    uint8_t **bytes;
    uint32_t *len;
    char names[2000][32];
} tvocab;

static int b64(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* multilingual.tiktoken ("BASE64 RANK" per line) → base tokens 0…50256 + specials. */
static tvocab *load_vocab(void)
{
    const char *path = tu_shared("whisper-ref/data/multilingual.tiktoken");
    if (!tu_exists(path))
        return NULL;
    char *txt = tu_read_file(path, NULL);
    tvocab *t = calloc(1, sizeof *t);
    assert_int_equal(wsp__vocab_set_specials(&t->v, 51865), 0);
    t->bytes = calloc(51865, sizeof *t->bytes);
    t->len = calloc(51865, sizeof *t->len);
    for (char *line = txt, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        char *sp = strchr(line, ' ');
        assert_non_null(sp);
        long rank = strtol(sp + 1, NULL, 10);
        assert_true(rank >= 0 && rank < 50257);
        uint8_t *out = malloc((size_t)(sp - line));
        uint32_t n = 0, acc = 0;
        int bits = 0;
        for (char *c = line; c < sp; c++) {
            int x = b64((unsigned char)*c);
            if (x < 0)
                break; /* '=' padding */
            acc = acc << 6 | (uint32_t)x;
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                out[n++] = (uint8_t)(acc >> bits);
            }
        }
        t->bytes[rank] = out;
        t->len[rank] = n;
    }
    free(txt);
    free(t->bytes[50256]); /* the model files store the empty string at 50256 */
    t->bytes[50256] = (uint8_t *)strdup("");
    t->len[50256] = 0;
    for (int32_t id = t->v.n_base; id < 51865; id++) {
        char *nm = t->names[id - t->v.n_base];
        wsp__special_name(&t->v, id, nm, 32);
        t->bytes[id] = (uint8_t *)nm;
        t->len[id] = (uint32_t)strlen(nm);
    }
    t->v.bytes = (const uint8_t *const *)t->bytes;
    t->v.len = t->len;
    return t;
}

static void free_vocab(tvocab *t)
{
    for (int32_t i = 0; i < t->v.n_base; i++)
        free(t->bytes[i]);
    free(t->bytes);
    free(t->len);
    free(t);
}

static tvocab *g_vocab;
static wsp__tokenizer *g_tok;

static int setup(void **state)
{
    (void)state;
    g_vocab = load_vocab();
    if (g_vocab && wsp__tokenizer_new(&g_vocab->v, &g_tok))
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    wsp__tokenizer_free(g_tok);
    if (g_vocab)
        free_vocab(g_vocab);
    return 0;
}

#define NEED_VOCAB()                                                           \
    do {                                                                       \
        if (!g_vocab) {                                                        \
            print_message("SKIP: whisper-ref/data/multilingual.tiktoken absent\n"); \
            skip();                                                            \
        }                                                                      \
    } while (0)

static void test_special_ids(void **state)
{
    (void)state;
    wsp__vocab v;
    assert_int_equal(wsp__vocab_set_specials(&v, 51865), 0); /* multilingual */
    assert_int_equal(v.eot, 50257);
    assert_int_equal(v.sot, 50258);
    assert_int_equal(v.lang_first, 50259);
    assert_int_equal(v.n_langs, 99);
    assert_int_equal(v.translate, 50358);
    assert_int_equal(v.transcribe, 50359);
    assert_int_equal(v.solm, 50360);
    assert_int_equal(v.prev, 50361);
    assert_int_equal(v.nosp, 50362);
    assert_int_equal(v.notimestamps, 50363);
    assert_int_equal(v.beg, 50364);
    assert_int_equal(wsp__vocab_set_specials(&v, 51864), 0); /* .en */
    assert_int_equal(v.eot, 50256);
    assert_int_equal(v.sot, 50257);
    assert_int_equal(v.transcribe, 50358);
    assert_int_equal(v.beg, 50363);
    assert_int_equal(wsp__vocab_set_specials(&v, 51866), 0); /* large-v3 */
    assert_int_equal(v.n_langs, 100);
    assert_int_equal(v.translate, 50359);
    assert_int_equal(v.beg, 50365);
    assert_int_equal(wsp__vocab_set_specials(&v, 1000), WSP_EVOCAB);

    char buf[32];
    wsp__vocab_set_specials(&v, 51865);
    assert_string_equal(wsp__special_name(&v, 50643, buf, sizeof buf), "[_TT_279]");
    assert_string_equal(wsp__special_name(&v, 50258, buf, sizeof buf), "[_SOT_]");
    assert_string_equal(wsp__special_name(&v, 50259 + 8, buf, sizeof buf), "[_LANG_pt]");
    assert_string_equal(wsp__special_name(&v, 50364, buf, sizeof buf), "[_BEG_]");
}

static void test_languages(void **state)
{
    (void)state;
    assert_int_equal(wsp_lang_id("en"), 0);
    assert_int_equal(wsp_lang_id("pt"), 8);
    assert_int_equal(wsp_lang_id("portuguese"), 8);
    assert_int_equal(wsp_lang_id("yue"), 99);
    assert_int_equal(wsp_lang_id("xx"), -1);
    assert_int_equal(wsp_lang_id(NULL), -1);
    assert_string_equal(wsp_lang_code(8), "pt");
    assert_string_equal(wsp_lang_name(8), "portuguese");
    assert_null(wsp_lang_code(100));
    assert_null(wsp_lang_name(-1));
}

/* The forced text of tf_text_tokens.i32 was tokenized by whisper.cpp itself. */
static void test_tokenize_matches_whisper_cpp(void **state)
{
    (void)state;
    NEED_VOCAB();
    size_t bytes = 0;
    int32_t *gold = tu_read_file(tu_shared("whisper-ref/golden/micro/tf_text_tokens.i32"), &bytes);
    if (!gold)
        skip();
    const char *text = " And so my fellow Americans, ask not what your country can do for you,"
                       " ask what you can do for your country.";
    int32_t ids[64];
    int n = wsp__tokenize(g_tok, text, ids, 64);
    const int n_gold = (int)(bytes / 4) - 4; /* after sot en transcribe notimestamps */
    assert_int_equal(n, n_gold);
    for (int i = 0; i < n; i++)
        assert_int_equal(ids[i], gold[4 + i]);
    /* buffer too small: the needed count is still returned */
    assert_int_equal(wsp__tokenize(g_tok, text, ids, 3), n_gold);
    free(gold);
}

static void test_pre_split_rules(void **state)
{
    (void)state;
    NEED_VOCAB();
    int32_t ids[32];
    /* contraction, leading-space words, digits, whitespace runs */
    const char *text = "it's  12 ok";
    int n = wsp__tokenize(g_tok, text, ids, 32);
    assert_true(n > 0);
    /* bytes concatenate back to the input */
    char out[64] = {0};
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        uint32_t l;
        const uint8_t *b = wsp__tok_bytes(&g_vocab->v, ids[i], &l);
        memcpy(out + len, b, l);
        len += l;
    }
    assert_string_equal(out, text);
    /* "'s" is its own word: the token for "'s" appears */
    assert_int_equal(ids[1], wsp__tokenizer_find(g_tok, (const uint8_t *)"'s", 2));
    /* the run of two spaces splits as " " + " 12" */
    assert_int_equal(ids[2], wsp__tokenizer_find(g_tok, (const uint8_t *)" ", 1));
    assert_int_equal(ids[3], wsp__tokenizer_find(g_tok, (const uint8_t *)" 12", 3));
    assert_int_equal(wsp__tokenizer_find(g_tok, (const uint8_t *)"\xff\xfe\xfd", 3), -1);
    assert_int_equal(wsp__tokenize(g_tok, "", ids, 32), 0);
}

static const char *k_pt = "Reunião de planejamento: decisões e ações da próxima sprint às 10h";

static void test_portuguese_round_trip(void **state)
{
    (void)state;
    NEED_VOCAB();
    int32_t ids[128];
    int n = wsp__tokenize(g_tok, k_pt, ids, 128);
    assert_true(n > 0 && n < 128);
    /* ids → bytes → the same text, streamed token by token through the UTF-8 carry */
    wsp__text t = {0};
    size_t raw = 0;
    int split_chars = 0; /* tokens ending inside a multibyte character */
    for (int i = 0; i < n; i++) {
        uint32_t l;
        const uint8_t *b = wsp__tok_bytes(&g_vocab->v, ids[i], &l);
        assert_memory_equal(b, k_pt + raw, l);
        raw += l;
        assert_int_equal(wsp__text_append(&t, b, l), 0);
        if (t.n_carry > 0)
            split_chars++;
    }
    assert_int_equal(raw, strlen(k_pt));
    assert_int_equal(t.n_carry, 0);
    assert_int_equal(wsp__text_flush(&t), 0);
    char *s = wsp__text_take(&t);
    assert_string_equal(s, k_pt);
    free(s);
    wsp__text_free(&t);
    print_message("Portuguese text: %d tokens, %d token boundaries inside a character\n", n,
                  split_chars);

    /* every multibyte character split byte by byte into "tokens" is reassembled */
    wsp__text u = {0};
    for (const char *p = k_pt; *p; p++)
        assert_int_equal(wsp__text_append(&u, (const uint8_t *)p, 1), 0);
    s = wsp__text_take(&u);
    assert_string_equal(s, k_pt);
    free(s);
    wsp__text_free(&u);
}

/* Any byte string (no NUL) round-trips: the byte-level vocabulary has every single byte,
 * so the greedy match never skips one.  Random strings from a fixed seed. */
static void test_random_bytes_round_trip(void **state)
{
    (void)state;
    NEED_VOCAB();
    uint64_t x = 0x9E3779B97F4A7C15ull;
    char text[257];
    int32_t ids[300];
    for (int round = 0; round < 200; round++) {
        int n = 1 + round % 256;
        for (int i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            text[i] = (char)(1 + x % 255);
            if (round % 3 == 0) /* mostly ASCII words and spaces */
                text[i] = " aZ9'.\n"[x % 7];
        }
        text[n] = '\0';
        int k = wsp__tokenize(g_tok, text, ids, 300);
        assert_true(k > 0 && k <= n);
        size_t pos = 0;
        for (int i = 0; i < k; i++) {
            uint32_t l;
            const uint8_t *b = wsp__tok_bytes(&g_vocab->v, ids[i], &l);
            assert_true(l > 0 && pos + l <= (size_t)n);
            assert_memory_equal(b, text + pos, l);
            pos += l;
        }
        assert_int_equal(pos, (size_t)n);
    }
}

static void test_utf8_carry_across_segments(void **state)
{
    (void)state;
    wsp__text t = {0};
    /* "ação": the 'ç' (C3 A7) is split between two tokens of two segments */
    assert_int_equal(wsp__text_append(&t, (const uint8_t *)"a\xc3", 2), 0);
    char *seg1 = wsp__text_take(&t);
    assert_string_equal(seg1, "a"); /* the lead byte waits */
    assert_int_equal(t.n_carry, 1);
    assert_int_equal(wsp__text_append(&t, (const uint8_t *)"\xa7\xc3\xa3o", 4), 0);
    char *seg2 = wsp__text_take(&t);
    assert_string_equal(seg2, "\xc3\xa7\xc3\xa3o");
    free(seg1);
    free(seg2);

    /* ill-formed bytes become U+FFFD; an unfinished tail at the end too */
    assert_int_equal(wsp__text_append(&t, (const uint8_t *)"x\xff" "y\xe2\x82", 5), 0);
    assert_int_equal(wsp__text_flush(&t), 0);
    char *s = wsp__text_take(&t);
    assert_string_equal(s, "x\xef\xbf\xbdy\xef\xbf\xbd");
    free(s);
    /* a lead byte followed by a non-continuation: U+FFFD then the byte itself */
    assert_int_equal(wsp__text_append(&t, (const uint8_t *)"\xc3(", 2), 0);
    s = wsp__text_take(&t);
    assert_string_equal(s, "\xef\xbf\xbd(");
    free(s);
    /* overlong and surrogate forms are rejected */
    assert_int_equal(wsp__text_append(&t, (const uint8_t *)"\xc0\xaf\xed\xa0\x80", 5), 0);
    s = wsp__text_take(&t);
    assert_null(strstr(s, "\xc0"));
    assert_null(strstr(s, "\xed\xa0"));
    free(s);
    /* 4-byte sequence split over three appends */
    assert_int_equal(wsp__text_append(&t, (const uint8_t *)"\xf0\x9f", 2), 0);
    assert_int_equal(wsp__text_append(&t, (const uint8_t *)"\x8e", 1), 0);
    assert_int_equal(wsp__text_append(&t, (const uint8_t *)"\xa4!", 2), 0);
    s = wsp__text_take(&t);
    assert_string_equal(s, "\xf0\x9f\x8e\xa4!");
    free(s);
    wsp__text_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_special_ids),
        cmocka_unit_test(test_languages),
        cmocka_unit_test(test_tokenize_matches_whisper_cpp),
        cmocka_unit_test(test_pre_split_rules),
        cmocka_unit_test(test_portuguese_round_trip),
        cmocka_unit_test(test_random_bytes_round_trip),
        cmocka_unit_test(test_utf8_carry_across_segments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
