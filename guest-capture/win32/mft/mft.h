/*
 * videoredir-mft.dll internals: the Media Foundation decoder transform
 * (mft.c) and the COM in-proc server around it (dll.c).
 */
#ifndef VR_WIN32_MFT_H
#define VR_WIN32_MFT_H

#include <stdint.h>

#include <windows.h>
#include <mfapi.h>
#include <mftransform.h>

/* {3AF548DE-4761-4F02-AE4F-752EBCE4E47C}: the transform's class. */
extern const CLSID CLSID_VideoRedirMFT;

/* The name it is registered under (MFT_FRIENDLY_NAME_Attribute). */
#define VR_MFT_NAME L"videoredir decoder (video to the SPICE client)"

/* The compressed subtypes it takes, and its one output subtype (NV12). */
extern const MFT_REGISTER_TYPE_INFO vr_mft_input_types[];
extern const unsigned vr_mft_n_input_types;
extern const MFT_REGISTER_TYPE_INFO vr_mft_output_types[];
extern const unsigned vr_mft_n_output_types;

/* Objects alive and server locks (DllCanUnloadNow). */
extern volatile LONG vr_mft_objects;

/* Creates a transform and returns interface riid of it (E_NOINTERFACE,
 * E_OUTOFMEMORY). Any thread; the object is free-threaded with its own
 * lock, as MF's pipeline may call it from its work queue threads. */
HRESULT vr_mft_create(REFIID riid, void **out);

/* Log line from the DLL: OutputDebugString, and stderr too when
 * VIDEOREDIR_MFT_LOG is set (tests). printf-style. */
void vr_mft_log(const char *fmt, ...) __attribute__((format(gnu_printf, 1, 2)));

#endif
