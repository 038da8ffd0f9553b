/*
 * The videoredir Media Foundation decoder transform: a synchronous
 * IMFTransform in MFT_CATEGORY_VIDEO_DECODER that takes H.264, HEVC, VP8,
 * VP9 and AV1 samples and decodes nothing. It sends each access unit,
 * undecoded, through the shared guest player session (videoredir/player.h)
 * to the SPICE client, and outputs NV12 placeholder frames of the video's
 * size carrying the placement marker (videoredir/marker.h, PROTOCOL.md
 * section 10), so that the client finds in the SPICE picture where the
 * player shows them and draws the video there.
 *
 * Never a black hole. Media Foundation picks a decoder when it builds the
 * pipeline (topology loader, source reader): it activates the decoders
 * MFTEnumEx lists, in order, and takes the first whose SetInputType and
 * SetOutputType succeed. That is the only moment another decoder can be
 * chosen, so SetInputType opens the session and waits (bounded, as the VLC
 * module does) for the client to accept the stream; when none does (no
 * port, the port closed because no SPICE client has the channel, no answer,
 * codec refused) it fails with MF_E_INVALIDMEDIATYPE and MF goes on to the
 * next decoder (the system's). A client that goes away mid-stream cannot
 * hand the video back that way: the transform then loads that next decoder
 * itself (MFTEnumEx without itself) and, from the next keyframe, feeds it
 * the samples and gives the player its pictures instead of placeholders,
 * until a client streams the video again (from a keyframe too).
 *
 * Threads: MF calls a synchronous MFT from one thread at a time, but not
 * always the same one; `lock` guards the state anyway. The player's `show`
 * callback runs on its I/O thread and takes only `show_lock`.
 */
#define COBJMACROS
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <windows.h>
#include <mfapi.h>
#include <mferror.h>
#include <mftransform.h>

#include <videoredir/marker.h>
#include <videoredir/player.h>

#include "mft.h"

/* Placeholders waiting to go out in presentation order, at most. */
#define PENDING_MAX 32
/* How long SetInputType waits for the client: its hello, then its answer
 * to the stream. */
#define HELLO_WAIT_US 1500000
#define ACCEPT_WAIT_US 3000000
/* The port not open after this long: it cannot be opened, or it closed
 * again (vioserial: no SPICE client has the port). */
#define PORT_OPEN_US 250000
/* Processes that use Media Foundation decoders without playing to a user:
 * Explorer's thumbnails (run in the dllhost.exe COM surrogate) and the
 * search indexer. They must decode for real. VIDEOREDIR_MFT_EXCLUDE
 * replaces the list (names separated by ';'; ";" alone for none: Windows
 * has no empty environment variables). */
#define DEFAULT_EXCLUDE "explorer.exe;dllhost.exe;SearchProtocolHost.exe;SearchFilterHost.exe;SearchIndexer.exe"
/* MF times are in 100 ns units: the stream's time base. */
#define MF_UNITS 10000000
/* Due time of the first frame after (re)starting: the player presents a
 * few frames later than it hands them to its decoder. */
#define CLOCK_LEAD_US 100000

const MFT_REGISTER_TYPE_INFO vr_mft_input_types[] = {
    { { 0x73646976, 0x0000, 0x0010, { 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71 } }, /* MFMediaType_Video */
      { 0x34363248, 0x0000, 0x0010, { 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71 } } }, /* H264 */
    { { 0x73646976, 0x0000, 0x0010, { 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71 } },
      { 0x43564548, 0x0000, 0x0010, { 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71 } } }, /* HEVC */
    { { 0x73646976, 0x0000, 0x0010, { 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71 } },
      { 0x30385056, 0x0000, 0x0010, { 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71 } } }, /* VP80 */
    { { 0x73646976, 0x0000, 0x0010, { 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71 } },
      { 0x30395056, 0x0000, 0x0010, { 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71 } } }, /* VP90 */
    { { 0x73646976, 0x0000, 0x0010, { 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71 } },
      { 0x31305641, 0x0000, 0x0010, { 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71 } } }, /* AV01 */
};
const unsigned vr_mft_n_input_types = sizeof(vr_mft_input_types) / sizeof(vr_mft_input_types[0]);
static const enum vr_codec input_codecs[] = { VR_CODEC_H264, VR_CODEC_HEVC, VR_CODEC_VP8, VR_CODEC_VP9,
                                              VR_CODEC_AV1 };
_Static_assert(sizeof(input_codecs) / sizeof(input_codecs[0]) ==
                   sizeof(vr_mft_input_types) / sizeof(vr_mft_input_types[0]),
               "one codec per input subtype");

const MFT_REGISTER_TYPE_INFO vr_mft_output_types[] = {
    { { 0x73646976, 0x0000, 0x0010, { 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71 } },
      { 0x3231564e, 0x0000, 0x0010, { 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71 } } }, /* NV12 */
};
const unsigned vr_mft_n_output_types = 1;

struct pending {
    LONGLONG time, duration;
};

/* The system's decoder, run inside the transform while no client shows
 * the video (mid-stream only: at the start the transform declines). */
struct local_dec {
    IMFTransform *mft;
    uint32_t w, h, stride; /* its NV12 output: size, luma stride */
    DWORD cb_size;               /* output buffer size it wants */
    bool provides;               /* it allocates its output samples */
};

struct vr_mft {
    IMFTransform iface;
    volatile LONG refs;

    SRWLOCK lock; /* everything below up to show_lock */
    IMFAttributes *attrs;
    IMFMediaType *in_type, *out_type;
    struct vr_stream_start start; /* of the session; extradata never set */
    uint8_t *seq_hdr;             /* MF_MT_MPEG_SEQUENCE_HEADER (Annex B parameter sets) */
    UINT32 seq_hdr_len;
    struct vr_player *player;
    uint32_t marker_code;
    bool finished;  /* drained: the stream is announced again on more input */
    bool discont;   /* after a flush: the next keyframe carries DISCONT */
    bool clock_set; /* pts <-> guest time sent since the start or the last flush */
    bool draining;
    bool gone_logged;
    LONGLONG next_time, frame_duration; /* for samples without a time */
    struct pending pending[PENDING_MAX];
    unsigned n_pending, reorder_depth;
    struct local_dec local; /* mft NULL: none */
    bool want_local;        /* the client left: the next keyframe starts local decoding */
    uint8_t *picture; /* NV12 placeholder of out size, marker drawn */
    uint32_t picture_code;
    DWORD picture_size;
    uint64_t frames_in, frames_out, frames_local;

    SRWLOCK show_lock;
    CONDITION_VARIABLE show_cond;
    enum vr_player_show show;
    char why[128];
};

static struct vr_mft *impl(IMFTransform *iface)
{
    return (struct vr_mft *)((char *)iface - offsetof(struct vr_mft, iface));
}

/* ---------------------------------------------------------------------- */
/* The player session.                                                       */

static void player_log(void *user, enum vr_log_level level, const char *msg)
{
    static const char *const names[] = { "error", "warning", "info", "debug" };
    (void)user;
    if (level <= VR_LOG_DEBUG)
        vr_mft_log("%s: %s", names[level], msg);
}

