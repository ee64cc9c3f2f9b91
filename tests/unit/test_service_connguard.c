/* Unit tests for the connection guard (src/service/connguard.c), on socketpairs and a
 * clock passed in: header deadline not extended by bytes, body rate floor, a vanished
 * uploader, a half-close after a complete body, the per-address cap and the eviction
 * reserve. */
#include "testutil.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mdc/clock.h"
#include "mdc/metrics.h"
#include "service/connguard.h"

/* A connected pair: [0] is the server side the guard watches, [1] the client. */
static void pair(int sv[2]) { assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0); }

/* True when the guard shut the connection down: its client side reads EOF at once. */
static bool is_shut(int client_fd)
{
    char b;
    return recv(client_fd, &b, 1, MSG_DONTWAIT) == 0;
}

static struct sockaddr_in addr4(unsigned last)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(0x7f000000u | last);
    return a;
}

static void test_header_deadline_is_total(void **state)
{
    (void)state;
    cg_options o = {.headers_timeout_s = 2};
    conn_guard *g = cg_new(&o);
    int sv[2];
    pair(sv);
    double t0 = mdc_now_s();
    cg_conn *c = cg_open(g, sv[0], NULL, true);
    assert_int_equal(cg_count(g), 1);
    for (int i = 0; i < 3; i++) { /* bytes arriving do not matter: no call extends it */
        assert_int_equal(write(sv[1], "G", 1), 1);
        assert_int_equal(cg_sweep(g, t0 + 0.5 * i), 0);
    }
    assert_false(is_shut(sv[1]));
    assert_int_equal(cg_sweep(g, t0 + 2.5), 1);
    assert_true(is_shut(sv[1]));
    assert_int_equal(cg_sweep(g, t0 + 3), 0); /* dropped once */
    cg_close(g, c);
    assert_int_equal(cg_count(g), 0);
    close(sv[0]);
    close(sv[1]);
    cg_free(g);
}

static void test_body_floor_and_vanished_client(void **state)
{
    (void)state;
    cg_options o = {.body_min_bps = 1000, .body_grace_s = 1};
    conn_guard *g = cg_new(&o);
    int a[2], b[2], h[2];
    pair(a);
    pair(b);
    pair(h);
    cg_conn *fast = cg_open(g, a[0], NULL, true), *slow = cg_open(g, b[0], NULL, true),
            *half = cg_open(g, h[0], NULL, true);
    double t0 = mdc_now_s();
    cg_phase_set(fast, CG_BODY);
    cg_phase_set(slow, CG_BODY);
    cg_phase_set(half, CG_BODY);
    cg_body_length(half, 5000);
    cg_body_bytes(fast, 5000);
    cg_body_bytes(slow, 500);
    cg_body_bytes(half, 5000); /* the whole body is in … */
    shutdown(h[1], SHUT_WR); /* … then a half-close: it waits for its answer */
    assert_int_equal(cg_sweep(g, t0 + 0.5), 0); /* inside the grace */
    assert_int_equal(cg_sweep(g, t0 + 2.0), 1); /* 500 B in 2 s < 1000 B/s: slow only */
    assert_false(is_shut(a[1]));
    assert_true(is_shut(b[1]));
    assert_false(is_shut(h[1])); /* the half-closed complete request is kept */

    /* an uploader that closes with its body incomplete is dropped at the next sweep */
    cg_body_length(fast, 1 << 20);
    close(a[1]);
    assert_int_equal(cg_sweep(g, t0 + 2.1), 1);
    cg_close(g, fast);
    cg_close(g, slow);
    cg_close(g, half);
    close(a[0]);
    close(b[0]);
    close(b[1]);
    close(h[0]);
    close(h[1]);
    cg_free(g);
}

/* An upload that libmicrohttpd saw end (client abort) before any sweep: counted once as
 * client_gone, whoever noticed first; a complete body or a server-side end is not. */
