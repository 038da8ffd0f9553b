/*
 * Media Foundation demuxer (see mf.h). The source reader hands out the
 * media source's own samples as long as no output type is set on the
 * stream: for an MP4 on Windows that is the compressed H.264/HEVC access
 * units (MFVideoFormat_H264 is start-code form, the sequence header in
 * MF_MT_MPEG_SEQUENCE_HEADER), with sample times in 100 ns units and
 * MFSampleExtension_CleanPoint on key frames.
 */
#define COBJMACROS
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <windows.h>
#include <mfapi.h>
#include <mferror.h>
#include <mfidl.h>
#include <mfreadwrite.h>

#include "mf.h"

/* mingw-w64's C99 printf (__USE_MINGW_ANSI_STDIO) is gnu_printf. */
#define VR_PRINTF_FORMAT __MINGW_PRINTF_FORMAT

#define VIDEO_STREAM ((DWORD)MF_SOURCE_READER_FIRST_VIDEO_STREAM)
#define HNS_PER_SECOND 10000000u
#define MAX_TS (1ll << 52) /* 100 ns units: 14 years */

struct vr_mf {
    IMFSourceReader *reader;
    bool com_init, mf_started;
    struct vr_stream_start ss;
    uint8_t *extradata;
    uint8_t *buf;
    size_t cap;
    int64_t base, last_end; /* timestamp shift of this pass; end of the last sample */
    char error[160];
};

