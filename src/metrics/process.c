/* process.c — process_* metrics from /proc/self (see include/mdc/metrics.h).
 * ref: proc(5) — /proc/self/statm (field 2 = resident pages), /proc/self/stat
 * (field 14 utime, 15 stime, 22 starttime, in clock ticks), /proc/stat "btime";
 * names as the Prometheus client libraries export them
 * (https://prometheus.io/docs/instrumenting/writing_clientlibs/#process-metrics). */
#include "metrics_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

double met_process_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    unsigned long long size, resident;
    int n = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    if (n != 2 || page <= 0)
        return -1;
    return (double)resident * (double)page;
}

/* Reads /proc/self/stat and returns the fields after the command name:
 * out[0] is field 3 (state) … out[k] is field k+3.  Returns the count parsed. */
static int read_stat_fields(unsigned long long *out, int max)
{
    char line[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return 0;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    /* The command name is in parentheses and may itself contain ')' or spaces. */
    char *p = strrchr(line, ')');
    if (!p)
        return 0;
    p++;
    int k = 0;
    while (k < max) {
        while (*p == ' ')
            p++;
        if (!*p || *p == '\n')
            break;
        char *end;
        out[k] = strtoull(p, &end, 10);
        if (end == p) { /* the state letter */
            out[k] = 0;
            while (*end && *end != ' ')
                end++;
        }
        p = end;
        k++;
    }
    return k;
}

double met_process_cpu_seconds(void)
{
    unsigned long long v[20];
    long tck = sysconf(_SC_CLK_TCK);
    if (read_stat_fields(v, 20) < 13 || tck <= 0)
        return -1;
    return (double)(v[14 - 3] + v[15 - 3]) / (double)tck;
}

double met_process_start_time_seconds(void)
{
    unsigned long long v[20];
    long tck = sysconf(_SC_CLK_TCK);
    if (read_stat_fields(v, 20) < 20 || tck <= 0)
        return -1;
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    char line[256];
    unsigned long long btime = 0;
    int found = 0;
    while (!found && fgets(line, sizeof line, f))
        found = sscanf(line, "btime %llu", &btime) == 1;
    fclose(f);
    if (!found)
        return -1;
    return (double)btime + (double)v[22 - 3] / (double)tck;
}

int met_register_process_metrics(met_registry *reg)
{
    if (!reg)
        return -1;
    met_family *rss = met_register(reg, MET_GAUGE, "process_resident_memory_bytes",
                                   "Resident memory size in bytes.", NULL, NULL, 0);
    met_family *cpu = met_register(reg, MET_COUNTER, "process_cpu_seconds_total",
                                   "Total user and system CPU time spent in seconds.", NULL,
                                   NULL, 0);
    met_family *start = met_register(reg, MET_GAUGE, "process_start_time_seconds",
                                     "Start time of the process since unix epoch in seconds.",
                                     NULL, NULL, 0);
    if (!rss || !cpu || !start)
        return -1;
    pthread_mutex_lock(&reg->lock);
    reg->proc_rss = rss;
    reg->proc_cpu = cpu;
    reg->proc_start = start;
    pthread_mutex_unlock(&reg->lock);
    met__collect_process(reg);
    return 0;
}

void met__collect_process(met_registry *reg)
{
    pthread_mutex_lock(&reg->lock);
    met_family *rss = reg->proc_rss, *cpu = reg->proc_cpu, *start = reg->proc_start;
    pthread_mutex_unlock(&reg->lock);
    double v;
    if (rss && (v = met_process_rss_bytes()) >= 0)
        met_set(rss, NULL, v);
    if (cpu && (v = met_process_cpu_seconds()) >= 0)
        met_set(cpu, NULL, v);
    if (start && (v = met_process_start_time_seconds()) >= 0)
        met_set(start, NULL, v);
}
