/*
 * videoredir-mft.dll: the COM in-proc server around the decoder transform
 * (mft.c): its class factory, DllGetClassObject / DllCanUnloadNow, and
 * DllRegisterServer / DllUnregisterServer for regsvr32:
 *   HKCR\CLSID\{3AF548DE-...}                      name
 *   HKCR\CLSID\{3AF548DE-...}\InprocServer32       this DLL, ThreadingModel Both
 * plus MFTRegister in MFT_CATEGORY_VIDEO_DECODER with the input subtypes and
 * NV12 out (Media Foundation writes HKCR\MediaFoundation\Transforms\{...}
 * and Categories\{d6c02d4b-...}\{...}). Unregistering removes both.
 */
#define COBJMACROS
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <windows.h>
#include <mfapi.h>
#include <mferror.h>
#include <mftransform.h>

#include "mft.h"

/* {3AF548DE-4761-4F02-AE4F-752EBCE4E47C} */
const CLSID CLSID_VideoRedirMFT = { 0x3af548de, 0x4761, 0x4f02, { 0xae, 0x4f, 0x75, 0x2e, 0xbc, 0xe4, 0xe4, 0x7c } };
#define CLSID_STRING L"{3AF548DE-4761-4F02-AE4F-752EBCE4E47C}"

volatile LONG vr_mft_objects;
static HINSTANCE self;

void vr_mft_log(const char *fmt, ...)
{
    char line[600];
    int n = snprintf(line, sizeof(line), "videoredir-mft: ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    strncat(line, "\n", sizeof(line) - strlen(line) - 1);
    OutputDebugStringA(line);
    const char *to = getenv("VIDEOREDIR_MFT_LOG");
    if (to && *to) {
        fputs(line, stderr);
        fflush(stderr);
    }
}

/* ---------------------------------------------------------------------- */
/* Class factory (a static object: its references only lock the server).   */

static HRESULT WINAPI cf_QueryInterface(IClassFactory *iface, REFIID riid, void **out)
{
    if (!out)
        return E_POINTER;
    if (IsEqualIID(riid, &IID_IUnknown) || IsEqualIID(riid, &IID_IClassFactory)) {
        *out = iface;
        IClassFactory_AddRef(iface);
        return S_OK;
    }
    *out = NULL;
    return E_NOINTERFACE;
}

static ULONG WINAPI cf_AddRef(IClassFactory *iface)
{
    InterlockedIncrement(&vr_mft_objects);
    return 2;
}

static ULONG WINAPI cf_Release(IClassFactory *iface)
{
    InterlockedDecrement(&vr_mft_objects);
    return 1;
}

static HRESULT WINAPI cf_CreateInstance(IClassFactory *iface, IUnknown *outer, REFIID riid, void **out)
{
    if (!out)
        return E_POINTER;
    *out = NULL;
    if (outer)
        return CLASS_E_NOAGGREGATION;
    return vr_mft_create(riid, out);
}

static HRESULT WINAPI cf_LockServer(IClassFactory *iface, BOOL lock)
{
    if (lock)
        InterlockedIncrement(&vr_mft_objects);
    else
        InterlockedDecrement(&vr_mft_objects);
    return S_OK;
}

static const IClassFactoryVtbl cf_vtbl = { cf_QueryInterface, cf_AddRef, cf_Release, cf_CreateInstance,
                                           cf_LockServer };
static IClassFactory factory = { (IClassFactoryVtbl *)&cf_vtbl };

/* ---------------------------------------------------------------------- */
/* Exports.                                                                  */

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, void *reserved);
HRESULT WINAPI DllGetClassObject(REFCLSID clsid, REFIID riid, void **out);
HRESULT WINAPI DllCanUnloadNow(void);
HRESULT WINAPI DllRegisterServer(void);
HRESULT WINAPI DllUnregisterServer(void);

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, void *reserved)
{
    if (reason == DLL_PROCESS_ATTACH) {
        self = inst;
        DisableThreadLibraryCalls(inst);
    }
    return TRUE;
}

HRESULT WINAPI DllGetClassObject(REFCLSID clsid, REFIID riid, void **out)
{
    if (!out)
        return E_POINTER;
    *out = NULL;
    if (!IsEqualCLSID(clsid, &CLSID_VideoRedirMFT))
        return CLASS_E_CLASSNOTAVAILABLE;
    return cf_QueryInterface(&factory, riid, out);
}

HRESULT WINAPI DllCanUnloadNow(void)
{
    return vr_mft_objects == 0 ? S_OK : S_FALSE;
}

static LSTATUS set_string(HKEY key, const wchar_t *name, const wchar_t *value)
{
    return RegSetValueExW(key, name, 0, REG_SZ, (const BYTE *)value, (DWORD)((wcslen(value) + 1) * sizeof(wchar_t)));
}

HRESULT WINAPI DllRegisterServer(void)
{
    wchar_t path[MAX_PATH];
    DWORD n = GetModuleFileNameW(self, path, MAX_PATH);
    if (n == 0 || n >= MAX_PATH)
        return HRESULT_FROM_WIN32(GetLastError());
    HKEY clsid_key = NULL, server_key = NULL;
    LSTATUS e = RegCreateKeyExW(HKEY_CLASSES_ROOT, L"CLSID\\" CLSID_STRING, 0, NULL, 0, KEY_WRITE, NULL, &clsid_key,
                                NULL);
    if (e == ERROR_SUCCESS)
        e = set_string(clsid_key, NULL, VR_MFT_NAME);
    if (e == ERROR_SUCCESS)
        e = RegCreateKeyExW(clsid_key, L"InprocServer32", 0, NULL, 0, KEY_WRITE, NULL, &server_key, NULL);
    if (e == ERROR_SUCCESS)
        e = set_string(server_key, NULL, path);
    if (e == ERROR_SUCCESS)
        e = set_string(server_key, L"ThreadingModel", L"Both");
    if (server_key)
        RegCloseKey(server_key);
    if (clsid_key)
        RegCloseKey(clsid_key);
    if (e != ERROR_SUCCESS)
        return HRESULT_FROM_WIN32(e);
    /* A synchronous software decoder (flags 0). The order among software
     * decoders is Media Foundation's (README: "Which decoder Windows picks"). */
    HRESULT hr = MFTRegister(CLSID_VideoRedirMFT, MFT_CATEGORY_VIDEO_DECODER, (LPWSTR)VR_MFT_NAME, 0,
                             vr_mft_n_input_types, (MFT_REGISTER_TYPE_INFO *)vr_mft_input_types,
                             vr_mft_n_output_types, (MFT_REGISTER_TYPE_INFO *)vr_mft_output_types, NULL);
    if (FAILED(hr)) {
        RegDeleteTreeW(HKEY_CLASSES_ROOT, L"CLSID\\" CLSID_STRING);
        return hr;
    }
    return S_OK;
}

HRESULT WINAPI DllUnregisterServer(void)
{
    HRESULT hr = MFTUnregister(CLSID_VideoRedirMFT);
    LSTATUS e = RegDeleteTreeW(HKEY_CLASSES_ROOT, L"CLSID\\" CLSID_STRING);
    if (e != ERROR_SUCCESS && e != ERROR_FILE_NOT_FOUND)
        return HRESULT_FROM_WIN32(e);
    /* Not registered is not an error for an uninstall. */
    return FAILED(hr) && hr != HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND) ? hr : S_OK;
}
