/*
 * videoredir-mft.dll's transform under Wine, loaded as a player would
 * (LoadLibrary, DllGetClassObject), with a client stand-in in this process
 * (a TCP peer speaking the protocol: hello, pong, accept):
 *  - the COM surface: factory, interfaces, stream counts, the types it
 *    offers, types it must refuse (no size, 0x0, too big, other major type
 *    or subtype), calls before a type is set, bad arguments, unloading;
 *  - a process on the exclude list is declined at once;
 *  - no client (connection refused): SetInputType declines in under 1 s;
 *  - with the client: accepted, then hostile access units (random bytes,
 *    start codes cut short, every NAL type, 1 byte, 1 MiB) through
 *    ProcessInput/ProcessOutput: a placeholder per access unit, frames at
 *    the client, flush and drain, no crash.
 * Usage: test_mft.exe PATH\videoredir-mft.dll
 */
#define COBJMACROS
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <mfapi.h>
#include <mferror.h>
#include <mftransform.h>

#include <videoredir/transport.h>

#include "../check.h"

static const CLSID clsid_videoredir = { 0x3af548de, 0x4761, 0x4f02,
                                        { 0xae, 0x4f, 0x75, 0x2e, 0xbc, 0xe4, 0xe4, 0x7c } };

/* ---- the client stand-in ------------------------------------------------ */

struct fake {
    SOCKET listen;
    volatile LONG stop, frames, starts, hellos;
    struct vr_conn *conn;
};

static void on_message(void *user, const struct vr_msg *m)
{
    struct fake *f = user;
    struct vr_msg r;
    memset(&r, 0, sizeof(r));
    switch (m->type) {
    case VR_MSG_HELLO:
        InterlockedIncrement(&f->hellos);
        if (m->u.hello.flags & VR_HELLO_REPLY)
            return;
        r.type = VR_MSG_HELLO;
        r.u.hello.version_min = VR_PROTO_VERSION_MIN;
        r.u.hello.version_max = VR_PROTO_VERSION_MAX;
        r.u.hello.role = VR_ROLE_CLIENT;
        r.u.hello.flags = VR_HELLO_REPLY;
        r.u.hello.max_streams = 4;
        r.u.hello.n_codecs = 5;
        for (uint32_t i = 0; i < 5; i++)
            r.u.hello.codecs[i] = (struct vr_codec_cap){ (uint16_t)(VR_CODEC_H264 + i), 0, 16384, 16384 };
        snprintf(r.u.hello.software, sizeof(r.u.hello.software), "test_mft");
        break;
    case VR_MSG_PING:
        r.type = VR_MSG_PONG;
        r.u.pong.id = m->u.ping.id;
        r.u.pong.ping_time_us = m->u.ping.time_us;
        r.u.pong.time_us = vr_time_us();
        break;
    case VR_MSG_STREAM_START:
        InterlockedIncrement(&f->starts);
        r.type = VR_MSG_ACCEPT;
        r.stream_id = m->stream_id;
        snprintf(r.u.accept.decoder, sizeof(r.u.accept.decoder), "none (test)");
        break;
    case VR_MSG_FRAME:
        InterlockedIncrement(&f->frames);
        return;
    default:
        return;
    }
    vr_conn_send(f->conn, &r);
}

static void on_gap(void *user, uint32_t stream_id, uint32_t missing) {}

static DWORD WINAPI client_main(void *arg)
{
    struct fake *f = arg;
    SOCKET s = accept(f->listen, NULL, NULL);
    if (s == INVALID_SOCKET)
        return 1;
    u_long nb = 1;
    ioctlsocket(s, FIONBIO, &nb);
    struct vr_conn_callbacks cb = { .on_message = on_message, .on_gap = on_gap };
    if (vr_conn_create(NULL, &cb, f, &f->conn) < 0)
        return 1;
    static char buf[1 << 16];
    while (!f->stop) {
        int n = recv(s, buf, sizeof(buf), 0);
        if (n > 0)
            vr_conn_feed(f->conn, (const uint8_t *)buf, (size_t)n);
        else if (n == 0 || WSAGetLastError() != WSAEWOULDBLOCK)
            break;
        const uint8_t *out;
        size_t len;
        while ((len = vr_conn_out_peek(f->conn, &out)) > 0) {
            int w = send(s, (const char *)out, (int)len, 0);
            if (w <= 0)
                break;
            vr_conn_out_consume(f->conn, (size_t)w);
        }
        if (n <= 0)
            Sleep(1);
    }
    closesocket(s);
    vr_conn_destroy(f->conn);
    f->conn = NULL;
    return 0;
}

/* ---- helpers -------------------------------------------------------------- */

