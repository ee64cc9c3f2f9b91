/*
 * cpu.h — how many cores this process may use.  Thread-safe.
 */
#ifndef MDC_CPU_H
#define MDC_CPU_H

/* CPUs in this process's affinity mask (sched_getaffinity: honours taskset and
 * container cpusets), falling back to the online CPU count; at least 1.  The default
 * for every "threads" setting (WHISPER_THREADS, wsp_params.n_threads). */
int mdc_available_cores(void);

#endif