static void player_show(void *user, enum vr_player_show where, const char *why)
{
    struct vr_mft *m = user;
    AcquireSRWLockExclusive(&m->show_lock);
    m->show = where;
    snprintf(m->why, sizeof(m->why), "%s", why);
    ReleaseSRWLockExclusive(&m->show_lock);
    WakeAllConditionVariable(&m->show_cond);
}

/* A new marker code for the stream about to be announced (PROTOCOL.md
 * 10.2), never the previous one. */
static void mark_stream(struct vr_mft *m)
{
    uint64_t in_use = m->marker_code ? (uint64_t)1 << m->marker_code : 0;
    LARGE_INTEGER t;
    QueryPerformanceCounter(&t);
    uint64_t rnd = (uint64_t)t.QuadPart * 0x9e3779b97f4a7c15ull ^ ((uint64_t)GetCurrentProcessId() << 32) ^
                   (uint64_t)(uintptr_t)m;
    m->marker_code = vr_marker_code_pick(rnd, in_use);
    m->start.flags = (uint16_t)((m->start.flags & ~VR_STREAM_MARKER_MASK) | VR_STREAM_MARKED |
                                (m->marker_code << VR_STREAM_MARKER_SHIFT));
}

static int announce(struct vr_mft *m)
{
    struct vr_geometry geom = { 0, { 0, 0, m->start.width, m->start.height },
                                { 0, 0, m->start.width, m->start.height } };
    mark_stream(m);
    m->clock_set = false;
    return vr_player_set_stream(m->player, &m->start, &geom, NULL);
}

/* Waits until the client streams the video (true) or clearly will not
 * (the same rules as the VLC module's): the session failed (refused, no
 * common version, no answer), the port is not open, no hello in time. */
static bool wait_for_client(struct vr_mft *m, struct vr_player *player)
{
    uint64_t start = vr_time_us();
    bool seen_open = false;
    const char *why = NULL;
    AcquireSRWLockExclusive(&m->show_lock);
    while (m->show != VR_PLAYER_SHOW_CLIENT) {
        ReleaseSRWLockExclusive(&m->show_lock);
        struct vr_player_stats st;
        vr_player_get_stats(player, &st);
        uint64_t now = vr_time_us() - start;
        seen_open |= st.port_open;
        if (st.state == VR_GUEST_FAILED)
            why = "the client did not take it";
        else if (!st.port_open && (seen_open || now >= PORT_OPEN_US))
            why = "the port is not open (no vioserial port of that name, or no SPICE client has the channel)";
        else if ((st.state == VR_GUEST_CLOSED || st.state == VR_GUEST_HELLO) && now >= HELLO_WAIT_US)
            why = "no client answered";
        else if (now >= ACCEPT_WAIT_US)
            why = "no answer in time";
        AcquireSRWLockExclusive(&m->show_lock);
        if (why) {
            snprintf(m->why, sizeof(m->why), "%s, %s", why, vr_guest_state_name(st.state));
            break;
        }
        if (m->show != VR_PLAYER_SHOW_CLIENT)
            SleepConditionVariableSRW(&m->show_cond, &m->show_lock, 20, 0);
    }
    bool taken = !why;
    ReleaseSRWLockExclusive(&m->show_lock);
    return taken;
}

/* Stops and frees the session. Not with m->lock held by this thread while
 * the player's I/O thread may wait for it (it never does: the callback
 * takes show_lock only). */
static void local_stop(struct vr_mft *m);

static void session_end(struct vr_mft *m)
{
    local_stop(m);
    m->want_local = false;
    struct vr_player *p = m->player;
    m->player = NULL;
    if (p) {
        struct vr_player_stats st;
        vr_player_get_stats(p, &st);
        vr_mft_log("info: session ends: %llu access units in, %llu sent, %llu dropped, %llu pictures out "
                   "(%llu decoded locally)",
                   (unsigned long long)m->frames_in, (unsigned long long)st.guest.frames_sent,
                   (unsigned long long)st.guest.frames_dropped, (unsigned long long)m->frames_out,
                   (unsigned long long)m->frames_local);
        vr_player_destroy(p);
    }
    AcquireSRWLockExclusive(&m->show_lock);
    m->show = VR_PLAYER_SHOW_NONE;
    ReleaseSRWLockExclusive(&m->show_lock);
}

/* Whether this process is on the exclude list (see DEFAULT_EXCLUDE); its
 * name in *name. */
static bool excluded_process(char *name, size_t len)
{
    char path[MAX_PATH];
    DWORD n = GetModuleFileNameA(NULL, path, sizeof(path));
    if (n == 0 || n >= sizeof(path))
        return false;
    const char *base = path;
    for (const char *c = path; *c; c++)
        if (*c == '\\' || *c == '/')
            base = c + 1;
    snprintf(name, len, "%s", base);
    const char *list = getenv("VIDEOREDIR_MFT_EXCLUDE");
    if (!list)
        list = DEFAULT_EXCLUDE;
    size_t bl = strlen(base);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ';');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == bl && _strnicmp(p, base, l) == 0)
            return true;
        p += l + (e ? 1 : 0);
    }
    return false;
}

/* ---------------------------------------------------------------------- */
/* Access units.                                                             */

/* Walks the Annex B NAL units of p: whether one is a random access point,
 * and whether the parameter sets are there. */
static void scan_annexb(enum vr_codec codec, const uint8_t *p, size_t n, bool *key, bool *params)
{
    for (size_t i = 0; i + 3 < n; i++) {
        if (p[i] != 0 || p[i + 1] != 0 || p[i + 2] != 1)
            continue;
        uint8_t h = p[i + 3];
        if (codec == VR_CODEC_H264) {
            unsigned t = h & 0x1f;
            *key |= t == 5;
            *params |= t == 7;
        } else {
            unsigned t = (h >> 1) & 0x3f;
            *key |= t >= 16 && t <= 21;
            *params |= t == 33;
        }
        i += 2;
    }
}

/* VP8 and VP9 say it in their first bytes; an AV1 temporal unit that
 * carries a sequence header starts a key frame (as encoders write them). */
static bool other_key(enum vr_codec codec, const uint8_t *p, size_t n)
{
    if (n < 1)
        return false;
    if (codec == VR_CODEC_VP8)
        return (p[0] & 1) == 0;
    if (codec == VR_CODEC_VP9) {
        unsigned b = p[0];
        if ((b >> 6) != 2)
            return false;
        unsigned profile = ((b >> 5) & 1) | (((b >> 4) & 1) << 1);
        unsigned pos = profile == 3 ? 5 : 4; /* profile 3 has a reserved bit */
        if ((b >> (7 - pos)) & 1)
            return false; /* show_existing_frame */
        pos++;
        return pos <= 7 && ((b >> (7 - pos)) & 1) == 0;
    }
    if (codec == VR_CODEC_AV1) {
        size_t i = 0;
        while (i < n) {
            uint8_t h = p[i];
            unsigned type = (h >> 3) & 0xf;
            bool ext = (h >> 2) & 1, has_size = (h >> 1) & 1;
            if (type == 1)
                return true;
            i += 1 + (ext ? 1 : 0);
            if (!has_size)
                return false;
            uint64_t size = 0;
            for (unsigned k = 0; k < 8 && i < n; k++, i++) {
                size |= (uint64_t)(p[i] & 0x7f) << (7 * k);
                if (!(p[i] & 0x80)) {
                    i++;
                    break;
                }
            }
            if (size > n - (i < n ? i : n))
                return false;
            i += (size_t)size;
        }
    }
    return false;
}