static IMFMediaType *video_type(const GUID *sub, uint32_t w, uint32_t h, bool size)
{
    IMFMediaType *t = NULL;
    if (FAILED(MFCreateMediaType(&t)))
        return NULL;
    IMFMediaType_SetGUID(t, &MF_MT_MAJOR_TYPE, &MFMediaType_Video);
    IMFMediaType_SetGUID(t, &MF_MT_SUBTYPE, sub);
    if (size)
        IMFMediaType_SetUINT64(t, &MF_MT_FRAME_SIZE, ((UINT64)w << 32) | h);
    return t;
}

static IMFSample *make_sample(const uint8_t *p, DWORD n)
{
    IMFSample *s = NULL;
    IMFMediaBuffer *b = NULL;
    BYTE *d;
    if (FAILED(MFCreateSample(&s)) || FAILED(MFCreateMemoryBuffer(n ? n : 1, &b)))
        return NULL;
    IMFMediaBuffer_Lock(b, &d, NULL, NULL);
    if (n)
        memcpy(d, p, n);
    IMFMediaBuffer_Unlock(b);
    IMFMediaBuffer_SetCurrentLength(b, n);
    IMFSample_AddBuffer(s, b);
    IMFMediaBuffer_Release(b);
    return s;
}

/* Pulls what the transform has; returns the pictures. */
static int pull(IMFTransform *t)
{
    int got = 0;
    for (;;) {
        MFT_OUTPUT_DATA_BUFFER out = { 0 };
        DWORD status = 0;
        HRESULT hr = IMFTransform_ProcessOutput(t, 0, 1, &out, &status);
        if (hr != S_OK)
            return got;
        if (out.pSample)
            IMFSample_Release(out.pSample);
        got++;
    }
}

static uint32_t rng = 12345;
static uint32_t rnd(void)
{
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
}

