/* Unit tests for the log sink (src/common/log.c). */
#include "testutil.h"

#include "mdc/log.h"

typedef struct {
    int calls;
    mdc_log_level level;
    char func[64];
    char msg[256];
} capture;

static void capture_sink(mdc_log_level level, const char *func, const char *msg, void *user)
{
    capture *c = user;
    c->calls++;
    c->level = level;
    snprintf(c->func, sizeof c->func, "%s", func);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
}

static void test_sink_receives_formatted_message(void **state)
{
    (void)state;
    capture c = {0};
    mdc_log_set_sink(capture_sink, &c);
    mdc_log_set_level(MDC_LOG_INFO);
    MDC_LOG_INFO("Lazy Loading: %s in %d ms", "success", 42);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.level, MDC_LOG_INFO);
    assert_string_equal(c.func, "test_sink_receives_formatted_message");
    assert_string_equal(c.msg, "Lazy Loading: success in 42 ms");
    MDC_LOG_DEBUG("dropped");
    assert_int_equal(c.calls, 1);
    mdc_log_set_sink(NULL, NULL);
}

static void test_level_parse(void **state)
{
    (void)state;
    mdc_log_level lv;
    assert_int_equal(mdc_log_level_parse("WARN", &lv), 0);
    assert_int_equal(lv, MDC_LOG_WARN);
    assert_int_equal(mdc_log_level_parse("loud", &lv), -1);
    assert_string_equal(mdc_log_level_name(MDC_LOG_ERROR), "error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sink_receives_formatted_message),
        cmocka_unit_test(test_level_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
