/*
 * vr-mfplay.exe: a small Media Foundation test player for the videoredir
 * decoder transform. It reads an elementary stream (Annex B H.264/HEVC, or
 * IVF VP8/VP9/AV1) with the capture's demuxer, asks Media Foundation for
 * the video decoders of that subtype (MFTEnumEx, sorted, local ones
 * included), and does what a topology loader or source reader does with
 * them: activate each in turn, offer it the input type and NV12 out, and
 * take the first that accepts both. Then it pushes the access units
 * through IMFTransform::ProcessInput/ProcessOutput, drains at the end and
 * reports which decoder decoded, how many frames came out and, for the
 * videoredir transform's frames, the marker code they carry.
 *
 * Why not the source reader: under Wine 8 the MP4 source (winegstreamer)
 * decodes by itself and never hands a decoder MFT compressed samples, so
 * here the player feeds the decoder it found; the enumeration and type
 * negotiation are Media Foundation's own.
 *
 * Exit: 0 ok, 1 failure (bad input, no decoder, --expect not met, a frame
 * without the marker under --marker), 2 usage.
 */
#define COBJMACROS
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <windows.h>
#include <mfapi.h>
#include <mferror.h>
#include <mfidl.h>
#include <mftransform.h>
#include <wincrypt.h>

#include <videoredir/marker.h>

#include "es.h"

struct opts {
    const char *dll;    /* MFTRegisterLocal with this DLL's class factory */
    const char *expect; /* "videoredir" or "other" */
    bool marker, prefer, no_pace, params_in_type;
    long max_frames, loops;
    const char *clip;
    const char *md5; /* file: "marker|picture MD5" per frame of the videoredir transform */
};

struct run {
    IMFTransform *mft;
    wchar_t name[256];
    bool ours;
    uint32_t width, height, stride;
    GUID out_sub;
    long frames_in, frames_out, marked, unmarked; /* unmarked: real pictures without the marker */
    uint32_t code; /* marker code of the frames seen, 0 none yet */
    FILE *md5;
    /* Runs of frame kinds in output order, e.g. "M75 P100 M50" (marker,
     * picture, other), for the tests of a client leaving and coming back. */
    char runs[256];
    char run_kind;
    long run_len;
    bool code_changed;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: vr-mfplay.exe [--dll videoredir-mft.dll] [--prefer] [--expect videoredir|other] [--marker]\n"
               "                     [--frames N] CLIP\n"
               "Decodes CLIP (Annex B .h264/.hevc, or .ivf) with the first video decoder Media Foundation\n"
               "offers (MFTEnumEx) that accepts it, and says which one did.\n"
               "  --dll PATH   register the videoredir transform for this process (MFTRegisterLocal)\n"
               "               instead of using the regsvr32 registration\n"
               "  --prefer     also put it on the plug-in control's preferred list for the subtype\n"
               "  --expect W   fail unless the videoredir transform (videoredir) or another decoder (other) decoded\n"
               "  --marker     fail unless every frame out carries one videoredir marker code\n"
               "  --frames N   stop after N access units\n"
               "  --loop N     play the clip N times\n"
               "  --params-in-type  H.264/HEVC: take the parameter sets out of the samples and give them in\n"
               "               MF_MT_MPEG_SEQUENCE_HEADER, as Windows' MP4 source does\n"
               "  --md5 FILE   write the MD5 of each NV12 frame of the videoredir transform (visible area,\n"
               "               as ffmpeg -pix_fmt nv12 -f framemd5 hashes it), marked 'marker' or 'picture'\n"
               "  --pace none  push access units as fast as the decoder takes them (default: at the\n"
               "               clip's frame rate, as a player's renderer asks for them)\n");
}

static const GUID *subtype_of(uint16_t codec)
{
    switch (codec) {
    case VR_CODEC_H264: return &MFVideoFormat_H264;
    case VR_CODEC_HEVC: return &MFVideoFormat_HEVC;
    case VR_CODEC_VP8: return &MFVideoFormat_VP80;
    case VR_CODEC_VP9: return &MFVideoFormat_VP90;
    case VR_CODEC_AV1: return &MFVideoFormat_AV1;
    default: return NULL;
    }
}

