#include "videoredir/transport.h"

#ifdef _WIN32
#include <windows.h>

uint64_t vr_time_us(void)
{
    /* QueryPerformanceCounter is monotonic and cannot fail on Windows XP
     * and later; the frequency is fixed at boot. */
    static LARGE_INTEGER freq;
    LARGE_INTEGER now;
    if (freq.QuadPart == 0)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&now);
    uint64_t t = (uint64_t)now.QuadPart, f = (uint64_t)freq.QuadPart;
    return t / f * 1000000u + t % f * 1000000u / f;
}
#else
#include <time.h>

uint64_t vr_time_us(void)
{
    struct timespec ts;
    /* CLOCK_MONOTONIC cannot fail on Linux with a valid pointer. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
#endif