static void test_client_gone_counted_once(void **state)
{
    (void)state;
    met_registry *reg = met_registry_new();
    cg_options o = {.metrics = reg};
    conn_guard *g = cg_new(&o);
    met_family *f = met_find(reg, "mdconv_connections_dropped_total");
    assert_non_null(f);
    const char *gone[] = {"client_gone"};
    int a[2], b[2], c2[2];
    pair(a);
    pair(b);
    pair(c2);
    cg_conn *cut = cg_open(g, a[0], NULL, true), *whole = cg_open(g, b[0], NULL, true),
            *swept = cg_open(g, c2[0], NULL, true);
    cg_phase_set(cut, CG_BODY);
    cg_body_length(cut, 1000);
    cg_body_bytes(cut, 10);
    cg_phase_set(whole, CG_BODY);
    cg_body_length(whole, 1000);
    cg_body_bytes(whole, 1000);
    cg_request_ended(g, cut, false); /* ended by the server: not the client's doing */
    assert_int_equal((int)met_get(f, gone), 0);
    cg_request_ended(g, cut, true);
    assert_int_equal((int)met_get(f, gone), 1);
    cg_request_ended(g, cut, true); /* once */
    cg_request_ended(g, whole, true); /* the whole body was in */
    assert_int_equal((int)met_get(f, gone), 1);
    /* a sweep that saw the vanished uploader first: libmicrohttpd's end adds nothing */
    cg_phase_set(swept, CG_BODY);
    cg_body_length(swept, 1000);
    close(c2[1]);
    assert_int_equal(cg_sweep(g, mdc_now_s()), 1);
    assert_int_equal((int)met_get(f, gone), 2);
    cg_request_ended(g, swept, true);
    assert_int_equal((int)met_get(f, gone), 2);
    cg_close(g, cut);
    cg_close(g, whole);
    cg_close(g, swept);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
    close(c2[0]);
    cg_free(g);
    met_registry_free(reg);
}

static void test_per_address_cap(void **state)
{
    (void)state;
    cg_options o = {.max_per_address = 2};
    conn_guard *g = cg_new(&o);
    struct sockaddr_in x = addr4(1), y = addr4(2);
    cg_conn *c[3];
    for (int i = 0; i < 2; i++) {
        assert_true(cg_admit(g, (struct sockaddr *)&x, sizeof x));
        c[i] = cg_open(g, -1, (struct sockaddr *)&x, true);
    }
    assert_false(cg_admit(g, (struct sockaddr *)&x, sizeof x));
    assert_true(cg_admit(g, (struct sockaddr *)&y, sizeof y)); /* another address */
    c[2] = cg_open(g, -1, (struct sockaddr *)&x, false);        /* uncapped (probe port) */
    assert_false(cg_admit(g, (struct sockaddr *)&x, sizeof x));
    cg_close(g, c[0]);
    assert_true(cg_admit(g, (struct sockaddr *)&x, sizeof x)); /* a slot came free */
    cg_close(g, c[1]);
    cg_close(g, c[2]);
    cg_free(g);
}

static void test_eviction_keeps_a_reserve(void **state)
{
    (void)state;
    cg_options o = {.high_water = 3};
    conn_guard *g = cg_new(&o);
    int sv[4][2];
    cg_conn *c[4];
    double t0 = mdc_now_s();
    for (int i = 0; i < 3; i++) {
        pair(sv[i]);
        c[i] = cg_open(g, sv[i][0], NULL, true);
    }
    cg_phase_set(c[1], CG_BUSY); /* a request being answered is never evicted */
    assert_int_equal(cg_sweep(g, t0 + 0.1), 0); /* nobody idle long enough yet */
    usleep(600 * 1000);
    pair(sv[3]);
    assert_true(cg_admit(g, NULL, 0)); /* 3 open ≥ high_water: the oldest idle one goes */
    c[3] = cg_open(g, sv[3][0], NULL, true);
    assert_true(is_shut(sv[0][1]));
    assert_false(is_shut(sv[1][1]));
    assert_int_equal(cg_sweep(g, mdc_now_s()), 1); /* still 3 live: one more idle goes */
    assert_true(is_shut(sv[2][1]));
    assert_false(is_shut(sv[3][1])); /* too young */
    for (int i = 0; i < 4; i++) {
        cg_close(g, c[i]);
        close(sv[i][0]);
        close(sv[i][1]);
    }
    cg_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_deadline_is_total),
        cmocka_unit_test(test_body_floor_and_vanished_client),
        cmocka_unit_test(test_client_gone_counted_once),
        cmocka_unit_test(test_per_address_cap),
        cmocka_unit_test(test_eviction_keeps_a_reserve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