static void set_error(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(VR_PRINTF_FORMAT, 3, 4)));
static void set_error(char *buf, size_t len, const char *fmt, ...)
{
    if (!buf || !len)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

/* Media Foundation's video subtypes are FOURCC-based GUIDs
 * {XXXXXXXX-0000-0010-8000-00AA00389B71}: compare the FOURCC. */
static enum vr_codec codec_of(const GUID *g, char fourcc[5])
{
    static const GUID base = { 0, 0x0000, 0x0010, { 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71 } };
    for (int i = 0; i < 4; i++) {
        char c = (char)((g->Data1 >> (8 * i)) & 0xff);
        fourcc[i] = c >= 32 && c < 127 ? c : '?';
    }
    fourcc[4] = '\0';
    if (g->Data2 != base.Data2 || g->Data3 != base.Data3 || memcmp(g->Data4, base.Data4, 8) != 0) {
        memcpy(fourcc, "GUID", 5);
        return VR_CODEC_NONE;
    }
    switch (g->Data1) {
    case 0x34363248: /* 'H264' */
        return VR_CODEC_H264;
    case 0x43564548: /* 'HEVC' */
        return VR_CODEC_HEVC;
    case 0x30385056: /* 'VP80' */
        return VR_CODEC_VP8;
    case 0x30395056: /* 'VP90' */
        return VR_CODEC_VP9;
    case 0x31305641: /* 'AV01' */
        return VR_CODEC_AV1;
    default:
        return VR_CODEC_NONE;
    }
}

static bool starts_with_start_code(const uint8_t *p, size_t n)
{
    return (n >= 4 && !p[0] && !p[1] && !p[2] && p[3] == 1) || (n >= 3 && !p[0] && !p[1] && p[2] == 1);
}

static int describe(struct vr_mf *m, IMFMediaType *mt, const char *path, char *err, size_t errlen)
{
    GUID sub;
    if (FAILED(IMFMediaType_GetGUID(mt, &MF_MT_SUBTYPE, &sub))) {
        set_error(err, errlen, "%s: Media Foundation gives no subtype for the video", path);
        return -EIO;
    }
    char fourcc[5];
    m->ss.codec = (uint16_t)codec_of(&sub, fourcc);
    if (m->ss.codec == VR_CODEC_NONE) {
        set_error(err, errlen,
                  "%s: Media Foundation offers the video only as '%s' (decoded pictures or a "
                  "codec videoredir does not carry): videoredir needs the compressed samples",
                  path, fourcc);
        return -ENOTSUP;
    }
    UINT64 v = 0;
    if (FAILED(IMFMediaType_GetUINT64(mt, &MF_MT_FRAME_SIZE, &v)) || !(v >> 32) || !(uint32_t)v ||
        (v >> 32) > VR_MAX_DIMENSION || (uint32_t)v > VR_MAX_DIMENSION) {
        set_error(err, errlen, "%s: no usable frame size", path);
        return -EINVAL;
    }
    m->ss.width = (uint32_t)(v >> 32);
    m->ss.height = (uint32_t)v;
    if (SUCCEEDED(IMFMediaType_GetUINT64(mt, &MF_MT_FRAME_RATE, &v)) && (v >> 32) && (uint32_t)v) {
        m->ss.fps_num = (uint32_t)(v >> 32);
        m->ss.fps_den = (uint32_t)v;
    }
    m->ss.timebase_num = 1;
    m->ss.timebase_den = HNS_PER_SECOND;
    if (m->ss.codec == VR_CODEC_H264 || m->ss.codec == VR_CODEC_HEVC) {
        m->ss.flags = VR_STREAM_ANNEXB;
        UINT32 n = 0;
        if (SUCCEEDED(IMFMediaType_GetBlobSize(mt, &MF_MT_MPEG_SEQUENCE_HEADER, &n)) && n > 0 &&
            n <= VR_MAX_EXTRADATA) {
            m->extradata = malloc(n);
            if (!m->extradata)
                return -ENOMEM;
            if (SUCCEEDED(IMFMediaType_GetBlob(mt, &MF_MT_MPEG_SEQUENCE_HEADER, m->extradata, n, &n)) &&
                starts_with_start_code(m->extradata, n)) {
                m->ss.extradata = m->extradata;
                m->ss.extradata_len = n;
            }
        }
    }
    return 0;
}

int vr_mf_open(const char *path, struct vr_mf **out, char *err, size_t errlen)
{
    if (!path || !out)
        return -EINVAL;
    struct vr_mf *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->last_end = INT64_MIN;
    int ret = -EIO;
    IMFMediaType *mt = NULL;
    HRESULT hr = CoInitializeEx(NULL, COINIT_MULTITHREADED);
    m->com_init = SUCCEEDED(hr); /* RPC_E_CHANGED_MODE: COM is up in another mode */
    hr = MFStartup(MF_VERSION, MFSTARTUP_NOSOCKET);
    if (FAILED(hr)) {
        set_error(err, errlen, "Media Foundation does not start (0x%08lx)", (unsigned long)hr);
        goto fail;
    }
    m->mf_started = true;
    wchar_t wpath[MAX_PATH * 2];
    wchar_t full[MAX_PATH * 2];
    if (!MultiByteToWideChar(CP_ACP, 0, path, -1, wpath, MAX_PATH * 2) ||
        !GetFullPathNameW(wpath, MAX_PATH * 2, full, NULL)) {
        set_error(err, errlen, "%s: path too long", path);
        ret = -ENAMETOOLONG;
        goto fail;
    }
    if (GetFileAttributesW(full) == INVALID_FILE_ATTRIBUTES) {
        set_error(err, errlen, "%s: no such file", path);
        ret = -ENOENT;
        goto fail;
    }
    hr = MFCreateSourceReaderFromURL(full, NULL, &m->reader);
    if (FAILED(hr)) {
        set_error(err, errlen, "%s: Media Foundation cannot open it (0x%08lx)", path, (unsigned long)hr);
        ret = hr == (HRESULT)MF_E_UNSUPPORTED_BYTESTREAM_TYPE ? -ENOTSUP : -EIO;
        goto fail;
    }
    IMFSourceReader_SetStreamSelection(m->reader, (DWORD)MF_SOURCE_READER_ALL_STREAMS, FALSE);
    hr = IMFSourceReader_SetStreamSelection(m->reader, VIDEO_STREAM, TRUE);
    if (SUCCEEDED(hr))
        hr = IMFSourceReader_GetNativeMediaType(m->reader, VIDEO_STREAM, 0, &mt);
    if (FAILED(hr)) {
        set_error(err, errlen, "%s: no video stream (0x%08lx)", path, (unsigned long)hr);
        ret = -ENOTSUP;
        goto fail;
    }
    /* The first native type that is compressed video we carry. */
    ret = describe(m, mt, path, err, errlen);
    IMFMediaType_Release(mt);
    char offered[96] = "";
    for (DWORD i = 1; ret == -ENOTSUP && i < 16; i++) {
        if (FAILED(IMFSourceReader_GetNativeMediaType(m->reader, VIDEO_STREAM, i, &mt)))
            break;
        ret = describe(m, mt, path, err, errlen);
        IMFMediaType_Release(mt);
    }
    if (ret == -ENOTSUP) {
        /* Name every type offered: under Wine 8 (winegstreamer) these are
         * decoded formats only. */
        for (DWORD i = 0; i < 16; i++) {
            GUID sub;
            char fourcc[5];
            if (FAILED(IMFSourceReader_GetNativeMediaType(m->reader, VIDEO_STREAM, i, &mt)))
                break;
            if (SUCCEEDED(IMFMediaType_GetGUID(mt, &MF_MT_SUBTYPE, &sub))) {
                codec_of(&sub, fourcc);
                size_t l = strlen(offered);
                snprintf(offered + l, sizeof(offered) - l, "%s%s", l ? ", " : "", fourcc);
            }
            IMFMediaType_Release(mt);
        }
        set_error(err, errlen,
                  "%s: Media Foundation offers the video only as %s (decoded pictures, or a codec "
                  "videoredir does not carry): videoredir needs the compressed samples",
                  path, offered);
    }
    if (ret < 0)
        goto fail;
    *out = m;
    return 0;
fail:
    vr_mf_close(m);
    return ret;
}

void vr_mf_close(struct vr_mf *m)
{
    if (!m)
        return;
    if (m->reader)
        IMFSourceReader_Release(m->reader);
    if (m->mf_started)
        MFShutdown();
    if (m->com_init)
        CoUninitialize();
    free(m->extradata);
    free(m->buf);
    free(m);
}

const struct vr_stream_start *vr_mf_stream_start(const struct vr_mf *m)
{
    return &m->ss;
}

int vr_mf_read(struct vr_mf *m, struct vr_au *au)
{
    if (!m || !au)
        return -EINVAL;
    m->error[0] = '\0';
    for (;;) {
        DWORD index = 0, flags = 0;
        LONGLONG ts = 0;
        IMFSample *s = NULL;
        HRESULT hr = IMFSourceReader_ReadSample(m->reader, VIDEO_STREAM, 0, &index, &flags, &ts, &s);
        if (FAILED(hr) || (flags & MF_SOURCE_READERF_ERROR)) {
            snprintf(m->error, sizeof(m->error), "Media Foundation read error (0x%08lx)", (unsigned long)hr);
            if (s)
                IMFSample_Release(s);
            return -EIO;
        }
        if (flags & MF_SOURCE_READERF_ENDOFSTREAM) {
            if (s)
                IMFSample_Release(s);
            return 0;
        }
        if (!s)
            continue; /* a stream tick or a type change without data */
        IMFMediaBuffer *b = NULL;
        BYTE *p = NULL;
        DWORD len = 0;
        int ret = 1;
        hr = IMFSample_ConvertToContiguousBuffer(s, &b);
        if (SUCCEEDED(hr))
            hr = IMFMediaBuffer_Lock(b, &p, NULL, &len);
        if (FAILED(hr)) {
            snprintf(m->error, sizeof(m->error), "cannot read a sample (0x%08lx)", (unsigned long)hr);
            ret = -EIO;
        } else if (len == 0) {
            ret = 0; /* nothing to carry: skipped below */
        } else if (len > VR_MAX_FRAME_DATA) {
            snprintf(m->error, sizeof(m->error), "sample of %lu bytes is over the limit", (unsigned long)len);
            ret = -EFBIG;
        } else {
            if (len > m->cap) {
                uint8_t *nb = realloc(m->buf, len);
                if (!nb)
                    ret = -ENOMEM;
                else {
                    m->buf = nb;
                    m->cap = len;
                }
            }
            if (ret == 1)
                memcpy(m->buf, p, len);
        }
        if (p)
            IMFMediaBuffer_Unlock(b);
        if (b)
            IMFMediaBuffer_Release(b);
        if (ret == 1 && (ts < -MAX_TS || ts > MAX_TS || m->base > INT64_MAX / 2)) {
            /* Bounded so that ts + the shift of later passes cannot overflow. */
            snprintf(m->error, sizeof(m->error), "sample time %lld out of range", (long long)ts);
            ret = -EINVAL;
        }
        if (ret == 1) {
            memset(au, 0, sizeof(*au));
            au->data = m->buf;
            au->len = len;
            UINT32 clean = 0;
            if (SUCCEEDED(IMFSample_GetUINT32(s, &MFSampleExtension_CleanPoint, &clean)) && clean)
                au->flags |= VR_FRAME_KEY;
            LONGLONG dur = 0;
            IMFSample_GetSampleDuration(s, &dur);
            UINT64 dts = 0;
            au->pts = ts + m->base;
            au->dts = SUCCEEDED(IMFSample_GetUINT64(s, &MFSampleExtension_DecodeTimestamp, &dts))
                          ? (int64_t)dts + m->base : INT64_MIN;
            au->duration = dur > 0 && dur < MAX_TS ? dur : 0;
            int64_t end = au->pts + au->duration;
            if (end > m->last_end)
                m->last_end = end;
        }
        IMFSample_Release(s);
        if (ret != 0)
            return ret;
    }
}

int vr_mf_rewind(struct vr_mf *m)
{
    if (!m)
        return -EINVAL;
    PROPVARIANT pos;
    PropVariantInit(&pos);
    pos.vt = VT_I8;
    pos.hVal.QuadPart = 0;
    HRESULT hr = IMFSourceReader_SetCurrentPosition(m->reader, &GUID_NULL, &pos);
    if (FAILED(hr)) {
        snprintf(m->error, sizeof(m->error), "cannot seek to the start (0x%08lx)", (unsigned long)hr);
        return -EIO;
    }
    if (m->last_end != INT64_MIN)
        m->base = m->last_end;
    m->last_end = INT64_MIN;
    return 0;
}

const char *vr_mf_error(const struct vr_mf *m)
{
    return m ? m->error : "";
}
