/*
 * PROPOSAL (not built; see docs/perf/service.md "Where the start-up time and idle memory
 * go"): FFmpeg loaded on first use instead of at exec.  Forwarding definitions of the 40
 * FFmpeg functions src/audio/ calls; the first call dlopen()s libavutil, libswresample,
 * libavcodec and libavformat and resolves each function once.  To adopt: move this file
 * to src/audio/, drop libavformat libavcodec libswresample libavutil from the Makefile's
 * link flags (keep their --cflags) and add -ldl.  Nothing else changes: src/audio/ keeps
 * calling av_*() as now.  The binary's own symbols are not exported (no -rdynamic), so
 * the FFmpeg libraries bind to each other, not to these stubs.
 * Measured with this file and openblas_dl.c: exec → healthy 197 → 48 ms median, idle
 * RSS 28.9 → 5.4 MB; test_fixtures, test_lazy_loading and test_jobs pass with it.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <libavformat/avformat.h>
#include <libavcodec/avcodec.h>
#include <libswresample/swresample.h>
#include <libavutil/channel_layout.h>
#include <libavutil/dict.h>
#include <libavutil/frame.h>
#include <libavutil/log.h>
#include <libavutil/mem.h>
#include <libavutil/error.h>

static void *libs[4];
static pthread_once_t once = PTHREAD_ONCE_INIT;
static void load(void)
{
    static const char *names[4] = {"libavutil.so.57", "libswresample.so.4", "libavcodec.so.59", "libavformat.so.59"};
    for (int i = 0; i < 4; i++)
        if (!(libs[i] = dlopen(names[i], RTLD_NOW | RTLD_LOCAL))) {
            fprintf(stderr, "md-converter: cannot load %s: %s\n", names[i], dlerror());
            abort();
        }
}
static void *sym(const char *n)
{
    pthread_once(&once, load);
    for (int i = 3; i >= 0; i--) {
        void *p = dlsym(libs[i], n);
        if (p) return p;
    }
    fprintf(stderr, "md-converter: FFmpeg symbol %s missing\n", n);
    abort();
}
#define FWD(ret, name, params, args) ret name params { static ret(*fn) params; if (!fn) fn = (ret(*) params)sym(#name); return fn args; }
#define FWDV(name, params, args) void name params { static void(*fn) params; if (!fn) fn = (void(*) params)sym(#name); fn args; }

FWDV(av_channel_layout_default, (AVChannelLayout *a, int b), (a, b))
FWDV(av_channel_layout_uninit, (AVChannelLayout *a), (a))
FWDV(av_dict_free, (AVDictionary **a), (a))
FWD(int, av_dict_set, (AVDictionary **a, const char *b, const char *c, int d), (a, b, c, d))
FWD(int, av_find_best_stream, (AVFormatContext *a, enum AVMediaType b, int c, int d, const AVCodec **e, int f), (a, b, c, d, e, f))
FWD(AVFrame *, av_frame_alloc, (void), ())
FWDV(av_frame_free, (AVFrame **a), (a))
FWDV(av_frame_unref, (AVFrame *a), (a))
FWDV(av_free, (void *a), (a))
FWDV(av_freep, (void *a), (a))
FWD(int, av_log_format_line2, (void *a, int b, const char *c, va_list d, char *e, int f, int *g), (a, b, c, d, e, f, g))
FWDV(av_log_set_callback, (void (*a)(void *, int, const char *, va_list)), (a))
FWDV(av_log_set_level, (int a), (a))
FWD(void *, av_malloc, (size_t a), (a))
FWD(AVPacket *, av_packet_alloc, (void), ())
FWDV(av_packet_free, (AVPacket **a), (a))
FWDV(av_packet_unref, (AVPacket *a), (a))
FWD(int, av_probe_input_buffer2, (AVIOContext *a, const AVInputFormat **b, const char *c, void *d, unsigned int e, unsigned int f), (a, b, c, d, e, f))
FWD(int, av_read_frame, (AVFormatContext *a, AVPacket *b), (a, b))
FWD(int, av_strerror, (int a, char *b, size_t c), (a, b, c))
FWD(AVCodecContext *, avcodec_alloc_context3, (const AVCodec *a), (a))
FWDV(avcodec_free_context, (AVCodecContext **a), (a))
FWD(const char *, avcodec_get_name, (enum AVCodecID a), (a))
FWD(int, avcodec_open2, (AVCodecContext *a, const AVCodec *b, AVDictionary **c), (a, b, c))
FWD(int, avcodec_parameters_to_context, (AVCodecContext *a, const AVCodecParameters *b), (a, b))
FWD(int, avcodec_receive_frame, (AVCodecContext *a, AVFrame *b), (a, b))
FWD(int, avcodec_send_packet, (AVCodecContext *a, const AVPacket *b), (a, b))
FWD(AVFormatContext *, avformat_alloc_context, (void), ())
FWDV(avformat_close_input, (AVFormatContext **a), (a))
FWD(int, avformat_find_stream_info, (AVFormatContext *a, AVDictionary **b), (a, b))
FWDV(avformat_free_context, (AVFormatContext *a), (a))
FWD(int, avformat_open_input, (AVFormatContext **a, const char *b, const AVInputFormat *c, AVDictionary **d), (a, b, c, d))
FWD(AVIOContext *, avio_alloc_context, (unsigned char *a, int b, int c, void *d, int (*e)(void *, uint8_t *, int), int (*f)(void *, uint8_t *, int), int64_t (*g)(void *, int64_t, int)), (a, b, c, d, e, f, g))
FWDV(avio_context_free, (AVIOContext **a), (a))
FWD(int, swr_alloc_set_opts2, (struct SwrContext **a, AVChannelLayout *b, enum AVSampleFormat c, int d, AVChannelLayout *e, enum AVSampleFormat f, int g, int h, void *i), (a, b, c, d, e, f, g, h, i))
FWD(int, swr_convert, (struct SwrContext *a, uint8_t **b, int c, const uint8_t **d, int e), (a, b, c, d, e))
FWDV(swr_free, (struct SwrContext **a), (a))
FWD(int, swr_get_out_samples, (struct SwrContext *a, int b), (a, b))
FWD(int, swr_init, (struct SwrContext *a), (a))
FWD(int, swr_set_matrix, (struct SwrContext *a, const double *b, int c), (a, b, c))
