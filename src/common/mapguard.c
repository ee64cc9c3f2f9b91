/*
 * mapguard.c — SIGBUS on a registered file mapping → zero pages + a "lost" flag
 * (see mapguard.h for the mechanism and its async-signal-safety argument).
 */
#include "mdc/mapguard.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

typedef struct guard_slot {
    atomic_uintptr_t base; /* 0 = free */
    atomic_size_t len;
    atomic_int prot;
    atomic_bool lost;
} guard_slot;

static guard_slot g_slots[MDC_MAPGUARD_SLOTS];
static atomic_ulong g_faults;
static struct sigaction g_previous; /* written before the handler is installed */
static pthread_mutex_t g_install_mu = PTHREAD_MUTEX_INITIALIZER;

static void on_sigbus(int sig, siginfo_t *si, void *uctx)
{
    (void)uctx;
    const int saved_errno = errno;
    const uintptr_t addr = (uintptr_t)si->si_addr;
    for (int i = 0; i < MDC_MAPGUARD_SLOTS; i++) {
        const uintptr_t base = atomic_load(&g_slots[i].base);
        const size_t len = atomic_load(&g_slots[i].len);
        if (base == 0 || addr < base || addr - base >= len)
            continue;
        /* Two threads faulting at once both map zeros over the range: harmless. */
        void *p = mmap((void *)base, len, atomic_load(&g_slots[i].prot),
                       MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            break; /* cannot repair: die as without the guard */
        atomic_store(&g_slots[i].lost, true);
        atomic_fetch_add(&g_faults, 1);
        errno = saved_errno;
        return; /* the faulting load re-executes and reads 0 */
    }
    /* Not ours (or not repairable): put the previous disposition back; the instruction
     * faults again and that disposition applies (by default: the process dies). */
    sigaction(sig, &g_previous, NULL);
    errno = saved_errno;
}

int mdc_mapguard_install(void)
{
    pthread_mutex_lock(&g_install_mu);
    struct sigaction cur;
    int rc = sigaction(SIGBUS, NULL, &cur);
    if (rc == 0 && !((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_sigbus)) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_sigbus;
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
        sigemptyset(&sa.sa_mask);
        g_previous = cur; /* before the handler can run */
        rc = sigaction(SIGBUS, &sa, NULL);
    }
    pthread_mutex_unlock(&g_install_mu);
    return rc;
}

int mdc_mapguard_register(void *base, size_t len, int prot)
{
    if (!base || len == 0)
        return -1;
    for (int i = 0; i < MDC_MAPGUARD_SLOTS; i++) {
        uintptr_t expect = 0;
        /* Claim the slot with a placeholder first so the handler never sees a base with
         * a stale length; the real base goes in last. */
        if (!atomic_compare_exchange_strong(&g_slots[i].base, &expect, (uintptr_t)1))
            continue;
        atomic_store(&g_slots[i].len, (size_t)0);
        atomic_store(&g_slots[i].prot, prot);
        atomic_store(&g_slots[i].lost, false);
        atomic_store(&g_slots[i].len, len);
        atomic_store(&g_slots[i].base, (uintptr_t)base);
        return i;
    }
    return -1;
}

bool mdc_mapguard_lost(int slot)
{
    if (slot < 0 || slot >= MDC_MAPGUARD_SLOTS)
        return false;
    return atomic_load(&g_slots[slot].lost);
}

void mdc_mapguard_unregister(int slot)
{
    if (slot < 0 || slot >= MDC_MAPGUARD_SLOTS)
        return;
    atomic_store(&g_slots[slot].len, (size_t)0);
    atomic_store(&g_slots[slot].lost, false);
    atomic_store(&g_slots[slot].base, (uintptr_t)0);
}

unsigned long mdc_mapguard_faults(void) { return atomic_load(&g_faults); }