/* A hostile access unit: kind i % 6. Writes into buf, returns its size. */
static DWORD hostile(unsigned i, uint8_t *buf, DWORD cap)
{
    DWORD n;
    switch (i % 6) {
    case 0: /* random bytes */
        n = 1 + rnd() % 4096;
        for (DWORD k = 0; k < n; k++)
            buf[k] = (uint8_t)rnd();
        return n;
    case 1: /* start codes cut short at the end */
        n = 3 + rnd() % 3;
        memset(buf, 0, n);
        buf[n - 1] = 1;
        return n - (rnd() % 2);
    case 2: /* every NAL type (H.264 and HEVC headers), tiny payloads */
        n = 0;
        for (unsigned t = 0; t < 64 && n + 8 < cap; t++) {
            buf[n++] = 0, buf[n++] = 0, buf[n++] = 1;
            buf[n++] = (uint8_t)(rnd() & 1 ? t : t << 1);
            buf[n++] = (uint8_t)rnd();
        }
        return n;
    case 3: /* one byte */
        buf[0] = (uint8_t)rnd();
        return 1;
    case 4: /* 1 MiB of start codes */
        n = cap < (1u << 20) ? cap : (1u << 20);
        for (DWORD k = 0; k < n; k++)
            buf[k] = (k % 4 == 3) ? 1 : 0;
        return n;
    default: /* a plausible IDR with garbage after it */
        n = 64 + rnd() % 512;
        for (DWORD k = 0; k < n; k++)
            buf[k] = (uint8_t)rnd();
        memcpy(buf, "\0\0\0\1\x65", 5);
        return n;
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_mft.exe videoredir-mft.dll\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    WSADATA wsa;
    WSAStartup(MAKEWORD(2, 2), &wsa);
    CoInitializeEx(NULL, COINIT_MULTITHREADED);
    MFStartup(MF_VERSION, MFSTARTUP_NOSOCKET);

    HMODULE dll = LoadLibraryA(argv[1]);
    CHECK(dll != NULL, "cannot load %s", argv[1]);
    if (!dll)
        return CHECK_DONE();
    typedef HRESULT(WINAPI * get_fn)(REFCLSID, REFIID, void **);
    typedef HRESULT(WINAPI * unload_fn)(void);
    get_fn get = (get_fn)(void (*)(void))GetProcAddress(dll, "DllGetClassObject");
    unload_fn can_unload = (unload_fn)(void (*)(void))GetProcAddress(dll, "DllCanUnloadNow");
    CHECK(get && can_unload, "exports missing");
    IClassFactory *cf = NULL;
    CHECK(get(&IID_IMFTransform, &IID_IClassFactory, (void **)&cf) == CLASS_E_CLASSNOTAVAILABLE,
          "another CLSID must be refused");
    CHECK(SUCCEEDED(get(&clsid_videoredir, &IID_IClassFactory, (void **)&cf)) && cf, "no class factory");
    IMFTransform *t = NULL;
    IUnknown *outer = (IUnknown *)cf;
    CHECK(IClassFactory_CreateInstance(cf, outer, &IID_IUnknown, (void **)&t) == CLASS_E_NOAGGREGATION,
          "aggregation must be refused");
    CHECK(SUCCEEDED(IClassFactory_CreateInstance(cf, NULL, &IID_IMFTransform, (void **)&t)) && t, "no transform");
    void *other = NULL;
    CHECK(IMFTransform_QueryInterface(t, &IID_IClassFactory, &other) == E_NOINTERFACE && !other, "QI");
    CHECK(can_unload() == S_FALSE, "must stay loaded while objects live");

    DWORD a, b, c, d;
    CHECK(IMFTransform_GetStreamLimits(t, &a, &b, &c, &d) == S_OK && a == 1 && b == 1 && c == 1 && d == 1,
          "limits");
    CHECK(IMFTransform_GetStreamCount(t, NULL, &b) == E_POINTER, "NULL count");
    IMFMediaType *mt = NULL;
    unsigned n_in = 0;
    while (IMFTransform_GetInputAvailableType(t, 0, n_in, &mt) == S_OK) {
        IMFMediaType_Release(mt);
        n_in++;
    }
    CHECK(n_in == 5, "%u input types, want 5", n_in);
    CHECK(IMFTransform_GetInputAvailableType(t, 1, 0, &mt) == MF_E_INVALIDSTREAMNUMBER, "stream 1");
    CHECK(IMFTransform_GetOutputAvailableType(t, 0, 0, &mt) == MF_E_TRANSFORM_TYPE_NOT_SET, "output before input");

    /* Types to refuse. */
    struct {
        const GUID *sub;
        uint32_t w, h;
        bool size;
        const char *what;
    } bad[] = {
        { &MFVideoFormat_H264, 0, 0, false, "no frame size" },
        { &MFVideoFormat_H264, 0, 0, true, "0x0" },
        { &MFVideoFormat_HEVC, 20000, 100, true, "20000 wide" },
        { &MFVideoFormat_NV12, 640, 360, true, "not compressed" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        mt = video_type(bad[i].sub, bad[i].w, bad[i].h, bad[i].size);
        CHECK(IMFTransform_SetInputType(t, 0, mt, 0) == MF_E_INVALIDMEDIATYPE, "%s accepted", bad[i].what);
        IMFMediaType_Release(mt);
    }
    mt = video_type(&MFVideoFormat_H264, 640, 360, true);
    IMFMediaType_SetGUID(mt, &MF_MT_MAJOR_TYPE, &MFMediaType_Audio);
    CHECK(IMFTransform_SetInputType(t, 0, mt, 0) == MF_E_INVALIDMEDIATYPE, "audio accepted");
    IMFMediaType_Release(mt);
    mt = video_type(&MFVideoFormat_H264, 640, 360, true);
    CHECK(IMFTransform_SetInputType(t, 0, mt, MFT_SET_TYPE_TEST_ONLY) == S_OK, "test-only of a good type");
    CHECK(IMFTransform_SetInputType(t, 0, mt, 0x80) == E_INVALIDARG, "unknown flags");
    uint8_t one = 0;
    IMFSample *s = make_sample(&one, 1);
    CHECK(IMFTransform_ProcessInput(t, 0, s, 0) == MF_E_TRANSFORM_TYPE_NOT_SET, "input before types");
    CHECK(IMFTransform_ProcessInput(t, 0, NULL, 0) == E_INVALIDARG, "NULL sample");
    MFT_OUTPUT_DATA_BUFFER ob = { 0 };
    DWORD status;
    CHECK(IMFTransform_ProcessOutput(t, 0, 0, &ob, &status) == E_INVALIDARG, "0 buffers");
    CHECK(IMFTransform_ProcessOutput(t, 0, 1, &ob, &status) == MF_E_TRANSFORM_TYPE_NOT_SET, "output before types");
    CHECK(IMFTransform_ProcessMessage(t, MFT_MESSAGE_COMMAND_FLUSH, 0) == S_OK, "flush without a session");
    CHECK(IMFTransform_ProcessMessage(t, MFT_MESSAGE_COMMAND_DRAIN, 0) == S_OK, "drain without a session");

    /* A process on the exclude list (thumbnailers, indexers) is declined
     * before any port is opened. */
    _putenv("VIDEOREDIR_MFT_EXCLUDE=explorer.exe;TEST_MFT.EXE");
    uint64_t t_ex = vr_time_us();
    CHECK(IMFTransform_SetInputType(t, 0, mt, MFT_SET_TYPE_TEST_ONLY) == MF_E_INVALIDMEDIATYPE,
          "an excluded process was offered the stream");
    CHECK(vr_time_us() - t_ex < 100000, "excluding took %llu ms", (unsigned long long)((vr_time_us() - t_ex) / 1000));
    _putenv("VIDEOREDIR_MFT_EXCLUDE=");

    /* No client: connection refused, declined at once. */
    _putenv("VIDEOREDIR_DEVICE=tcp:127.0.0.1:9");
    uint64_t t0 = vr_time_us();
    CHECK(IMFTransform_SetInputType(t, 0, mt, 0) == MF_E_INVALIDMEDIATYPE, "accepted without a client");
    uint64_t took = vr_time_us() - t0;
    CHECK(took < 1000000, "declining took %llu ms", (unsigned long long)(took / 1000));
    printf("no client: declined in %llu ms\n", (unsigned long long)(took / 1000));

    /* The client stand-in. */
    struct fake f = { 0 };
    f.listen = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int slen = sizeof(sa);
    CHECK(bind(f.listen, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(f.listen, 1) == 0 &&
              getsockname(f.listen, (struct sockaddr *)&sa, &slen) == 0,
          "listen");
    char dev[64];
    snprintf(dev, sizeof(dev), "VIDEOREDIR_DEVICE=tcp:127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
    _putenv(dev);
    HANDLE th = CreateThread(NULL, 0, client_main, &f, 0, NULL);
    CHECK(IMFTransform_SetInputType(t, 0, mt, 0) == S_OK, "not accepted with a client");
    IMFMediaType_Release(mt);
    CHECK(IMFTransform_GetOutputAvailableType(t, 0, 0, &mt) == S_OK, "no output type");
    UINT64 size = 0;
    GUID sub = GUID_NULL;
    IMFMediaType_GetUINT64(mt, &MF_MT_FRAME_SIZE, &size);
    IMFMediaType_GetGUID(mt, &MF_MT_SUBTYPE, &sub);
    CHECK(size == (((UINT64)640 << 32) | 360) && IsEqualGUID(&sub, &MFVideoFormat_NV12), "output type");
    CHECK(IMFTransform_ProcessInput(t, 0, s, 0) == MF_E_TRANSFORM_TYPE_NOT_SET, "input before the output type");
    CHECK(IMFTransform_SetOutputType(t, 0, mt, 0) == S_OK, "output type refused");
    IMFMediaType_Release(mt);
    mt = video_type(&MFVideoFormat_NV12, 320, 180, true);
    CHECK(IMFTransform_SetOutputType(t, 0, mt, MFT_SET_TYPE_TEST_ONLY) == MF_E_INVALIDMEDIATYPE, "wrong size");
    IMFMediaType_Release(mt);
    IMFSample_Release(s);

    /* Hostile access units. */
    enum { N = 600 };
    static uint8_t buf[1u << 20];
    int out = 0;
    for (unsigned i = 0; i < N; i++) {
        DWORD n = hostile(i, buf, sizeof(buf));
        s = make_sample(buf, n);
        HRESULT hr;
        while ((hr = IMFTransform_ProcessInput(t, 0, s, 0)) == MF_E_NOTACCEPTING)
            out += pull(t);
        CHECK(hr == S_OK, "access unit %u (%lu bytes): 0x%08lx", i, (unsigned long)n, (unsigned long)hr);
        IMFSample_Release(s);
        out += pull(t);
        if (i == N / 2)
            CHECK(IMFTransform_ProcessMessage(t, MFT_MESSAGE_COMMAND_FLUSH, 0) == S_OK, "flush");
    }
    CHECK(IMFTransform_ProcessMessage(t, MFT_MESSAGE_COMMAND_DRAIN, 0) == S_OK, "drain");
    out += pull(t);
    /* A flush drops the placeholders held for reordering (at most 4). */
    CHECK(out >= N - 4 && out <= N, "%d pictures for %d access units", out, N);
    for (int i = 0; i < 200 && f.frames == 0; i++)
        Sleep(10);
    CHECK(f.hellos > 0 && f.starts > 0 && f.frames > 0, "client saw %ld hellos, %ld streams, %ld frames", f.hellos,
          f.starts, f.frames);
    printf("hostile input: %d access units, %d pictures out, %ld frames at the client\n", N, out, f.frames);

    IMFTransform_Release(t);
    IClassFactory_Release(cf);
    CHECK(can_unload() == S_OK, "still in use after every object was released");
    f.stop = 1;
    WaitForSingleObject(th, 5000);
    CloseHandle(th);
    closesocket(f.listen);
    MFShutdown();
    CoUninitialize();
    return CHECK_DONE();
}