/* The placeholder picture of the output size for the current marker code,
 * drawn once per stream. Lock held. */
static const uint8_t *placeholder(struct vr_mft *m)
{
    uint32_t w = m->start.width, h = m->start.height;
    uint32_t aw = (w + 1) & ~1u, ah = (h + 1) & ~1u;
    DWORD size = (DWORD)((uint64_t)aw * ah * 3 / 2);
    if (m->picture && m->picture_code == m->marker_code && m->picture_size == size)
        return m->picture;
    free(m->picture);
    m->picture = malloc(size);
    if (!m->picture)
        return NULL;
    m->picture_size = size;
    m->picture_code = m->marker_code;
    /* Flat dark grey-blue around and where no marker can be drawn. */
    memset(m->picture, 49, (size_t)aw * ah);
    for (size_t i = (size_t)aw * ah; i + 1 < size; i += 2) {
        m->picture[i] = 133;
        m->picture[i + 1] = 124;
    }
    if (vr_marker_draw_nv12(m->marker_code, w, h, 0, m->picture, aw, m->picture + (size_t)aw * ah, aw) < 0)
        vr_mft_log("warning: no marker drawn at %ux%u", (unsigned)w, (unsigned)h);
    return m->picture;
}

/* ---------------------------------------------------------------------- */
/* The local decoder.                                                        */

static void local_stop(struct vr_mft *m)
{
    if (!m->local.mft)
        return;
    IMFTransform_ProcessMessage(m->local.mft, MFT_MESSAGE_NOTIFY_END_STREAMING, 0);
    IMFTransform_Release(m->local.mft);
    memset(&m->local, 0, sizeof(m->local));
}

/* Takes the local decoder's current NV12 output type (size, stride). */
static HRESULT local_output(struct vr_mft *m)
{
    struct local_dec *l = &m->local;
    IMFMediaType *t = NULL;
    HRESULT hr;
    for (DWORD i = 0;; i++) {
        hr = IMFTransform_GetOutputAvailableType(l->mft, 0, i, &t);
        if (FAILED(hr))
            return hr;
        GUID sub;
        if (SUCCEEDED(IMFMediaType_GetGUID(t, &MF_MT_SUBTYPE, &sub)) && IsEqualGUID(&sub, &MFVideoFormat_NV12))
            break;
        IMFMediaType_Release(t);
    }
    hr = IMFTransform_SetOutputType(l->mft, 0, t, 0);
    if (SUCCEEDED(hr)) {
        UINT64 size = 0;
        UINT32 stride = 0;
        IMFMediaType_GetUINT64(t, &MF_MT_FRAME_SIZE, &size);
        l->w = (uint32_t)(size >> 32);
        l->h = (uint32_t)size;
        l->stride = SUCCEEDED(IMFMediaType_GetUINT32(t, &MF_MT_DEFAULT_STRIDE, &stride)) && (INT32)stride > 0
                        ? stride
                        : l->w;
        MFT_OUTPUT_STREAM_INFO info;
        if (SUCCEEDED(IMFTransform_GetOutputStreamInfo(l->mft, 0, &info))) {
            l->cb_size = info.cbSize;
            l->provides = info.dwFlags & MFT_OUTPUT_STREAM_PROVIDES_SAMPLES;
        }
    }
    IMFMediaType_Release(t);
    return hr;
}

/* Loads the best other decoder for the input type (never this one).
 * Lock held. */
static bool local_start(struct vr_mft *m)
{
    MFT_REGISTER_TYPE_INFO in = { MFMediaType_Video, GUID_NULL };
    IMFMediaType_GetGUID(m->in_type, &MF_MT_SUBTYPE, &in.guidSubtype);
    IMFActivate **acts = NULL;
    UINT32 n = 0;
    if (FAILED(MFTEnumEx(MFT_CATEGORY_VIDEO_DECODER, MFT_ENUM_FLAG_SYNCMFT | MFT_ENUM_FLAG_SORTANDFILTER, &in,
                         NULL, &acts, &n)))
        n = 0;
    for (UINT32 i = 0; i < n; i++) {
        CLSID clsid = GUID_NULL;
        IMFActivate_GetGUID(acts[i], &MFT_TRANSFORM_CLSID_Attribute, &clsid);
        IMFTransform *t = NULL;
        if (m->local.mft || IsEqualGUID(&clsid, &CLSID_VideoRedirMFT) ||
            FAILED(IMFActivate_ActivateObject(acts[i], &IID_IMFTransform, (void **)&t)))
            continue;
        IMFAttributes *a = NULL;
        CLSID own = GUID_NULL;
        if (SUCCEEDED(IMFTransform_GetAttributes(t, &a)) && a) {
            IMFAttributes_GetGUID(a, &MFT_TRANSFORM_CLSID_Attribute, &own);
            IMFAttributes_Release(a);
        }
        m->local.mft = t;
        if (IsEqualGUID(&own, &CLSID_VideoRedirMFT) || FAILED(IMFTransform_SetInputType(t, 0, m->in_type, 0)) ||
            FAILED(local_output(m))) {
            IMFTransform_Release(t);
            IMFActivate_ShutdownObject(acts[i]);
            memset(&m->local, 0, sizeof(m->local));
            continue;
        }
        wchar_t guid[40];
        StringFromGUID2(&clsid, guid, 40);
        vr_mft_log("info: decoding locally with %ls (NV12 %ux%u, stride %u)", guid, (unsigned)m->local.w,
                   (unsigned)m->local.h, (unsigned)m->local.stride);
        IMFTransform_ProcessMessage(t, MFT_MESSAGE_NOTIFY_BEGIN_STREAMING, 0);
        IMFTransform_ProcessMessage(t, MFT_MESSAGE_NOTIFY_START_OF_STREAM, 0);
    }
    for (UINT32 i = 0; i < n; i++)
        IMFActivate_Release(acts[i]);
    CoTaskMemFree(acts);
    if (!m->local.mft)
        vr_mft_log("warning: no other decoder for the stream: placeholders go on");
    return m->local.mft != NULL;
}

/* Copies a local decoder's NV12 picture (src_len bytes: luma rows of
 * stride bytes, then the chroma; a decoder may pad the height, e.g. to a
 * multiple of 16) into dst (the output size, luma stride aw, chroma after
 * ah luma rows), cropping to the visible top-left part or padding. */
static void copy_local(const struct vr_mft *m, const uint8_t *src, DWORD src_len, uint8_t *dst)
{
    const struct local_dec *l = &m->local;
    uint32_t w = m->start.width, h = m->start.height, aw = (w + 1) & ~1u, ah = (h + 1) & ~1u;
    uint32_t cw = w < l->w ? w : l->w, ch = h < l->h ? h : l->h;
    memset(dst, 16, (size_t)aw * ah);
    memset(dst + (size_t)aw * ah, 128, (size_t)aw * ah / 2);
    uint32_t rows = l->stride ? (uint32_t)((uint64_t)src_len * 2 / 3 / l->stride) : 0;
    if (rows < ch || cw > l->stride) {
        vr_mft_log("debug: local picture of %lu bytes for %ux%u, stride %u: not copied", (unsigned long)src_len,
                   (unsigned)l->w, (unsigned)l->h, (unsigned)l->stride);
        return;
    }
    for (uint32_t y = 0; y < ch; y++)
        memcpy(dst + (size_t)y * aw, src + (size_t)y * l->stride, cw);
    const uint8_t *suv = src + (size_t)l->stride * rows;
    uint8_t *duv = dst + (size_t)aw * ah;
    for (uint32_t y = 0; y < (ch + 1) / 2; y++)
        memcpy(duv + (size_t)y * aw, suv + (size_t)y * l->stride, (cw + 1) & ~1u);
}

