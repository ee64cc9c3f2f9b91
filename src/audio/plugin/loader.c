/*
 * loader.c — lazy loading of the FFmpeg decoder, for the md-converter binary only.
 *
 * Why: Debian's libavcodec pulls in ~130 shared libraries (x265, gnutls, ICU, glib …).
 * Linked into the server they cost ~25 MB of resident memory and 0.1–0.3 s of dynamic
 * loading before main() runs (docs/PERFORMANCE.md, "Start-up").  The product's promise
 * is a health check in milliseconds with almost no memory held, so the server treats the
 * decoder like the model: every file of src/audio/ is built a second time as a shared object
 * (mdc-audio.so, linked with FFmpeg) and dlopen()ed on the first decode, exactly once,
 * by whichever thread gets there first.
 *
 * This file provides the aud_* entry points of include/mdc/audio.h that need FFmpeg and
 * forwards them to the plugin; aud_strerror/aud_err_name come from src/audio/errors.c and
 * aud_stereo_speaker/aud_energy_free from src/audio/channels.c, linked statically.  Unit tests and tools link libmdc_audio.a directly and never use
 * this file.
 *
 * Plugin search order: $MDC_AUDIO_PLUGIN; <dir of the executable>/mdc-audio.so;
 * <dir of the executable>/../lib/md-converter/mdc-audio.so.  If none loads, every decode
 * returns AUD_EIO with the dlerror() text (the service answers 500: our fault, not the
 * client's), and the failure is logged once.
 *
 * Thread-safety: all functions are thread-safe (pthread_once).
 */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mdc/audio.h"
#include "mdc/clock.h"
#include "mdc/log.h"

typedef int (*decode_file_fn)(const char *, const aud_limits *, aud_abort_cb, void *, aud_pcm *,
                              aud_error *);
typedef int (*decode_memory_fn)(const void *, size_t, const aud_limits *, aud_abort_cb, void *,
                                aud_pcm *, aud_error *);
typedef int (*stream_open_fn)(const char *, const aud_limits *, aud_abort_cb, void *,
                              aud_stream **, aud_error *);
typedef int (*stream_open_memory_fn)(const void *, size_t, const aud_limits *, aud_abort_cb,
                                     void *, aud_stream **, aud_error *);
typedef int (*stream_read_fn)(aud_stream *, float *, size_t, size_t *, aud_error *);
typedef const aud_info *(*stream_info_fn)(const aud_stream *);
typedef double (*stream_progress_fn)(const aud_stream *);
typedef void (*stream_take_energy_fn)(aud_stream *, aud_energy *);
typedef void (*stream_close_fn)(aud_stream *);
typedef int (*measure_file_fn)(const char *, const aud_limits *, aud_abort_cb, void *, double *,
                               aud_error *);
typedef void (*init_fn)(void);

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static struct {
    void *handle;
    decode_file_fn decode_file;
    decode_memory_fn decode_memory;
    stream_open_fn stream_open;
    stream_open_memory_fn stream_open_memory;
    stream_read_fn stream_read;
    stream_info_fn stream_info;
    stream_progress_fn stream_progress;
    stream_take_energy_fn stream_take_energy;
    stream_close_fn stream_close;
    measure_file_fn measure_file;
    init_fn init;
    char error[600];
} g_plugin;

/* Tries one path; returns 1 when every symbol resolved. */
static int try_open(const char *path)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(g_plugin.error, sizeof g_plugin.error, "%s", dlerror());
        return 0;
    }
    g_plugin.decode_file = (decode_file_fn)dlsym(h, "aud_decode_file");
    g_plugin.decode_memory = (decode_memory_fn)dlsym(h, "aud_decode_memory");
    g_plugin.stream_open = (stream_open_fn)dlsym(h, "aud_stream_open");
    g_plugin.stream_open_memory = (stream_open_memory_fn)dlsym(h, "aud_stream_open_memory");
    g_plugin.stream_read = (stream_read_fn)dlsym(h, "aud_stream_read");
    g_plugin.stream_info = (stream_info_fn)dlsym(h, "aud_stream_info");
    g_plugin.stream_progress = (stream_progress_fn)dlsym(h, "aud_stream_progress");
    g_plugin.stream_take_energy = (stream_take_energy_fn)dlsym(h, "aud_stream_take_energy");
    g_plugin.stream_close = (stream_close_fn)dlsym(h, "aud_stream_close");
    g_plugin.measure_file = (measure_file_fn)dlsym(h, "aud_measure_file");
    g_plugin.init = (init_fn)dlsym(h, "aud_init");
    if (!g_plugin.decode_file || !g_plugin.decode_memory || !g_plugin.stream_open ||
        !g_plugin.stream_open_memory || !g_plugin.stream_read || !g_plugin.stream_info ||
        !g_plugin.stream_progress || !g_plugin.stream_take_energy || !g_plugin.stream_close ||
        !g_plugin.measure_file || !g_plugin.init) {
        snprintf(g_plugin.error, sizeof g_plugin.error, "%.400s: missing aud_* symbols", path);
        dlclose(h);
        return 0;
    }
    g_plugin.handle = h;
    return 1;
}

