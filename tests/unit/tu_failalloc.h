/*
 * tu_failalloc.h — allocation-failure injection for unit tests (ref: SQLite's
 * src/test_malloc.c): fail the Nth allocation, count live allocations to prove a failing
 * call leaks nothing.
 *
 * Include it from exactly one test file: it replaces malloc/calloc/realloc/free of the
 * test process with counting wrappers around glibc's __libc_* entry points.  Under
 * ASan/TSan, which own the allocator, TU_FAILALLOC_AVAILABLE is 0 and nothing is
 * replaced (the tests should skip).
 *
 * Use: tu_fail_arm(n); call(); failed = tu_fail_disarm();  live counts via tu_live().
 */
#ifndef MDC_TU_FAILALLOC_H
#define MDC_TU_FAILALLOC_H

#include <stdatomic.h>
#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TU_FAILALLOC_AVAILABLE 0
#else
#define TU_FAILALLOC_AVAILABLE 1
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

static atomic_long tu__fail_at = -1; /* index of the allocation to fail; -1 = never */
static atomic_long tu__count;        /* allocations attempted since arming */
static atomic_long tu__live;         /* successful allocations not yet freed */
static atomic_int tu__failed;        /* an allocation was failed on purpose */

static int tu__should_fail(void)
{
    long at = atomic_load(&tu__fail_at);
    if (at < 0 || atomic_fetch_add(&tu__count, 1) != at)
        return 0;
    atomic_store(&tu__failed, 1);
    return 1;
}

void *malloc(size_t n)
{
    void *p = tu__should_fail() ? NULL : __libc_malloc(n);
    if (p)
        atomic_fetch_add(&tu__live, 1);
    return p;
}

void *calloc(size_t n, size_t size)
{
    void *p = tu__should_fail() ? NULL : __libc_calloc(n, size);
    if (p)
        atomic_fetch_add(&tu__live, 1);
    return p;
}

void *realloc(void *old, size_t n)
{
    if (!old)
        return malloc(n);
    if (n == 0) {
        free(old);
        return NULL;
    }
    return tu__should_fail() ? NULL : __libc_realloc(old, n);
}

void free(void *p)
{
    if (p)
        atomic_fetch_sub(&tu__live, 1);
    __libc_free(p);
}

/* Fails the allocation with index n (0-based) counted from now. */
static inline void tu_fail_arm(long n)
{
    atomic_store(&tu__count, 0);
    atomic_store(&tu__failed, 0);
    atomic_store(&tu__fail_at, n);
}

/* Stops injecting; returns 1 if an allocation was failed since tu_fail_arm(). */
static inline int tu_fail_disarm(void)
{
    atomic_store(&tu__fail_at, -1);
    return atomic_load(&tu__failed);
}

/* Successful allocations not yet freed (compare before/after a call). */
static inline long tu_live(void) { return atomic_load(&tu__live); }
#endif

#endif