/* One picture of the local decoder into the caller's sample. Returns S_OK,
 * MF_E_TRANSFORM_NEED_MORE_INPUT, or an error. Lock held. */
static HRESULT local_output_sample(struct vr_mft *m, IMFSample *dst_sample, IMFMediaBuffer *dst_buf, uint8_t *dst)
{
    struct local_dec *l = &m->local;
    for (int tries = 0; tries < 4; tries++) {
        MFT_OUTPUT_DATA_BUFFER out = { 0 };
        IMFSample *mine = NULL;
        if (!l->provides) {
            IMFMediaBuffer *b = NULL;
            if (FAILED(MFCreateSample(&mine)) || FAILED(MFCreateMemoryBuffer(l->cb_size ? l->cb_size : m->picture_size, &b))) {
                if (mine)
                    IMFSample_Release(mine);
                return E_OUTOFMEMORY;
            }
            IMFSample_AddBuffer(mine, b);
            IMFMediaBuffer_Release(b);
            out.pSample = mine;
        }
        DWORD status = 0;
        HRESULT hr = IMFTransform_ProcessOutput(l->mft, 0, 1, &out, &status);
        if (out.pEvents)
            IMFCollection_Release(out.pEvents);
        if (hr == MF_E_TRANSFORM_STREAM_CHANGE) {
            if (mine)
                IMFSample_Release(mine);
            hr = local_output(m);
            if (FAILED(hr))
                return hr;
            continue;
        }
        if (SUCCEEDED(hr) && out.pSample) {
            IMFMediaBuffer *b = NULL;
            BYTE *p;
            DWORD len = 0;
            if (SUCCEEDED(IMFSample_ConvertToContiguousBuffer(out.pSample, &b))) {
                if (SUCCEEDED(IMFMediaBuffer_Lock(b, &p, NULL, &len))) {
                    copy_local(m, p, len, dst);
                    IMFMediaBuffer_Unlock(b);
                }
                IMFMediaBuffer_Release(b);
            }
            LONGLONG t = 0;
            if (SUCCEEDED(IMFSample_GetSampleTime(out.pSample, &t)))
                IMFSample_SetSampleTime(dst_sample, t);
            if (SUCCEEDED(IMFSample_GetSampleDuration(out.pSample, &t)))
                IMFSample_SetSampleDuration(dst_sample, t);
            IMFMediaBuffer_SetCurrentLength(dst_buf, m->picture_size);
        }
        if (out.pSample && out.pSample != mine)
            IMFSample_Release(out.pSample);
        if (mine)
            IMFSample_Release(mine);
        return hr;
    }
    return E_FAIL;
}

/* ---------------------------------------------------------------------- */
/* Media types.                                                              */

static int codec_of(IMFMediaType *type)
{
    GUID major, sub;
    if (FAILED(IMFMediaType_GetGUID(type, &MF_MT_MAJOR_TYPE, &major)) ||
        !IsEqualGUID(&major, &MFMediaType_Video) || FAILED(IMFMediaType_GetGUID(type, &MF_MT_SUBTYPE, &sub)))
        return VR_CODEC_NONE;
    for (unsigned i = 0; i < vr_mft_n_input_types; i++)
        if (IsEqualGUID(&sub, &vr_mft_input_types[i].guidSubtype))
            return input_codecs[i];
    return VR_CODEC_NONE;
}

static HRESULT make_output_type(struct vr_mft *m, IMFMediaType **out)
{
    IMFMediaType *t;
    HRESULT hr = MFCreateMediaType(&t);
    if (FAILED(hr))
        return hr;
    uint32_t w = m->start.width, h = m->start.height, aw = (w + 1) & ~1u;
    IMFMediaType_SetGUID(t, &MF_MT_MAJOR_TYPE, &MFMediaType_Video);
    IMFMediaType_SetGUID(t, &MF_MT_SUBTYPE, &MFVideoFormat_NV12);
    IMFMediaType_SetUINT64(t, &MF_MT_FRAME_SIZE, ((UINT64)w << 32) | h);
    if (m->start.fps_num && m->start.fps_den)
        IMFMediaType_SetUINT64(t, &MF_MT_FRAME_RATE, ((UINT64)m->start.fps_num << 32) | m->start.fps_den);
    UINT64 par = 0;
    if (FAILED(IMFMediaType_GetUINT64(m->in_type, &MF_MT_PIXEL_ASPECT_RATIO, &par)) || !par)
        par = ((UINT64)1 << 32) | 1;
    IMFMediaType_SetUINT64(t, &MF_MT_PIXEL_ASPECT_RATIO, par);
    IMFMediaType_SetUINT32(t, &MF_MT_INTERLACE_MODE, MFVideoInterlace_Progressive);
    IMFMediaType_SetUINT32(t, &MF_MT_DEFAULT_STRIDE, aw);
    IMFMediaType_SetUINT32(t, &MF_MT_FIXED_SIZE_SAMPLES, TRUE);
    IMFMediaType_SetUINT32(t, &MF_MT_ALL_SAMPLES_INDEPENDENT, TRUE);
    IMFMediaType_SetUINT32(t, &MF_MT_SAMPLE_SIZE, (UINT32)((uint64_t)aw * ((h + 1) & ~1u) * 3 / 2));
    IMFMediaType_SetUINT32(t, &MF_MT_VIDEO_NOMINAL_RANGE, MFNominalRange_16_235);
    *out = t;
    return S_OK;
}

/* Reads what a stream start needs from an input type. Returns the codec,
 * or VR_CODEC_NONE (with a reason logged) for a type it cannot take. */
static int parse_input_type(IMFMediaType *type, struct vr_stream_start *st, uint8_t **seq, UINT32 *seq_len)
{
    int codec = codec_of(type);
    if (codec == VR_CODEC_NONE)
        return VR_CODEC_NONE;
    UINT64 size = 0, rate = 0;
    if (FAILED(IMFMediaType_GetUINT64(type, &MF_MT_FRAME_SIZE, &size))) {
        vr_mft_log("info: %s input type without MF_MT_FRAME_SIZE: declined", vr_codec_name(codec));
        return VR_CODEC_NONE;
    }
    uint32_t w = (uint32_t)(size >> 32), h = (uint32_t)size;
    if (w == 0 || h == 0 || w > VR_MAX_DIMENSION || h > VR_MAX_DIMENSION) {
        vr_mft_log("info: %s input type of size %ux%u: declined", vr_codec_name(codec), (unsigned)w, (unsigned)h);
        return VR_CODEC_NONE;
    }
    memset(st, 0, sizeof(*st));
    st->codec = (uint16_t)codec;
    st->flags = (codec == VR_CODEC_H264 || codec == VR_CODEC_HEVC) ? VR_STREAM_ANNEXB : 0;
    st->width = w;
    st->height = h;
    st->timebase_num = 1;
    st->timebase_den = MF_UNITS;
    if (SUCCEEDED(IMFMediaType_GetUINT64(type, &MF_MT_FRAME_RATE, &rate)) && (rate >> 32) && (uint32_t)rate) {
        st->fps_num = (uint32_t)(rate >> 32);
        st->fps_den = (uint32_t)rate;
    }
    st->color.primaries = st->color.transfer = st->color.matrix = 2; /* unspecified: the bitstream says */
    *seq = NULL;
    *seq_len = 0;
    if (st->flags & VR_STREAM_ANNEXB) {
        UINT8 *blob = NULL;
        UINT32 len = 0;
        if (SUCCEEDED(IMFMediaType_GetAllocatedBlob(type, &MF_MT_MPEG_SEQUENCE_HEADER, &blob, &len))) {
            if (len > 0 && len <= VR_MAX_EXTRADATA && (*seq = malloc(len)) != NULL) {
                memcpy(*seq, blob, len);
                *seq_len = len;
            }
            CoTaskMemFree(blob);
        }
    }
    return codec;
}