/* {3AF548DE-4761-4F02-AE4F-752EBCE4E47C}, guest-capture/win32/mft/dll.c */
static const CLSID clsid_videoredir = { 0x3af548de, 0x4761, 0x4f02,
                                        { 0xae, 0x4f, 0x75, 0x2e, 0xbc, 0xe4, 0xe4, 0x7c } };

static int register_local(const char *dll, const GUID *sub, bool prefer)
{
    HMODULE h = LoadLibraryA(dll);
    if (!h) {
        fprintf(stderr, "cannot load %s (error %lu)\n", dll, (unsigned long)GetLastError());
        return -1;
    }
    typedef HRESULT(WINAPI * get_class_fn)(REFCLSID, REFIID, void **);
    get_class_fn get = (get_class_fn)(void (*)(void))GetProcAddress(h, "DllGetClassObject");
    IClassFactory *cf = NULL;
    HRESULT hr = get ? get(&clsid_videoredir, &IID_IClassFactory, (void **)&cf) : E_FAIL;
    if (FAILED(hr)) {
        fprintf(stderr, "%s: no class factory (0x%08lx)\n", dll, (unsigned long)hr);
        return -1;
    }
    MFT_REGISTER_TYPE_INFO in = { MFMediaType_Video, *sub }, out = { MFMediaType_Video, MFVideoFormat_NV12 };
    hr = MFTRegisterLocal(cf, &MFT_CATEGORY_VIDEO_DECODER, L"videoredir decoder (local)", 0, 1, &in, 1, &out);
    IClassFactory_Release(cf);
    if (FAILED(hr)) {
        fprintf(stderr, "MFTRegisterLocal failed (0x%08lx)\n", (unsigned long)hr);
        return -1;
    }
    printf("registered for this process: %s\n", dll);
    if (prefer) {
        IMFPluginControl *pc = NULL;
        wchar_t key[64];
        StringFromGUID2(sub, key, 64);
        hr = MFGetPluginControl(&pc);
        if (SUCCEEDED(hr))
            hr = IMFPluginControl_SetPreferredClsid(pc, MF_Plugin_Type_MFT, key, &clsid_videoredir);
        printf("preferred list for %ls: 0x%08lx\n", key, (unsigned long)hr);
        if (pc)
            IMFPluginControl_Release(pc);
    }
    return 0;
}

/* Annex B parameter sets (H.264 SPS/PPS, HEVC VPS/SPS/PPS) moved out of
 * the samples into the media type, as Windows' MPEG-4 source gives them. */
static uint8_t *seq_hdr;
static size_t seq_hdr_len;

static bool is_param(uint16_t codec, uint8_t nal)
{
    if (codec == VR_CODEC_H264)
        return (nal & 0x1f) == 7 || (nal & 0x1f) == 8;
    unsigned t = (nal >> 1) & 0x3f;
    return t >= 32 && t <= 34;
}

/* Copies the NAL units of p that are not parameter sets into out (room
 * for n bytes); the parameter sets go to seq_hdr (collected from the first
 * access unit that has them only). Returns the bytes kept. */
static size_t strip_params(uint16_t codec, const uint8_t *p, size_t n, uint8_t *out)
{
    size_t kept = 0, seg = 0;
    bool collect = seq_hdr_len == 0;
    for (size_t i = 0; i <= n; i++) {
        bool code = i + 3 <= n && p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1;
        if (!code && i < n)
            continue;
        size_t start = code && i > 0 && p[i - 1] == 0 ? i - 1 : i; /* four-byte start code */
        if (start > seg) {
            /* The segment [seg, start): a start code and its NAL unit. */
            size_t h = seg;
            while (h < start && p[h] == 0)
                h++;
            h++; /* past the 01 */
            if (h < start && is_param(codec, p[h])) {
                if (collect) {
                    uint8_t *g = realloc(seq_hdr, seq_hdr_len + (start - seg));
                    if (g) {
                        memcpy(g + seq_hdr_len, p + seg, start - seg);
                        seq_hdr = g;
                        seq_hdr_len += start - seg;
                    }
                }
            } else {
                memcpy(out + kept, p + seg, start - seg);
                kept += start - seg;
            }
            seg = start;
        }
        if (code)
            i += 2;
    }
    return kept;
}

