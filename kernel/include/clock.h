/* Boot-time setup of the clocks (the readers are in kernel.h). */
#ifndef CLOCK_H
#define CLOCK_H
#include "kernel.h"
#include "layout.h"
static inline uint64_t virt_to_phys_kernel(const void *p) { return (uint64_t)p - KERNEL_VMA; }
void clock_init(uint64_t tsc_khz, uint64_t realtime_ns);
uint64_t clock_tsc_khz(void);
/* CLOCK_MONOTONIC at an earlier TSC reading (boot phase timings). */
uint64_t clock_ns_at(uint64_t tsc);
#endif