/* ---------------------------------------------------------------------- */
/* IUnknown.                                                                 */

static HRESULT WINAPI mft_QueryInterface(IMFTransform *iface, REFIID riid, void **out)
{
    if (!out)
        return E_POINTER;
    if (IsEqualIID(riid, &IID_IUnknown) || IsEqualIID(riid, &IID_IMFTransform)) {
        *out = iface;
        IMFTransform_AddRef(iface);
        return S_OK;
    }
    *out = NULL;
    return E_NOINTERFACE;
}

static ULONG WINAPI mft_AddRef(IMFTransform *iface)
{
    return (ULONG)InterlockedIncrement(&impl(iface)->refs);
}

static ULONG WINAPI mft_Release(IMFTransform *iface)
{
    struct vr_mft *m = impl(iface);
    LONG r = InterlockedDecrement(&m->refs);
    if (r == 0) {
        session_end(m);
        if (m->in_type)
            IMFMediaType_Release(m->in_type);
        if (m->out_type)
            IMFMediaType_Release(m->out_type);
        if (m->attrs)
            IMFAttributes_Release(m->attrs);
        free(m->seq_hdr);
        free(m->picture);
        free(m);
        InterlockedDecrement(&vr_mft_objects);
    }
    return (ULONG)r;
}

/* ---------------------------------------------------------------------- */
/* Streams.                                                                  */

static HRESULT WINAPI mft_GetStreamLimits(IMFTransform *iface, DWORD *in_min, DWORD *in_max, DWORD *out_min,
                                          DWORD *out_max)
{
    if (!in_min || !in_max || !out_min || !out_max)
        return E_POINTER;
    *in_min = *in_max = *out_min = *out_max = 1;
    return S_OK;
}

static HRESULT WINAPI mft_GetStreamCount(IMFTransform *iface, DWORD *in, DWORD *out)
{
    if (!in || !out)
        return E_POINTER;
    *in = *out = 1;
    return S_OK;
}

static HRESULT WINAPI mft_GetStreamIDs(IMFTransform *iface, DWORD in_size, DWORD *in, DWORD out_size, DWORD *out)
{
    return E_NOTIMPL; /* fixed streams, ids 0 */
}

static HRESULT WINAPI mft_GetInputStreamInfo(IMFTransform *iface, DWORD id, MFT_INPUT_STREAM_INFO *info)
{
    if (id != 0)
        return MF_E_INVALIDSTREAMNUMBER;
    if (!info)
        return E_POINTER;
    memset(info, 0, sizeof(*info));
    info->dwFlags = MFT_INPUT_STREAM_WHOLE_SAMPLES | MFT_INPUT_STREAM_SINGLE_SAMPLE_PER_BUFFER;
    return S_OK;
}

static HRESULT WINAPI mft_GetOutputStreamInfo(IMFTransform *iface, DWORD id, MFT_OUTPUT_STREAM_INFO *info)
{
    struct vr_mft *m = impl(iface);
    if (id != 0)
        return MF_E_INVALIDSTREAMNUMBER;
    if (!info)
        return E_POINTER;
    memset(info, 0, sizeof(*info));
    info->dwFlags = MFT_OUTPUT_STREAM_WHOLE_SAMPLES | MFT_OUTPUT_STREAM_SINGLE_SAMPLE_PER_BUFFER |
                    MFT_OUTPUT_STREAM_FIXED_SAMPLE_SIZE | MFT_OUTPUT_STREAM_CAN_PROVIDE_SAMPLES;
    AcquireSRWLockExclusive(&m->lock);
    if (m->in_type) {
        uint32_t aw = (m->start.width + 1) & ~1u, ah = (m->start.height + 1) & ~1u;
        info->cbSize = (DWORD)((uint64_t)aw * ah * 3 / 2);
    }
    ReleaseSRWLockExclusive(&m->lock);
    return S_OK;
}

static HRESULT WINAPI mft_GetAttributes(IMFTransform *iface, IMFAttributes **out)
{
    struct vr_mft *m = impl(iface);
    if (!out)
        return E_POINTER;
    if (!m->attrs)
        return E_NOTIMPL;
    IMFAttributes_AddRef(m->attrs);
    *out = m->attrs;
    return S_OK;
}

static HRESULT WINAPI mft_GetInputStreamAttributes(IMFTransform *iface, DWORD id, IMFAttributes **out)
{
    return E_NOTIMPL;
}

static HRESULT WINAPI mft_GetOutputStreamAttributes(IMFTransform *iface, DWORD id, IMFAttributes **out)
{
    return E_NOTIMPL;
}

static HRESULT WINAPI mft_DeleteInputStream(IMFTransform *iface, DWORD id)
{
    return E_NOTIMPL;
}

static HRESULT WINAPI mft_AddInputStreams(IMFTransform *iface, DWORD n, DWORD *ids)
{
    return E_NOTIMPL;
}

/* ---------------------------------------------------------------------- */
/* Types.                                                                    */

static HRESULT WINAPI mft_GetInputAvailableType(IMFTransform *iface, DWORD id, DWORD index, IMFMediaType **out)
{
    if (id != 0)
        return MF_E_INVALIDSTREAMNUMBER;
    if (!out)
        return E_POINTER;
    if (index >= vr_mft_n_input_types)
        return MF_E_NO_MORE_TYPES;
    IMFMediaType *t;
    HRESULT hr = MFCreateMediaType(&t);
    if (FAILED(hr))
        return hr;
    IMFMediaType_SetGUID(t, &MF_MT_MAJOR_TYPE, &vr_mft_input_types[index].guidMajorType);
    IMFMediaType_SetGUID(t, &MF_MT_SUBTYPE, &vr_mft_input_types[index].guidSubtype);
    *out = t;
    return S_OK;
}

static HRESULT WINAPI mft_GetOutputAvailableType(IMFTransform *iface, DWORD id, DWORD index, IMFMediaType **out)
{
    struct vr_mft *m = impl(iface);
    if (id != 0)
        return MF_E_INVALIDSTREAMNUMBER;
    if (!out)
        return E_POINTER;
    AcquireSRWLockExclusive(&m->lock);
    HRESULT hr = !m->in_type ? MF_E_TRANSFORM_TYPE_NOT_SET : index > 0 ? MF_E_NO_MORE_TYPES : make_output_type(m, out);
    ReleaseSRWLockExclusive(&m->lock);
    return hr;
}

