/*  oms_clock: the two clocks every program reads, in uint64 nanoseconds.

    The wall clock (CLOCK_REALTIME, since the epoch) is for stamping events
    and for people; it may jump. The steady clock (CLOCK_MONOTONIC, since an
    arbitrary start) is for measuring ages, rates and deadlines; it never
    jumps. Each use picks one by name, so a reader sees which clock a
    duration was measured on.
*/
#ifndef OMS_CLOCK_H
#define OMS_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t
oms_clock_read_ns (clockid_t clock)
{
    struct timespec ts;
    clock_gettime (clock, &ts);
    return (uint64_t) ts.tv_sec * UINT64_C (1000000000) + (uint64_t) ts.tv_nsec;
}

//  Nanoseconds since the epoch.
static inline uint64_t
oms_clock_wall_ns (void)
{
    return oms_clock_read_ns (CLOCK_REALTIME);
}

//  Nanoseconds on the monotonic clock.
static inline uint64_t
oms_clock_steady_ns (void)
{
    return oms_clock_read_ns (CLOCK_MONOTONIC);
}

#endif