static HRESULT make_input_type(const struct vr_stream_start *st, IMFMediaType **out)
{
    IMFMediaType *t;
    HRESULT hr = MFCreateMediaType(&t);
    if (FAILED(hr))
        return hr;
    IMFMediaType_SetGUID(t, &MF_MT_MAJOR_TYPE, &MFMediaType_Video);
    IMFMediaType_SetGUID(t, &MF_MT_SUBTYPE, subtype_of(st->codec));
    IMFMediaType_SetUINT64(t, &MF_MT_FRAME_SIZE, ((UINT64)st->width << 32) | st->height);
    if (st->fps_num && st->fps_den)
        IMFMediaType_SetUINT64(t, &MF_MT_FRAME_RATE, ((UINT64)st->fps_num << 32) | st->fps_den);
    IMFMediaType_SetUINT32(t, &MF_MT_INTERLACE_MODE, MFVideoInterlace_MixedInterlaceOrProgressive);
    if (seq_hdr_len)
        IMFMediaType_SetBlob(t, &MF_MT_MPEG_SEQUENCE_HEADER, seq_hdr, (UINT32)seq_hdr_len);
    *out = t;
    return S_OK;
}

/* Offers NV12 (the first type that is NV12, else the first one). */
static HRESULT set_output(struct run *r)
{
    IMFMediaType *t = NULL, *first = NULL;
    HRESULT hr;
    for (DWORD i = 0;; i++) {
        hr = IMFTransform_GetOutputAvailableType(r->mft, 0, i, &t);
        if (FAILED(hr))
            break;
        GUID sub;
        if (SUCCEEDED(IMFMediaType_GetGUID(t, &MF_MT_SUBTYPE, &sub)) && IsEqualGUID(&sub, &MFVideoFormat_NV12)) {
            if (first)
                IMFMediaType_Release(first);
            first = t;
            break;
        }
        if (!first)
            first = t;
        else
            IMFMediaType_Release(t);
    }
    if (!first)
        return FAILED(hr) ? hr : MF_E_INVALIDMEDIATYPE;
    hr = IMFTransform_SetOutputType(r->mft, 0, first, 0);
    if (SUCCEEDED(hr)) {
        UINT64 size = 0;
        UINT32 stride = 0;
        IMFMediaType_GetGUID(first, &MF_MT_SUBTYPE, &r->out_sub);
        if (SUCCEEDED(IMFMediaType_GetUINT64(first, &MF_MT_FRAME_SIZE, &size))) {
            r->width = (uint32_t)(size >> 32);
            r->height = (uint32_t)size;
        }
        r->stride = SUCCEEDED(IMFMediaType_GetUINT32(first, &MF_MT_DEFAULT_STRIDE, &stride)) && (INT32)stride > 0
                        ? stride
                        : r->width;
    }
    IMFMediaType_Release(first);
    return hr;
}

/* A decoder's name: its activation object's, else the transform's own
 * attributes', else its CLSID (Wine's MFTEnumEx gives no names). Whether
 * it is the videoredir transform: by CLSID, from either. */
