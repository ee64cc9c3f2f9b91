/*
 * mapguard.h — file mappings whose loss (SIGBUS) does not kill the process.
 *
 * A file mapped with mmap() raises SIGBUS when a page is touched whose backing file
 * range no longer exists: the file was truncated (`truncate`, `cp` over it in place,
 * which truncates first) while it was mapped.  The default action kills the process.
 *
 * Mechanism.  A mapping is registered (mdc_mapguard_register) in a fixed table of
 * lock-free slots.  mdc_mapguard_install() sets a process-wide SIGBUS handler
 * (SA_SIGINFO) that, for a fault whose si_addr lies inside a registered range:
 *   1. replaces the whole range, in place, with private anonymous zero pages
 *      (mmap MAP_FIXED | MAP_ANONYMOUS with the range's protection) — the faulting
 *      instruction then re-executes and reads 0, on whichever thread faulted (the
 *      engine's thread-pool helpers included), so no thread is unwound and no lock,
 *      allocation or engine state is left half-done;
 *   2. marks the slot "lost" (an atomic flag).
 * The owner polls mdc_mapguard_lost() (an atomic load, cheap enough for an abort
 * callback), stops its work, discards whatever it computed from the zeros, and frees
 * the mapping (munmap of the range also unmaps the zero pages).  A fault outside every
 * registered range restores the previous SIGBUS disposition and returns, so the
 * instruction faults again and the process dies exactly as without the guard.
 *
 * Async-signal-safety: the handler reads the slots with atomic loads (lock-free on
 * every supported target), calls only mmap() and sigaction() (both plain system calls
 * on Linux; mmap is not on POSIX's async-signal-safe list, but glibc's wrapper takes no
 * lock and touches no user-space state) and saves/restores errno.  A slot is reused
 * only after mdc_mapguard_unregister(), which the owner calls when no thread can touch
 * the range any more (before munmap).
 *
 * Without mdc_mapguard_install() registering is harmless and SIGBUS keeps its default
 * action (the CLI).  Thread-safety: every function is thread-safe.
 */
#ifndef MDC_MAPGUARD_H
#define MDC_MAPGUARD_H

#include <stdbool.h>
#include <stddef.h>

/* Registered mappings at most at once (one model, plus one being replaced, plus slack). */
#define MDC_MAPGUARD_SLOTS 16

/* Installs the SIGBUS handler unless it is already the current one (the disposition it
 * replaces is kept and restored for faults outside every registered range).  Call it
 * before starting threads that may fault.  Returns 0, or -1 with errno from sigaction(). */
int mdc_mapguard_install(void);

/* Registers [base, base+len) mapped with protection `prot` (PROT_*).  base must be page
 * aligned (mmap's result).  Returns a slot number ≥ 0, or -1 when every slot is taken
 * (the mapping is then simply unguarded). */
int mdc_mapguard_register(void *base, size_t len, int prot);

/* True once a SIGBUS inside slot's range was absorbed (the range now reads as zeros).
 * False for slot < 0. */
bool mdc_mapguard_lost(int slot);

/* Frees the slot; call before munmap(), when no thread touches the range any more.
 * Accepts slot < 0. */
void mdc_mapguard_unregister(int slot);

/* SIGBUS faults absorbed since start (all slots). */
unsigned long mdc_mapguard_faults(void);

#endif
