/* Unit tests for the growable buffer (src/common/strbuf.c). */
#include "testutil.h"

#include "mdc/strbuf.h"

static void test_appends_grow_and_stay_terminated(void **state)
{
    (void)state;
    mdc_buf b = {0};
    mdc_buf_puts(&b, "");
    assert_non_null(b.p);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.p, "");
    for (int i = 0; i < 1000; i++)
        mdc_buf_puts(&b, "reunião ");
    assert_int_equal(b.len, 1000 * strlen("reunião "));
    assert_int_equal(b.p[b.len], '\0');
    assert_true(b.cap > b.len);
    assert_int_equal(b.oom, 0);
    free(b.p);
}

static void test_printf_of_any_length(void **state)
{
    (void)state;
    mdc_buf b = {0};
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    mdc_buf_printf(&b, "[%s|%d]", big, 42);
    assert_int_equal(b.len, sizeof big - 1 + 5);
    assert_int_equal(b.p[0], '[');
    assert_string_equal(b.p + b.len - 4, "|42]");
    free(b.p);
}

static void test_put_keeps_embedded_nul(void **state)
{
    (void)state;
    mdc_buf b = {0};
    mdc_buf_put(&b, "a\0b", 3);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.p, "a\0b", 4);
    free(b.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_appends_grow_and_stay_terminated),
        cmocka_unit_test(test_printf_of_any_length),
        cmocka_unit_test(test_put_keeps_embedded_nul),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