static void describe(IMFActivate *act, IMFTransform *t, wchar_t *name, size_t n, bool *ours)
{
    CLSID clsid = GUID_NULL;
    wchar_t *s = NULL;
    UINT32 len = 0;
    IMFAttributes *a = NULL;
    name[0] = 0;
    IMFActivate_GetGUID(act, &MFT_TRANSFORM_CLSID_Attribute, &clsid);
    if (SUCCEEDED(IMFActivate_GetAllocatedString(act, &MFT_FRIENDLY_NAME_Attribute, &s, &len))) {
        wcsncpy(name, s, n - 1);
        name[n - 1] = 0;
        CoTaskMemFree(s);
    }
    if (t && SUCCEEDED(IMFTransform_GetAttributes(t, &a)) && a) {
        if (IsEqualGUID(&clsid, &GUID_NULL))
            IMFAttributes_GetGUID(a, &MFT_TRANSFORM_CLSID_Attribute, &clsid);
        if (!name[0] && SUCCEEDED(IMFAttributes_GetAllocatedString(a, &MFT_FRIENDLY_NAME_Attribute, &s, &len))) {
            wcsncpy(name, s, n - 1);
            name[n - 1] = 0;
            CoTaskMemFree(s);
        }
        IMFAttributes_Release(a);
    }
    if (!name[0] && !IsEqualGUID(&clsid, &GUID_NULL)) {
        wcscpy(name, L"CLSID ");
        StringFromGUID2(&clsid, name + 6, (int)n - 6);
    }
    if (!name[0])
        wcsncpy(name, L"(no name, no CLSID)", n - 1);
    *ours = IsEqualGUID(&clsid, &clsid_videoredir);
}

/* Activates the decoders in Media Foundation's order and keeps the first
 * that takes the input type and gives an output type. */
static int pick_decoder(const struct vr_stream_start *st, struct run *r)
{
    MFT_REGISTER_TYPE_INFO in = { MFMediaType_Video, *subtype_of(st->codec) };
    IMFActivate **acts = NULL;
    UINT32 n = 0;
    HRESULT hr = MFTEnumEx(MFT_CATEGORY_VIDEO_DECODER,
                           MFT_ENUM_FLAG_SYNCMFT | MFT_ENUM_FLAG_LOCALMFT | MFT_ENUM_FLAG_SORTANDFILTER, &in, NULL,
                           &acts, &n);
    if (FAILED(hr)) {
        fprintf(stderr, "MFTEnumEx failed (0x%08lx)\n", (unsigned long)hr);
        return -1;
    }
    printf("decoders Media Foundation offers for %s, in order:\n", vr_codec_name(st->codec));
    for (UINT32 i = 0; i < n; i++) {
        wchar_t name[128];
        bool ours;
        describe(acts[i], NULL, name, 128, &ours);
        printf("  %u. %ls%s\n", (unsigned)i + 1, name, ours ? " [videoredir]" : "");
    }
    int ret = -1;
    for (UINT32 i = 0; i < n && ret < 0; i++) {
        IMFTransform *t = NULL;
        IMFMediaType *type = NULL;
        hr = IMFActivate_ActivateObject(acts[i], &IID_IMFTransform, (void **)&t);
        wchar_t name[128] = L"?";
        bool ours = false;
        describe(acts[i], t, name, 128, &ours);
        if (SUCCEEDED(hr))
            hr = make_input_type(st, &type);
        if (SUCCEEDED(hr)) {
            hr = IMFTransform_SetInputType(t, 0, type, 0);
            IMFMediaType_Release(type);
        }
        if (SUCCEEDED(hr)) {
            r->mft = t;
            hr = set_output(r);
            if (FAILED(hr))
                r->mft = NULL;
        }
        if (SUCCEEDED(hr)) {
            r->ours = ours;
            wcsncpy(r->name, name, 255);
            printf("decoder: %ls%s\n", r->name, r->ours ? " [videoredir]" : "");
            ret = 0;
        } else {
            printf("  %ls%s declined the stream (0x%08lx): trying the next\n", name, ours ? " [videoredir]" : "",
                   (unsigned long)hr);
            if (t) {
                IMFTransform_Release(t);
                IMFActivate_ShutdownObject(acts[i]);
            }
        }
    }
    for (UINT32 i = 0; i < n; i++)
        IMFActivate_Release(acts[i]);
    CoTaskMemFree(acts);
    if (ret < 0)
        fprintf(stderr, "no decoder took the %s stream\n", vr_codec_name(st->codec));
    return ret;
}

/* Which marker code the NV12 luma carries: every sub-block's centre at the
 * level the code gives it (limited range). 0 if none matches. */
