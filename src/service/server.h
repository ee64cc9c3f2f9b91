/*
 * server.h — the HTTP service (libmicrohttpd): routes of DESIGN §3, upload spooling,
 * bounded worker pool, metrics.  The thread that answers /health never waits for the
 * model, the queue or a worker.
 */
#ifndef MDC_SERVICE_SERVER_H
#define MDC_SERVICE_SERVER_H

#include "config.h"

/* Starts listening, then (if cfg->preload) starts the background preload, and serves
 * until SIGINT/SIGTERM.  `exec_start_s` is mdc_now_s() taken first thing in main(), for
 * mdconv_startup_seconds.  Returns a process exit code (0 after a clean shutdown). */
int svc_serve(const svc_config *cfg, double exec_start_s);

#endif
