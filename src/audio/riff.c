/*
 * riff.c — the data length a WAV header declares.
 *
 * libavformat's wav demuxer silently clamps a data chunk that claims more bytes than the
 * file holds (it then estimates the duration from the bit rate), so the claim is lost.
 * To report it (aud_info.declared_s) and flag the output as truncated, the header is
 * read here: RIFF/WAVE chunks are walked up to "data" within the first 64 KiB.
 * ref: Microsoft RIFF WAVE format (chunk = 4-byte id, 32-bit little-endian size, data
 * padded to even length; fmt: wFormatTag, nChannels, nSamplesPerSec, nAvgBytesPerSec).
 */
#include <string.h>

#include "audio_internal.h"

#define RIFF_SCAN_BYTES 65536 /* header area searched for the data chunk */

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

double aud__riff_declared_seconds(const aud__source *src)
{
    uint8_t head[RIFF_SCAN_BYTES];
    size_t n = aud__source_peek(src, 0, head, sizeof head);
    if (n < 12 || memcmp(head, "RIFF", 4) != 0 || memcmp(head + 8, "WAVE", 4) != 0)
        return -1;
    uint32_t byte_rate = 0;
    size_t off = 12;
    while (off + 8 <= n) {
        uint32_t size = le32(head + off + 4);
        if (memcmp(head + off, "fmt ", 4) == 0 && off + 8 + 12 <= n && size >= 16) {
            byte_rate = le32(head + off + 8 + 8); /* nAvgBytesPerSec */
        } else if (memcmp(head + off, "data", 4) == 0) {
            /* 0 and 0xFFFFFFFF: length unknown (live recorders, RF64); not a claim. */
            if (byte_rate == 0 || size == 0 || size == 0xFFFFFFFFu)
                return -1;
            return (double)size / byte_rate;
        }
        off += 8 + (size_t)size + (size & 1);
    }
    return -1;
}
