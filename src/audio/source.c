/*
 * source.c — byte sources for libavformat: an open file or a memory buffer, both
 * wrapped in a seekable custom AVIOContext.  Going through our own AVIOContext means
 * libavformat never sees a file name (format comes from the bytes alone) and the file
 * and memory entry points share one decoding path.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libavformat/avformat.h>
#include <libavutil/mem.h>

#include "audio_internal.h"

#define AUD__IO_BUFFER 65536 /* bytes per AVIO read */

void aud__source_memory(aud__source *src, const void *data, size_t len)
{
    memset(src, 0, sizeof *src);
    src->fd = -1;
    src->mem = data;
    src->size = len;
}

int aud__source_open_file(aud__source *src, const char *path, uint64_t max_bytes,
                          aud_error *err)
{
    memset(src, 0, sizeof *src);
    src->fd = -1;
    struct stat st;
    if (stat(path, &st) != 0)
        return aud__fail(err, AUD_EIO, "cannot read the file: %s", strerror(errno));
    if (!S_ISREG(st.st_mode))
        return aud__fail(err, AUD_EIO, "cannot read the file: not a regular file");
    if (st.st_size == 0)
        return aud__fail(err, AUD_EEMPTY, "the file is empty (0 bytes)");
    if (max_bytes > 0 && (uint64_t)st.st_size > max_bytes)
        return aud__fail(err, AUD_ETOOLARGE,
                         "the file is %llu bytes, more than the maximum of %llu bytes",
                         (unsigned long long)st.st_size, (unsigned long long)max_bytes);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return aud__fail(err, AUD_EIO, "cannot read the file: %s", strerror(errno));
    /* The size that counts is the one of the file we opened (it may have been replaced
     * since stat); reads never go past it, so a file growing meanwhile is cut there. */
    if (fstat(fd, &st) != 0 || st.st_size == 0 ||
        (max_bytes > 0 && (uint64_t)st.st_size > max_bytes)) {
        close(fd);
        return aud__fail(err, st.st_size == 0 ? AUD_EEMPTY : AUD_EIO,
                         "the file changed while being opened");
    }
    src->fd = fd;
    src->size = (uint64_t)st.st_size;
    return 0;
}

void aud__source_close(aud__source *src)
{
    if (src && src->fd >= 0) {
        close(src->fd);
        src->fd = -1;
    }
}

size_t aud__source_peek(const aud__source *src, uint64_t offset, void *buf, size_t len)
{
    if (offset >= src->size)
        return 0;
    if (len > src->size - offset)
        len = (size_t)(src->size - offset);
    if (src->mem) {
        memcpy(buf, src->mem + offset, len);
        return len;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(src->fd, (char *)buf + got, len - got, (off_t)(offset + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

static int source_read(void *opaque, uint8_t *buf, int len)
{
    aud__source *src = opaque;
    if (len <= 0)
        return 0;
    if (src->pos >= src->size)
        return AVERROR_EOF;
    uint64_t left = src->size - src->pos;
    size_t want = (uint64_t)len < left ? (size_t)len : (size_t)left;
    if (src->mem) {
        memcpy(buf, src->mem + src->pos, want);
        src->pos += want;
        return (int)want;
    }
    for (;;) {
        ssize_t got = pread(src->fd, buf, want, (off_t)src->pos);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            src->read_errno = errno;
            return AVERROR(EIO);
        }
        if (got == 0)
            return AVERROR_EOF; /* file shrank after open */
        src->pos += (uint64_t)got;
        return (int)got;
    }
}

static int64_t source_seek(void *opaque, int64_t offset, int whence)
{
    aud__source *src = opaque;
    int64_t base;
    switch (whence & ~AVSEEK_FORCE) {
    case AVSEEK_SIZE:
        return (int64_t)src->size;
    case SEEK_SET:
        base = 0;
        break;
    case SEEK_CUR:
        base = (int64_t)src->pos;
        break;
    case SEEK_END:
        base = (int64_t)src->size;
        break;
    default:
        return AVERROR(EINVAL);
    }
    if ((offset > 0 && base > INT64_MAX - offset) || base + offset < 0)
        return AVERROR(EINVAL);
    /* Seeking past the end is allowed (reads then return EOF), as with lseek(2). */
    src->pos = (uint64_t)(base + offset);
    return (int64_t)src->pos;
}

AVIOContext *aud__avio_new(aud__source *src)
{
    uint8_t *buf = av_malloc(AUD__IO_BUFFER);
    if (!buf)
        return NULL;
    AVIOContext *pb = avio_alloc_context(buf, AUD__IO_BUFFER, 0, src, source_read, NULL,
                                         source_seek);
    if (!pb) {
        av_free(buf);
        return NULL;
    }
    return pb;
}

void aud__avio_free(AVIOContext **pb)
{
    if (!pb || !*pb)
        return;
    /* libavformat may have replaced the buffer; free whichever it holds now. */
    av_freep(&(*pb)->buffer);
    avio_context_free(pb);
}