static uint32_t find_marker(const uint8_t *y, uint32_t w, uint32_t h, uint32_t stride)
{
    static const double levels[4] = { VR_MARKER_LEVEL0, VR_MARKER_LEVEL1, VR_MARKER_LEVEL2, VR_MARKER_LEVEL3 };
    int seen[VR_MARKER_LATTICE_H][VR_MARKER_LATTICE_W];
    for (uint32_t gy = 0; gy < VR_MARKER_LATTICE_H; gy++) {
        for (uint32_t gx = 0; gx < VR_MARKER_LATTICE_W; gx++) {
            uint32_t px = (uint32_t)(((uint64_t)(2 * gx + 1) * w) / (2 * VR_MARKER_LATTICE_W));
            uint32_t py = (uint32_t)(((uint64_t)(2 * gy + 1) * h) / (2 * VR_MARKER_LATTICE_H));
            double v = y[(size_t)py * stride + px], best = 1e9;
            seen[gy][gx] = -1;
            for (int k = 0; k < 4; k++) {
                double d = v - (16.0 + levels[k] * 219.0 / 255.0);
                if (d < 0)
                    d = -d;
                if (d < best) {
                    best = d;
                    seen[gy][gx] = k;
                }
            }
        }
    }
    for (uint32_t code = VR_MARKER_CODE_MIN; code <= VR_MARKER_CODE_MAX; code++) {
        bool all = true;
        for (uint32_t gy = 0; gy < VR_MARKER_LATTICE_H && all; gy++)
            for (uint32_t gx = 0; gx < VR_MARKER_LATTICE_W && all; gx++)
                all = vr_marker_level_index(code, gx, gy) == seen[gy][gx];
        if (all)
            return code;
    }
    return 0;
}

/* MD5 of the visible NV12 picture (luma rows, then chroma rows after the
 * even-rounded luma height), as lowercase hex. */
static void nv12_md5(const uint8_t *p, uint32_t w, uint32_t h, uint32_t stride, char hex[33])
{
    HCRYPTPROV prov = 0;
    HCRYPTHASH hash = 0;
    BYTE sum[16];
    DWORD n = sizeof(sum);
    hex[0] = 0;
    if (!CryptAcquireContextW(&prov, NULL, NULL, PROV_RSA_FULL, CRYPT_VERIFYCONTEXT))
        return;
    if (CryptCreateHash(prov, CALG_MD5, 0, 0, &hash)) {
        for (uint32_t y = 0; y < h; y++)
            CryptHashData(hash, p + (size_t)y * stride, w, 0);
        const uint8_t *uv = p + (size_t)stride * ((h + 1) & ~1u);
        for (uint32_t y = 0; y < (h + 1) / 2; y++)
            CryptHashData(hash, uv + (size_t)y * stride, (w + 1) & ~1u, 0);
        if (CryptGetHashParam(hash, HP_HASHVAL, sum, &n, 0))
            for (int i = 0; i < 16; i++)
                snprintf(hex + 2 * i, 3, "%02x", sum[i]);
        CryptDestroyHash(hash);
    }
    CryptReleaseContext(prov, 0);
}

static void end_run(struct run *r)
{
    size_t l = strlen(r->runs);
    if (r->run_len && l + 24 < sizeof(r->runs))
        snprintf(r->runs + l, sizeof(r->runs) - l, "%s%c%ld", l ? " " : "", r->run_kind, r->run_len);
    r->run_len = 0;
}

static void add_run(struct run *r, char kind)
{
    if (r->run_len && kind != r->run_kind)
        end_run(r);
    r->run_kind = kind;
    r->run_len++;
}