static HRESULT WINAPI mft_SetInputType(IMFTransform *iface, DWORD id, IMFMediaType *type, DWORD flags)
{
    struct vr_mft *m = impl(iface);
    if (id != 0)
        return MF_E_INVALIDSTREAMNUMBER;
    if (flags & ~MFT_SET_TYPE_TEST_ONLY)
        return E_INVALIDARG;
    bool test = flags & MFT_SET_TYPE_TEST_ONLY;
    if (!type) {
        if (test)
            return S_OK;
        AcquireSRWLockExclusive(&m->lock);
        session_end(m);
        if (m->in_type)
            IMFMediaType_Release(m->in_type);
        if (m->out_type)
            IMFMediaType_Release(m->out_type);
        m->in_type = m->out_type = NULL;
        ReleaseSRWLockExclusive(&m->lock);
        return S_OK;
    }
    struct vr_stream_start st;
    uint8_t *seq = NULL;
    UINT32 seq_len = 0;
    if (parse_input_type(type, &st, &seq, &seq_len) == VR_CODEC_NONE)
        return MF_E_INVALIDMEDIATYPE;
    char proc[MAX_PATH];
    if (excluded_process(proc, sizeof(proc))) {
        vr_mft_log("info: %s is on the exclude list (thumbnails, indexing; VIDEOREDIR_MFT_EXCLUDE): declining, it "
                   "decodes with the next decoder",
                   proc);
        free(seq);
        return MF_E_INVALIDMEDIATYPE;
    }
    if (test) {
        free(seq);
        return S_OK;
    }

    /* A new session for the new type: only a client that takes this
     * stream makes this the decoder. */
    AcquireSRWLockExclusive(&m->lock);
    session_end(m);
    m->start = st;
    free(m->seq_hdr);
    m->seq_hdr = seq;
    m->seq_hdr_len = seq_len;
    m->n_pending = 0;
    m->draining = m->finished = m->discont = m->gone_logged = false;
    m->next_time = 0;
    m->frame_duration = st.fps_num ? (LONGLONG)MF_UNITS * st.fps_den / st.fps_num : MF_UNITS / 25;
    m->reorder_depth = (st.codec == VR_CODEC_H264 || st.codec == VR_CODEC_HEVC) ? 4 : 0;
    struct vr_player_config cfg = { .software = "videoredir Media Foundation decoder " VR_VERSION_STRING };
    struct vr_player_callbacks cb = { .log = player_log, .show = player_show };
    AcquireSRWLockExclusive(&m->show_lock);
    m->show = VR_PLAYER_SHOW_NONE;
    m->why[0] = '\0';
    ReleaseSRWLockExclusive(&m->show_lock);
    int r = vr_player_create(&cfg, &cb, m, &m->player);
    if (r == 0)
        r = announce(m);
    bool taken = r == 0 && wait_for_client(m, m->player);
    if (!taken) {
        vr_mft_log("info: no SPICE client takes the %s %ux%u stream (%s): declining, Media Foundation uses the "
                   "next decoder",
                   vr_codec_name(st.codec), (unsigned)st.width, (unsigned)st.height, r < 0 ? strerror(-r) : m->why);
        session_end(m);
        ReleaseSRWLockExclusive(&m->lock);
        return MF_E_INVALIDMEDIATYPE;
    }
    if (m->in_type)
        IMFMediaType_Release(m->in_type);
    if (m->out_type)
        IMFMediaType_Release(m->out_type);
    m->out_type = NULL;
    m->in_type = type;
    IMFMediaType_AddRef(type);
    vr_mft_log("info: %s %ux%u goes to the SPICE client through %s; the player shows a placeholder with marker "
               "code %u",
               vr_codec_name(st.codec), (unsigned)st.width, (unsigned)st.height, vr_player_device_path(m->player),
               (unsigned)m->marker_code);
    ReleaseSRWLockExclusive(&m->lock);
    return S_OK;
}

static HRESULT WINAPI mft_SetOutputType(IMFTransform *iface, DWORD id, IMFMediaType *type, DWORD flags)
{
    struct vr_mft *m = impl(iface);
    if (id != 0)
        return MF_E_INVALIDSTREAMNUMBER;
    if (flags & ~MFT_SET_TYPE_TEST_ONLY)
        return E_INVALIDARG;
    AcquireSRWLockExclusive(&m->lock);
    HRESULT hr = S_OK;
    if (!type) {
        if (!(flags & MFT_SET_TYPE_TEST_ONLY) && m->out_type) {
            IMFMediaType_Release(m->out_type);
            m->out_type = NULL;
        }
        goto out;
    }
    if (!m->in_type) {
        hr = MF_E_TRANSFORM_TYPE_NOT_SET;
        goto out;
    }
    GUID major, sub;
    UINT64 size = 0;
    if (FAILED(IMFMediaType_GetGUID(type, &MF_MT_MAJOR_TYPE, &major)) || !IsEqualGUID(&major, &MFMediaType_Video) ||
        FAILED(IMFMediaType_GetGUID(type, &MF_MT_SUBTYPE, &sub)) || !IsEqualGUID(&sub, &MFVideoFormat_NV12) ||
        (SUCCEEDED(IMFMediaType_GetUINT64(type, &MF_MT_FRAME_SIZE, &size)) &&
         size != (((UINT64)m->start.width << 32) | m->start.height))) {
        hr = MF_E_INVALIDMEDIATYPE;
        goto out;
    }
    if (!(flags & MFT_SET_TYPE_TEST_ONLY)) {
        if (m->out_type)
            IMFMediaType_Release(m->out_type);
        m->out_type = type;
        IMFMediaType_AddRef(type);
    }
out:
    ReleaseSRWLockExclusive(&m->lock);
    return hr;
}

/* The current input (in) or output type: a new reference in *out. */
static HRESULT current_type(IMFTransform *iface, DWORD id, bool in, IMFMediaType **out)
{
    struct vr_mft *m = impl(iface);
    if (id != 0)
        return MF_E_INVALIDSTREAMNUMBER;
    if (!out)
        return E_POINTER;
    AcquireSRWLockExclusive(&m->lock);
    IMFMediaType *t = in ? m->in_type : m->out_type;
    HRESULT hr = MF_E_TRANSFORM_TYPE_NOT_SET;
    if (t) {
        *out = t;
        IMFMediaType_AddRef(t);
        hr = S_OK;
    }
    ReleaseSRWLockExclusive(&m->lock);
    return hr;
}

static HRESULT WINAPI mft_GetInputCurrentType(IMFTransform *iface, DWORD id, IMFMediaType **out)
{
    return current_type(iface, id, true, out);
}

static HRESULT WINAPI mft_GetOutputCurrentType(IMFTransform *iface, DWORD id, IMFMediaType **out)
{
    return current_type(iface, id, false, out);
}

/* ---------------------------------------------------------------------- */
/* Processing.                                                               */

/* A placeholder is due: reorder depth reached, draining, or a local
 * decoder took over (the placeholders from before go out first). */
static bool output_ready(const struct vr_mft *m)
{
    return m->n_pending > (m->local.mft ? 0 : m->reorder_depth) || (m->draining && m->n_pending > 0);
}