static void load_once(void)
{
    double t0 = mdc_now_ms();
    const char *env = getenv("MDC_AUDIO_PLUGIN");
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char candidates[3][PATH_MAX + 64];
    int nc = 0;
    if (env && *env)
        snprintf(candidates[nc++], sizeof candidates[0], "%s", env);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash)
            *slash = '\0';
        snprintf(candidates[nc++], sizeof candidates[0], "%s/mdc-audio.so", exe);
        snprintf(candidates[nc++], sizeof candidates[0], "%s/../lib/md-converter/mdc-audio.so",
                 exe);
    }
    for (int i = 0; i < nc; i++) {
        if (try_open(candidates[i])) {
            g_plugin.init();
            MDC_LOG_INFO("audio decoder (FFmpeg) loaded from %s in %.1f ms", candidates[i],
                         mdc_now_ms() - t0);
            return;
        }
        if (env && *env)
            break; /* an explicit path is not second-guessed */
    }
    MDC_LOG_ERROR("cannot load the audio decoder plugin mdc-audio.so: %s", g_plugin.error);
}

/* The plugin did not load: every decode is AUD_EIO (our fault, 500). */
static int unavailable(aud_error *err)
{
    if (err) {
        err->code = AUD_EIO;
        snprintf(err->message, sizeof err->message,
                 "the audio decoder is not available (mdc-audio.so: %.400s)", g_plugin.error);
    }
    return AUD_EIO;
}

void aud_init(void) { pthread_once(&g_once, load_once); }

int aud_decode_file(const char *path, const aud_limits *limits, aud_abort_cb abort_cb,
                    void *abort_user_data, aud_pcm *out, aud_error *err)
{
    aud_init();
    if (!g_plugin.handle) {
        if (out)
            memset(out, 0, sizeof *out);
        return unavailable(err);
    }
    return g_plugin.decode_file(path, limits, abort_cb, abort_user_data, out, err);
}

int aud_decode_memory(const void *data, size_t len, const aud_limits *limits,
                      aud_abort_cb abort_cb, void *abort_user_data, aud_pcm *out,
                      aud_error *err)
{
    aud_init();
    if (!g_plugin.handle) {
        if (out)
            memset(out, 0, sizeof *out);
        return unavailable(err);
    }
    return g_plugin.decode_memory(data, len, limits, abort_cb, abort_user_data, out, err);
}

int aud_stream_open(const char *path, const aud_limits *limits, aud_abort_cb abort_cb,
                    void *abort_user_data, aud_stream **out, aud_error *err)
{
    aud_init();
    if (!g_plugin.handle) {
        if (out)
            *out = NULL;
        return unavailable(err);
    }
    return g_plugin.stream_open(path, limits, abort_cb, abort_user_data, out, err);
}

int aud_stream_open_memory(const void *data, size_t len, const aud_limits *limits,
                           aud_abort_cb abort_cb, void *abort_user_data, aud_stream **out,
                           aud_error *err)
{
    aud_init();
    if (!g_plugin.handle) {
        if (out)
            *out = NULL;
        return unavailable(err);
    }
    return g_plugin.stream_open_memory(data, len, limits, abort_cb, abort_user_data, out, err);
}

int aud_measure_file(const char *path, const aud_limits *limits, aud_abort_cb abort_cb,
                     void *abort_user_data, double *seconds, aud_error *err)
{
    aud_init();
    if (!g_plugin.handle) {
        if (seconds)
            *seconds = -1;
        return unavailable(err);
    }
    return g_plugin.measure_file(path, limits, abort_cb, abort_user_data, seconds, err);
}

/* A stream exists only when the plugin loaded: the rest forward unconditionally
 * (NULL streams are handled by the plugin's functions). */
int aud_stream_read(aud_stream *st, float *dst, size_t max, size_t *n_read, aud_error *err)
{
    if (!g_plugin.handle) {
        if (n_read)
            *n_read = 0;
        return unavailable(err);
    }
    return g_plugin.stream_read(st, dst, max, n_read, err);
}

const aud_info *aud_stream_info(const aud_stream *st)
{
    return g_plugin.handle ? g_plugin.stream_info(st) : NULL;
}

double aud_stream_progress(const aud_stream *st)
{
    return g_plugin.handle ? g_plugin.stream_progress(st) : 0.0;
}

void aud_stream_take_energy(aud_stream *st, aud_energy *out)
{
    if (g_plugin.handle)
        g_plugin.stream_take_energy(st, out);
    else if (out)
        memset(out, 0, sizeof *out);
}

void aud_stream_close(aud_stream *st)
{
    if (g_plugin.handle)
        g_plugin.stream_close(st);
}

void aud_pcm_free(aud_pcm *pcm)
{
    if (!pcm)
        return;
    free(pcm->samples); /* same libc as the plugin's malloc */
    aud_energy_free(&pcm->energy);
    memset(pcm, 0, sizeof *pcm);
}
