/* Unit tests for the bounds-checked reader (src/common/cursor.c) the model loaders use. */
#include "testutil.h"

#include "mdc/cursor.h"

static void test_reads_little_endian(void **state)
{
    (void)state;
    const uint8_t b[] = {0x67, 0x67, 0x6d, 0x6c, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02, 0x03};
    mdc_cursor c = mdc_cur_make(b, sizeof b);
    int32_t v = 0;
    assert_int_equal(mdc_cur_i32(&c, &v), 0);
    assert_int_equal((uint32_t)v, 0x6c6d6767u); /* "ggml" as ggml writes its magic */
    assert_int_equal(mdc_cur_i32(&c, &v), 0);
    assert_int_equal(v, -1);
    assert_int_equal(mdc_cur_left(&c), 3);
    assert_false(mdc_cur_done(&c));
    const uint8_t *p = mdc_cur_take(&c, 3);
    assert_ptr_equal(p, b + 8);
    assert_true(mdc_cur_done(&c));
    assert_int_equal(mdc_cur_left(&c), 0);
    assert_non_null(mdc_cur_take(&c, 0)); /* an empty read at the end is fine */
}

static void test_short_reads_fail_without_moving(void **state)
{
    (void)state;
    const uint8_t b[] = {1, 2, 3, 4, 5, 6};
    mdc_cursor c = mdc_cur_make(b, sizeof b);
    int32_t v = 1234;
    assert_non_null(mdc_cur_take(&c, 3));
    assert_int_equal(mdc_cur_i32(&c, &v), -1); /* 3 bytes left */
    assert_int_equal(v, 1234);
    assert_int_equal(c.pos, 3);
    assert_null(mdc_cur_take(&c, 4));
    assert_int_equal(c.pos, 3);
    /* sizes a corrupt file may claim: no wrap-around in 64-bit arithmetic */
    assert_null(mdc_cur_take(&c, UINT64_MAX));
    assert_null(mdc_cur_take(&c, UINT64_MAX - 1));
    assert_null(mdc_cur_take(&c, (uint64_t)1 << 63));
    assert_int_equal(c.pos, 3);
    assert_non_null(mdc_cur_take(&c, 3));
    assert_null(mdc_cur_take(&c, 1));
    mdc_cursor e = mdc_cur_make(NULL, 0);
    assert_true(mdc_cur_done(&e));
    assert_int_equal(mdc_cur_i32(&e, &v), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_little_endian),
        cmocka_unit_test(test_short_reads_fail_without_moving),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
