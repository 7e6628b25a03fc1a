/* The host stand-ins for the kernel functions the stack calls, and the knobs tests turn. */
#ifndef SHIM_H
#define SHIM_H
#include <stddef.h>
#include <stdint.h>

extern uint64_t shim_now;              /* what clock_monotonic_ns returns */
extern size_t shim_heap_bytes;         /* bytes currently allocated through kmalloc */
extern size_t shim_heap_peak;
extern int shim_quiet;                 /* suppress kprintf */
void shim_random_seed(uint64_t seed);
/* While set, random_bytes fills 4-byte requests with this value (to force ISNs near wrap). */
extern int shim_random_fixed;
extern uint32_t shim_random_value;
#endif