static HRESULT WINAPI mft_GetInputStatus(IMFTransform *iface, DWORD id, DWORD *flags)
{
    struct vr_mft *m = impl(iface);
    if (id != 0)
        return MF_E_INVALIDSTREAMNUMBER;
    if (!flags)
        return E_POINTER;
    AcquireSRWLockExclusive(&m->lock);
    *flags = m->n_pending < PENDING_MAX && !output_ready(m) ? MFT_INPUT_STATUS_ACCEPT_DATA : 0;
    ReleaseSRWLockExclusive(&m->lock);
    return S_OK;
}

static HRESULT WINAPI mft_GetOutputStatus(IMFTransform *iface, DWORD *flags)
{
    struct vr_mft *m = impl(iface);
    if (!flags)
        return E_POINTER;
    AcquireSRWLockExclusive(&m->lock);
    *flags = output_ready(m) ? MFT_OUTPUT_STATUS_SAMPLE_READY : 0;
    ReleaseSRWLockExclusive(&m->lock);
    return S_OK;
}

static HRESULT WINAPI mft_SetOutputBounds(IMFTransform *iface, LONGLONG lower, LONGLONG upper)
{
    return E_NOTIMPL;
}

static HRESULT WINAPI mft_ProcessEvent(IMFTransform *iface, DWORD id, IMFMediaEvent *event)
{
    return E_NOTIMPL;
}

static HRESULT WINAPI mft_ProcessMessage(IMFTransform *iface, MFT_MESSAGE_TYPE msg, ULONG_PTR param)
{
    struct vr_mft *m = impl(iface);
    HRESULT hr = S_OK;
    AcquireSRWLockExclusive(&m->lock);
    switch (msg) {
    case MFT_MESSAGE_COMMAND_FLUSH:
        /* A seek: the client drops what it holds; frames wait for a key. */
        if (m->player && !m->finished)
            vr_player_flush(m->player);
        if (m->local.mft)
            IMFTransform_ProcessMessage(m->local.mft, MFT_MESSAGE_COMMAND_FLUSH, 0);
        m->n_pending = 0;
        m->draining = false;
        m->discont = true;
        m->clock_set = false;
        break;
    case MFT_MESSAGE_COMMAND_DRAIN:
        /* End of the input: every placeholder out, and the client shows
         * everything before the player ends (bounded by the player). */
        m->draining = true;
        if (m->local.mft)
            IMFTransform_ProcessMessage(m->local.mft, MFT_MESSAGE_COMMAND_DRAIN, 0);
        if (m->player && !m->finished) {
            vr_player_finish(m->player, VR_REASON_EOS);
            m->finished = true;
        }
        break;
    case MFT_MESSAGE_SET_D3D_MANAGER:
        hr = E_NOTIMPL; /* system-memory frames only */
        break;
    case MFT_MESSAGE_NOTIFY_BEGIN_STREAMING:
    case MFT_MESSAGE_NOTIFY_END_STREAMING:
    case MFT_MESSAGE_NOTIFY_START_OF_STREAM:
    case MFT_MESSAGE_NOTIFY_END_OF_STREAM:
    case MFT_MESSAGE_COMMAND_MARKER:
    default:
        break;
    }
    ReleaseSRWLockExclusive(&m->lock);
    return hr;
}

static HRESULT WINAPI mft_ProcessInput(IMFTransform *iface, DWORD id, IMFSample *sample, DWORD flags)
{
    struct vr_mft *m = impl(iface);
    if (id != 0)
        return MF_E_INVALIDSTREAMNUMBER;
    if (!sample || flags)
        return E_INVALIDARG;
    HRESULT hr = S_OK;
    IMFMediaBuffer *buf = NULL;
    BYTE *data = NULL;
    DWORD len = 0;
    uint8_t *joined = NULL;
    AcquireSRWLockExclusive(&m->lock);
    if (!m->in_type || !m->out_type || !m->player) {
        hr = MF_E_TRANSFORM_TYPE_NOT_SET;
        goto out;
    }
    if (m->n_pending >= PENDING_MAX || output_ready(m)) {
        hr = MF_E_NOTACCEPTING;
        goto out;
    }
    hr = IMFSample_ConvertToContiguousBuffer(sample, &buf);
    if (SUCCEEDED(hr))
        hr = IMFMediaBuffer_Lock(buf, &data, NULL, &len);
    if (FAILED(hr)) {
        data = NULL;
        goto out;
    }
    LONGLONG time = 0, duration = 0, dts = 0;
    bool has_time = SUCCEEDED(IMFSample_GetSampleTime(sample, &time));
    if (FAILED(IMFSample_GetSampleDuration(sample, &duration)) || duration < 0)
        duration = 0;
    bool has_dts = SUCCEEDED(IMFSample_GetUINT64(sample, &MFSampleExtension_DecodeTimestamp, (UINT64 *)&dts));
    UINT32 clean = 0;
    IMFSample_GetUINT32(sample, &MFSampleExtension_CleanPoint, &clean);
    if (m->finished) {
        /* More after a drain (a player that loops): a new stream. */
        if (announce(m) == 0)
            m->finished = false;
    }

    enum vr_codec codec = m->start.codec;
    bool key = clean != 0, params = false;
    if (codec == VR_CODEC_H264 || codec == VR_CODEC_HEVC)
        scan_annexb(codec, data, len, &key, &params);
    else
        key |= other_key(codec, data, len);
    const uint8_t *au_data = data;
    size_t au_len = len;
    if (key && !params && m->seq_hdr_len && (codec == VR_CODEC_H264 || codec == VR_CODEC_HEVC)) {
        /* Windows' MP4 source gives the parameter sets in the type only:
         * the client's decoder needs them in band at every keyframe. */
        joined = malloc((size_t)m->seq_hdr_len + len);
        if (joined) {
            memcpy(joined, m->seq_hdr, m->seq_hdr_len);
            memcpy(joined + m->seq_hdr_len, data, len);
            au_data = joined;
            au_len = (size_t)m->seq_hdr_len + len;
        }
    }

    enum vr_player_show show;
    char why[sizeof(m->why)];
    AcquireSRWLockExclusive(&m->show_lock);
    show = m->show;
    memcpy(why, m->why, sizeof(why));
    ReleaseSRWLockExclusive(&m->show_lock);
    if (show == VR_PLAYER_SHOW_CLIENT) {
        if (m->local.mft && key) {
            vr_mft_log("info: the SPICE client shows the video again: placeholders from this keyframe on");
            local_stop(m);
        }
        m->want_local = false;
        m->gone_logged = false;
    } else if (show == VR_PLAYER_SHOW_LOCAL && !m->finished) {
        if (!m->local.mft && !m->gone_logged) {
            vr_mft_log("warning: the SPICE client no longer shows the video (%s): decoding locally from the next "
                       "keyframe",
                       why);
            m->gone_logged = true;
            m->want_local = true;
        }
        if (m->want_local && key) {
            m->want_local = false;
            local_start(m);
        }
    }
    if (m->local.mft) {
        hr = IMFTransform_ProcessInput(m->local.mft, 0, sample, 0);
        if (hr == MF_E_NOTACCEPTING)
            goto out; /* the caller takes the pictures out first, then again */
        if (FAILED(hr)) {
            vr_mft_log("warning: the local decoder refused a sample (0x%08lx): placeholders again",
                       (unsigned long)hr);
            local_stop(m);
            hr = S_OK;
        }
    }

    if (!m->finished && au_len > 0 && au_len <= VR_MAX_FRAME_DATA) {
        if (has_time && !m->clock_set &&
            vr_player_set_clock(m->player, time, vr_time_us() + CLOCK_LEAD_US, 65536) == 0)
            m->clock_set = true;
        struct vr_au au = {
            .data = au_data,
            .len = (uint32_t)au_len,
            .flags = key ? VR_FRAME_KEY : 0,
            .pts = has_time ? time : INT64_MIN,
            .dts = has_dts ? dts : has_time ? INT64_MIN : m->next_time,
            .duration = duration,
        };
        uint32_t extra = 0;
        if (key && m->discont) {
            extra = VR_FRAME_DISCONT;
            m->discont = false;
        }
        int r = vr_player_push(m->player, &au, extra);
        if (r < 0)
            vr_mft_log("warning: cannot send an access unit of %zu bytes: %s", au_len, strerror(-r));
    } else if (au_len > VR_MAX_FRAME_DATA || au_len == 0) {
        vr_mft_log("warning: access unit of %zu bytes not sent", au_len);
    }
    m->frames_in++;
    if (!has_time)
        time = m->next_time;
    if (!duration)
        duration = m->frame_duration;
    m->next_time = time + duration;
    if (!m->local.mft)
        m->pending[m->n_pending++] = (struct pending){ time, duration };
    m->draining = false;
out:
    if (data)
        IMFMediaBuffer_Unlock(buf);
    if (buf)
        IMFMediaBuffer_Release(buf);
    free(joined);
    ReleaseSRWLockExclusive(&m->lock);
    return hr;
}