static void check_frame(struct run *r, IMFSample *s)
{
    r->frames_out++;
    if (!r->ours || !IsEqualGUID(&r->out_sub, &MFVideoFormat_NV12) || !r->width || !r->height)
        return;
    IMFMediaBuffer *b = NULL;
    BYTE *p;
    DWORD len = 0;
    if (FAILED(IMFSample_ConvertToContiguousBuffer(s, &b)))
        return;
    if (SUCCEEDED(IMFMediaBuffer_Lock(b, &p, NULL, &len))) {
        if ((uint64_t)r->stride * ((r->height + 1) & ~1u) * 3 / 2 <= len) {
            uint32_t code = find_marker(p, r->width, r->height, r->stride);
            if (r->md5) {
                char hex[33];
                nv12_md5(p, r->width, r->height, r->stride, hex);
                fprintf(r->md5, "%s %s\n", code ? "marker" : "picture", hex);
            }
            if (code) {
                add_run(r, 'M');
                r->marked++;
                if (r->code && code != r->code)
                    r->code_changed = true;
                r->code = code;
            } else {
                /* Decoded by the transform's local decoder: a picture, not
                 * a flat fill. */
                int lo = 255, hi = 0;
                for (uint32_t gy = 0; gy < 16; gy++)
                    for (uint32_t gx = 0; gx < 16; gx++) {
                        int v = p[(size_t)((2 * gy + 1) * r->height / 32) * r->stride + (2 * gx + 1) * r->width / 32];
                        lo = v < lo ? v : lo;
                        hi = v > hi ? v : hi;
                    }
                if (hi - lo > 24)
                    r->unmarked++;
                add_run(r, hi - lo > 24 ? 'P' : 'F');
            }
        }
        IMFMediaBuffer_Unlock(b);
    }
    IMFMediaBuffer_Release(b);
}

/* Pulls what the decoder has. Returns 0 when it needs more input, -1 on an
 * error. A format change (Wine's and Windows' decoders announce the real
 * size on the first frame) renegotiates the output type. */
static int drain_outputs(struct run *r)
{
    for (;;) {
        MFT_OUTPUT_STREAM_INFO info;
        HRESULT hr = IMFTransform_GetOutputStreamInfo(r->mft, 0, &info);
        if (FAILED(hr))
            return -1;
        MFT_OUTPUT_DATA_BUFFER out = { 0 };
        IMFSample *mine = NULL;
        if (!(info.dwFlags & (MFT_OUTPUT_STREAM_PROVIDES_SAMPLES | MFT_OUTPUT_STREAM_CAN_PROVIDE_SAMPLES))) {
            IMFMediaBuffer *b = NULL;
            if (FAILED(MFCreateSample(&mine)) ||
                FAILED(MFCreateMemoryBuffer(info.cbSize ? info.cbSize : 1u << 22, &b)))
                return -1;
            IMFSample_AddBuffer(mine, b);
            IMFMediaBuffer_Release(b);
            out.pSample = mine;
        }
        DWORD status = 0;
        hr = IMFTransform_ProcessOutput(r->mft, 0, 1, &out, &status);
        if (out.pEvents)
            IMFCollection_Release(out.pEvents);
        if (hr == MF_E_TRANSFORM_NEED_MORE_INPUT) {
            if (mine)
                IMFSample_Release(mine);
            return 0;
        }
        if (hr == MF_E_TRANSFORM_STREAM_CHANGE) {
            if (mine)
                IMFSample_Release(mine);
            if (FAILED(set_output(r))) {
                fprintf(stderr, "the decoder's new output type was not accepted\n");
                return -1;
            }
            continue;
        }
        if (FAILED(hr)) {
            if (mine)
                IMFSample_Release(mine);
            fprintf(stderr, "ProcessOutput failed (0x%08lx)\n", (unsigned long)hr);
            return -1;
        }
        if (out.pSample)
            check_frame(r, out.pSample);
        if (out.pSample && out.pSample != mine)
            IMFSample_Release(out.pSample);
        if (mine)
            IMFSample_Release(mine);
    }
}

