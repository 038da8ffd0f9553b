/* SpiceCoreInterface on the default GLib main context: timers and fd watches
 * of a SPICE server run from the thread that runs that context. */
#ifndef VR_HOST_CORE_H
#define VR_HOST_CORE_H

#include <spice.h>

extern SpiceCoreInterface vr_host_core;

#endif