static HRESULT WINAPI mft_ProcessOutput(IMFTransform *iface, DWORD flags, DWORD count, MFT_OUTPUT_DATA_BUFFER *out,
                                        DWORD *status)
{
    struct vr_mft *m = impl(iface);
    if (count != 1 || !out || !status)
        return E_INVALIDARG;
    *status = 0;
    out[0].dwStatus = 0;
    out[0].pEvents = NULL;
    HRESULT hr = S_OK;
    IMFSample *sample = NULL;
    IMFMediaBuffer *buf = NULL;
    AcquireSRWLockExclusive(&m->lock);
    if (!m->out_type) {
        hr = MF_E_TRANSFORM_TYPE_NOT_SET;
        goto out;
    }
    bool use_local = !output_ready(m) && m->local.mft;
    if (!output_ready(m) && !use_local) {
        m->draining = false;
        hr = MF_E_TRANSFORM_NEED_MORE_INPUT;
        goto out;
    }
    const uint8_t *pic = placeholder(m); /* also sizes picture_size */
    if (!pic) {
        hr = E_OUTOFMEMORY;
        goto out;
    }
    if (out[0].pSample) {
        sample = out[0].pSample;
        IMFSample_AddRef(sample);
        hr = IMFSample_GetBufferByIndex(sample, 0, &buf);
    } else {
        hr = MFCreateSample(&sample);
        if (SUCCEEDED(hr))
            hr = MFCreateMemoryBuffer(m->picture_size, &buf);
        if (SUCCEEDED(hr))
            hr = IMFSample_AddBuffer(sample, buf);
    }
    if (FAILED(hr))
        goto out;
    BYTE *dst;
    DWORD max = 0;
    hr = IMFMediaBuffer_Lock(buf, &dst, &max, NULL);
    if (FAILED(hr))
        goto out;
    if (max < m->picture_size) {
        IMFMediaBuffer_Unlock(buf);
        hr = MF_E_BUFFERTOOSMALL;
        goto out;
    }
    if (use_local) {
        hr = local_output_sample(m, sample, buf, dst);
        IMFMediaBuffer_Unlock(buf);
        if (hr == MF_E_TRANSFORM_NEED_MORE_INPUT)
            m->draining = false;
        if (hr != S_OK)
            goto out;
        m->frames_local++;
    } else {
        memcpy(dst, pic, m->picture_size);
        IMFMediaBuffer_Unlock(buf);
        IMFMediaBuffer_SetCurrentLength(buf, m->picture_size);
        /* The earliest pending time: presentation order. */
        unsigned first = 0;
        for (unsigned i = 1; i < m->n_pending; i++)
            if (m->pending[i].time < m->pending[first].time)
                first = i;
        struct pending p = m->pending[first];
        m->pending[first] = m->pending[--m->n_pending];
        IMFSample_SetSampleTime(sample, p.time);
        IMFSample_SetSampleDuration(sample, p.duration);
    }
    IMFSample_SetUINT32(sample, &MFSampleExtension_CleanPoint, 1);
    if (!out[0].pSample) {
        out[0].pSample = sample;
        sample = NULL; /* the caller's now */
    }
    m->frames_out++;
out:
    if (buf)
        IMFMediaBuffer_Release(buf);
    if (sample)
        IMFSample_Release(sample);
    ReleaseSRWLockExclusive(&m->lock);
    return hr;
}

static const IMFTransformVtbl mft_vtbl = {
    mft_QueryInterface,
    mft_AddRef,
    mft_Release,
    mft_GetStreamLimits,
    mft_GetStreamCount,
    mft_GetStreamIDs,
    mft_GetInputStreamInfo,
    mft_GetOutputStreamInfo,
    mft_GetAttributes,
    mft_GetInputStreamAttributes,
    mft_GetOutputStreamAttributes,
    mft_DeleteInputStream,
    mft_AddInputStreams,
    mft_GetInputAvailableType,
    mft_GetOutputAvailableType,
    mft_SetInputType,
    mft_SetOutputType,
    mft_GetInputCurrentType,
    mft_GetOutputCurrentType,
    mft_GetInputStatus,
    mft_GetOutputStatus,
    mft_SetOutputBounds,
    mft_ProcessEvent,
    mft_ProcessMessage,
    mft_ProcessInput,
    mft_ProcessOutput,
};

HRESULT vr_mft_create(REFIID riid, void **out)
{
    if (!out)
        return E_POINTER;
    *out = NULL;
    struct vr_mft *m = calloc(1, sizeof(*m));
    if (!m)
        return E_OUTOFMEMORY;
    m->iface.lpVtbl = (IMFTransformVtbl *)&mft_vtbl;
    m->refs = 1;
    InitializeSRWLock(&m->lock);
    InitializeSRWLock(&m->show_lock);
    InitializeConditionVariable(&m->show_cond);
    if (SUCCEEDED(MFCreateAttributes(&m->attrs, 2))) {
        /* A plain software decoder: no Direct3D, synchronous. */
        IMFAttributes_SetUINT32(m->attrs, &MF_SA_D3D_AWARE, FALSE);
        /* Who we are, for a pipeline (or test) that looks at the object
         * rather than at its activation object. */
        IMFAttributes_SetGUID(m->attrs, &MFT_TRANSFORM_CLSID_Attribute, &CLSID_VideoRedirMFT);
        IMFAttributes_SetString(m->attrs, &MFT_FRIENDLY_NAME_Attribute, VR_MFT_NAME);
    }
    InterlockedIncrement(&vr_mft_objects);
    HRESULT hr = mft_QueryInterface(&m->iface, riid, out);
    mft_Release(&m->iface);
    return hr;
}
