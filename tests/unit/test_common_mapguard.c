/* Unit tests for the SIGBUS mapping guard (src/common/mapguard.c): a file truncated
 * under a registered mapping reads as zeros and flags the slot instead of killing the
 * process; a fault outside every registered range still kills (checked in a child). */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mdc/mapguard.h"

#define PAGES 16

/* Creates a PAGES-page file of 0x5a bytes and maps it read-only; returns the mapping. */
static volatile unsigned char *map_file(char *path, size_t pathlen, size_t *len)
{
    snprintf(path, pathlen, "/tmp/mdc-mapguard-test-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    *len = (size_t)PAGES * (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *buf = malloc(*len);
    assert_non_null(buf);
    memset(buf, 0x5a, *len);
    assert_int_equal(write(fd, buf, *len), (ssize_t)*len);
    free(buf);
    void *m = mmap(NULL, *len, PROT_READ, MAP_SHARED, fd, 0);
    assert_true(m != MAP_FAILED);
    close(fd);
    return m;
}

static void test_truncated_mapping_reads_zeros(void **state)
{
    (void)state;
    assert_int_equal(mdc_mapguard_install(), 0);
    char path[64];
    size_t len;
    volatile unsigned char *m = map_file(path, sizeof path, &len);
    int slot = mdc_mapguard_register((void *)m, len, PROT_READ);
    assert_true(slot >= 0);
    assert_int_equal(m[len - 1], 0x5a);
    assert_false(mdc_mapguard_lost(slot));
    unsigned long before = mdc_mapguard_faults();
    assert_int_equal(truncate(path, 0), 0); /* every page of the mapping is gone */
    assert_int_equal(m[len / 2], 0);        /* would be SIGBUS → death without the guard */
    assert_int_equal(m[0], 0);
    assert_true(mdc_mapguard_lost(slot));
    assert_int_equal(mdc_mapguard_faults(), before + 1); /* one fault repairs the range */
    mdc_mapguard_unregister(slot);
    assert_false(mdc_mapguard_lost(slot));
    munmap((void *)m, len);
    unlink(path);
}

static void test_unregistered_fault_still_kills(void **state)
{
    (void)state;
    assert_int_equal(mdc_mapguard_install(), 0);
    char path[64];
    size_t len;
    volatile unsigned char *m = map_file(path, sizeof path, &len);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGBUS, SIG_DFL);
        if (mdc_mapguard_install() != 0) /* previous disposition: the default */
            _exit(3);
        if (truncate(path, 0) != 0)
            _exit(4);
        volatile unsigned char x = m[len / 2]; /* not registered: must die of SIGBUS */
        (void)x;
        _exit(0);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGBUS);
    munmap((void *)m, len);
    unlink(path);
}

static void test_slots_are_bounded(void **state)
{
    (void)state;
    int slots[MDC_MAPGUARD_SLOTS];
    static char dummy[MDC_MAPGUARD_SLOTS + 1][8];
    for (int i = 0; i < MDC_MAPGUARD_SLOTS; i++) {
        slots[i] = mdc_mapguard_register(dummy[i], sizeof dummy[i], PROT_READ);
        assert_true(slots[i] >= 0);
    }
    assert_int_equal(mdc_mapguard_register(dummy[MDC_MAPGUARD_SLOTS], 8, PROT_READ), -1);
    for (int i = 0; i < MDC_MAPGUARD_SLOTS; i++)
        mdc_mapguard_unregister(slots[i]);
    assert_false(mdc_mapguard_lost(-1));
    mdc_mapguard_unregister(-1);
    assert_int_equal(mdc_mapguard_register(NULL, 8, PROT_READ), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truncated_mapping_reads_zeros),
        cmocka_unit_test(test_unregistered_fault_still_kills),
        cmocka_unit_test(test_slots_are_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
