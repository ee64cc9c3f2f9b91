/*
 * test_service_rds.c — JOBS_REDIS_URL parsing (rds_url_parse): defaults, user and
 * password, database, and the refusals (rediss:// without TLS support, other schemes,
 * bad ports and databases, over-long parts); and that a connection to a port where no
 * Redis listens fails fast, counts its error and backs off instead of retrying at once.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "testutil.h"

#include "mdc/clock.h"
#include "service/rds.h"

static void test_url_defaults_and_parts(void **state)
{
    (void)state;
    rds_url u;
    char why[256];
    assert_int_equal(rds_url_parse("redis://localhost", &u, why, sizeof why), 0);
    assert_string_equal(u.host, "localhost");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_string_equal(u.user, "");
    assert_string_equal(u.pass, "");
    assert_int_equal(rds_url_parse("redis://10.0.0.5:6380/3", &u, why, sizeof why), 0);
    assert_string_equal(u.host, "10.0.0.5");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 3);
    assert_int_equal(rds_url_parse("redis://:s3cr@t@redis:6379/0", &u, why, sizeof why), 0);
    assert_string_equal(u.user, "");
    assert_string_equal(u.pass, "s3cr@t"); /* the last '@' ends the credentials */
    assert_string_equal(u.host, "redis");
    assert_int_equal(rds_url_parse("redis://app:pw@redis/", &u, why, sizeof why), 0);
    assert_string_equal(u.user, "app");
    assert_string_equal(u.pass, "pw");
    assert_int_equal(u.port, 6379);
}

static void test_url_refusals(void **state)
{
    (void)state;
    rds_url u;
    char why[256];
    assert_int_equal(rds_url_parse("rediss://redis:6379/0", &u, why, sizeof why), -1);
    assert_non_null(strstr(why, "TLS"));
    assert_non_null(strstr(why, "hiredis 0.14")); /* why: the library, not the URL */
    assert_non_null(strstr(why, "stunnel"));      /* what to do instead */
    static const char *const bad[] = {
        "http://redis:6379", "redis://", "redis://:6379", "redis://h:0", "redis://h:65536",
        "redis://h:12x", "redis://h:6379/x", "redis://h:6379/1/2", "redis://h/-1", "redis:/h",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        why[0] = '\0';
        assert_int_equal(rds_url_parse(bad[i], &u, why, sizeof why), -1);
        assert_true(why[0] != '\0');
    }
    char long_host[400] = "redis://";
    memset(long_host + 8, 'h', 300);
    long_host[308] = '\0';
    assert_int_equal(rds_url_parse(long_host, &u, why, sizeof why), -1);
}

/* A free loopback port with nothing listening. */
static int dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void test_down_fails_fast_and_backs_off(void **state)
{
    (void)state;
    rds_url u;
    char why[256];
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", dead_port());
    assert_int_equal(rds_url_parse(url, &u, why, sizeof why), 0);
    atomic_ulong errors = 0;
    rds_conn c;
    rds_init(&c, &u, 500, &errors);
    double t0 = mdc_now_s();
    assert_null(rds_cmd(&c, 1, (const char *[]){"PING"}, NULL));
    assert_int_equal(atomic_load(&errors), 1);
    /* within the back-off: no new connection attempt, no new error */
    assert_null(rds_cmd(&c, 1, (const char *[]){"PING"}, NULL));
    assert_false(rds_up(&c));
    assert_int_equal(atomic_load(&errors), 1);
    assert_true(mdc_now_s() - t0 < 0.5);
    rds_close(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_defaults_and_parts),
        cmocka_unit_test(test_url_refusals),
        cmocka_unit_test(test_down_fails_fast_and_backs_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