static int play(struct vr_es *es, struct run *r, long max_frames, long loops, bool pace, bool strip)
{
    const struct vr_stream_start *st = vr_es_stream_start(es);
    double period_ms = st->fps_num && st->fps_den ? 1000.0 * st->fps_den / st->fps_num : 40.0;
    ULONGLONG t0 = GetTickCount64();
    IMFTransform_ProcessMessage(r->mft, MFT_MESSAGE_NOTIFY_BEGIN_STREAMING, 0);
    IMFTransform_ProcessMessage(r->mft, MFT_MESSAGE_NOTIFY_START_OF_STREAM, 0);
    struct vr_au au;
    int rr;
    for (;;) {
        if (max_frames >= 0 && r->frames_in >= max_frames)
            break;
        rr = vr_es_read(es, &au);
        if (rr == 0 && --loops > 0 && vr_es_rewind(es) == 0)
            rr = vr_es_read(es, &au);
        if (rr <= 0)
            break;
        /* A player's renderer pulls frames at the video's rate; the
         * transform's session (like any player mode) drops frames when it
         * is fed much faster than the client decodes. */
        ULONGLONG due = t0 + (ULONGLONG)(r->frames_in * period_ms);
        ULONGLONG now = GetTickCount64();
        if (pace && due > now)
            Sleep((DWORD)(due - now));
        IMFSample *s = NULL;
        IMFMediaBuffer *b = NULL;
        BYTE *p;
        if (FAILED(MFCreateSample(&s)) || FAILED(MFCreateMemoryBuffer(au.len, &b)) ||
            FAILED(IMFMediaBuffer_Lock(b, &p, NULL, NULL)))
            return -1;
        DWORD len = au.len;
        if (strip)
            len = (DWORD)strip_params(st->codec, au.data, au.len, p);
        else
            memcpy(p, au.data, au.len);
        IMFMediaBuffer_Unlock(b);
        IMFMediaBuffer_SetCurrentLength(b, len);
        IMFSample_AddBuffer(s, b);
        IMFMediaBuffer_Release(b);
        /* Annex B has no presentation times (B-frames): none given. IVF
         * has them (no reordering there): in 100 ns units, as MF's. */
        if (au.pts != INT64_MIN && st->timebase_den)
            IMFSample_SetSampleTime(s, (LONGLONG)((double)au.pts * st->timebase_num * 1e7 / st->timebase_den));
        if (au.flags & VR_FRAME_KEY)
            IMFSample_SetUINT32(s, &MFSampleExtension_CleanPoint, 1);
        HRESULT hr;
        while ((hr = IMFTransform_ProcessInput(r->mft, 0, s, 0)) == MF_E_NOTACCEPTING) {
            if (drain_outputs(r) < 0) {
                IMFSample_Release(s);
                return -1;
            }
        }
        IMFSample_Release(s);
        if (FAILED(hr)) {
            fprintf(stderr, "ProcessInput failed (0x%08lx)\n", (unsigned long)hr);
            return -1;
        }
        r->frames_in++;
        if (drain_outputs(r) < 0)
            return -1;
    }
    IMFTransform_ProcessMessage(r->mft, MFT_MESSAGE_NOTIFY_END_OF_STREAM, 0);
    IMFTransform_ProcessMessage(r->mft, MFT_MESSAGE_COMMAND_DRAIN, 0);
    if (drain_outputs(r) < 0)
        return -1;
    IMFTransform_ProcessMessage(r->mft, MFT_MESSAGE_NOTIFY_END_STREAMING, 0);
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o = { .max_frames = -1, .loops = 1 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--dll") && i + 1 < argc) {
            o.dll = argv[++i];
        } else if (!strcmp(a, "--expect") && i + 1 < argc) {
            o.expect = argv[++i];
            if (strcmp(o.expect, "videoredir") && strcmp(o.expect, "other")) {
                usage(stderr);
                return 2;
            }
        } else if (!strcmp(a, "--md5") && i + 1 < argc) {
            o.md5 = argv[++i];
        } else if (!strcmp(a, "--loop") && i + 1 < argc) {
            o.loops = strtol(argv[++i], NULL, 10);
        } else if (!strcmp(a, "--frames") && i + 1 < argc) {
            o.max_frames = strtol(argv[++i], NULL, 10);
        } else if (!strcmp(a, "--marker")) {
            o.marker = true;
        } else if (!strcmp(a, "--pace") && i + 1 < argc) {
            const char *v = argv[++i];
            if (strcmp(v, "none") && strcmp(v, "realtime")) {
                usage(stderr);
                return 2;
            }
            o.no_pace = !strcmp(v, "none");
        } else if (!strcmp(a, "--params-in-type")) {
            o.params_in_type = true;
        } else if (!strcmp(a, "--prefer")) {
            o.prefer = true;
        } else if (a[0] == '-' || o.clip) {
            usage(stderr);
            return 2;
        } else {
            o.clip = a;
        }
    }
    if (!o.clip) {
        usage(stderr);
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    char err[256] = "";
    struct vr_es *es = NULL;
    int r = vr_es_open(o.clip, &es, err, sizeof(err));
    if (r < 0) {
        fprintf(stderr, "%s: %s\n", o.clip, err);
        return 1;
    }
    const struct vr_stream_start *st = vr_es_stream_start(es);
    if (!subtype_of(st->codec)) {
        fprintf(stderr, "%s: no Media Foundation subtype for this codec\n", o.clip);
        vr_es_close(es);
        return 1;
    }
    printf("%s: %s %ux%u\n", o.clip, vr_codec_name(st->codec), (unsigned)st->width, (unsigned)st->height);
    CoInitializeEx(NULL, COINIT_MULTITHREADED);
    MFStartup(MF_VERSION, MFSTARTUP_NOSOCKET);
    int ret = 1;
    struct run run = { 0 };
    if (o.dll && register_local(o.dll, subtype_of(st->codec), o.prefer) < 0)
        goto out;
    if (o.md5 && !(run.md5 = fopen(o.md5, "w"))) {
        fprintf(stderr, "cannot write %s\n", o.md5);
        goto out;
    }
    if (o.params_in_type) {
        /* The first access unit's parameter sets, for the media type; the
         * demuxer starts over for playing. */
        struct vr_au au;
        uint8_t *tmp = NULL;
        if (vr_es_read(es, &au) > 0 && (tmp = malloc(au.len)))
            strip_params(st->codec, au.data, au.len, tmp);
        free(tmp);
        vr_es_close(es);
        es = NULL;
        if (vr_es_open(o.clip, &es, err, sizeof(err)) < 0 || !seq_hdr_len) {
            fprintf(stderr, "%s: no parameter sets to move into the media type\n", o.clip);
            goto out;
        }
        st = vr_es_stream_start(es);
        printf("parameter sets in MF_MT_MPEG_SEQUENCE_HEADER: %zu bytes, taken out of the samples\n", seq_hdr_len);
    }
    if (pick_decoder(st, &run) < 0)
        goto out;
    DWORD t0 = GetTickCount();
    if (play(es, &run, o.max_frames, o.loops, !o.no_pace, o.params_in_type) < 0)
        goto out;
    printf("frames: %ld in, %ld out in %lu ms", run.frames_in, run.frames_out,
           (unsigned long)(GetTickCount() - t0));
    if (run.ours)
        printf(", %ld with the marker (code %u), %ld without", run.marked, (unsigned)run.code, run.unmarked);
    printf("\n");
    end_run(&run);
    if (run.ours)
        printf("runs: %s\n", run.runs);
    ret = 0;
    if (o.expect && (!strcmp(o.expect, "videoredir") != run.ours)) {
        fprintf(stderr, "FAIL: decoded by %ls, expected %s\n", run.name,
                !strcmp(o.expect, "other") ? "another decoder than videoredir's" : "videoredir's");
        ret = 1;
    }
    if (run.frames_out == 0) {
        fprintf(stderr, "FAIL: no frame came out\n");
        ret = 1;
    }
    if (o.marker && (!run.ours || run.marked != run.frames_out || run.code_changed)) {
        fprintf(stderr, "FAIL: %ld of %ld frames carry the marker%s\n", run.marked, run.frames_out,
                run.code_changed ? " (the code changed)" : "");
        ret = 1;
    }
out:
    if (run.mft)
        IMFTransform_Release(run.mft);
    if (run.md5)
        fclose(run.md5);
    vr_es_close(es);
    MFShutdown();
    CoUninitialize();
    /* The verdict, as the last thing printed: Wine's process may still crash
     * on its way out (tests/windows/lib.sh, vr_wine_rc). */
    printf("vr-mfplay: exit %d\n", ret);
    fflush(stdout);
    return ret;
}
