/* Unit tests for the UTF-8 helpers (src/common/utf8.c). */
#include "testutil.h"

#include "mdc/utf8.h"

/* want is a string literal; its length comes from sizeof so embedded NULs count. */
#define check_sanitize(in, n, flags, want) check_sanitize_n(in, n, flags, want, sizeof(want) - 1)
#define FFFD "\xEF\xBF\xBD"

static void check_sanitize_n(const char *in, size_t n, int flags, const char *want,
                             size_t want_len)
{
    size_t len = 0;
    char *out = mdc_utf8_sanitize(in, n, flags, &len);
    assert_non_null(out);
    assert_int_equal(len, want_len);
    assert_memory_equal(out, want, len);
    assert_true(mdc_utf8_valid(out, len));
    free(out);
}

static void test_valid_and_invalid(void **state)
{
    (void)state;
    const char *ok[] = {"", "abc", "reunião ação às", "\xE2\x82\xAC", "\xF0\x9F\x8E\x99",
                        "\xF4\x8F\xBF\xBF", "\xED\x9F\xBF"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        assert_true(mdc_utf8_valid(ok[i], strlen(ok[i])));
    const char *bad[] = {"\xC3", "\xE2\x82", "\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80",
                         "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\x80", "\xFF", "a\xC3(b"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(mdc_utf8_valid(bad[i], strlen(bad[i])));
    assert_true(mdc_utf8_valid("a\0b", 3));
    assert_int_equal(mdc_utf8_valid_prefix("ab\xC3\xA3\xE2\x82", 6), 4);
}

static void test_sanitize_maximal_subparts(void **state)
{
    (void)state;
    check_sanitize("ok", 2, 0, "ok");
    check_sanitize("\xC3", 1, 0, FFFD);
    check_sanitize("\xE2\x82", 2, 0, FFFD);          /* one truncated sequence → one U+FFFD */
    check_sanitize("\xE2\x82x", 3, 0, FFFD "x");
    check_sanitize("\xC0\xAF", 2, 0, FFFD FFFD);      /* overlong: C0 never valid */
    check_sanitize("\xE0\x80\xAF", 3, 0, FFFD FFFD FFFD);
    check_sanitize("\xED\xA0\x80", 3, 0, FFFD FFFD FFFD); /* surrogate */
    check_sanitize("a\0b", 3, 0, "a\0b");
    check_sanitize("a\0b", 3, MDC_UTF8_DROP_NUL, "ab");
    check_sanitize("ação\xFF", 7, 0, "ação" FFFD);
    check_sanitize(NULL, 0, 0, "");
}

static void test_complete_prefix(void **state)
{
    (void)state;
    assert_int_equal(mdc_utf8_complete_prefix("abc", 3), 3);
    assert_int_equal(mdc_utf8_complete_prefix("a\xC3", 2), 1);
    assert_int_equal(mdc_utf8_complete_prefix("a\xC3\xA3", 3), 3);
    assert_int_equal(mdc_utf8_complete_prefix("a\xE2\x82", 3), 1);
    assert_int_equal(mdc_utf8_complete_prefix("a\xF0\x9F\x8E", 4), 1);
    assert_int_equal(mdc_utf8_complete_prefix("a\xF0\x9F\x8E\x99", 5), 5);
    assert_int_equal(mdc_utf8_complete_prefix("a\x80", 2), 2); /* invalid, not incomplete */
    assert_int_equal(mdc_utf8_complete_prefix("a\xE0\x80", 3), 3);
    assert_int_equal(mdc_utf8_complete_prefix("", 0), 0);
}

static void test_encode_roundtrip(void **state)
{
    (void)state;
    const uint32_t cps[] = {0x41, 0xE3, 0x20AC, 0x1F399, 0x10FFFF};
    for (size_t i = 0; i < sizeof cps / sizeof *cps; i++) {
        char b[4];
        int n = mdc_utf8_encode(cps[i], b);
        assert_true(n > 0);
        uint32_t cp = 0;
        assert_int_equal(mdc_utf8_decode(b, (size_t)n, &cp), n);
        assert_int_equal(cp, cps[i]);
    }
    char b[4];
    assert_int_equal(mdc_utf8_encode(0xD800, b), 0);
    assert_int_equal(mdc_utf8_encode(0x110000, b), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_and_invalid),
        cmocka_unit_test(test_sanitize_maximal_subparts),
        cmocka_unit_test(test_complete_prefix),
        cmocka_unit_test(test_encode_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
